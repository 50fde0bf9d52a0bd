"""``explain_meeting``: why a meeting type fits a program or not, its dates and their basis, and the rules behind its questions.

It re-runs the same planning as ``brief`` (no second logic): the fit tests of ``meetings.yaml``
with their three-valued results, whether the type is among the program's next meetings, the dated
steps with how each is set, and for each drafted question the rules, findings and citations it
comes from. It returns a pydantic model; the ``explain`` command renders it. This module must not
print or format output.
"""

from __future__ import annotations

import datetime

from cmcadvisor.meetings.brief import _key_dates, procedure_dates
from cmcadvisor.meetings.fit import evaluate_fit, meeting_facts, suggest_types
from cmcadvisor.meetings.knowledge import MeetingKnowledge
from cmcadvisor.meetings.plan import plan
from cmcadvisor.meetings.questions import RegionGates
from cmcadvisor.models.meetings import MeetingExplanation, QuestionSource
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult


def explain_meeting(
    result: AssessmentResult,
    program: ProgramFile,
    meeting_type: str,
    types: MeetingKnowledge,
    desired: datetime.date | None = None,
    *,
    gates: RegionGates,
) -> MeetingExplanation:
    """Why ``meeting_type`` fits ``program`` or not, its dates and the rules behind its questions.

    Unlike ``brief``, it answers for every agency's meeting types, also where the program's
    regions leave the agency out (the fit then says so). ``meeting_type`` unknown: a usage error.
    """
    mtype = types.meeting_type(meeting_type)
    agency = types.agency(mtype)
    as_of = datetime.date.fromisoformat(result.as_of)
    meeting = plan(result.findings, program, as_of, meeting_type, desired, types, gates=gates)
    points = sum(max(1, len(q.points)) for q in meeting.questions)
    spread = len({q.topics[0] for q in meeting.questions if q.topics})
    facts = meeting_facts(program, as_of, mtype, points, spread)
    fit = evaluate_fit(mtype, facts, types)
    suggested = suggest_types(program, as_of, types)
    return MeetingExplanation(
        type=mtype.id,
        name=mtype.name,
        agency=agency.name,
        category=mtype.fda_category,
        purpose=meeting.purpose,
        when_to_ask=" ".join(mtype.when_to_ask.split()) if mtype.when_to_ask else None,
        fit=meeting.fit,
        fit_reasons=list(meeting.fit_reasons),
        checks=list(fit.checks),
        suggested=mtype.id in suggested,
        suggested_types=suggested,
        dates=_key_dates(meeting, mtype, agency, procedure_dates(meeting, mtype)),
        date_basis=meeting.date_basis,
        date_notes=list(meeting.date_notes),
        questions=[
            QuestionSource(
                number=q.number, text=q.text, rules=list(q.rules), findings=list(q.findings), citations=list(q.citations)
            )
            for q in meeting.questions
        ],
        citations=list(meeting.citations),
    )
