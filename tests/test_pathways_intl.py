"""EU and Japan pathway logic: PRIME, SAKIGAKE, the EU HTA Regulation, and undecided pathways.

Covers the December 2026 review (issue 13): the kind of sponsor decides PRIME's entry point,
SAKIGAKE needs early clinical data and a first filing in Japan, an EU-bound advanced therapy
hears about the joint clinical assessment, and a pathway is left undetermined only while a fact
that decides it is missing, in which case the questions ask for that fact and the next step says
what to do meanwhile. Checked on the bundled examples, hand-written programs and generated ones.
"""

from __future__ import annotations

import datetime
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES

from cmcadvisor import api
from cmcadvisor.errors import ProgramFileError
from cmcadvisor.facts import derive_facts, vocabulary
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult, PathwayResult
from cmcadvisor.validation import read_program

CONTEXT = api.load_context(api.Options())
OPTIONS = api.Options(today=datetime.date(2026, 12, 4))
ATMP = {
    "cell_source": "allogeneic",
    "cell_type": "t_cell",
    "genetic_modification": "viral_vector",
    "regulated_solely_under_361": False,
}


def _assess(data: dict[str, Any]) -> AssessmentResult:
    body = {"schema_version": 1, **data}
    body["program"] = {"id": "T", "name": "Test", "as_of": "2026-12-04", **data.get("program", {})}
    return api.assess(ProgramFile.model_validate(body), CONTEXT, OPTIONS)


def _pathway(result: AssessmentResult, pathway_id: str) -> PathwayResult:
    return next(p for p in result.pathways if p.id == pathway_id)


def _large_preclinical(**program: Any) -> dict[str, Any]:
    return {
        "program": {"regions": ["us", "eu", "jp"], "sponsor_type": "large", **program},
        "product": {**ATMP, "science_maturity": "novel"},
        "indication": {"serious_condition": True, "life_threatening": True, "unmet_medical_need": True},
        "clinical": {"stage": "preclinical", "evidence": {"nonclinical_potential": True, "preliminary_clinical_evidence": False}},
        "designations": {"prime": "none", "sakigake": "none"},
    }


def test_large_sponsor_preclinical_is_not_eligible_for_prime_or_sakigake_with_the_criterion_named() -> None:
    result = _assess(_large_preclinical())
    prime, sakigake = _pathway(result, "eu.prime"), _pathway(result, "jp.sakigake")
    assert prime.status == "not_eligible" and "PW-PRIME-007" in prime.rules
    assert "clinical proof of concept" in prime.rationale and "SMEs and the academic sector" in prime.rationale
    assert sakigake.status == "not_eligible" and sakigake.rules == ["PW-SAKI-006"]
    assert "early clinical trials" in sakigake.rationale
    assert sakigake.next_step and "Not eligible yet" in sakigake.next_step and "phase 1" in sakigake.next_step


def test_sme_with_nonclinical_and_first_in_human_tolerability_data_gets_prime_early_entry() -> None:
    data = _large_preclinical(sponsor_type="sme")
    data["clinical"] = {
        "stage": "phase1",
        "evidence": {"nonclinical_potential": True, "preliminary_clinical_evidence": False, "first_in_human_tolerability": True},
    }
    prime = _pathway(_assess(data), "eu.prime")
    assert prime.status == "eligible" and prime.rules == ["PW-PRIME-008"]
    assert "early-entry" in prime.rationale and prime.next_step and "SME status" in prime.next_step


@pytest.mark.parametrize("sponsor_type", ["sme", "academic"])
def test_preclinical_sme_or_academic_sponsor_is_not_yet_eligible_for_early_entry(sponsor_type: str) -> None:
    prime = _pathway(_assess(_large_preclinical(sponsor_type=sponsor_type)), "eu.prime")
    assert prime.status == "not_eligible" and prime.rules == ["PW-PRIME-009"]
    assert "first-in-human" in prime.rationale


def test_prime_without_sponsor_type_asks_exactly_for_it() -> None:
    data = _large_preclinical()
    del data["program"]["sponsor_type"]
    result = _assess(data)
    prime = _pathway(result, "eu.prime")
    assert prime.status == "undetermined" and prime.missing_facts == ["program.sponsor_type"]
    question = next(q for q in result.questions if q.field == "program.sponsor_type")
    assert "eu.prime" in question.unlocks and "an SME (EU definition)" in question.question
    assert prime.next_step and "kind of sponsor" in prime.next_step and "Meanwhile" in prime.next_step


