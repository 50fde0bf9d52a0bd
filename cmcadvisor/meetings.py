"""FDA meeting briefs: which meeting fits, when it can be held, and what to ask.

``load_meeting_types`` reads ``knowledge/meetings.yaml`` (the PDUFA VII meeting types and their
timelines) and ``knowledge/ctd_sections.yaml`` (where each topic goes in CTD Module 3).
``plan_meeting`` turns an assessment into one :class:`Meeting`: its dates, counted back from the
meeting date, and questions for FDA drawn from the open findings, one per topic (findings on the
same topic merge into one question that names each point). ``recommend_meetings`` gives the next
sensible meetings for the program's stage, and ``build_brief`` adds the meeting-request and
briefing-package outline the renderers print, in reader's words (display labels, no rule, finding
or citation ids, no fact paths), with the trace to rules, findings and facts kept apart for the
internal appendix.

Everything here is pure: dates come from ``result.as_of`` and the program's milestones, never
from the clock. This module formats no output and imports no renderer.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cmcadvisor import display
from cmcadvisor.dates import add_months
from cmcadvisor.errors import ErrorItem, KnowledgeError, UsageError, UserInputError
from cmcadvisor.loader import data_dir, load_document
from cmcadvisor.models.knowledge import (
    MEETING_TYPE_IDS,
    Citation,
    CitationsFile,
    CtdSection,
    CtdSectionsFile,
    MeetingsFile,
    MeetingType,
    PackageWithRequest,
)
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult, CitationRef, FindingResult, Meeting, MeetingQuestion, ProgramRef, Scalar
from cmcadvisor.models.rule import SEVERITY_RANK, TOPICS
from cmcadvisor.outcomes import citation_ref
from cmcadvisor.validation import validate_document

REQUEST_ITEM_IDS = frozenset(
    {
        "application_number",
        "product_name",
        "product_description",
        "pathway",
        "indication",
        "pediatric",
        "human_factors",
        "combination",
        "meeting_type",
        "purpose",
        "agenda",
        "questions",
        "sponsor_attendees",
        "fda_attendees",
        "dates",
        "format",
    }
)
PACKAGE_ITEM_IDS = frozenset(
    {
        "application_number",
        "product_name",
        "product_description",
        "pathway",
        "indication",
        "dosing",
        "pediatric_hf_combination",
        "sponsor_attendees",
        "background",
        "purpose",
        "agenda",
        "questions",
        "attachments",
    }
)
Fit = Literal["fits", "check", "does_not_fit"]
DISCIPLINE_ORDER: tuple[str, ...] = ("cmc", "nonclinical", "clinical", "regulatory", "business")
DISCIPLINE_LABELS: dict[str, str] = {
    "cmc": "Chemistry, manufacturing and controls (CMC)",
    "nonclinical": "Pharmacology/toxicology",
    "clinical": "Clinical",
    "regulatory": "Regulatory",
    "business": "Other",
}
MILESTONE_LABELS: dict[str, str] = {
    "ind_submission": "IND submission",
    "first_patient_dosed": "first patient dosed",
    "eop2_meeting": "end-of-phase-2 meeting",
    "pivotal_start": "pivotal study start",
    "pre_bla_meeting": "pre-BLA meeting",
    "bla_submission": "BLA submission",
    "bla_approval": "BLA approval",
    "commercial_launch": "commercial launch",
}
_FIT_LABELS: dict[str, str] = {
    "fits": "fits the program",
    "check": "to be checked (see the reasons below)",
    "does_not_fit": "does not fit the program",
}
# Where a program-file model's fields sit in the fact vocabulary (for their display labels).
_FIELD_PREFIX: dict[str, str] = {
    "Product": "product.",
    "Indication": "indication.",
    "Manufacturing": "manufacturing.",
    "Clinical": "clinical.",
}


# ---------------------------------------------------------------- words for readers


def _shown(fact: str, value: object) -> str:
    """A fact's value as a reader sees it: the display label of an enum value, never its id."""
    return display.label(fact, value)


def _fact_label(fact: str) -> str:
    """A fact's name as a reader sees it, capitalised to start a line."""
    text = display.fact_label(fact)
    return text[:1].upper() + text[1:]


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    """``1 question``, ``3 questions``."""
    return display.plural(count, singular, plural)


def _stages(mtype: MeetingType) -> str:
    return ", ".join(_shown("clinical.stage", s) for s in mtype.stages)


def _topic_label(topic: str, kn: MeetingKnowledge) -> str:
    entry = kn.ctd.get(topic)
    return entry.label if entry else topic.replace("_", " ")


def _meeting_name(type_id: str) -> str:
    """A meeting type id as words (the meeting type ids of the contract, and earlier interactions)."""
    return display.term(type_id)


# ---------------------------------------------------------------- knowledge


@dataclass(frozen=True)
class MeetingKnowledge:
    """Meeting types by id, CTD sections by topic, settings, and the citations they may use."""

    settings: MeetingsFile
    types: dict[str, MeetingType]
    ctd: dict[str, CtdSection]
    ctd_citations: tuple[str, ...]
    citations: dict[str, Citation]
    root: str

    def meeting_type(self, type_id: str) -> MeetingType:
        """The meeting type ``type_id``, or a usage error listing the valid ids."""
        found = self.types.get(type_id)
        if found is None:
            raise UsageError.single("--meeting", f"unknown meeting type {type_id!r}; expected one of {', '.join(self.types)}")
        return found


def _read_citations(folder: Path, display: str) -> dict[str, Citation]:
    found: dict[str, Citation] = {}
    for path in [folder / "citations.yaml", *sorted(folder.glob("citations-*.yaml"))]:
        if not path.is_file():
            continue
        shown = f"{display}/{path.name}"
        for citation in validate_document(load_document(path, display=shown), CitationsFile, KnowledgeError).citations:
            found[citation.id] = citation
    return found


