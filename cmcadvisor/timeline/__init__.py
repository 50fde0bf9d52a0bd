"""The timeline: dependent manufacturing decisions scheduled by the critical path method.

The only home of networkx, imported only where a graph is read: ``explain`` (:attr:`Built.graph`,
made from the plan when first read), a cycle's error and ``rules lint`` (:func:`hook_cycles`);
an assessment schedules over plain lists (:mod:`.cpm`). Which activities exist is decided by the
rules that fired (their ``then.requires`` and ``then.before``); durations, completion
conditions, the standard order of CMC work, milestones and what each long-lead item is needed
for come from ``knowledge/activities.yaml`` (:mod:`.plan`); targets from
``clinical.milestones``; the BLA review clock from the knowledge base. A long-lead item waits
before what needs it, so a late item moves everything after it, and each late item says how far
it moves the BLA. The critical path is the chain of least slack that sets the last BLA milestone
(:mod:`.cpm`). A cycle is a :class:`~cmcadvisor.errors.TimelineCycleError` naming what made each
edge. This package computes dates; it must not render them.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cmcadvisor.conditions import Firing
from cmcadvisor.dates import add_months
from cmcadvisor.errors import ErrorItem, TimelineCycleError
from cmcadvisor.facts import FactSet
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import MILESTONE_IDS
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import Timeline
from cmcadvisor.registry import RulePack
from cmcadvisor.timeline.cpm import Links, Row, Schedule, earliest_starts, order_or_none, schedule, schedule_rows, topological
from cmcadvisor.timeline.plan import Plan, PlanNode, build_plan

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Built", "Schedule", "build", "hook_cycles", "schedule", "to_timeline", "topological"]
_topological = topological  # the name the tests know
REVIEW_CLOCK = "review clock"
TERMINALS = ("bla_approval", "bla_submission")
Edge = tuple[str, str, int, str]  # (earlier, later, lag, what made the edge)


@dataclass(frozen=True)
class Built:
    """A scheduled plan: what :func:`to_timeline` reports and :mod:`.explain` reads."""

    plan: Plan
    result: Schedule
    start: int
    terminal: str | None
    review_months: int
    priority: bool
    dropped: tuple[tuple[str, str], ...] = ()  # the plan's edges the review clock replaces (taken out first)
    clock: tuple[Edge, ...] = ()  # the review clock's edges (then set, in this order)

    @functools.cached_property
    def graph(self) -> nx.DiGraph[str]:
        """The scheduled plan's decision graph (made when first read: only ``explain`` reads it)."""
        return _graph(self.plan, self.dropped, self.clock)

    @functools.cached_property
    def milestone_dates(self) -> dict[str, list[tuple[int, str]]]:
        """For each node, the dated milestones it must precede (its edges in the plan read once, for :func:`deadlines`)."""
        nodes = self.plan.nodes
        found: dict[str, list[tuple[int, str]]] = {}
        for a, m in self.plan.edges:
            after = nodes.get(m)
            if after is None or not after.milestone:
                continue
            target = after.fixed if after.fixed is not None else after.not_before
            if target is not None:
                found.setdefault(a, []).append((target, m))
        return found


def _done_and_milestone(node_id: str, node: PlanNode) -> tuple[bool, bool]:
    """Whether a node is complete, and whether it is scheduled as a milestone (the BLA submission is work)."""
    return node.status == "complete", node.milestone and node_id != "bla_submission"


def _node_data(plan: Plan) -> dict[str, dict[str, Any]]:
    """Each node's data, as the graph holds it (:func:`_rows` reads the same from the plan)."""
    found: dict[str, dict[str, Any]] = {}
    for node_id, node in plan.nodes.items():
        done, milestone = _done_and_milestone(node_id, node)
        found[node_id] = {
            "duration": node.duration,
            "not_before": node.not_before,
            "fixed": node.fixed,
            "done": done,
            "milestone": milestone,
        }
    return found


def _edges(plan: Plan) -> list[tuple[str, str, int, set[str]]]:
    """The plan's edges in a fixed order (sorted), each with its lag and origins."""
    nodes = plan.nodes
    return [
        (a, b, lag, origins)
        for (a, b), (lag, origins) in sorted(plan.edges.items())
        # an edge into a milestone that already happened cannot move it
        if a in nodes and b in nodes and nodes[b].fixed is None
    ]


def _links(plan: Plan) -> tuple[Links, Links]:
    """The plan's predecessor and successor lists (what the passes read): the same edges, in the same order, as its graph."""
    incoming: Links = {node_id: [] for node_id in plan.nodes}
    outgoing: Links = {node_id: [] for node_id in plan.nodes}
    for a, b, lag, _ in _edges(plan):
        outgoing[a].append((b, lag))
        incoming[b].append((a, lag))
    return incoming, outgoing


def _rows(plan: Plan, order: Sequence[str], incoming: Links) -> list[Row]:
    """``rows_of(_node_data(plan), order, incoming)``, read from the plan's nodes without making their data dicts."""
    nodes = plan.nodes
    rows: list[Row] = []
    for node_id in order:
        node = nodes[node_id]
        done, milestone = _done_and_milestone(node_id, node)
        rows.append((node_id, node.fixed, node.not_before or None, node.duration, None, incoming[node_id], done, milestone))
    return rows


