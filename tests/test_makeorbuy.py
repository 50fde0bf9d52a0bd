"""Make-or-buy: moves the way a user expects, and would_flip_if is computed, not written."""

from __future__ import annotations

import datetime

import pytest
from conftest import FIXTURE_PACK

from cmcadvisor import api
from cmcadvisor.models.program import ProgramFile

CONTEXT = api.load_context(
    api.Options(
        engine="durable", rules_dirs=(FIXTURE_PACK / "rules",), builtin_rules=False, knowledge_dir=FIXTURE_PACK / "knowledge"
    )
)
AS_OF = datetime.date(2026, 11, 25)


def _program(capex: int, gmp: str, demand: int, maturity: str = "established") -> ProgramFile:
    return ProgramFile.model_validate(
        {
            "schema_version": 1,
            "program": {"id": "MOB", "name": "Make or buy", "as_of": AS_OF.isoformat()},
            "organization": {"capex_available_usd": capex, "gmp_experience": gmp},
            "indication": {"patients_per_year_at_peak": demand},
            "product": {"science_maturity": maturity},
        }
    )


def _mob(program: ProgramFile) -> api.AssessmentResult:  # type: ignore[name-defined]
    return api.assess(program, CONTEXT, api.Options()).make_or_buy


def test_rich_experienced_high_demand_builds() -> None:
    mob = _mob(_program(100_000_000, "established", 5000))
    assert mob.recommendation == "in_house"
    assert {f.id for f in mob.factors} >= {"capital", "in_house_capability", "epidemiology", "science_maturity"}
    capital = next(f for f in mob.factors if f.id == "capital")
    assert capital.favours == "in_house" and "100000000" in capital.reason


def test_poor_inexperienced_small_demand_buys() -> None:
    assert _mob(_program(1_000_000, "none", 10, "novel")).recommendation == "cdmo"


@pytest.mark.parametrize(
    ("change", "expected"),
    [({"capex": 1_000_000}, "hybrid"), ({"gmp": "none"}, "hybrid"), ({"demand": 10}, "in_house")],
)
def test_single_changes_move_the_score(change: dict[str, object], expected: str) -> None:
    args: dict[str, object] = {"capex": 100_000_000, "gmp": "established", "demand": 5000}
    args.update(change)
    assert _mob(_program(**args)).recommendation == expected  # type: ignore[arg-type]


def test_would_flip_if_names_the_facts_and_is_true() -> None:
    base = _program(100_000_000, "established", 5000, "emerging")
    mob = _mob(base)
    assert mob.recommendation == "in_house"
    assert any(text.startswith("organization.capex_available_usd <= 59999999") for text in mob.would_flip_if), mob.would_flip_if
    assert any(text.startswith("organization.gmp_experience = ") for text in mob.would_flip_if)
    flipped = _program(59_999_999, "established", 5000, "emerging")
    assert _mob(flipped).recommendation != "in_house"


def test_too_few_facts_is_undetermined() -> None:
    program = ProgramFile.model_validate({"schema_version": 1, "program": {"id": "X", "name": "x", "as_of": "2026-11-25"}})
    mob = _mob(program)
    assert mob.recommendation == "undetermined"
    assert all(f.favours == "unknown" for f in mob.factors)


def _brute_force_flips(context: api.Context, program: ProgramFile) -> list[str]:
    """would_flip_if by exhaustion: every candidate change, the whole pack re-run, nearest kept."""
    from cmcadvisor import makeorbuy
    from cmcadvisor.facts import FactSet, derive_facts

    facts = derive_facts(program, AS_OF)
    base = api.assess(program, context, api.Options(as_of=AS_OF)).make_or_buy.recommendation
    plan = makeorbuy._plan(context.pack, context.kb)
    flips: dict[str, tuple[float, str]] = {}
    for fact, value in makeorbuy._candidates(plan.probes, facts):
        changed = FactSet({**facts.scalars, fact: value}, facts.lists, facts.collections)
        fired = {f.rule for f in context.engine.run(context.pack.compiled_active(), changed).firings}
        recommendation = makeorbuy._recommend(plan.votes, context.kb, fired)
        if recommendation in (base, "undetermined"):
            continue
        current = facts.scalars.get(fact)
        numeric = isinstance(value, int | float) and not isinstance(value, bool) and isinstance(current, int | float)
        distance = abs(float(value) - float(current)) if numeric else 0.0  # type: ignore[arg-type]
        if fact not in flips or distance < flips[fact][0]:
            flips[fact] = (distance, f"{makeorbuy._describe(fact, value, current)} (gives {recommendation})")
    return sorted(text for _, text in flips.values())[: makeorbuy.MAX_FLIPS]


@pytest.mark.parametrize("pack", ["builtin", "fixture"])
def test_what_if_shortcuts_give_the_exhaustive_answer(pack: str) -> None:
    """Pruned, early-stopping what-ifs on affected rules equal re-running everything for every candidate."""
    from programgen import random_program

    context = api.load_context(api.Options(engine="python")) if pack == "builtin" else CONTEXT
    seen: set[str] = set()
    for seed in range(60):
        program = random_program(seed)
        result = api.assess(program, context, api.Options(as_of=AS_OF)).make_or_buy
        assert result.would_flip_if == _brute_force_flips(context, program), seed
        seen.add(result.recommendation)
    assert len(seen) >= 2  # the programs reach more than one kind of base recommendation
