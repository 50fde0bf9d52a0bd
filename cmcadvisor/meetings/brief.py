"""The brief: a planned meeting with its request and package outline, key dates and sources, in reader's words.

``build_brief`` adds to a :class:`Meeting` what the renderers print: the key dates in order, the
numbered request and package outline in the order the agency expects (from ``meetings.yaml``),
the questions grouped by the agency's disciplines, the attachments, the numbered sources, and the
traceability appendix kept apart from the agency-facing text (no rule, finding or citation ids and
no fact paths in the body). This module formats no output and imports no renderer.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from cmcadvisor import display
from cmcadvisor.facts import FactSet, derive_facts
from cmcadvisor.meetings.knowledge import MeetingKnowledge
from cmcadvisor.meetings.questions import DISCIPLINE_ORDER
from cmcadvisor.meetings.schedule import milestones
from cmcadvisor.meetings.words import FIT_LABELS, MILESTONE_LABELS, fact_label, fill, meeting_name, plural, shown
from cmcadvisor.models.meetings import Agency, Brief, KeyDate, MeetingType, OutlineEntry, OutlineItem, QuestionGroup, TraceEntry
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult, Meeting, MeetingQuestion
from cmcadvisor.models.rule import Condition
from cmcadvisor.outcomes import citation_ref
from cmcadvisor.reference_eval import Truth, evaluate_node


def meeting_label(name: str, category: str) -> str:
    """The meeting as a reader should see it named: its name, with the agency's category only where that adds something.

    A category the name already says is left out ("Type A meeting", not "Type A meeting (Type A)");
    a category with parentheses of its own follows a comma, so parentheses never nest
    ("End-of-phase 2 meeting, Type B (EOP)"); any other goes in parentheses ("Pre-IND meeting (Type B)").
    """
    if category.casefold() in name.casefold():
        return name
    if "(" in category or ")" in category:
        return f"{name}, {category}"
    return f"{name} ({category})"


def _focus(question: MeetingQuestion, mtype: MeetingType, kn: MeetingKnowledge) -> str:
    """The topic a question is about, as words (its first topic the meeting type covers)."""
    topic = next((t for t in question.topics if t in mtype.topics), question.topics[0] if question.topics else "")
    entry = kn.ctd.get(topic)
    return entry.label if entry else topic.replace("_", " ")


@dataclass(frozen=True)
class _Draft:
    """What the outline prose is filled from: the program's facts and the meeting being drafted."""

    facts: FactSet
    values: dict[str, object]
    meeting: Meeting
    program: ProgramFile
    groups: list[QuestionGroup]
    attachments: list[str]
    focus: list[str]
    agency: Agency
    kn: MeetingKnowledge


def _holds(condition: Condition | None, draft: _Draft) -> bool:
    return condition is None or evaluate_node(draft.kn.node(condition), draft.facts).truth == Truth.TRUE


def _block(name: str, d: _Draft) -> list[str]:
    """A part of the outline drafted from the meeting itself (its words stay here: they depend on the meeting)."""
    meeting, agency = d.meeting, d.agency
    if name == "meeting_type":
        return [f"{meeting_label(meeting.name, meeting.fda_category)}. {meeting.purpose}", *meeting.fit_reasons]
    if name == "feedback":
        # Topics carry commas of their own ("empty, partial and full capsids"): semicolons keep them apart.
        focus = list(d.focus)
        listed = "; ".join(focus[:-1]) + "; and " + focus[-1] if len(focus) > 1 else "".join(focus)
        topics = f"on {listed}." if focus else "[list the topics]."
        return [f"To obtain the Agency's feedback on {plural(len(meeting.questions), 'question')} {topics}"]
    if name == "agenda":
        total = f" (about {meeting.meeting_minutes} minutes in all)" if meeting.meeting_minutes else ""
        return [f"{a} [minutes]" for a in meeting.agenda] + [f"Meeting length{total}."]
    if name == "questions":
        return [f"Question {q.number} ({agency.discipline_label(q.discipline)}): {q.text}" for g in d.groups for q in g.questions]
    if name == "disciplines":
        needed = [g.label for g in d.groups]
        return [f"Disciplines the questions need: {', '.join(needed) if needed else '[disciplines]'}."]
    if name == "dates":
        if meeting.recommended_date is None:
            # The knowledge's no_dates text already says that no date is set, and why.
            return [meeting.date_basis, "[Preferred dates.]", *meeting.date_notes]
        if not agency.pdufa_goals:
            return [
                f"Intended submission date: {meeting.request_due}.",
                f"Meeting date: {meeting.recommended_date}, set from {meeting.date_basis}.",
                "[Alternative submission dates from the agency's published timetable.]",
                *meeting.date_notes,
            ]
        return [
            f"Requested meeting date: {meeting.recommended_date}, set from {meeting.date_basis}.",
            "[Two alternative dates and times.]",
            *meeting.date_notes,
        ]
    if name == "milestones":
        ms = milestones(d.program)
        if not ms:
            return []
        in_order = sorted(ms.items(), key=lambda kv: (kv[1], kv[0]))  # by date, as a reader expects
        return ["Planned milestones: " + "; ".join(f"{MILESTONE_LABELS[k]} {v.isoformat()}" for k, v in in_order) + "."]
    if name == "interactions":
        lines = []
        for inter in d.program.interactions or []:
            cmc = {True: ", CMC discussed", False: ", CMC not discussed", None: ""}[inter.cmc_discussed]
            when = inter.date.isoformat() if inter.date else "date not given"
            lines.append(f"Earlier FDA interaction: {meeting_name(inter.type)} ({when}{cmc}).")
        return lines
    if name == "designations":
        desig = d.program.designations
        granted = [n for n, value in desig.model_dump().items() if value == "granted"] if desig is not None else []
        if not granted:
            return []
        return [f"Designations granted: {', '.join(display.fact_label('designations.' + g) for g in granted)}."]
    if name == "attachments":
        return d.attachments
    return []  # pragma: no cover - block names are checked by the model


