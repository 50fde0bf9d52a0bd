"""The text form of ``cmcadvisor explain`` answers (``--format text``); JSON is the models' own dump.

An auditor's view: it names rule ids, fact paths and knowledge files on purpose, so that every
line can be traced. It only formats the answer it is given; it computes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cmcadvisor.explain.models import (
    Answer,
    MakeOrBuyExplanation,
    MeetingAnswer,
    PathwayExplanation,
    RuleExplanation,
    RuleState,
    ScheduleExplanation,
)


def _or(value: object, absent: str = "none") -> str:
    return absent if value is None or value == "" else str(value)


def _value(value: object) -> str:
    """A fact's value as the program file would spell it (``true``, ``["eu", "us"]``), not as Python would."""
    import json

    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _section(heading: str, items: Iterable[object]) -> list[str]:
    """A heading line with its items indented under it; nothing at all when there are no items."""
    shown = [f"  {item}" for item in items]
    return [heading, *shown] if shown else []


def _sources(citations: Sequence[str]) -> list[str]:
    return [f"sources: {', '.join(citations)}"] if citations else []


def _state(state: RuleState) -> str:
    parts = [f"{state.rule} [{state.status.replace('_', ' ')}] {state.title}"]
    if state.decides:
        parts.append(f"-> {state.decides}")
    line = " ".join(parts)
    if state.missing:
        line += f"; waits for {', '.join(state.missing)}"
    if state.would_fire_if:
        line += f"; would fire if {'; '.join(state.would_fire_if)}"
    return line


def _rule(answer: RuleExplanation) -> list[str]:
    lines = [f"{answer.rule}: {answer.title} ({answer.kind})"]
    items = f" for items {answer.items}" if any(i is not None for i in answer.items) else ""
    lines.append(f"status: {answer.status.replace('_', ' ')}{items}")
    lines.append("condition ([yes] held, [no] failed, [??] fact missing):")
    lines.extend(f"  {line}" for line in answer.tree)
    if answer.missing:
        lines.append("missing facts: " + ", ".join(answer.missing))
    if answer.counterfactual:
        checked = {True: "checked: the rule then fires", False: "not confirmed by a re-run", None: ""}[
            answer.counterfactual_checked
        ]
        lines.append(f"smallest change that would make it fire ({checked}):")
        lines.extend(f"  {change}" for change in answer.counterfactual)
        if answer.effect:
            lines.append(f"effect: {answer.effect}")
    elif answer.status != "fired":
        lines.append("no single set of fact changes found that would make it fire")
    lines.extend(_section("when it fires, it:", answer.effects))
    lines.append("sources:")
    lines.extend(f"  {citation}" for citation in answer.citations)
    return lines


def _pathway(answer: PathwayExplanation) -> list[str]:
    lines = [f"{answer.id}: {answer.name}", f"status: {answer.status.replace('_', ' ')}"]
    lines.append(f"decided by: {', '.join(answer.deciding) or 'no rule'}")
    lines.append(f"why: {answer.rationale}")
    lines.extend(_section("rules that can set it:", map(_state, answer.rules)))
    lines.extend(_section("what would settle or change it:", answer.settle))
    lines.extend(_section("questions to ask:", answer.questions))
    lines.extend(_section("caveats:", answer.unsettled))
    if answer.next_step:
        due = f" (by {answer.next_step_due})" if answer.next_step_due else ""
        lines.append(f"next step{due}: {answer.next_step}")
    lines.extend(f"policy: {p}" for p in answer.policy)
    return lines + _sources(answer.citations)


def _make_or_buy(answer: MakeOrBuyExplanation) -> list[str]:
    lines = [
        f"make-or-buy: {answer.recommendation.replace('_', ' ')} (confidence {answer.confidence})",
        f"score {answer.score:+.4f}: above +{answer.decide_at} in-house, below -{answer.decide_at} CDMO, between: hybrid; "
        f"{answer.known_factors} of 7 considerations judged (at least {answer.min_known_factors} needed)",
        f"confidence: {answer.confidence_rule}",
        f"policy ({answer.policy_source}): each consideration's net vote is capped at {answer.vote_cap} either way "
        f"and divided by {answer.vote_cap}",
        f"how it adds up: score = the sum of the considerations' contributions; a contribution is the consideration's "
        f"score (net vote / {answer.vote_cap}, from -1 CDMO to +1 in-house) times its weight" + _equal_weights(answer),
        "considerations:",
    ]
    for factor in answer.factors:
        capped = f", capped at {answer.vote_cap}" if factor.capped else ""
        lines.append(
            f"  {factor.id}: {factor.favours.replace('_', ' ')}; net vote {factor.net_vote:+d}{capped}, "
            f"score {factor.score:+.4f} x weight {factor.weight:.4f} = {factor.contribution:+.4f}"
        )
        lines.extend(f"    vote {v.rule} ({v.favours.replace('_', ' ')} +{v.strength}): {v.title}" for v in factor.votes)
        lines.extend(f"    waiting: {_state(s)}" for s in factor.waiting)
        if factor.evidence:
            lines.append("    evidence: " + ", ".join(f"{k} = {_value(v)}" for k, v in factor.evidence.items()))
        if factor.missing:
            lines.append("    missing: " + ", ".join(factor.missing))
        lines.extend(f"    would flip: {flip}" for flip in factor.would_flip if flip)
    flips = _section("what would flip it (one fact at a time):", answer.would_flip_if)
    return lines + (flips or ["no single fact change found that would flip it"])


