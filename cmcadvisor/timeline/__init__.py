"""The timeline: dependent manufacturing decisions scheduled by the critical path method.

The only home of networkx. Which activities exist is decided by the rules that fired (their
``then.requires`` and ``then.before``); durations, completion conditions, the standard order of
CMC work, milestones and what each long-lead item is needed for come from
``knowledge/activities.yaml`` (:mod:`.plan`); targets from ``clinical.milestones``; the BLA
review clock from the knowledge base. A long-lead item waits before what needs it, so a late
item moves everything after it, and each late item says how far it moves the BLA. The critical
path is the chain of least slack that sets the last BLA milestone (:mod:`.cpm`). A cycle is a
:class:`~cmcadvisor.errors.TimelineCycleError` naming what made each edge. This package
computes dates; it must not render them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from cmcadvisor.conditions import Firing
from cmcadvisor.dates import add_months
from cmcadvisor.errors import ErrorItem, TimelineCycleError
from cmcadvisor.facts import FactSet
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import MILESTONE_IDS
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import Activity, LateItem, Milestone, Timeline
from cmcadvisor.registry import RulePack
from cmcadvisor.timeline.cpm import Schedule, forward, schedule, topological
from cmcadvisor.timeline.plan import Plan, build_plan

__all__ = ["Built", "Schedule", "build", "hook_cycles", "schedule", "to_timeline", "topological"]
_topological = topological  # the name the tests know
REVIEW_CLOCK = "review clock"
TERMINALS = ("bla_approval", "bla_submission")


@dataclass(frozen=True)
class Built:
    """A scheduled plan: what :func:`to_timeline` reports and :mod:`.explain` reads."""

    plan: Plan
    graph: nx.DiGraph[str]
    result: Schedule
    start: int
    terminal: str | None
    review_months: int
    priority: bool


def _graph(plan: Plan) -> nx.DiGraph[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    for node in plan.nodes.values():
        graph.add_node(
            node.id,
            duration=node.duration,
            not_before=node.not_before,
            fixed=node.fixed,
            done=node.status == "complete",
            milestone=node.milestone and node.id != "bla_submission",
        )
    for (a, b), (lag, origins) in sorted(plan.edges.items()):
        if a not in plan.nodes or b not in plan.nodes or plan.nodes[b].fixed is not None:
            continue  # an edge into a milestone that already happened cannot move it
        graph.add_edge(a, b, lag=lag, origins=origins)
    return graph


def _order(graph: nx.DiGraph[str]) -> list[str]:
    """The topological order, or the cycle that prevents it, named with what made each edge."""
    try:
        return topological(graph)
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph)
        items = [
            ErrorItem("timeline", None, f"{a} -> {b}", "edge added by " + ", ".join(sorted(graph.edges[a, b].get("origins", ()))))
            for a, b in cycle
        ]
        path = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
        items.insert(0, ErrorItem("timeline", None, "", "activities depend on each other in a cycle: " + path))
        raise TimelineCycleError(items) from None


def build(
    program: ProgramFile,
    facts: FactSet,
    pack: RulePack,
    kb: KnowledgeBase,
    firings: Sequence[Firing],
    as_of: datetime.date,
    *,
    priority_review: bool,
) -> Built:
    """The plan, its graph and its schedule (the review clock set from the forecast submission)."""
    plan = build_plan(program, facts, pack, kb, firings, as_of)
    start = as_of.toordinal()
    graph = _graph(plan)
    order = _order(graph)
    review_months = kb.review.priority_months if priority_review else kb.review.standard_months
    if "bla_submission" in plan.nodes:
        submitted = datetime.date.fromordinal(
            forward(graph, order, start)["bla_submission"] + plan.nodes["bla_submission"].duration
        )
        filed = submitted + datetime.timedelta(days=kb.review.filing_days)
        if "bla_approval" in plan.nodes and plan.nodes["bla_approval"].fixed is None:
            lag = (add_months(filed, review_months) - submitted).days
            graph.add_edge("bla_submission", "bla_approval", lag=lag, origins={REVIEW_CLOCK})
        if "pre_license_inspection" in plan.nodes:
            inspect = add_months(filed, round(review_months * kb.review.inspection_fraction))
            graph.remove_edges_from([("bla_submission", "pre_license_inspection")])
            graph.add_edge("bla_submission", "pre_license_inspection", lag=(inspect - submitted).days, origins={REVIEW_CLOCK})
            if "bla_approval" in plan.nodes and plan.nodes["bla_approval"].fixed is None:
                graph.add_edge("pre_license_inspection", "bla_approval", lag=0, origins={"21 CFR 601.20(d)"})
    terminal = next((m for m in TERMINALS if m in plan.nodes and plan.nodes[m].fixed is None), None)
    anchors = frozenset({"bla_submission"} if "bla_submission" in plan.nodes and plan.nodes["bla_submission"].fixed else ())
    try:
        result = schedule(graph, start, terminal, anchors)
    except nx.NetworkXUnfeasible:  # the review clock's edges closed a cycle: name it
        _order(graph)
        raise
    return Built(plan, graph, result, start, terminal, review_months, priority_review)


def _iso(ordinal: int) -> str:
    return datetime.date.fromordinal(ordinal).isoformat()


def deadlines(built: Built, node_id: str) -> list[tuple[int, str]]:
    """The dates an activity must finish by, each with where it comes from."""
    plan = built.plan
    node = plan.nodes[node_id]
    if node.milestone or node.status == "complete":
        return []
    found = [(node.due, "its need-by date")] if node.due is not None else []
    for a, m in plan.edges:
        if a != node_id or m not in plan.nodes or not plan.nodes[m].milestone:
            continue
        target = plan.nodes[m].fixed if plan.nodes[m].fixed is not None else plan.nodes[m].not_before
        if target is not None:
            found.append((target, m))
    return sorted(found)


def knock_on(built: Built, node_id: str) -> dict[str, int]:
    """What waiting for ``node_id`` moves, by days: the schedule with it done today, compared."""
    base = built.result.es
    without = forward(built.graph, built.result.order, built.start, {node_id: 0}, built.result.incoming)
    return {n: base[n] - without[n] for n in built.result.order if base[n] > without[n] and n != node_id}


def to_timeline(built: Built, program: ProgramFile) -> Timeline:
    """The output model of a scheduled plan."""
    plan, graph, result = built.plan, built.graph, built.result
    late: list[str] = []
    activities: list[Activity] = []
    late_items: list[LateItem] = []
    for node_id in topological(graph, key=lambda n: (result.es[n], n)):
        node = plan.nodes[node_id]
        done = node.status == "complete"
        slack = result.slack(node_id)
        due = deadlines(built, node_id)
        late_by = result.ef[node_id] - due[0][0] if due and result.ef[node_id] > due[0][0] else None
        if late_by:
            late.append(node_id)
        if node.needed_for and not done:
            moved = knock_on(built, node_id)
            if moved or late_by:
                late_items.append(
                    LateItem(
                        id=node_id,
                        name=node.name,
                        needed_for=list(node.needed_for),
                        finish=_iso(result.ef[node_id]),
                        need_by=_iso(node.due) if node.due is not None else None,
                        late_by_days=late_by,
                        bla_delay_days=moved.get("bla_submission", 0),
                        delays=dict(sorted(moved.items())),
                    )
                )
        if node.milestone and node_id != "bla_submission":
            continue
        activities.append(
            Activity(
                id=node_id,
                name=node.name,
                start=None if done else _iso(result.es[node_id]),
                finish=None if done else _iso(result.ef[node_id]),
                slack_days=None if done or node.fixed is not None else slack,
                critical=not done and node.fixed is None and slack <= 0,
                depends_on=sorted(graph.predecessors(node_id)),
                rules=sorted(node.rules),
                duration_days=node.duration,
                status=node.status,
                due=_iso(due[0][0]) if due else None,
                late_by_days=late_by,
                basis=node.basis,
            )
        )
    milestones: list[Milestone] = []
    own = program.clinical.milestones if program.clinical and program.clinical.milestones else None
    for milestone in MILESTONE_IDS:
        if milestone not in plan.nodes:
            continue
        node = plan.nodes[milestone]
        target_date = getattr(own, milestone, None) if own else None
        late_by = result.ef[milestone] - target_date.toordinal() if target_date else None
        if late_by is not None and late_by > 0 and node.status != "achieved":
            late.append(milestone)
        milestones.append(
            Milestone(
                id=milestone,
                target=target_date.isoformat() if target_date else None,
                forecast=_iso(result.ef[milestone]),
                late_by_days=max(late_by, 0) if late_by is not None else None,
                status="achieved" if node.status == "achieved" else "planned",
            )
        )
    clock = "priority" if built.priority else "standard"
    late_items.sort(key=lambda i: (-i.bla_delay_days, -(i.late_by_days or 0), i.id))
    return Timeline(
        activities=activities,
        milestones=milestones,
        critical_path=list(result.critical_path),
        late=sorted(set(late)),
        note=(
            f"Calendar days from the as-of date; BLA review on the {clock} clock "
            f"({built.review_months} months after the 60-day filing date)."
        ),
        late_items=late_items,
    )


def hook_cycles(pack: RulePack, kb: KnowledgeBase) -> list[tuple[str, str]]:
    """Rules whose timeline hooks contradict the standard order of work (for ``rules lint``).

    Each rule's ``requires -> before`` edges are added, one rule at a time, to the knowledge
    base's activity order and the milestone order; a rule that closes a cycle is reported
    with the cycle, so it never reaches a user as a failed assessment.
    """
    base: nx.DiGraph[str] = nx.DiGraph()
    for activity in kb.activities.values():
        base.add_node(activity.id)
        for dep in activity.depends_on:
            base.add_edge(dep, activity.id)
        for targets in activity.needed_for.values():
            base.add_edges_from((activity.id, t) for t in targets)
    for earlier, later in zip(MILESTONE_IDS, MILESTONE_IDS[1:], strict=False):
        base.add_edge(earlier, later)
    problems: list[tuple[str, str]] = []
    for rule in pack.active:
        graph = base.copy()
        graph.add_edges_from((a, m) for a in rule.spec.then.requires for m in rule.spec.then.before if a != m)
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            continue
        problems.append((rule.id, " -> ".join([a for a, _ in cycle] + [cycle[0][0]])))
    return problems
