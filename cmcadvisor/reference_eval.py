"""Pure-Python evaluation of rule conditions: oracle, fallback engine, judge of *undetermined*.

Three-valued (Kleene) logic: a literal on an absent fact is UNKNOWN; ``exists``/``missing``
are always known. A rule fires for a program (or for an item of its collection) when its
condition is TRUE; it is undetermined when the condition is UNKNOWN. :func:`run_fixpoint` is a
complete forward-chaining engine over the same compiled rules the durable-rules adapter runs.
This module must not import durable-rules or produce prose.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cmcadvisor.conditions import And, CompiledRule, Firing, Lit, Node, Or, Value
from cmcadvisor.facts import FactSet, Item


class Truth(enum.IntEnum):
    """Kleene truth values, ordered so that ``and`` is ``min`` and ``or`` is ``max``."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2


@dataclass
class Verdict:
    """Three-valued outcome of one rule, with the facts whose absence kept it unknown."""

    truth: Truth
    missing: set[str] = field(default_factory=set)


def _comparable(a: object, b: object) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or (isinstance(a, str) and isinstance(b, str))


def _equal(a: object, b: object) -> bool:
    # durable-rules compares True == 1; Python does too. Strings never equal numbers.
    if isinstance(a, str) != isinstance(b, str):
        return False
    return a == b


def test_literal(lit: Lit, present: Value | tuple[str, ...]) -> bool:
    """The literal's truth for a fact that is present."""
    op, value = lit.op, lit.value
    if op == "exists":
        return True
    if op == "missing":
        return False
    if op in ("contains", "not_contains"):
        held = present if isinstance(present, tuple) else (present,)
        return (value in held) == (op == "contains")
    if isinstance(present, tuple):
        return False
    if op == "eq":
        return _equal(present, value)
    if op == "ne":
        return not _equal(present, value)
    if op in ("in", "not_in"):
        options = value if isinstance(value, tuple) else (value,)
        inside = any(_equal(present, option) for option in options)
        return inside == (op == "in")
    if not _comparable(present, value):
        return False
    assert isinstance(present, int | float | str) and isinstance(value, int | float | str)
    if op == "lt":
        return present < value  # type: ignore[operator]
    if op == "le":
        return present <= value  # type: ignore[operator]
    if op == "gt":
        return present > value  # type: ignore[operator]
    if op == "ge":
        return present >= value  # type: ignore[operator]
    raise ValueError(f"unknown operator {op}")  # pragma: no cover


def _lookup(lit: Lit, facts: FactSet, item: Item | None, item_index: int | None) -> tuple[bool, object, str]:
    """(present, value, name to ask for) of the fact a literal tests."""
    field_name = lit.item_field
    if field_name is not None:
        if item is None:
            return False, None, lit.collection or lit.fact
        if field_name in item:
            return True, item[field_name], lit.fact
        return False, None, f"{lit.collection}[{item_index}].{field_name}"
    value = facts.get(lit.fact)
    return value is not None, value, lit.fact


TruthFn = Callable[[Mapping[str, Value], Mapping[str, tuple[str, ...]], Item | None], int]
_COMPILED: dict[int, tuple[Node, TruthFn]] = {}


def _predicate(lit: Lit) -> Callable[[object], bool]:
    """The literal's test of a present value, specialised by operator (same results as test_literal)."""
    op, value = lit.op, lit.value
    if op in ("eq", "ne"):
        want = op == "eq"
        if isinstance(value, str):
            return lambda v: (isinstance(v, str) and v == value) == want
        return lambda v: (not isinstance(v, str | tuple) and v == value) == want
    if op in ("in", "not_in"):
        options = value if isinstance(value, tuple) else (value,)
        want = op == "in"
        if all(isinstance(o, str) for o in options):
            allowed = frozenset(options)
            return lambda v: (isinstance(v, str) and v in allowed) == want
    return lambda v: test_literal(lit, v)  # type: ignore[arg-type]


