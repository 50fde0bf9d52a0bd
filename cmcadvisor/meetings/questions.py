"""The questions a meeting asks: drawn from the open findings, one per topic, within the type's limits.

Findings on the same topic merge into one question that names each point; only findings for the
meeting's agency are asked (a finding whose sources are all another agency's is left out, by the
issuers in ``meetings.yaml``); each question carries the rules, findings, facts and citations
behind it for the traceability appendix. Built from findings, not from a finished assessment, so
the assessment can plan its meetings before it is assembled. This module must not compute dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cmcadvisor.meetings.knowledge import MeetingKnowledge
from cmcadvisor.models.meetings import Agency, MeetingType
from cmcadvisor.models.result import FindingResult, MeetingQuestion, Scalar
from cmcadvisor.models.rule import SEVERITY_RANK

DISCIPLINE_ORDER: tuple[str, ...] = ("cmc", "nonclinical", "clinical", "regulatory", "business")


@dataclass(frozen=True)
class _Candidate:
    severity: int
    rank: int
    finding: FindingResult
    relevant: tuple[str, ...]
    also: tuple[FindingResult, ...] = ()


def for_agency(finding: FindingResult, agency: Agency) -> bool:
    """Whether a finding is for this agency: not when it has no source of the agency's and (any or every) foreign one.

    FDA leaves out a finding any of whose sources is EU or Japanese (and none FDA or US); EMA and
    PMDA leave out one whose sources are all another agency's, so ICH-based findings stay.
    """
    issuers = [c.issuer for c in finding.citations]
    if not issuers:
        return True
    if any(any(m in i for m in agency.own_issuers) or i.startswith(tuple(agency.own_prefixes)) for i in issuers):
        return True
    foreign = [any(m in i for m in agency.foreign_issuers) or i.startswith(tuple(agency.foreign_prefixes)) for i in issuers]
    return not (all(foreign) if agency.leave_out_when == "all_foreign" else any(foreign))


def topic_label(topic: str, kn: MeetingKnowledge) -> str:
    """A contract topic as words (its CTD section label)."""
    entry = kn.ctd.get(topic)
    return entry.label if entry else topic.replace("_", " ")


def _discipline(topic: str, kn: MeetingKnowledge) -> str:
    entry = kn.ctd.get(topic)
    return entry.discipline if entry else "cmc"


def _candidates(findings: Sequence[FindingResult], mtype: MeetingType, kn: MeetingKnowledge) -> list[_Candidate]:
    """Open findings a meeting of this type could ask about, most severe and most relevant first."""
    cdrp_rules = set(kn.settings.cdrp.rules)
    agency = kn.agency(mtype)
    by_rule: dict[str, _Candidate] = {}
    for finding in findings:
        if finding.status != "open" or finding.kind == "undetermined" or finding.rule in cdrp_rules:
            continue
        if "fda_meeting" in finding.topics or not for_agency(finding, agency):
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


def draft_questions(
    findings: Sequence[FindingResult], mtype: MeetingType, kn: MeetingKnowledge
) -> tuple[list[MeetingQuestion], int, list[str], int]:
    """Numbered questions (one per topic) grouped by discipline; findings left out; kept topics; topic spread."""
    cands = _candidates(findings, mtype, kn)
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
