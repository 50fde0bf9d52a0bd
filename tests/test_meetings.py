"""FDA meeting briefs: PDUFA VII date math, proposals from milestones, questions and the drafts.

The worked dates below were counted by hand from table 3.2 of the regulatory fact sheet
(shared/reference/regulatory-pathways-meetings.md) for a meeting on 2027-06-01:

| type      | category      | request (days before) | package                 | request_due | package_due |
|-----------|---------------|-----------------------|-------------------------|-------------|-------------|
| interact  | INTERACT      | 75                    | with the request        | 2027-03-18  | 2027-03-18  |
| pre_ind   | Type B        | 60                    | 30 days before          | 2027-04-02  | 2027-05-02  |
| type_a    | Type A        | 30                    | with the request        | 2027-05-02  | 2027-05-02  |
| eop1      | Type B (EOP)  | 70                    | 50 days before          | 2027-03-23  | 2027-04-12  |
| eop2      | Type B (EOP)  | 70                    | 50 days before          | 2027-03-23  | 2027-04-12  |
| pre_bla   | Type B        | 60                    | 30 days before          | 2027-04-02  | 2027-05-02  |
| type_c    | Type C        | 75                    | 47 days before (C1)     | 2027-03-18  | 2027-04-15  |
| type_d    | Type D        | 50                    | with the request        | 2027-04-12  | 2027-04-12  |
"""

from __future__ import annotations

import datetime
import html
import html.parser
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor import api
from cmcadvisor.errors import KnowledgeError, UsageError
from cmcadvisor.knowledge import load_knowledge
from cmcadvisor.meetings import (
    Brief,
    MeetingExplanation,
    MeetingKnowledge,
    add_months,
    build_brief,
    explain_meeting,
    load_meeting_types,
    meetings_for,
    plan_meeting,
    recommend_meetings,
    suggest_types,
)
from cmcadvisor.meetings.brief import meeting_label
from cmcadvisor.meetings.words import in_agency_terms
from cmcadvisor.models.meetings import Term
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult, ProgramRef
from cmcadvisor.models.rule import SEVERITY_RANK, TOPICS
from cmcadvisor.registry import load_rulepack
from cmcadvisor.render.brief_formats import brief_docx, brief_html, brief_json, brief_markdown, render_brief
from cmcadvisor.validation import load_program

AS_OF = datetime.date(2026, 11, 25)
MEETING_DAY = datetime.date(2027, 6, 1)
GATES = load_rulepack().region_gates  # rules that speak of certain regions only
CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
AAV = ROOT / "examples" / "aav-in-vivo.yaml"
NK = ROOT / "examples" / "allogeneic-nk.yaml"
RULE_ID = re.compile(r"\b[A-Z]{2,4}-[A-Z0-9]{2,8}-\d{3}\b")
FINDING_ID = re.compile(r"\bF-\d{4}\b")
# A fact path (``clinical.stage``, ``manufacturing.planned_changes[0].timing``) or a citation id.
FACT_PATH = re.compile(
    r"\b(program|product|indication|clinical|designations|manufacturing|supply_chain|organization|"
    r"market_access|interactions)(\[\d+\])?\.[a-z_]+"
)
CITATION_ID = re.compile(r"\bCIT-[A-Z0-9-]+")

WORKED = {
    # type: (fda_category, request_due, package_due)
    "interact": ("INTERACT", "2027-03-18", "2027-03-18"),
    "pre_ind": ("Type B", "2027-04-02", "2027-05-02"),
    "type_a": ("Type A", "2027-05-02", "2027-05-02"),
    "eop1": ("Type B (EOP)", "2027-03-23", "2027-04-12"),
    "eop2": ("Type B (EOP)", "2027-03-23", "2027-04-12"),
    "pre_bla": ("Type B", "2027-04-02", "2027-05-02"),
    "type_c": ("Type C", "2027-03-18", "2027-04-15"),
    "type_d": ("Type D", "2027-04-12", "2027-04-12"),
}

# The other dates of the worked example: FDA's reply (request_due + reply days), preliminary
# responses (meeting - N days) and the sponsor's reply (as the OTP page for the type words it).
WORKED_OTHER = {
    "interact": ("2027-04-08", "2027-05-27", "2027-05-29"),  # 21-day reply; 5 days (C2); 3 days before
    "pre_ind": ("2027-04-23", "2027-05-30", "2027-05-31"),  # 21; 2; 24 h before
    "type_a": ("2027-05-16", "2027-05-30", "2027-05-31"),  # 14; 2; 24 h before
    "eop1": ("2027-04-06", "2027-05-27", "2027-05-30"),  # 14; 5; 3 days after receipt
    "eop2": ("2027-04-06", "2027-05-27", "2027-05-30"),
    "pre_bla": ("2027-04-23", "2027-05-30", "2027-05-31"),
    "type_c": ("2027-04-08", "2027-05-27", "2027-05-30"),  # 21; 5; 3 days after receipt
    "type_d": ("2027-04-26", "2027-05-27", "2027-05-30"),  # 14; 5 (C2); 3 days after receipt
}


@pytest.fixture(scope="module")
def kn() -> MeetingKnowledge:
    return load_meeting_types(None)


_CACHE: dict[Path, tuple[AssessmentResult, ProgramFile]] = {}


def assessed(path: Path) -> tuple[AssessmentResult, ProgramFile]:
    if path not in _CACHE:
        _CACHE[path] = (api.assess_file(path, api.Options(as_of=AS_OF)), load_program(path))
    return _CACHE[path]


@pytest.fixture(scope="module")
def car_t_brief(kn: MeetingKnowledge) -> Brief:
    result, program = assessed(CAR_T)
    return build_brief(result, program, plan_meeting(result, program, "eop2", None, kn, gates=GATES), kn)


def with_milestones(program: ProgramFile, **changes: object) -> ProgramFile:
    assert program.clinical is not None and program.clinical.milestones is not None
    milestones = program.clinical.milestones.model_copy(update=changes)
    return program.model_copy(update={"clinical": program.clinical.model_copy(update={"milestones": milestones})})


def with_clinical(program: ProgramFile, **changes: object) -> ProgramFile:
    assert program.clinical is not None
    return program.model_copy(update={"clinical": program.clinical.model_copy(update=changes)})


# ---------------------------------------------------------------- date math


@pytest.mark.parametrize("type_id", sorted(WORKED))
def test_worked_dates_from_a_requested_date(kn: MeetingKnowledge, type_id: str) -> None:
    result, program = assessed(CAR_T)
    category, request_due, package_due = WORKED[type_id]
    meeting = plan_meeting(result, program, type_id, MEETING_DAY, kn, gates=GATES)
    assert meeting.type == type_id
    assert meeting.fda_category == category
    assert meeting.recommended_date == "2027-06-01"
    assert (meeting.request_due, meeting.package_due) == (request_due, package_due)
    reply, preliminary, sponsor = WORKED_OTHER[type_id]
    assert (meeting.fda_reply_due, meeting.preliminary_responses_due, meeting.sponsor_reply_due) == (reply, preliminary, sponsor)
    assert meeting.date_basis == "the date requested for the meeting"


