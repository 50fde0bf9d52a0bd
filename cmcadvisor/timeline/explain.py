"""Why an activity or milestone sits where it does, what makes it late, and what would fix it.

The edges and rules that set its dates are listed with what added them. The change is
searched, not guessed: each activity on the chain that sets the node's start is shortened by
the least number of days that, rescheduled, brings the node back to its date (a binary search
over a forward pass); moving the date itself is offered last. This module returns data
(:mod:`cmcadvisor.models.schedule_explain`); it must not print.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from cmcadvisor import display
from cmcadvisor.conditions import Firing
from cmcadvisor.errors import UsageError
from cmcadvisor.facts import FactSet
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.rule import AllOf, AnyOf, Condition, Leaf, NotOf
from cmcadvisor.models.schedule_explain import ActivityExplanation, RuleEdge, RuleSchedule, ScheduleChange, ScheduleEdge
from cmcadvisor.registry import RulePack
from cmcadvisor.timeline import Built, build, deadlines
from cmcadvisor.timeline.cpm import driving_chain


def condition_text(condition: Condition | None) -> str | None:
    """A compact reading of a knowledge condition (fact, test, value)."""
    if condition is None:
        return None
    if isinstance(condition, AllOf):
        return " and ".join(f"({condition_text(c)})" for c in condition.all)
    if isinstance(condition, AnyOf):
        return " or ".join(f"({condition_text(c)})" for c in condition.any)
    if isinstance(condition, NotOf):
        return f"not ({condition_text(condition.not_)})"
    assert isinstance(condition, Leaf)
    value = ", ".join(str(v) for v in condition.value) if isinstance(condition.value, list) else condition.value
    return f"{condition.fact} {condition.op} {value}"


def _edges(built: Built, node_id: str, incoming: bool) -> list[ScheduleEdge]:
    graph, plan, es, ef = built.graph, built.plan, built.result.es, built.result.ef
    pairs = graph.pred[node_id] if incoming else graph.succ[node_id]
    out: list[ScheduleEdge] = []
    for other, data in sorted(pairs.items()):
        lag = int(data.get("lag", 0))
        sets = incoming and ef[other] + lag == es[node_id] and plan.nodes[other].status != "complete"
        out.append(
            ScheduleEdge(
                id=other, name=plan.nodes[other].name, lag_days=lag, added_by=sorted(data.get("origins", ())), sets_start=sets
            )
        )
    return out


def _lateness(built: Built, node_id: str, durations: dict[str, int]) -> int:
    """Days late against the node's own date, with some durations changed."""
    node = built.plan.nodes[node_id]
    due = _due(built, node_id)
    if due is None:
        return 0
    es = built.result.what_if(built.start, durations)
    finish = es[node_id] + durations.get(node_id, node.duration)
    return finish - due[0]


def _due(built: Built, node_id: str) -> tuple[int, str] | None:
    node = built.plan.nodes[node_id]
    if node.milestone:
        return (node.not_before, "the program's target") if node.not_before is not None else None
    found = deadlines(built, node_id)
    if not found:
        return None
    date, where = found[0]
    return date, where if where == "its need-by date" else f"the {display.term(where)} date it must precede"


def _changes(built: Built, node_id: str, late_by: int, chain: Sequence[str]) -> list[ScheduleChange]:
    plan = built.plan
    found: list[ScheduleChange] = []
    for candidate in chain:
        node = plan.nodes[candidate]
        if node.milestone or node.duration <= 0 or node.status == "complete":
            continue
        if _lateness(built, node_id, {candidate: 0}) > 0:
            continue  # even with no duration at all, another chain keeps it late
        low, high = 1, node.duration
        while low < high:
            mid = (low + high) // 2
            if _lateness(built, node_id, {candidate: node.duration - mid}) > 0:
                low = mid + 1
            else:
                high = mid
        fact = (
            node.basis.rsplit("(", 1)[-1].rstrip(")") if node.basis and node.basis.endswith(")") and "." in node.basis else None
        )
        found.append(
            ScheduleChange(
                id=candidate,
                name=node.name,
                kind="shorten",
                from_days=node.duration,
                to_days=node.duration - low,
                fact=fact,
                text=f"Shorten {display.shorten(node.name, 80)} by {display.quantity(low, 'days')} "
                f"(from {display.quantity(node.duration, 'days')} to {display.quantity(node.duration - low, 'days')}).",
            )
        )
    found.sort(key=lambda c: ((c.from_days or 0) - (c.to_days or 0), c.id))
    node = plan.nodes[node_id]
    new_date = datetime.date.fromordinal(built.result.ef[node_id]).isoformat()
    what = "the target" if node.milestone else "the date it is needed by"
    found.append(
        ScheduleChange(
            id=node_id,
            name=node.name,
            kind="move_target",
            new_date=new_date,
            text=f"Or move {what} by {display.quantity(late_by, 'days')}, to {display.human_date(new_date)}.",
        )
    )
    return found