def _outline_lines(item: str, d: _Draft) -> list[str]:
    """The content of one outline item from templates/brief_outline.yaml: the program's facts, the meeting, placeholders."""
    lines: list[str] = []
    for entry in d.kn.outline.items.get(item, []):
        if entry.text is not None and _holds(entry.when, d):
            lines.append(fill(entry.text, d.values))
        elif entry.choose is not None:
            chosen = next((c for c in entry.choose if _holds(c.when, d)), None)
            if chosen is not None:
                lines.append(fill(chosen.text, d.values))
        elif entry.facts is not None:
            lines += [f"{fact_label(f)}: {shown(f, d.values[f])}" for f in entry.facts if d.values.get(f) is not None]
        elif entry.block is not None:
            lines += _block(entry.block, d)
        elif entry.include is not None:
            lines += _outline_lines(entry.include, d)
    return lines


def _key_dates(meeting: Meeting, mtype: MeetingType, agency: Agency, steps: list[KeyDate]) -> list[KeyDate]:
    """The dates of the meeting's timeline, earliest first."""
    if mtype.procedure is not None:
        if steps:
            return steps
        return [
            KeyDate(id="meeting", label=f"{mtype.name} (date agreed with {agency.short})", date=None, rule=meeting.date_basis)
        ]
    key_dates = [
        KeyDate(
            id="request_due",
            label="FDA receives the meeting request",
            date=meeting.request_due,
            rule=f"No later than {meeting.meeting_within_days} days before the meeting (FDA aims to hold it within "
            f"{meeting.meeting_within_days} days of receipt).",
        ),
        KeyDate(
            id="fda_reply_due",
            label="FDA grants or denies the request",
            date=meeting.fda_reply_due,
            rule=f"Within {mtype.reply_days} days of receipt, if the request arrives on its due date.",
        ),
        KeyDate(id="package_due", label="Meeting package due", date=meeting.package_due, rule=meeting.package_rule),
        KeyDate(
            id="preliminary_responses_due",
            label="FDA's preliminary responses",
            date=meeting.preliminary_responses_due,
            rule=meeting.preliminary_responses_rule,
        ),
        KeyDate(
            id="sponsor_reply_due",
            label="Sponsor's reply to the preliminary responses",
            date=meeting.sponsor_reply_due,
            rule=meeting.sponsor_reply_rule,
        ),
        KeyDate(
            id="meeting",
            label="Meeting (or written response)",
            date=meeting.recommended_date,
            rule=f"Set from {meeting.date_basis}.",
        ),
    ]
    key_dates.sort(key=lambda k: k.date or "9999")
    return key_dates


def procedure_dates(meeting: Meeting, mtype: MeetingType) -> list[KeyDate]:
    """A procedure's dated steps, recomputed from the meeting date (start = meeting - meeting_day)."""
    procedure = mtype.procedure
    if procedure is None or not procedure.steps or procedure.meeting_day is None or meeting.recommended_date is None:
        return []
    start = datetime.date.fromisoformat(meeting.recommended_date) - datetime.timedelta(days=procedure.meeting_day)
    return [
        KeyDate(
            id=s.id,
            label=s.label,
            date=(start + datetime.timedelta(days=s.day)).isoformat(),
            rule=" ".join(s.rule.split()) + (f" Set from {meeting.date_basis}." if s.id == "meeting" else ""),
        )
        for s in procedure.steps
    ]


