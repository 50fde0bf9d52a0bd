"""Make-or-buy: moves the way a user expects, and would_flip_if is computed, not written."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURE_PACK, ROOT

from cmcadvisor import api, display
from cmcadvisor.cli import cli
from cmcadvisor.errors import KnowledgeError
from cmcadvisor.knowledge import (
    confidence_band,
    factor_score,
    load_knowledge,
    make_or_buy_example_problems,
    recommend,
    review_clock,
    review_clock_example_problems,
)
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
    assert capital.favours == "in_house" and display.money(100_000_000) in capital.reason


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
    from cmcadvisor.facts import FactSet, as_user_change, compute_scalars, dependents, derive_facts

    facts = derive_facts(program, AS_OF)
    base = api.assess(program, context, api.Options(as_of=AS_OF)).make_or_buy.recommendation
    if base == "undetermined":
        return []  # too few facts to recommend: no single change is reported as a flip
    plan = makeorbuy._plan(context.pack, context.kb)
    flips: dict[str, tuple[float, str]] = {}
    for probed, probe_value in makeorbuy._candidates(plan.probes, facts):
        user_change = as_user_change(probed, probe_value)  # a stage index is changed through its stage
        if user_change is None:
            continue
        fact, value = user_change
        if fact != probed and value == facts.scalars.get(fact):
            continue
        scalars = {**facts.scalars, fact: value}
        if dependents(fact):  # a changed stage moves its stage index; a probed share stays as probed
            compute_scalars(scalars)
        changed = FactSet(scalars, facts.lists, facts.collections)
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


BUILTIN = api.load_context(api.Options(engine="python"))


def _builtin_mob(organization: dict[str, object], **sections: dict[str, object]) -> api.AssessmentResult:  # type: ignore[name-defined]
    program = ProgramFile.model_validate(
        {
            "schema_version": 1,
            "program": {"id": "MOB", "name": "Make or buy", "as_of": AS_OF.isoformat()},
            "organization": organization,
            **sections,
        }
    )
    return api.assess(program, BUILTIN, api.Options()).make_or_buy


def _factor(mob: object, factor: str) -> object:
    return next(f for f in mob.factors if f.id == factor)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("organization", "favours"),
    [
        ({"cmc_headcount": 4}, "neutral"),
        ({"quality_headcount": 2, "cmc_headcount": 6}, "neutral"),
        ({"gmp_experience": "limited", "cmc_headcount": 4}, "cdmo"),
        ({"gmp_experience": "none"}, "cdmo"),
        ({"gmp_experience": "established", "talent_market": "strong"}, "in_house"),
        ({}, "unknown"),
    ],
)
def test_capability_is_judged_from_the_facts_given(organization: dict[str, object], favours: str) -> None:
    capability = _factor(_builtin_mob(organization), "in_house_capability")
    assert capability.favours == favours  # type: ignore[attr-defined]
    given = {f"organization.{key}" for key in organization}
    assert given <= set(capability.facts)  # type: ignore[attr-defined]
    if favours == "neutral":  # judged, and says what could still move it
        assert "organization.talent_market" in capability.missing  # type: ignore[attr-defined]


def test_each_factor_shows_its_contribution() -> None:
    mob = _builtin_mob(
        {"funding_stage": "seed", "capex_available_usd": 1_000_000, "gmp_experience": "limited", "cmc_headcount": 3},
        indication={"patients_per_year_at_peak": 40},
        product={"science_maturity": "novel"},
    )
    assert mob.recommendation == "cdmo"
    for factor in mob.factors:
        assert factor.contribution == pytest.approx(factor.weight * factor.score, abs=1e-4)
        assert (factor.contribution < 0) == (factor.favours == "cdmo")
        assert bool(factor.rules) == (factor.favours in ("in_house", "cdmo"))
    assert mob.score == pytest.approx(sum(f.contribution for f in mob.factors), abs=1e-3)
    capital = _factor(mob, "capital")
    assert capital.rules and all(rule.startswith("CMC-MOB-") for rule in capital.rules)  # type: ignore[attr-defined]
    assert capital.facts["organization.capex_available_usd"] == 1_000_000  # type: ignore[attr-defined]
    assert [flip.gives for flip in mob.flips] == [text.rsplit("(gives ", 1)[1].rstrip(")") for text in mob.would_flip_if]


def test_undetermined_reports_no_flip() -> None:
    mob = _builtin_mob({"cmc_headcount": 4})
    assert mob.recommendation == "undetermined"
    assert mob.would_flip_if == [] and mob.flips == []


def test_renderers_drop_the_constant_weight_column(tmp_path: Path) -> None:
    from cmcadvisor.render import render

    program = ProgramFile.model_validate(
        {
            "schema_version": 1,
            "program": {"id": "MOB", "name": "Make or buy", "as_of": AS_OF.isoformat()},
            "organization": {"funding_stage": "seed", "capex_available_usd": 1_000_000, "gmp_experience": "none"},
            "indication": {"patients_per_year_at_peak": 40},
            "product": {"science_maturity": "novel"},
        }
    )
    equal = api.assess(program, BUILTIN, api.Options())
    html = render(equal, "html")
    section = html[html.index('id="make-or-buy"') : html.index('id="timeline"')]
    assert '<th class="num">Weight</th>' not in section and f"same weight ({display.percent(1 / 7)} each)" in section
    assert "Contribution" in section and "−0.14" in section
    table = render(equal, "table", width=100)
    assert f"same weight ({display.percent(1 / 7)} each)" in " ".join(table.split())
    assert "weight" not in next(line for line in table.splitlines() if "consideration" in line)
    # Unequal weights (an organisation's knowledge folder): the weight column comes back.
    folder = tmp_path / "knowledge"
    shutil.copytree(Path(__file__).resolve().parents[1] / "knowledge", folder)
    config = folder / "make_or_buy.yaml"
    config.write_text(config.read_text().replace("  capital: 1\n", "  capital: 3\n"))
    weighted = api.assess(program, api.load_context(api.Options(engine="python", knowledge_dir=folder)), api.Options())
    html = render(weighted, "html")
    section = html[html.index('id="make-or-buy"') : html.index('id="timeline"')]
    assert '<th class="num">Weight</th>' in section and display.percent(3 / 9) in section
    header = next(line for line in render(weighted, "table", width=100).splitlines() if "consideration" in line)
    assert "weight" in header


# ---------------------------------------------------------------- policy held as data (make_or_buy.yaml, pathways.yaml)


def test_the_shipped_policy_examples_hold() -> None:
    kb = load_knowledge()
    assert len(kb.make_or_buy.examples) >= 6
    assert make_or_buy_example_problems(kb.make_or_buy) == []
    clock = kb.pathways["us.priority_review"].review_clock
    assert clock is not None and clock.examples
    assert review_clock_example_problems(list(kb.pathways.values())) == []


def test_a_policy_example_that_does_not_hold_refuses_the_knowledge_folder(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    mob = folder / "make_or_buy.yaml"
    mob.write_text(
        mob.read_text().replace(
            "expect: {recommendation: in_house, confidence: high}", "expect: {recommendation: cdmo, confidence: high}", 1
        )
    )
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder)
    assert "make_or_buy.yaml" in str(caught.value) and "gives recommendation in_house, not cdmo" in str(caught.value)
    shutil.copy(ROOT / "knowledge" / "make_or_buy.yaml", mob)
    pathways = folder / "pathways.yaml"
    pathways.write_text(
        pathways.read_text().replace("- {status: eligible, expect: priority}", "- {status: eligible, expect: standard}", 1)
    )
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder)
    assert "review_clock.examples[0]" in str(caught.value)


def test_vote_cap_and_confidence_bands_come_from_the_knowledge_file(tmp_path: Path) -> None:
    config = load_knowledge().make_or_buy
    tighter = config.model_copy(update={"vote_cap": 1, "confidence": config.confidence[:1]})
    assert factor_score(2, config) == pytest.approx(2 / 3) and factor_score(2, tighter) == 1.0
    assert factor_score(-7, config) == -1.0
    band = confidence_band(0.3, 5, recommend(0.3, 5, config), config)
    assert band is not None and band.confidence == "medium"
    assert confidence_band(0.3, 5, "in_house", tighter) is None  # only the high band left: low
    assert confidence_band(0.9, 7, "undetermined", config) is None


def test_review_clock_choice_is_data_and_the_program_wins() -> None:
    kb = load_knowledge()
    assert review_clock(kb, None, {"us.priority_review": "eligible"}).clock == "priority"
    assert review_clock(kb, None, {"us.priority_review": "undetermined"}).clock == "standard"
    choice = review_clock(kb, "standard", {"us.priority_review": "granted"})
    assert choice.clock == "standard" and choice.pathway is None


def test_the_timeline_follows_the_review_clock_in_pathways_yaml(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    program = ROOT / "examples" / "car-t-autologous.yaml"
    options = api.Options(as_of=AS_OF)
    before = api.assess_file(program, options)
    pathways = folder / "pathways.yaml"
    text = pathways.read_text()
    pathways.write_text(
        text.replace("      statuses: [granted, eligible]\n", "      statuses: [granted]\n", 1).replace(
            "        - {status: eligible, expect: priority}\n", "", 1
        )
    )
    after = api.assess_file(program, api.Options(as_of=AS_OF, knowledge_dir=folder))
    status = next(p.status for p in before.pathways if p.id == "us.priority_review")
    assert status == "eligible"
    approval = {
        r: next(m.forecast for m in res.timeline.milestones if m.id == "bla_approval") for r, res in (("b", before), ("a", after))
    }
    assert approval["a"] is not None and approval["b"] is not None and approval["a"] > approval["b"]


def test_the_audit_record_names_the_policy_applied(tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    program = ROOT / "examples" / "car-t-autologous.yaml"
    result = CliRunner().invoke(
        cli, ["assess", str(program), "--format", "json", "--as-of", "2026-11-25", "--audit", str(record)]
    )
    assert result.exit_code == 0, result.output
    policy = json.loads(record.read_text())["policy"]
    assert policy["review_clock"] == {"clock": "priority", "pathway": "us.priority_review", "status": "eligible"}
    assert policy["make_or_buy"]["vote_cap"] == 3 and policy["make_or_buy"]["confidence_band"] is None
    assert [b["confidence"] for b in policy["make_or_buy"]["confidence_bands"]] == ["high", "medium"]


@pytest.mark.parametrize("example", sorted(path.name for path in (ROOT / "examples").glob("*.yaml")))
def test_every_reported_flip_flips_a_real_rerun(example: str) -> None:
    """A flip is a promise: the same change made in the program file gives the answer it names."""
    path = ROOT / "examples" / example
    result = api.assess_file(path, api.Options(engine="python"), BUILTIN)
    for flip in result.make_or_buy.flips:
        if flip.fact.rsplit(".", 1)[-1] in ("cogs_share_of_price", "capacity_to_demand_ratio", "quality_to_cmc_ratio"):
            continue  # a computed share or ratio: no single program-file value to set
        value = flip.value if flip.op == "=" else flip.value
        override = f"{flip.fact}={str(value).lower() if isinstance(value, bool) else value}"
        rerun = api.assess_file(path, api.Options(engine="python", overrides=(override,)), BUILTIN)
        assert rerun.make_or_buy.recommendation == flip.gives, (example, override)
