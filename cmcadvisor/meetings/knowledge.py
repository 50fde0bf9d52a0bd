"""Loading and cross-checking the meeting knowledge: ``knowledge/meetings.yaml``, ``ctd_sections.yaml`` and the outline prose.

:func:`load_meeting_types` validates the files (the outline prose is ``templates/brief_outline.yaml``),
checks every cross-reference (agencies, topics,
outline items, citations, and the facts the fit tests name) and compiles the fit tests once, so
that planning a meeting never re-parses anything. This module must not plan meetings or format
text for readers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cmcadvisor.conditions import Node, literals, to_nnf
from cmcadvisor.errors import ErrorItem, KnowledgeError, UsageError, UserInputError
from cmcadvisor.facts import vocabulary
from cmcadvisor.loader import data_dir, load_document
from cmcadvisor.models.knowledge import Citation, CitationsFile
from cmcadvisor.models.meetings import (
    BRIEF_MEETING_TYPE_IDS,
    MEETING_TYPE_IDS,
    Agency,
    CtdSection,
    CtdSectionsFile,
    MeetingsFile,
    MeetingType,
    OutlineProseFile,
)
from cmcadvisor.models.rule import TOPICS, Condition
from cmcadvisor.validation import load_model, validate_document

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
# Facts the fit tests may use besides the program's (set per meeting type by the evaluator).
MEETING_FACTS = frozenset(
    {"meeting.held", "meeting.held_on", "meeting.question_points", "meeting.topic_spread", "meeting.name", "meetings.held"}
)


@dataclass(frozen=True)
class CompiledFit:
    """One fit test with its conditions in negation normal form (compiled once, at load)."""

    index: int
    given: Node | None
    when: Node


@dataclass(frozen=True)
class MeetingKnowledge:
    """Agencies and meeting types by id, CTD sections by topic, settings, and the citations they may use."""

    settings: MeetingsFile
    types: dict[str, MeetingType]
    ctd: dict[str, CtdSection]
    ctd_citations: tuple[str, ...]
    citations: dict[str, Citation]
    root: str
    agencies: dict[str, Agency] = field(default_factory=dict)
    fit_tests: dict[str, tuple[CompiledFit, ...]] = field(default_factory=dict, repr=False)
    suggest: dict[str, Node] = field(default_factory=dict, repr=False)
    outline: OutlineProseFile = field(default_factory=lambda: OutlineProseFile(items={}), repr=False)
    nodes: dict[int, Node] = field(default_factory=dict, repr=False)  # the outline's conditions, by id(), compiled once

    def node(self, condition: Condition) -> Node:
        """The compiled form of one of the outline's conditions."""
        return self.nodes[id(condition)]

    def meeting_type(self, type_id: str) -> MeetingType:
        """The meeting type ``type_id``, or a usage error listing the valid ids."""
        found = self.types.get(type_id)
        if found is None:
            raise UsageError.single("--meeting", f"unknown meeting type {type_id!r}; expected one of {', '.join(self.types)}")
        return found

    def agency(self, mtype: MeetingType) -> Agency:
        """The agency a meeting type belongs to (checked at load)."""
        return self.agencies[mtype.agency]


