"""The timeline: dependent manufacturing decisions scheduled by the critical path method.

The only home of networkx. Which activities exist is decided by the rules that fired (their
``then.requires`` and ``then.before``); durations and the standard order of CMC work come from
``knowledge/activities.yaml``; targets come from ``clinical.milestones``; the BLA review clock
comes from the knowledge base (priority or standard). Work the program has already done is not
rescheduled. The schedule is a forward and a backward pass over a DAG in lexicographic
topological order, so it is deterministic and near-linear. A cycle is a
:class:`~cmcadvisor.errors.TimelineCycleError` naming the rules whose edges made it. This
module computes dates; it must not render them.
"""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from cmcadvisor import display
from cmcadvisor.conditions import Firing
from cmcadvisor.dates import add_months
from cmcadvisor.errors import ErrorItem, TimelineCycleError
from cmcadvisor.facts import FactSet
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import MILESTONE_IDS
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import Activity, Milestone, Timeline
from cmcadvisor.registry import RulePack

MILESTONE_NAMES = {
    "ind_submission": "IND submission",
    "first_patient_dosed": "First patient dosed",
    "eop2_meeting": "End-of-phase-2 meeting",
    "pivotal_start": "Pivotal study start",
    "pre_bla_meeting": "Pre-BLA meeting",
    "bla_submission": "BLA submission",
    "bla_approval": "BLA approval (PDUFA goal)",
    "commercial_launch": "Commercial launch",
}
# The clinical stage from which each milestone has already happened.
ACHIEVED_FROM_STAGE = {
    "ind_submission": 1,
    "first_patient_dosed": 1,
    "eop2_meeting": 3,
    "pivotal_start": 3,
    "pre_bla_meeting": 5,
    "bla_submission": 5,
    "bla_approval": 6,
    "commercial_launch": 6,
}
# Activities that exist once per item (one study per change, one order per piece of equipment);
# every other activity exists once per program, whichever item asked for it.
PER_ITEM = frozenset({"comparability_study", "long_lead_equipment"})
CHANGE_DEADLINE = {
    "before_pivotal": "pivotal_start",
    "during_pivotal": "bla_submission",
    "after_pivotal": "bla_submission",
}


@dataclass
class Node:
    """One node of the schedule graph (an activity or a milestone)."""

    id: str
    name: str
    duration: int
    milestone: bool = False
    status: str = "planned"  # planned | in_progress | complete | achieved
    not_before: int | None = None  # ordinal date: a milestone's target (start no earlier)
    fixed: int | None = None  # ordinal date: an achieved milestone
    due: int | None = None  # ordinal date the activity must finish by
    due_reason: str | None = None
    rules: set[str] = field(default_factory=set)
    basis: str | None = None


@dataclass(frozen=True)
class Schedule:
    """Earliest and latest start and finish (ordinal days) and slack of every node.

    Slack is negative where a deadline (an activity's due date or a milestone's target) cannot
    be met; the critical path is the chain of least slack.
    """

    es: dict[str, int]
    ef: dict[str, int]
    ls: dict[str, int]
    lf: dict[str, int]
    critical_path: list[str]

    def slack(self, node: str) -> int:
        """Latest minus earliest start."""
        return self.ls[node] - self.es[node]


def _topological(graph: nx.DiGraph[str], key: Callable[[str], Any] = str) -> list[str]:
    """The nodes in topological order, the smallest ``key`` first among those ready.

    The same order as ``nx.lexicographical_topological_sort`` (Kahn's algorithm over a heap,
    ties broken by insertion order), read straight from the graph's adjacency: on the small
    graphs of one program, networkx's per-call dispatch costs more than the sort itself.
    Raises ``nx.NetworkXUnfeasible`` on a cycle, as networkx does.
    """
    position = {node: index for index, node in enumerate(graph)}
    waiting = {node: len(preds) for node, preds in graph.pred.items() if preds}
    ready = [(key(node), position[node], node) for node, preds in graph.pred.items() if not preds]
    heapq.heapify(ready)
    order: list[str] = []
    succ = graph.succ
    while ready:
        node = heapq.heappop(ready)[2]
        order.append(node)
        for child in succ[node]:
            waiting[child] -= 1
            if not waiting[child]:
                del waiting[child]
                heapq.heappush(ready, (key(child), position[child], child))
    if waiting:
        raise nx.NetworkXUnfeasible("the activities depend on each other in a cycle")
    return order