def explain_built(built: Built, target: str, kb: KnowledgeBase) -> ActivityExplanation:
    """The explanation of one node of an already scheduled plan."""
    plan, result = built.plan, built.result
    if target not in plan.nodes:
        known = ", ".join(sorted(plan.nodes)) or "none"
        raise UsageError.single(target, f"no activity or milestone {target} on this program's timeline (it has: {known})")
    node = plan.nodes[target]
    activity = kb.activities.get(node.base)
    done = node.status == "complete"
    chain = driving_chain(built.graph, target, result.es, result.ef, result.ls)
    incoming = _edges(built, target, True)
    setter = next((e for e in incoming if e.sets_start), None)
    if node.fixed is not None:
        set_by = "it has already happened (the program's clinical stage)"
    elif done:
        set_by = "the work is already done"
    elif setter is not None:
        set_by = f"{setter.name} must come first (added by {', '.join(setter.added_by)})"
    elif node.not_before is not None and result.es[target] == node.not_before:
        set_by = "the program's own target date"
    else:
        set_by = "the as-of date: nothing before it is still to do"
    due = _due(built, target)
    late_by = result.ef[target] - due[0] if due and not done and node.fixed is None else None
    late_by = late_by if late_by and late_by > 0 else None
    because: list[str] = []
    changes: list[ScheduleChange] = []
    if late_by:
        drivers = [plan.nodes[n].name for n in chain[:-1]]
        because.append(
            f"It is forecast {display.quantity(late_by, 'days')} after {due[1] if due else 'its date'}"
            + (f", because it waits for: {'; '.join(drivers)}." if drivers else ".")
        )
        changes = _changes(built, target, late_by, chain)
    slack = None if done or node.fixed is not None else result.slack(target)
    return ActivityExplanation(
        id=target,
        name=node.name,
        kind="milestone" if node.milestone else "activity",
        status=node.status,
        status_basis=node.status_basis,
        completion=condition_text(activity.complete_when) if activity else None,
        start=None if done else datetime.date.fromordinal(result.es[target]).isoformat(),
        finish=None if done else datetime.date.fromordinal(result.ef[target]).isoformat(),
        duration_days=node.duration,
        duration_basis=node.basis,
        slack_days=slack,
        on_critical_path=target in result.critical_path,
        rules=sorted(node.rules),
        set_by=set_by,
        predecessors=incoming,
        successors=_edges(built, target, False),
        driving_chain=chain,
        due=datetime.date.fromordinal(due[0]).isoformat() if due else None,
        due_basis=due[1] if due else None,
        late_by_days=late_by,
        late_because=because,
        smallest_change=changes[0] if changes else None,
        other_changes=changes[1:],
        citations=list(activity.citations) if activity else [],
    )


def explain_activity(
    program: ProgramFile,
    facts: FactSet,
    pack: RulePack,
    kb: KnowledgeBase,
    firings: Sequence[Firing],
    as_of: datetime.date,
    target: str,
    *,
    priority_review: bool,
) -> ActivityExplanation:
    """Explain one activity or milestone id of the program's timeline (``UsageError`` when it has none such)."""
    built = build(program, facts, pack, kb, firings, as_of, priority_review=priority_review)
    return explain_built(built, target, kb)


def rule_schedule(built: Built, rule_id: str, fired: bool) -> RuleSchedule:
    """The activities a rule put on an already scheduled plan and the links it added (for ``explain RULE``)."""
    plan = built.plan
    names = {n: node.name for n, node in plan.nodes.items()}
    return RuleSchedule(
        rule=rule_id,
        fired=fired,
        activities=sorted(n for n, node in plan.nodes.items() if rule_id in node.rules),
        edges=[
            RuleEdge(before=a, before_name=names.get(a, a), after=b, after_name=names.get(b, b))
            for (a, b), (_, origins) in sorted(plan.edges.items())
            if rule_id in origins
        ],
    )
