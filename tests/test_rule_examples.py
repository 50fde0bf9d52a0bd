"""Every example of every rule (built-in and the fixture pack), on both engines."""

from __future__ import annotations

import pytest
from conftest import FIXTURE_PACK

from cmcadvisor.engine import get_engine
from cmcadvisor.registry import LoadedRule, load_rulepack
from cmcadvisor.testing import run_example


def _cases() -> list[tuple[LoadedRule, int]]:
    packs = [load_rulepack(), load_rulepack([FIXTURE_PACK / "rules"], builtin=False)]
    return [(rule, index) for pack in packs for rule in pack.rules for index in range(len(rule.spec.examples))]


CASES = _cases()


@pytest.mark.parametrize("engine_name", ["durable", "python"])
@pytest.mark.parametrize(("rule", "index"), CASES, ids=[f"{rule.id}::{rule.spec.examples[index].name}" for rule, index in CASES])
def test_example(rule: LoadedRule, index: int, engine_name: str) -> None:
    example = rule.spec.examples[index]
    if example.expect == "todo":
        pytest.xfail("example marked todo")
    result = run_example(rule, example, get_engine(engine_name))
    assert result.got == example.expect, f"{rule.source}: {example.name}: expected {example.expect}, got {result.got}"
