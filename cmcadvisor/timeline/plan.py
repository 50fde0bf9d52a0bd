"""The plan: which activities and milestones exist, how long each takes and what must come first.

Everything here is read from data: the activities the fired rules require (``then.requires``)
and the milestones they must precede (``then.before``); durations, completion conditions, the
standard order of work, per-item activities and the defaults of what each long-lead item is
needed for, from ``knowledge/activities.yaml``; targets and items from the program file. Each
edge keeps the names of what added it, so a schedule can be explained and a cycle traced. This
module builds the plan; it must not schedule or render it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cmcadvisor import display
from cmcadvisor.conditions import Firing, Node, to_nnf
from cmcadvisor.facts import FactSet, Item
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import MILESTONE_IDS, Activity
from cmcadvisor.models.program import STAGES, ProgramFile
from cmcadvisor.models.rule import Condition
from cmcadvisor.reference_eval import Truth, evaluate_node
from cmcadvisor.registry import RulePack

KNOWLEDGE = "knowledge/activities.yaml"
Status = Literal["planned", "in_progress", "complete", "achieved"]
MONTH_DAYS = 365 / 12
UNIT_DAYS = {"days": 1.0, "weeks": 7.0, "months": MONTH_DAYS}


@dataclass
class PlanNode:
    """One node of the plan (an activity or a milestone)."""

    id: str
    base: str
    name: str
    duration: int
    milestone: bool = False
    status: Status = "planned"
    not_before: int | None = None  # ordinal date: a milestone's target (start no earlier)
    fixed: int | None = None  # ordinal date: an achieved milestone
    due: int | None = None  # ordinal date the activity must finish by (an item's need-by date)
    rules: set[str] = field(default_factory=set)
    basis: str | None = None
    status_basis: str | None = None
    item: int | None = None  # index in its collection, for a per-item activity
    needed_for: tuple[str, ...] = ()  # long-lead items: what waits for it
    needed_for_basis: str | None = None


@dataclass
class Plan:
    """Nodes and edges; each edge keeps its lag (days) and what added it."""

    nodes: dict[str, PlanNode] = field(default_factory=dict)
    edges: dict[tuple[str, str], tuple[int, set[str]]] = field(default_factory=dict)

    def edge(self, a: str, b: str, origin: str, lag: int = 0) -> None:
        """Add (or tighten) ``a`` before ``b``."""
        if a == b:  # "bla_submission before bla_submission": the activity is the milestone
            return
        old_lag, origins = self.edges.get((a, b), (lag, set()))
        origins.add(origin)
        self.edges[(a, b)] = (max(old_lag, lag), origins)


_NNF: dict[int, tuple[Condition, Node]] = {}


def holds(condition: Condition | None, facts: FactSet, item: Item | None = None, index: int | None = None) -> bool:
    """True when the condition is (Kleene) true for the program and item; false or unknown: False."""
    if condition is None:
        return False
    entry = _NNF.get(id(condition))
    if entry is None or entry[0] is not condition:
        entry = (condition, to_nnf(condition))
        _NNF[id(condition)] = entry
    return evaluate_node(entry[1], facts, item, index).truth == Truth.TRUE


def _status(activity: Activity, facts: FactSet, item: Item | None, index: int | None) -> tuple[Status, str | None]:
    if holds(activity.complete_when, facts, item, index):
        return "complete", "the program file shows it done"
    if holds(activity.in_progress_when, facts, item, index):
        return "in_progress", "the program file shows it under way"
    return "planned", None


def _duration(activity: Activity, program: ProgramFile, facts: FactSet, item: Item | None) -> tuple[int, str]:
    overrides = program.timeline.durations_days if program.timeline and program.timeline.durations_days else {}
    if activity.id in overrides:
        return int(overrides[activity.id]), "program file (timeline.durations_days)"
    source = activity.duration_from
    if source is not None:
        head, mark, tail = source.fact.partition("[].")
        value = (item or {}).get(tail) if mark else facts.scalars.get(source.fact)
        if isinstance(value, int) and not isinstance(value, bool):
            amount = max(0, source.remaining_of - value) if source.remaining_of is not None else value
            return int(amount * UNIT_DAYS[source.unit]), f"{source.basis} ({source.fact})"
    cites = ", ".join(activity.citations)
    return activity.duration_days, f"{activity.basis}{': ' + cites if cites else ''}"


def _field(program: ProgramFile, path: str, index: int | None) -> object:
    """A program field by dotted path (``a.b[].c`` takes item ``index``), read from the model.

    The facts drop list fields inside items, such as ``needed_for``, so they are read here.
    """
    value: object = program
    for part in path.split("."):
        name, mark, _ = part.partition("[]")
        value = getattr(value, name, None) if value is not None else None
        if mark:
            value = value[index] if isinstance(value, list) and index is not None and 0 <= index < len(value) else None
    return value


def _needed_for(activity: Activity, own: Sequence[str] | None, strategy: object) -> tuple[tuple[str, ...], str]:
    if own:
        return tuple(own), "the program file (needed_for)"
    key = strategy if isinstance(strategy, str) and strategy in activity.needed_for else "default"
    return tuple(
        activity.needed_for.get(key, ())
    ), f"knowledge default for {display.term(key) if key != 'default' else 'any strategy'}"


def wanted_activities(
    pack: RulePack, kb: KnowledgeBase, firings: Sequence[Firing]
) -> tuple[dict[str, dict[int | None, set[str]]], dict[tuple[str, int | None], set[tuple[str, str]]]]:
    """Activities the fired rules require (one instance per item for a per-item activity) and their ``before`` milestones."""
    wanted: dict[str, dict[int | None, set[str]]] = {}
    befores: dict[tuple[str, int | None], set[tuple[str, str]]] = {}
    for firing in firings:
        rule = pack.by_id[firing.rule]
        for base in rule.spec.then.requires:
            activity = kb.activities.get(base)
            if activity is None:
                continue
            key = firing.item if activity.per_item is not None else None
            wanted.setdefault(base, {}).setdefault(key, set()).add(rule.id)
            for milestone in rule.spec.then.before:
                befores.setdefault((base, key), set()).add((milestone, rule.id))
    for base, keys in wanted.items():
        # a program-level request for a per-item activity is met by the item instances
        if kb.activities[base].per_item is not None and None in keys and len(keys) > 1:
            extra_rules = keys.pop(None)
            extra_befores = befores.pop((base, None), set())
            for key in keys:
                keys[key] |= extra_rules
                befores.setdefault((base, key), set()).update(extra_befores)
    return wanted, befores


def build_plan(
    program: ProgramFile, facts: FactSet, pack: RulePack, kb: KnowledgeBase, firings: Sequence[Firing], as_of: datetime.date
) -> Plan:
    """Activities, milestones and every edge between them, each edge with what added it."""
    plan = Plan()
    wanted, befores = wanted_activities(pack, kb, firings)
    strategy = facts.scalars.get("manufacturing.strategy")
    instances: dict[str, list[str]] = {}
    for base in sorted(wanted):
        activity = kb.activities[base]
        keys = sorted(wanted[base], key=lambda k: -1 if k is None else k)
        per_item = activity.per_item
        collection = facts.collections.get(per_item.collection, ()) if per_item else ()
        for key in keys:
            node_id = base if len(keys) == 1 else f"{base}.{1 if key is None else key + 1}"
            item = collection[key] if per_item and key is not None and key < len(collection) else None
            name = activity.name
            if per_item and item is not None and key is not None:
                label = item.get(per_item.label, f"item {key + 1}")
                name = f"{activity.name}: {display.shorten(str(label), 60)}"
            duration, basis = _duration(activity, program, facts, item)
            status, status_basis = _status(activity, facts, item, key)
            node = PlanNode(node_id, base, name, duration, rules=set(wanted[base][key]), basis=basis, item=key)
            node.status, node.status_basis = status, status_basis
            if status == "complete":
                node.duration = 0
            elif status == "in_progress":
                node.duration = int(duration * activity.in_progress_remaining)
                node.basis = f"{basis}; {round(activity.in_progress_remaining * 100)} % of the duration assumed left"
            if per_item and item is not None and per_item.due_field and isinstance(item.get(per_item.due_field), str):
                node.due = datetime.date.fromisoformat(str(item[per_item.due_field])).toordinal()
            if activity.needed_for:
                own = _field(program, activity.needed_for_field, key) if activity.needed_for_field else None
                node.needed_for, node.needed_for_basis = _needed_for(activity, own if isinstance(own, list) else None, strategy)
            plan.nodes[node_id] = node
            for milestone, rule_id in sorted(befores.get((base, key), set())):
                plan.edge(node_id, milestone, rule_id)
            if per_item and item is not None and per_item.deadline_field:
                deadline = per_item.deadlines.get(str(item.get(per_item.deadline_field)))
                if deadline:
                    plan.edge(node_id, deadline, f"{per_item.collection}[].{per_item.deadline_field}")
        instances[base] = [n for n in plan.nodes if plan.nodes[n].base == base]
    _standard_order(plan, kb, instances)
    _long_lead(plan, kb, instances)
    _milestones(plan, program, facts, kb, as_of)
    return plan


def _present_ancestors(kb: KnowledgeBase, base: str, instances: Mapping[str, list[str]]) -> set[str]:
    """The nearest activities before ``base`` in the standard order that are on the plan (looking through absent ones)."""
    found: set[str] = set()
    stack = list(kb.activities[base].depends_on)
    seen: set[str] = set()
    while stack:
        dep = stack.pop()
        if dep in seen:
            continue
        seen.add(dep)
        if instances.get(dep):
            found.add(dep)
        else:
            stack.extend(kb.activities[dep].depends_on)
    return found


def _standard_order(plan: Plan, kb: KnowledgeBase, instances: Mapping[str, list[str]]) -> None:
    """Knowledge's order of CMC work between the activities on the plan, through any that are not."""
    for base, ids in instances.items():
        for dep in sorted(_present_ancestors(kb, base, instances)):
            for pred in instances[dep]:
                for node_id in ids:
                    plan.edge(pred, node_id, KNOWLEDGE)


