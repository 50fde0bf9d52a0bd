"""``explain`` for every conclusion: which kind of target a name is, and the answer for each kind.

A target is a rule id (or alias), a pathway id, an activity or milestone id, a meeting type, or
``make-or-buy``. Each answer names the rules behind the conclusion and the knowledge-held policy
it applied (make-or-buy vote cap and confidence bands, the review clock). An unknown name is a
user error listing the nearest names of every kind. The program is evaluated once
(:func:`cmcadvisor.api.evaluate`). This module returns data; it does not print.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from cmcadvisor import api
from cmcadvisor.errors import UsageError, UserInputError
from cmcadvisor.explain.models import (
    Answer,
    FactorExplanation,
    MakeOrBuyExplanation,
    MeetingAnswer,
    PathwayExplanation,
    RuleState,
    ScheduleExplanation,
    Vote,
)
from cmcadvisor.explain.rule import explain_rule, rule_state
from cmcadvisor.knowledge import capped_vote
from cmcadvisor.loader import Document
from cmcadvisor.makeorbuy import judged_band, rules_by_factor
from cmcadvisor.models.knowledge import ACTIVITY_IDS, MILESTONE_IDS
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult, MakeOrBuy
from cmcadvisor.registry import LoadedRule

MAKE_OR_BUY = "make-or-buy"
_MAKE_OR_BUY_NAMES = frozenset({"make-or-buy", "make_or_buy", "makeorbuy", "make-or-buy-decision"})


def _meeting_types(context: api.Context) -> list[str]:
    return sorted(context.meeting_types.types)


def target_names(context: api.Context) -> dict[str, list[str]]:
    """Every name ``explain`` answers for, by kind."""
    rules = sorted({r.id for r in context.pack.rules} | {a for r in context.pack.rules for a in r.spec.aliases})
    return {
        "rule": rules,
        "pathway": sorted(context.kb.pathways),
        "activity": sorted(set(ACTIVITY_IDS) | set(context.kb.activities)),
        "milestone": list(MILESTONE_IDS),
        "meeting type": _meeting_types(context),
        "make-or-buy": [MAKE_OR_BUY],
    }


def kind_of(target: str, context: api.Context) -> str:
    """Which kind of target a name is; a user error with the nearest names when it is none."""
    if target.lower() in _MAKE_OR_BUY_NAMES:
        return "make-or-buy"
    if context.pack.resolve(target) is not None:
        return "rule"
    names = target_names(context)
    for kind in ("pathway", "milestone", "activity", "meeting type"):
        if target in names[kind]:
            return kind
    base, _, number = target.rpartition(".")
    if number.isdigit() and base in names["activity"]:  # one item's activity, e.g. comparability_study.2
        return "activity"
    everything = sorted({name for group in names.values() for name in group})
    lowered = {name.lower(): name for name in everything}
    near = [lowered[n] for n in difflib.get_close_matches(target.lower(), list(lowered), n=5, cutoff=0.6)]
    hint = (
        f"; did you mean {', '.join(near)}?"
        if near
        else "; give a rule id, a pathway id, an activity or milestone id, a meeting type or make-or-buy"
    )
    raise UserInputError.single("explain", f"no rule, pathway, activity, milestone or meeting type {target!r}{hint}")


def explain_target(
    program: ProgramFile, context: api.Context, target: str, options: api.Options | None = None, doc: Document | None = None
) -> Answer:
    """Explain any conclusion of one program's assessment."""
    kind = kind_of(target, context)
    ev = api.evaluate(program, context, options or api.Options(), doc)
    if kind == "rule":
        rule = context.pack.resolve(target)
        assert rule is not None
        return explain_rule(ev, rule)
    if kind in ("activity", "milestone"):
        return explain_schedule_item(ev, target, kind)
    if kind == "make-or-buy":
        return explain_make_or_buy(ev, api.make_or_buy_of(ev))
    result = api.result_of(ev)
    if kind == "pathway":
        return explain_pathway(ev, result, target)
    return explain_meeting_type(ev, result, target)


# ---------------------------------------------------------------- pathways