def schedule(graph: nx.DiGraph[str], start: int) -> Schedule:
    """Critical path method over a DAG of ``duration`` nodes and ``lag`` edges (days).

    Nodes may also carry ``not_before`` (start no earlier than) and ``fixed`` (already
    happened) ordinal dates. Returns earliest and latest start and finish and the critical path.
    """
    order = _topological(graph)
    es: dict[str, int] = {}
    ef: dict[str, int] = {}
    for node in order:
        data = graph.nodes[node]
        if data.get("fixed") is not None:
            es[node] = ef[node] = int(data["fixed"])
            continue
        earliest = max(start, int(data.get("not_before") or start))
        for pred in graph.predecessors(node):
            earliest = max(earliest, ef[pred] + int(graph.edges[pred, node].get("lag", 0)))
        es[node] = earliest
        ef[node] = earliest + int(data.get("duration", 0))
    end = max(ef.values(), default=start)
    ls: dict[str, int] = {}
    lf: dict[str, int] = {}
    for node in reversed(order):
        data = graph.nodes[node]
        latest = end
        for succ in graph.successors(node):
            latest = min(latest, ls[succ] - int(graph.edges[node, succ].get("lag", 0)))
        if data.get("due") is not None:
            latest = min(latest, int(data["due"]))  # a deadline: negative slack means late
        if data.get("fixed") is not None:
            latest = ef[node]
        lf[node] = latest
        ls[node] = latest - (ef[node] - es[node])
    return Schedule(es, ef, ls, lf, _critical_path(graph, es, ef, ls))


def _critical_path(graph: nx.DiGraph[str], es: Mapping[str, int], ef: Mapping[str, int], ls: Mapping[str, int]) -> list[str]:
    """The chain of least-slack nodes that drives the latest of them (deterministic)."""
    if not es:
        return []
    least = min(ls[n] - es[n] for n in graph.nodes)
    tight = [n for n in graph.nodes if ls[n] - es[n] == least]
    path = [sorted(tight, key=lambda n: (-ef[n], n))[0]]
    while True:
        node = path[-1]
        driving = sorted(
            p
            for p in graph.predecessors(node)
            if ef[p] + int(graph.edges[p, node].get("lag", 0)) == es[node] and ls[p] - es[p] == least and p not in path
        )
        if not driving:
            break
        path.append(driving[0])
    return list(reversed(path))


@dataclass
class _Plan:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)

    def edge(self, a: str, b: str, origin: str, lag: int = 0) -> None:
        if a == b:  # "bla_submission before bla_submission": the activity is the milestone
            return
        data = self.edges.setdefault((a, b), {"lag": lag, "origins": set()})
        data["lag"] = max(int(data["lag"]), lag)  # type: ignore[call-overload]
        origins = data["origins"]
        assert isinstance(origins, set)
        origins.add(origin)


def _short(value: object, limit: int = 60) -> str:
    return display.shorten(str(value), limit)


def _ordinal(day: datetime.date | None) -> int | None:
    return day.toordinal() if day else None


def _completed(base: str, facts: FactSet) -> str | None:
    """``complete`` / ``in_progress`` for work the program has already done, else None."""
    s = facts.scalars
    potency = s.get("manufacturing.potency_assay.status")
    process = s.get("manufacturing.process_status")
    facility = s.get("manufacturing.facility.status")
    transfer = s.get("manufacturing.cdmo.tech_transfer")
    done = {
        "potency_assay_qualification": potency in ("qualified", "validated"),
        "potency_assay_validation": potency == "validated",
        "analytical_method_validation": s.get("manufacturing.analytical_methods") == "validated",
        "tech_transfer": transfer == "complete",
        "cdmo_selection": transfer in ("in_progress", "complete") or s.get("manufacturing.cdmo.slot_reserved") is True,
        "facility_build": facility in ("qualified", "licensed"),
        "facility_qualification": facility in ("qualified", "licensed"),
        "process_lock": process in ("locked", "validated"),
        "engineering_runs": process == "validated",
        "ppq": process == "validated",
        "make_or_buy_decision": s.get("manufacturing.strategy") in ("in_house", "cdmo", "hybrid"),
        "stability_data": isinstance(s.get("manufacturing.stability_months"), int)
        and int(s["manufacturing.stability_months"]) >= 6,
    }
    if done.get(base):
        return "complete"
    if (base == "facility_build" and facility == "under_construction") or (base == "tech_transfer" and transfer == "in_progress"):
        return "in_progress"
    return None