def _read_citations(folder: Path, shown_root: str) -> dict[str, Citation]:
    found: dict[str, Citation] = {}
    for path in [folder / "citations.yaml", *sorted(folder.glob("citations-*.yaml"))]:
        if not path.is_file():
            continue
        shown = f"{shown_root}/{path.name}"
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
    shown_root = "knowledge" if base == builtin else str(base)
    if not base.is_dir():
        raise KnowledgeError.single(str(base), "knowledge directory not found")
    meetings_path, ctd_path = base / "meetings.yaml", base / "ctd_sections.yaml"
    for path in (meetings_path, ctd_path):
        if not path.is_file():
            raise KnowledgeError.single(f"{shown_root}/{path.name}", "missing knowledge file")
    try:
        # Through the content-hash cache (validated again, without parsing YAML), as the other knowledge files.
        settings = load_model(meetings_path, MeetingsFile, KnowledgeError, display=f"{shown_root}/meetings.yaml")
        ctd_file = load_model(ctd_path, CtdSectionsFile, KnowledgeError, display=f"{shown_root}/ctd_sections.yaml")
        known = dict(citations) if citations is not None and base == (folder or builtin) else _read_citations(base, shown_root)
    except KnowledgeError:
        raise
    except UserInputError as exc:
        raise KnowledgeError(exc.items) from None
    outline_path = data_dir("templates") / "brief_outline.yaml"
    try:
        outline = load_model(outline_path, OutlineProseFile, KnowledgeError, display="templates/brief_outline.yaml")
    except KnowledgeError:
        raise
    except UserInputError as exc:
        raise KnowledgeError(exc.items) from None
    problems = _check(settings, ctd_file, known, shown_root) + _check_outline(outline)
    if problems:
        raise KnowledgeError(problems)
    used = {cid for t in settings.types for cid in t.citations}
    used |= set(settings.cdrp.citations) | {c for a in settings.agencies for c in a.request_citations} | set(ctd_file.citations)
    types = {tid: t for tid in BRIEF_MEETING_TYPE_IDS for t in settings.types if t.id == tid}
    return MeetingKnowledge(
        settings=settings,
        types=types,
        ctd={s.topic: s for s in ctd_file.sections},
        ctd_citations=tuple(ctd_file.citations),
        citations={cid: known[cid] for cid in sorted(used)},
        root=shown_root,
        agencies={a.id: a for a in settings.agencies},
        fit_tests={
            t.id: tuple(
                CompiledFit(i, to_nnf(test.given) if test.given is not None else None, to_nnf(test.when))
                for i, test in enumerate(t.fit)
            )
            for t in types.values()
        },
        suggest={t.id: to_nnf(t.suggest_when) for t in types.values() if t.suggest_when is not None},
        outline=outline,
        nodes={id(c): to_nnf(c) for c in _outline_conditions(outline)},
    )


def _outline_conditions(outline: OutlineProseFile) -> list[Condition]:
    found: list[Condition] = []
    for entries in outline.items.values():
        for entry in entries:
            if entry.when is not None:
                found.append(entry.when)
            found.extend(c.when for c in entry.choose or [] if c.when is not None)
    return found


def _check_outline(outline: OutlineProseFile) -> list[ErrorItem]:
    """The outline prose covers every outline item and names only known facts and items."""
    source = "templates/brief_outline.yaml"
    facts = set(vocabulary())
    problems = [
        ErrorItem(source, None, "items", f"outline item {item} has no prose")
        for item in sorted(REQUEST_ITEM_IDS | PACKAGE_ITEM_IDS)
        if item not in outline.items
    ]
    for item, entries in outline.items.items():
        for index, entry in enumerate(entries):
            where = f"items.{item}[{index}]"
            if entry.include is not None and (entry.include not in outline.items or entry.include == item):
                problems.append(ErrorItem(source, None, f"{where}.include", f"unknown item {entry.include}"))
            named = list(entry.facts or [])
            for condition in [entry.when, *(c.when for c in entry.choose or [])]:
                if condition is not None:
                    named += [lit.fact for lit in literals(to_nnf(condition))]
            problems.extend(ErrorItem(source, None, where, f"unknown fact {fact}") for fact in named if fact not in facts)
    return problems