def test_prime_is_out_of_scope_at_the_application_stage() -> None:
    data = _large_preclinical()
    data["clinical"] = {"stage": "bla_preparation", "evidence": {"preliminary_clinical_evidence": True}}
    prime = _pathway(_assess(data), "eu.prime")
    assert prime.status == "not_eligible" and prime.rules == ["PW-PRIME-010"]


def _early_clinical(**evidence: Any) -> dict[str, Any]:
    data = _large_preclinical(japan_first_filing=True)
    data["clinical"] = {
        "stage": "phase1",
        "evidence": {
            "nonclinical_potential": True,
            "preliminary_clinical_evidence": True,
            "substantial_improvement": True,
            **evidence,
        },
    }
    return data


def test_sakigake_needs_clinical_as_well_as_nonclinical_data() -> None:
    assert _pathway(_assess(_early_clinical()), "jp.sakigake").status == "eligible"
    without_clinical = _pathway(_assess(_early_clinical(preliminary_clinical_evidence=False)), "jp.sakigake")
    assert without_clinical.status == "not_eligible" and without_clinical.rules == ["PW-SAKI-006"]


def test_sakigake_needs_japan_filed_first_and_asks_when_unknown() -> None:
    data = _early_clinical()
    data["program"]["japan_first_filing"] = False
    assert _pathway(_assess(data), "jp.sakigake").rules == ["PW-SAKI-009"]
    del data["program"]["japan_first_filing"]
    result = _assess(data)
    sakigake = _pathway(result, "jp.sakigake")
    assert sakigake.status == "undetermined" and sakigake.missing_facts == ["program.japan_first_filing"]
    assert any(q.field == "program.japan_first_filing" and "jp.sakigake" in q.unlocks for q in result.questions)


def _finding_rules(result: AssessmentResult) -> set[str]:
    return {f.rule for f in result.findings if f.kind != "undetermined"}


@pytest.mark.parametrize("stage", ["phase2", "pivotal", "bla_preparation"])
def test_eu_bound_atmp_at_phase_2_or_later_gets_a_joint_clinical_assessment_finding(stage: str) -> None:
    data = _early_clinical()
    data["clinical"]["stage"] = stage
    rules = _finding_rules(_assess(data))
    assert "PW-HTA-001" in rules
    assert ("PW-HTA-002" in rules) == (stage == "phase2")  # consultation only while the pivotal study is planned


def test_no_joint_clinical_assessment_finding_outside_the_eu_or_before_phase_2() -> None:
    data = _early_clinical()
    assert "PW-HTA-001" not in _finding_rules(_assess(data))  # phase 1
    data["clinical"]["stage"] = "pivotal"
    data["program"]["regions"] = ["us", "jp"]
    assert "PW-HTA-001" not in _finding_rules(_assess(data))


# ---------------------------------------------------------------- undecided pathways


def _check_undetermined(result: AssessmentResult, where: str) -> int:
    """Every undetermined pathway names its missing facts, asks for them, and has a step for meanwhile."""
    asked = {q.field for q in result.questions}
    unlocks = {target for q in result.questions for target in q.unlocks}
    pathways = CONTEXT.kb.pathways
    count = 0
    for row in result.pathways:
        if row.status != "undetermined":
            continue
        count += 1
        assert row.missing_facts, f"{where}: {row.id} is undetermined although no fact is missing"
        plain = [m for m in row.missing_facts if not m.startswith("derived.")]
        assert set(plain) <= asked, f"{where}: {row.id}: not asked: {sorted(set(plain) - asked)}"
        assert row.id in unlocks, f"{where}: no question settles {row.id}"
        own = pathways[row.id].undetermined_step
        assert row.next_step and own and " ".join(own.split()) in row.next_step, f"{where}: {row.id}: no step for meanwhile"
    return count


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_undetermined_pathways_ask_for_what_decides_them(example: Path) -> None:
    program, _ = read_program(example)
    for regions in (None, ["us", "eu", "jp"]):
        if regions is not None:
            program = program.model_copy(update={"program": program.program.model_copy(update={"regions": regions})})
        _check_undetermined(api.assess(program, CONTEXT, OPTIONS), f"{example.stem} {regions}")