def _duration(
    base: str, kb: KnowledgeBase, program: ProgramFile, facts: FactSet, item: Mapping[str, object] | None
) -> tuple[int, str]:
    activity = kb.activities[base]
    overrides = program.timeline.durations_days if program.timeline and program.timeline.durations_days else {}
    if base in overrides:
        return int(overrides[base]), "program file (timeline.durations_days)"
    s = facts.scalars
    if base == "long_lead_equipment" and item and isinstance(item.get("lead_time_weeks"), int):
        return int(item["lead_time_weeks"]) * 7, "item lead time (supply_chain.equipment[].lead_time_weeks)"  # type: ignore[call-overload]
    if base == "vector_supply" and isinstance(s.get("manufacturing.vector_supply.lead_time_weeks"), int):
        return int(s["manufacturing.vector_supply.lead_time_weeks"]) * 7, "manufacturing.vector_supply.lead_time_weeks"
    if base == "facility_build" and isinstance(s.get("manufacturing.facility.build_months"), int):
        return int(s["manufacturing.facility.build_months"]) * 365 // 12, "manufacturing.facility.build_months"
    if base == "stability_data" and isinstance(s.get("manufacturing.stability_months"), int):
        remaining = max(0, 6 - int(s["manufacturing.stability_months"]))
        return remaining * 365 // 12, "6 months of real-time data less the months on hand (convention)"
    cites = ", ".join(activity.citations)
    return activity.duration_days, f"{activity.basis}{': ' + cites if cites else ''}"