def _check(settings: MeetingsFile, ctd_file: CtdSectionsFile, citations: Mapping[str, Citation], shown: str) -> list[ErrorItem]:
    """Every cross-reference inside the meeting knowledge, as located problems."""
    problems: list[ErrorItem] = []
    meetings_src, ctd_src = f"{shown}/meetings.yaml", f"{shown}/ctd_sections.yaml"
    facts = set(vocabulary()) | MEETING_FACTS

    def cites(source: str, where: str, ids: Iterable[str]) -> None:
        problems.extend(ErrorItem(source, None, where, f"unknown citation {cid}") for cid in ids if cid not in citations)

    def facts_known(where: str, node: Node) -> None:
        problems.extend(
            ErrorItem(meetings_src, None, where, f"unknown fact {lit.fact}") for lit in literals(node) if lit.fact not in facts
        )

    agencies: set[str] = set()
    for index, agency in enumerate(settings.agencies):
        where = f"agencies[{index}]"
        if agency.id in agencies:
            problems.append(ErrorItem(meetings_src, None, f"{where}.id", f"duplicate agency {agency.id}"))
        agencies.add(agency.id)
        cites(meetings_src, f"{where}.request_citations", agency.request_citations)
        for name, entries, allowed in (
            ("request_outline", agency.request_outline, REQUEST_ITEM_IDS),
            ("package_outline", agency.package_outline, PACKAGE_ITEM_IDS),
        ):
            ids = [e.id for e in entries]
            problems.extend(
                ErrorItem(
                    meetings_src,
                    None,
                    f"{where}.{name}[{i}].id",
                    f"unknown outline item {eid}; expected one of {', '.join(sorted(allowed))}",
                )
                for i, eid in enumerate(ids)
                if eid not in allowed
            )
            if "questions" not in ids:
                problems.append(ErrorItem(meetings_src, None, f"{where}.{name}", "the outline needs a 'questions' item"))
            if len(set(ids)) != len(ids):
                problems.append(ErrorItem(meetings_src, None, f"{where}.{name}", "an outline item is listed twice"))
    if "fda" not in agencies:
        problems.append(ErrorItem(meetings_src, None, "agencies", "agency fda is missing"))
    seen: set[str] = set()
    for index, mtype in enumerate(settings.types):
        where = f"types[{index}]"
        if mtype.id not in BRIEF_MEETING_TYPE_IDS:
            problems.append(
                ErrorItem(
                    meetings_src,
                    None,
                    f"{where}.id",
                    f"unknown meeting type {mtype.id}; expected one of {', '.join(BRIEF_MEETING_TYPE_IDS)}",
                )
            )
        if mtype.id in seen:
            problems.append(ErrorItem(meetings_src, None, f"{where}.id", f"duplicate meeting type {mtype.id}"))
        seen.add(mtype.id)
        if mtype.agency not in agencies:
            problems.append(ErrorItem(meetings_src, None, f"{where}.agency", f"unknown agency {mtype.agency}"))
        if (mtype.id in MEETING_TYPE_IDS) != (mtype.agency == "fda"):
            problems.append(
                ErrorItem(meetings_src, None, f"{where}.agency", "the contract's meeting types are FDA's, and only they")
            )
        problems.extend(
            ErrorItem(meetings_src, None, f"{where}.topics", f"unknown topic {topic}")
            for topic in mtype.topics
            if topic not in TOPICS
        )
        if len(set(mtype.topics)) != len(mtype.topics):
            problems.append(ErrorItem(meetings_src, None, f"{where}.topics", "a topic is listed twice"))
        if mtype.question_min and mtype.question_limit and mtype.question_min > mtype.question_limit:
            problems.append(ErrorItem(meetings_src, None, f"{where}.question_min", "question_min is above question_limit"))
        for t_index, test in enumerate(mtype.fit):
            if test.given is not None:
                facts_known(f"{where}.fit[{t_index}].given", to_nnf(test.given))
            facts_known(f"{where}.fit[{t_index}].when", to_nnf(test.when))
        if mtype.suggest_when is not None:
            facts_known(f"{where}.suggest_when", to_nnf(mtype.suggest_when))
        cites(meetings_src, f"{where}.citations", mtype.citations)
    problems.extend(
        ErrorItem(meetings_src, None, "types", f"meeting type {tid} is missing")
        for tid in BRIEF_MEETING_TYPE_IDS
        if tid not in seen
    )
    cites(meetings_src, "cdrp.citations", settings.cdrp.citations)
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
