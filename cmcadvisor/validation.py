"""Validation of parsed documents against the pydantic models, with located messages.

Turns ``pydantic.ValidationError`` into one ``file:line: path.to.field: message`` per problem,
suggests the nearest valid key for a typo and lists the allowed values of an enum. Also loads
program files. It must not evaluate rules or print anything.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cmcadvisor.errors import ErrorItem, ProgramFileError, UsageError, UserInputError
from cmcadvisor.loader import Document, Loc, format_loc, load_document, parse_text
from cmcadvisor.models.program import ProgramFile

M = TypeVar("M", bound=BaseModel)


def _unwrap(annotation: object) -> list[object]:
    """The model classes an annotation can hold (through Optional, list, Annotated, unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        found: list[object] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _models_at(model: type[BaseModel], loc: Loc) -> list[type[BaseModel]]:
    """Model classes that can sit at ``loc`` (several where a union allows)."""
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        following: list[type[BaseModel]] = []
        for candidate in current:
            for name, info in candidate.model_fields.items():
                if part in (name, info.alias):
                    following.extend(m for m in _unwrap(info.annotation) if isinstance(m, type))
        if following:
            current = following
    return current


def _clean_loc(doc: Document, loc: Loc) -> Loc:
    """Drop the union tags pydantic inserts, keeping only parts that exist in the data."""
    data: object = doc.data
    cleaned: list[str | int] = []
    for index, part in enumerate(loc):
        if isinstance(data, dict) and isinstance(part, str) and part in data:
            cleaned.append(part)
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            cleaned.append(part)
            data = data[part]
        elif index == len(loc) - 1:
            cleaned.append(part)  # a missing or unknown key: keep it for the message
    return tuple(cleaned)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def errors_from_validation(doc: Document, exc: ValidationError, model: type[BaseModel]) -> list[ErrorItem]:
    """Located, human messages for every error pydantic found."""
    items: list[ErrorItem] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        loc = _clean_loc(doc, tuple(error["loc"]))
        kind = error["type"]
        message = error["msg"]
        hint: str | None = None
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            allowed = sorted({name for m in _models_at(model, loc[:-1]) for name in _field_names(m)})
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            message = "unknown key"
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        elif kind == "missing":
            message = "required field is missing"
        elif kind in ("literal_error", "enum"):
            message = f"{message} (got {_shown(error.get('input'))})"
        elif "input" in error and kind not in ("model_type", "union_tag_invalid"):
            message = f"{message} (got {_shown(error.get('input'))})"
        location = format_loc(loc)
        if (location, message) in seen:
            continue
        seen.add((location, message))
        items.append(ErrorItem(doc.source, doc.line_of(loc), location, message, hint))
    items.sort(key=lambda item: (item.line or 0, item.location))
    return items


def validate_document(doc: Document, model: type[M], error_cls: type[UserInputError] = UserInputError) -> M:
    """Validate parsed data against ``model``; raise ``error_cls`` with every located problem."""
    if not isinstance(doc.data, dict):
        found = "empty file" if doc.data is None else f"a {type(doc.data).__name__}"
        raise error_cls([ErrorItem(doc.source, 1, "", f"expected a mapping at the top level, found {found}")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise error_cls(errors_from_validation(doc, exc, model)) from None


_SET_PART = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?$")


def apply_overrides(doc: Document, overrides: Sequence[str]) -> Document:
    """Apply ``--set path.to.field=value`` what-if changes to parsed data (the file is untouched).

    Values are read as YAML scalars (``20``, ``true``, ``2027-01-01``, ``cdmo``); list items are
    addressed as ``name[0]``. Validation afterwards catches unknown fields and bad values.
    """
    if not overrides:
        return doc
    data = copy.deepcopy(doc.data) if isinstance(doc.data, dict) else {}
    for override in overrides:
        path, sep, raw = override.partition("=")
        if not sep or not path.strip():
            raise UsageError.single("--set", f"expected FIELD=VALUE, got {override!r}")
        value = parse_text(raw.strip(), "--set").data if raw.strip() else None
        if isinstance(value, dict | list):
            raise UsageError.single("--set", f"{path}: give one value, not a mapping or list")
        node: Any = data
        parts = path.strip().split(".")
        for position, part in enumerate(parts):
            match = _SET_PART.match(part)
            if match is None:
                raise UsageError.single("--set", f"{path}: {part!r} is not a field name")
            key, index = match.group(1), match.group(2)
            last = position == len(parts) - 1
            if index is None:
                if last:
                    node[key] = value
                else:
                    node = node.setdefault(key, {})
                    if not isinstance(node, dict):
                        raise UsageError.single("--set", f"{path}: {key} is not a section")
            else:
                items = node.get(key)
                if not isinstance(items, list) or int(index) >= len(items):
                    raise UsageError.single("--set", f"{path}: {key} has no item {index}")
                if last:
                    items[int(index)] = value
                else:
                    node = items[int(index)]
                    if not isinstance(node, dict):
                        raise UsageError.single("--set", f"{path}: {key}[{index}] is not a section")
    return Document(doc.source, data, doc.lines)


def read_program(path: Path, *, display: str | None = None, overrides: Sequence[str] = ()) -> tuple[ProgramFile, Document]:
    """Read, parse and validate one program file (YAML or JSON); keep its line map."""
    try:
        doc = apply_overrides(load_document(path, display=display), overrides)
    except UserInputError as exc:
        raise ProgramFileError(exc.items) from None
    return validate_document(doc, ProgramFile, ProgramFileError), doc


def load_program(path: Path, *, display: str | None = None) -> ProgramFile:
    """Read, parse and validate one program file (YAML or JSON)."""
    return read_program(path, display=display)[0]


def load_model(path: Path, model: type[M], error_cls: type[UserInputError], *, display: str | None = None) -> M:
    """Read a data file (knowledge) into a model, through the content-hash cache.

    A file whose bytes hash the same as a file validated before is read back from the cache
    and validated again by the model (no YAML parsing); anything else is parsed and validated
    in full, with located errors, and then cached.
    """
    from cmcadvisor import __version__, cache
    from cmcadvisor.loader import read_bytes

    try:
        raw = read_bytes(path)
    except UserInputError as exc:
        raise error_cls(exc.items) from None
    key = f"model-{model.__name__}-{__version__}-{hashlib.sha256(raw).hexdigest()[:32]}"
    cached = cache.read(key)
    if cached is not None:
        try:
            return model.model_validate(cached)
        except ValidationError:
            pass  # a damaged cache entry: parse the file instead
    try:
        doc = load_document(path, display=display)
    except UserInputError as exc:
        raise error_cls(exc.items) from None
    value = validate_document(doc, model, error_cls)
    cache.write(key, value.model_dump(mode="json", by_alias=True))
    return value