def build_timeline(
    program: ProgramFile,
    facts: FactSet,
    pack: RulePack,
    kb: KnowledgeBase,
    firings: Sequence[Firing],
    as_of: datetime.date,
    *,
    priority_review: bool,
) -> Timeline:
    """Schedule the activities the fired rules call for, against the program's milestones."""
    plan = _Plan()
    start = as_of.toordinal()
    stage_index = facts.scalars.get("clinical.stage_index")
    stage = int(stage_index) if isinstance(stage_index, int) else -1
    targets: dict[str, datetime.date] = {}
    if program.clinical and program.clinical.milestones:
        targets = dict(program.clinical.milestones.model_dump(exclude_none=True).items())

    # 1. The activities the fired rules require, one instance per item for collection rules.
    wanted: dict[str, dict[int | None, set[str]]] = {}
    befores: dict[tuple[str, int | None], set[tuple[str, str]]] = {}
    for firing in firings:
        rule = pack.by_id[firing.rule]
        for base in rule.spec.then.requires:
            if base not in kb.activities:
                continue
            key = firing.item if base in PER_ITEM else None
            wanted.setdefault(base, {}).setdefault(key, set()).add(rule.id)
            for milestone in rule.spec.then.before:
                befores.setdefault((base, key), set()).add((milestone, rule.id))
    for base in PER_ITEM & set(wanted):
        # a program-level request for a per-item activity is met by the item instances
        if None in wanted[base] and len(wanted[base]) > 1:
            extra_rules = wanted[base].pop(None)
            extra_befores = befores.pop((base, None), set())
            for key in wanted[base]:
                wanted[base][key] |= extra_rules
                befores.setdefault((base, key), set()).update(extra_befores)
    # Comparability studies and equipment orders are per item: their deadlines come from the item.
    changes = facts.collections.get("manufacturing.planned_changes", ())
    equipment = facts.collections.get("supply_chain.equipment", ())
    instance_ids: dict[str, list[str]] = {}
    for base in sorted(wanted):
        keys = sorted(wanted[base], key=lambda k: -1 if k is None else k)
        ids: list[str] = []
        for key in keys:
            node_id = base if len(keys) == 1 else f"{base}.{1 if key is None else key + 1}"
            ids.append(node_id)
            activity = kb.activities[base]
            item = None
            name = activity.name
            if base == "long_lead_equipment" and key is not None and key < len(equipment):
                item = equipment[key]
                name = f"{activity.name}: {_short(item.get('name', f'item {key + 1}'))}"
            elif base == "comparability_study" and key is not None and key < len(changes):
                item = changes[key]
                name = f"{activity.name}: {_short(item.get('description', f'change {key + 1}'))}"
            duration, basis = _duration(base, kb, program, facts, item)
            node = Node(node_id, name, duration, rules=set(wanted[base][key]), basis=basis)
            status = (
                "complete" if base == "long_lead_equipment" and item and item.get("ordered") is True else _completed(base, facts)
            )
            if status == "complete":
                node.duration, node.status = 0, "complete"
            elif status == "in_progress":
                node.duration, node.status = duration // 2, "in_progress"
                node.basis = f"{basis}; half the duration assumed left for work in progress"
            if item is not None and isinstance(item.get("need_by"), str):
                node.due = datetime.date.fromisoformat(str(item["need_by"])).toordinal()
                node.due_reason = "need_by"
            plan.nodes[node_id] = node
            for milestone, rule_id in sorted(befores.get((base, key), set())):
                plan.edge(node_id, milestone, rule_id)
            if base == "comparability_study" and item is not None:
                deadline = CHANGE_DEADLINE.get(str(item.get("timing")))
                if deadline:
                    plan.edge(node_id, deadline, "manufacturing.planned_changes[].timing")
        instance_ids[base] = ids

    # 2. The standard order of CMC work between the activities that exist.
    for base, ids in instance_ids.items():
        for dep in kb.activities[base].depends_on:
            for pred in instance_ids.get(dep, ()):
                for node_id in ids:
                    plan.edge(pred, node_id, "knowledge/activities.yaml")

    # 3. Milestones: targets, the order between them, and the review clock after the BLA.
    named = {m for (a, b) in plan.edges for m in (a, b) if m in MILESTONE_IDS}
    present = sorted(
        set(targets)
        | named
        | ({"bla_submission", "bla_approval"} if "bla_submission" in plan.nodes or "bla_submission" in named else set()),
        key=MILESTONE_IDS.index,
    )
    for milestone in present:
        node = plan.nodes.get(milestone) or Node(milestone, MILESTONE_NAMES[milestone], 0)
        node.milestone = True
        target = targets.get(milestone)
        if stage >= ACHIEVED_FROM_STAGE[milestone]:
            node.status = "achieved"
            node.fixed = min(target, as_of).toordinal() if target else start
        elif target:
            node.not_before = target.toordinal()
        plan.nodes[milestone] = node
    for earlier, later in zip(present, present[1:], strict=False):
        plan.edge(earlier, later, "milestone order")
    review_months = kb.review.priority_months if priority_review else kb.review.standard_months
    if "bla_submission" in plan.nodes and "bla_approval" in plan.nodes:
        plan.edges.pop(("bla_submission", "bla_approval"), None)
    # Review lags depend on the submission date; they are fixed after a first pass.
    graph = _graph(plan, achieved={n for n, v in plan.nodes.items() if v.fixed is not None})
    first = _schedule_acyclic(graph, start)
    if "bla_submission" in plan.nodes:
        submitted = datetime.date.fromordinal(first.ef["bla_submission"])
        filed = submitted + datetime.timedelta(days=kb.review.filing_days)
        goal = add_months(filed, review_months)
        if "bla_approval" in plan.nodes:
            graph.add_edge("bla_submission", "bla_approval", lag=(goal - submitted).days, origins={"review clock"})
        if "pre_license_inspection" in plan.nodes:
            inspect = add_months(filed, round(review_months * kb.review.inspection_fraction))
            graph.remove_edges_from([("bla_submission", "pre_license_inspection")])
            graph.add_edge("bla_submission", "pre_license_inspection", lag=(inspect - submitted).days, origins={"review clock"})
            if "bla_approval" in plan.nodes:
                graph.add_edge("pre_license_inspection", "bla_approval", lag=0, origins={"21 CFR 601.20(d)"})
    result = _schedule_acyclic(graph, start)
    return _to_timeline(plan, graph, result, targets, priority_review, review_months)