def test_every_pathway_has_a_step_for_meanwhile() -> None:
    assert all(p.undetermined_step for p in CONTEXT.kb.pathways.values())


def _pathway_facts() -> dict[str, Any]:
    """The program facts the pathway rules test, with the vocabulary's description of each."""
    vocab = vocabulary()
    names: set[str] = set()
    for rules in CONTEXT.pack.pathway_rules.values():
        for rule in rules:
            names |= set(rule.compiled.shape.facts)
    return {n: vocab[n] for n in sorted(names) if n in vocab and "[]" not in n and not vocab[n].computed_from}


def _random_value(info: Any, rng: random.Random) -> Any:
    if info.type in ("enum", "list"):
        return rng.choice(info.allowed) if info.type == "enum" else ["us", "eu", "jp"]
    if info.type == "bool":
        return rng.random() < 0.5
    if info.type == "date":
        return (datetime.date(2026, 12, 4) + datetime.timedelta(days=rng.randint(-400, 2000))).isoformat()
    if info.type == "int":
        return rng.choice([0, 500, 5_000, 150_000, 250_000])
    return "x"


def _generated(seed: int, drop: float) -> dict[str, Any]:
    """A program giving each pathway fact a random value (a share ``drop`` of them left out)."""
    rng = random.Random(seed)
    data: dict[str, Any] = {}
    for name, info in _pathway_facts().items():
        if name in ("program.id", "program.name", "program.as_of") or (name != "program.regions" and rng.random() < drop):
            continue
        node = data
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _random_value(info, rng)
    data.setdefault("program", {})["regions"] = ["us", "eu", "jp"]
    return data


def _generated_results(drop: float, count: int) -> list[tuple[int, AssessmentResult]]:
    out = []
    for seed in range(count):
        try:
            out.append((seed, _assess(_generated(seed, drop))))
        except ProgramFileError:  # pragma: no cover - a refused combination is simply skipped
            continue
    return out


def test_generated_programs_with_every_pathway_fact_decide_every_pathway() -> None:
    results = _generated_results(0.0, 150)
    assert len(results) >= 140
    for seed, result in results:
        assert _check_undetermined(result, f"seed {seed}") == 0, (
            f"seed {seed}: a pathway stays undetermined with every fact given"
        )


def test_generated_programs_with_missing_facts_ask_for_what_decides_them() -> None:
    results = _generated_results(0.3, 150)
    assert sum(_check_undetermined(result, f"seed {seed}") for seed, result in results) > 50  # the check is exercised


# ---------------------------------------------------------------- the new program-file facts


NEW_FIELDS = ("program.sponsor_type", "program.japan_first_filing", "clinical.evidence.first_in_human_tolerability")


def test_new_fields_are_in_the_schema_the_starter_and_the_vocabulary() -> None:
    schema = ProgramFile.model_json_schema()
    assert {"sponsor_type", "japan_first_filing"} <= set(schema["$defs"]["ProgramInfo"]["properties"])
    assert "first_in_human_tolerability" in schema["$defs"]["Evidence"]["properties"]
    assert schema["$defs"]["ProgramInfo"]["properties"]["sponsor_type"]["anyOf"][0]["enum"] == [
        "sme",
        "academic",
        "large",
        "other",
    ]
    starter = (Path(api.__file__).parent / "starter.yaml").read_text(encoding="utf-8")
    for name in NEW_FIELDS:
        assert f"# {name.rsplit('.', 1)[1]}:" in starter
        assert name in vocabulary() and CONTEXT.kb.display.facts[name].label


def test_preclinical_stage_means_no_first_in_human_data_unless_said_otherwise() -> None:
    def fih(stage: str, given: bool | None) -> object:
        evidence = {} if given is None else {"first_in_human_tolerability": given}
        body = {"schema_version": 1, "program": {"id": "T", "name": "T"}, "clinical": {"stage": stage, "evidence": evidence}}
        facts = derive_facts(ProgramFile.model_validate(body), datetime.date(2026, 12, 4))
        return facts.get("clinical.evidence.first_in_human_tolerability")

    assert fih("preclinical", None) is False
    assert fih("phase1", None) is None
    assert fih("preclinical", True) is True
