"""Validation of parsed documents against the pydantic models, with located messages.

Turns ``pydantic.ValidationError`` into one ``file:line: path.to.field: message`` per problem,
suggests the nearest valid key for a typo and lists the allowed values of an enum. Also loads
program files: :func:`validate_program` (the model, then the checks across fields) is the one
validation every command runs, so ``validate`` and ``assess`` cannot disagree. It must not
evaluate rules or print anything.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import re
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cmcadvisor.errors import ErrorItem, ProgramFileError, UsageError, UserInputError
from cmcadvisor.loader import Document, Loc, format_loc, load_document, parse_text
from cmcadvisor.models.program import TEXT_PATTERNS, ProgramFile, describe_character

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
    """Drop the union tags pydantic inserts, keeping only parts that exist in the data.

    The last part is kept when it names a key missing from a mapping (for the message); a tag
    after a scalar (``capex_available_usd.float``) is dropped.
    """
    data: object = doc.data
    cleaned: list[str | int] = []
    for index, part in enumerate(loc):
        if isinstance(data, dict) and isinstance(part, str) and part in data:
            cleaned.append(part)
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            cleaned.append(part)
            data = data[part]
        elif index == len(loc) - 1 and (isinstance(data, dict) or data is None):
            cleaned.append(part)  # a missing or unknown key: keep it for the message
    return tuple(cleaned)


def _shown(value: object) -> str:
    text = value.isoformat() if isinstance(value, datetime.date) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_NUMBER_AS_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_BOUND_KINDS = frozenset({"less_than_equal", "greater_than_equal", "less_than", "greater_than", "finite_number"})


def _message(error: Any, program: bool) -> tuple[str, bool]:
    """A human message for one pydantic error, and whether to append the value given."""
    kind, message = error["type"], error["msg"]
    if kind == "string_pattern_mismatch":
        known = TEXT_PATTERNS.get(str(error.get("ctx", {}).get("pattern")))
        value = error.get("input")
        found = known[1].search(value) if known and isinstance(value, str) else None
        if known and found:
            character = describe_character(found.group())
            return f"character {character} at position {found.start() + 1} is not allowed in {known[0]}; remove it", False
    if kind == "string_unicode":
        return "not valid Unicode text (a lone surrogate escape such as \\ud800); remove it", False
    if kind in _BOUND_KINDS and program:
        return f"{message} (got {_shown(error.get('input'))}); see the bounds in docs/input-bounds.md", False
    return message, True


def _keep(errors: list[Any], doc: Document) -> list[tuple[Loc, Any]]:
    """One error per location for values that fail every arm of a union (e.g. money: number or integer).

    A constraint error (a bound) beats a type error from another arm; otherwise the first arm's
    message is kept.
    """
    kept: dict[Loc, list[tuple[bool, Any]]] = {}
    for error in errors:
        raw = tuple(error["loc"])
        loc = _clean_loc(doc, raw)
        kept.setdefault(loc, []).append((len(raw) > len(loc), error))
    result: list[tuple[Loc, Any]] = []
    for loc, found in kept.items():
        tagged = [e for was_tagged, e in found if was_tagged and e["type"] not in ("extra_forbidden", "missing")]
        plain = [e for was_tagged, e in found if not (was_tagged and e["type"] not in ("extra_forbidden", "missing"))]
        if tagged:
            bounds = [e for e in tagged if not str(e["type"]).endswith("_type")]
            plain.append((bounds or tagged)[0])
        result.extend((loc, e) for e in plain)
    return result


def errors_from_validation(doc: Document, exc: ValidationError, model: type[BaseModel]) -> list[ErrorItem]:
    """Located, human messages for every error pydantic found."""
    items: list[ErrorItem] = []
    seen: set[tuple[str, str]] = set()
    unreadable = {format_loc(loc) for loc, _ in doc.problems}  # already reported by the loader, with a better message
    for loc, error in _keep(exc.errors(include_url=False), doc):
        kind = error["type"]
        message, show_input = _message(error, model is ProgramFile)
        hint: str | None = None
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            allowed = sorted({name for m in _models_at(model, loc[:-1]) for name in _field_names(m)})
            import difflib  # only for a mistyped key

            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            message = "unknown key"
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
        elif kind == "missing":
            message = "required field is missing"
        elif show_input and "input" in error and kind not in ("model_type", "union_tag_invalid"):
            message = f"{message} (got {_shown(error.get('input'))})"
            if kind in ("float_type", "int_type") and _NUMBER_AS_TEXT.match(str(error.get("input"))):
                hint = "YAML reads 1e6 as text: write 1000000 or 1.0e+6"
        location = format_loc(loc)
        if (location, message) in seen or location in unreadable:
            continue
        seen.add((location, message))
        if any(loc[: len(given)] == given for given in doc.overridden):  # from the command line, not the file
            items.append(ErrorItem("--set", None, location, message, hint))
        else:
            items.append(ErrorItem(doc.source, doc.line_of(loc) or 1, location, message, hint))
    items.extend(item for _, item in doc.problems)
    items.sort(key=lambda item: (item.source == "--set", item.line or 0, item.location))
    return items


def validate_document(doc: Document, model: type[M], error_cls: type[UserInputError] = UserInputError) -> M:
    """Validate parsed data against ``model``; raise ``error_cls`` with every located problem."""
    if not isinstance(doc.data, dict):
        found = "empty file" if doc.data is None else f"a {type(doc.data).__name__}"
        raise error_cls([ErrorItem(doc.source, 1, "", f"expected a mapping at the top level, found {found}")])
    try:
        value = model.model_validate(doc.data)
    except ValidationError as exc:
        raise error_cls(errors_from_validation(doc, exc, model)) from None
    if doc.problems:  # values the loader could not read, where the model happens to accept text
        raise error_cls([item for _, item in doc.problems])
    return value


_SET_PART = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?$")


def apply_overrides(doc: Document, overrides: Sequence[str]) -> Document:
    """Apply ``--set path.to.field=value`` what-if changes to parsed data (the file is untouched).

    Values are read as YAML scalars (``20``, ``true``, ``2027-01-01``, ``cdmo``); list items are
    addressed as ``name[0]``. Validation afterwards catches unknown fields and bad values.
    """
    if not overrides:
        return doc
    data = copy.deepcopy(doc.data) if isinstance(doc.data, dict) else {}
    overridden: set[Loc] = set(doc.overridden)
    for override in overrides:
        path, sep, raw = override.partition("=")
        if not sep or not path.strip():
            raise UsageError.single("--set", f"expected FIELD=VALUE, got {override!r}")
        try:
            value = parse_text(raw.strip(), "--set").data if raw.strip() else None
        except UserInputError as exc:
            raise UsageError.single("--set", f"{path.strip()}: {exc.items[0].message}") from None
        if isinstance(value, dict | list):
            raise UsageError.single("--set", f"{path}: give one value, not a mapping or list")
        node: Any = data
        parts = path.strip().split(".")
        given: list[str | int] = []
        for position, part in enumerate(parts):
            match = _SET_PART.match(part)
            if match is None:
                raise UsageError.single("--set", f"{path}: {part!r} is not a field name")
            key, index = match.group(1), match.group(2)
            given.extend([key] if index is None else [key, int(index)])
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
        overridden.add(tuple(given))
    return dataclasses.replace(
        doc,
        data=data,
        overridden=frozenset(overridden),
        problems=tuple((loc, item) for loc, item in doc.problems if not any(loc[: len(g)] == g for g in overridden)),
    )


RuleLookup = Callable[[str], str | None]  # a rule id or alias -> the rule's id, None when unknown


def program_problems(program: ProgramFile, doc: Document | None, rules: RuleLookup | None = None) -> list[ErrorItem]:
    """Checks across fields that the model alone cannot make, located in ``doc`` when given.

    ``rules`` resolves a rule id or alias (None when unknown); without it, waivers are not
    checked against the rule pack. Used by every command that reads a program, so ``validate``
    and ``assess`` can never disagree.
    """
    source = doc.source if doc else "program"
    problems: list[ErrorItem] = []

    def add(loc: Loc, message: str) -> None:
        problems.append(ErrorItem(source, doc.line_of(loc) if doc else None, format_loc(loc), message))

    first_waiver: dict[str, int] = {}
    for index, waiver in enumerate(program.waivers or []):
        if waiver.expires < waiver.approved_on:
            add(("waivers", index, "expires"), f"expires before it was approved ({waiver.expires} < {waiver.approved_on})")
        if rules is None:
            continue
        rule_id = rules(waiver.rule)
        if rule_id is None:
            add(("waivers", index, "rule"), f"no rule {waiver.rule} to waive")
        elif rule_id in first_waiver:
            add(("waivers", index, "rule"), f"{rule_id} is already waived by waivers[{first_waiver[rule_id]}]; keep one per rule")
        else:
            first_waiver[rule_id] = index
    return problems


def validate_program(doc: Document, rules: RuleLookup | None = None) -> ProgramFile:
    """The one validation of a program: the model, then :func:`program_problems`."""
    program = validate_document(doc, ProgramFile, ProgramFileError)
    problems = program_problems(program, doc, rules)
    if problems:
        raise ProgramFileError(problems)
    return program


def read_program(
    path: Path, *, display: str | None = None, overrides: Sequence[str] = (), rules: RuleLookup | None = None
) -> tuple[ProgramFile, Document]:
    """Read, parse and validate one program file (YAML or JSON); keep its line map."""
    try:
        doc = apply_overrides(load_document(path, display=display, defer=True), overrides)
    except UserInputError as exc:
        raise ProgramFileError(exc.items) from None
    return validate_program(doc, rules), doc


def load_program(path: Path, *, display: str | None = None, rules: RuleLookup | None = None) -> ProgramFile:
    """Read, parse and validate one program file (YAML or JSON)."""
    return read_program(path, display=display, rules=rules)[0]


def load_model(path: Path, model: type[M], error_cls: type[UserInputError], *, display: str | None = None) -> M:
    """Read a data file (knowledge) into a model, through the content-hash cache.

    A file whose bytes hash the same as a file validated before is read back from the cache,
    as validated then (see :mod:`cmcadvisor.cache`); anything else is parsed and validated in
    full, with located errors, and then cached.
    """
    from cmcadvisor import __version__, cache
    from cmcadvisor.loader import read_bytes

    try:
        raw = read_bytes(path)
    except UserInputError as exc:  # named as load_document names the file
        items = exc.items if display is None else [dataclasses.replace(item, source=display) for item in exc.items]
        raise error_cls(items) from None
    key = f"model-{model.__name__}-{__version__}-{hashlib.sha256(raw).hexdigest()[:32]}"
    cached = cache.read(key)
    if isinstance(cached, model):
        return cached
    try:
        doc = load_document(path, display=display)
    except UserInputError as exc:
        raise error_cls(exc.items) from None
    value = validate_document(doc, model, error_cls)
    cache.write(key, value)
    return value