def _compile(node: Node) -> TruthFn:
    """A closure computing the Kleene truth (0, 1, 2) of a condition: the evaluator's hot path."""
    if isinstance(node, Lit):
        fact, field_name, op = node.fact, node.item_field, node.op
        getter: Callable[[Mapping[str, Value], Mapping[str, tuple[str, ...]], Item | None], object]
        if field_name is not None:
            getter = lambda sc, ls, it: it.get(field_name) if it is not None else None  # noqa: E731
        else:
            getter = lambda sc, ls, it: sc[fact] if fact in sc else ls.get(fact)  # noqa: E731
        if op == "exists":
            return lambda sc, ls, it: 0 if getter(sc, ls, it) is None else 2
        if op == "missing":
            return lambda sc, ls, it: 2 if getter(sc, ls, it) is None else 0
        test = _predicate(node)

        def literal(sc: Mapping[str, Value], ls: Mapping[str, tuple[str, ...]], it: Item | None) -> int:
            value = getter(sc, ls, it)
            if value is None:
                return 1
            return 2 if test(value) else 0

        return literal
    children = [_compile(child) for child in node.children]
    if isinstance(node, And):

        def conjunction(sc: Mapping[str, Value], ls: Mapping[str, tuple[str, ...]], it: Item | None) -> int:
            result = 2
            for child in children:
                truth = child(sc, ls, it)
                if truth == 0:
                    return 0
                if truth < result:
                    result = truth
            return result

        return conjunction

    def disjunction(sc: Mapping[str, Value], ls: Mapping[str, tuple[str, ...]], it: Item | None) -> int:
        result = 0
        for child in children:
            truth = child(sc, ls, it)
            if truth == 2:
                return 2
            if truth > result:
                result = truth
        return result

    return disjunction


def _truth(node: Node, facts: FactSet, item: Item | None) -> int:
    """The Kleene truth alone (0 false, 1 unknown, 2 true), through the compiled closure."""
    entry = _COMPILED.get(id(node))
    if entry is None or entry[0] is not node:
        entry = (node, _compile(node))  # the node is kept, so its id cannot be reused
        _COMPILED[id(node)] = entry
    return entry[1](facts.scalars, facts.lists, item)


def evaluate_node(node: Node, facts: FactSet, item: Item | None = None, item_index: int | None = None) -> Verdict:
    """Kleene evaluation of a condition tree against a program and, optionally, one item."""
    fast = _truth(node, facts, item)
    if fast != 1:
        return Verdict(Truth(fast))
    return _evaluate_unknown(node, facts, item, item_index)


def _evaluate_unknown(node: Node, facts: FactSet, item: Item | None, item_index: int | None) -> Verdict:
    """The slow path, for unknown results: which missing facts keep the condition open."""
    if isinstance(node, Lit):
        present, value, name = _lookup(node, facts, item, item_index)
        if node.op == "exists":
            return Verdict(Truth.TRUE if present else Truth.FALSE)
        if node.op == "missing":
            return Verdict(Truth.FALSE if present else Truth.TRUE)
        if not present:
            return Verdict(Truth.UNKNOWN, {name})
        assert isinstance(value, bool | int | float | str | tuple)
        return Verdict(Truth.TRUE if test_literal(node, value) else Truth.FALSE)
    verdicts = [_evaluate_unknown(child, facts, item, item_index) for child in node.children]
    if isinstance(node, And):
        truth = min(v.truth for v in verdicts)
    else:
        assert isinstance(node, Or)
        truth = max(v.truth for v in verdicts)
    missing: set[str] = set()
    if truth == Truth.UNKNOWN:
        for verdict in verdicts:
            if verdict.truth == Truth.UNKNOWN:
                missing |= verdict.missing
    return Verdict(truth, missing)