def _present_targets(kb: KnowledgeBase, target: str, instances: Mapping[str, list[str]]) -> set[str]:
    """An activity on the plan, or the nearest ones after it in the standard order when it is not."""
    if target in MILESTONE_IDS or instances.get(target):
        return {target}
    found: set[str] = set()
    frontier = {target}
    seen: set[str] = set()
    while frontier:
        after = {a.id for a in kb.activities.values() if set(a.depends_on) & frontier} - seen
        seen |= after
        found |= {a for a in after if instances.get(a)}
        frontier = {a for a in after if not instances.get(a)}
    return found


def _long_lead(plan: Plan, kb: KnowledgeBase, instances: Mapping[str, list[str]]) -> None:
    """Each long-lead item before what needs it: a late item moves everything after it."""
    for node in list(plan.nodes.values()):
        for target in node.needed_for:
            for present in sorted(_present_targets(kb, target, instances)):
                origin = f"{node.needed_for_basis}: needed for {display.term(target)}"
                for successor in instances.get(present, [present]):
                    plan.edge(node.id, successor, origin)


def _milestones(plan: Plan, program: ProgramFile, facts: FactSet, kb: KnowledgeBase, as_of: datetime.date) -> None:
    """Targets, achieved milestones, their order and the planned interval between targets."""
    targets: dict[str, datetime.date] = {}
    if program.clinical and program.clinical.milestones:
        targets = dict(program.clinical.milestones.model_dump(exclude_none=True).items())
    stage_index = facts.scalars.get("clinical.stage_index")
    stage = int(stage_index) if isinstance(stage_index, int) else -1
    named = {m for edge in plan.edges for m in edge if m in MILESTONE_IDS}
    present = [m for m in MILESTONE_IDS if m in targets or m in named]
    if "bla_submission" in plan.nodes or {"bla_submission", "bla_approval"} & (named | set(present)):
        present = [m for m in MILESTONE_IDS if m in present or m in ("bla_submission", "bla_approval")]
    for milestone in present:
        info = kb.milestones.get(milestone)
        node = plan.nodes.get(milestone) or PlanNode(milestone, milestone, info.name if info else milestone, 0)
        node.milestone = True
        target = targets.get(milestone)
        achieved_from = info.achieved_from_stage if info else None
        if achieved_from is not None and stage >= STAGES.index(achieved_from):
            node.status = "achieved"
            node.status_basis = f"the program is at the {display.term(STAGES[stage])} stage"
            node.fixed = min(target, as_of).toordinal() if target else as_of.toordinal()
        elif target:
            node.not_before = target.toordinal()
        plan.nodes[milestone] = node
    for earlier, later in zip(present, present[1:], strict=False):
        plan.edge(earlier, later, "milestone order")
    with_target = [m for m in present if m in targets]
    for earlier, later in zip(with_target, with_target[1:], strict=False):
        gap = (targets[later] - targets[earlier]).days
        skips_submission = "bla_submission" in present[present.index(earlier) + 1 : present.index(later)]
        if gap > 0 and plan.nodes[earlier].status != "achieved" and not skips_submission:
            plan.edge(earlier, later, "the program's planned interval between the two milestones", gap)
    plan.edges.pop(("bla_submission", "bla_approval"), None)  # the review clock sets it
