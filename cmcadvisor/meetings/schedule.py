"""When a meeting can be held: its date and every date counted from it.

FDA meeting types count back from the meeting date with the PDUFA VII day counts of
``knowledge/meetings.yaml``; another agency's procedure counts its steps from the procedure's
start (``meeting_day`` before the meeting); a procedure without a published timetable gets no
date at all, and says why. Without a desired date, the date comes from the program's milestones,
never earlier than the agency's window allows. Pure: dates come from ``as_of`` and the program,
never from the clock. This module must not draft questions or text for the brief.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from cmcadvisor.dates import add_months
from cmcadvisor.meetings.words import MILESTONE_LABELS
from cmcadvisor.models.meetings import MeetingType, PackageWithRequest
from cmcadvisor.models.program import ProgramFile


def days(day: datetime.date, n: int) -> datetime.date:
    """``day`` plus ``n`` calendar days."""
    return day + datetime.timedelta(days=n)


def milestones(program: ProgramFile) -> dict[str, datetime.date]:
    """The program's dated clinical milestones."""
    ms = program.clinical.milestones if program.clinical else None
    if ms is None:
        return {}
    dated = ((name, getattr(ms, name)) for name in type(ms).model_fields)  # its fields (all flat), without a model_dump
    return {name: value for name, value in dated if isinstance(value, datetime.date)}


@dataclass(frozen=True)
class Step:
    """One dated step of a procedure (or of an FDA meeting's timeline)."""

    id: str
    label: str
    date: datetime.date | None
    rule: str


@dataclass(frozen=True)
class Schedule:
    """A meeting's dates, how its date was chosen, and scheduling warnings."""

    meeting: datetime.date | None
    basis: str
    request_due: datetime.date | None
    package_due: datetime.date | None
    fda_reply_due: datetime.date | None = None
    preliminary_due: datetime.date | None = None
    sponsor_reply_due: datetime.date | None = None
    notes: tuple[str, ...] = ()
    steps: tuple[Step, ...] = field(default_factory=tuple)  # a procedure's steps, in order


@dataclass(frozen=True)
class _Window:
    within: int  # days from the request's receipt to the meeting
    name: str  # "FDA's goal window"
    agency: str  # "FDA"
    detail: str = ""  # how the days add up, in words


def _meeting_date(
    mtype: MeetingType, window: _Window, as_of: datetime.date, ms: Mapping[str, datetime.date], desired: datetime.date | None
) -> tuple[datetime.date, str, list[str]]:
    """The meeting date (requested or proposed), how it was chosen, and scheduling warnings."""
    within = window.within
    earliest = days(as_of, within)
    link = mtype.milestones
    notes: list[str] = []
    planned = ms.get(link.planned) if link and link.planned else None
    before = ms.get(link.before) if link and link.before else None
    allows = f"the earliest date {window.name} allows ({as_of.isoformat()} + {within} days{window.detail})"
    if desired is not None:
        day, basis = desired, "the date requested for the meeting"
        if desired < earliest:
            notes.append(
                f"The requested date {desired.isoformat()} leaves less time than {window.name}: a request received on "
                f"{as_of.isoformat()} gives {window.agency} until {earliest.isoformat()} ({within} days), so the request due "
                f"date has passed and {window.agency} may not meet the requested date."
            )
    elif planned is not None and link is not None and link.planned is not None:
        label = MILESTONE_LABELS[link.planned]
        if planned >= earliest:
            day, basis = planned, f"the planned {label} date in the program file"
        else:
            day = earliest
            basis = f"{allows}; the planned {label} ({planned.isoformat()}) is too soon for a request made now"
            notes.append(
                f"The planned {label} ({planned.isoformat()}) cannot be met: move the milestone to "
                f"{earliest.isoformat()} or later."
            )
    elif before is not None and link is not None and link.before is not None and link.request_months_before:
        latest_request = add_months(before, -link.request_months_before)
        target = days(latest_request, within)
        label = MILESTONE_LABELS[link.before]
        if target >= earliest:
            day = target
            basis = (
                f"the latest request date {link.request_months_before} months before the planned {label} "
                f"({before.isoformat()}), plus {window.agency}'s {within}-day goal window"
            )
        else:
            day, basis = earliest, allows
    else:
        day, basis = earliest, allows
    if before is not None and link is not None and link.before is not None:
        label = MILESTONE_LABELS[link.before]
        if day >= before:
            notes.append(
                f"The meeting on {day.isoformat()} is not before the planned {label} ({before.isoformat()}); hold the meeting "
                f"earlier or move the {label}."
            )
        if link.request_months_before:
            latest_request = add_months(before, -link.request_months_before)
            if days(day, -within) > latest_request:
                notes.append(
                    f"The request would go in after {latest_request.isoformat()}, later than {link.request_months_before} months "
                    f"before the planned {label}. {link.request_basis or ''}".strip()
                )
    return day, basis, notes


