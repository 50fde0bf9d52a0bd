"""Safe reading of YAML and JSON files, keeping the line of every key and item.

This is the only module that parses YAML. It refuses oversized files, binary files, alias
bombs, very deep nesting and duplicate keys, and returns plain data plus a map from each
location (a tuple of keys and indexes) to its line. It must not know what a program or a rule
is, and must never execute anything from the file (only the safe YAML tags are built).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from cmcadvisor.errors import UserInputError

try:  # libyaml when available: much faster for the rule pack
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Loc = tuple[str | int, ...]

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 40
MAX_SCALAR_CHARS = 100_000
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Document:
    """Parsed data and the line (1-based) of every location in it."""

    source: str
    data: object
    lines: Mapping[Loc, int]

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

    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0
        self.lines: dict[Loc, int] = {}
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, node: yaml.Node, message: str, loc: Loc) -> UserInputError:
        return UserInputError.single(self.source, message, line=node.start_mark.line + 1, location=format_loc(loc))

    def build(self, node: yaml.Node, loc: Loc, depth: int) -> object:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"too many YAML nodes (over {MAX_NODES}); alias expansion or a file far too large", loc)
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels", loc)
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, object] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "keys must be plain strings", loc)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "YAML merge keys (<<) are not supported", loc)
                key = str(key_node.value)
                if key in result:
                    raise self.fail(key_node, f"duplicate key '{key}'", (*loc, key))
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, (*loc, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_SCALAR_CHARS:
                raise self.fail(node, f"value longer than {MAX_SCALAR_CHARS} characters", loc)
            if node.tag == _STR_TAG:  # most values: what the safe constructor would return, without it
                return node.value
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                raise self.fail(node, f"bad value: {_problem(exc)}", loc) from None
            except (ValueError, OverflowError) as exc:  # e.g. 2027-02-30 as a YAML timestamp
                raise self.fail(node, f"bad value {node.value!r}: {exc}", loc) from None
        raise self.fail(node, "unsupported YAML node", loc)  # pragma: no cover


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


def read_bytes(path: Path, *, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a file, refusing directories, oversized and binary files."""
    source = str(path)
    try:
        if path.is_dir():
            raise UserInputError.single(source, "is a directory, not a file")
        size = path.stat().st_size
        if size > limit:
            raise UserInputError.single(source, f"file is {size:,} bytes; the limit is {limit:,}")
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except FileNotFoundError:
        raise UserInputError.single(source, "no such file") from None
    except PermissionError:
        raise UserInputError.single(source, "permission denied") from None
    except IsADirectoryError:
        raise UserInputError.single(source, "is a directory, not a file") from None
    except OSError as exc:
        raise UserInputError.single(source, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise UserInputError.single(source, f"file is larger than the limit of {limit:,} bytes")
    if b"\x00" in raw:
        raise UserInputError.single(source, "binary file (contains NUL bytes); expected YAML or JSON text")
    return raw


def parse_text(text: str, source: str, *, is_json: bool = False) -> Document:
    """Parse YAML (or JSON, which is checked strictly first) into a :class:`Document`."""
    if is_json:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserInputError.single(source, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise UserInputError.single(source, f"invalid YAML: {_problem(exc)}", line=line) from None
    except yaml.YAMLError as exc:
        raise UserInputError.single(source, f"invalid YAML: {_problem(exc)}") from None
    except RecursionError:
        raise UserInputError.single(source, "nesting too deep") from None
    if node is None:
        return Document(source, None, {})
    builder = _Builder(source)
    try:
        data = builder.build(node, (), 0)
    except RecursionError:
        raise UserInputError.single(source, "nesting too deep") from None
    return Document(source, data, builder.lines)


def load_document(path: Path, *, limit: int = MAX_FILE_BYTES, display: str | None = None) -> Document:
    """Read and parse one YAML or JSON file."""
    source = display or str(path)
    raw = read_bytes(path, limit=limit)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserInputError.single(source, f"not UTF-8 text (byte {exc.start})") from None
    return parse_text(text, source, is_json=path.suffix.lower() == ".json")


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
    """Files matching ``pattern`` below ``root``; links that lead outside it are refused.

    Folders are walked without following links; a linked file is accepted only when it resolves
    inside ``root``.
    """
    base = root.resolve()
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            if not fnmatch.fnmatch(name, pattern):
                continue
            path = Path(folder) / name
            if path.is_symlink() and not path.resolve().is_relative_to(base):
                raise UserInputError.single(str(path), f"points outside {root}; links out of a pack are refused")
            if path.is_file():
                found.append(path)
    return sorted(found)
