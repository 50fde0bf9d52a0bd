"""Safe reading of YAML and JSON files, keeping the line of every key and item.

This is the only module that parses YAML and the one place input files are read. It refuses
anything but a regular file (a FIFO, device or folder is never opened for reading), oversized
files, binary and non-UTF-8 files, characters YAML does not allow, alias bombs, very deep
nesting and duplicate keys, always naming the file and line, and returns plain data plus a map
from each location (a tuple of keys and indexes) to its line. It must not know what a program or a rule
is, and must never execute anything from the file (only the safe YAML tags are built).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from cmcadvisor.errors import ErrorItem, UserInputError
from cmcadvisor.memo import remember

try:  # libyaml when available: much faster for the rule pack
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

Loc = tuple[str | int, ...]

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 40
MAX_SCALAR_CHARS = 100_000
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# Resolved tags and built scalars are kept for short texts only, in tables emptied when full,
# so that a long-running process (``serve``) holds at most a few thousand short strings.
_CACHED_CHARS = 64
_CACHED_ENTRIES = 4096


# The implicit resolvers of the safe loader, copied at import (see _Loader). The shortcut in
# _Loader.resolve holds only without a wildcard resolver (first character None): PyYAML has none.
_RESOLVERS = {first: list(found) for first, found in _SafeLoader.yaml_implicit_resolvers.items()}
_SHORTCUT = None not in _RESOLVERS
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_typed: dict[str, str] = {}  # plain text -> its tag, for texts starting like a number, date, boolean or null


class _Loader(_SafeLoader):
    """The safe loader (libyaml when present), with a shortcut through PyYAML's per-node tag resolution.

    PyYAML calls the pure-Python ``resolve`` for every node, even with the C parser. Without path
    resolvers (this class has none) and wildcard implicit resolvers (PyYAML registers none), its
    answer is the default tag for every collection, for every quoted scalar and for every plain
    scalar whose first character starts no implicit resolver ("cdmo", "Phase 2"); only the others
    ("12", "true", "2027-01-01") need the resolvers' patterns, and their answer depends on the
    text alone, so it is kept in a small table. The class resolves with its own copy of the
    resolvers, taken at import, so that nothing registered later elsewhere changes how a program
    reads or makes the table stale.
    """

    yaml_implicit_resolvers = _RESOLVERS
    yaml_path_resolvers: dict[object, str] = {}

    def resolve(self, kind: object, value: str | None, implicit: Any) -> str:  # implicit: (plain, quoted) for a scalar
        if not _SHORTCUT:  # pragma: no cover - a wildcard resolver was registered before this import
            return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        if kind is yaml.ScalarNode:
            assert value is not None
            if not implicit[0] or value[:1] not in _RESOLVERS:  # quoted, or no resolver starts this way
                return _STR_TAG
            tag = _typed.get(value)
            if tag is None:
                tag = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
                if len(value) <= _CACHED_CHARS:
                    remember(_typed, value, tag, _CACHED_ENTRIES)
            return tag
        return _MAP_TAG if kind is yaml.MappingNode else _SEQ_TAG

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        """Nothing to track: this loader has no path resolvers."""

    def ascend_resolver(self) -> None:
        """Nothing to track: this loader has no path resolvers."""


# Tags whose safe constructor is a pure function of the text and returns an immutable value, so
# the value built once for a text can be handed out again (the rest always go to the constructor).
_PURE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp"))
_built: dict[tuple[str, str], object] = {}


@dataclass(frozen=True)
class Document:
    """Parsed data and the line (1-based) of every location in it."""

    source: str
    data: object
    lines: Mapping[Loc, int]
    overridden: frozenset[Loc] = frozenset()  # locations whose value came from --set, not the file
    # Values that could not be read (a date like 2029-13-01), kept as their text so that
    # validation can report them together with every other problem (see ``parse_text(defer=)``).
    problems: tuple[tuple[Loc, ErrorItem], ...] = ()

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc`` or of its nearest ancestor that has one."""
        probe = tuple(loc)
        while True:
            if probe in self.lines:
                return self.lines[probe]
            if not probe:
                return None
            probe = probe[:-1]