def _graph(plan: _Plan, achieved: Iterable[str]) -> nx.DiGraph[str]:
    fixed = set(achieved)
    graph: nx.DiGraph[str] = nx.DiGraph()
    for node in plan.nodes.values():
        due = node.due if node.due is not None else (node.not_before if node.milestone else None)
        graph.add_node(node.id, duration=node.duration, not_before=node.not_before, fixed=node.fixed, due=due)
    for (a, b), data in sorted(plan.edges.items()):
        if a not in plan.nodes or b not in plan.nodes or b in fixed:
            continue  # an edge into a milestone that already happened cannot move it
        graph.add_edge(a, b, lag=data["lag"], origins=data["origins"])
    return graph


def _schedule_acyclic(graph: nx.DiGraph[str], start: int) -> Schedule:
    """:func:`schedule`, or the cycle that prevents it, named with the rules that made each edge."""
    try:
        return schedule(graph, start)
    except nx.NetworkXUnfeasible:  # the topological sort found a cycle: name it
        _check_acyclic(graph)
        raise


def _check_acyclic(graph: nx.DiGraph[str]) -> None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    items = [
        ErrorItem("timeline", None, f"{a} -> {b}", "edge added by " + ", ".join(sorted(graph.edges[a, b].get("origins", ()))))
        for a, b in cycle
    ]
    items.insert(
        0,
        ErrorItem(
            "timeline",
            None,
            "",
            "activities depend on each other in a cycle: " + " -> ".join([a for a, _ in cycle] + [cycle[0][0]]),
        ),
    )
    raise TimelineCycleError(items)


def _iso(ordinal: int) -> str:
    return datetime.date.fromordinal(ordinal).isoformat()


def _to_timeline(
    plan: _Plan,
    graph: nx.DiGraph[str],
    result: Schedule,
    targets: Mapping[str, datetime.date],
    priority: bool,
    review_months: int,
) -> Timeline:
    activities: list[Activity] = []
    late: list[str] = []
    for node_id in _topological(graph, key=lambda n: (result.es[n], n)):
        node = plan.nodes[node_id]
        slack = result.slack(node_id)
        late_by = None
        deadlines = [node.due] if node.due is not None else []
        deadlines += [
            targets[m].toordinal()
            for m in graph.successors(node_id)
            if m in targets and plan.nodes[m].milestone and not node.milestone
        ]
        deadlines += [
            plan.nodes[m].fixed  # type: ignore[misc]
            for (a, m) in plan.edges
            if a == node_id and m in plan.nodes and plan.nodes[m].fixed is not None and not node.milestone
        ]
        if deadlines and node.status != "complete":
            overrun = result.ef[node_id] - min(deadlines)
            if overrun > 0:
                late_by = overrun
                late.append(node_id)
        if node.milestone and node_id != "bla_submission":
            continue
        activities.append(
            Activity(
                id=node_id,
                name=node.name,
                start=_iso(result.es[node_id]) if node.status != "complete" else None,
                finish=_iso(result.ef[node_id]) if node.status != "complete" else None,
                slack_days=slack if node.status != "complete" else None,
                critical=slack <= 0 and node.status != "complete",
                depends_on=sorted(graph.predecessors(node_id)),
                rules=sorted(node.rules),
                duration_days=node.duration,
                status=node.status,
                due=_iso(min(deadlines)) if deadlines else None,
                late_by_days=late_by,
                basis=node.basis,
            )
        )
    milestones: list[Milestone] = []
    for milestone in MILESTONE_IDS:
        if milestone not in plan.nodes:
            continue
        node = plan.nodes[milestone]
        target = targets.get(milestone)
        forecast = result.ef[milestone]
        late_by = forecast - target.toordinal() if target else None
        if late_by is not None and late_by > 0 and node.status != "achieved":
            late.append(milestone)
        milestones.append(
            Milestone(
                id=milestone,
                target=target.isoformat() if target else None,
                forecast=_iso(forecast),
                late_by_days=max(late_by, 0) if late_by is not None else None,
                status="achieved" if node.status == "achieved" else "planned",
            )
        )
    clock = "priority" if priority else "standard"
    return Timeline(
        activities=activities,
        milestones=milestones,
        critical_path=list(result.critical_path),
        late=sorted(set(late)),
        note=(
            f"Calendar days from the as-of date; BLA review on the {clock} clock "
            f"({review_months} months after the 60-day filing date)."
        ),
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
