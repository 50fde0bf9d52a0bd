"""Property-based fuzzing: valid programs always assess, invalid ones always get a clean exit 2.

Programs are generated from the program model and then mutated (unknown keys, wrong types,
bad enums, broken YAML, hostile strings); rule files likewise. Nothing may raise a traceback
or exit 3, and both engines must agree. ``bench/fuzz.py`` runs the same properties for longer.
"""

from __future__ import annotations

import datetime
import json
import os
import random
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from programgen import random_program

from cmcadvisor import api
from cmcadvisor.cli import cli
from cmcadvisor.engine import get_engine
from cmcadvisor.errors import RuleFileError
from cmcadvisor.facts import derive_facts
from cmcadvisor.registry import load_rule_file

CONTEXT = api.load_context(api.Options(engine="durable"))
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


@settings(
    max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.integers(min_value=0, max_value=10**6), st.booleans())
def test_programs_never_crash(tmp_path_factory: object, seed: int, corrupt: bool) -> None:
    rng = random.Random(seed)
    data = random_program(seed).model_dump(mode="json", exclude_none=True)
    if corrupt:
        data = _mutate(data, rng)
    folder = Path(__import__("tempfile").mkdtemp())
    path = folder / "p.yaml"
    text = yaml.safe_dump(data, sort_keys=False)
    if corrupt and rng.random() < 0.2:
        text = text[: rng.randrange(len(text))] + rng.choice(["\t: [", "{{", "- - :", "\x00"])
    path.write_text(text)
    result = CliRunner().invoke(cli, ["assess", str(path), "--format", "json", "--as-of", "2026-11-25"])
    assert result.exit_code in (0, 2), result.output[-1500:]
    assert "Traceback" not in result.output
    if not corrupt:
        assert result.exit_code == 0, result.output[-1500:]
        json.loads(result.output)
    if result.exit_code == 2:
        assert result.output.startswith("error: ") and str(path) in result.output


@settings(max_examples=80 * SCALE, deadline=None)
@given(st.integers(min_value=0, max_value=10**6))
def test_engines_agree_on_generated_programs(seed: int) -> None:
    facts = derive_facts(random_program(seed), AS_OF)
    rules = CONTEXT.pack.compiled_active()
    durable = {(f.rule, f.item) for f in get_engine("durable").run(rules, facts).firings}
    python = {(f.rule, f.item) for f in get_engine("python").run(rules, facts).firings}
    assert durable == python


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