def _graph(plan: Plan, dropped: Sequence[tuple[str, str]] = (), clock: Sequence[Edge] = ()) -> nx.DiGraph[str]:
    """The plan's decision graph, less the ``dropped`` edges and with the ``clock`` edges set (the lists' edges and order)."""
    import networkx as nx

    attrs = _node_data(plan)
    graph: nx.DiGraph[str] = nx.DiGraph()
    # ids first, then their data: (id, data) pairs cost networkx a caught TypeError each
    graph.add_nodes_from(attrs)
    for node_id, data in graph.nodes(data=True):  # networkx's own dicts, not views
        data.update(attrs[node_id])
    graph.add_edges_from([(a, b, {"lag": lag, "origins": origins}) for a, b, lag, origins in _edges(plan)])
    graph.remove_edges_from(dropped)
    for a, b, lag, origin in clock:
        graph.add_edge(a, b, lag=lag, origins={origin})
    return graph


def _set_edge(incoming: Links, outgoing: Links, a: str, b: str, lag: int) -> None:
    """``a`` before ``b`` with this lag in the lists (an edge already there keeps its place, as in a graph)."""
    for pairs, other in ((outgoing[a], b), (incoming[b], a)):
        for index, (node, _) in enumerate(pairs):
            if node == other:
                pairs[index] = (other, lag)
                break
        else:
            pairs.append((other, lag))


def _drop_edge(incoming: Links, outgoing: Links, a: str, b: str) -> None:
    """No edge ``a -> b`` in the lists."""
    outgoing[a][:] = [pair for pair in outgoing[a] if pair[0] != b]
    incoming[b][:] = [pair for pair in incoming[b] if pair[0] != a]


def _order(incoming: Links, outgoing: Links, graph: Callable[[], nx.DiGraph[str]]) -> list[str]:
    """A topological order of the lists, or the cycle that prevents the order, named with what made each edge.

    ``graph`` makes the graph of the same edges: only a cycle needs it (networkx finds the cycle).
    """
    order = order_or_none(incoming, outgoing)
    if order is not None:
        return order
    import networkx as nx

    found = graph()
    cycle = nx.find_cycle(found)
    items = [
        ErrorItem("timeline", None, f"{a} -> {b}", "edge added by " + ", ".join(sorted(found.edges[a, b].get("origins", ()))))
        for a, b in cycle
    ]
    path = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
    items.insert(0, ErrorItem("timeline", None, "", "activities depend on each other in a cycle: " + path))
    raise TimelineCycleError(items)


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
    nodes = plan.nodes
    start = as_of.toordinal()
    incoming, outgoing = _links(plan)
    order = _order(incoming, outgoing, lambda: _graph(plan))
    rows = _rows(plan, order, incoming)  # each row holds its node's list of predecessors: edits below show in it
    review_months = kb.review.priority_months if priority_review else kb.review.standard_months
    dropped: tuple[tuple[str, str], ...] = ()  # the plan's edges the review clock replaces
    clock: list[Edge] = []  # the review clock's edges
    if "bla_submission" in nodes:
        submitted = datetime.date.fromordinal(earliest_starts(rows, start)["bla_submission"] + nodes["bla_submission"].duration)
        filed = submitted + datetime.timedelta(days=kb.review.filing_days)
        approval = "bla_approval" in nodes and nodes["bla_approval"].fixed is None
        if approval:
            lag = (add_months(filed, review_months) - submitted).days
            clock.append(("bla_submission", "bla_approval", lag, REVIEW_CLOCK))
        if "pre_license_inspection" in nodes:
            inspect = add_months(filed, round(review_months * kb.review.inspection_fraction))
            _drop_edge(incoming, outgoing, "bla_submission", "pre_license_inspection")
            dropped = (("bla_submission", "pre_license_inspection"),)
            clock.append(("bla_submission", "pre_license_inspection", (inspect - submitted).days, REVIEW_CLOCK))
            if approval:
                clock.append(("pre_license_inspection", "bla_approval", 0, "21 CFR 601.20(d)"))
        for a, b, lag, _ in clock:
            _set_edge(incoming, outgoing, a, b, lag)
        # the review clock's edges may close a cycle: named here
        order = _order(incoming, outgoing, lambda: _graph(plan, dropped, clock))
        by_id = {row[0]: row for row in rows}
        rows = [by_id[node_id] for node_id in order]
    terminal = next((m for m in TERMINALS if m in nodes and nodes[m].fixed is None), None)
    anchors = frozenset({"bla_submission"} if "bla_submission" in nodes and nodes["bla_submission"].fixed else ())
    result = schedule_rows(rows, start, terminal, anchors, order, incoming, outgoing)
    return Built(plan, result, start, terminal, review_months, priority_review, dropped, tuple(clock))


