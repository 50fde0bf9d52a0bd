"""The plan: which activities and milestones exist, how long each takes and what must come first.

Everything here is read from data: the activities the fired rules require (``then.requires``)
and the milestones they must precede (``then.before``); durations, completion conditions, the
standard order of work, per-item activities and the defaults of what each long-lead item is
needed for, from ``knowledge/activities.yaml``; targets and items from the program file. Each
edge keeps the names of what added it, so a schedule can be explained and a cycle traced. What
does not depend on the program (each rule's timeline hooks, the activities' conditions in
negation normal form, the standard order read backwards, the default duration bases) is read
once per rule pack and knowledge base (:func:`knowledge`), and the standard order between the
activities on a plan is kept per set of activities (bounded). This module builds the plan; it
must not schedule or render it.
"""

from __future__ import annotations

import datetime
import itertools
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cmcadvisor import display
from cmcadvisor.conditions import Firing, Node, to_nnf
from cmcadvisor.facts import FactSet, Item
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.memo import remember
from cmcadvisor.models.knowledge import MILESTONE_IDS, Activity
from cmcadvisor.models.program import STAGES, ActivityId, ProgramFile
from cmcadvisor.reference_eval import Truth, evaluate_node
from cmcadvisor.registry import RulePack

KNOWLEDGE = "knowledge/activities.yaml"
Status = Literal["planned", "in_progress", "complete", "achieved"]
MONTH_DAYS = 365 / 12
UNIT_DAYS = {"days": 1.0, "weeks": 7.0, "months": MONTH_DAYS}
_MILESTONES = frozenset(MILESTONE_IDS)
# A rule's timeline hooks: its id, the activities it requires (each with whether it is per item),
# (milestone, rule id) for each milestone they precede
Hook = tuple[str, tuple[tuple[str, bool], ...], frozenset[tuple[str, str]]]


@dataclass(slots=True)
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
        key = (a, b)
        entry = self.edges.get(key)
        if entry is None:
            self.edges[key] = (lag, {origin})
            return
        entry[1].add(origin)
        if lag > entry[0]:
            self.edges[key] = (lag, entry[1])


@dataclass(frozen=True)
class Knowledge:
    """What the plan reads of a rule pack and a knowledge base whatever the program: made once per pair (:func:`knowledge`)."""

    # rule id (and any other key of ``pack.by_id``) -> its hooks (the activities it requires: those
    # the knowledge base has); None for a rule that requires none of them (most rules)
    hooks: dict[str, Hook | None]
    # activity id -> its ``complete_when`` and ``in_progress_when`` in negation normal form
    conditions: dict[str, tuple[Node | None, Node | None]]
    # activity id -> the activities whose ``depends_on`` names it, in knowledge order
    dependents: dict[str, tuple[str, ...]]
    # activity id -> the basis of its default duration (its kind of basis and its citations)
    default_basis: dict[str, str]
    # activity id -> the activities its ``depends_on`` names
    depends_on: dict[str, tuple[str, ...]]
    # The standard order between the activities on a plan, and the nearest ones on it of what a
    # long-lead item is needed for, depend only on which activities are on it: kept per set
    # (bounded: cleared when full), since the same few sets recur across programs.
    _orders: dict[frozenset[str], tuple[tuple[str, str], ...]] = field(default_factory=dict, compare=False, repr=False)
    _targets: dict[tuple[frozenset[str], str], tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, pack: RulePack, kb: KnowledgeBase) -> Knowledge:
        """Read the pack's timeline hooks and the knowledge base's activities once."""
        activities = kb.activities
        hooks: dict[str, Hook | None] = {}
        for key, rule in pack.by_id.items():
            then = rule.spec.then
            requires = tuple((base, activities[base].per_item is not None) for base in then.requires if base in activities)
            before = frozenset((milestone, rule.id) for milestone in then.before)
            hooks[key] = (rule.id, requires, before) if requires else None
        conditions = {
            a.id: (
                to_nnf(a.complete_when) if a.complete_when is not None else None,
                to_nnf(a.in_progress_when) if a.in_progress_when is not None else None,
            )
            for a in activities.values()
        }
        dependents: dict[str, list[str]] = {}
        for a in activities.values():
            for dep in dict.fromkeys(a.depends_on):
                dependents.setdefault(dep, []).append(a.id)
        default_basis: dict[str, str] = {}
        for a in activities.values():
            cites = ", ".join(a.citations)
            default_basis[a.id] = f"{a.basis}{': ' + cites if cites else ''}"
        depends_on = {a.id: tuple(a.depends_on) for a in activities.values()}
        return cls(hooks, conditions, {dep: tuple(ids) for dep, ids in dependents.items()}, default_basis, depends_on)

    def standard_order(self, present: frozenset[str]) -> tuple[tuple[str, str], ...]:
        """(earlier, later) for each activity in ``present`` (sorted) and the nearest ones before it in ``present`` (sorted)."""
        found = self._orders.get(present)
        if found is None:
            found = tuple((dep, base) for base in sorted(present) for dep in sorted(self._present_ancestors(base, present)))
            remember(self._orders, present, found, _CACHED_SETS)
        return found

    def _present_ancestors(self, base: str, present: frozenset[str]) -> set[str]:
        """The nearest activities before ``base`` in the standard order that are in ``present`` (looking through absent ones)."""
        found: set[str] = set()
        stack = list(self.depends_on[base])
        seen: set[str] = set()
        while stack:
            dep = stack.pop()
            if dep in seen:
                continue
            seen.add(dep)
            if dep in present:
                found.add(dep)
            else:
                stack.extend(self.depends_on[dep])
        return found

    def present_targets(self, target: str, present: frozenset[str]) -> tuple[str, ...]:
        """An activity in ``present`` (or a milestone), or the nearest ones after it in the standard order that are (sorted)."""
        key = (present, target)
        found = self._targets.get(key)
        if found is None:
            found = remember(self._targets, key, tuple(sorted(self._present_targets(target, present))), _CACHED_SETS)
        return found

    def _present_targets(self, target: str, present: frozenset[str]) -> set[str]:
        if target in _MILESTONES or target in present:
            return {target}
        found: set[str] = set()
        frontier = {target}
        seen: set[str] = set()
        while frontier:
            after = {a for f in frontier for a in self.dependents.get(f, ())} - seen
            seen |= after
            found |= after & present
            frontier = after - present
        return found


