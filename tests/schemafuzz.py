"""Hypothesis strategies generated from the program-file JSON Schema, and the checks the fuzz properties share.

The strategies walk ``ProgramFile.model_json_schema()`` (what ``cmcadvisor schema program`` prints), so a
field, a bound or an enum value added to the model is fuzzed without a change here. Each example draws a
profile: ``plain`` (ordinary values), ``edge`` (every bound, exponent floats, extreme dates, unicode, empty
and long lists, missing sections) or ``hostile`` (also just outside the bounds, control characters, wrong
types, unknown keys, broken YAML). The checks run the CLI in-process (click's CliRunner) and return the
problems they see, so tests/test_fuzz.py can assert there are none and bench/fuzz.py can count them.
This module must not fix or second-guess the product: it only generates input and reads output.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import datetime
import functools
import html.parser
import io
import json
import math
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result
from hypothesis import strategies as st

from cmcadvisor.cli import cli
from cmcadvisor.models.program import ProgramFile

SCHEMA: dict[str, Any] = ProgramFile.model_json_schema()
DEFS: dict[str, Any] = SCHEMA.get("$defs", {})
AS_OF = "2026-11-25"
PROFILES = ("plain", "edge", "unicode", "hostile")

# Dates at the ends of what datetime can hold, leap days and the day before and after them.
EDGE_DATES = [
    datetime.date(1, 1, 1),
    datetime.date(1, 1, 2),
    datetime.date(9999, 12, 31),
    datetime.date(9999, 12, 30),
    datetime.date(9000, 1, 1),
    datetime.date(2024, 2, 29),
    datetime.date(2000, 2, 29),
    datetime.date(2028, 2, 29),
    datetime.date(1900, 3, 1),
    datetime.date(1970, 1, 1),
    datetime.date(2026, 11, 25),
    datetime.date(2026, 11, 24),
]
BAD_DATES = ["2023-02-29", "2026-13-01", "2026-00-10", "9999-12-32", "0000-01-01", "10000-01-01", "2026-1-1", "", "today"]
# Text that has broken writers before: formulas (also after blanks, CR, LF, full-width), markup, template
# syntax, bidi and zero-width characters, line and paragraph separators, long grapheme clusters.
SPECIAL_TEXT = [
    "Acme Bio",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")',
    " =1+1",
    "\r=cmd|' /C calc'!A0",
    "Acme\r=cmd|' /C calc'!A0",
    "\n@SUM(A1)",
    "\uff1d1+1",
    "-2+3",
    "+1",
    "[x](javascript:alert(1))",
    "{{ 7*7 }}{% raw %}",
    "| a | b |\n|---|",
    "\u202egnp.exe",
    "a\u200bb\ufeff",
    "line\u2028sep\u2029para",
    "\U0001f9ec\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\u7d30\u80de\u7642\u6cd5",
    "e\u0301\u0301\u0301",
    "'; DROP TABLE programs; --",
    "%s%n%x",
    "\\x00 not a control",
]
CONTROL = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
CONTROL_TEXT = ["\x1b[31mred\x1b[0m", "a\x0bb", "nul\x00", "gs\x1d", "bell\x07", "csi\x9b2J", "nel\x85x", "\x7fdel"]
_TEXT_CHARS = st.characters(blacklist_categories=("Cs",))
_NO_CONTROL_CHARS = st.characters(blacklist_categories=("Cs", "Cc"))


def _ref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = DEFS[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _branches(node: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The non-null alternatives of a node and whether null is allowed (bounds on a wrapper are pushed down)."""
    node = _ref(node)
    if "anyOf" not in node:
        return [node], node.get("type") == "null"
    extra = {k: v for k, v in node.items() if k not in ("anyOf", "default", "description", "title")}
    found: list[dict[str, Any]] = []
    nullable = False
    for branch in node["anyOf"]:
        inner, null = _branches({**extra, **_ref(branch)} if extra else branch)
        nullable = nullable or null
        found.extend(b for b in inner if b.get("type") != "null")
    return found, nullable