def explain_pathway(ev: api.Evaluated, result: AssessmentResult, pid: str) -> PathwayExplanation:
    """The deciding rules of a pathway and their state, what would settle it, the questions to ask."""
    row = next((p for p in result.pathways if p.id == pid), None)
    if row is None:  # assessed only for the program's regions (the US always)
        known = ev.kb.pathways.get(pid)
        region = pid.split(".", 1)[0]
        return PathwayExplanation(
            id=pid,
            name=known.name if known else pid,
            status="not_assessed",
            rationale=f"The program's regions (program.regions) do not include {region}, so this pathway is not assessed; "
            f"add {region} to program.regions to assess it.",
            deciding=[],
            rules=[],
            citations=list(known.citations) if known else [],
        )
    states: list[RuleState] = []
    for rule in ev.pack.active:
        vote = rule.spec.then.pathway
        if vote is None or vote.id != pid:
            continue
        states.append(rule_state(ev, rule, decides=vote.status))
    settle: list[str] = []
    for state in states:
        if state.status == "undetermined" and state.missing:
            settle.append(f"{state.rule} ({state.decides}) waits for: {', '.join(state.missing)}")
        if state.would_fire_if and state.decides != row.status:
            settle.append(
                f"{state.rule} would make it {state.decides} if {'; '.join(state.would_fire_if)}"
                " (unless a stronger rule also fires)"
            )
    questions = [q.question for q in result.questions if pid in q.unlocks]
    policy: list[str] = []
    clock_rule = ev.kb.pathways[pid].review_clock if pid in ev.kb.pathways else None
    if clock_rule is not None:
        choice = api.clock_choice(ev)
        policy.append(
            f"review clock (pathways.yaml): a status of {' or '.join(clock_rule.statuses)} plans the BLA review on the "
            f"{clock_rule.clock} clock; this program plans on the {choice.clock} clock. {choice.basis}"
        )
    return PathwayExplanation(
        id=pid,
        name=row.name,
        status=row.status,
        rationale=row.rationale,
        deciding=list(row.rules),
        rules=states,
        settle=settle,
        questions=questions,
        next_step=row.next_step,
        next_step_due=row.next_step_due,
        unsettled=list(row.unsettled),
        policy=policy,
        citations=list(row.citations),
    )


# ---------------------------------------------------------------- make-or-buy


