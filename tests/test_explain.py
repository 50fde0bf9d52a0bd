"""``cmcadvisor explain`` for every kind of target: rule, pathway, activity, milestone, meeting type, make-or-buy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor.cli import cli

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
AS_OF = ["--as-of", "2026-11-25"]


def _explain(runner: CliRunner, target: str, *extra: str, program: Path = CAR_T) -> tuple[int, str]:
    result = runner.invoke(cli, ["explain", str(program), target, *AS_OF, *extra])
    return result.exit_code, result.output


def _json(runner: CliRunner, target: str) -> dict[str, object]:
    code, output = _explain(runner, target, "--format", "json")
    assert code == 0, output
    data = json.loads(output)
    assert isinstance(data, dict)
    return data


def test_pathway_names_its_deciding_rules_their_state_and_what_would_change_it(runner: CliRunner) -> None:
    code, text = _explain(runner, "eu.prime")
    assert code == 0, text
    assert "status: eligible" in text and "decided by: PW-PRIME-004" in text
    assert "PW-PRIME-004 [fired]" in text and "PW-PRIME-001 [not fired]" in text
    assert "PW-PRIME-001 would make it granted if designations.prime = granted" in text
    data = _json(runner, "eu.prime")
    assert data["target"] == "pathway" and data["deciding"] == ["PW-PRIME-004"]
    states = {r["rule"]: r for r in data["rules"]}  # type: ignore[union-attr]
    assert states["PW-PRIME-004"]["status"] == "fired" and states["PW-PRIME-004"]["decides"] == "eligible"
    assert states["PW-PRIME-001"]["would_fire_if"] == ["designations.prime = granted"]


def test_undetermined_pathway_lists_the_questions_that_settle_it(runner: CliRunner, tmp_path: Path) -> None:
    program = tmp_path / "sparse.yaml"
    program.write_text("schema_version: 1\nprogram: {id: X, name: x, as_of: 2026-11-25}\nproduct: {cell_source: autologous}\n")
    data = json.loads(runner.invoke(cli, ["explain", str(program), "us.rmat", "--format", "json"]).output)
    assert data["status"] == "undetermined"
    assert data["questions"], "an undetermined pathway says what to ask"
    assert any(r["status"] == "undetermined" and r["missing"] for r in data["rules"])
    assert any("waits for" in line for line in data["settle"])


def test_priority_review_shows_the_review_clock_policy(runner: CliRunner) -> None:
    code, text = _explain(runner, "us.priority_review")
    assert code == 0 and "review clock (pathways.yaml)" in text and "priority clock" in text


def test_activity_names_its_rules_edges_and_lateness(runner: CliRunner) -> None:
    code, text = _explain(runner, "vector_supply")
    assert code == 0, text
    assert "vector_supply (activity)" in text and "CMC-TL-007 [fired]" in text
    assert "late by" in text and "smallest change that would bring it back" in text
    data = _json(runner, "ppq")
    assert data["target"] == "activity" and data["on_timeline"] is True
    schedule = data["schedule"]
    assert isinstance(schedule, dict) and schedule["predecessors"]
    assert "CMC-TL-001" in [r["rule"] for r in data["rules"]]  # type: ignore[union-attr]


def test_activity_not_on_the_timeline_says_which_rules_would_add_it(runner: CliRunner) -> None:
    data = _json(runner, "facility_build")
    assert data["on_timeline"] is False and data["schedule"] is None
    adders = {r["rule"]: r for r in data["could_add"]}  # type: ignore[union-attr]
    assert "CMC-TL-002" in adders and adders["CMC-TL-002"]["would_fire_if"] == ["manufacturing.strategy = in_house"]


def test_milestone_names_its_chain_and_the_review_clock(runner: CliRunner) -> None:
    code, text = _explain(runner, "bla_approval")
    assert code == 0, text
    assert "bla_approval (milestone)" in text and "driving chain:" in text
    assert "priority clock, chosen by the status of us.priority_review (eligible) in pathways.yaml" in text
    data = _json(runner, "bla_submission")
    assert data["target"] == "milestone" and data["schedule"]["late_by_days"]  # type: ignore[index]
    assert "CMC-TL-010" in [r["rule"] for r in data["rules"]]  # type: ignore[union-attr]


def test_meeting_type_says_why_it_fits_and_names_the_rules_behind_its_questions(runner: CliRunner) -> None:
    code, text = _explain(runner, "eop2")
    assert code == 0, text
    assert "fit: fits" in text and "CMC-LCK-001 [fired]" in text
    data = _json(runner, "pre_bla")
    assert data["target"] == "meeting" and data["type"] == "pre_bla"
    assert data["meeting"]["fit"] == "check"  # type: ignore[index]
    assert {r["rule"] for r in data["rules"]} >= {"CMC-LTF-001"}  # type: ignore[union-attr]


def test_make_or_buy_shows_each_consideration_its_votes_and_the_policy(runner: CliRunner) -> None:
    code, text = _explain(runner, "make-or-buy")
    assert code == 0, text
    assert "make-or-buy: hybrid (confidence low)" in text
    assert "vote CMC-MOB-011 (in house +2)" in text and "capped at 3 either way" in text
    assert "no confidence band of make_or_buy.yaml is met" in text
    data = _json(runner, "make_or_buy")
    assert data["target"] == "make_or_buy" and data["vote_cap"] == 3 and len(data["factors"]) == 7  # type: ignore[arg-type]
    capital = next(f for f in data["factors"] if f["id"] == "capital")  # type: ignore[union-attr]
    assert [v["rule"] for v in capital["votes"]] == ["CMC-MOB-002", "CMC-MOB-003"] and capital["net_vote"] == -2
    assert any("organization.funding_stage" in flip for flip in capital["would_flip"])


def test_rule_target_still_explains_the_condition(runner: CliRunner) -> None:
    data = _json(runner, "PW-RMAT-001")
    assert data["target"] == "rule" and data["status"] == "fired" and data["tree"]


@pytest.mark.parametrize(("target", "suggestion"), [("eu.prme", "eu.prime"), ("PPQ", "ppq"), ("pre-bla", "pre_bla")])
def test_unknown_target_is_exit_2_with_did_you_mean(runner: CliRunner, target: str, suggestion: str) -> None:
    code, output = _explain(runner, target)
    assert code == 2 and f"did you mean {suggestion}" in output and "Traceback" not in output


def test_unknown_target_without_a_near_name_lists_the_kinds(runner: CliRunner) -> None:
    code, output = _explain(runner, "zzzzzz")
    assert code == 2 and "a pathway id, an activity or milestone id, a meeting type or make-or-buy" in output


def test_a_timeline_rule_shows_the_schedule_steps_it_adds(runner: CliRunner) -> None:
    code, text = _explain(runner, "CMC-TL-003")
    assert code == 0, text
    assert "puts on the timeline: make_or_buy_decision" in text
    data = _json(runner, "CMC-TL-003")
    assert "puts on the timeline: make_or_buy_decision" in data["effects"]  # type: ignore[operator]


def test_a_pathway_outside_the_programs_regions_is_not_assessed(runner: CliRunner) -> None:
    data = _json(runner, "jp.sakigake")
    assert data["status"] == "not_assessed" and "program.regions" in str(data["rationale"])
