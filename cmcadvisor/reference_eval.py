"""Pure-Python evaluation of rule conditions: oracle, fallback engine, judge of *undetermined*.

Three-valued (Kleene) logic: a literal on an absent fact is UNKNOWN; ``exists``/``missing``
are always known. A rule fires for a program (or for an item of its collection) when its
condition is TRUE; it is undetermined when the condition is UNKNOWN. :func:`run_fixpoint` is a
complete forward-chaining engine over the same compiled rules the durable-rules adapter runs.
This module must not import durable-rules or produce prose.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
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


def _truth(node: Node, facts: FactSet, item: Item | None) -> int:
    """The Kleene truth alone (0 false, 1 unknown, 2 true): the fast path of every evaluation."""
    if isinstance(node, Lit):
        field_name = node.item_field
        value: Value | tuple[str, ...] | None
        if field_name is not None:
            value = item.get(field_name) if item is not None else None
        else:
            value = facts.scalars.get(node.fact)
            if value is None:
                value = facts.lists.get(node.fact)
        op = node.op
        if op == "exists":
            return 0 if value is None else 2
        if op == "missing":
            return 2 if value is None else 0
        if value is None:
            return 1
        return 2 if test_literal(node, value) else 0
    if isinstance(node, And):
        result = 2
        for child in node.children:
            truth = _truth(child, facts, item)
            if truth == 0:
                return 0
            result = min(result, truth)
        return result
    result = 0
    for child in node.children:
        truth = _truth(child, facts, item)
        if truth == 2:
            return 2
        result = max(result, truth)
    return result


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
    derived_true: Iterable[str],
    derived_unknown: Iterable[str] = (),
) -> tuple[Verdict, list[int | None]]:
    """The rule's verdict and the items it fires for (``[None]`` for a program-level firing)."""
    true_set, unknown_set = set(derived_true), set(derived_unknown)
    gate = Truth.TRUE
    gate_missing: set[str] = set()
    for name in rule.shape.derived:
        if name in true_set:
            continue
        if name in unknown_set:
            gate = min(gate, Truth.UNKNOWN)
            gate_missing.add(f"derived.{name}")
        else:
            gate = Truth.FALSE
    if gate == Truth.FALSE:
        return Verdict(Truth.FALSE), []
    body = rule.shape.body
    collection = rule.shape.collection
    hits: list[int | None]
    if body is None:
        verdict, hits = Verdict(Truth.TRUE), [None]
    elif collection is None:
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
    """Forward-chain to a fixpoint: firings in order, and derived facts in order of derivation."""
    derived: list[str] = list(dict.fromkeys(given))
    derived_set = set(derived)
    fired: set[tuple[str, int | None]] = set()
    firings: list[Firing] = []
    changed = True
    while changed:
        changed = False
        for rule in rules:
            verdict, hits = evaluate_rule(rule, facts, derived_set)
            if verdict.truth != Truth.TRUE:
                continue
            for item in hits:
                if (rule.id, item) in fired:
                    continue
                fired.add((rule.id, item))
                firings.append(Firing(rule.id, rule.version, item))
                changed = True
                for name in rule.derives:
                    if name not in derived_set:
                        derived_set.add(name)
                        derived.append(name)
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