@functools.lru_cache(maxsize=4096)  # a pure function of a small int: the same few hundred dates recur across programs
def _iso(ordinal: int) -> str:
    return datetime.date.fromordinal(ordinal).isoformat()


def deadlines(built: Built, node_id: str) -> list[tuple[int, str]]:
    """The dates an activity must finish by, each with where it comes from."""
    plan = built.plan
    node = plan.nodes[node_id]
    if node.milestone or node.status == "complete":
        return []
    found = [(node.due, "its need-by date")] if node.due is not None else []
    found.extend(built.milestone_dates.get(node_id, ()))
    return sorted(found)


def knock_on(built: Built, node_id: str) -> dict[str, int]:
    """What waiting for ``node_id`` moves, by days: the schedule with it done today, compared."""
    base = built.result.es
    without = built.result.earlier_if_done(built.start, node_id)  # only the nodes that move, in topological order
    return {n: base[n] - earliest for n, earliest in without.items() if base[n] > earliest and n != node_id}


def to_timeline(built: Built, program: ProgramFile) -> Timeline:
    """The output model of a scheduled plan.

    The activities, milestones and late items are gathered as plain dicts and the whole
    timeline validated in one call: pydantic-core checks a tree of dicts natively, faster than
    one ``Activity(...)`` call per activity (and than ``model_construct``, which is pure Python).
    """
    plan, result = built.plan, built.result
    es, ef, ls, incoming = result.es, result.ef, result.ls, result.incoming
    # each node's earliest dated milestone (what :func:`deadlines` puts first with its own need-by date)
    before_milestone = {node_id: min(found)[0] for node_id, found in built.milestone_dates.items()}
    late: list[str] = []
    activities: list[dict[str, object]] = []
    late_items: list[dict[str, Any]] = []
    for node_id in result.by_start():
        node = plan.nodes[node_id]
        done = node.status == "complete"
        slack = ls[node_id] - es[node_id]
        due: int | None = None  # the first of the node's deadlines
        if not node.milestone and not done:
            due = before_milestone.get(node_id)
            if node.due is not None and (due is None or node.due < due):
                due = node.due
        finish = ef[node_id]
        late_by = finish - due if due is not None and finish > due else None
        if late_by:
            late.append(node_id)
        if node.needed_for and not done:
            moved = knock_on(built, node_id)
            if moved or late_by:
                late_items.append(
                    {
                        "id": node_id,
                        "name": node.name,
                        "needed_for": list(node.needed_for),
                        "finish": _iso(finish),
                        "need_by": _iso(node.due) if node.due is not None else None,
                        "late_by_days": late_by,
                        "bla_delay_days": moved.get("bla_submission", 0),
                        "delays": dict(sorted(moved.items())),
                    }
                )
        if node.milestone and node_id != "bla_submission":
            continue
        activities.append(
            {
                "id": node_id,
                "name": node.name,
                "start": None if done else _iso(es[node_id]),
                "finish": None if done else _iso(finish),
                "slack_days": None if done or node.fixed is not None else slack,
                "critical": not done and node.fixed is None and slack <= 0,
                "depends_on": sorted([p for p, _ in incoming[node_id]]),
                "rules": sorted(node.rules),
                "duration_days": node.duration,
                "status": node.status,
                "due": _iso(due) if due is not None else None,
                "late_by_days": late_by,
                "basis": node.basis,
            }
        )
    milestones: list[dict[str, object]] = []
    own = program.clinical.milestones if program.clinical and program.clinical.milestones else None
    for milestone in MILESTONE_IDS:
        if milestone not in plan.nodes:
            continue
        node = plan.nodes[milestone]
        target_date = getattr(own, milestone, None) if own else None
        late_by = ef[milestone] - target_date.toordinal() if target_date else None
        if late_by is not None and late_by > 0 and node.status != "achieved":
            late.append(milestone)
        milestones.append(
            {
                "id": milestone,
                "target": target_date.isoformat() if target_date else None,
                "forecast": _iso(ef[milestone]),
                "late_by_days": max(late_by, 0) if late_by is not None else None,
                "status": "achieved" if node.status == "achieved" else "planned",
            }
        )
    clock = "priority" if built.priority else "standard"
    late_items.sort(key=lambda i: (-i["bla_delay_days"], -(i["late_by_days"] or 0), i["id"]))
    return Timeline.model_validate(
        {
            "activities": activities,
            "milestones": milestones,
            "critical_path": list(result.critical_path),
            "late": sorted(set(late)),
            "note": (
                f"Calendar days from the as-of date; BLA review on the {clock} clock "
                f"({built.review_months} months after the 60-day filing date)."
            ),
            "late_items": late_items,
        }
    )


def hook_cycles(pack: RulePack, kb: KnowledgeBase) -> list[tuple[str, str]]:
    """Rules whose timeline hooks contradict the standard order of work (for ``rules lint``).

    Each rule's ``requires -> before`` edges are added, one rule at a time, to the knowledge
    base's activity order and the milestone order; a rule that closes a cycle is reported
    with the cycle, so it never reaches a user as a failed assessment.
    """
    import networkx as nx

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
