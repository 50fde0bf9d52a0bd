"""The program form of the workspace: generated from the program file's JSON Schema, and read back.

:func:`build_form` turns program data (possibly invalid, as the loader read it) into a tree of
:class:`FormField` (a section per top-level group, help from the schema's descriptions, labels
from the display vocabulary, enums as choices, booleans as yes/no/not known, dates as date
inputs, lists of objects with a blank row to add an item, nested groups); :func:`render` turns
it into escaped HTML for the app's templates. :func:`parse_form` reads the submitted pairs back
into program data (an empty input is an absent key, types converted, list items in order), so a
program goes through form and back unchanged. Field names are the locations validation
messages use (``manufacturing.planned_changes[0].kind``), so :func:`attach_errors` puts each
message at its field. This module must not read or write files or validate anything itself.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

from cmcadvisor.display import fact_label, label, scalar_text
from cmcadvisor.errors import ErrorItem
from cmcadvisor.models.knowledge import DisplayFile
from cmcadvisor.models.program import MULTILINE_PATTERN, ProgramFile

Pairs = Iterable[tuple[str, str]]
REMOVE = "_remove"  # suffix of the checkbox that removes a list item: ``waivers[0]._remove``
ADD = "_add"  # name of the submit button that asks for one more blank row; its value is the list's field name
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclasses.dataclass
class Choice:
    """One option of a choice or multiple-choice field."""

    value: str
    label: str
    selected: bool = False


@dataclasses.dataclass
class FormField:
    """One field, section, list or list item of the form.

    ``kind`` is one of: ``text``, ``textarea``, ``integer``, ``number``, ``date``, ``boolean``,
    ``choice``, ``multichoice``, ``const`` (a fixed hidden value), ``group`` (nested fields in
    ``children``), ``list`` (items in ``children``, each a ``group``), ``mapping`` (one optional
    field per allowed key in ``children``). ``name`` is the submitted name and the location
    validation messages use; ``dom_id`` is a safe element id derived from it.
    """

    name: str
    label: str
    kind: str
    help: str = ""
    required: bool = False
    value: str = ""
    choices: list[Choice] = dataclasses.field(default_factory=list)
    children: list[FormField] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    attrs: dict[str, str] = dataclasses.field(default_factory=dict)
    blank: bool = False  # a list item row that is empty, for adding an item

    @property
    def dom_id(self) -> str:
        """An element id for the field (``f-manufacturing-planned_changes-0-kind``)."""
        return "f-" + _ID_UNSAFE.sub("-", self.name).strip("-")

    def walk(self) -> Iterable[FormField]:
        """This field and every field under it, in form order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclasses.dataclass
class Form:
    """The whole program form: its sections, messages not tied to a field, and data it cannot show."""

    sections: list[FormField]
    hidden: list[FormField] = dataclasses.field(default_factory=list)  # fixed values (schema_version)
    errors: list[str] = dataclasses.field(default_factory=list)
    unrepresented: list[str] = dataclasses.field(default_factory=list)  # locations of data no field shows

    def fields(self) -> Iterable[FormField]:
        """Every field, section and item, in form order."""
        yield from self.hidden
        for section in self.sections:
            yield from section.walk()

    def field(self, name: str) -> FormField | None:
        """The field with the given name, if any."""
        return next((f for f in self.fields() if f.name == name), None)


# --------------------------------------------------------------------------- the schema