def load_meeting_types(folder: Path | None = None, citations: Mapping[str, Citation] | None = None) -> MeetingKnowledge:
    """Load and cross-check ``meetings.yaml`` and ``ctd_sections.yaml``.

    ``folder`` is a knowledge folder (the built-in one by default). A folder without
    ``meetings.yaml`` (an organisation's knowledge pack that does not cover meetings) falls back
    to the built-in meeting knowledge. ``citations`` (e.g. ``KnowledgeBase.citations``) saves
    re-reading the citation files; otherwise they are read from the same folder.
    """
    builtin = data_dir("knowledge")
    base = folder if folder is not None and (folder / "meetings.yaml").is_file() else builtin
    shipped = base == builtin
    display = "knowledge" if shipped else str(base)
    if not base.is_dir():
        raise KnowledgeError.single(str(base), "knowledge directory not found")
    meetings_path, ctd_path = base / "meetings.yaml", base / "ctd_sections.yaml"
    for path in (meetings_path, ctd_path):
        if not path.is_file():
            raise KnowledgeError.single(f"{display}/{path.name}", "missing knowledge file")
    try:
        settings = validate_document(
            load_document(meetings_path, display=f"{display}/meetings.yaml"), MeetingsFile, KnowledgeError
        )
        ctd_file = validate_document(
            load_document(ctd_path, display=f"{display}/ctd_sections.yaml"), CtdSectionsFile, KnowledgeError
        )
        known = dict(citations) if citations is not None and base == (folder or builtin) else _read_citations(base, display)
    except KnowledgeError:
        raise
    except UserInputError as exc:
        raise KnowledgeError(exc.items) from None
    problems = _check(settings, ctd_file, known, display)
    if problems:
        raise KnowledgeError(problems)
    used = {cid for t in settings.types for cid in t.citations}
    used |= set(settings.cdrp.citations) | set(settings.request_citations) | set(ctd_file.citations)
    return MeetingKnowledge(
        settings=settings,
        types={tid: t for tid in MEETING_TYPE_IDS for t in settings.types if t.id == tid},
        ctd={s.topic: s for s in ctd_file.sections},
        ctd_citations=tuple(ctd_file.citations),
        citations={cid: known[cid] for cid in sorted(used)},
        root=display,
    )


def _check(settings: MeetingsFile, ctd_file: CtdSectionsFile, citations: Mapping[str, Citation], display: str) -> list[ErrorItem]:
    """Every cross-reference inside the meeting knowledge, as located problems."""
    problems: list[ErrorItem] = []
    meetings_src, ctd_src = f"{display}/meetings.yaml", f"{display}/ctd_sections.yaml"

    def cites(source: str, where: str, ids: Iterable[str]) -> None:
        problems.extend(ErrorItem(source, None, where, f"unknown citation {cid}") for cid in ids if cid not in citations)

    seen: set[str] = set()
    for index, mtype in enumerate(settings.types):
        where = f"types[{index}]"
        if mtype.id in seen:
            problems.append(ErrorItem(meetings_src, None, f"{where}.id", f"duplicate meeting type {mtype.id}"))
        seen.add(mtype.id)
        problems.extend(
            ErrorItem(meetings_src, None, f"{where}.topics", f"unknown topic {topic}")
            for topic in mtype.topics
            if topic not in TOPICS
        )
        if len(set(mtype.topics)) != len(mtype.topics):
            problems.append(ErrorItem(meetings_src, None, f"{where}.topics", "a topic is listed twice"))
        if mtype.question_min and mtype.question_limit and mtype.question_min > mtype.question_limit:
            problems.append(ErrorItem(meetings_src, None, f"{where}.question_min", "question_min is above question_limit"))
        cites(meetings_src, f"{where}.citations", mtype.citations)
    problems.extend(
        ErrorItem(meetings_src, None, "types", f"meeting type {tid} is missing") for tid in MEETING_TYPE_IDS if tid not in seen
    )
    for name, entries, allowed in (
        ("request_outline", settings.request_outline, REQUEST_ITEM_IDS),
        ("package_outline", settings.package_outline, PACKAGE_ITEM_IDS),
    ):
        ids = [e.id for e in entries]
        problems.extend(
            ErrorItem(
                meetings_src, None, f"{name}[{i}].id", f"unknown outline item {eid}; expected one of {', '.join(sorted(allowed))}"
            )
            for i, eid in enumerate(ids)
            if eid not in allowed
        )
        if "questions" not in ids:
            problems.append(ErrorItem(meetings_src, None, name, "the outline needs a 'questions' item"))
        if len(set(ids)) != len(ids):
            problems.append(ErrorItem(meetings_src, None, name, "an outline item is listed twice"))
    cites(meetings_src, "cdrp.citations", settings.cdrp.citations)
    cites(meetings_src, "request_citations", settings.request_citations)
    cites(ctd_src, "citations", ctd_file.citations)
    topics: set[str] = set()
    for index, section in enumerate(ctd_file.sections):
        if section.topic not in TOPICS:
            problems.append(ErrorItem(ctd_src, None, f"sections[{index}].topic", f"unknown topic {section.topic}"))
        if section.topic in topics:
            problems.append(ErrorItem(ctd_src, None, f"sections[{index}].topic", f"duplicate topic {section.topic}"))
        topics.add(section.topic)
    problems.extend(
        ErrorItem(ctd_src, None, "sections", f"topic {topic} has no entry") for topic in TOPICS if topic not in topics
    )
    return problems


# ---------------------------------------------------------------- dates


def _days(day: datetime.date, n: int) -> datetime.date:
    return day + datetime.timedelta(days=n)


def _milestones(program: ProgramFile) -> dict[str, datetime.date]:
    ms = program.clinical.milestones if program.clinical else None
    if ms is None:
        return {}
    return {name: value for name, value in ms.model_dump().items() if isinstance(value, datetime.date)}