def _bound(node: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in node:
            return node[name]
    return None


_PERCENT = st.integers(0, 99)


def _chance(draw: Any, percent: int) -> bool:
    return bool(draw(_PERCENT) < percent)


def _integer(draw: Any, node: dict[str, Any], profile: str) -> object:
    lo = _bound(node, "minimum", "ge")
    hi = _bound(node, "maximum", "le")
    if node.get("exclusiveMinimum") is not None:
        lo = node["exclusiveMinimum"] + 1
    if node.get("exclusiveMaximum") is not None:
        hi = node["exclusiveMaximum"] - 1
    low = lo if lo is not None else -(10**6)
    if profile == "plain":
        return draw(st.integers(max(low, 0), min(hi, 60) if hi is not None else 60))
    edges = [low, low + 1, 1, 2, 50_000, 10**6, 2**31 - 1, 2**31, 2**53 + 1, 2**63, 10**20, 10**400]
    if hi is not None:
        edges += [hi, hi - 1]
    choices = sorted({e for e in edges if (hi is None or e <= hi) and e >= low})
    if profile == "hostile" and _chance(draw, 10):
        outside = [-1, -(10**400)]
        outside += [lo - 1] if lo is not None else []
        outside += [hi + 1, hi * 10**12] if hi is not None else []
        return draw(st.sampled_from(outside))
    if _chance(draw, 60):
        return draw(st.sampled_from(choices))
    return draw(st.integers(low, hi if hi is not None else 10**15))


def _number(draw: Any, node: dict[str, Any], profile: str) -> object:
    lo = _bound(node, "minimum", "ge")
    hi = _bound(node, "maximum", "le")
    low = float(lo) if lo is not None else -1e15
    high = float(hi) if hi is not None else 1e15
    if profile == "plain":
        return draw(st.sampled_from([0, 120_000, 250_000, 450_000, 5_000_000, 20_000_000, 60_000_000, 425_000.5]))
    if profile == "hostile" and _chance(draw, 10):
        outside = [math.inf, -math.inf, math.nan, -1e-12, -(10**400), 10**400, 1.7976931348623157e308]
        outside += [float(lo) - 1e-9] if lo is not None else []
        outside += [float(hi) * 1.000001 + 1] if hi is not None else []
        return draw(st.sampled_from(outside))
    powers: list[object] = [10.0**k for k in range(-12, 16)] + [4e-05, 1.5e-07, 5e-324, 0.0, 1, 10**15, 10**20]
    inside = [p for p in powers if low <= float(p) <= high]  # type: ignore[arg-type]
    kind = draw(st.integers(0, 2))
    if kind == 0 and inside:
        return draw(st.sampled_from(inside))
    if kind == 1:
        return draw(st.floats(max(low, 1e-12), min(high, 1e15), allow_nan=False, allow_infinity=False))
    return draw(st.integers(int(max(low, 0)), int(min(high, 10**15))))


def _iso(value: object) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def _date(draw: Any, node: dict[str, Any], profile: str) -> object:
    lo = _iso(_bound(node, "formatMinimum", "minimum", "ge")) or datetime.date.min
    hi = _iso(_bound(node, "formatMaximum", "maximum", "le")) or datetime.date.max
    if profile == "hostile" and _chance(draw, 10):
        outside: list[object] = [*BAD_DATES, *(d for d in EDGE_DATES if not lo <= d <= hi)]
        outside += [lo - datetime.timedelta(days=1)] if lo > datetime.date.min else []
        outside += [hi + datetime.timedelta(days=1)] if hi < datetime.date.max else []
        chosen = draw(st.sampled_from(outside))
        return chosen.isoformat() if isinstance(chosen, datetime.date) and _chance(draw, 30) else chosen
    if profile == "plain":
        value = min(max(datetime.date(2026, 11, 25) + datetime.timedelta(days=draw(st.integers(-200, 900))), lo), hi)
    elif _chance(draw, 50):
        value = draw(st.sampled_from([lo, hi, *(d for d in EDGE_DATES if lo <= d <= hi)]))
    else:
        value = draw(st.dates(lo, hi))
    return value if _chance(draw, 70) else value.isoformat()  # a YAML timestamp or a quoted string


def _string(draw: Any, node: dict[str, Any], profile: str) -> object:
    lo = int(node.get("minLength", 0))
    hi = node.get("maxLength")
    pattern = node.get("pattern")
    if node.get("format") == "date":
        return _date(draw, node, profile)
    if "enum" in node or "const" in node:
        values = node.get("enum", [node.get("const")])
        if profile == "hostile" and _chance(draw, 15):
            bad = [str(values[0]).upper(), f" {values[0]}", "not_a_valid_value", str(values[0]) + "\x0b", ""]
            return draw(st.sampled_from(bad))
        return draw(st.sampled_from(values))
    text = _text(draw, lo, hi, profile)
    if pattern and profile != "hostile" and not re.fullmatch(pattern, text):
        # the text breaks the field's pattern: in a profile meant to validate, draw from the pattern itself
        text = draw(st.from_regex(pattern, fullmatch=True).filter(lambda t: lo <= len(t) <= (hi or 5000)))
    return text


def _text(draw: Any, lo: int, hi: int | None, profile: str) -> str:
    top = hi if hi is not None else 5000
    if profile == "plain":
        return draw(st.sampled_from(["alpha", "Beta Therapeutics", "<b>x</b>", "=SUM(A1)", "C\u00e9lula"]))
    if profile == "hostile" and _chance(draw, 15):
        return draw(st.sampled_from(["x" * (top + 1), "\u00e9" * (top + 1)] + ([""] if lo > 0 else [])))
    kind = draw(st.integers(0, 9))
    if kind <= 2:
        text = draw(st.sampled_from(SPECIAL_TEXT))
    elif kind == 3:
        text = draw(st.sampled_from(["x", "\u00e9", "\U0001f9ec"])) * top  # exactly at the length bound
    elif kind == 4 and profile in ("unicode", "hostile"):
        text = draw(st.sampled_from(CONTROL_TEXT))
    elif kind == 5 and profile in ("unicode", "hostile"):
        text = draw(st.text(st.sampled_from(CONTROL + list("ab =\r\n\t")), min_size=1, max_size=12))
    elif kind == 6:
        text = draw(st.text(_NO_CONTROL_CHARS, min_size=max(lo, 0), max_size=min(top, 30)))
    else:
        chars = _TEXT_CHARS if profile in ("unicode", "hostile") else _NO_CONTROL_CHARS
        text = draw(st.text(chars, min_size=max(lo, 1), max_size=min(top, 30)))
    text = text[:top]
    return text if len(text) >= lo else text + "x" * (lo - len(text))


_WRONG: list[object] = [[1, 2], {"a": 1}, "12", 3.5, True, 0, "", datetime.date(2026, 1, 1), [], {}]


def value(draw: Any, node: dict[str, Any], profile: str, depth: int = 0) -> object:
    """A value for one schema node (``profile`` decides how far from the ordinary it goes)."""
    branches, nullable = _branches(node)
    if profile == "hostile" and _chance(draw, 2):
        return draw(st.sampled_from(_WRONG))
    if nullable and profile != "plain" and _chance(draw, 5):
        return None
    branch = draw(st.sampled_from(branches)) if len(branches) > 1 else branches[0]
    kind = branch.get("type")
    if "const" in branch and kind != "string":
        return branch["const"] if not (profile == "hostile" and _chance(draw, 10)) else draw(st.sampled_from([2, "1", 0]))
    if kind == "object":
        return obj(draw, branch, profile, depth)
    if kind == "array":
        return _array(draw, branch, profile, depth)
    if kind == "string":
        return _string(draw, branch, profile)
    if kind == "integer":
        return _integer(draw, branch, profile)
    if kind == "number":
        return _number(draw, branch, profile)
    if kind == "boolean":
        return draw(st.booleans())
    raise AssertionError(f"schema node the fuzzer does not know: {branch}")  # a new kind of field: teach the walker


def _array(draw: Any, node: dict[str, Any], profile: str, depth: int) -> list[object]:
    items = node.get("items", {})
    hi = node.get("maxItems")
    lo = node.get("minItems", 0)
    if profile == "plain":
        return [value(draw, items, profile, depth + 1) for _ in range(draw(st.integers(max(lo, 0), min(hi or 3, 3))))]
    kind = draw(st.integers(0, 29))
    if kind <= 2:
        return []
    if kind == 3 and hi is not None:  # a long list: one generated item repeated up to (or past) the bound
        one = value(draw, items, profile, depth + 1)
        count = hi + 1 if profile == "hostile" and _chance(draw, 50) else hi
        return [copy.deepcopy(one) for _ in range(count)]
    return [value(draw, items, profile, depth + 1) for _ in range(draw(st.integers(max(lo, 0), min(hi or 4, 4))))]


_KEY_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":")


