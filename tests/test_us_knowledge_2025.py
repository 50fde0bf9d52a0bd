"""US (FDA) knowledge added or corrected in the December 2026 review (issue 13).

Checks the new sources (CAR-T REMS removal, Rare Disease Evidence Principles, plausible
mechanism draft, national priority vouchers, platform technology designation, the September
2025 CGT drafts) and the corrected rules (vector lead times, genome-editing follow-up, the
rare pediatric designation deadline, replication-competent AAV and adenovirus testing) end to
end: the program fields they rely on, what the assessment says, and that the sourcing is honest.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from cmcadvisor import api
from cmcadvisor.facts import vocabulary
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult

CONTEXT = api.load_context(api.Options(engine="python"))
NEW_CITATIONS = (
    "CIT-FDA-CART-REMS-2025",
    "CIT-FDA-RDEP-2025",
    "CIT-FDA-PLAUSIBLE-MECHANISM-DRAFT-2026",
    "CIT-FDA-CGT-SMALL-POP-DESIGNS-DRAFT-2025",
    "CIT-FDA-CGT-POSTAPPROVAL-DRAFT-2025",
    "CIT-FDA-CNPV-2025",
    "CIT-FDCA-506K",
    "CIT-FDA-PLATFORM-DRAFT-2024",
    "CIT-CMCADVISOR-VECTOR-PLANNING",
)


def _program(as_of: str = "2026-12-04", **sections: Any) -> ProgramFile:
    return ProgramFile.model_validate(
        {"schema_version": 1, "program": {"id": "t", "name": "T", "as_of": datetime.date.fromisoformat(as_of)}, **sections}
    )


def _assess(program: ProgramFile) -> AssessmentResult:
    return api.assess(program, CONTEXT, api.Options(engine="python"))


def _finding(result: AssessmentResult, rule: str) -> Any:
    found = [f for f in result.findings if f.rule == rule]
    return found[0] if found else None


ULTRA_RARE = {
    "genetic_cause_known": True,
    "us_prevalence": 300,
    "progressive": True,
    "unmet_medical_need": True,
}
GENE_THERAPY = {"engineered_receptor": "none", "vector": "aav", "delivery": "in_vivo"}


def test_new_citations_are_dated_cited_and_drafts_have_a_recheck_date() -> None:
    cited = {c for rule in CONTEXT.pack.rules for c in rule.spec.citations}
    for cid in NEW_CITATIONS:
        citation = CONTEXT.kb.citations[cid]
        assert citation.last_checked == datetime.date(2026, 12, 4), cid
        assert cid in cited, f"{cid} is cited by no rule"
        if citation.status == "draft":
            assert citation.recheck_by is not None and citation.recheck_by > citation.last_checked, cid
    # A planning threshold of our own is never presented as a published source.
    assert CONTEXT.kb.citations["CIT-CMCADVISOR-VECTOR-PLANNING"].confidence == "unverified"


def test_new_program_fields_are_facts_with_questions() -> None:
    vocab = vocabulary()
    for name in ("indication.genetic_cause_known", "indication.progressive", "product.individualized", "designations.cnpv"):
        assert name in vocab, name
        assert vocab[name].question.endswith("?")
    assert "granted" in vocab["designations.cnpv"].allowed


def test_rare_disease_evidence_principles_flagged_before_the_pivotal_study_only() -> None:
    early = _assess(_program(product=GENE_THERAPY, indication=ULTRA_RARE, clinical={"stage": "phase1"}))
    finding = _finding(early, "PW-RDEP-001")
    assert finding is not None and finding.kind == "recommendation"
    assert "before the pivotal study" in finding.detail and "300 patients" in finding.detail
    late = _assess(_program(product=GENE_THERAPY, indication=ULTRA_RARE, clinical={"stage": "pivotal"}))
    assert _finding(late, "PW-RDEP-001") is None
    larger = _assess(
        _program(product=GENE_THERAPY, indication={**ULTRA_RARE, "us_prevalence": 20000}, clinical={"stage": "phase1"})
    )
    assert _finding(larger, "PW-RDEP-001") is None


def test_rare_disease_evidence_principles_asks_for_the_missing_facts() -> None:
    result = _assess(
        _program(
            product=GENE_THERAPY,
            indication={"genetic_cause_known": True, "unmet_medical_need": True},
            clinical={"stage": "phase1"},
        )
    )
    finding = _finding(result, "PW-RDEP-001")
    assert finding is not None and finding.kind == "undetermined"
    asked = {q.field for q in result.questions if "PW-RDEP-001" in q.unlocks}
    assert {"indication.progressive", "indication.us_prevalence"} <= asked


def test_plausible_mechanism_rule_says_it_rests_on_a_draft() -> None:
    product = {"individualized": True, "genetic_modification": "genome_editing", "cell_source": "none", "editing": "base_editing"}
    result = _assess(_program(product=product, indication={"genetic_cause_known": True}, clinical={"stage": "preclinical"}))
    finding = _finding(result, "CMC-PMF-001")
    assert finding is not None
    assert "still a draft" in finding.detail and "quality standards" in finding.detail
    off_the_shelf = {**product, "cell_source": "allogeneic"}
    allogeneic = _assess(_program(product=off_the_shelf, indication={"genetic_cause_known": True}, clinical={"stage": "phase1"}))
    assert _finding(allogeneic, "CMC-PMF-001") is None


@pytest.mark.parametrize(
    ("cnpv", "fires"),
    [("granted", True), ("requested", True), ("none", False), (None, False)],
)
def test_national_priority_voucher_requires_cmc_before_submission(cnpv: str | None, fires: bool) -> None:
    sections: dict[str, Any] = {"clinical": {"stage": "bla_preparation"}, "manufacturing": {"process_status": "locked"}}
    if cnpv is not None:
        sections["designations"] = {"cnpv": cnpv}
    finding = _finding(_assess(_program(**sections)), "CMC-CNPV-001")
    assert (finding is not None and finding.kind == "requirement") is fires
    if fires:
        assert "60 days" in finding.detail and "120 days" in finding.detail
        assert "not yet validated" in finding.detail  # the note for a locked but unvalidated process


def test_platform_technology_designation_only_for_a_platform_already_licensed() -> None:
    licensed = _assess(_program(product={"platform_prior_licensure": True}, clinical={"stage": "phase1", "ind_status": "active"}))
    finding = _finding(licensed, "CMC-PTD-001")
    assert finding is not None and "90 days" in finding.detail and "still a draft" in finding.detail
    new = _assess(_program(product={"platform_prior_licensure": False}, clinical={"stage": "phase1"}))
    assert _finding(new, "CMC-PTD-001") is None


def test_car_t_centre_planning_reflects_the_rems_removal_and_other_products_do_not_see_it() -> None:
    car_t = {"cell_source": "autologous", "engineered_receptor": "car", "vector": "lentiviral"}
    result = _assess(_program(product=car_t, clinical={"stage": "pivotal"}, market_access={"treatment_centers_planned": 0}))
    finding = _finding(result, "ACC-PAT-001")
    assert finding is not None
    assert "removed the REMS" in finding.detail and "can still require a REMS" in finding.detail
    aav = {"cell_source": "none", "engineered_receptor": "none", "vector": "aav", "delivery": "in_vivo"}
    no_centres = {"treatment_centers_planned": 0}
    other = _finding(_assess(_program(product=aav, clinical={"stage": "pivotal"}, market_access=no_centres)), "ACC-PAT-001")
    assert other is not None and "REMS" not in other.detail.replace("(a REMS)", "")


@pytest.mark.parametrize("stage", ["phase1", "bla_under_review", "approved"])
def test_replication_competent_aav_testing_continues_through_and_after_licensure(stage: str) -> None:
    product = {"vector": "aav", "replication_competent": False}
    finding = _finding(_assess(_program(product=product, clinical={"stage": stage})), "CMC-RCV-005")
    assert finding is not None and "after approval" in finding.detail


def test_rare_pediatric_deadline_spares_a_designated_product() -> None:
    designated = _assess(_program(as_of="2029-10-02", designations={"rare_pediatric_disease": "granted"}))
    assert "PW-RPD-006" not in {f.rule for f in designated.audit.fired}
    row = next(p for p in designated.pathways if p.id == "us.rare_pediatric_disease")
    assert row.status == "granted"
    pending = _assess(_program(as_of="2029-10-02", designations={"rare_pediatric_disease": "requested"}))
    row = next(p for p in pending.pathways if p.id == "us.rare_pediatric_disease")
    assert row.status == "not_eligible" and "designation deadline" in row.rationale
    assert "does not stop designations" in row.rationale


def test_vector_rules_state_what_their_source_says() -> None:
    for rule_id in ("CMC-VEC-002", "CMC-VEC-003", "CMC-VEC-004"):
        spec = CONTEXT.pack.by_id[rule_id].spec
        assert spec.version >= 2
        assert "6 to 12 months" not in spec.then.message, rule_id
    for rule_id in ("CMC-VEC-002", "CMC-VEC-003"):
        assert "18 months or more" in CONTEXT.pack.by_id[rule_id].spec.then.message


def test_genome_editing_follow_up_cites_final_guidances_not_the_2022_draft() -> None:
    spec = CONTEXT.pack.by_id["CMC-LTF-002"].spec
    assert spec.version >= 2
    assert set(spec.citations) == {"CIT-FDA-LTFU-2020", "CIT-FDA-GENOME-EDITING-2024"}
    assert all(CONTEXT.kb.citations[c].status == "final" for c in spec.citations)
    assert "2022 draft" not in spec.then.message and "March 2022" not in spec.then.message


def test_long_term_follow_up_and_rmat_rules_cite_the_2025_drafts_with_their_finals() -> None:
    ltf = CONTEXT.pack.by_id["CMC-LTF-006"].spec
    assert ltf.citations[0] == "CIT-FDA-LTFU-2020" and "CIT-FDA-CGT-POSTAPPROVAL-DRAFT-2025" in ltf.citations
    assert "still a draft" in ltf.then.message
    for rule_id in ("CMC-EXP-002", "PW-EXP-001", "PW-RMAT-005", "PW-RMAT-006", "CMC-PLI-003"):
        spec = CONTEXT.pack.by_id[rule_id].spec
        assert spec.citations.index("CIT-FDA-RMAT-2019") < spec.citations.index("CIT-FDA-RMAT-DRAFT-2025"), rule_id
        assert spec.unsettled is not None and "draft" in spec.unsettled, rule_id