def schedule(
    mtype: MeetingType, agency_short: str, as_of: datetime.date, program: ProgramFile, desired: datetime.date | None
) -> Schedule:
    """Every date of a meeting of type ``mtype`` for the program (``desired``: the wanted meeting date)."""
    procedure = mtype.procedure
    if procedure is not None:
        return _procedure_schedule(mtype, agency_short, as_of, program, desired)
    assert mtype.meeting_within_days is not None and mtype.package is not None and mtype.sponsor_reply is not None
    assert mtype.reply_days is not None and mtype.preliminary_responses_days_before is not None
    window = _Window(mtype.meeting_within_days, "FDA's goal window", "FDA")
    day, basis, notes = _meeting_date(mtype, window, as_of, milestones(program), desired)
    request_due = days(day, -mtype.meeting_within_days)
    package_due = request_due if isinstance(mtype.package, PackageWithRequest) else days(day, -mtype.package.days_before)
    preliminary = days(day, -mtype.preliminary_responses_days_before)
    reply = mtype.sponsor_reply
    sponsor: datetime.date | None = None
    if reply.days_after_preliminary is not None:
        sponsor = days(preliminary, reply.days_after_preliminary)
    elif reply.days_before_meeting is not None:
        sponsor = days(day, -reply.days_before_meeting)
    if day < as_of:
        notes.append(f"The meeting date {day.isoformat()} is before the assessment date {as_of.isoformat()}.")
    return Schedule(
        meeting=day,
        basis=basis,
        request_due=request_due,
        package_due=package_due,
        fda_reply_due=days(request_due, mtype.reply_days),
        preliminary_due=preliminary,
        sponsor_reply_due=sponsor,
        notes=tuple(notes),
    )


def _procedure_schedule(
    mtype: MeetingType, agency_short: str, as_of: datetime.date, program: ProgramFile, desired: datetime.date | None
) -> Schedule:
    procedure = mtype.procedure
    assert procedure is not None
    if not procedure.steps or procedure.meeting_day is None:
        reason = " ".join((procedure.no_dates or "").split())
        unset = (f"A requested date ({desired.isoformat()}) was given; {reason}",) if desired is not None else ()
        return Schedule(meeting=None, basis=reason, request_due=None, package_due=None, notes=unset)
    request_step = next(s for s in procedure.steps if s.id == "request_due")
    within = procedure.meeting_day - request_step.day
    detail = f": {' '.join(procedure.window_text.split())}" if procedure.window_text else ""
    window = _Window(within, f"{agency_short}'s procedure", agency_short, detail)
    day, basis, notes = _meeting_date(mtype, window, as_of, milestones(program), desired)
    start = days(day, -procedure.meeting_day)
    steps = tuple(Step(s.id, s.label, days(start, s.day), " ".join(s.rule.split())) for s in procedure.steps)
    request_due = days(start, request_step.day)
    if day < as_of:
        notes.append(f"The meeting date {day.isoformat()} is before the assessment date {as_of.isoformat()}.")
    return Schedule(meeting=day, basis=basis, request_due=request_due, package_due=request_due, notes=tuple(notes), steps=steps)