class _Builder:
    """Turns a composed YAML node tree into Python data, with limits and a line map."""

    def __init__(self, source: str, defer: bool = False) -> None:
        self.source = source
        self.count = 0
        self.lines: dict[Loc, int] = {}
        self.defer = defer
        self.problems: list[tuple[Loc, ErrorItem]] = []
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, node: yaml.Node, message: str, loc: Loc) -> UserInputError:
        return UserInputError.single(self.source, message, line=node.start_mark.line + 1, location=format_loc(loc))

    def build(self, node: yaml.Node, loc: Loc, depth: int) -> object:
        """Python data for ``node`` at ``loc``; the line of ``loc`` itself is recorded by the caller."""
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"too many YAML nodes (over {MAX_NODES}); alias expansion or a file far too large", loc)
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels", loc)
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_SCALAR_CHARS:
                raise self.fail(node, f"value longer than {MAX_SCALAR_CHARS} characters", loc)
            if node.tag == _STR_TAG:  # most values: what the safe constructor would return, without it
                return node.value
            return self.scalar(node, loc)
        lines = self.lines
        if isinstance(node, yaml.MappingNode):
            result: dict[str, object] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "keys must be plain strings", loc)
                if key_node.tag == _MERGE_TAG:
                    raise self.fail(key_node, "YAML merge keys (<<) are not supported", loc)
                key = str(key_node.value)
                where = (*loc, key)
                if key in result:
                    raise self.fail(key_node, f"duplicate key '{key}'", where)
                lines[where] = key_node.start_mark.line + 1  # a key's line, not its value's
                result[key] = self.build(value_node, where, depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            items: list[object] = []
            for index, item in enumerate(node.value):
                where = (*loc, index)
                lines[where] = item.start_mark.line + 1
                items.append(self.build(item, where, depth + 1))
            return items
        raise self.fail(node, "unsupported YAML node", loc)  # pragma: no cover

    def scalar(self, node: yaml.ScalarNode, loc: Loc) -> object:
        """A scalar that is not plain text (a number, date, boolean, null or an explicit tag)."""
        key = (node.tag, node.value)
        if key in _built:
            return _built[key]
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            error = self.fail(node, f"bad value: {_problem(exc)}", loc)
        except (ValueError, OverflowError) as exc:  # e.g. 2027-02-30 as a YAML timestamp
            error = self.fail(node, f"bad value {node.value!r}: {exc}", loc)
        else:
            if node.tag in _PURE_TAGS and len(node.value) <= _CACHED_CHARS:
                remember(_built, key, value, _CACHED_ENTRIES)
            return value
        if not self.defer:
            raise error
        self.problems.append((loc, error.items[0]))
        return str(node.value)  # kept as text: validation reports it with every other problem


def format_loc(loc: Loc) -> str:
    """``("a", "b", 0, "c")`` -> ``a.b[0].c``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return str(problem)


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _require_regular(source: str, mode: int) -> None:
    """Refuse anything but a regular file (a directory, FIFO, device or socket), naming what it is."""
    if stat.S_ISDIR(mode):
        raise UserInputError.single(source, "is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise UserInputError.single(source, f"is {_kind(mode)}, not a regular file; give a file")


def read_bytes(path: Path, *, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a regular file, refusing anything else (folders, FIFOs, devices, sockets), oversized and binary files.

    Every file the tool reads comes through here. Anything but a regular file is refused before
    it is opened (opening a device can have effects of its own); the file is then opened without
    blocking (so a FIFO swapped in meanwhile cannot hang the run) and checked again on the open
    descriptor, so nothing else can be read in its place.
    """
    if is_stdin(path):  # "-": standard input, read once and kept
        return _read_stdin(STDIN_NAME, limit)
    source = str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        _require_regular(source, os.stat(path).st_mode)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UserInputError.single(source, "no such file") from None
    except PermissionError:
        raise UserInputError.single(source, "permission denied") from None
    except IsADirectoryError:
        raise UserInputError.single(source, "is a directory, not a file") from None
    except OSError as exc:  # e.g. a socket cannot be opened at all
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        _require_regular(source, mode)
        raise UserInputError.single(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        _require_regular(source, info.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        size = info.st_size
        if size > limit:
            with os.fdopen(fd, "rb", closefd=False) as handle:
                line = handle.read(limit).count(b"\n") + 1  # where the limit is passed
            raise UserInputError.single(source, f"file is {size:,} bytes; the limit of {limit:,} is passed here", line=line)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise UserInputError.single(source, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise UserInputError.single(source, f"file is larger than the limit of {limit:,} bytes")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _position(raw, nul)
        raise UserInputError.single(source, f"binary file: a NUL byte at column {column}; expected YAML or JSON text", line=line)
    return raw


def _position(raw: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of byte ``offset`` in ``raw``."""
    line_start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, len(raw[line_start:offset].decode("utf-8", "replace")) + 1


# The characters YAML does not allow in a stream (PyYAML's reader refuses the same ones).
_NOT_YAML = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _unreadable_character(text: str, source: str) -> UserInputError | None:
    found = _NOT_YAML.search(text)
    if found is None:
        return None
    offset = found.start()
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    code = ord(found.group())
    return UserInputError.single(
        source,
        f"invalid YAML: the raw control character U+{code:04X} at column {column} is not allowed in YAML; "
        "remove it (or write it as an escape in a double-quoted string, if it must be there)",
        line=line,
    )


def parse_text(text: str, source: str, *, is_json: bool = False, defer: bool = False) -> Document:
    """Parse YAML (or JSON, which is checked strictly first) into a :class:`Document`.

    With ``defer``, a value that cannot be read (a date like ``2029-13-01``) does not stop the
    parse: it is kept as text and listed in ``Document.problems`` for validation to report
    together with every other problem. Syntax errors always stop at once.
    """
    if is_json:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserInputError.single(source, f"invalid JSON: {exc.msg} at column {exc.colno}", line=exc.lineno) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise UserInputError.single(source, f"invalid YAML: {_problem(exc)}{where}", line=line) from None
    except yaml.YAMLError as exc:  # the reader: characters YAML does not allow
        raise _unreadable_character(text, source) or UserInputError.single(
            source, f"invalid YAML: {_problem(exc)}", line=1
        ) from None
    except RecursionError:
        raise UserInputError.single(source, f"nesting too deep (over {MAX_DEPTH} levels)", line=1) from None
    if node is None:
        return Document(source, None, {})
    builder = _Builder(source, defer)
    builder.lines[()] = node.start_mark.line + 1
    try:
        data = builder.build(node, (), 0)
    except RecursionError:
        raise UserInputError.single(source, f"nesting too deep (over {MAX_DEPTH} levels)", line=1) from None
    return Document(source, data, builder.lines, problems=tuple(builder.problems))


STDIN = Path("-")  # the program file name that means standard input
STDIN_NAME = "<stdin>"  # how standard input is named in messages when no other name is given
_stdin_read: dict[int, tuple[object, bytes]] = {}  # standard input, read once per stream and kept (the stream beside it)


def is_stdin(path: Path) -> bool:
    """Whether ``path`` is ``-``, standard input."""
    return str(path) == "-"


def _read_stdin(source: str, limit: int) -> bytes:
    """Standard input, read once (later reads of ``-`` in the same run get the same bytes)."""
    stream = getattr(sys.stdin, "buffer", None)
    kept = _stdin_read.get(0)
    if kept is None or kept[0] is not stream:  # a new stream (each run of the command line in tests has its own)
        if stream is None or (hasattr(stream, "isatty") and stream.isatty()):
            raise UserInputError.single(source, "standard input is a terminal: pipe a program file in, or give its path")
        try:
            _stdin_read[0] = (stream, stream.read(limit + 1))
        except OSError as exc:
            raise UserInputError.single(source, f"cannot read: {exc.strerror or exc}") from None
    raw = _stdin_read[0][1]
    if len(raw) > limit:
        raise UserInputError.single(source, f"input is larger than the limit of {limit:,} bytes")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _position(raw, nul)
        raise UserInputError.single(source, f"binary input: a NUL byte at column {column}; expected YAML or JSON text", line=line)
    return raw


def load_document(path: Path, *, limit: int = MAX_FILE_BYTES, display: str | None = None, defer: bool = False) -> Document:
    """Read and parse one YAML or JSON file (``-``: standard input, named ``display`` or ``<stdin>``).

    ``defer``: see :func:`parse_text`.
    """
    if is_stdin(path):
        source = display or STDIN_NAME
        raw = _read_stdin(source, limit)
        return parse_text(_decode(raw, source), source, is_json=source.lower().endswith(".json"), defer=defer)
    source = display or str(path)
    try:
        raw = read_bytes(path, limit=limit)
    except UserInputError as exc:
        if display is None:
            raise
        raise UserInputError([replace(item, source=source) for item in exc.items]) from None
    return parse_text(_decode(raw, source), source, is_json=path.suffix.lower() == ".json", defer=defer)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _position(raw, exc.start)
        raise UserInputError.single(
            source, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {column}; save the file as UTF-8", line=line
        ) from None


def dump_yaml(data: object) -> str:
    """Serialise plain data as block YAML with keys in their given order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def data_dir(name: str) -> Path:
    """A packaged data folder (``rules``, ``knowledge``, ``templates``).

    In a wheel they are shipped as ``cmcadvisor/_data/<name>``; in a source checkout (editable
    install) they are the top-level folders of the repository.
    """
    package = Path(__file__).resolve().parent
    shipped = package / "_data" / name
    if shipped.is_dir():
        return shipped
    return package.parent / name


def sha256_files(root: Path, paths: list[Path]) -> str:
    """A content hash over files, by their path relative to ``root`` and their bytes."""
    digest = hashlib.sha256()
    prefix = len(str(root).rstrip("/")) + 1
    for relative, path in sorted((str(p)[prefix:].replace(os.sep, "/"), p) for p in paths):
        digest.update(relative.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def files_under(root: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` below ``root``, in path order; links that lead outside it are refused.

    Folders are walked without following links (as ``os.walk`` does, with ``os.scandir``,
    skipping folders that cannot be read); a linked file is accepted only when it resolves
    inside ``root``.
    """
    base = root.resolve()
    found: list[tuple[tuple[str, ...], str]] = []  # (path parts below root, path): Path's own order

    def walk(folder: str, parts: tuple[str, ...]) -> None:  # as os.walk goes: files by name, then folders by name
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            return
        folders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    folders.append(entry)
                continue
            if not fnmatch.fnmatch(entry.name, pattern):
                continue
            if entry.is_symlink() and not Path(entry.path).resolve().is_relative_to(base):
                raise UserInputError.single(str(Path(entry.path)), f"points outside {root}; links out of a pack are refused")
            if entry.is_file():
                found.append(((*parts, entry.name), entry.path))
        for entry in folders:
            walk(entry.path, (*parts, entry.name))

    walk(os.fspath(root), ())
    found.sort()
    return [Path(path) for _, path in found]