def _equal_weights(answer: MakeOrBuyExplanation) -> str:
    """``(equal weights: 1/7 = 0.1429 each)`` when every consideration weighs the same, else nothing."""
    weights = {round(f.weight, 6) for f in answer.factors}
    if len(weights) != 1 or not answer.factors:
        return ""
    n = len(answer.factors)
    return f" (equal weights: 1/{n} = {answer.factors[0].weight:.4f} each)"


def _schedule(answer: ScheduleExplanation) -> list[str]:
    lines = [f"{answer.id} ({answer.target}): {answer.name}"]
    detail = answer.schedule
    if detail is None:
        lines.append("not on this program's timeline: no rule that fired asks for it")
        lines.extend(_section("rules that would put it there:", map(_state, answer.could_add)))
        lines.extend(f"policy: {p}" for p in answer.policy)
        return lines
    lines.append(f"status: {detail.status.replace('_', ' ')}" + (f" ({detail.status_basis})" if detail.status_basis else ""))
    if detail.completion:
        lines.append(f"done when: {detail.completion}")
    if detail.start is None:
        lines.append("dates: not scheduled")
    else:
        lines.append(
            f"dates: {detail.start} to {_or(detail.finish, 'not scheduled')} ({detail.duration_days} days)"
            f"; slack: {'none' if detail.slack_days is None else f'{detail.slack_days} days'}"
            f"{'; on the critical path' if detail.on_critical_path else ''}"
        )
    if detail.duration_basis:
        lines.append(f"duration basis: {detail.duration_basis}")
    lines.append(f"start set by: {detail.set_by}")
    lines.extend(
        _section(
            "must finish first:",
            (
                f"{e.id}{f' (+{e.lag_days} days)' if e.lag_days else ''}, added by {', '.join(e.added_by) or 'the plan'}"
                f"{' <- sets the start' if e.sets_start else ''}"
                for e in detail.predecessors
            ),
        )
    )
    if detail.successors:
        lines.append("waiting for it: " + ", ".join(e.id for e in detail.successors))
    if detail.driving_chain:
        lines.append("driving chain: " + " -> ".join(detail.driving_chain))
    if detail.due:
        late = f"; late by {detail.late_by_days} days" if detail.late_by_days else ""
        lines.append(f"due: {detail.due} ({_or(detail.due_basis, 'its date')}){late}")
    lines.extend(f"  {b}" for b in detail.late_because)
    if detail.smallest_change is not None:
        lines.append(f"smallest change that would bring it back: {detail.smallest_change.text}")
        lines.extend(f"  or: {c.text}" for c in detail.other_changes)
    lines.extend(_section("rules:", map(_state, answer.rules)))
    lines.extend(f"policy: {p}" for p in answer.policy)
    return lines + _sources(detail.citations)


def _meeting(answer: MeetingAnswer) -> list[str]:
    m = answer.meeting
    shown = "suggested for this program" if m.suggested else "not among the meetings suggested for this program"
    lines = [f"{m.type}: {m.name}, {shown}", f"agency: {m.agency}; category: {m.category}", f"fit: {m.fit.replace('_', ' ')}"]
    lines.extend(f"  {r}" for r in m.fit_reasons)
    lines.extend(
        _section(
            "fit tests:",
            (
                f"[{c.result}] {c.test}"
                + (f" -> {c.effect}" if c.effect else "")
                + (f"; missing {', '.join(c.missing)}" if c.missing else "")
                for c in m.checks
            ),
        )
    )
    if m.suggested_types:
        lines.append("meetings suggested next: " + ", ".join(m.suggested_types))
    lines.extend(_section("dates:", (f"{d.label}: {_or(d.date, 'not dated')}. {d.rule}" for d in m.dates)))
    if m.date_basis:
        lines.append(f"date basis: {m.date_basis}")
    lines.extend(f"  note: {n}" for n in m.date_notes)
    lines.extend(
        _section("questions and the rules behind them:", (f"{q.number}. [{', '.join(q.rules)}] {q.text}" for q in m.questions))
    )
    lines.extend(_section("rules:", map(_state, answer.rules)))
    return lines + _sources(m.citations)


def render_text(answer: Answer) -> str:
    """The answer as plain text, one fact per line."""
    if isinstance(answer, RuleExplanation):
        lines = _rule(answer)
    elif isinstance(answer, PathwayExplanation):
        lines = _pathway(answer)
    elif isinstance(answer, MakeOrBuyExplanation):
        lines = _make_or_buy(answer)
    elif isinstance(answer, ScheduleExplanation):
        lines = _schedule(answer)
    else:
        lines = _meeting(answer)
    return "\n".join(lines) + "\n"


def render_json(answer: Answer) -> str:
    """The answer as JSON (keys sorted)."""
    import json

    return json.dumps(answer.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