@pytest.mark.parametrize("type_id", sorted(WORKED))
def test_brief_json_gives_the_worked_dates(kn: MeetingKnowledge, type_id: str) -> None:
    result, program = assessed(CAR_T)
    brief = build_brief(result, program, plan_meeting(result, program, type_id, MEETING_DAY, kn, gates=GATES), kn)
    data = json.loads(brief_json(brief))
    _, request_due, package_due = WORKED[type_id]
    assert data["type"] == type_id
    assert data["recommended_date"] == "2027-06-01"
    assert data["request_due"] == request_due
    assert data["package_due"] == package_due
    for question in data["questions"]:
        assert {"text", "topics", "ctd_section", "rules"} <= set(question)
    assert {"key_dates", "request", "package", "question_groups", "attachments", "sources"} <= set(data["outline"])
    dates = {d["id"]: d["date"] for d in data["outline"]["key_dates"]}
    assert dates["request_due"] == request_due and dates["package_due"] == package_due and dates["meeting"] == "2027-06-01"


def test_package_with_the_request_equals_request_due(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    for type_id in ("interact", "type_a", "type_d"):
        meeting = plan_meeting(result, program, type_id, datetime.date(2027, 9, 14), kn, gates=GATES)
        assert meeting.package_due == meeting.request_due


def test_open_conflicts_are_stated_as_assumptions(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    type_c = plan_meeting(result, program, "type_c", MEETING_DAY, kn, gates=GATES)
    # Stated in words, without the fact sheet's conflict codes (C1, C2).
    c1 = [a for a in type_c.assumptions if "the 47-day rule" in a]
    assert c1 and "2027-03-18" in c1[0] and c1[0].startswith("Sources differ")  # the package date with the request
    for type_id in ("type_d", "interact"):
        meeting = plan_meeting(result, program, type_id, MEETING_DAY, kn, gates=GATES)
        assert any(a.startswith("Sources differ: FDA's preliminary responses") for a in meeting.assumptions)
        assert not any(re.search(r"\bC[12]\b", a) for a in meeting.assumptions)
        assert any("2027-05-30" in a for a in meeting.assumptions)  # with the 2-day guidance default
    eop1 = plan_meeting(result, program, "eop1", MEETING_DAY, kn, gates=GATES)
    assert any("Only certain EOP1 meetings" in a for a in eop1.assumptions)


def test_pdufa_vii_end_is_flagged_for_late_meetings(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    early = plan_meeting(result, program, "eop2", MEETING_DAY, kn, gates=GATES)
    late = plan_meeting(result, program, "pre_bla", None, kn, gates=GATES)
    assert late.recommended_date is not None and late.recommended_date > "2027-09-30"
    assert any("PDUFA VIII" in a for a in late.assumptions)
    assert not any("PDUFA VIII" in a for a in early.assumptions)


def test_a_requested_date_inside_the_goal_window_is_flagged(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, program, "eop2", datetime.date(2027, 1, 15), kn, gates=GATES)
    assert meeting.request_due == "2026-11-06"  # already past on 2026-11-25
    assert any("goal window" in n for n in meeting.date_notes)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(datetime.date(2028, 9, 1), -4) == datetime.date(2028, 5, 1)
    assert add_months(datetime.date(2027, 6, 30), -4) == datetime.date(2027, 2, 28)
    assert add_months(datetime.date(2027, 1, 31), 1) == datetime.date(2027, 2, 28)
    assert add_months(datetime.date(2027, 1, 15), -13) == datetime.date(2025, 12, 15)


# ---------------------------------------------------------------- proposals without a date


@pytest.mark.parametrize("path", [CAR_T, AAV, NK], ids=lambda p: p.stem)
@pytest.mark.parametrize("type_id", sorted(WORKED))
def test_proposal_is_never_inside_the_goal_window(kn: MeetingKnowledge, path: Path, type_id: str) -> None:
    result, program = assessed(path)
    meeting = plan_meeting(result, program, type_id, None, kn, gates=GATES)
    earliest = AS_OF + datetime.timedelta(days=kn.types[type_id].meeting_within_days)
    assert meeting.recommended_date is not None and meeting.request_due is not None
    assert datetime.date.fromisoformat(meeting.recommended_date) >= earliest
    assert meeting.request_due >= AS_OF.isoformat()


def test_eop2_uses_the_planned_meeting_before_the_pivotal_start(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, program, "eop2", None, kn, gates=GATES)
    # clinical.milestones: eop2_meeting 2027-03-10, pivotal_start 2027-07-01
    assert (meeting.recommended_date, meeting.request_due, meeting.package_due) == ("2027-03-10", "2026-12-30", "2027-01-19")
    assert "planned end-of-phase 2 meeting" in meeting.date_basis
    assert meeting.date_notes == []


def test_eop2_without_a_planned_meeting_is_the_earliest_date_before_pivotal(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, with_milestones(program, eop2_meeting=None), "eop2", None, kn, gates=GATES)
    assert meeting.recommended_date == "2027-02-03"  # 2026-11-25 + 70 days
    assert meeting.recommended_date < "2027-07-01"


def test_a_planned_meeting_too_soon_moves_to_the_earliest_date(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(
        result, with_milestones(program, eop2_meeting=datetime.date(2026, 12, 15)), "eop2", None, kn, gates=GATES
    )
    assert meeting.recommended_date == "2027-02-03"
    assert any("cannot be met" in n for n in meeting.date_notes)


def test_a_pivotal_start_too_soon_is_flagged(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    changed = with_milestones(program, eop2_meeting=None, pivotal_start=datetime.date(2027, 1, 10))
    meeting = plan_meeting(result, changed, "eop2", None, kn, gates=GATES)
    assert any("not before the planned pivotal study start" in n for n in meeting.date_notes)


def test_pre_bla_uses_the_planned_meeting_before_the_bla(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, program, "pre_bla", None, kn, gates=GATES)
    # pre_bla_meeting 2028-05-15 (Type B: request 60 days before, package 30 days before)
    assert (meeting.recommended_date, meeting.request_due, meeting.package_due) == ("2028-05-15", "2028-03-16", "2028-04-15")
    assert meeting.recommended_date < "2028-09-01"  # bla_submission
    assert meeting.request_due <= "2028-05-01"  # no later than 4 months before the BLA (OTP town hall)


def test_pre_bla_without_a_planned_meeting_follows_the_four_month_rule(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, with_milestones(program, pre_bla_meeting=None), "pre_bla", None, kn, gates=GATES)
    # BLA 2028-09-01 -> request by 2028-05-01 -> meeting 60 days later
    assert (meeting.request_due, meeting.recommended_date, meeting.package_due) == ("2028-05-01", "2028-06-30", "2028-05-31")
    assert meeting.date_notes == []


def test_pre_bla_planned_too_late_for_the_four_month_rule_is_flagged(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(
        result, with_milestones(program, pre_bla_meeting=datetime.date(2028, 8, 1)), "pre_bla", None, kn, gates=GATES
    )
    assert meeting.request_due == "2028-06-02"
    assert any("4 months" in n for n in meeting.date_notes)


# ---------------------------------------------------------------- which meeting fits


def test_recommended_meetings_follow_the_stage(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meetings = recommend_meetings(result, program, kn, gates=GATES)
    assert [(m.type, m.recommended_date) for m in meetings] == [("eop2", "2027-03-10"), ("pre_bla", "2028-05-15")]
    assert meetings == recommend_meetings(result, program, kn, gates=GATES)  # deterministic
    nk_result, nk_program = assessed(NK)
    assert [m.type for m in recommend_meetings(nk_result, nk_program, kn, gates=GATES)] == ["eop1"]
    aav_result, aav_program = assessed(AAV)
    assert [m.type for m in recommend_meetings(aav_result, aav_program, kn, gates=GATES)] == [
        "eop2"
    ]  # seamless phase 1/2, EOP2 planned


def test_interact_or_pre_ind_by_how_far_the_program_is(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    assert program.manufacturing is not None
    early = with_clinical(program, stage="preclinical", ind_status="planned", milestones=None).model_copy(
        update={"interactions": None}
    )
    research = early.model_copy(update={"manufacturing": program.manufacturing.model_copy(update={"process_status": "research"})})
    assert [m.type for m in recommend_meetings(result, early, kn, gates=GATES)] == ["pre_ind"]
    assert [m.type for m in recommend_meetings(result, research, kn, gates=GATES)] == ["interact"]
    assert plan_meeting(result, early, "pre_ind", None, kn, gates=GATES).fit == "fits"
    too_advanced = plan_meeting(result, early, "interact", None, kn, gates=GATES)
    assert too_advanced.fit == "does_not_fit" and any("Too advanced for INTERACT" in r for r in too_advanced.fit_reasons)
    premature = plan_meeting(result, research, "pre_ind", None, kn, gates=GATES)
    assert premature.fit == "does_not_fit" and any("Premature for pre-IND" in r for r in premature.fit_reasons)
    assert plan_meeting(result, research, "interact", None, kn, gates=GATES).fit == "fits"
    # once the IND is open, neither fits
    assert plan_meeting(result, program, "interact", None, kn, gates=GATES).fit == "does_not_fit"
    assert plan_meeting(result, program, "pre_ind", None, kn, gates=GATES).fit == "does_not_fit"


def test_clinical_hold_calls_for_type_a(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    held = with_clinical(program, ind_status="clinical_hold")
    meetings = recommend_meetings(result, held, kn, gates=GATES)
    assert meetings[0].type == "type_a"
    assert meetings[0].recommended_date == "2026-12-25"  # as_of + 30 days
    assert plan_meeting(result, held, "type_a", None, kn, gates=GATES).fit == "fits"
    assert plan_meeting(result, program, "type_a", None, kn, gates=GATES).fit == "check"


def test_cdrp_note_where_the_program_is_a_candidate(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, program, "eop2", None, kn, gates=GATES)
    assert meeting.cdrp is not None and "two additional CMC-focused Type B" in meeting.cdrp
    assert not RULE_ID.search(meeting.cdrp) and not FINDING_ID.search(meeting.cdrp)  # the trace goes to the appendix
    brief = build_brief(result, program, meeting, kn)
    (entry,) = [t for t in brief.trace if t.item == "CDRP note"]
    assert entry.rules == ["CMC-EXP-003"] and entry.findings and FINDING_ID.fullmatch(entry.findings[0])
    assert "CIT-FR-2022-CDRP" in meeting.citations


# ---------------------------------------------------------------- questions


@pytest.mark.parametrize("path", [CAR_T, AAV, NK], ids=lambda p: p.stem)
def test_type_d_respects_its_limits(kn: MeetingKnowledge, path: Path) -> None:
    result, program = assessed(path)
    meeting = plan_meeting(result, program, "type_d", None, kn, gates=GATES)
    mtype = kn.types["type_d"]
    assert (mtype.topic_limit, mtype.question_min, mtype.question_limit, mtype.discipline_limit) == (2, 3, 5, 3)
    # One question per topic; each merged point counts as one of Type D's 3 to 5 questions.
    assert 3 <= sum(len(q.points) for q in meeting.questions) <= 5
    focus = [q.topics[0] for q in meeting.questions]
    assert len(focus) == len(set(focus)) and 1 <= len(focus) <= 2
    kept = next(x for x in meeting.limits if x.startswith("Topics kept"))
    labels = {kn.ctd[t].label: t for t in kn.ctd}
    kept_topics = {labels[label] for label in kept.removeprefix("Topics kept: ").rstrip(".").split("; ")}
    assert kept_topics == set(focus)
    assert len({q.discipline for q in meeting.questions}) <= 3
    assert any("at most 2 focused topics" in x for x in meeting.limits)


@pytest.mark.parametrize("type_id", sorted(WORKED))
def test_questions_trace_to_open_findings(kn: MeetingKnowledge, type_id: str) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, program, type_id, None, kn, gates=GATES)
    findings = {f.id: f for f in result.findings}
    assert sum(len(q.points) for q in meeting.questions) >= 3
    assert [q.number for q in meeting.questions] == list(range(1, len(meeting.questions) + 1))
    focus = [q.topics[0] for q in meeting.questions]
    assert len(focus) == len(set(focus))  # at most one question per topic
    for q in meeting.questions:
        assert q.finding is not None and q.findings[0] == q.finding
        finding = findings[q.finding]
        assert finding.status == "open" and finding.kind != "undetermined"
        assert focus[q.number - 1] in kn.types[type_id].topics
        for fid in q.findings:
            assert findings[fid].status == "open" and findings[fid].rule in q.rules
        assert q.text.startswith("Does the Agency agree") and q.text.endswith("?")
        assert all(point in q.text for point in q.points)
        assert q.context.startswith(finding.detail)
        assert all(q.facts[name] == value for name, value in finding.facts.items())
        assert q.sponsor_position.startswith("[Sponsor's position")
        assert not RULE_ID.search(q.text + q.context + q.sponsor_position)
        assert not FINDING_ID.search(q.text + q.context + q.sponsor_position)
        if q.ctd_section is not None:
            assert q.ctd_section.startswith("3.2.")
    # grouped by discipline, most severe first inside a group
    for discipline in {q.discipline for q in meeting.questions}:
        ranks = [SEVERITY_RANK[q.severity or "info"] for q in meeting.questions if q.discipline == discipline]
        assert ranks == sorted(ranks)


def test_waived_and_foreign_findings_are_not_asked(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    asked = {
        r for type_id in WORKED for q in plan_meeting(result, program, type_id, None, kn, gates=GATES).questions for r in q.rules
    }
    assert "CMC-POT-002" not in asked  # waived in the program file
    assert not asked & {"CMC-GMP-008", "CMC-GMP-009", "CMC-CMP-008"}  # EU-only requirements
    assert not asked & {"CMC-EXP-003", "CMC-CPY-001", "CMC-EQP-001", "ACC-COG-002"}  # CDRP note, business matters


def test_ctd_sections_come_from_the_mapping(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, program, "eop2", None, kn, gates=GATES)
    by_rule = {q.rules[0]: q.ctd_section for q in meeting.questions}
    assert by_rule["CMC-CMP-001"] == "3.2.S.2.6; 3.2.P.2.3"
    assert by_rule["CMC-VCN-001"] == "3.2.S.3.1"
    assert kn.ctd["potency_assay"].section == "3.2.P.5.6"


# ---------------------------------------------------------------- the drafts

REQUIRED_SECTIONS = (
    "Key dates",
    "Which meeting fits",
    "Assumptions",
    "Part 1: Meeting request",
    "Product name",
    "Product description",
    "Proposed indication or context of development",
    "Purpose and objectives",
    "Proposed agenda",
    "Questions, grouped by discipline",
    "Part 2: Briefing package outline",
    "Background and development status",
    "Attachments (supporting data by discipline and question)",
    "Sources",
)


TRACE_HEADING = "Traceability (internal: remove before submission)"


def assert_clean_body(body: str) -> None:
    """The FDA-facing part of a brief: no rule, finding or citation id and no fact path."""
    for pattern in (RULE_ID, FINDING_ID, FACT_PATH, CITATION_ID):
        found = pattern.search(body)
        assert found is None, body[max(0, found.start() - 80) : found.end() + 40]


def test_markdown_draft(car_t_brief: Brief) -> None:
    text = brief_markdown(car_t_brief)
    for heading in REQUIRED_SECTIONS:
        assert re.search(rf"^#+ (\d+\. )?{re.escape(heading)}$", text, re.M), heading
    assert re.search(r"^1\. \*\*Question 1\.\*\*", text, re.M)
    body, appendix = text.split(f"## {TRACE_HEADING}")
    assert "\n## " not in appendix  # the appendix comes last
    assert_clean_body(body)
    assert "**DRAFT.**" in body
    for q in car_t_brief.meeting.questions:
        assert f"Question {q.number}" in body
        assert re.search(rf"^\| Question {q.number} \| {re.escape(', '.join(q.rules))} \|", appendix, re.M)
    assert "2026-12-30" in text and "2027-01-19" in text
    assert "Sponsor's position" in text and "CTD Module 3" in text
    untraced = brief_markdown(car_t_brief, trace=False)
    assert TRACE_HEADING not in untraced and untraced == body.rstrip("\n") + "\n"
    assert_clean_body(untraced)


def test_html_draft_is_self_contained_and_escaped(car_t_brief: Brief) -> None:
    text = brief_html(car_t_brief)
    for heading in REQUIRED_SECTIONS:
        assert re.search(rf"<h[1-4][^>]*>(\d+\. )?{re.escape(heading)}</h[1-4]>", text), heading
    body, appendix = text.split('<section id="traceability"')
    assert_clean_body(re.sub(r"<[^>]+>", "", body))
    assert all(rule in appendix for q in car_t_brief.meeting.questions for rule in q.rules)
    assert TRACE_HEADING not in brief_html(car_t_brief, trace=False)
    assert "@media print" in text
    assert not re.search(r"<(link|script|img)\b|src=|https?://[^<\s]*\"", text)  # nothing loaded from outside

    class Checker(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag not in ("meta", "br", "hr", "img", "link", "input"):
                self.stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
            self.stack.pop()

    checker = Checker()
    checker.feed(text)
    assert checker.stack == []
    hostile = car_t_brief.model_copy(
        update={"title": "<script>alert(1)</script>", "program": ProgramRef(id="X", name="<b>x</b>")}
    )
    out = brief_html(hostile)
    assert "<script>alert" not in out and "&lt;script&gt;" in out
    assert "<script>" not in brief_markdown(hostile)


def _docx_xml(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode()


def test_docx_draft_has_real_headings_and_numbered_questions(car_t_brief: Brief) -> None:
    import docx

    data = brief_docx(car_t_brief)
    document = docx.Document(io.BytesIO(data))
    headings = [
        p.text for p in document.paragraphs if p.style is not None and (p.style.name or "").startswith(("Heading", "Title"))
    ]
    for heading in REQUIRED_SECTIONS:
        assert any(re.fullmatch(rf"(\d+\. )?{re.escape(heading)}", h) for h in headings), heading
    assert headings[0] == car_t_brief.title
    assert headings[-1] == TRACE_HEADING
    table = document.tables[0]
    rows = {row.cells[1].text: row.cells[0].text for row in table.rows[1:]}
    assert rows["FDA receives the meeting request"] == "2026-12-30"
    assert rows["Meeting package due"] == "2027-01-19"
    assert brief_docx(car_t_brief) == data  # byte-identical


def test_docx_is_print_ready(car_t_brief: Brief) -> None:
    import docx

    data = brief_docx(car_t_brief)
    document = docx.Document(io.BytesIO(data))
    section = document.sections[0]
    header = "".join(p.text for p in section.header.paragraphs)
    assert "DRAFT" in header and car_t_brief.program.name in header
    footer = _docx_xml(data, "word/footer1.xml") if "word/footer1.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist() else ""
    if not footer:
        footer = section.footer._element.xml
    instructions = [i.strip() for i in re.findall(r"<w:instrText[^>]*>([^<]*)</w:instrText>", footer)]
    assert instructions == ["PAGE", "NUMPAGES"] and "Page " in section.footer.paragraphs[0].text
    body_xml = _docx_xml(data, "word/document.xml")
    assert re.search(r"<w:instrText[^>]*> TOC \\o", body_xml)  # a table of contents field
    assert "<w:updateFields" in _docx_xml(data, "word/settings.xml")
    props = document.core_properties
    assert props.title == car_t_brief.title and props.author == "Acme Therapeutics (fictional)"
    assert props.created == datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC) and props.modified == props.created
    assert props.last_modified_by == "cmcadvisor" and props.subject.startswith("End-of-phase 2 meeting")
    app = _docx_xml(data, "docProps/app.xml")
    assert "Microsoft" not in app and "<Application>cmcadvisor" in app
    words = int(re.search(r"<Words>(\d+)</Words>", app).group(1))  # type: ignore[union-attr]
    assert words > 1000
    assert "docProps/thumbnail.jpeg" not in zipfile.ZipFile(io.BytesIO(data)).namelist()
    headings = [p for p in document.paragraphs if (p.style.name or "").startswith("Heading")]
    assert headings and all(p.paragraph_format.keep_with_next for p in headings)
    # The FDA-facing body has no trace; the appendix after it has all of it, and --no-trace drops it.
    texts = [p.text for p in document.paragraphs]
    cut = texts.index(TRACE_HEADING)
    body = "\n".join(texts[:cut] + [c.text for t in document.tables[:1] for r in t.rows for c in r.cells])
    assert_clean_body(body)
    questions = [t for t in texts[:cut] if re.match(r"Question \d+\. ", t)]
    assert len(questions) == 2 * len(car_t_brief.meeting.questions)  # in the request and in the package
    trace = "\n".join(c.text for r in document.tables[-1].rows for c in r.cells)
    assert all(fid in trace for q in car_t_brief.meeting.questions for fid in q.findings)
    untraced = docx.Document(io.BytesIO(brief_docx(car_t_brief, trace=False)))
    assert TRACE_HEADING not in [p.text for p in untraced.paragraphs]
    assert_clean_body("\n".join(p.text for p in untraced.paragraphs))
    assert_clean_body("\n".join(c.text for t in untraced.tables for r in t.rows for c in r.cells))


def test_one_question_per_topic_merges_the_potency_findings(kn: MeetingKnowledge) -> None:
    # The AAV program has three open potency findings: one question asks about all three.
    result, program = assessed(AAV)
    meeting = plan_meeting(result, program, "eop2", None, kn, gates=GATES)
    potency = [q for q in meeting.questions if q.topics[0] == "potency_assay"]
    assert len(potency) == 1
    (q,) = potency
    potency_rules = {f.rule for f in result.findings if f.status == "open" and f.topics and f.topics[0] == "potency_assay"}
    assert len(q.points) >= 3 and len(q.findings) >= 3 and potency_rules <= set(q.rules)
    assert q.text.startswith("Does the Agency agree that the sponsor's potency assay")
    assert "(a) " in q.text and "(c) " in q.text and "proposed approach to" not in q.text
    assert "answering each point" in q.sponsor_position
    texts = [x.text.split(", in particular")[0] for x in meeting.questions]
    assert len(set(texts)) == len(texts)  # no two questions open alike
    assert not any("question(s)" in x or "finding(s)" in x for x in meeting.limits + meeting.fit_reasons)


def test_no_trace_option_leaves_the_appendix_out(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cmcadvisor.cli import cli

    runner = CliRunner()
    args = ["brief", str(CAR_T), "--meeting", "eop2", "--as-of", "2026-11-25"]
    traced = runner.invoke(cli, [*args, "--format", "markdown"])
    untraced = runner.invoke(cli, [*args, "--format", "markdown", "--no-trace"])
    assert traced.exit_code == untraced.exit_code == 0
    assert TRACE_HEADING in traced.output and TRACE_HEADING not in untraced.output
    assert not RULE_ID.search(untraced.output) and not FINDING_ID.search(untraced.output)
    out = tmp_path / "b.docx"
    assert runner.invoke(cli, [*args, "--format", "docx", "--no-trace", "-o", str(out)]).exit_code == 0
    assert not RULE_ID.search(zipfile.ZipFile(out).read("word/document.xml").decode())


def test_render_brief_dispatches_every_format(car_t_brief: Brief) -> None:
    assert isinstance(render_brief(car_t_brief, "markdown"), str)
    assert isinstance(render_brief(car_t_brief, "html"), str)
    data = json.loads(str(render_brief(car_t_brief, "json")))
    assert data["type"] == "eop2" and data["outline"]["trace"][0]["item"] == "Question 1"
    assert bytes(render_brief(car_t_brief, "docx")).startswith(b"PK")


def test_outline_follows_the_order_fda_expects(car_t_brief: Brief) -> None:
    request = [i.id for i in car_t_brief.request]
    order = ["product_name", "indication", "meeting_type", "purpose", "agenda", "questions", "dates", "format"]
    assert [request.index(i) for i in order] == sorted(request.index(i) for i in order)
    package = [i.id for i in car_t_brief.package]
    order = ["product_name", "indication", "dosing", "background", "purpose", "agenda", "questions", "attachments"]
    assert [package.index(i) for i in order] == sorted(package.index(i) for i in order)
    assert [i.number for i in car_t_brief.request] == list(range(1, len(request) + 1))
    assert len(car_t_brief.attachments) == len(car_t_brief.meeting.questions) + 1


# ---------------------------------------------------------------- knowledge


def test_meeting_knowledge_is_complete(kn: MeetingKnowledge) -> None:
    assert list(kn.types)[:8] == ["interact", "pre_ind", "type_a", "eop1", "eop2", "pre_bla", "type_c", "type_d"]
    assert list(kn.types)[8:] == [
        "ema_scientific_advice",
        "ema_prime_kickoff",
        "pmda_rs_strategy",
        "pmda_clinical_trial",
        "pmda_prior_assessment",
    ]
    assert set(kn.ctd) == set(TOPICS)
    assert kn.types["interact"].max_pages == 50
    assert kn.types["eop1"].fda_category == "Type B (EOP)" and kn.types["eop1"].category_note
    citations = load_knowledge().citations  # the knowledge base loads citations-meetings.yaml too
    for mtype in kn.types.values():
        assert all(cid in citations for cid in mtype.citations)
        assert set(mtype.stages) <= {
            "preclinical",
            "phase1",
            "phase2",
            "pivotal",
            "bla_preparation",
            "bla_under_review",
            "approved",
        }


def test_unknown_meeting_type_is_a_usage_error(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    with pytest.raises(UsageError, match="unknown meeting type 'type_b'"):
        plan_meeting(result, program, "type_b", None, kn, gates=GATES)


def test_a_knowledge_folder_without_meetings_falls_back_to_the_built_in_one(tmp_path: Path) -> None:
    (tmp_path / "citations.yaml").write_text("citations: []\n")
    assert list(load_meeting_types(tmp_path).types) == list(load_meeting_types(None).types)


def test_broken_meeting_knowledge_is_refused(tmp_path: Path) -> None:
    source = ROOT / "knowledge"
    for path in source.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    text = (tmp_path / "meetings.yaml").read_text()
    (tmp_path / "meetings.yaml").write_text(text.replace("CIT-FDA-OTP-TYPE-D,", "CIT-NO-SUCH-SOURCE,"))
    with pytest.raises(KnowledgeError, match="unknown citation CIT-NO-SUCH-SOURCE"):
        load_meeting_types(tmp_path)
    (tmp_path / "meetings.yaml").write_text(
        text.replace("      days_before: 47\n", "      days_before: 47\n      with_request: true\n")
    )
    with pytest.raises(KnowledgeError):
        load_meeting_types(tmp_path)
    (tmp_path / "meetings.yaml").write_text(text)
    ctd = (tmp_path / "ctd_sections.yaml").read_text()
    (tmp_path / "ctd_sections.yaml").write_text(ctd.replace("  - topic: cost_of_goods\n", "  - topic: cost_of_good\n"))
    with pytest.raises(KnowledgeError, match="cost_of_good"):
        load_meeting_types(tmp_path)


def test_docx_brief_of_a_long_named_program_keeps_properties_within_word_limits(tmp_path: Path) -> None:
    import docx
    from click.testing import CliRunner

    from cmcadvisor.cli import cli

    program = tmp_path / "p.yaml"
    program.write_text(
        "schema_version: 1\nprogram:\n  id: p1\n  name: '"
        + "é" * 300
        + "'\n  sponsor: '"
        + "x" * 300
        + "'\n  as_of: 2026-11-25\n"
    )
    out = tmp_path / "b.docx"
    result = CliRunner().invoke(cli, ["brief", str(program), "--meeting", "type_c", "--format", "docx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    props = docx.Document(str(out)).core_properties
    assert 0 < len(props.title) <= 255 and props.title.endswith("\u2026")
    assert len(props.author) <= 255


# ---------------------------------------------------------------- EMA and PMDA (issue 13)

EMA_WORKED = {  # a discussion meeting on 2027-06-01 (day 60): the procedure starts 2027-04-02
    "request_due": "2027-03-13",  # 20 days of submission and validation before the start
    "list_of_issues": "2027-05-02",  # day 30
    "written_advice": "2027-05-12",  # day 40 (no discussion meeting)
    "meeting": "2027-06-01",  # day 60
    "final_advice": "2027-06-11",  # day 70
}
AGENCY_TYPES = ("ema_scientific_advice", "ema_prime_kickoff", "pmda_rs_strategy", "pmda_clinical_trial", "pmda_prior_assessment")


def with_designation(program: ProgramFile, **changes: object) -> ProgramFile:
    from cmcadvisor.models.program import Designations

    current = program.designations or Designations()
    return program.model_copy(update={"designations": current.model_copy(update=changes)})


def with_regions(program: ProgramFile, regions: list[str]) -> ProgramFile:
    return program.model_copy(update={"program": program.program.model_copy(update={"regions": regions})})


def test_ema_scientific_advice_dates_follow_the_70_day_procedure(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    meeting = plan_meeting(result, program, "ema_scientific_advice", MEETING_DAY, kn, gates=GATES)
    assert (meeting.recommended_date, meeting.request_due, meeting.package_due) == ("2027-06-01", "2027-03-13", "2027-03-13")
    assert meeting.fda_reply_due is None and meeting.preliminary_responses_due is None and meeting.agenda == []
    brief = build_brief(result, program, meeting, kn)
    assert {d.id: d.date for d in brief.key_dates} == EMA_WORKED
    assert [d.date for d in brief.key_dates] == sorted(EMA_WORKED.values())
    assert any("day 40" in a for a in meeting.assumptions)
    assert not any("PDUFA" in a or "FDA" in a for a in meeting.assumptions)
    assert meeting.cdrp is None  # an FDA pilot
    # Without a date: the earliest the procedure allows (as_of + 20 + 60 days).
    proposed = plan_meeting(result, program, "ema_scientific_advice", None, kn, gates=GATES)
    assert proposed.recommended_date == (AS_OF + datetime.timedelta(days=80)).isoformat()
    assert proposed.request_due == AS_OF.isoformat()
    assert "EMA's procedure" in proposed.date_basis


def test_agency_briefs_are_refused_outside_their_regions(kn: MeetingKnowledge) -> None:
    result, program = assessed(NK)  # regions: [us]
    for type_id in AGENCY_TYPES:
        with pytest.raises(UsageError, match="program.regions"):
            plan_meeting(result, program, type_id, None, kn, gates=GATES)
    from click.testing import CliRunner

    from cmcadvisor.cli import cli

    run = CliRunner().invoke(cli, ["brief", str(NK), "--meeting", "ema_scientific_advice", "--as-of", "2026-11-25"])
    assert run.exit_code == 2 and "Traceback" not in run.output
    # The CAR-T program aims at the EU but not at Japan.
    car_result, car_program = assessed(CAR_T)
    assert plan_meeting(car_result, car_program, "ema_scientific_advice", None, kn, gates=GATES).fit == "fits"
    with pytest.raises(UsageError, match="Japan"):
        plan_meeting(car_result, car_program, "pmda_clinical_trial", None, kn, gates=GATES)


@pytest.mark.parametrize("type_id", ["pmda_rs_strategy", "pmda_clinical_trial", "pmda_prior_assessment"])
def test_pmda_consultations_set_no_date_they_do_not_publish(kn: MeetingKnowledge, type_id: str) -> None:
    result, program = assessed(AAV)  # regions: us, eu, jp
    meeting = plan_meeting(result, program, type_id, None, kn, gates=GATES)
    assert meeting.recommended_date is None and meeting.request_due is None and meeting.package_due is None
    assert "does not publish" in meeting.date_basis and "sources read" in meeting.date_basis
    brief = build_brief(result, program, meeting, kn)
    assert [(d.date, d.rule) for d in brief.key_dates] == [(None, meeting.date_basis)]
    dates = next(i for i in brief.request if i.id == "dates")
    # The knowledge's reason already says no date is set: said once, not twice.
    assert dates.lines[0] == meeting.date_basis and dates.lines[0].lower().count("no date is set") == 1
    assert brief.agency_short == "PMDA" and brief.request_title == "Consultation application"
    assert "PMDA" in brief.disclaimer and "FDA" not in brief.disclaimer
    assert any(c.id == "CIT-PMDA-CONSULTATIONS" for c in brief.sources)
    assert all(q.text.startswith("Does the Agency agree") for q in meeting.questions)


def test_pmda_stage_fit(kn: MeetingKnowledge) -> None:
    result, program = assessed(AAV)  # phase 1
    assert plan_meeting(result, program, "pmda_rs_strategy", None, kn, gates=GATES).fit in ("fits", "check")
    assert plan_meeting(result, program, "pmda_prior_assessment", None, kn, gates=GATES).fit == "does_not_fit"
    late = with_clinical(program, stage="bla_preparation")
    assert plan_meeting(result, late, "pmda_prior_assessment", None, kn, gates=GATES).fit == "fits"
    large = program.model_copy(update={"program": program.program.model_copy(update={"sponsor_type": "large"})})
    rs = plan_meeting(result, large, "pmda_rs_strategy", None, kn, gates=GATES)
    assert rs.fit == "check" and any("universities, research institutes and start-ups" in r for r in rs.fit_reasons)
    from cmcadvisor import display

    assert f"(the program's sponsor: {display.label('program.sponsor_type', 'large')})" in " ".join(rs.fit_reasons)


def test_prime_kickoff_needs_granted_prime(kn: MeetingKnowledge) -> None:
    result, program = assessed(AAV)
    granted = with_designation(program, prime="granted")
    meeting = plan_meeting(result, granted, "ema_prime_kickoff", None, kn, gates=GATES)
    assert meeting.fit == "fits" and meeting.recommended_date is None
    assert "three to four months" in meeting.date_basis
    refused = plan_meeting(result, with_designation(program, prime="denied"), "ema_prime_kickoff", None, kn, gates=GATES)
    assert refused.fit == "does_not_fit" and any("PRIME eligibility is denied" in r for r in refused.fit_reasons)
    unknown = plan_meeting(result, with_designation(program, prime=None), "ema_prime_kickoff", None, kn, gates=GATES)
    assert unknown.fit == "check"
    assert "ema_prime_kickoff" in suggest_types(granted, AS_OF, kn)
    assert "ema_prime_kickoff" not in suggest_types(with_designation(program, prime="none"), AS_OF, kn)


def test_each_agency_asks_only_its_own_findings(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    findings = {f.id: f for f in result.findings}

    def issuers(type_id: str) -> list[list[str]]:
        meeting = plan_meeting(result, program, type_id, None, kn, gates=GATES)
        return [[c.issuer for c in findings[fid].citations] for q in meeting.questions for fid in q.findings]

    ema = issuers("ema_scientific_advice")
    assert ema
    for sources in ema:  # never a finding whose every source is FDA's or US law
        assert not all("FDA" in i or i.startswith("US ") for i in sources), sources
    asked = {r for q in plan_meeting(result, program, "ema_scientific_advice", None, kn, gates=GATES).questions for r in q.rules}
    assert {"CMC-GMP-008"} <= asked  # the EU GMP point FDA never hears
    fda = {r for q in plan_meeting(result, program, "eop2", None, kn, gates=GATES).questions for r in q.rules}
    assert "CMC-GMP-008" not in fda


def test_region_gates_are_the_regions_a_rule_requires() -> None:
    assert GATES["CMC-BNK-006"] == frozenset({"eu"})  # "For the EU, cell banks and seed lots ..."
    assert set().union(*GATES.values()) == {"us", "eu", "jp"}
    assert "CMC-CMP-003" not in GATES  # comparability for the BLA: no region test


def test_a_finding_of_another_region_only_is_not_asked(kn: MeetingKnowledge) -> None:
    result, program = assessed(AAV)  # aimed at the US, the EU and Japan
    assert "CMC-BNK-006" in {f.rule for f in result.findings}

    def asked(type_id: str) -> set[str]:
        return {r for q in plan_meeting(result, program, type_id, None, kn, gates=GATES).questions for r in q.rules}

    assert "CMC-BNK-006" in asked("ema_scientific_advice")
    assert "CMC-BNK-006" not in asked("pmda_rs_strategy")  # an EU requirement is no question for PMDA
    assert "CMC-BNK-006" not in asked("eop2")
    # without the gates, PMDA's issuer test alone lets it through (it also cites ICH Q5D)
    ungated = plan_meeting(result, program, "pmda_rs_strategy", None, kn, gates={})
    assert "CMC-BNK-006" in {r for q in ungated.questions for r in q.rules}


EMA_TERMS = [Term(us="BLA", here="marketing authorisation application", unless=["MAA", "marketing authorisation"])]


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ("no comparability plan for the BLA", "no comparability plan for the marketing authorisation application"),
        ("a pivotal study or a BLA", "a pivotal study or a marketing authorisation application"),
        (
            "a BLA date is set but no pre-BLA meeting is planned",
            "a marketing authorisation application date is set but no pre-BLA meeting is planned",
        ),
        ("filed with the BLA or MAA", "filed with the BLA or MAA"),  # already names the agency's own
        ("BLAST search of the insert", "BLAST search of the insert"),  # a whole term only
        ("nothing to change", "nothing to change"),
    ],
)
def test_agency_terms_replace_whole_us_terms_only(point: str, expected: str) -> None:
    assert in_agency_terms(point, EMA_TERMS) == expected
    assert in_agency_terms(point, []) == point  # FDA's questions keep FDA's words


def test_ema_and_pmda_questions_name_their_own_application(kn: MeetingKnowledge) -> None:
    result, program = assessed(AAV)
    for type_id, own in (
        ("ema_scientific_advice", "marketing authorisation application"),
        ("pmda_rs_strategy", "marketing approval application"),
    ):
        meeting = plan_meeting(result, program, type_id, None, kn, gates=GATES)
        text = " ".join(q.text for q in meeting.questions)
        assert "for the BLA" not in text and f"for the {own}" in text, type_id
        stage_reasons = [r for r in meeting.fit_reasons if r.startswith("The program is at")]
        assert stage_reasons and all("BLA" not in r for r in stage_reasons), stage_reasons
    fda = plan_meeting(result, program, "eop2", None, kn, gates=GATES)
    assert not any("marketing authorisation application" in q.text for q in fda.questions)


@pytest.mark.parametrize("type_id", ["ema_scientific_advice", "pmda_clinical_trial"])
@pytest.mark.parametrize("fmt", ["markdown", "html", "docx", "json"])
def test_agency_briefs_render_in_every_format(kn: MeetingKnowledge, type_id: str, fmt: str) -> None:
    import docx

    result, program = assessed(AAV)
    brief = build_brief(result, program, plan_meeting(result, program, type_id, None, kn, gates=GATES), kn)
    out = render_brief(brief, fmt, trace=False)  # type: ignore[arg-type]
    if fmt == "json":
        data = json.loads(str(out))
        assert data["type"] == type_id and data["agency"] == brief.agency
        return
    if fmt == "docx":
        document = docx.Document(io.BytesIO(bytes(out)))
        text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
            c.text for t in document.tables for r in t.rows for c in r.cells
        )
        assert document.core_properties.category == f"{brief.agency_short} meeting brief (draft)"
    else:
        text = re.sub(r"<[^>]+>", "", str(out))
    assert_clean_body(text)
    assert f"Part 1: {brief.request_title}" in text and f"Part 2: {brief.package_title}" in text
    assert "When to ask" in text and "PDUFA" not in text
    assert TRACE_HEADING not in text


# What a reader sees the meeting called, in the title, the DRAFT line, the outline and the DOCX
# properties: the category is left out when the name says it, follows a comma when it has
# parentheses of its own (never nested), and goes in parentheses otherwise.
LABELS = {
    "interact": "INTERACT meeting",
    "pre_ind": "Pre-IND meeting (Type B)",
    "type_a": "Type A meeting",
    "eop1": "End-of-phase 1 meeting, Type B (EOP)",
    "eop2": "End-of-phase 2 meeting, Type B (EOP)",
    "pre_bla": "Pre-BLA meeting (Type B)",
    "type_c": "Type C meeting",
    "type_d": "Type D meeting",
    "ema_scientific_advice": "EMA scientific advice (CHMP, with the CAT for advanced therapies)",
    "ema_prime_kickoff": "PRIME kick-off meeting (EMA priority medicines scheme)",
    "pmda_rs_strategy": "PMDA consultation on quality and safety (Regulatory Science strategy consultation)",
    "pmda_clinical_trial": "PMDA clinical trial consultation (face-to-face consultation, fee-based)",
    "pmda_prior_assessment": "PMDA prior assessment consultation (pre-application consultation, fee-based)",
}


@pytest.mark.parametrize(
    ("name", "category", "label"),
    [
        ("Type A meeting", "Type A", "Type A meeting"),  # the name says it
        ("Interact meeting", "INTERACT", "Interact meeting"),  # whatever the case
        ("End-of-phase 2 meeting", "Type B (EOP)", "End-of-phase 2 meeting, Type B (EOP)"),  # no nested parentheses
        ("Pre-IND meeting", "Type B", "Pre-IND meeting (Type B)"),
        ("EMA scientific advice", "CHMP, with the CAT", "EMA scientific advice (CHMP, with the CAT)"),
    ],
)
def test_meeting_label_says_the_category_only_where_it_adds_something(name: str, category: str, label: str) -> None:
    assert meeting_label(name, category) == label


def test_every_meeting_type_has_a_pinned_label(kn: MeetingKnowledge) -> None:
    assert set(LABELS) == set(kn.types)


@pytest.mark.parametrize("type_id", sorted(LABELS))
def test_briefs_name_the_meeting_by_its_label(kn: MeetingKnowledge, type_id: str) -> None:
    import docx

    mtype = kn.types[type_id]
    label = LABELS[type_id]
    assert meeting_label(mtype.name, mtype.fda_category) == label
    assert not re.search(r"\([^()]*\(", label)  # parentheses never nest
    result, program = assessed(AAV)  # regions us, eu, jp: every agency's types
    brief = build_brief(result, program, plan_meeting(result, program, type_id, None, kn, gates=GATES), kn)
    assert brief.meeting_label == label and brief.title == f"{label}: {result.program.name}"
    assert next(i for i in brief.request if i.id == "meeting_type").lines[0].startswith(f"{label}. ")
    markdown = brief_markdown(brief)
    assert markdown.startswith(f"# {label}: ") and f"Meeting: {label}. Fit: " in markdown
    page = brief_html(brief)
    assert f"<h1>{html.escape(label)}: " in page and f"Meeting: {html.escape(label)}. Fit: " in page
    document = docx.Document(io.BytesIO(brief_docx(brief)))
    assert document.paragraphs[0].text == brief.title
    assert document.paragraphs[1].text.startswith(f"DRAFT  Program {brief.program.id}, as of ")
    assert f"Meeting: {label}. Fit: " in document.paragraphs[1].text
    assert document.core_properties.subject == f"{label}: meeting request and briefing package outline"
    for text in (markdown, page, "\n".join(p.text for p in document.paragraphs)):
        assert f"{mtype.name} ({mtype.fda_category})" not in text or label == f"{mtype.name} ({mtype.fda_category})"
    assert json.loads(brief_json(brief))["fda_category"] == mtype.fda_category  # the contract keeps the category as it is


# ---------------------------------------------------------------- policy as data (issue 14)


@pytest.mark.parametrize("path", [CAR_T, AAV, NK], ids=lambda p: p.stem)
@pytest.mark.parametrize(
    "stage", ["preclinical", "phase1", "phase2", "pivotal", "bla_preparation", "bla_under_review", "approved"]
)
def test_suggestions_agree_with_stages_and_fit(kn: MeetingKnowledge, path: Path, stage: str) -> None:
    result, program = assessed(path)
    program = with_clinical(program, stage=stage)
    for type_id in suggest_types(program, AS_OF, kn):
        mtype = kn.types[type_id]
        explanation = explain_meeting(result, program, type_id, kn, gates=GATES)
        assert explanation.suggested and explanation.fit != "does_not_fit", (type_id, explanation.fit_reasons)
        # outside its stages only where a fit test of meetings.yaml sets the fit on purpose (a seamless design)
        assert stage in mtype.stages or any(c.effect == "check" and c.result == "true" for c in explanation.checks), type_id


def test_recommended_meetings_are_fda_only_and_come_from_findings(kn: MeetingKnowledge) -> None:
    result, program = assessed(AAV)  # regions us, eu, jp
    assert all(m.type in WORKED for m in recommend_meetings(result, program, kn, gates=GATES))
    assert "ema_scientific_advice" in suggest_types(program, AS_OF, kn)
    assert "pmda_clinical_trial" in suggest_types(program, AS_OF, kn)
    assert meetings_for(result.findings, program, AS_OF, kn, gates=GATES) == recommend_meetings(result, program, kn, gates=GATES)
    assert [m.type for m in result.meetings] == [m.type for m in recommend_meetings(result, program, kn, gates=GATES)]


def test_explain_meeting_gives_fit_dates_and_rules(kn: MeetingKnowledge) -> None:
    result, program = assessed(CAR_T)
    explanation = explain_meeting(result, program, "eop2", kn, gates=GATES)
    assert isinstance(explanation, MeetingExplanation)
    assert explanation.fit == "fits" and explanation.suggested and explanation.agency == "US Food and Drug Administration"
    assert explanation.checks[0].test.startswith("clinical.stage in") and explanation.checks[0].result == "true"
    dates = {d.id: d.date for d in explanation.dates}
    assert dates["request_due"] == "2026-12-30" and dates["meeting"] == "2027-03-10"
    assert "planned end-of-phase 2 meeting" in explanation.date_basis
    assert explanation.questions and all(q.rules and q.findings for q in explanation.questions)
    # another agency's meeting for a program outside its region: explained, not refused
    nk_result, nk_program = assessed(NK)
    ema = explain_meeting(nk_result, nk_program, "ema_scientific_advice", kn, gates=GATES)
    assert ema.fit == "does_not_fit" and not ema.suggested
    assert any(c.result == "false" and "program.regions" in c.test for c in ema.checks)
    assert any("European Union" in r for r in ema.fit_reasons)
    pre_ind = explain_meeting(result, program, "pre_ind", kn, gates=GATES)
    assert pre_ind.fit == "does_not_fit"
    ind = next(c for c in pre_ind.checks if "clinical.ind_status" in c.test)
    assert ind.result == "true" and ind.effect == "does_not_fit" and ind.reason and "IND is already active" in ind.reason
    assert json.loads(explanation.model_dump_json())["type"] == "eop2"


def test_fit_tests_naming_unknown_facts_are_refused(tmp_path: Path) -> None:
    for path in (ROOT / "knowledge").glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    text = (tmp_path / "meetings.yaml").read_text()
    broken = text.replace(
        "{fact: designations.prime, op: eq, value: granted}", "{fact: designations.primo, op: eq, value: granted}"
    )
    assert broken != text
    (tmp_path / "meetings.yaml").write_text(broken)
    with pytest.raises(KnowledgeError, match="unknown fact designations.primo"):
        load_meeting_types(tmp_path)


def test_outline_prose_comes_from_the_templates_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cmcadvisor.meetings.knowledge as knowledge_module

    templates = tmp_path / "templates"
    templates.mkdir()
    text = (ROOT / "templates" / "brief_outline.yaml").read_text()
    real = knowledge_module.data_dir

    def fake(name: str) -> Path:
        return templates if name == "templates" else real(name)

    monkeypatch.setattr(knowledge_module, "data_dir", fake)
    (templates / "brief_outline.yaml").write_text(text.replace("[Indication]", "[The indication, in the sponsor's words]"))
    changed = load_meeting_types(None)
    result, program = assessed(CAR_T)
    bare = program.model_copy(update={"indication": None})
    brief = build_brief(result, bare, plan_meeting(result, bare, "eop2", None, changed, gates=GATES), changed)
    assert next(i for i in brief.request if i.id == "indication").lines == ["[The indication, in the sponsor's words]"]
    (templates / "brief_outline.yaml").write_text(text.replace("  human_factors:\n", "  human_factor:\n"))
    with pytest.raises(KnowledgeError, match="outline item human_factors has no prose"):
        load_meeting_types(None)
    (templates / "brief_outline.yaml").write_text(text.replace("indication.pediatric_onset", "indication.pediatric_onsets"))
    with pytest.raises(KnowledgeError, match="unknown fact indication.pediatric_onsets"):
        load_meeting_types(None)


def _all_examples() -> list[tuple[str, int]]:
    kn = load_meeting_types(None)
    return [(t.id, i) for t in kn.types.values() for i in range(len(t.examples))]


@pytest.mark.parametrize(("type_id", "index"), _all_examples())
def test_fit_examples_in_meetings_yaml(kn: MeetingKnowledge, type_id: str, index: int) -> None:
    from cmcadvisor.meetings.fit import evaluate_fit, example_facts, suggested

    mtype = kn.types[type_id]
    example = mtype.examples[index]
    facts = example_facts(dict(example.facts))
    result = evaluate_fit(mtype, facts, kn)
    assert result.fit == example.fit, (example.name, result.reasons)
    if example.suggested is not None:
        assert suggested(mtype, facts, kn) == example.suggested, example.name


def test_every_meeting_type_has_examples(kn: MeetingKnowledge) -> None:
    assert all(t.examples for t in kn.types.values())


def test_meetings_plan_from_the_facts_the_caller_derived(kn: MeetingKnowledge) -> None:
    """The assessment passes the facts it evaluated: the same meetings as deriving them again, and those facts are used."""
    from cmcadvisor.facts import derive_facts

    for path in (CAR_T, AAV):
        result, program = assessed(path)
        derived = meetings_for(result.findings, program, AS_OF, kn, gates=GATES)
        assert meetings_for(result.findings, program, AS_OF, kn, derive_facts(program, AS_OF), gates=GATES) == derived
        pivotal = derive_facts(with_clinical(program, stage="pivotal"), AS_OF)  # facts of a later stage: other meetings
        assert [m.type for m in meetings_for(result.findings, program, AS_OF, kn, pivotal, gates=GATES)] == ["pre_bla"]
        assert [m.type for m in derived] != ["pre_bla"]


def test_rules_test_runs_the_policy_examples(runner: CliRunner, tmp_path: Path) -> None:
    """`rules test` runs the meeting-fit, make-or-buy and review-clock examples, and fails on a wrong one."""
    from cmcadvisor.cli import cli

    ok = runner.invoke(cli, ["rules", "test", "--engine", "python"])
    assert ok.exit_code == 0, ok.output
    assert "policy examples (meeting fit, make-or-buy, review clock):" in ok.output and " 0 failed" in ok.output
    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    text = (folder / "meetings.yaml").read_text(encoding="utf-8")
    at = text.index("fit: ", text.index("    examples:"))  # the first worked example's expected fit
    end = text.index("\n", at)
    wrong = "fits" if text[at + 5 : end].strip() != "fits" else "does_not_fit"
    (folder / "meetings.yaml").write_text(text[:at] + f"fit: {wrong}" + text[end:], encoding="utf-8")
    bad = runner.invoke(cli, ["--knowledge-dir", str(folder), "rules", "test", "--engine", "python"])
    assert bad.exit_code == 1, bad.output
    assert "FAIL meetings.yaml" in bad.output and f"not {wrong}" in bad.output
