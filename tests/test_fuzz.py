"""Property-based fuzzing of the program file and rule files (issue 11, "make it stay fixed").

Program files come from strategies generated from the program-file JSON Schema (tests/schemafuzz.py):
every field at and just outside its bounds, unicode and control characters, exponent floats, extreme
dates, empty and long lists, missing sections, unknown keys, wrong types, broken YAML, ``--set``
overrides. Properties: exit 0, 1 or 2 (never 3, never a traceback); every exit-2 line is
``file:line: field: message``; ``validate`` and ``assess`` agree; every output format of a valid program
reads back with its own reader; both engines give the same JSON. Rule files are mutated likewise. CI runs
a modest, deterministic count (derandomized); ``bench/fuzz.py`` runs 30x and N-input campaigns.
"""

from __future__ import annotations

import datetime
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemafuzz
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from programgen import random_program

from cmcadvisor.engine import get_engine
from cmcadvisor.errors import RuleFileError
from cmcadvisor.facts import derive_facts
from cmcadvisor.registry import load_rule_file

# CI runs a quick pass; bench/fuzz.py raises this for a long run.
SCALE = int(os.environ.get("CMCADVISOR_FUZZ_SCALE", "1"))
AS_OF = datetime.date(2026, 11, 25)
HOSTILE = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")',
    "[x](javascript:alert(1))",
    "\u202e\u0000",
    "{{ 7*7 }}",
    "'; DROP TABLE",
]