def obj(draw: Any, node: dict[str, Any], profile: str, depth: int = 0) -> dict[str, object]:
    """A mapping for an object node: required keys, a share of the optional ones, sometimes unknown keys."""
    out: dict[str, object] = {}
    required = set(node.get("required", []))
    keep = {"plain": 70, "edge": 55, "unicode": 60, "hostile": 60}[profile]
    for name, child in node.get("properties", {}).items():
        if name in required:
            if profile == "hostile" and _chance(draw, 3):
                continue
        elif not _chance(draw, keep):
            continue
        out[name] = value(draw, child, profile, depth + 1)
    names = node.get("propertyNames", {}).get("enum")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and names:  # a mapping keyed by an enum (e.g. timeline.durations_days)
        for key in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
            out[key] = value(draw, extra, profile, depth + 1)
        if profile == "hostile" and _chance(draw, 20):
            out["not_an_activity"] = 1
    if profile == "hostile" and _chance(draw, 8):
        key = draw(
            st.one_of(st.sampled_from([n + "x" for n in node.get("properties", {})] or ["x"]), st.text(_KEY_CHARS, min_size=1))
        )
        out.setdefault(key, draw(st.sampled_from(_WRONG)))
    return out


@dataclass
class Case:
    """One generated program file: its text, file suffix and the data it was made from."""

    text: str
    suffix: str
    data: object
    profile: str
    as_of: str | None = None  # passed as --as-of when the program gives none
    meeting: str = "type_c"
    overrides: list[str] = field(default_factory=list)  # --set FIELD=VALUE, given to every command but validate
    rule: str = ""  # the rule `explain` is asked about


