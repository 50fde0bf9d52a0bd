"""Saving a program file from the workspace: round-trip YAML, validation first, atomic, history kept.

:func:`save_data` merges edited program data into the user's YAML text with ruamel.yaml's
round-trip mode: comments, key order, quoting and block or flow style stay where the user wrote
them; only values that changed are replaced, new keys go after the nearest key that precedes
them in the form's (the schema's) order, cleared keys are removed. :func:`save_text` saves raw
YAML. Either way the new text is validated exactly as ``cmcadvisor validate`` would (located
``file:line: field: message`` errors) and invalid text is never written.

Before a file is replaced, its previous version is copied to
``.cmcadvisor-history/<file name>.<n>.yaml`` beside it (``n`` counts up from 1); the newest
:data:`KEEP_VERSIONS` copies of each file are kept and older ones pruned, and no copy is ever
overwritten. The file itself is written with :func:`cmcadvisor.writer.write_atomic`, so a
failure leaves the old file whole. Paths are resolved inside the workspace folder: absolute
paths, ``..``, hidden names and symbolic links anywhere on the way are refused. This module
must not evaluate rules or render anything.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken

from cmcadvisor.errors import ErrorItem, ProgramFileError, UsageError, UserInputError
from cmcadvisor.loader import MAX_FILE_BYTES, parse_text, read_bytes
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.validation import RuleLookup, validate_program
from cmcadvisor.writer import write_atomic

HISTORY_DIR = ".cmcadvisor-history"
KEEP_VERSIONS = 20
SUFFIXES = (".yaml", ".yml")
_SEQ_ITEM = re.compile(r"^( *)- ")
_KEY_LINE = re.compile(r"^( *)[^\s#-][^:]*:\s*(#.*)?$")


# --------------------------------------------------------------------------- paths


def resolve_in(root: Path, name: str) -> Path:
    """The program file ``name`` (relative, ``/``-separated) inside the workspace folder ``root``.

    Refuses (exit 2) absolute paths, ``..``, empty or hidden parts (the history folder is
    hidden), symbolic links on any part of the way, and names not ending in .yaml or .yml.
    The file need not exist.
    """
    base = Path(os.path.realpath(root))
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name or pure.is_absolute() or "\0" in name or re.match(r"^[A-Za-z]:", name):
        raise UsageError.single(name or "(no name)", "give a file name inside the workspace folder")
    for part in pure.parts:
        if part in ("", ".", "..") or part.startswith("."):
            raise UsageError.single(name, "refusing a path that leaves the workspace folder or names a hidden file")
    if pure.suffix.lower() not in SUFFIXES:
        raise UsageError.single(name, "a program file name must end in .yaml or .yml")
    current = base
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            raise UsageError.single(name, "refusing a symbolic link in the workspace")
    if not os.path.realpath(current).startswith(str(base) + os.sep):
        raise UsageError.single(name, "refusing a path outside the workspace folder")
    return current


# --------------------------------------------------------------------------- validation


def check_text(text: str, source: str, rules: RuleLookup | None = None) -> tuple[ProgramFile | None, list[ErrorItem]]:
    """Validate program text as ``cmcadvisor validate`` does: (the program, no errors) or (None, located errors)."""
    try:
        return validate_program(parse_text(text, source, defer=True), rules), []
    except UserInputError as exc:
        return None, list(exc.items)


# --------------------------------------------------------------------------- round-trip merge


def _yaml(text: str) -> YAML:
    """A round-trip YAML handler indenting mappings and sequences the way ``text`` does."""
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = 4096  # never re-wrap the user's long lines
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    mapping = next(
        (
            len(line) - len(line.lstrip(" "))
            for before, line in zip(lines, lines[1:], strict=False)
            if _KEY_LINE.match(before) and not before.startswith(" ") and line.startswith(" ") and not _SEQ_ITEM.match(line)
        ),
        2,
    )
    offset = mapping
    for before, line in zip(lines, lines[1:], strict=False):
        found, owner = _SEQ_ITEM.match(line), _KEY_LINE.match(before)
        if found is not None and owner is not None:
            offset = max(0, len(found.group(1)) - len(owner.group(1)))
            break
    handler.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    handler.explicit_start = any(line.rstrip() == "---" for line in lines[:1])
    return handler


def _category(value: object) -> str:
    if isinstance(value, bool) or type(value).__name__ == "ScalarBoolean":
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__ if not isinstance(value, str) else "str"


def _same(old: object, new: object) -> bool:
    """Whether a scalar of the file already holds ``new`` (so its formatting is kept)."""
    if isinstance(old, Mapping | list) or isinstance(new, Mapping | list):
        return False
    return _category(old) == _category(new) and old == new


def _end_slot(node: CommentedMap | CommentedSeq, key: Any) -> tuple[CommentedMap | CommentedSeq, Any, int]:
    """Where ruamel keeps the comment lines that follow ``node[key]``: on the last leaf of its value.

    Returns the container of that leaf, the leaf's key (or index) and the position of the comment
    token in the container's ``ca.items`` entry (2 in a mapping, 0 in a sequence).
    """
    value = node[key]
    while isinstance(value, CommentedMap | CommentedSeq) and len(value):
        node, key = value, (list(value.keys())[-1] if isinstance(value, CommentedMap) else len(value) - 1)
        value = node[key]
    return node, key, (2 if isinstance(node, CommentedMap) else 0)


def _take_tail(node: CommentedMap, key: Any) -> list[str]:
    """Detach the comment lines that follow ``node[key]``'s value (they belong to what comes next).

    The last leaf's own end-of-line comment stays where it is. Returns the lines' texts, without ``#``.
    """
    container, leaf, position = _end_slot(node, key)
    slot = container.ca.items.get(leaf)
    token = slot[position] if slot else None
    if token is None or "#" not in token.value:
        return []
    text: str = token.value
    own = ""
    if not text.startswith("\n") and text.lstrip(" ").startswith("#"):  # the leaf's own end-of-line comment
        own, text = (text[: text.index("\n") + 1], text[text.index("\n") + 1 :]) if "\n" in text else (text, "")
    lines = [line.strip()[1:].strip() for line in text.split("\n") if line.strip().startswith("#")]
    if lines:
        if own:
            token.value = own
        else:
            slot[position] = None
    return lines


def _give_tail(node: CommentedMap, key: Any, lines: list[str]) -> None:
    """Put comment lines after ``node[key]``'s value (after its last leaf's own end-of-line comment, if any)."""
    container, leaf, position = _end_slot(node, key)
    slot = container.ca.items.setdefault(leaf, [None, None, None, None])
    tail = "".join(f"# {line}\n" for line in lines)
    if slot[position] is None:
        slot[position] = CommentToken("\n" + tail, CommentMark(0), None)
    else:
        slot[position].value = slot[position].value.rstrip("\n") + "\n" + tail


def _drop_key(node: CommentedMap, key: Any, lines: list[str] | None = None) -> None:
    """Remove ``key``, keeping the comment lines that follow its value (they introduce the next key).

    ``lines`` are those comment lines when the caller already detached them (a nested value it
    emptied first); otherwise they are taken from the value's last leaf, where ruamel keeps them.
    """
    keys = list(node.keys())
    index = keys.index(key)
    if lines is None:
        lines = _take_tail(node, key)
    del node[key]
    node.ca.items.pop(key, None)
    if not lines:
        return
    if index + 1 < len(keys):  # a comment above the next key: it stays above it
        following = keys[index + 1]
        column = node.lc.key(following)[1] if following in node.lc.data else 0
        node.yaml_set_comment_before_after_key(following, before="\n".join(lines), indent=column)
    elif index > 0:  # a comment after the last key: it stays after the entry that is now last
        _give_tail(node, keys[index - 1], lines)
    # else the mapping is now empty; a mapping emptied by _merge_map had its trailing lines taken first


def _empty(value: object) -> bool:
    """Whether a value of the file means the same as an absent key (null, or only nulls and empty lists inside)."""
    if isinstance(value, Mapping):
        return all(_empty(item) for item in value.values())
    return value is None or (isinstance(value, list) and not value)


def _merge_map(node: CommentedMap, new: Mapping[str, Any]) -> None:
    for key in [k for k in node if k not in new]:
        old = node[key]
        if _empty(old):
            continue  # ``product:`` with only commented-out fields under it: already absent, kept as written
        if isinstance(old, CommentedMap):
            after = _take_tail(node, key)  # the lines after the block introduce what follows it: kept aside
            _merge_map(old, {})  # cleared: its filled fields go, its empty ones (and their comments) stay
            if len(old):
                if after:
                    _give_tail(node, key, after)
                continue
            _drop_key(node, key, after)
            continue
        _drop_key(node, key)
    previous: str | None = None
    for key, value in new.items():
        if key in node:
            node[key] = _merged(node[key], value)
        else:
            position = list(node.keys()).index(previous) + 1 if previous is not None else 0
            node.insert(position, key, _fresh(value))
        previous = key


def _merge_seq(node: CommentedSeq, new: Sequence[Any]) -> None:
    for index, value in enumerate(new):
        if index < len(node):
            node[index] = _merged(node[index], value)
        else:
            node.append(_fresh(value))
    del node[len(new) :]


def _merged(old: object, new: object) -> object:
    """``old`` (a node of the file) updated to ``new`` in place where possible."""
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        _merge_map(old, new)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        _merge_seq(old, new)
        return old
    return old if _same(old, new) else _fresh(new)


def _fresh(value: object) -> object:
    """A new value for the file, in block style."""
    if isinstance(value, Mapping):
        result = CommentedMap()
        for key, item in value.items():
            result[key] = _fresh(item)
        return result
    if isinstance(value, list):
        return CommentedSeq([_fresh(item) for item in value])
    return value


def merged_text(original: str, data: Mapping[str, Any], source: str = "program") -> str:
    """``original`` YAML text with its data replaced by ``data``, keeping comments, order and style.

    An original that is empty or not a mapping is replaced by ``data`` as new YAML; one that
    ruamel.yaml cannot read is a located error.
    """
    handler = _yaml(original.lstrip("\ufeff"))
    try:
        tree = handler.load(original.lstrip("\ufeff")) if original.strip() else None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ProgramFileError.single(source, f"invalid YAML: {getattr(exc, 'problem', None) or exc}", line=line) from None
    if isinstance(tree, CommentedMap):
        _merge_map(tree, data)
    else:
        tree = _fresh(data)
    out = io.StringIO()
    handler.dump(tree, out)
    text = out.getvalue()
    if handler.explicit_start:  # the comments above ``---`` are the user's too
        head = re.match(r"(?s)^(.*?^---[ \t]*\r?\n)", original.lstrip("\ufeff"), re.MULTILINE)
        if head is not None and text.startswith("---\n"):
            text = head.group(1).replace("\r\n", "\n") + text[4:]
    if "\r\n" in original:  # keep the user's line endings
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return "\ufeff" + text if original.startswith("\ufeff") else text


# --------------------------------------------------------------------------- history and saving


def history_dir(path: Path) -> Path:
    """The folder holding the previous versions of the files beside ``path``."""
    return path.parent / HISTORY_DIR


def versions(path: Path) -> list[Path]:
    """The kept previous versions of ``path``, oldest first."""
    folder = history_dir(path)
    pattern = re.compile(re.escape(path.name) + r"\.(\d+)\.yaml$")
    found: list[tuple[int, Path]] = []
    if folder.is_dir() and not folder.is_symlink():
        for entry in folder.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and entry.is_file() and not entry.is_symlink():
                found.append((int(match.group(1)), entry))
    return [p for _, p in sorted(found)]


def keep_version(path: Path, keep: int = KEEP_VERSIONS) -> Path | None:
    """Copy the current ``path`` into the history (never over an older copy); prune beyond the newest ``keep``."""
    if not path.is_file():
        return None
    folder = history_dir(path)
    if folder.is_symlink():
        raise UsageError.single(str(HISTORY_DIR), "refusing a symbolic link as the history folder")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError.single(HISTORY_DIR, f"cannot create the history folder: {exc.strerror or exc}") from None
    existing = versions(path)
    number = int(existing[-1].name.rsplit(".", 2)[-2]) + 1 if existing else 1
    target = folder / f"{path.name}.{number}.yaml"
    write_atomic(target, read_bytes(path), overwrite=False)
    for old in versions(path)[:-keep] if keep > 0 else []:
        try:
            old.unlink()
        except OSError:
            pass  # a copy that cannot be pruned is kept, never a reason to lose the save
    return target


def save_text(
    root: Path, name: str, text: str, *, rules: RuleLookup | None = None, create: bool = False, keep: int = KEEP_VERSIONS
) -> Path:
    """Validate ``text`` and write it to the program file ``name`` in ``root``, keeping the previous version.

    Invalid text raises :class:`ProgramFileError` with located messages (source ``name``) and
    nothing is written. With ``create``, an existing file is refused instead of replaced.
    Returns the path written.
    """
    path = resolve_in(root, name)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise ProgramFileError.single(name, f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not saved")
    _, errors = check_text(text, name, rules)
    if errors:
        raise ProgramFileError(errors)
    if create and path.exists():
        raise UsageError.single(name, "already exists; choose another name")
    if not create:
        keep_version(path, keep)
    write_atomic(path, text, overwrite=not create)
    return path


def save_data(
    root: Path, name: str, data: Mapping[str, Any], *, rules: RuleLookup | None = None, keep: int = KEEP_VERSIONS
) -> tuple[Path, str]:
    """Merge edited ``data`` into the program file ``name`` (round trip), validate and save; returns (path, text)."""
    path = resolve_in(root, name)
    try:
        original = read_bytes(path).decode("utf-8") if path.exists() else ""
    except UnicodeDecodeError:
        raise ProgramFileError.single(name, "is not UTF-8 text; edit it in the YAML view") from None
    text = merged_text(original, data, name)
    return save_text(root, name, text, rules=rules, keep=keep), text