@dataclass(frozen=True)
class _Schedule:
    meeting: datetime.date
    basis: str
    request_due: datetime.date
    package_due: datetime.date
    fda_reply_due: datetime.date
    preliminary_due: datetime.date
    sponsor_reply_due: datetime.date | None
    notes: tuple[str, ...]


def _meeting_date(
    mtype: MeetingType, as_of: datetime.date, ms: Mapping[str, datetime.date], desired: datetime.date | None
) -> tuple[datetime.date, str, list[str]]:
    """The meeting date (requested or proposed), how it was chosen, and scheduling warnings."""
    within = mtype.meeting_within_days
    earliest = _days(as_of, within)
    link = mtype.milestones
    notes: list[str] = []
    planned = ms.get(link.planned) if link and link.planned else None
    before = ms.get(link.before) if link and link.before else None
    if desired is not None:
        day, basis = desired, "the date requested for the meeting"
        if desired < earliest:
            notes.append(
                f"The requested date {desired.isoformat()} leaves less time than FDA's goal window: a request received on "
                f"{as_of.isoformat()} gives FDA until {earliest.isoformat()} ({within} days), so the request due date has "
                "passed and FDA may not meet the requested date."
            )
    elif planned is not None and link is not None and link.planned is not None:
        label = MILESTONE_LABELS[link.planned]
        if planned >= earliest:
            day, basis = planned, f"the planned {label} date in the program file"
        else:
            day = earliest
            basis = (
                f"the earliest date FDA's goal window allows ({as_of.isoformat()} + {within} days); the planned {label} "
                f"({planned.isoformat()}) is too soon for a request made now"
            )
            notes.append(
                f"The planned {label} ({planned.isoformat()}) cannot be met: move the milestone to "
                f"{earliest.isoformat()} or later."
            )
    elif before is not None and link is not None and link.before is not None and link.request_months_before:
        latest_request = add_months(before, -link.request_months_before)
        target = _days(latest_request, within)
        label = MILESTONE_LABELS[link.before]
        if target >= earliest:
            day = target
            basis = (
                f"the latest request date {link.request_months_before} months before the planned {label} "
                f"({before.isoformat()}), plus FDA's {within}-day goal window"
            )
        else:
            day = earliest
            basis = f"the earliest date FDA's goal window allows ({as_of.isoformat()} + {within} days)"
    else:
        day = earliest
        basis = f"the earliest date FDA's goal window allows ({as_of.isoformat()} + {within} days)"
    if before is not None and link is not None and link.before is not None:
        label = MILESTONE_LABELS[link.before]
        if day >= before:
            notes.append(
                f"The meeting on {day.isoformat()} is not before the planned {label} ({before.isoformat()}); hold the meeting "
                f"earlier or move the {label}."
            )
        if link.request_months_before:
            latest_request = add_months(before, -link.request_months_before)
            request_due = _days(day, -within)
            if request_due > latest_request:
                notes.append(
                    f"The request would go in after {latest_request.isoformat()}, later than {link.request_months_before} months "
                    f"before the planned {label}. {link.request_basis or ''}".strip()
                )
    return day, basis, notes