_CACHED_SETS = 1024  # sets of activities on a plan kept per rule pack and knowledge base


# (id(pack), id(kb)) -> weak references to both and their Knowledge. An entry leaves when either
# object is collected (the references' callback), so a long-running process that reloads its
# pack or knowledge (``serve``) keeps entries only for the pairs still alive.
_KNOWLEDGE: dict[tuple[int, int], tuple[weakref.ref[RulePack], weakref.ref[KnowledgeBase], Knowledge]] = {}


def knowledge(pack: RulePack, kb: KnowledgeBase) -> Knowledge:
    """The program-independent part of planning for this pack and knowledge base, made at first use."""
    key = (id(pack), id(kb))
    entry = _KNOWLEDGE.get(key)
    if entry is not None and entry[0]() is pack and entry[1]() is kb:
        return entry[2]
    found = Knowledge.of(pack, kb)

    def forget(dead: weakref.ref[Any]) -> None:
        current = _KNOWLEDGE.get(key)
        if current is not None and dead in (current[0], current[1]):
            del _KNOWLEDGE[key]

    _KNOWLEDGE[key] = (weakref.ref(pack, forget), weakref.ref(kb, forget), found)
    return found


def _status(
    conditions: tuple[Node | None, Node | None], facts: FactSet, item: Item | None, index: int | None
) -> tuple[Status, str | None]:
    """Complete or in progress when the condition (in negation normal form) is (Kleene) true for the program and item."""
    complete_when, in_progress_when = conditions
    if complete_when is not None and evaluate_node(complete_when, facts, item, index).truth == Truth.TRUE:
        return "complete", "the program file shows it done"
    if in_progress_when is not None and evaluate_node(in_progress_when, facts, item, index).truth == Truth.TRUE:
        return "in_progress", "the program file shows it under way"
    return "planned", None


