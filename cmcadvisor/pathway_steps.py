"""Dated next steps for the expedited pathways.

``date_next_steps`` takes the pathway rows of an assessment and, where the knowledge base states
when a pathway is requested (``timing`` in ``knowledge/pathways.yaml``: before a milestone, or
with one), adds the date the program's own milestones or its recommended FDA meetings fix: for
example "send the request before the end-of-phase 2 meeting planned for 15 June 2027 (the meeting
request is due at FDA by 6 April 2027)". It never makes up a date rule: a pathway without
``timing``, or a program without the milestone or meeting, keeps its undated step.

Pure: dates come from the program and the already planned meetings, never from the clock. This
module must not evaluate rules or plan meetings itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cmcadvisor import display
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import PathwayTiming
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import Meeting, PathwayResult

DATED_STATUSES = frozenset({"eligible", "undetermined"})
_ALREADY = frozenset({"requested", "granted"})  # a designation already asked for needs no request date


def _designation(program: ProgramFile, path: str | None) -> str | None:
    if path is None or program.designations is None:
        return None
    value = getattr(program.designations, path.split(".", 1)[1], None)
    return value if isinstance(value, str) else None


def _milestone(program: ProgramFile, name: str) -> datetime.date | None:
    ms = program.clinical.milestones if program.clinical else None
    value = getattr(ms, name, None) if ms is not None else None
    return value if isinstance(value, datetime.date) else None


def _dated(
    timing: PathwayTiming, program: ProgramFile, meetings: Sequence[Meeting], as_of: datetime.date
) -> tuple[str, datetime.date, str] | None:
    """The dated sentence, its date and the basis of the date; None where nothing fixes one."""
    if timing.with_ is not None:
        day = _milestone(program, timing.with_)
        if day is None:
            return None
        label = display.term(timing.with_)
        if day < as_of:
            return (
                f"The {label} was planned for {display.human_date(day)}, before the assessment date: send it with the {label} "
                "as soon as it goes in.",
                day,
                f"the planned {label}",
            )
        return f"send it with the {label}, planned for {display.human_date(day)}.", day, f"the planned {label}"
    if timing.by is None:
        return None
    label = display.term(timing.by)
    planned = _milestone(program, timing.by)
    meeting = next((m for m in meetings if timing.meeting is not None and m.type == timing.meeting), None)
    if planned is None and meeting is not None and meeting.recommended_date:
        day = datetime.date.fromisoformat(meeting.recommended_date)
        basis = f"the recommended {display.term(meeting.type)} date"
    elif planned is not None:
        day, basis = planned, f"the planned {label}"
    else:
        return None
    if day < as_of:
        return (
            f"The {label} was planned for {display.human_date(day)}, before the assessment date: request it now if it "
            "still applies.",
            day,
            basis,
        )
    text = f"send the request before the {label}, planned for {display.human_date(day)}"
    if meeting is not None and meeting.request_due and meeting.recommended_date == day.isoformat():
        due = datetime.date.fromisoformat(meeting.request_due)
        text += f" (the meeting request is due at FDA by {display.human_date(due)})"
    return text + ".", day, basis


def date_next_steps(
    pathways: Sequence[PathwayResult],
    program: ProgramFile,
    kb: KnowledgeBase,
    meetings: Sequence[Meeting],
    as_of: datetime.date,
) -> list[PathwayResult]:
    """The pathway rows with a dated next step where the knowledge base's request timing and the program fix one.

    Only rows still to be requested are dated (eligible or undetermined, designation not already
    requested or granted). The timing's citations join the row's citations.
    """
    out: list[PathwayResult] = []
    for row in pathways:
        pathway = kb.pathways.get(row.id)
        timing = pathway.timing if pathway else None
        if timing is None or row.status not in DATED_STATUSES or _designation(program, timing.designation) in _ALREADY:
            out.append(row)
            continue
        dated = _dated(timing, program, meetings, as_of)
        if dated is None:
            out.append(row)
            continue
        text, day, basis = dated
        if text[0].islower():  # a dated action (not a note that the date has passed)
            text = ("If it fits, " if row.status == "undetermined" else "For this program: ") + text
        rule = " ".join(timing.rule.split())
        out.append(
            row.model_copy(
                update={
                    "next_step": f"{row.next_step} {text}" if row.next_step else text,
                    "next_step_due": day.isoformat(),
                    "next_step_basis": f"{rule} Date: {basis}.",
                    "citations": sorted({*row.citations, *timing.citations}),
                }
            )
        )
    return out
