"""Planning one meeting: its dates, its fit and its questions, as the contract's :class:`Meeting`.

``plan`` works from the open findings, the program and the assessment date (not from a finished
assessment), so the assessment can plan its meetings before it is assembled; ``plan_meeting``
and ``recommend_meetings`` keep the older signatures that take an :class:`AssessmentResult`.
The assessment's ``meetings`` list holds FDA meetings only (the contract's meeting types); other
agencies' meetings are drafted on request by ``brief``. This module formats no output.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence

from cmcadvisor.errors import UsageError
from cmcadvisor.facts import FactSet, derive_facts
from cmcadvisor.meetings.fit import fit_of, meeting_facts, suggest_types, suggestion_text
from cmcadvisor.meetings.knowledge import MeetingKnowledge
from cmcadvisor.meetings.questions import RegionGates, agenda, cdrp_note, draft_questions, topic_label
from cmcadvisor.meetings.schedule import Schedule, days, schedule
from cmcadvisor.meetings.words import plural, shown
from cmcadvisor.models.meetings import MEETING_TYPE_IDS, MeetingType
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult, FindingResult, Meeting


@functools.lru_cache(maxsize=1024)  # mostly the knowledge's own texts, the same for every program
def _squeezed(text: str) -> str:
    """``text`` with each run of whitespace made one space."""
    return " ".join(text.split())


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def _article(short: str) -> str:
    """``an FDA``, ``an EMA``, ``a PMDA``: the article an acronym read letter by letter takes."""
    return "an" if short[:1] in "AEFHILMNORSX" else "a"


def check_region(mtype: MeetingType, program: ProgramFile, kn: MeetingKnowledge) -> None:
    """Refuse a brief for an agency whose region the program does not aim at (where the agency requires it)."""
    agency = kn.agency(mtype)
    regions = program.program.regions or ["us"]
    if agency.region_required and not set(agency.regions) & set(regions):
        raise UsageError.single(
            "--meeting",
            f"{mtype.name} serves only programs aimed at {agency.region_label}; the program's regions "
            f"({shown('program.regions', tuple(regions))}) leave it out (add it to program.regions to draft this brief)",
        )


def _limits(mtype: MeetingType, kn: MeetingKnowledge, chosen_topics: list[str], left_out: int) -> list[str]:
    agency = kn.agency(mtype)
    limits: list[str] = []
    if mtype.max_pages:
        limits.append(f"Package: at most {mtype.max_pages} pages (OTP).")
    if mtype.topic_limit or mtype.question_limit or mtype.discipline_limit:
        parts = []
        if mtype.topic_limit:
            parts.append(f"at most {mtype.topic_limit} focused topics")
        if mtype.question_min and mtype.question_limit:
            parts.append(f"{mtype.question_min} to {mtype.question_limit} questions in all")
        elif mtype.question_limit:
            parts.append(f"at most {mtype.question_limit} questions")
        if mtype.discipline_limit:
            parts.append(f"input from at most {mtype.discipline_limit} disciplines or divisions")
        limits.append(f"{mtype.fda_category} scope: {'; '.join(parts)}.")
        if chosen_topics:
            limits.append(f"Topics kept: {'; '.join(topic_label(t, kn) for t in chosen_topics)}.")
    if left_out:
        cap = (
            ""
            if mtype.question_limit
            else f" (cmcadvisor keeps {kn.settings.max_questions} questions, one per topic; a drafting choice, "
            f"not {_article(agency.short)} {agency.short} limit)"
        )
        limits.append(f"{plural(left_out, 'further open finding')} could also be raised; the draft keeps the most pressing{cap}.")
    return limits


def _assumptions(mtype: MeetingType, kn: MeetingKnowledge, sched: Schedule) -> list[str]:
    agency = kn.agency(mtype)
    assumptions: list[str] = []
    if mtype.category_note:
        assumptions.append(mtype.category_note)
    assumptions.extend(mtype.assumptions)
    if mtype.package_alternative and sched.request_due and sched.package_due:
        assumptions.append(
            f"{mtype.package_alternative} If the package had to go with the request, it would be due on "
            f"{sched.request_due.isoformat()} instead of {sched.package_due.isoformat()}."
        )
    if mtype.preliminary_responses_guidance_days_before is not None and sched.meeting and sched.preliminary_due:
        alt = days(sched.meeting, -mtype.preliminary_responses_guidance_days_before)
        assumptions.append(
            f"Preliminary responses are dated {mtype.preliminary_responses_days_before} days before the meeting "
            f"({sched.preliminary_due.isoformat()}); with the guidance default of "
            f"{mtype.preliminary_responses_guidance_days_before} days they would come by {alt.isoformat()}."
        )
    if agency.pdufa_goals:
        end = kn.settings.pdufa_vii_end
        if (sched.meeting and sched.meeting > end) or (sched.request_due and sched.request_due > end):
            assumptions.append(kn.settings.pdufa_note)
        assumptions.append(kn.settings.scheduling_note)
        assumptions.append(
            "Dates are calendar days counted from FDA's receipt of the request; weekends and US federal holidays are not "
            "moved. The request due date is the last day FDA can receive the request for its goal window to reach the "
            "meeting date; FDA sets the final date and format."
        )
    assumptions.extend(agency.notes)
    return [_squeezed(a) for a in assumptions]


def plan(
    findings: Sequence[FindingResult],
    program: ProgramFile,
    as_of: datetime.date,
    meeting_type: str,
    desired: datetime.date | None,
    kn: MeetingKnowledge,
    facts: FactSet | None = None,
    *,
    gates: RegionGates,
) -> Meeting:
    """One meeting for the program, from its open findings: dates, fit and questions.

    ``facts``: the program's facts as of ``as_of`` when the caller has them (derived otherwise).
    ``gates``: the rule pack's ``region_gates``, so a finding that speaks of another region only
    is not asked of this agency.
    """
    mtype = kn.meeting_type(meeting_type)
    agency = kn.agency(mtype)
    sched = schedule(mtype, agency.short, as_of, program, desired)
    questions, left_out, chosen_topics, spread = draft_questions(findings, mtype, kn, gates)
    points = sum(max(1, len(q.points)) for q in questions)
    result = fit_of(mtype, meeting_facts(program, as_of, mtype, points, spread, base=facts), kn)
    reasons = list(result.reasons)
    if result.fit == "does_not_fit":
        suggestion = suggestion_text(program, as_of, kn, (mtype.agency,), facts)
        if suggestion:
            reasons.append(suggestion)
    cdrp = cdrp_note(findings, kn) if agency.pdufa_goals else None
    citations = list(dict.fromkeys([*mtype.citations, *(kn.settings.cdrp.citations if cdrp else [])]))
    if any(q.ctd_section for q in questions):
        citations.extend(c for c in kn.ctd_citations if c not in citations)
    procedure = mtype.procedure
    package_rule = mtype.package.rule if mtype.package else (procedure.package_rule if procedure else None) or ""
    return Meeting(
        type=mtype.id,
        fda_category=mtype.fda_category,
        purpose=_squeezed(mtype.purpose),
        recommended_date=_iso(sched.meeting),
        request_due=_iso(sched.request_due),
        package_due=_iso(sched.package_due),
        questions=questions,
        name=mtype.name,
        date_basis=sched.basis,
        fda_reply_due=_iso(sched.fda_reply_due),
        preliminary_responses_due=_iso(sched.preliminary_due),
        sponsor_reply_due=_iso(sched.sponsor_reply_due),
        meeting_within_days=mtype.meeting_within_days,
        package_rule=_squeezed(package_rule),
        preliminary_responses_rule=(
            f"At least {mtype.preliminary_responses_days_before} days before the meeting."
            if mtype.preliminary_responses_days_before is not None
            else ""
        ),
        sponsor_reply_rule=mtype.sponsor_reply.rule if mtype.sponsor_reply else "",
        meeting_minutes=mtype.meeting_minutes,
        fit=result.fit,
        fit_reasons=reasons,
        date_notes=list(sched.notes),
        limits=_limits(mtype, kn, chosen_topics, left_out),
        agenda=agenda(questions, agency) if agency.pdufa_goals else [],
        assumptions=_assumptions(mtype, kn, sched),
        cdrp=_squeezed(cdrp) if cdrp else None,
        citations=citations,
    )


def plan_meeting(
    result: AssessmentResult,
    program: ProgramFile,
    meeting_type: str,
    desired: datetime.date | None,
    types: MeetingKnowledge,
    *,
    gates: RegionGates,
) -> Meeting:
    """One meeting for the program: dates per the agency's timelines and questions from the findings.

    ``desired`` is the wanted meeting date; without it the date is proposed from the program's
    milestones, never earlier than ``as_of`` plus the agency's window. A brief for an agency whose
    region the program does not aim at is refused (a usage error).
    """
    check_region(types.meeting_type(meeting_type), program, types)
    return plan(result.findings, program, datetime.date.fromisoformat(result.as_of), meeting_type, desired, types, gates=gates)


def meetings_for(
    findings: Sequence[FindingResult],
    program: ProgramFile,
    as_of: datetime.date,
    types: MeetingKnowledge,
    facts: FactSet | None = None,
    *,
    gates: RegionGates,
) -> list[Meeting]:
    """The next sensible FDA meetings for the program (the assessment's ``meetings``), earliest first.

    ``facts``: the program's facts as of ``as_of`` when the caller has them (derived once otherwise).
    """
    if facts is None:
        facts = derive_facts(program, as_of)
    suggested = suggest_types(program, as_of, types, ("fda",), facts)
    meetings = [plan(findings, program, as_of, tid, None, types, facts, gates=gates) for tid in suggested]
    return sorted(meetings, key=lambda m: (m.recommended_date or "", MEETING_TYPE_IDS.index(m.type)))


def recommend_meetings(
    result: AssessmentResult, program: ProgramFile, types: MeetingKnowledge, *, gates: RegionGates
) -> list[Meeting]:
    """The next sensible FDA meetings for the program (for ``result.meetings``), earliest first."""
    return meetings_for(result.findings, program, datetime.date.fromisoformat(result.as_of), types, gates=gates)