def _value(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def explain_make_or_buy(ev: api.Evaluated, mob: MakeOrBuy) -> MakeOrBuyExplanation:
    """Each consideration, its votes and evidence, the policy applied and what would flip the answer."""
    config = ev.kb.make_or_buy
    factor_rules = rules_by_factor(ev.pack)
    flips_by_fact = {flip.fact: f"{flip.fact} {flip.op} {_value(flip.value)} (gives {flip.gives})" for flip in mob.flips}
    factors: list[FactorExplanation] = []
    for factor in mob.factors:
        votes: list[Vote] = []
        waiting: list[RuleState] = []
        tested: set[str] = set()
        for rule in factor_rules.get(factor.id, []):
            vote = rule.spec.then.make_or_buy
            assert vote is not None  # grouped by their vote above
            tested |= set(rule.compiled.shape.facts)
            if rule.id in factor.rules:
                votes.append(Vote(rule=rule.id, title=rule.spec.title, favours=vote.favours, strength=vote.strength))
            elif ev.verdicts.get(rule.id) is not None and rule.id not in ev.fired:
                state = rule_state(ev, rule, decides=f"{vote.favours} +{vote.strength}", search=False)
                if state.status == "undetermined":
                    waiting.append(state)
        net = sum(v.strength if v.favours == "in_house" else -v.strength for v in votes)
        factors.append(
            FactorExplanation(
                id=factor.id,
                favours=factor.favours,
                weight=factor.weight,
                score=factor.score,
                contribution=factor.contribution,
                votes=votes,
                net_vote=net,
                capped=capped_vote(net, config) != net,
                waiting=waiting,
                evidence=dict(factor.facts),
                missing=list(factor.missing),
                reason=factor.reason,
                would_flip=[flips_by_fact[f.fact] for f in mob.flips if f.fact in tested],
            )
        )
    known, band = judged_band(mob, config)
    if band is not None:
        rule_text = (
            f"{band.confidence}: {band.basis} (at least {band.min_known_factors} considerations judged, "
            f"|score| at least {band.min_margin}; {known} judged, |score| {abs(mob.score):.4g})"
        )
    else:
        rule_text = (
            f"low: no confidence band of make_or_buy.yaml is met ({known} considerations judged, |score| {abs(mob.score):.4g})"
            if mob.recommendation != "undetermined"
            else "low: too few considerations judged to recommend"
        )
    return MakeOrBuyExplanation(
        recommendation=mob.recommendation,
        confidence=mob.confidence,
        score=mob.score,
        decide_at=config.thresholds.decide,
        known_factors=known,
        min_known_factors=config.thresholds.min_known_factors,
        vote_cap=config.vote_cap,
        confidence_rule=rule_text,
        factors=factors,
        would_flip_if=list(mob.would_flip_if),
        basis=config.basis,
    )


# ---------------------------------------------------------------- activities and milestones


def _states(ev: api.Evaluated, rule_ids: Iterable[str], decides: Callable[[LoadedRule], str | None]) -> list[RuleState]:
    states = []
    for rule_id in sorted(set(rule_ids)):
        rule = ev.pack.by_id.get(rule_id)
        if rule is not None:
            states.append(rule_state(ev, rule, decides=decides(rule), search=False))
    return states


def _schedule_effect(rule: LoadedRule) -> str | None:
    then = rule.spec.then
    parts = [
        f"requires {', '.join(then.requires)}" if then.requires else "",
        f"before {', '.join(then.before)}" if then.before else "",
    ]
    return "; ".join(p for p in parts if p) or None


def explain_schedule_item(ev: api.Evaluated, item_id: str, kind: str) -> ScheduleExplanation:
    """What sets an activity's or milestone's dates, what makes it late, the smallest change that would help.

    The timeline answers (:func:`cmcadvisor.timeline.explain.explain_built`); this adds the state
    of the rules behind it and, for the approval milestones, the review-clock policy applied.
    """
    from cmcadvisor.timeline.explain import explain_built

    choice = api.clock_choice(ev)
    policy: list[str] = []
    if item_id in ("bla_approval", "commercial_launch"):
        where = (
            f"the status of {choice.pathway} ({choice.status}) in pathways.yaml"
            if choice.pathway
            else "the program file or the default"
        )
        policy.append(f"The BLA review is planned on the {choice.clock} clock, chosen by {where}: {choice.basis}")
    try:
        detail = explain_built(api.built_of(ev), item_id, ev.kb)
    except UsageError:  # not on this program's timeline: which rules would put it there
        adders = [r for r in ev.pack.active if item_id in r.spec.then.requires or item_id in r.spec.then.before]
        return ScheduleExplanation(
            target="milestone" if kind == "milestone" else "activity",
            id=item_id,
            name=ev.kb.activities[item_id].name if item_id in ev.kb.activities else item_id,
            on_timeline=False,
            could_add=[rule_state(ev, r, decides=_schedule_effect(r)) for r in adders],
            policy=policy,
        )
    origins = set(detail.rules) | {o for edge in (*detail.predecessors, *detail.successors) for o in edge.added_by}
    return ScheduleExplanation(
        target=detail.kind,
        id=item_id,
        name=detail.name,
        on_timeline=True,
        schedule=detail,
        rules=_states(ev, (o for o in origins if o in ev.pack.by_id), _schedule_effect),
        policy=policy,
    )


# ---------------------------------------------------------------- meetings


def explain_meeting_type(ev: api.Evaluated, result: AssessmentResult, meeting_type: str) -> MeetingAnswer:
    """Why a meeting type fits the program or not, its dates and the rules behind its questions (the meetings answer)."""
    from cmcadvisor.meetings import explain_meeting

    detail = explain_meeting(result, ev.program, meeting_type, ev.context.meeting_types, gates=ev.context.pack.region_gates)
    rule_ids = {r for q in detail.questions for r in q.rules}
    return MeetingAnswer(type=detail.type, meeting=detail, rules=_states(ev, rule_ids, lambda rule: None))
