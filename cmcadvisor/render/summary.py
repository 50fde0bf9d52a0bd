"""What the readers of a report see first: the executive summary and the make-or-buy table.

Builds plain view data from an assessment, in the display vocabulary's words (no fact paths,
enum ids or rule ids): the pathways worth pursuing with their next step and the date to act,
make-or-buy with its confidence and what would flip it, the top open risks, what is late and
the critical path to BLA, and the next FDA meeting with its request-due date. The HTML report
and the terminal table share it. It formats only; it never decides or computes a conclusion
the assessment does not already hold.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from cmcadvisor import display
from cmcadvisor.models.result import AssessmentResult, MakeOrBuyFlip

TOP_RISKS = 5
_RELATION = {">=": "at least", "<=": "at most"}
_SENTENCE_END = re.compile(r"(?<=[.;])\s")
_SENTENCE = re.compile(r"(?<=\.)\s+(?=[A-Z])")


def count(n: int, singular: str) -> str:
    """``1 rule``, ``93 rules``."""
    return display.plural(n, singular)


def term(value: str) -> str:
    """An id shown on its own (a status, a severity, a consideration) in words."""
    return display.term(value)


def signed(value: float) -> str:
    """A contribution to the make-or-buy score: ``+0.05``, ``−0.10``, ``0``."""
    if abs(value) < 0.005:
        return "0"
    return f"{'+' if value > 0 else '−'}{abs(value):.2f}"


def flip_text(flip: MakeOrBuyFlip) -> str:
    """One what-if in words: ``GMP experience: established (gives hybrid)``."""
    if flip.op == "=":
        change = display.fact_line(flip.fact, flip.value)
    else:
        change = f"{display.fact_label(flip.fact)} {_RELATION[flip.op]} {display.label(flip.fact, flip.value)}"
    return f"{change} (gives {display.term(flip.gives)})"


@dataclass(frozen=True)
class FactorRow:
    """One consideration as a reader sees it."""

    id: str
    name: str
    favours_id: str
    favours: str
    voted: bool  # a factor rule voted (its reason is the rules' own, fact-based message)
    weight: str
    contribution: str
    reason: str
    reason_head: str  # the reason's first sentence (always shown) and the rest (folded in HTML, printed)
    reason_rest: str
    judged_on: str
    missing: str


@dataclass(frozen=True)
class MakeOrBuyView:
    """The recommendation, its rows, and one line on the weights instead of a constant column."""

    recommendation: str
    confidence: str
    answer: str
    score: str
    rows: list[FactorRow]
    equal_weights: bool
    weights_note: str
    flips: list[str]


def make_or_buy(result: AssessmentResult) -> MakeOrBuyView:
    """Make-or-buy for readers: each consideration's contribution (weight x score) and why."""
    mob = result.make_or_buy
    recommendation = _capital(display.term(mob.recommendation))
    if mob.recommendation == "undetermined":
        answer = "Undetermined: too few facts to recommend (answer the questions below)"
    else:
        answer = f"{recommendation} ({mob.confidence} confidence)"
    weights = {round(f.weight, 4) for f in mob.factors}
    equal = len(weights) <= 1
    rows = [
        FactorRow(
            id=f.id,
            name=_capital(display.term(f.id)),
            favours_id=f.favours,
            favours=display.term(f.favours),
            voted=bool(f.rules),
            weight=display.percent(f.weight),
            contribution=signed(f.contribution),
            reason=f.reason,
            reason_head=_split(f.reason)[0],
            reason_rest=_split(f.reason)[1],
            judged_on=display.facts_text(f.facts) if f.facts else "",
            missing="; ".join(display.fact_label(name) for name in f.missing),
        )
        for f in mob.factors
    ]
    if equal and mob.factors:
        share = display.percent(next(iter(weights)))
        weights_note = f"Every consideration carries the same weight ({share} each)."
    else:
        weights_note = "The considerations carry different weights (the weight column)."
    if mob.decide_at is not None and mob.factors:
        weights_note += (
            f" Contribution = weight x the consideration's score; the sum is {signed(mob.score)},"
            f" and beyond ±{mob.decide_at:.2f} it recommends in-house or a CDMO, in between a hybrid"
            + (", once enough considerations can be judged." if mob.recommendation == "undetermined" else ".")
        )
    return MakeOrBuyView(
        recommendation=recommendation,
        confidence=mob.confidence,
        answer=answer,
        score=signed(mob.score),
        rows=rows,
        equal_weights=equal,
        weights_note=weights_note,
        flips=[flip_text(flip) for flip in mob.flips],
    )