def _dump(draw: Any, data: object, profile: str) -> tuple[str, str]:
    if profile != "plain" and _chance(draw, 15):
        try:
            return json.dumps(
                data, default=str, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2]))
            ), ".json"
        except ValueError:
            pass  # a value JSON cannot hold: YAML then
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: the pure-Python emitter is most of the time
    unicode, flow = draw(st.booleans()), draw(st.sampled_from([False, None]))
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=unicode, default_flow_style=flow)
    return text, ".yaml"


_MEETINGS: list[str] = list(_ref(DEFS["Interaction"]["properties"]["type"]).get("enum", ["type_c"]))


@functools.cache
def rule_ids() -> list[str]:
    """The ids of the built-in active rules (waivers name one)."""
    from cmcadvisor import api

    return sorted(rule.id for rule in api.load_context().pack.active)


def _plausible_waivers(draw: Any, data: dict[str, Any]) -> None:
    """What the schema cannot say about a waiver: it names a real rule and expires on or after its approval."""
    waivers = data.get("waivers")
    if not isinstance(waivers, list):
        return
    distinct = min(len(waivers), len(rule_ids()))  # more waivers than rules: the rest repeat one (and are refused)
    rules = draw(st.lists(st.sampled_from(rule_ids()), min_size=distinct, max_size=distinct, unique=True))
    rules += rule_ids()[:1] * (len(waivers) - distinct)
    for waiver, rule in zip(waivers, rules, strict=True):
        if isinstance(waiver, dict):
            waiver["rule"] = rule  # one waiver per rule
            dates = [waiver.get("approved_on"), waiver.get("expires")]
            if all(isinstance(d, datetime.date) for d in dates) and dates[0] > dates[1]:  # type: ignore[operator]
                waiver["approved_on"], waiver["expires"] = dates[1], dates[0]
            elif all(isinstance(d, str) for d in dates) and dates[0] > dates[1]:  # type: ignore[operator]
                waiver["approved_on"], waiver["expires"] = dates[1], dates[0]