def _mutate(data: dict[str, object], rng: random.Random) -> dict[str, object]:
    """One random corruption somewhere in the document."""
    paths: list[tuple[dict[str, object], str]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    if not paths:
        return data
    parent, key = rng.choice(paths)
    choice = rng.randrange(5)
    if choice == 0:
        parent[key + "x"] = parent.pop(key)  # unknown key
    elif choice == 1:
        parent[key] = rng.choice([[1, 2], {"a": 1}, 3.5, "text", None, True])  # wrong type
    elif choice == 2:
        parent[key] = "not_a_valid_enum_value"
    elif choice == 3:
        parent[key] = rng.choice(HOSTILE)
    else:
        parent.pop(key)
    return data


# The program-file properties: strategies walk the model's JSON Schema (tests/schemafuzz.py).
FUZZ = settings(
    max_examples=40 * SCALE,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its whole program file at once
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module", autouse=True)
def _one_context_per_engine() -> Iterator[None]:
    with schemafuzz.shared_contexts():
        yield


def _assert_clean(report: dict[str, object], case: schemafuzz.Case) -> None:
    problems = report["problems"]
    options = f"--as-of {case.as_of} --set {case.overrides} --meeting {case.meeting} explain rule {case.rule}"
    assert not problems, "\n".join([*problems, "--- program file:", case.text[:3000], "--- options: " + options])  # type: ignore[list-item]


@FUZZ
@given(schemafuzz.cases())
@example(schemafuzz.oversized_case())
def test_any_program_file_exits_0_1_or_2_with_located_errors(case: schemafuzz.Case) -> None:
    """Any file (ordinary, at the bounds, or hostile): no exit 3, no traceback, `file:line: field: message`,
    validate and assess agree, and a valid program's JSON parses."""
    _assert_clean(schemafuzz.check_case(case, [("assess", "json")], engines=False), case)


@pytest.mark.parametrize(("command", "fmt"), schemafuzz.OUTPUTS, ids=[f"{c}-{f}" for c, f in schemafuzz.OUTPUTS])
@settings(FUZZ, max_examples=3 * SCALE)
@given(case=schemafuzz.cases(("plain", "edge", "edge", "unicode")))
@example(case=schemafuzz.extreme_case("max"))
@example(case=schemafuzz.extreme_case("min"))
def test_every_output_of_a_valid_program_parses(command: str, fmt: str, case: schemafuzz.Case) -> None:
    """JSON, HTML, SVG (XML), DOCX, XLSX, CSV (rectangular, formulas neutralised), Markdown and tables read back."""
    _assert_clean(schemafuzz.check_case(case, [(command, fmt)], engines=False), case)


@settings(FUZZ, max_examples=12 * SCALE)
@given(schemafuzz.cases(("plain", "edge", "unicode")))
@example(schemafuzz.extreme_case("max"))
@example(schemafuzz.extreme_case("min"))
def test_both_engines_give_identical_json(case: schemafuzz.Case) -> None:
    """durable-rules and the Python evaluator agree on every valid generated program, exponents and bounds included."""
    _assert_clean(schemafuzz.check_case(case, [], engines=True), case)


def test_strategies_cover_every_field_of_the_schema() -> None:
    """A field added to the model is fuzzed without a change to the strategies: every schema path gets generated."""
    wanted: set[str] = set()

    def walk(node: dict[str, object], path: str) -> None:
        branches, _ = schemafuzz._branches(node)
        for branch in branches:
            for name, child in branch.get("properties", {}).items():  # type: ignore[union-attr]
                wanted.add(f"{path}.{name}".lstrip("."))
                walk(child, f"{path}.{name}")  # type: ignore[arg-type]
            if branch.get("type") == "array":
                walk(branch["items"], path + "[]")  # type: ignore[arg-type]

    walk(schemafuzz.SCHEMA, "")
    seen: set[str] = set()

    def collect(data: object, path: str) -> None:
        if isinstance(data, dict):
            for key, item in data.items():
                seen.add(f"{path}.{key}".lstrip("."))
                collect(item, f"{path}.{key}")
        elif isinstance(data, list):
            for item in data:
                collect(item, path + "[]")

    @settings(FUZZ, max_examples=120)
    @given(schemafuzz.cases(("plain", "edge")))
    def gather(case: schemafuzz.Case) -> None:
        collect(case.data, "")

    gather()
    assert len(wanted) > 100 and wanted <= seen, sorted(wanted - seen)


RULE = {
    "id": "FZZ-AA-001",
    "title": "A fuzzed rule",
    "kind": "gap",
    "severity": "low",
    "topics": ["stability"],
    "version": 1,
    "status": "active",
    "confidence": "unverified",
    "when": {"all": [{"fact": "manufacturing.stability_months", "op": "lt", "value": 6}]},
    "then": {"message": "x"},
    "citations": ["CIT-ICH-Q5C"],
    "rationale": "r",
    "examples": [
        {"name": "f", "facts": {"manufacturing.stability_months": 1}, "expect": "fires"},
        {"name": "s", "facts": {"manufacturing.stability_months": 9}, "expect": "silent"},
    ],
}


@settings(max_examples=60 * SCALE, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_rule_files_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    data = _mutate(json.loads(json.dumps(RULE)), rng)
    folder = Path(__import__("tempfile").mkdtemp())
    path = folder / "FZZ-AA-001.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        rule = load_rule_file(path, str(path))
    except RuleFileError as exc:
        assert exc.items and all(item.source == str(path) for item in exc.items)
        return
    # a rule that loads must evaluate on both engines without error
    facts = derive_facts(random_program(seed), AS_OF)
    for name in ("durable", "python"):
        get_engine(name).run((rule.compiled,), facts)


def test_operator_value_shapes_are_refused_when_the_rule_loads(tmp_path: Path) -> None:
    """Found by the fuzzer: ``lt`` with a list loaded, then durable-rules refused the ruleset (error 102)."""
    cases = [
        ("lt", [1, 2], "needs one value"),
        ("eq", None, "needs one value"),
        ("in", 3, "non-empty list"),
        ("in", [], "non-empty list"),
    ]
    cases.append(("exists", 1, "takes no value"))
    for op, value, message in cases:
        data = json.loads(json.dumps(RULE))
        data["when"] = {"all": [{"fact": "manufacturing.stability_months", "op": op, "value": value}]}
        path = tmp_path / "FZZ-AA-001.yaml"
        path.write_text(yaml.safe_dump(data))
        try:
            load_rule_file(path, str(path))
        except RuleFileError as exc:
            text = "\n".join(item.format() for item in exc.items)
            assert message in text and str(path) in text and ":" in text, text
        else:
            raise AssertionError(f"{op} {value!r} loaded")