def _schedule(mtype: MeetingType, as_of: datetime.date, program: ProgramFile, desired: datetime.date | None) -> _Schedule:
    day, basis, notes = _meeting_date(mtype, as_of, _milestones(program), desired)
    request_due = _days(day, -mtype.meeting_within_days)
    package_due = request_due if isinstance(mtype.package, PackageWithRequest) else _days(day, -mtype.package.days_before)
    preliminary = _days(day, -mtype.preliminary_responses_days_before)
    reply = mtype.sponsor_reply
    if reply.days_after_preliminary is not None:
        sponsor: datetime.date | None = _days(preliminary, reply.days_after_preliminary)
    elif reply.days_before_meeting is not None:
        sponsor = _days(day, -reply.days_before_meeting)
    else:
        sponsor = None
    if day < as_of:
        notes.append(f"The meeting date {day.isoformat()} is before the assessment date {as_of.isoformat()}.")
    return _Schedule(
        meeting=day,
        basis=basis,
        request_due=request_due,
        package_due=package_due,
        fda_reply_due=_days(request_due, mtype.reply_days),
        preliminary_due=preliminary,
        sponsor_reply_due=sponsor,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- fit


def _held(program: ProgramFile, as_of: datetime.date) -> dict[str, datetime.date | None]:
    """Meeting types already held (an interaction dated on or before as_of, or undated)."""
    held: dict[str, datetime.date | None] = {}
    for item in program.interactions or []:
        if item.date is None or item.date <= as_of:
            held[item.type] = item.date
    return held


def _pre_ind_ready(program: ProgramFile) -> tuple[bool | None, str]:
    """Whether the program is far enough along for a pre-IND rather than an INTERACT meeting."""
    m = program.manufacturing
    process = m.process_status if m else None
    methods = m.analytical_methods if m else None
    potency = m.potency_assay.status if m and m.potency_assay else None
    if process is None:
        return None, "the manufacturing process status is not given, so cmcadvisor cannot tell INTERACT from pre-IND readiness"
    if process == "research":
        return False, (
            "the manufacturing process for the clinical studies is not yet defined (process status: research), "
            "which is INTERACT territory"
        )
    if methods is None and potency in (None, "none"):
        return None, (
            f"the process is defined (process status: {_shown('manufacturing.process_status', process)}) but no assays are "
            "recorded (analytical methods, potency assay status); pre-IND expects assays and preliminary "
            "lot-release criteria"
        )
    return True, (
        f"the clinical manufacturing process is defined (process status: {_shown('manufacturing.process_status', process)}) "
        f"and assays exist (analytical methods: {_shown('manufacturing.analytical_methods', methods)}; potency assay: "
        f"{_shown('manufacturing.potency_assay.status', potency)}), which is pre-IND territory"
    )


def _stage_text(program: ProgramFile) -> tuple[str | None, str | None]:
    clinical = program.clinical
    return (clinical.stage if clinical else None), (clinical.ind_status if clinical else None)


def _fit(
    mtype: MeetingType, program: ProgramFile, as_of: datetime.date, n_questions: int, candidate_topics: int
) -> tuple[Fit, list[str]]:
    stage, ind_status = _stage_text(program)
    reasons: list[str] = []
    fit: Fit
    if stage is None:
        fit = "check"
        reasons.append("The clinical stage is not given; cmcadvisor cannot tell whether this meeting suits the program's stage.")
    elif stage in mtype.stages:
        fit = "fits"
        reasons.append(
            f"The program's stage ({_shown('clinical.stage', stage)}) is one the {mtype.name} serves ({_stages(mtype)})."
        )
    else:
        fit = "does_not_fit"
        reasons.append(
            f"The program's stage ({_shown('clinical.stage', stage)}) is not one the {mtype.name} usually serves "
            f"({_stages(mtype)})."
        )
    held = _held(program, as_of)
    ms = _milestones(program)

    def downgrade(to: Fit) -> None:
        nonlocal fit
        order: dict[Fit, int] = {"fits": 0, "check": 1, "does_not_fit": 2}
        if order[to] > order[fit]:
            fit = to

    if mtype.id in ("interact", "pre_ind"):
        if ind_status in ("active", "clinical_hold"):
            downgrade("does_not_fit")
            reasons.append(
                f"The IND is already {ind_status.replace('_', ' ')}; INTERACT and pre-IND meetings come before the IND."
            )
        ready, why = _pre_ind_ready(program)
        if ready is None:
            downgrade("check")
            reasons.append(why[0].upper() + why[1:] + ".")
        elif mtype.id == "pre_ind":
            if not ready:
                downgrade("does_not_fit")
                reasons.append(f"Premature for pre-IND: {why}. An INTERACT meeting may fit better.")
            else:
                reasons.append(f"Pre-IND fits: {why}.")
        elif ready:
            downgrade("does_not_fit")
            reasons.append(f"Too advanced for INTERACT: {why}. A pre-IND meeting fits better.")
        else:
            reasons.append(f"INTERACT fits: {why}.")
    if mtype.id == "type_a":
        if ind_status == "clinical_hold":
            reasons.append("The IND is on clinical hold: a Type A meeting is the route for clinical hold discussions.")
        else:
            downgrade("check")
            reasons.append(
                "A Type A meeting needs a stalled program or an important safety issue; the program file does not show one "
                "(the IND is not on clinical hold)."
            )
    if mtype.id == "eop2" and stage == "phase1" and "eop2_meeting" in ms:
        fit = "check"
        reasons.append("The program file plans an end-of-phase-2 meeting from phase 1.")
    if mtype.id == "pre_bla" and stage == "phase2" and ("bla_submission" in ms or "pre_bla_meeting" in ms):
        fit = "check"
        reasons.append(
            "The pre-BLA meeting is ahead of the program: plan it now, request it after the pivotal study is under way."
        )
    milestone_types = ("interact", "pre_ind", "eop1", "eop2", "pre_bla")
    if mtype.id in held and mtype.id in milestone_types:
        when = held[mtype.id]
        downgrade("check")
        extra = " OTP generally grants one pre-BLA meeting per product and indication." if mtype.id == "pre_bla" else ""
        reasons.append(f"The {mtype.name} was already held ({when.isoformat() if when else 'date not given'}).{extra}")
    if mtype.id == "type_d" and "type_d" in held:
        when = held["type_d"]
        reasons.append(
            f"A Type D meeting was already held ({when.isoformat() if when else 'date not given'}); several Type D meetings "
            "close together should be one Type B or Type C meeting instead."
        )
    if mtype.id == "type_d" and mtype.topic_limit and candidate_topics > mtype.topic_limit:
        reasons.append(
            f"The open findings span {candidate_topics} topics and a Type D meeting takes at most {mtype.topic_limit}; raise the "
            "others at a Type B or Type C meeting."
        )
    if mtype.id == "type_c" and n_questions > 0 and candidate_topics <= 2:
        reasons.append("The questions are few and narrow: a Type D meeting (at most 2 topics, 3 to 5 questions) may be quicker.")
    if mtype.question_min and n_questions < mtype.question_min:
        downgrade("check")
        reasons.append(
            f"Only {_plural(n_questions, 'question')} (counting each point of a merged question) could be drawn from the "
            f"findings; the {mtype.name} expects at least {mtype.question_min}."
        )
    if fit == "does_not_fit":
        suggested = suggest_types(program, as_of)
        if suggested:
            names = ", ".join(_meeting_name(t) for t in suggested)
            reasons.append(f"For this program cmcadvisor suggests: {names}.")
    return fit, reasons


# ---------------------------------------------------------------- questions


@dataclass(frozen=True)
class _Candidate:
    severity: int
    rank: int
    finding: FindingResult
    relevant: tuple[str, ...]
    also: tuple[FindingResult, ...] = ()


def _non_us(finding: FindingResult, markers: Iterable[str]) -> bool:
    """A finding whose sources are all EU or Japanese authorities (no FDA or US source): not for FDA."""
    issuers = [c.issuer for c in finding.citations]
    if not issuers or any("FDA" in i or i.startswith("US ") for i in issuers):
        return False
    return any(m in i for i in issuers for m in markers)


def _discipline(topic: str, kn: MeetingKnowledge) -> str:
    entry = kn.ctd.get(topic)
    return entry.discipline if entry else "cmc"


def _candidates(result: AssessmentResult, mtype: MeetingType, kn: MeetingKnowledge) -> list[_Candidate]:
    """Open findings a meeting of this type could ask about, most severe and most relevant first."""
    cdrp_rules = set(kn.settings.cdrp.rules)
    by_rule: dict[str, _Candidate] = {}
    for finding in result.findings:
        if finding.status != "open" or finding.kind == "undetermined" or finding.rule in cdrp_rules:
            continue
        if "fda_meeting" in finding.topics or _non_us(finding, kn.settings.non_us_issuers):
            continue
        if finding.topics and _discipline(finding.topics[0], kn) == "business":
            continue
        relevant = tuple(t for t in finding.topics if t in mtype.topics)
        if not relevant:
            continue
        rank = min(mtype.topics.index(t) for t in relevant)
        current = by_rule.get(finding.rule)
        candidate = _Candidate(SEVERITY_RANK[finding.severity], rank, finding, relevant)
        if current is None:
            by_rule[finding.rule] = candidate
        elif (candidate.severity, finding.id) < (current.severity, current.finding.id):
            by_rule[finding.rule] = _Candidate(candidate.severity, rank, finding, relevant, (current.finding, *current.also))
        else:
            by_rule[finding.rule] = _Candidate(
                current.severity, current.rank, current.finding, current.relevant, (*current.also, finding)
            )
    return sorted(by_rule.values(), key=lambda c: (c.severity, c.rank, c.finding.id))


def _select(
    cands: list[_Candidate], mtype: MeetingType, kn: MeetingKnowledge
) -> tuple[dict[str, list[_Candidate]], list[str], int]:
    """The candidates the draft keeps, merged by topic (one question each), within the type's limits.

    A candidate joins the question on its own main topic; under a topic limit (Type D) it may join
    a kept topic it shares instead. The number of questions is capped by the type's question limit
    or cmcadvisor's default; where a type limits questions (Type D: 3 to 5), each merged point
    counts as one, since the question asks about each. Returns the questions' candidates by topic,
    the kept topics where the type limits them, and how many candidates were left out.
    """
    limited = mtype.topic_limit is not None or mtype.question_limit is not None or mtype.discipline_limit is not None
    cap = min(mtype.question_limit or kn.settings.max_questions, kn.settings.max_questions)
    groups: dict[str, list[_Candidate]] = {}
    disciplines: list[str] = []
    points = 0
    left_out = 0
    for cand in cands:
        own = cand.relevant[0]
        topic = own
        if own not in groups and mtype.topic_limit is not None:
            topic = next((t for t in cand.relevant if t in groups), own)
        if topic not in groups:
            discipline = _discipline(topic, kn)
            new_discipline = discipline not in disciplines
            if (
                len(groups) >= cap
                or (mtype.topic_limit is not None and len(groups) >= mtype.topic_limit)
                or (new_discipline and mtype.discipline_limit is not None and len(disciplines) >= mtype.discipline_limit)
            ):
                left_out += 1
                continue
        if mtype.question_limit is not None and points >= mtype.question_limit:
            left_out += 1
            continue
        if topic not in groups:
            groups[topic] = []
            if _discipline(topic, kn) not in disciplines:
                disciplines.append(_discipline(topic, kn))
        groups[topic].append(cand)
        points += 1
    return groups, (list(groups) if limited else []), left_out


def _sentence_start(title: str) -> str:
    """A finding title as the end of a sentence: no final stop, a capital kept only for acronyms."""
    text = title.strip().rstrip(".?!")
    word = text.split()[0].rstrip(":,;") if text else ""
    if word and word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return text[0].lower() + text[1:]
    return text


def _points_text(points: list[str]) -> str:
    """The points a question asks about, as the end of the question."""
    if len(points) == 1:
        return f"in particular on this point: {points[0]}"
    lettered = [f"({chr(ord('a') + i)}) {p}" for i, p in enumerate(points)]
    return "in particular on these points: " + "; ".join(lettered[:-1]) + f"; and {lettered[-1]}"


def _question(topic: str, members: list[_Candidate], mtype: MeetingType, kn: MeetingKnowledge) -> MeetingQuestion:
    """One question for FDA on ``topic``, merging every kept finding on it (the most severe first)."""
    findings = [c.finding for c in members]
    lead = findings[0]
    entry = kn.ctd.get(topic)
    label = entry.label if entry else topic.replace("_", " ")
    topics = list(dict.fromkeys([topic, *(t for f in findings for t in f.topics)]))
    section = next((kn.ctd[t].section for t in (topic, *lead.topics) if t in kn.ctd and kn.ctd[t].section), None)
    rules = sorted({f.rule for c in members for f in (c.finding, *c.also)})
    ids = list(dict.fromkeys(f.id for c in members for f in (c.finding, *c.also)))
    points = list(dict.fromkeys(_sentence_start(f.title) for f in findings))
    facts: dict[str, Scalar | list[str]] = {}
    for finding in findings:
        for name, value in finding.facts.items():
            facts.setdefault(name, value)
    details = list(dict.fromkeys(f.detail for f in findings))
    default = f"Does the Agency agree that the sponsor's proposed approach to {label} is adequate"
    ask = entry.ask if entry and entry.ask else default
    where = f" (CTD {section})" if section else ""
    each = ", answering each point of the question" if len(points) > 1 else ""
    return MeetingQuestion(
        text=f"{ask} {mtype.milestone_phrase}, {_points_text(points)}?",
        topics=topics,
        ctd_section=section,
        rules=rules,
        discipline=entry.discipline if entry else "cmc",
        context=" ".join(details),
        facts=facts,
        sponsor_position=(
            f"[Sponsor's position on {label}: state the proposal and why it is adequate{each}, with the supporting data "
            f"in the attachment for this question{where}.]"
        ),
        finding=lead.id,
        severity=lead.severity,
        citations=list(dict.fromkeys(c.id for f in findings for c in f.citations)),
        findings=ids,
        points=points,
    )


def _questions(
    result: AssessmentResult, mtype: MeetingType, kn: MeetingKnowledge
) -> tuple[list[MeetingQuestion], int, list[str], int]:
    """Numbered questions (one per topic) grouped by discipline; findings left out; kept topics; topic spread."""
    cands = _candidates(result, mtype, kn)
    groups, chosen_topics, left_out = _select(cands, mtype, kn)
    spread = len({c.relevant[0] for c in cands})
    drafts: list[tuple[int, int, int, str, MeetingQuestion]] = []
    for topic, members in groups.items():
        question = _question(topic, members, mtype, kn)
        order = DISCIPLINE_ORDER.index(question.discipline) if question.discipline in DISCIPLINE_ORDER else len(DISCIPLINE_ORDER)
        first = members[0]
        drafts.append((order, first.severity, first.rank, first.finding.id, question))
    drafts.sort(key=lambda d: d[:4])
    numbered = [d[4].model_copy(update={"number": n}) for n, d in enumerate(drafts, 1)]
    return numbered, left_out, chosen_topics, spread


def _agenda(questions: list[MeetingQuestion]) -> list[str]:
    items = ["Introductions and the objectives of the meeting"]
    for discipline in DISCIPLINE_ORDER:
        numbers = [q.number for q in questions if q.discipline == discipline]
        if not numbers:
            continue
        span = f"Question {numbers[0]}" if len(numbers) == 1 else f"Questions {numbers[0]}–{numbers[-1]}"
        items.append(f"{DISCIPLINE_LABELS[discipline]}: {span}")
    items.append("Summary of agreements, action items and next steps")
    return items


def _cdrp(result: AssessmentResult, kn: MeetingKnowledge) -> str | None:
    rules = set(kn.settings.cdrp.rules)
    for finding in result.findings:
        if finding.rule in rules and finding.status == "open" and finding.kind != "undetermined":
            return kn.settings.cdrp.note
    return None


# ---------------------------------------------------------------- planning


def plan_meeting(
    result: AssessmentResult,
    program: ProgramFile,
    meeting_type: str,
    desired: datetime.date | None,
    types: MeetingKnowledge,
) -> Meeting:
    """One FDA meeting for the program: dates per the PDUFA VII timelines and questions from the findings.

    ``desired`` is the wanted meeting date; without it the date is proposed from the program's
    milestones, never earlier than ``as_of`` plus the type's goal window.
    """
    mtype = types.meeting_type(meeting_type)
    as_of = datetime.date.fromisoformat(result.as_of)
    sched = _schedule(mtype, as_of, program, desired)
    questions, left_out, chosen_topics, spread = _questions(result, mtype, types)
    fit, reasons = _fit(mtype, program, as_of, sum(max(1, len(q.points)) for q in questions), spread)
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
            limits.append(f"Topics kept: {'; '.join(_topic_label(t, types) for t in chosen_topics)}.")
    if left_out:
        cap = (
            ""
            if mtype.question_limit
            else f" (cmcadvisor keeps {types.settings.max_questions} questions, one per topic; a drafting choice, "
            "not an FDA limit)"
        )
        limits.append(
            f"{_plural(left_out, 'further open finding')} could also be raised; the draft keeps the most pressing{cap}."
        )
    assumptions: list[str] = []
    if mtype.category_note:
        assumptions.append(mtype.category_note)
    assumptions.extend(mtype.assumptions)
    if mtype.package_alternative:
        assumptions.append(
            f"{mtype.package_alternative} If the package had to go with the request, it would be due on "
            f"{sched.request_due.isoformat()} instead of {sched.package_due.isoformat()}."
        )
    if mtype.preliminary_responses_guidance_days_before is not None:
        alt = _days(sched.meeting, -mtype.preliminary_responses_guidance_days_before)
        assumptions.append(
            f"Preliminary responses are dated {mtype.preliminary_responses_days_before} days before the meeting "
            f"({sched.preliminary_due.isoformat()}); with the guidance default of "
            f"{mtype.preliminary_responses_guidance_days_before} days they would come by {alt.isoformat()}."
        )
    end = types.settings.pdufa_vii_end
    if sched.meeting > end or sched.request_due > end:
        assumptions.append(types.settings.pdufa_note)
    assumptions.append(types.settings.scheduling_note)
    assumptions.append(
        "Dates are calendar days counted from FDA's receipt of the request; weekends and US federal holidays are not "
        "moved. The request due date is the last day FDA can receive the request for its goal window to reach the meeting date; "
        "FDA sets the final date and format."
    )
    cdrp = _cdrp(result, types)
    citations = list(dict.fromkeys([*mtype.citations, *(types.settings.cdrp.citations if cdrp else [])]))
    if any(q.ctd_section for q in questions):
        citations.extend(c for c in types.ctd_citations if c not in citations)
    return Meeting(
        type=mtype.id,
        fda_category=mtype.fda_category,
        purpose=" ".join(mtype.purpose.split()),
        recommended_date=sched.meeting.isoformat(),
        request_due=sched.request_due.isoformat(),
        package_due=sched.package_due.isoformat(),
        questions=questions,
        name=mtype.name,
        date_basis=sched.basis,
        fda_reply_due=sched.fda_reply_due.isoformat(),
        preliminary_responses_due=sched.preliminary_due.isoformat(),
        sponsor_reply_due=sched.sponsor_reply_due.isoformat() if sched.sponsor_reply_due else None,
        meeting_within_days=mtype.meeting_within_days,
        package_rule=mtype.package.rule,
        preliminary_responses_rule=f"At least {mtype.preliminary_responses_days_before} days before the meeting.",
        sponsor_reply_rule=mtype.sponsor_reply.rule,
        meeting_minutes=mtype.meeting_minutes,
        fit=fit,
        fit_reasons=reasons,
        date_notes=list(sched.notes),
        limits=limits,
        agenda=_agenda(questions),
        assumptions=[" ".join(a.split()) for a in assumptions],
        cdrp=" ".join(cdrp.split()) if cdrp else None,
        citations=citations,
    )


def suggest_types(program: ProgramFile, as_of: datetime.date) -> list[str]:
    """The meeting type ids that come next for the program's stage (deterministic, most urgent first)."""
    stage, ind_status = _stage_text(program)
    held = _held(program, as_of)
    ms = _milestones(program)
    out: list[str] = []
    if ind_status == "clinical_hold":
        out.append("type_a")
    early = stage == "preclinical" or (stage is None and ind_status in (None, "none", "planned"))
    if early and ind_status not in ("active", "clinical_hold"):
        ready, _ = _pre_ind_ready(program)
        if ready is False and "interact" not in held:
            out.append("interact")
        elif "pre_ind" not in held:
            out.append("pre_ind")
    if stage == "phase1":
        if "eop2_meeting" in ms or "pivotal_start" in ms:
            if "eop2" not in held:
                out.append("eop2")
        elif "eop1" not in held:
            out.append("eop1")
    if stage == "phase2" and "eop2" not in held:
        out.append("eop2")
    pre_bla_due = stage in ("pivotal", "bla_preparation") or (
        stage == "phase2" and ("bla_submission" in ms or "pre_bla_meeting" in ms)
    )
    if pre_bla_due and "pre_bla" not in held:
        out.append("pre_bla")
    if stage == "approved":
        out.append("type_c")
    return out


def recommend_meetings(result: AssessmentResult, program: ProgramFile, types: MeetingKnowledge) -> list[Meeting]:
    """The next sensible FDA meetings for the program (for ``result.meetings``), earliest first."""
    as_of = datetime.date.fromisoformat(result.as_of)
    meetings = [plan_meeting(result, program, tid, None, types) for tid in suggest_types(program, as_of)]
    return sorted(meetings, key=lambda m: (m.recommended_date or "", MEETING_TYPE_IDS.index(m.type)))


# ---------------------------------------------------------------- the brief


class _BriefModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeyDate(_BriefModel):
    """One date of the meeting timeline."""

    id: str
    label: str
    date: str | None
    rule: str


class OutlineItem(_BriefModel):
    """One numbered item of the meeting request or briefing package."""

    number: int
    id: str
    title: str
    lines: list[str] = Field(default_factory=list)
    note: str | None = None


class QuestionGroup(_BriefModel):
    """The questions for one FDA discipline."""

    discipline: str
    label: str
    questions: list[MeetingQuestion]


class TraceEntry(_BriefModel):
    """Where one part of the brief comes from, for the internal traceability appendix (never the body)."""

    item: str
    rules: list[str] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    severity: str | None = None
    facts: dict[str, Scalar | list[str]] = Field(default_factory=dict)
    citations: list[str] = Field(default_factory=list)


class Brief(_BriefModel):
    """A meeting, its request and package outline, and the sources behind them: what the renderers print.

    Everything but ``trace`` is FDA-facing text: no rule, finding or citation ids and no fact paths.
    ``question_sources`` gives each question's sources as numbers into ``sources`` (1-based).
    """

    title: str
    program: ProgramRef
    as_of: str
    tool_version: str
    disclaimer: str
    meeting: Meeting
    key_dates: list[KeyDate]
    request: list[OutlineItem]
    package: list[OutlineItem]
    question_groups: list[QuestionGroup]
    attachments: list[str]
    sources: list[CitationRef]
    fit_label: str = ""
    as_of_text: str = ""
    sponsor: str | None = None
    question_sources: dict[int, list[int]] = Field(default_factory=dict)
    trace: list[TraceEntry] = Field(default_factory=list)


def _fields(model: BaseModel | None, names: Iterable[str]) -> list[str]:
    if model is None:
        return []
    data = model.model_dump()
    prefix = _FIELD_PREFIX.get(type(model).__name__, "")
    return [f"{_fact_label(prefix + name)}: {_shown(prefix + name, data[name])}" for name in names if data.get(name) is not None]


def _focus(question: MeetingQuestion, mtype: MeetingType, kn: MeetingKnowledge) -> str:
    """The topic a question is about, as words (its first topic the meeting type covers)."""
    topic = next((t for t in question.topics if t in mtype.topics), question.topics[0] if question.topics else "")
    entry = kn.ctd.get(topic)
    return entry.label if entry else topic.replace("_", " ")


def _outline_lines(
    item: str, meeting: Meeting, program: ProgramFile, groups: list[QuestionGroup], attachments: list[str], focus: list[str]
) -> list[str]:
    """The content of one outline item, from the program file, or a bracketed placeholder."""
    p, prod, ind, clin, mfg = program.program, program.product, program.indication, program.clinical, program.manufacturing
    ind_status = clin.ind_status if clin else None
    if item == "application_number":
        if ind_status in ("active", "clinical_hold"):
            return ["IND [number]"]
        return [f"Not yet assigned: no IND is open (IND status: {_shown('clinical.ind_status', ind_status)})."]
    if item == "product_name":
        return [f"{p.name} (program {p.id})" + (f", sponsored by {p.sponsor}" if p.sponsor else "")]
    if item == "product_description":
        names = ("cell_source", "cell_type", "engineered_receptor", "genetic_modification", "delivery", "vector", "editing")
        return [*_fields(prod, names), "[A short description of the product and its mechanism of action.]"]
    if item == "pathway":
        if prod is not None and prod.regulated_solely_under_361:
            return ["Regulated solely under section 361 of the PHS Act (no BLA) [confirm whether a formal meeting applies]."]
        return ["Biologics license application under section 351(a) of the PHS Act [confirm]."]
    if item == "indication":
        lines = [ind.name if ind and ind.name else "[Indication]"]
        lines += _fields(ind, ("serious_condition", "life_threatening", "unmet_medical_need", "rare_disease"))
        return lines
    if item == "pediatric":
        if ind is not None and ind.pediatric_onset:
            return ["Applicable: the serious manifestations mainly affect children. [Summarise the pediatric study plan.]"]
        return ["[State whether pediatric study plans apply; summarise them if so.]"]
    if item == "human_factors":
        return ["[If applicable: the human factors engineering plan.]"]
    if item == "combination":
        return ["[If applicable: the constituent parts and device details of a combination product.]"]
    if item == "pediatric_hf_combination":
        return [
            *_outline_lines("pediatric", meeting, program, groups, attachments, focus),
            "[If applicable: human factors engineering plan and combination product information.]",
        ]
    if item == "meeting_type":
        return [f"{meeting.name} ({meeting.fda_category}). {meeting.purpose}", *meeting.fit_reasons]
    if item == "purpose":
        lines = [
            f"To obtain the Agency's feedback on {_plural(len(meeting.questions), 'question')} "
            + (f"on {', '.join(focus)}." if focus else "[list the topics]."),
            f"Program stage: {_shown('clinical.stage', clin.stage if clin else None)}; "
            f"IND status: {_shown('clinical.ind_status', ind_status)}.",
            "[Background of the issues, completed and planned studies, the data to be discussed, and where the meeting "
            "fits in development.]",
        ]
        return lines
    if item == "agenda":
        total = f" (about {meeting.meeting_minutes} minutes in all)" if meeting.meeting_minutes else ""
        return [f"{a} [minutes]" for a in meeting.agenda] + [f"Meeting length{total}."]
    if item == "questions":
        return [
            f"Question {q.number} ({DISCIPLINE_LABELS.get(q.discipline, q.discipline)}): {q.text}"
            for g in groups
            for q in g.questions
        ]
    if item == "sponsor_attendees":
        return ["[Names, titles and affiliations, including consultants and interpreters.]"]
    if item == "fda_attendees":
        needed = [g.label for g in groups]
        return [
            f"Disciplines the questions need: {', '.join(needed) if needed else '[disciplines]'}.",
            "[Justify any FDA staff requested beyond these disciplines.]",
        ]
    if item == "dates":
        return [
            f"Requested meeting date: {meeting.recommended_date} ({meeting.date_basis}).",
            "[Two alternative dates and times.]",
            *meeting.date_notes,
        ]
    if item == "format":
        return ["[In person, virtual face-to-face, teleconference or written response only; FDA decides the final format.]"]
    if item == "dosing":
        lines = _fields(prod, ("formulation", "route"))
        lines += _fields(ind, ("doses_per_patient",))
        return [*lines, "[Dose, dosing regimen (frequency and duration) and presentation.]"]
    if item == "background":
        lines = [
            f"Stage: {_shown('clinical.stage', clin.stage if clin else None)}; "
            f"IND status: {_shown('clinical.ind_status', ind_status)}."
        ]
        ms = _milestones(program)
        if ms:
            lines.append(
                "Planned milestones: " + "; ".join(f"{MILESTONE_LABELS[k]} {v.isoformat()}" for k, v in ms.items()) + "."
            )
        for inter in program.interactions or []:
            cmc = {True: ", CMC discussed", False: ", CMC not discussed", None: ""}[inter.cmc_discussed]
            lines.append(
                f"Earlier FDA interaction: {_meeting_name(inter.type)} "
                f"({inter.date.isoformat() if inter.date else 'date not given'}{cmc})."
            )
        if mfg is not None:
            lines += _fields(
                mfg, ("strategy", "process_status", "analytical_methods", "release_turnaround_days", "stability_months")
            )
            if mfg.potency_assay and mfg.potency_assay.status:
                lines.append(f"Potency assay: {_shown('manufacturing.potency_assay.status', mfg.potency_assay.status)}")
        desig = program.designations
        if desig is not None:
            granted = [name for name, value in desig.model_dump().items() if value == "granted"]
            if granted:
                lines.append(f"Designations granted: {', '.join(display.fact_label('designations.' + g) for g in granted)}.")
        lines.append("[A short history of the program and the events leading to this meeting.]")
        return lines
    if item == "attachments":
        return attachments
    return []  # pragma: no cover - outline ids are checked when the knowledge is loaded


def build_brief(result: AssessmentResult, program: ProgramFile, meeting: Meeting, types: MeetingKnowledge) -> Brief:
    """The meeting request and briefing package outline for ``meeting``, in the order FDA expects."""
    groups = [
        QuestionGroup(discipline=d, label=DISCIPLINE_LABELS[d], questions=[q for q in meeting.questions if q.discipline == d])
        for d in DISCIPLINE_ORDER
        if any(q.discipline == d for q in meeting.questions)
    ]
    mtype = types.meeting_type(meeting.type)
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
    settings = types.settings

    def outline(entries: Iterable[tuple[str, str, str | None]]) -> list[OutlineItem]:
        return [
            OutlineItem(
                number=n,
                id=eid,
                title=title,
                lines=_outline_lines(eid, meeting, program, groups, attachments, focus),
                note=" ".join(note.split()) if note else None,
            )
            for n, (eid, title, note) in enumerate(entries, 1)
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
    cite_ids = list(dict.fromkeys([*meeting.citations, *settings.request_citations]))
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
    return Brief(
        fit_label=_FIT_LABELS[meeting.fit],
        as_of_text=display.human_date(result.as_of),
        sponsor=program.program.sponsor,
        question_sources={q.number: [numbers[c] for c in q.citations if c in numbers] for q in meeting.questions},
        trace=trace,
        title=f"{meeting.name} ({meeting.fda_category}): {result.program.name}",
        program=result.program,
        as_of=result.as_of,
        tool_version=result.tool.version,
        disclaimer=(
            f"Draft prepared by cmcadvisor {result.tool.version} from the assessment as of {result.as_of}. A planning aid, "
            "not regulatory advice: check every date and fact against FDA's current guidance and the review division. "
            "Text in square brackets is for the sponsor to complete."
        ),
        meeting=meeting,
        key_dates=key_dates,
        request=outline((e.id, e.title, e.note) for e in settings.request_outline),
        package=outline((e.id, e.title, e.note) for e in settings.package_outline),
        question_groups=groups,
        attachments=attachments,
        sources=sources,
    )