@st.composite
def cases(draw: Any, profiles: tuple[str, ...] = PROFILES) -> Case:
    """A program file made from the schema, in one of ``profiles``; hostile ones may also be broken as text."""
    profile = draw(st.sampled_from(profiles))
    data: object = obj(draw, SCHEMA, profile)
    if profile == "plain" and isinstance(data, dict):
        data["schema_version"] = 1
    if isinstance(data, dict) and (profile == "plain" or (profile in ("edge", "unicode") and _chance(draw, 70))):
        _plausible_waivers(draw, data)
    if profile == "hostile" and _chance(draw, 3):
        data = draw(st.sampled_from([None, [], "just text", 42, [data]]))
    text, suffix = _dump(draw, data, profile)
    if profile == "hostile" and _chance(draw, 50):  # an impossible date as a bare YAML timestamp, not a quoted string
        text = re.sub(r"'(\d{4}-\d{2}-\d{2})'", r"\1", text)
    if profile == "hostile" and text and _chance(draw, 20):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.integers(0, 3))
        if kind == 0:  # raw control characters in the YAML text itself
            text = text[:at] + draw(st.sampled_from(CONTROL)) + text[at:]
        elif kind == 1:
            text = text[:at]
        elif kind == 2:
            text = (
                text[:at]
                + draw(st.sampled_from(["\t: [", "{{", "- - :", "&a [*a, *a]", "!!python/object:os.system ls", "\ufeff"]))
                + text[at:]
            )
        else:
            text = text.replace("\n", "\r", 1)
    as_of = None
    if not (isinstance(data, dict) and isinstance(data.get("program"), dict) and data["program"].get("as_of") is not None):
        as_of = AS_OF if profile == "plain" or _chance(draw, 60) else draw(st.sampled_from(EDGE_DATES)).isoformat()
    overrides = _overrides(draw, profile) if profile != "plain" and _chance(draw, 20) else []
    rule = draw(st.sampled_from(rule_ids()))
    return Case(text, suffix, data, profile, as_of, draw(st.sampled_from(_MEETINGS)), overrides, rule)


def leaf_fields(node: dict[str, Any] = SCHEMA, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every ``section.field`` path that ``--set`` can address (not inside lists), with its schema node."""
    found: list[tuple[str, dict[str, Any]]] = []
    for branch in _branches(node)[0]:
        for name, child in branch.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            kinds = {b.get("type") for b in _branches(child)[0]}
            if kinds & {"object"}:
                found.extend(leaf_fields(child, path))
            elif not kinds & {"array"}:
                found.append((path, child))
    return found


_LEAVES = leaf_fields()


def _overrides(draw: Any, profile: str) -> list[str]:
    """One to three ``--set`` what-if changes to schema fields, with values of the profile (raw or escaped text)."""
    out: list[str] = []
    for path, node in draw(st.lists(st.sampled_from(_LEAVES), min_size=1, max_size=3, unique_by=lambda leaf: leaf[0])):
        given = value(draw, node, profile)
        if isinstance(given, bool):
            text = "true" if given else "false"
        elif isinstance(given, datetime.date):
            text = given.isoformat()
        elif isinstance(given, str):
            text = given if _chance(draw, 30) else json.dumps(given)  # raw, or a double-quoted YAML scalar
        elif given is None or isinstance(given, (list, dict)):
            text = "" if given is None else json.dumps(given, default=str)
        else:
            text = {math.inf: ".inf", -math.inf: "-.inf"}.get(given, ".nan" if given != given else repr(given))  # type: ignore[call-overload]
        out.append(f"{path}={text}")
    return out


def _extreme(node: dict[str, Any], end: str) -> object:
    branch = _branches(node)[0][-1 if end == "max" else 0]
    kind = branch.get("type")
    if "const" in branch:
        return branch["const"]
    if "enum" in branch:
        return branch["enum"][-1 if end == "max" else 0]
    if kind == "object":
        names = branch.get("propertyNames", {}).get("enum", [])
        extra = branch.get("additionalProperties")
        out = {
            k: _extreme(v, end)
            for k, v in branch.get("properties", {}).items()
            if end == "max" or k in branch.get("required", [])
        }
        if isinstance(extra, dict) and end == "max":
            out.update({name: _extreme(extra, end) for name in names})
        return out
    if kind == "array":
        return [_extreme(branch.get("items", {}), end) for _ in range(min(branch.get("maxItems", 2), 2) if end == "max" else 0)]
    if kind == "string" and branch.get("format") == "date":
        bound = (
            _bound(branch, "formatMaximum", "maximum", "le") if end == "max" else _bound(branch, "formatMinimum", "minimum", "ge")
        )
        return _iso(bound) or (datetime.date(9999, 12, 31) if end == "max" else datetime.date(1, 1, 1))
    if kind == "string":
        size = branch.get("maxLength", 300) if end == "max" else max(branch.get("minLength", 0), 0)
        for text in ("\u00e9" * size, "x" * size, "X"):  # multi-byte text at the length bound first
            if not branch.get("pattern") or re.fullmatch(branch["pattern"], text):
                return text
        return "X"
    if kind in ("integer", "number"):
        bound = _bound(branch, "maximum", "le") if end == "max" else _bound(branch, "minimum", "ge")
        if bound is None:
            bound = 10**15 if end == "max" else 0
        return float(bound) if kind == "number" else bound
    if kind == "boolean":
        return end == "max"
    raise AssertionError(f"schema node the fuzzer does not know: {branch}")


def extreme_case(end: str) -> Case:
    """Every field present at its upper bound (``max``: longest text, largest number, latest date, two items
    per list) or only the required fields at their lower bound (``min``); waivers name a real rule."""
    data = _extreme(SCHEMA, end)
    assert isinstance(data, dict)
    for index, waiver in enumerate(data.get("waivers") or []):
        waiver["rule"] = rule_ids()[-1 - index]  # one waiver per rule
    text = yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)
    as_of = None if data.get("program", {}).get("as_of") else AS_OF
    return Case(text, ".yaml", data, "edge", as_of, _MEETINGS[-1 if end == "max" else 0])


def oversized_case() -> Case:
    """The smallest valid program padded with a comment past the loader's size limit (refused, with file and line)."""
    from cmcadvisor.loader import MAX_FILE_BYTES

    case = extreme_case("min")
    return Case(case.text + "#" * (MAX_FILE_BYTES + 1) + "\n", ".yaml", case.data, "hostile", case.as_of)


# --- running the CLI and reading what it wrote ---------------------------------------------------------

# One output per command and format the CLI offers; each is read back with its own reader.
OUTPUTS: list[tuple[str, str]] = [
    ("assess", "json"),
    ("assess", "markdown"),
    ("assess", "html"),
    ("assess", "table"),
    ("timeline", "json"),
    ("timeline", "csv"),
    ("timeline", "mermaid"),
    ("timeline", "svg"),
    ("brief", "markdown"),
    ("brief", "docx"),
    ("brief", "html"),
    ("brief", "json"),
    ("risks", "json"),
    ("risks", "csv"),
    ("risks", "xlsx"),
    ("risks", "markdown"),
    ("risks", "html"),
    ("risks", "table"),
    ("explain", "json"),
    ("explain", "text"),
]
_RAW_CONTROL = re.compile("[" + "".join(re.escape(c) for c in CONTROL) + "]")
_OPTION_ERROR = re.compile(r"^error: --[a-z][a-z-]*: .+")
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\uff1d")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$")  # a plain (negative) number is data, not a formula