def evaluate_rule(
    rule: CompiledRule,
    facts: FactSet,
    derived_true: Collection[str],
    derived_unknown: Collection[str] = (),
) -> tuple[Verdict, list[int | None]]:
    """The rule's verdict and the items it fires for (``[None]`` for a program-level firing).

    ``derived_true`` / ``derived_unknown`` are tested with ``in``: pass sets when calling in a loop.
    """
    gate = Truth.TRUE
    gate_missing: set[str] = set()
    for name in rule.shape.derived:
        if name in derived_true:
            continue
        if name in derived_unknown:
            gate = min(gate, Truth.UNKNOWN)
            gate_missing.add(f"derived.{name}")
        else:
            return Verdict(Truth.FALSE), []
    body = rule.shape.body
    collection = rule.shape.collection
    hits: list[int | None]
    if body is None:
        verdict, hits = Verdict(Truth.TRUE), [None]
    elif collection is None:
        fast = _truth(body, facts, None)
        if fast == 2 and gate == Truth.TRUE:
            return Verdict(Truth.TRUE), [None]
        if fast == 0:
            return Verdict(Truth.FALSE), []
        verdict = evaluate_node(body, facts)
        hits = [None] if verdict.truth == Truth.TRUE else []
    else:
        items = facts.collections.get(collection)
        if items is None:
            verdict = evaluate_node(body, facts, None)
            hits = []
            if verdict.truth == Truth.TRUE:  # condition true whatever the items: needs one item
                verdict = Verdict(Truth.UNKNOWN, {collection})
        else:
            per_item = [evaluate_node(body, facts, item, index) for index, item in enumerate(items)]
            hits = [index for index, v in enumerate(per_item) if v.truth == Truth.TRUE]
            best = max((v.truth for v in per_item), default=Truth.FALSE)
            missing = set().union(*(v.missing for v in per_item if v.truth == Truth.UNKNOWN)) if best == Truth.UNKNOWN else set()
            verdict = Verdict(best, missing)
    truth = min(verdict.truth, gate)
    if truth == Truth.TRUE:
        return Verdict(Truth.TRUE), hits
    if truth == Truth.UNKNOWN:
        missing = (verdict.missing if verdict.truth == Truth.UNKNOWN else set()) | gate_missing
        return Verdict(Truth.UNKNOWN, missing), []
    return Verdict(Truth.FALSE), []


def run_fixpoint(rules: Sequence[CompiledRule], facts: FactSet, given: Iterable[str] = ()) -> tuple[list[Firing], list[str]]:
    """Forward-chain to a fixpoint: firings in order, and derived facts in order of derivation.

    A rule that fired has fired for every item it ever will (items do not depend on derived
    facts), and only rules that wait on derived facts can change in later rounds.
    """
    derived: list[str] = list(dict.fromkeys(given))
    derived_set = set(derived)
    firings: list[Firing] = []
    pending = list(rules)
    first = True
    while pending:
        grew = False
        waiting: list[CompiledRule] = []
        for rule in pending:
            verdict, hits = evaluate_rule(rule, facts, derived_set)
            if verdict.truth != Truth.TRUE:
                if rule.shape.derived:
                    waiting.append(rule)
                continue
            for item in hits:
                firings.append(Firing(rule.id, rule.version, item))
            for name in rule.derives:
                if name not in derived_set:
                    derived_set.add(name)
                    derived.append(name)
                    grew = True
        if not grew and not first:
            break
        first = False
        pending = waiting if grew else []
    return firings, derived


def classify(rules: Sequence[CompiledRule], facts: FactSet, derived_true: Iterable[str]) -> Mapping[str, Verdict]:
    """Three-valued verdict of every rule, given what the engine derived.

    A derived fact that was not derived is UNKNOWN while some rule that could derive it is
    itself UNKNOWN (computed to a fixpoint), and FALSE otherwise.
    """
    true_set = set(derived_true)
    unknown: set[str] = set()
    verdicts = {rule.id: evaluate_rule(rule, facts, true_set, unknown)[0] for rule in rules}
    chained = [rule for rule in rules if rule.shape.derived]  # only these can change in later rounds
    while True:
        grown = set(unknown)
        for rule in rules:
            if verdicts[rule.id].truth == Truth.UNKNOWN:
                grown.update(name for name in rule.derives if name not in true_set)
        if grown == unknown:
            return verdicts
        unknown = grown
        for rule in chained:
            verdicts[rule.id] = evaluate_rule(rule, facts, true_set, unknown)[0]
