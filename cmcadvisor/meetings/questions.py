"""The questions a meeting asks: drawn from the open findings, one per topic, within the type's limits.

Findings on the same topic merge into one question that names each point; only findings for the
meeting's agency are asked: a finding whose sources are all another agency's is left out (by the
issuers in ``meetings.yaml``), and so is one whose rule holds only for programs aimed at other
regions (the rule pack's ``region_gates``: an EU-only requirement is no question for FDA or
PMDA); each question carries the rules, findings, facts and citations
behind it for the traceability appendix. Built from findings, not from a finished assessment, so
the assessment can plan its meetings before it is assembled. This module must not compute dates.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cmcadvisor.meetings.knowledge import MeetingKnowledge
from cmcadvisor.meetings.words import in_agency_terms
from cmcadvisor.models.meetings import Agency, MeetingType
from cmcadvisor.models.result import FindingResult, MeetingQuestion, Scalar
from cmcadvisor.models.rule import SEVERITY_RANK

DISCIPLINE_ORDER: tuple[str, ...] = ("cmc", "nonclinical", "clinical", "regulatory", "business")
RegionGates = Mapping[str, frozenset[str]]  # rule id -> the regions it alone speaks of (RulePack.region_gates)


@dataclass(slots=True)  # not frozen (cheaper to build, dozens per meeting); never changed once built
class _Candidate:
    severity: int
    rank: int
    finding: FindingResult
    relevant: tuple[str, ...]
    also: tuple[FindingResult, ...] = ()


# What :func:`_issuers_for_agency` reads of an agency, as a hashable key.
_AgencyIssuers = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], str]


def _agency_issuers(agency: Agency) -> _AgencyIssuers:
    return (
        tuple(agency.own_issuers),
        tuple(agency.own_prefixes),
        tuple(agency.foreign_issuers),
        tuple(agency.foreign_prefixes),
        agency.leave_out_when,
    )


@functools.lru_cache(maxsize=2048)
def _issuers_for_agency(issuers: tuple[str, ...], agency: _AgencyIssuers) -> bool:
    """Whether a finding citing ``issuers`` is for this agency, judged by its own and foreign issuers.

    FDA leaves out a finding any of whose sources is EU or Japanese (and none FDA or US); EMA and
    PMDA leave out one whose sources are all another agency's, so ICH-based findings stay. Cached:
    findings cite a few recurring sets of issuers.
    """
    own_issuers, own_prefixes, foreign_issuers, foreign_prefixes, leave_out_when = agency
    if not issuers:
        return True
    if any(any(m in i for m in own_issuers) or i.startswith(own_prefixes) for i in issuers):
        return True
    foreign = [any(m in i for m in foreign_issuers) or i.startswith(foreign_prefixes) for i in issuers]
    return not (all(foreign) if leave_out_when == "all_foreign" else any(foreign))


def topic_label(topic: str, kn: MeetingKnowledge) -> str:
    """A contract topic as words (its CTD section label)."""
    entry = kn.ctd.get(topic)
    return entry.label if entry else topic.replace("_", " ")


def _discipline(topic: str, kn: MeetingKnowledge) -> str:
    entry = kn.ctd.get(topic)
    return entry.discipline if entry else "cmc"


def _candidates(
    findings: Sequence[FindingResult], mtype: MeetingType, kn: MeetingKnowledge, gates: RegionGates
) -> list[_Candidate]:
    """Open findings a meeting of this type could ask about, most severe and most relevant first."""
    cdrp_rules = set(kn.settings.cdrp.rules)
    regions = frozenset(kn.agency(mtype).regions)
    agency = _agency_issuers(kn.agency(mtype))
    ranks: dict[str, int] = {}  # each of the type's topics with its first position
    for index, topic in enumerate(mtype.topics):
        ranks.setdefault(topic, index)
    business = {topic for topic, entry in kn.ctd.items() if entry.discipline == "business"}
    by_rule: dict[str, _Candidate] = {}
    for finding in findings:
        rule = finding.rule
        if finding.status != "open" or finding.kind == "undetermined" or rule in cdrp_rules:
            continue
        topics = finding.topics
        relevant = [t for t in topics if t in ranks]
        if not relevant or "fda_meeting" in topics or topics[0] in business:
            continue
        gate = gates.get(rule)
        if gate is not None and not gate & regions:  # a requirement of another region only
            continue
        if not _issuers_for_agency(tuple([c.issuer for c in finding.citations]), agency):
            continue
        severity = SEVERITY_RANK[finding.severity]
        current = by_rule.get(rule)
        if current is None:
            by_rule[rule] = _Candidate(severity, min([ranks[t] for t in relevant]), finding, tuple(relevant))
        elif (severity, finding.id) < (current.severity, current.finding.id):
            by_rule[rule] = _Candidate(
                severity, min([ranks[t] for t in relevant]), finding, tuple(relevant), (current.finding, *current.also)
            )
        else:
            by_rule[rule] = _Candidate(
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


@functools.lru_cache(maxsize=4096)  # findings' titles recur from program to program
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


def _question(
    topic: str, members: list[_Candidate], mtype: MeetingType, kn: MeetingKnowledge, number: int = 0
) -> MeetingQuestion:
    """Question ``number`` for FDA on ``topic``, merging every kept finding on it (the most severe first)."""
    findings = [c.finding for c in members]
    lead = findings[0]
    entry = kn.ctd.get(topic)
    label = entry.label if entry else topic.replace("_", " ")
    section = next((kn.ctd[t].section for t in (topic, *lead.topics) if t in kn.ctd and kn.ctd[t].section), None)
    # One pass over the findings, each dict keeping the first of its keys in order (as dict.fromkeys)
    topic_set: dict[str, None] = {topic: None}
    point_set: dict[str, None] = {}
    detail_set: dict[str, None] = {}
    cited: dict[str, None] = {}
    facts: dict[str, Scalar | list[str]] = {}
    for finding in findings:
        topic_set.update(dict.fromkeys(finding.topics))
        point_set[_sentence_start(finding.title)] = None
        detail_set[finding.detail] = None
        cited.update(dict.fromkeys([c.id for c in finding.citations]))
        for name, value in finding.facts.items():
            if name not in facts:
                facts[name] = list(value) if isinstance(value, list) else value  # a copy, as validation makes
    merged = [f for c in members for f in (c.finding, *c.also)]
    rules = sorted({f.rule for f in merged})
    ids = list(dict.fromkeys([f.id for f in merged]))
    terms = kn.agency(mtype).terms
    points = [in_agency_terms(point, terms) for point in point_set] if terms else list(point_set)
    default = f"Does the Agency agree that the sponsor's proposed approach to {label} is adequate"
    ask = entry.ask if entry and entry.ask else default
    where = f" (CTD {section})" if section else ""
    each = ", answering each point of the question" if len(points) > 1 else ""
    # Every value is built here from validated findings and CTD sections, of its field's type (the
    # facts keep the findings' validated values), and every field is given: the model is made
    # without validating it again, which costs more than building the question.
    return MeetingQuestion.model_construct(
        number=number,
        text=f"{ask} {mtype.milestone_phrase}, {_points_text(points)}?",
        topics=list(topic_set),
        ctd_section=section,
        rules=rules,
        discipline=entry.discipline if entry else "cmc",
        context=" ".join(detail_set),
        facts=facts,
        sponsor_position=(
            f"[Sponsor's position on {label}: state the proposal and why it is adequate{each}, with the supporting data "
            f"in the attachment for this question{where}.]"
        ),
        finding=lead.id,
        severity=lead.severity,
        citations=list(cited),
        findings=ids,
        points=points,
    )


def draft_questions(
    findings: Sequence[FindingResult], mtype: MeetingType, kn: MeetingKnowledge, gates: RegionGates
) -> tuple[list[MeetingQuestion], int, list[str], int]:
    """Numbered questions (one per topic) grouped by discipline; findings left out; kept topics; topic spread.

    ``gates``: the rule pack's ``region_gates`` (rules that speak of certain regions only).
    """
    cands = _candidates(findings, mtype, kn, gates)
    groups, chosen_topics, left_out = _select(cands, mtype, kn)
    spread = len({c.relevant[0] for c in cands})
    drafts: list[tuple[tuple[int, int, int, str], str, list[_Candidate]]] = []
    for topic, members in groups.items():
        discipline = _discipline(topic, kn)  # the question's discipline
        order = DISCIPLINE_ORDER.index(discipline) if discipline in DISCIPLINE_ORDER else len(DISCIPLINE_ORDER)
        first = members[0]
        drafts.append(((order, first.severity, first.rank, first.finding.id), topic, members))
    drafts.sort(key=lambda d: d[0])  # ordered first, so each question is built once, with its number
    numbered = [_question(topic, members, mtype, kn, n) for n, (_, topic, members) in enumerate(drafts, 1)]
    return numbered, left_out, chosen_topics, spread


def agenda(questions: list[MeetingQuestion], agency: Agency) -> list[str]:
    """The meeting's agenda: introductions, one item per discipline's questions, the summary."""
    items = ["Introductions and the objectives of the meeting"]
    for discipline in DISCIPLINE_ORDER:
        numbers = [q.number for q in questions if q.discipline == discipline]
        if not numbers:
            continue
        span = f"Question {numbers[0]}" if len(numbers) == 1 else f"Questions {numbers[0]}–{numbers[-1]}"
        items.append(f"{agency.discipline_label(discipline)}: {span}")
    items.append("Summary of agreements, action items and next steps")
    return items


def cdrp_note(findings: Sequence[FindingResult], kn: MeetingKnowledge) -> str | None:
    """FDA's CDRP note where an open finding marks the program as a candidate."""
    rules = set(kn.settings.cdrp.rules)
    for finding in findings:
        if finding.rule in rules and finding.status == "open" and finding.kind != "undetermined":
            return kn.settings.cdrp.note
    return None