def build_brief(result: AssessmentResult, program: ProgramFile, meeting: Meeting, types: MeetingKnowledge) -> Brief:
    """The meeting request and briefing package outline for ``meeting``, in the order its agency expects."""
    mtype = types.meeting_type(meeting.type)
    agency = types.agency(mtype)
    groups = [
        QuestionGroup(
            discipline=d, label=agency.discipline_label(d), questions=[q for q in meeting.questions if q.discipline == d]
        )
        for d in DISCIPLINE_ORDER
        if any(q.discipline == d for q in meeting.questions)
    ]
    labels = {q.number: _focus(q, mtype, types) for q in meeting.questions}
    focus = list(dict.fromkeys(labels.values()))
    attachments = [
        f"Attachment {q.number} (Question {q.number}; "
        + (f"CTD {q.ctd_section}" if q.ctd_section else "no Module 3 section")
        + f"): summary data behind the sponsor's position on {labels[q.number]}, with quantified results."
        for q in meeting.questions
    ]
    attachments.append(
        "[High-level description of the product, the manufacturing process, and the characterization and lot-release tests.]"
    )

    facts = derive_facts(program, datetime.date.fromisoformat(result.as_of))
    draft = _Draft(facts, {**facts.lists, **facts.scalars}, meeting, program, groups, attachments, focus, agency, types)

    def outline(entries: Iterable[OutlineEntry]) -> list[OutlineItem]:
        return [
            OutlineItem(
                number=n,
                id=e.id,
                title=e.title,
                lines=[" ".join(line.split()) for line in e.lines] or _outline_lines(e.id, draft),
                note=" ".join(e.note.split()) if e.note else None,
            )
            for n, e in enumerate(entries, 1)
        ]

    key_dates = _key_dates(meeting, mtype, agency, procedure_dates(meeting, mtype))
    cite_ids = list(dict.fromkeys([*meeting.citations, *agency.request_citations]))
    sources = [citation_ref(types.citations[cid]) for cid in cite_ids if cid in types.citations]
    finding_refs = {c.id: c for f in result.findings for c in f.citations}
    extra = sorted({cid for q in meeting.questions for cid in q.citations} - set(cite_ids))
    sources += [finding_refs[cid] for cid in extra if cid in finding_refs]
    numbers = {c.id: n for n, c in enumerate(sources, 1)}
    trace = [
        TraceEntry(
            item=f"Question {q.number}",
            rules=list(q.rules),
            findings=list(q.findings or ([q.finding] if q.finding else [])),
            severity=q.severity,
            facts=dict(q.facts),
            citations=list(q.citations),
        )
        for q in meeting.questions
    ]
    settings = types.settings
    cdrp_rules = set(settings.cdrp.rules)
    cdrp_findings = [f for f in result.findings if f.rule in cdrp_rules and f.status == "open" and f.kind != "undetermined"]
    if meeting.cdrp and cdrp_findings:
        first = cdrp_findings[0]
        trace.append(
            TraceEntry(
                item="CDRP note",
                rules=[first.rule],
                findings=[first.id],
                severity=first.severity,
                facts=dict(first.facts),
                citations=list(settings.cdrp.citations),
            )
        )
    label = meeting_label(meeting.name, meeting.fda_category)
    return Brief(
        meeting_label=label,
        fit_label=FIT_LABELS[meeting.fit],
        as_of_text=display.human_date(result.as_of),
        sponsor=program.program.sponsor,
        question_sources={q.number: [numbers[c] for c in q.citations if c in numbers] for q in meeting.questions},
        trace=trace,
        title=f"{label}: {result.program.name}",
        program=result.program,
        as_of=result.as_of,
        tool_version=result.tool.version,
        disclaimer=(
            f"Draft prepared by cmcadvisor {result.tool.version} from the assessment as of {result.as_of}. A planning aid, "
            f"not regulatory advice: check every date and fact against {agency.check_against}. "
            "Text in square brackets is for the sponsor to complete."
        ),
        meeting=meeting,
        key_dates=key_dates,
        request=outline(agency.request_outline),
        package=outline(agency.package_outline),
        question_groups=groups,
        attachments=attachments,
        sources=sources,
        agency=agency.id,
        agency_short=agency.short,
        request_title=agency.request_title,
        package_title=agency.package_title,
        when_to_ask=" ".join(mtype.when_to_ask.split()) if mtype.when_to_ask else None,
    )
