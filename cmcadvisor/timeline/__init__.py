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
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

from cmcadvisor.conditions import Firing
from cmcadvisor.dates import add_months
from cmcadvisor.errors import ErrorItem, TimelineCycleError
from cmcadvisor.facts import FactSet
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import MILESTONE_IDS
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import Timeline
from cmcadvisor.registry import RulePack
from cmcadvisor.timeline.cpm import Links, Schedule, earliest_starts, order_of, rows_of, schedule, schedule_rows, topological
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


def _graph(plan: Plan) -> tuple[nx.DiGraph[str], dict[str, dict[str, Any]], Links, Links]:
    """The plan's decision graph, with what the passes read of it (node data, predecessor and successor lists) made alongside.

    The lists hold the same edges as the graph (and, through :func:`_set_edge`, the same changes),
    so the schedule never reads the graph back.
    """
    nodes = plan.nodes
    attrs: dict[str, dict[str, Any]] = {
        node_id: {
            "duration": node.duration,
            "not_before": node.not_before,
            "fixed": node.fixed,
            "done": node.status == "complete",
            "milestone": node.milestone and node_id != "bla_submission",
        }
        for node_id, node in nodes.items()
    }
    graph: nx.DiGraph[str] = nx.DiGraph()
    # ids first, then their data: (id, data) pairs cost networkx a caught TypeError each
    graph.add_nodes_from(attrs)
    for node_id, data in graph.nodes(data=True):  # networkx's own dicts, not views
        data.update(attrs[node_id])
    edges = [
        (a, b, lag, origins)
        for (a, b), (lag, origins) in sorted(plan.edges.items())
        # an edge into a milestone that already happened cannot move it
        if a in nodes and b in nodes and nodes[b].fixed is None
    ]
    graph.add_edges_from([(a, b, {"lag": lag, "origins": origins}) for a, b, lag, origins in edges])
    incoming: Links = {node_id: [] for node_id in attrs}
    outgoing: Links = {node_id: [] for node_id in attrs}
    for a, b, lag, _ in edges:
        outgoing[a].append((b, lag))
        incoming[b].append((a, lag))
    return graph, attrs, incoming, outgoing


def _set_edge(graph: nx.DiGraph[str], incoming: Links, outgoing: Links, a: str, b: str, lag: int, origin: str) -> None:
    """``a`` before ``b`` with this lag and origin, in the graph and its lists (an edge already there keeps its place)."""
    graph.add_edge(a, b, lag=lag, origins={origin})
    for pairs, other in ((outgoing[a], b), (incoming[b], a)):
        for index, (node, _) in enumerate(pairs):
            if node == other:
                pairs[index] = (other, lag)
                break
        else:
            pairs.append((other, lag))


def _drop_edge(graph: nx.DiGraph[str], incoming: Links, outgoing: Links, a: str, b: str) -> None:
    """No edge ``a -> b`` in the graph and its lists."""
    graph.remove_edges_from([(a, b)])
    outgoing[a][:] = [pair for pair in outgoing[a] if pair[0] != b]
    incoming[b][:] = [pair for pair in incoming[b] if pair[0] != a]


def _order(graph: nx.DiGraph[str], incoming: Links, outgoing: Links) -> list[str]:
    """A topological order of the graph's lists, or the cycle that prevents the order, named with what made each edge."""
    try:
        return order_of(incoming, outgoing)
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
    nodes = plan.nodes
    start = as_of.toordinal()
    graph, attrs, incoming, outgoing = _graph(plan)
    order = _order(graph, incoming, outgoing)
    rows = rows_of(attrs, order, incoming)  # each row holds its node's list of predecessors: edits below show in it
    review_months = kb.review.priority_months if priority_review else kb.review.standard_months
    if "bla_submission" in nodes:
        submitted = datetime.date.fromordinal(earliest_starts(rows, start)["bla_submission"] + nodes["bla_submission"].duration)
        filed = submitted + datetime.timedelta(days=kb.review.filing_days)
        approval = "bla_approval" in nodes and nodes["bla_approval"].fixed is None
        clock: list[tuple[str, str, int, str]] = []  # the review clock's edges
        if approval:
            lag = (add_months(filed, review_months) - submitted).days
            clock.append(("bla_submission", "bla_approval", lag, REVIEW_CLOCK))
        if "pre_license_inspection" in nodes:
            inspect = add_months(filed, round(review_months * kb.review.inspection_fraction))
            _drop_edge(graph, incoming, outgoing, "bla_submission", "pre_license_inspection")
            clock.append(("bla_submission", "pre_license_inspection", (inspect - submitted).days, REVIEW_CLOCK))
            if approval:
                clock.append(("pre_license_inspection", "bla_approval", 0, "21 CFR 601.20(d)"))
        for edge in clock:
            _set_edge(graph, incoming, outgoing, *edge)
        order = _order(graph, incoming, outgoing)  # the review clock's edges may close a cycle: named here
        by_id = {row[0]: row for row in rows}
        rows = [by_id[node_id] for node_id in order]
    terminal = next((m for m in TERMINALS if m in nodes and nodes[m].fixed is None), None)
    anchors = frozenset({"bla_submission"} if "bla_submission" in nodes and nodes["bla_submission"].fixed else ())
    result = schedule_rows(graph, rows, start, terminal, anchors, order, incoming, outgoing)
    return Built(plan, graph, result, start, terminal, review_months, priority_review)


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