def _duration(
    activity: Activity, overrides: dict[ActivityId, int], facts: FactSet, item: Item | None, default_basis: str
) -> tuple[int, str]:
    if activity.id in overrides:
        return int(overrides[activity.id]), "program file (timeline.durations_days)"
    source = activity.duration_from
    if source is not None:
        head, mark, tail = source.fact.partition("[].")
        value = (item or {}).get(tail) if mark else facts.scalars.get(source.fact)
        if isinstance(value, int) and not isinstance(value, bool):
            amount = max(0, source.remaining_of - value) if source.remaining_of is not None else value
            return int(amount * UNIT_DAYS[source.unit]), f"{source.basis} ({source.fact})"
    return activity.duration_days, default_basis


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
    hooks = knowledge(pack, kb).hooks
    for firing in firings:
        hook = hooks[firing.rule]
        if hook is None:
            continue
        rule_id, requires, before = hook
        for base, per_item in requires:  # (no setdefault: its default would be built at every call)
            key = firing.item if per_item else None
            by_key = wanted.get(base)
            if by_key is None:
                wanted[base] = {key: {rule_id}}
            elif key in by_key:
                by_key[key].add(rule_id)
            else:
                by_key[key] = {rule_id}
            if before:
                slot = (base, key)
                if slot in befores:
                    befores[slot] |= before
                else:
                    befores[slot] = set(before)
    for base, keys in wanted.items():
        # a program-level request for a per-item activity is met by the item instances
        if len(keys) > 1 and None in keys and kb.activities[base].per_item is not None:
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
    known = knowledge(pack, kb)
    wanted, befores = wanted_activities(pack, kb, firings)
    strategy = facts.scalars.get("manufacturing.strategy")
    overrides = program.timeline.durations_days if program.timeline and program.timeline.durations_days else {}
    instances: dict[str, list[str]] = {}
    for base in sorted(wanted):
        activity = kb.activities[base]
        requested = wanted[base]
        keys = list(requested) if len(requested) == 1 else sorted(requested, key=lambda k: -1 if k is None else k)
        per_item = activity.per_item
        collection = facts.collections.get(per_item.collection, ()) if per_item else ()
        ids: list[str] = []
        for key in keys:
            node_id = base if len(keys) == 1 else f"{base}.{1 if key is None else key + 1}"
            item = collection[key] if per_item and key is not None and key < len(collection) else None
            name = activity.name
            if per_item and item is not None and key is not None:
                label = item.get(per_item.label, f"item {key + 1}")
                name = f"{activity.name}: {display.shorten(str(label), 60)}"
            duration, basis = _duration(activity, overrides, facts, item, known.default_basis[base])
            status, status_basis = _status(known.conditions[base], facts, item, key)
            node = PlanNode(node_id, base, name, duration, rules=set(requested[key]), basis=basis, item=key)
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
            ids.append(node_id)
            for milestone, rule_id in befores.get((base, key), ()):  # any order: an edge keeps a set of origins
                plan.edge(node_id, milestone, rule_id)
            if per_item and item is not None and per_item.deadline_field:
                deadline = per_item.deadlines.get(str(item.get(per_item.deadline_field)))
                if deadline:
                    plan.edge(node_id, deadline, f"{per_item.collection}[].{per_item.deadline_field}")
        instances[base] = ids  # node ids are unique: ``base``, or ``base.N`` for distinct items
    _standard_order(plan, known, instances)
    _long_lead(plan, known, instances)
    _milestones(plan, program, facts, kb, as_of)
    return plan


def _standard_order(plan: Plan, known: Knowledge, instances: Mapping[str, list[str]]) -> None:
    """Knowledge's order of CMC work between the activities on the plan, through any that are not."""
    for dep, base in known.standard_order(frozenset(instances)):
        ids = instances[base]
        for pred in instances[dep]:
            for node_id in ids:
                plan.edge(pred, node_id, KNOWLEDGE)


def _long_lead(plan: Plan, known: Knowledge, instances: Mapping[str, list[str]]) -> None:
    """Each long-lead item before what needs it: a late item moves everything after it."""
    present = frozenset(instances)
    for node in list(plan.nodes.values()):
        for target in node.needed_for:
            origin = f"{node.needed_for_basis}: needed for {display.term(target)}"
            for found in known.present_targets(target, present):
                for successor in instances.get(found, [found]):
                    plan.edge(node.id, successor, origin)


def _milestones(plan: Plan, program: ProgramFile, facts: FactSet, kb: KnowledgeBase, as_of: datetime.date) -> None:
    """Targets, achieved milestones, their order and the planned interval between targets."""
    targets: dict[str, datetime.date] = {}
    if program.clinical and program.clinical.milestones:
        own = program.clinical.milestones
        targets = {m: date for m in MILESTONE_IDS if (date := getattr(own, m, None)) is not None}
    stage_index = facts.scalars.get("clinical.stage_index")
    stage = int(stage_index) if isinstance(stage_index, int) else -1
    named = _MILESTONES.intersection(itertools.chain.from_iterable(plan.edges))  # both ends of every edge
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
