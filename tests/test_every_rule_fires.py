"""The every-rule guard: each active rule fires end to end under the whole rule pack.

For each rule, its first ``fires`` example becomes a full program (derived facts it takes as
given are replaced by the facts of a rule that derives them) and the whole pack runs on it.
A rule that can never fire in a real assessment (unreachable, shadowed, refused by the engine)
fails here. ``tests/programs/kitchen_sink.yaml`` additionally fires a broad set at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cmcadvisor import api
from cmcadvisor.models.rule import PATHWAY_IDS, Example
from cmcadvisor.registry import LoadedRule
from cmcadvisor.testing import example_program
from cmcadvisor.validation import load_program

CONTEXT = api.load_context(api.Options(engine="durable"))
PACK = CONTEXT.pack
# Rules whose firing example cannot be reproduced as one whole program, with the reason.
EXCLUDED: dict[str, str] = {}


def _fires_examples(rule: LoadedRule) -> list[Example]:
    return [e for e in rule.spec.examples if e.expect == "fires"]


def _with_derivations(rule: LoadedRule, example: Example, seen: frozenset[str] = frozenset()) -> dict[str, Any] | None:
    """The example's facts, merged with the facts of rules that derive what it takes as given.

    Candidates that agree with the example on every shared fact are preferred; otherwise the
    example's own values win and the end-to-end run decides whether the chain still holds.
    """
    facts: dict[str, Any] = dict(example.facts)
    for name in example.derived:
        agreeing: list[dict[str, Any]] = []
        overriding: list[dict[str, Any]] = []
        for other in PACK.active:
            if name not in other.compiled.derives or other.id in seen or other.id == rule.id:
                continue
            for candidate_example in _fires_examples(other):
                candidate = _with_derivations(other, candidate_example, seen | {rule.id})
                if candidate is None:
                    continue
                if all(facts.get(k, v) == v for k, v in candidate.items()):
                    agreeing.append(candidate)
                else:
                    overriding.append(candidate)
        chosen = (agreeing or overriding or [None])[0]
        if chosen is None:
            return None
        facts = {**chosen, **facts}
    return facts


ACTIVE = [rule for rule in PACK.active if rule.id not in EXCLUDED]


@pytest.mark.parametrize("rule", ACTIVE, ids=[rule.id for rule in ACTIVE])
def test_rule_fires_end_to_end(rule: LoadedRule) -> None:
    facts = _with_derivations(rule, _fires_examples(rule)[0])
    assert facts is not None, f"{rule.id}: no rule derives what its fires example takes as given"
    program = example_program(Example(name="e2e", facts=facts, expect="fires"))
    result = api.assess(program, CONTEXT, api.Options())
    fired = {f.rule for f in result.audit.fired}
    assert rule.id in fired, f"{rule.id} did not fire under the whole pack on its own example"


def test_kitchen_sink_program_fires_broadly() -> None:
    program = load_program(Path(__file__).parent / "programs" / "kitchen_sink.yaml")
    result = api.assess(program, CONTEXT, api.Options())
    fired = {f.rule for f in result.audit.fired}
    kinds = {PACK.by_id[r].spec.kind for r in fired}
    assert kinds >= {"requirement", "gap", "recommendation", "risk", "inconsistency", "pathway", "factor", "schedule"}
    assert len(fired) >= 60
    assert {p.id for p in result.pathways} == set(PATHWAY_IDS)