@functools.cache
def program_schema() -> dict[str, Any]:
    """The JSON Schema of the program file (the one ``cmcadvisor schema program`` prints)."""
    return ProgramFile.model_json_schema(by_alias=True)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """A schema node without ``$ref`` and its null option: (node, whether null is allowed)."""
    nullable = False
    current = dict(node)
    if "anyOf" in current:
        options = [o for o in current["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(current["anyOf"])
        merged = {k: v for k, v in current.items() if k != "anyOf"}
        first = options[0]
        if len(options) > 1 and {o.get("type") for o in options} == {"number", "integer"}:
            first = next(o for o in options if o.get("type") == "number")
        current = {**merged, **_resolve(first, defs)[0], **{k: v for k, v in merged.items() if k == "description"}}
    if "$ref" in current:
        target = dict(defs[current["$ref"].rsplit("/", 1)[-1]])
        if "description" in current:
            target["description"] = current["description"]
        current = {**target, **{k: v for k, v in current.items() if k != "$ref"}}
    return current, nullable


def _kind(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    if "const" in node:
        return "const"
    kind = node.get("type")
    if kind == "object":
        return "group" if "properties" in node else "mapping"
    if kind == "array":
        items, _ = _resolve(node.get("items", {}), defs)
        return "multichoice" if "enum" in items else "list" if items.get("type") == "object" else "unsupported"
    if "enum" in node:
        return "choice"
    if kind == "boolean":
        return "boolean"
    if kind in ("integer", "number"):
        return str(kind)
    if kind == "string":
        if node.get("format") == "date":
            return "date"
        return "textarea" if node.get("pattern") == MULTILINE_PATTERN else "text"
    return "unsupported"


def _name(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _group_label(key: str) -> str:
    return _cap(key.replace("_", " "))


def _singular(text: str) -> str:
    if text.endswith("ies"):
        return text[:-3] + "y"
    return text[:-1] if text.endswith("s") and not text.endswith("ss") else text


# --------------------------------------------------------------------------- data -> form


class _Builder:
    def __init__(self, vocab: DisplayFile | None, blank_rows: Mapping[str, int]) -> None:
        self.defs: Mapping[str, Any] = program_schema().get("$defs", {})
        self.vocab = vocab
        self.blank_rows = blank_rows
        self.unrepresented: list[str] = []

    def fields(self, node: Mapping[str, Any], data: object, parent: str) -> list[FormField]:
        props: Mapping[str, Any] = node.get("properties", {})
        required = set(node.get("required", []))
        values = data if isinstance(data, Mapping) else {}
        if data is not None and not isinstance(data, Mapping):
            self.unrepresented.append(parent or "(top level)")
        for key in values:
            if key not in props:
                self.unrepresented.append(_name(parent, str(key)))
        return [self.field(str(key), sub, values.get(key), parent, key in required) for key, sub in props.items()]

    def field(self, key: str, raw: Mapping[str, Any], value: object, parent: str, required: bool) -> FormField:
        node, _ = _resolve(raw, self.defs)
        name = _name(parent, key)
        kind = _kind(node, self.defs)
        path = re.sub(r"\[\d+\]", "[]", name)
        entry = FormField(name, _cap(fact_label(path, self.vocab)), kind, str(node.get("description", "")), required)
        if kind in ("group", "list"):
            entry.label = _group_label(key)
        if kind == "group":
            entry.children = self.fields(node, value, name)
        elif kind == "list":
            items, _ = _resolve(node["items"], self.defs)
            rows = value if isinstance(value, list) else []
            if value is not None and not isinstance(value, list):
                self.unrepresented.append(name)
            count = len(rows) + self.blank_rows.get(name, 1)
            for index in range(count):
                item = FormField(_name(name, index), f"{_cap(_singular(key.replace('_', ' ')))} {index + 1}", "group")
                item.help = str(items.get("description", ""))
                item.children = self.fields(items, rows[index] if index < len(rows) else None, item.name)
                item.blank = index >= len(rows)
                entry.children.append(item)
        elif kind == "mapping":
            keys = node.get("propertyNames", {}).get("enum", [])
            sub = node.get("additionalProperties", {})
            given = value if isinstance(value, Mapping) else {}
            for extra in given:
                if extra not in keys:
                    self.unrepresented.append(_name(name, str(extra)))
            for option in [k for k in given if k in keys] + [k for k in keys if k not in given]:
                child = self.field(option, sub, given.get(option), name, False)
                child.label = _cap(label(None, option, self.vocab))
                entry.children.append(child)
        elif kind == "multichoice":
            items, _ = _resolve(node["items"], self.defs)
            chosen = [str(v) for v in value] if isinstance(value, list) else []
            known = [str(v) for v in items["enum"]]
            # chosen first, in the user's order, so a browser submits them in that order
            for option in chosen + [k for k in known if k not in chosen]:
                shown = label(path, option, self.vocab) if option in known else f"{option} (not a valid choice)"
                entry.choices.append(Choice(option, _cap(shown), option in chosen))
            if value is not None and not isinstance(value, list):
                self.unrepresented.append(name)
        else:
            entry.value = scalar_text(value) if not isinstance(value, dict | list) else ""
            if isinstance(value, dict | list):
                self.unrepresented.append(name)
            self.scalar(entry, node, path)
        return entry

    def scalar(self, entry: FormField, node: Mapping[str, Any], path: str) -> None:
        if entry.kind == "const":
            entry.value = scalar_text(node["const"])
        elif entry.kind == "choice":
            options = [str(v) for v in node["enum"]]
            entry.choices = [Choice("", "not given", entry.value == "")]
            entry.choices += [Choice(v, _cap(label(path, v, self.vocab)), entry.value == v) for v in options]
            if entry.value and entry.value not in options:
                entry.choices.append(Choice(entry.value, f"{entry.value} (not a valid choice)", True))
        elif entry.kind == "boolean":
            entry.choices = [
                Choice(v, text, entry.value == v) for v, text in (("", "not known"), ("true", "yes"), ("false", "no"))
            ]
            if entry.value not in ("", "true", "false"):
                entry.choices.append(Choice(entry.value, f"{entry.value} (not yes or no)", True))
        for source, attr in (("minimum", "min"), ("maximum", "max"), ("maxLength", "maxlength")):
            if source in node:
                entry.attrs[attr] = str(node[source])
        if entry.kind == "date":
            entry.attrs.update(min=str(node.get("formatMinimum", "")), max=str(node.get("formatMaximum", "")))
        if entry.kind in ("integer", "number"):
            entry.attrs["step"] = "1" if entry.kind == "integer" else "any"


def build_form(
    data: object,
    *,
    errors: Sequence[ErrorItem] = (),
    blank_rows: Mapping[str, int] | None = None,
    vocab: DisplayFile | None = None,
) -> Form:
    """The form for program ``data`` (a parsed program file, valid or not; None for a new one).

    ``blank_rows`` gives the number of empty rows to add below each list (by the list's field
    name; one when not given). ``errors`` are validation messages, put at their fields.
    """
    builder = _Builder(vocab, blank_rows or {})
    schema = program_schema()
    sections: list[FormField] = []
    hidden: list[FormField] = []
    loose = FormField("", "Program file", "group")
    for entry in builder.fields(schema, data, ""):
        if entry.kind in ("group", "list"):
            sections.append(entry)
        else:
            (hidden if entry.kind == "const" else loose.children).append(entry)
    form = Form([loose, *sections] if loose.children else sections, hidden, unrepresented=sorted(set(builder.unrepresented)))
    attach_errors(form, errors)
    return form


def _parent_name(name: str) -> str:
    if name.endswith("]"):
        return name[: name.rindex("[")]
    return name.rsplit(".", 1)[0] if "." in name else ""


def attach_errors(form: Form, errors: Sequence[ErrorItem]) -> None:
    """Put each message at the field its location names, or the nearest enclosing one, else on the form."""
    by_name = {f.name: f for f in form.fields() if f.name}
    for item in errors:
        text = item.message + (f" ({item.hint})" if item.hint else "")
        name = item.location
        while name and name not in by_name:
            name = _parent_name(name)
        if name:
            by_name[name].errors.append(text)
        else:
            where = f"line {item.line}: " if item.line else ""
            form.errors.append(f"{where}{item.location + ': ' if item.location else ''}{text}")


def form_pairs(form: Form) -> list[tuple[str, str]]:
    """What a browser submits for the form as it stands (every input, in document order)."""
    pairs: list[tuple[str, str]] = []
    for entry in form.fields():
        if entry.kind == "multichoice":
            pairs.extend((entry.name, c.value) for c in entry.choices if c.selected)
        elif entry.kind not in ("group", "list", "mapping"):
            pairs.append((entry.name, entry.value))
    return pairs


# --------------------------------------------------------------------------- form -> data


def _gather(pairs: Pairs | Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    items: Iterable[tuple[str, Any]] = pairs.items() if isinstance(pairs, Mapping) else pairs
    for key, value in items:
        values = [value] if isinstance(value, str) else list(value)
        found.setdefault(str(key), []).extend(str(v) for v in values)
    return found


def _convert(kind: str, raw: str) -> object:
    """A submitted text as the value the program file holds; text that does not convert stays text for validation to report."""
    text = raw.replace("\r\n", "\n")
    if kind == "integer":
        return int(text) if _INT.match(text.strip()) else text
    if kind == "number":
        stripped = text.strip()
        if _INT.match(stripped):
            return int(stripped)
        return float(stripped) if _FLOAT.match(stripped) else text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.strip(), text)
    if kind == "date":
        try:
            return datetime.date.fromisoformat(text.strip())
        except ValueError:
            return text
    if kind == "const":
        return int(text) if _INT.match(text.strip()) else text
    return text


class _Parser:
    def __init__(self, values: Mapping[str, list[str]]) -> None:
        self.defs: Mapping[str, Any] = program_schema().get("$defs", {})
        self.values = values

    def group(self, node: Mapping[str, Any], parent: str) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, raw in node.get("properties", {}).items():
            value = self.value(raw, _name(parent, key))
            if value is not None:
                result[str(key)] = value
        return result

    def value(self, raw: Mapping[str, Any], name: str) -> object:
        node, _ = _resolve(raw, self.defs)
        kind = _kind(node, self.defs)
        if kind == "group":
            return self.group(node, name) or None
        if kind == "list":
            items, _ = _resolve(node["items"], self.defs)
            pattern = re.compile(re.escape(name) + r"\[(\d+)\]")
            indexes = sorted({int(m.group(1)) for key in self.values if (m := pattern.match(key))})
            rows = [
                row
                for index in indexes
                if not self.values.get(f"{name}[{index}].{REMOVE}")
                if (row := self.group(items, f"{name}[{index}]"))
            ]
            return rows or None
        if kind == "mapping":
            sub = node.get("additionalProperties", {})
            found = {str(k): self.value(sub, _name(name, str(k))) for k in node.get("propertyNames", {}).get("enum", [])}
            ordered = {k: v for k, v in found.items() if v is not None}
            return ordered or None
        if kind == "multichoice":
            chosen = [v for v in self.values.get(name, []) if v.strip()]
            return chosen or None
        given = self.values.get(name, [])
        text = given[-1] if given else ""
        if not text.strip():
            return None
        return _convert(kind, text)


def parse_form(pairs: Pairs | Mapping[str, str | Sequence[str]]) -> dict[str, object]:
    """Program data from submitted form pairs (a Starlette ``FormData.multi_items()`` or a mapping).

    An empty input, a section with nothing filled in and an all-empty list row are absent keys;
    a row whose remove box is ticked is dropped; numbers, yes/no and dates are converted; a
    text that does not convert is kept as text, so validation names the field.
    """
    return _Parser(_gather(pairs)).group(program_schema(), "")


def requested_rows(pairs: Pairs | Mapping[str, str | Sequence[str]]) -> dict[str, int]:
    """Blank rows for :func:`build_form` after an "add item" submit: two below the list the ``_add`` button names."""
    lists = _gather(pairs).get(ADD, [])
    return {name: 2 for name in lists if name}


# --------------------------------------------------------------------------- HTML


def _attrs(values: Mapping[str, str]) -> Markup:
    return Markup("").join(Markup(' {}="{}"').format(k, v) for k, v in sorted(values.items()) if v != "")


def _help(entry: FormField) -> Markup:
    parts = Markup("")
    if entry.help:
        parts += Markup('<p class="help" id="{}-help">{}</p>').format(entry.dom_id, entry.help)
    for message in entry.errors:
        parts += Markup('<p class="field-error" role="alert">{}</p>').format(message)
    return parts


def _input(entry: FormField) -> Markup:
    base = {"id": entry.dom_id, "name": entry.name}
    if entry.help and entry.kind != "const":
        base["aria-describedby"] = f"{entry.dom_id}-help"
    if entry.errors:
        base["aria-invalid"] = "true"
    if entry.kind in ("choice", "boolean"):
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(c.value, Markup(" selected") if c.selected else "", c.label)
            for c in entry.choices
        )
        return Markup("<select{}>{}</select>").format(_attrs(base), options)
    if entry.kind == "textarea":
        return Markup('<textarea{} rows="3">{}</textarea>').format(_attrs({**base, **entry.attrs}), entry.value)
    kind = {"integer": "number", "number": "number", "date": "date", "const": "hidden"}.get(entry.kind, "text")
    if entry.value and kind in ("number", "date") and _convert(entry.kind, entry.value) == entry.value:
        kind = "text"  # a value the browser's number or date input would blank out: shown as written, to be fixed
    return Markup('<input type="{}"{}>').format(kind, _attrs({**base, **entry.attrs, "value": entry.value}))


def _render(entry: FormField, depth: int) -> Markup:
    if entry.kind == "const":
        return _input(entry)
    css = "field-error-box" if entry.errors else ""
    if entry.kind in ("group", "list", "mapping"):
        legend = Markup("<legend>{}</legend>").format(entry.label)
        inner = Markup("").join(_render(child, depth + 1) for child in entry.children)
        extra = Markup("")
        if entry.kind == "group" and re.search(r"\[\d+\]$", entry.name):
            remove = f"{entry.name}.{REMOVE}"
            extra = Markup(
                '<label class="remove"><input type="checkbox" name="{}" value="1" id="{}"> Remove this item</label>'
            ).format(remove, "f-" + _ID_UNSAFE.sub("-", remove).strip("-"))
        if entry.kind == "list":
            extra = Markup('<button type="submit" name="{}" value="{}" id="{}-add" formnovalidate>Add {}</button>').format(
                ADD, entry.name, entry.dom_id, _singular(entry.label.lower())
            )
        template = Markup('<section class="form-{}{} {}" id="{}"><fieldset>{}{}{}{}</fieldset></section>')
        if depth:
            template = Markup('<div class="form-{}{} {}" id="{}"><fieldset>{}{}{}{}</fieldset></div>')
        blank = " blank-row" if entry.blank else ""
        return template.format(entry.kind, blank, css, entry.dom_id, legend, _help(entry), inner, extra)
    if entry.kind == "multichoice":
        boxes = Markup("").join(
            Markup('<label><input type="checkbox" name="{}" value="{}" id="{}-{}"{}> {}</label>').format(
                entry.name, c.value, entry.dom_id, _ID_UNSAFE.sub("-", c.value), Markup(" checked") if c.selected else "", c.label
            )
            for c in entry.choices
        )
        return Markup('<div class="field {}" id="{}"><span class="label">{}</span>{}{}</div>').format(
            css, entry.dom_id, entry.label, boxes, _help(entry)
        )
    marker = Markup(' <span class="required">(required)</span>') if entry.required else ""
    return Markup('<div class="field {}"><label for="{}">{}{}</label>{}{}</div>').format(
        css, entry.dom_id, entry.label, marker, _input(entry), _help(entry)
    )


def render(form: Form) -> Markup:
    """The form's fields as HTML (without the ``<form>`` element): every text escaped, safe to insert in a template."""
    head = Markup("")
    if form.errors:
        items = Markup("").join(Markup("<li>{}</li>").format(e) for e in form.errors)
        head += Markup('<div class="form-errors" id="form-errors" role="alert"><ul>{}</ul></div>').format(items)
    if form.unrepresented:
        items = Markup("").join(Markup("<li>{}</li>").format(e) for e in form.unrepresented)
        head += Markup(
            '<div class="form-warning" id="form-unrepresented">The file holds data this form cannot show; '
            "edit it in the YAML view, or it will be dropped on save:<ul>{}</ul></div>"
        ).format(items)
    head += Markup("").join(_input(entry) for entry in form.hidden)
    return head + Markup("").join(_render(section, 0) for section in form.sections)


__all__ = [
    "ADD",
    "REMOVE",
    "Choice",
    "Form",
    "FormField",
    "attach_errors",
    "build_form",
    "form_pairs",
    "parse_form",
    "program_schema",
    "render",
    "requested_rows",
]