def formula_like(cell: str) -> bool:
    """A cell a spreadsheet could read as a formula: its first non-blank character is a trigger."""
    stripped = cell.lstrip(" \t\r\n\u3000")
    return stripped.startswith(_FORMULA_TRIGGERS) and not _NUMBER.match(stripped)


def located(line: str, path: str) -> bool:
    """``error: FILE:LINE[:COL]: FIELD: MESSAGE`` naming the input file (or an option's own error).

    The field is left out only for a problem with the whole document (not YAML, not a mapping, too large),
    as ``ErrorItem.format`` and the contract's "file, line, what is wrong" allow; file and line never are.
    """
    pattern = r"^error: " + re.escape(path) + r":\d+(:\d+)?: (?:[^:]+: )?.+"
    return bool(re.match(pattern, line)) or bool(_OPTION_ERROR.match(line))


_CLICK_LINE = re.compile(r"^(Usage: |Try '|Error: (Invalid value for|No such option|Missing)|\s*$)")


def option_error(stderr: str) -> bool:
    """A bad command-line option (not the program file): click's usage error, or ``error: --option: message``."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if lines and all(_CLICK_LINE.match(line) for line in lines) and any(line.startswith("Error: ") for line in lines):
        return True
    return bool(lines) and all(_OPTION_ERROR.match(line) for line in lines)


@dataclass
class Run:
    """What one CLI invocation did."""

    args: list[str]
    exit_code: int
    stdout: bytes
    stderr: str
    crash: str | None  # an exception that escaped the CLI (never SystemExit)


@contextlib.contextmanager
def shared_contexts() -> Iterator[None]:
    """Load the rule pack and knowledge once per engine while fuzzing (the CLI loads them on every run).

    The rules and knowledge are not what is fuzzed, and reusing one loaded context for many programs is
    what ``portfolio`` does anyway; this makes a run ~10x faster. bench/fuzz.py also runs inputs through
    the installed console script, where nothing is shared.
    """
    from cmcadvisor import api

    real = api.load_context
    loaded: dict[tuple[object, ...], api.Context] = {}

    def load(options: api.Options | None = None) -> api.Context:
        options = options or api.Options()
        key = (options.engine, options.rules_dirs, options.builtin_rules, options.knowledge_dir)
        if key not in loaded:
            loaded[key] = real(options)
        return loaded[key]

    api.load_context = load  # type: ignore[assignment]
    try:
        yield
    finally:
        api.load_context = real  # type: ignore[assignment]


def invoke(args: list[str]) -> Run:
    """Run the CLI in-process; an exception other than SystemExit counts as a crash."""
    result: Result = CliRunner().invoke(cli, args, catch_exceptions=True)
    crash = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crash = f"{type(result.exception).__name__}: {result.exception}"
    return Run(args, result.exit_code, result.stdout_bytes, result.stderr, crash)


def write_case(case: Case, folder: Path) -> Path:
    path = folder / f"program{case.suffix}"
    path.write_bytes(case.text.encode("utf-8", "surrogatepass"))
    return path


def command(case: Case, path: Path, name: str, fmt: str | None, engine: str = "auto") -> list[str]:
    args = ["--engine", engine, name, str(path)]
    if fmt is not None:
        args += ["--format", fmt]
    if name == "brief":
        args += ["--meeting", case.meeting]
    if name == "explain":  # a rule id follows the program: explain answers for the rule this case names
        args.insert(4, case.rule or rule_ids()[0])
    if name != "validate" and case.as_of is not None:
        args += ["--as-of", case.as_of]
    if name != "validate":
        for override in case.overrides:
            args += ["--set", override]
    return args


def exit_problems(run: Run, path: Path) -> list[str]:
    """Exit in {0, 1, 2}, no traceback, every exit-2 line located."""
    problems: list[str] = []
    text = run.stderr + run.stdout.decode("utf-8", "replace")
    if run.crash or run.exit_code not in (0, 1, 2):
        problems.append(f"exit3: exit {run.exit_code} {run.crash or ''} {run.stderr.strip()[:300]}")
    if "Traceback (most recent call last)" in text:
        problems.append("traceback: " + text[-300:])
    if run.exit_code == 2 and not option_error(run.stderr):
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        if not lines:
            problems.append("unlocated: exit 2 with nothing on stderr")
        for line in lines:
            if not located(line, str(path)):
                problems.append(f"unlocated: {line[:300]}")
    return problems


def _csv_problems(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return ["csv: no rows"]
    widths = {len(row) for row in rows}
    problems = [f"csv: not rectangular (row widths {sorted(widths)})"] if len(widths) != 1 else []
    for row in rows[1:]:
        for cell in row:
            if formula_like(cell):
                problems.append(f"csv: formula-like cell not neutralised: {cell[:60]!r}")
                break
    return problems


def _xlsx_problems(data: bytes) -> list[str]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    problems: list[str] = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                text = cell.value
                if isinstance(text, str) and formula_like(text) and not text.startswith("'") and not cell.quotePrefix:
                    problems.append(f"xlsx: formula-like cell not neutralised: {sheet.title}!{cell.coordinate} {text[:60]!r}")
    return problems


def output_problems(fmt: str, data: bytes) -> list[str]:
    """Read an output back with the reader of its format; list what does not parse or holds raw control characters."""
    try:
        if fmt == "json":
            json.loads(data)
            return []
        if fmt == "docx":
            import docx

            docx.Document(io.BytesIO(data))
            return []
        if fmt == "xlsx":
            return _xlsx_problems(data)
        if fmt == "svg":
            ET.fromstring(data)
            return []
        text = data.decode("utf-8")
    except Exception as exc:  # noqa: BLE001 - any reader failure is the finding
        return [f"unparseable {fmt}: {type(exc).__name__}: {str(exc)[:200]}"]
    problems: list[str] = []
    bad = _RAW_CONTROL.search(text)
    if bad:
        problems.append(f"unparseable {fmt}: raw control character {bad.group()!r} at {bad.start()}")
    if fmt == "html":
        parser = html.parser.HTMLParser()
        try:
            parser.feed(text)
            parser.close()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"unparseable html: {type(exc).__name__}: {exc}")
        if "html" not in text.lower():
            problems.append("unparseable html: no <html>")
    elif fmt == "csv":
        problems += [f"unparseable {p}" for p in _csv_problems(text)]
    return problems


def engine_json(path: Path, as_of: str | None) -> dict[str, object]:
    """The JSON result of each engine on one program (through the api), or the error each raised."""
    from cmcadvisor import api
    from cmcadvisor.errors import UserInputError
    from cmcadvisor.render.as_json import render_json

    out: dict[str, object] = {}
    for engine in ("durable", "python"):
        options = api.Options(
            engine=engine, as_of=datetime.date.fromisoformat(as_of) if as_of else None, today=datetime.date(2026, 11, 25)
        )
        try:
            result = api.assess_file(path, options, _contexts(engine))
            data = json.loads(render_json(result))
            audit = data.get("audit", {})
            audit.pop("engine", None)
            if SAME_FIRING_ORDER is False:
                audit["fired"] = sorted(
                    ({k: v for k, v in f.items() if k != "seq"} for f in audit.get("fired", [])), key=json.dumps
                )
            out[engine] = data
        except UserInputError as exc:
            out[engine] = f"exit 2: {exc}"
        except Exception as exc:  # noqa: BLE001 - recorded and compared
            out[engine] = f"crash: {type(exc).__name__}: {exc}"
    return out


_CONTEXTS: dict[str, object] = {}
# durable-rules and the Python evaluator each fire in their own agenda order; the records must be the same.
SAME_FIRING_ORDER = False


def _contexts(engine: str) -> Any:
    from cmcadvisor import api

    if engine not in _CONTEXTS:
        _CONTEXTS[engine] = api.load_context(api.Options(engine=engine))
    return _CONTEXTS[engine]


def engine_problems(path: Path, as_of: str | None) -> list[str]:
    results = engine_json(path, as_of)
    problems = [
        f"engine {name}: {value[:300]}" for name, value in results.items() if isinstance(value, str) and value.startswith("crash")
    ]
    if results["durable"] != results["python"]:
        problems.append("engines differ: " + _first_difference(results["durable"], results["python"]))
    return problems


def _first_difference(a: object, b: object, where: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{where}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{where}[{index}]")
    return f"{where or '(top)'}: durable {str(a)[:150]!r} != python {str(b)[:150]!r}"


def check_case(case: Case, outputs: list[tuple[str, str]], *, engines: bool = True, folder: Path | None = None) -> dict[str, Any]:
    """Every property on one case: exits, located errors, validate/assess agreement, outputs, engines.

    Returns ``{"exit": assess's exit code, "valid": bool, "problems": [...], "outputs": how many outputs were read back}``.
    """
    own = folder is None
    folder = folder or Path(tempfile.mkdtemp(prefix="cmcfuzz-"))
    try:
        path = write_case(case, folder)
        problems: list[str] = []
        checked = invoke(command(case, path, "validate", None))
        problems += exit_problems(checked, path)
        first = invoke(command(case, path, "assess", "json"))
        problems += exit_problems(first, path)
        valid = checked.exit_code == 0
        if valid and first.exit_code == 2 and not option_error(first.stderr) and not case.overrides:
            problems.append(f"validate accepts what assess refuses: {first.stderr.strip()[:300]}")
        if checked.exit_code == 2 and first.exit_code in (0, 1) and not case.overrides:
            problems.append(f"assess accepts what validate refuses: {checked.stderr.strip()[:300]}")
        read = 0
        if first.exit_code == 0:
            problems += output_problems("json", first.stdout)
            read += 1
            for name, fmt in outputs:
                if (name, fmt) == ("assess", "json"):
                    continue
                run = invoke(command(case, path, name, fmt))
                problems += exit_problems(run, path)
                if run.exit_code == 0:
                    problems += output_problems(fmt, run.stdout)
                    read += 1
                elif run.exit_code == 2:
                    problems.append(f"assess ran but {name} --format {fmt} refused: {run.stderr.strip()[:300]}")
            if engines:
                problems += engine_problems(path, case.as_of)
        shown = [p.replace(str(path), "FILE") for p in problems]  # the same defect reads the same in every folder
        return {"exit": 3 if first.crash else first.exit_code, "valid": valid, "problems": shown, "outputs": read}
    finally:
        if own:
            for child in folder.iterdir():
                child.unlink()
            folder.rmdir()