def _split(text: str) -> tuple[str, str]:
    parts = _SENTENCE.split(text.strip(), maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class TimelineView:
    """The critical path and what is late, as activity and milestone names; what late items cost the BLA."""

    critical_path: list[str]
    late: list[str]  # in date order (forecast finish), late milestones with how late
    delays: list[str] = field(default_factory=list)  # one sentence per late long-lead item, the costliest first
    late_besides_items: list[str] = field(default_factory=list)  # `late` less the long-lead items `delays` tells of


def _step_name(result: AssessmentResult, key: str) -> str:
    for activity in result.timeline.activities:
        if activity.id == key:
            return activity.name
    return _capital(display.term(key))


def timeline(result: AssessmentResult) -> TimelineView:
    """Names instead of ids; late milestones say by how much; what is late comes in date order."""
    late_by = {a.id: a.late_by_days for a in result.timeline.activities if a.late_by_days}
    late_by.update({m.id: m.late_by_days for m in result.timeline.milestones if m.late_by_days})
    when: dict[str, str] = {m.id: str(m.forecast or "") for m in result.timeline.milestones}
    when.update({a.id: str(a.finish or "") for a in result.timeline.activities})
    items = {item.id for item in result.timeline.late_items}
    late: list[str] = []
    besides: list[str] = []
    for key in sorted(result.timeline.late, key=lambda k: (when.get(k) or "9999", k)):
        days = late_by.get(key)
        name = _step_name(result, key)
        line = f"{name} ({display.quantity(days, 'days')} late)" if days else name
        late.append(line)
        if key not in items:
            besides.append(line)
    return TimelineView(
        critical_path=[_step_name(result, key) for key in result.timeline.critical_path],
        late=late,
        delays=item_delays(result),
        late_besides_items=besides,
    )


def _and(terms: list[str]) -> str:
    return ", ".join(terms[:-1]) + " and " + terms[-1] if len(terms) > 1 else "".join(terms)


def item_delays(result: AssessmentResult) -> list[str]:
    """One sentence per long-lead item that is late or holds work up: how far it moves the BLA, and why.

    The item leads (its own name, not the activity's "Order and receive ..."), then when it is in
    hand against the work that needs it, then what that costs: the BLA submission, other work
    only (named, with the days), or nothing because the plan has room for it.
    """
    milestones = {m.id for m in result.timeline.milestones}
    out: list[str] = []
    for item in result.timeline.late_items:
        name = _capital(display.shorten(item.name.split(": ", 1)[-1], 80))
        needed = _and([display.term(n) for n in item.needed_for]) or "later work"
        when = f"forecast in hand on {display.human_date(item.finish)}" if item.finish else "not yet in hand"
        if item.late_by_days:
            when += f", {display.quantity(item.late_by_days, 'days')} after it is needed for {needed}"
        else:
            when += f"; it is needed for {needed}"
        if item.bla_delay_days:
            effect = f"this moves the BLA submission forecast by {display.quantity(item.bla_delay_days, 'days')}"
        elif item.delays:
            held = [
                f"{display.term(k)} by {display.quantity(v, 'days')}"
                for k, v in sorted(item.delays.items())
                if k not in milestones
            ]
            work = _and(held) if held else "later work"
            effect = f"this holds up {work}, but the plan has room for it and the BLA submission does not move"
        else:
            effect = "it moves nothing, because that work cannot start any earlier for other reasons"
        out.append(f"{name}: {when}; {effect}.")
    return out


@dataclass(frozen=True)
class PathwayLine:
    """A pathway worth pursuing: its name, status, the date to act and the first step."""

    name: str
    status: str
    act_by: str
    step: str


@dataclass(frozen=True)
class RiskLine:
    """One of the top open risks."""

    title: str
    level: str
    score: int
    owner: str


@dataclass(frozen=True)
class MeetingLine:
    """The next FDA meeting and the day its request is due."""

    name: str
    date: str
    request_due: str
    request_when: str  # the request-due date against the as-of date: "in 35 days", "overdue by 5 days"


@dataclass(frozen=True)
class ExecutiveSummary:
    """The first printed page of the report."""

    pathways: list[PathwayLine]
    make_or_buy: MakeOrBuyView
    risks: list[RiskLine]
    open_risks: int
    timeline: TimelineView
    meeting: MeetingLine | None


def _first_sentence(text: str) -> str:
    """The first sentence (or clause before a semicolon) of a next step, for the one-page summary."""
    head = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    return head[:-1] + "." if head.endswith(";") else head


def _when(due: str, as_of: str) -> str:
    """A due date against the as-of date, in words."""
    days = (datetime.date.fromisoformat(due) - datetime.date.fromisoformat(as_of)).days
    if days == 0:
        return "the as-of date of this assessment"
    if days < 0:
        return f"overdue by {display.quantity(-days, 'days')}"
    return f"in {display.quantity(days, 'days')}"


def executive_summary(result: AssessmentResult) -> ExecutiveSummary:
    """The executive summary: what to pursue, make or buy, the top risks, what is late, the next meeting."""
    pathways = _pursue(result)
    open_risks = [r for r in result.risks if r.status == "open"]
    top = sorted(open_risks, key=lambda r: (-r.score, r.id))[:TOP_RISKS]
    future = sorted(
        (m for m in result.meetings if m.recommended_date and m.recommended_date >= result.as_of),
        key=lambda m: m.recommended_date or "",
    )
    meeting = None
    if future:
        m = future[0]
        meeting = MeetingLine(
            name=_capital(display.term(m.type)),
            date=display.human_date(m.recommended_date),
            request_due=display.human_date(m.request_due) if m.request_due else "",
            request_when=_when(m.request_due, result.as_of) if m.request_due else "",
        )
    return ExecutiveSummary(
        pathways=pathways,
        make_or_buy=make_or_buy(result),
        risks=[RiskLine(r.title, display.term(r.level), r.score, r.owner) for r in top],
        open_risks=len(open_risks),
        timeline=timeline(result),
        meeting=meeting,
    )


def _pursue(result: AssessmentResult) -> list[PathwayLine]:
    """Pathways worth pursuing: eligible and not yet held, soonest date to act first, with a first step."""
    eligible = sorted((p for p in result.pathways if p.status == "eligible"), key=lambda p: p.next_step_due or "9999")
    return [
        PathwayLine(
            name=p.name,
            status=display.term(p.status),
            act_by=display.human_date(p.next_step_due) if p.next_step_due else "",
            step=_first_sentence(p.next_step) if p.next_step else "",
        )
        for p in eligible
    ]
