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
from dataclasses import dataclass
from typing import Any

from cmcadvisor.conditions import DERIVED_PREFIX, And, CompiledRule, Firing, Lit, Node, Value, to_nnf
from cmcadvisor.facts import FactSet, Item
from cmcadvisor.models.rule import Condition


class Truth(enum.IntEnum):
    """Kleene truth values, ordered so that ``and`` is ``min`` and ``or`` is ``max``."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2


@dataclass(frozen=True)
class Verdict:
    """Three-valued outcome of one rule, with the facts whose absence kept it unknown."""

    truth: Truth
    missing: frozenset[str] = frozenset()


TRUE = Verdict(Truth.TRUE)
FALSE = Verdict(Truth.FALSE)


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


Facts = Mapping[str, "Value | tuple[str, ...]"]
TruthFn = Callable[[Facts, Item | None], int]
MissFn = Callable[[Facts, Item | None, int | None, set[str]], None]
_COMPILED: dict[int, tuple[Node, TruthFn, MissFn]] = {}


def flat_facts(facts: FactSet) -> dict[str, Value | tuple[str, ...]]:
    """Scalar and list facts in one mapping (their names never overlap): what closures read."""
    return {**facts.lists, **facts.scalars}


def _tester(lit: Lit) -> Callable[[object], int]:
    """The literal's truth (0 or 2) for a present value; the same results as :func:`test_literal`."""
    op, value = lit.op, lit.value
    scalar = not isinstance(value, tuple)
    if op == "eq" and scalar:  # == is False across str / non-str and tuple / scalar, as test_literal wants
        return lambda v: 2 if v == value else 0
    if op == "ne" and scalar:
        return lambda v: 0 if v == value or type(v) is tuple else 2
    if op in ("in", "not_in"):
        allowed = frozenset(value if isinstance(value, tuple) else (value,))
        if op == "in":
            return lambda v: 2 if v in allowed else 0
        return lambda v: 0 if v in allowed or type(v) is tuple else 2
    if op == "contains":
        return lambda v: 2 if value in (v if type(v) is tuple else (v,)) else 0
    if op == "not_contains":
        return lambda v: 0 if value in (v if type(v) is tuple else (v,)) else 2
    return lambda v: 2 if test_literal(lit, v) else 0  # type: ignore[arg-type]


def _no_missing(d: object, it: object, index: object, out: object) -> None:
    """``exists`` / ``missing`` literals are never unknown."""


def _compile(node: Node) -> tuple[TruthFn, MissFn]:
    """Closures for the evaluator's hot path, over :func:`flat_facts` and an optional item.

    The first gives the Kleene truth (0 false, 1 unknown, 2 true) of a condition. The second,
    called only on a condition that is unknown, adds the names of the missing facts that keep it
    so: the fact's name, ``collection[i].field`` for an item's field, or the collection's name
    when there is no item. ``tests/kleene.py`` holds the plain recursive definition it must match.
    """
    if isinstance(node, Lit):
        return _compile_literal(node)
    if isinstance(node, And) and all(isinstance(child, Lit) and child.item_field is None for child in node.children):
        return _compile_flat_and(node.children)  # type: ignore[arg-type]
    compiled = [_compile(child) for child in node.children]
    truths = tuple(truth for truth, _ in compiled)

    def missing(d: Facts, it: Item | None, index: int | None, out: set[str]) -> None:
        for truth, miss in compiled:  # only the unknown children keep an unknown And / Or open
            if truth(d, it) == 1:
                miss(d, it, index, out)

    if isinstance(node, And):

        def conjunction(d: Facts, it: Item | None) -> int:
            result = 2
            for child in truths:
                truth = child(d, it)
                if truth == 0:
                    return 0
                if truth < result:
                    result = truth
            return result

        return conjunction, missing

    def disjunction(d: Facts, it: Item | None) -> int:
        result = 0
        for child in truths:
            truth = child(d, it)
            if truth == 2:
                return 2
            if truth > result:
                result = truth
        return result

    return disjunction, missing


_EQ, _IN, _TEST, _EXISTS, _MISSING = range(5)


def _compile_flat_and(children: Sequence[Lit]) -> tuple[TruthFn, MissFn]:
    """A conjunction of program-fact literals (most rules) as one loop, without a call per literal.

    Same results as the general closures: false at the first false literal, else unknown if a
    tested fact is absent, else true. When it is unknown, its unknown literals are exactly those
    whose fact is absent (``exists`` / ``missing`` are never unknown).
    """
    specs: list[tuple[str, int, Any]] = []
    for lit in children:
        if lit.op in ("exists", "missing"):
            specs.append((lit.fact, _EXISTS if lit.op == "exists" else _MISSING, None))
        elif lit.op == "eq" and not isinstance(lit.value, tuple):
            specs.append((lit.fact, _EQ, lit.value))
        elif lit.op == "in":
            specs.append((lit.fact, _IN, frozenset(lit.value if isinstance(lit.value, tuple) else (lit.value,))))
        else:
            specs.append((lit.fact, _TEST, _tester(lit)))
    frozen = tuple(specs)
    asked = tuple(fact for fact, code, _ in frozen if code < _EXISTS)

    def conjunction(d: Facts, it: Item | None) -> int:
        result = 2
        for fact, code, operand in frozen:
            v = d.get(fact)
            if code >= _EXISTS:
                if (v is None) == (code == _EXISTS):
                    return 0
            elif v is None:
                result = 1
            elif code == _EQ:
                if v != operand:
                    return 0
            elif code == _IN:
                if v not in operand:
                    return 0
            elif operand(v) == 0:
                return 0
        return result

    def missing(d: Facts, it: Item | None, index: int | None, out: set[str]) -> None:
        for fact in asked:
            if d.get(fact) is None:
                out.add(fact)

    return conjunction, missing


def _compile_literal(node: Lit) -> tuple[TruthFn, MissFn]:
    """A literal on a program fact, or on a field of the item under evaluation."""
    return _compile_item_literal(node) if node.item_field is not None else _compile_fact_literal(node)


def _compile_fact_literal(node: Lit) -> tuple[TruthFn, MissFn]:
    fact = node.fact
    if node.op in ("exists", "missing"):
        absent, present = (0, 2) if node.op == "exists" else (2, 0)
        return (lambda d, it: absent if d.get(fact) is None else present), _no_missing
    test = _tester(node)

    def literal(d: Facts, it: Item | None) -> int:
        v = d.get(fact)
        return 1 if v is None else test(v)

    def missing(d: object, it: object, index: object, out: set[str]) -> None:
        out.add(fact)

    return literal, missing


def _compile_item_literal(node: Lit) -> tuple[TruthFn, MissFn]:
    fact, field_name, collection = node.fact, node.item_field, node.collection
    if node.op in ("exists", "missing"):
        absent, present = (0, 2) if node.op == "exists" else (2, 0)
        return (lambda d, it: absent if it is None or it.get(field_name) is None else present), _no_missing
    test = _tester(node)

    def literal(d: Facts, it: Item | None) -> int:
        v = it.get(field_name) if it is not None else None  # type: ignore[arg-type]
        return 1 if v is None else test(v)

    def missing(d: object, it: Item | None, index: int | None, out: set[str]) -> None:
        out.add(f"{collection}[{index}].{field_name}" if it is not None else collection or fact)

    return literal, missing


def _compiled(node: Node) -> tuple[Node, TruthFn, MissFn]:
    entry = _COMPILED.get(id(node))
    if entry is None or entry[0] is not node:
        entry = (node, *_compile(node))  # the node is kept, so its id cannot be reused
        _COMPILED[id(node)] = entry
    return entry


def evaluate_node(node: Node, facts: FactSet, item: Item | None = None, item_index: int | None = None) -> Verdict:
    """Kleene evaluation of a condition tree against a program and, optionally, one item."""
    _, truth_fn, miss_fn = _compiled(node)
    d = flat_facts(facts)
    truth = truth_fn(d, item)
    if truth == 2:
        return TRUE
    if truth == 0:
        return FALSE
    out: set[str] = set()
    miss_fn(d, item, item_index, out)
    return Verdict(Truth.UNKNOWN, frozenset(out))


def _verdict(
    rule: CompiledRule,
    d: Facts,
    collections: Mapping[str, tuple[Item, ...]],
    derived_true: Collection[str],
    derived_unknown: Collection[str],
) -> Verdict:
    gate_missing: list[str] = []
    for name in rule.shape.derived:
        if name in derived_true:
            continue
        if name in derived_unknown:
            gate_missing.append(DERIVED_PREFIX + name)
        else:
            return FALSE
    body = rule.shape.body
    out: set[str] = set()
    if body is None:
        truth = 2
    else:
        _, truth_fn, miss_fn = _compiled(body)
        collection = rule.shape.collection
        items = collections.get(collection) if collection is not None else None
        if items is None:
            truth = truth_fn(d, None)
            if truth == 0:
                return FALSE
            if truth == 1:
                miss_fn(d, None, None, out)
            elif collection is not None:  # true whatever the items, but it needs one
                truth = 1
                out.add(collection)
        else:
            truth = 0
            for index, item in enumerate(items):
                here = truth_fn(d, item)
                if here == 2:
                    truth = 2
                    break
                if here == 1:
                    truth = 1
                    miss_fn(d, item, index, out)
            if truth == 0:
                return FALSE
    if gate_missing:
        if truth == 2:
            out.clear()
        out.update(gate_missing)
        return Verdict(Truth.UNKNOWN, frozenset(out))
    return TRUE if truth == 2 else Verdict(Truth.UNKNOWN, frozenset(out))


def _hits(
    rule: CompiledRule, d: Facts, collections: Mapping[str, tuple[Item, ...]], derived_true: Collection[str]
) -> list[int | None]:
    for name in rule.shape.derived:
        if name not in derived_true:
            return []
    body = rule.shape.body
    if body is None:
        return [None]
    truth_fn = _compiled(body)[1]
    collection = rule.shape.collection
    if collection is None:
        return [None] if truth_fn(d, None) == 2 else []
    items = collections.get(collection)
    if items is None:
        return []
    return [index for index, item in enumerate(items) if truth_fn(d, item) == 2]


def evaluate_rule(
    rule: CompiledRule,
    facts: FactSet,
    derived_true: Collection[str],
    derived_unknown: Collection[str] = (),
) -> tuple[Verdict, list[int | None]]:
    """The rule's three-valued verdict and the items it fires for (``[None]``: the program).

    A collection rule is true when it is true for some item, and unknown (for want of an item)
    when its condition holds whatever the items but the program gives none. ``derived_true`` /
    ``derived_unknown`` are tested with ``in``: pass sets when calling in a loop.
    """
    d, collections = flat_facts(facts), facts.collections
    verdict = _verdict(rule, d, collections, derived_true, derived_unknown)
    return verdict, _hits(rule, d, collections, derived_true) if verdict.truth == Truth.TRUE else []


def run_fixpoint(rules: Sequence[CompiledRule], facts: FactSet, given: Iterable[str] = ()) -> tuple[list[Firing], list[str]]:
    """Forward-chain to a fixpoint: firings in order, and derived facts in order of derivation.

    A rule that fired has fired for every item it ever will (items do not depend on derived
    facts), and only rules that wait on derived facts can change in later rounds.
    """
    derived: list[str] = list(dict.fromkeys(given))
    derived_set = set(derived)
    d, collections = flat_facts(facts), facts.collections
    firings: list[Firing] = []
    pending = list(rules)
    first = True
    while pending:
        grew = False
        waiting: list[CompiledRule] = []
        for rule in pending:
            hits = _hits(rule, d, collections, derived_set)
            if not hits:
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


@dataclass(frozen=True)
class _Plan:
    """A rule tuple laid out for :func:`classify`.

    Plain program rules (no derived gate, no collection) come with their compiled closures; the
    rules chained on derived facts and the rules that derive them are listed apart.
    """

    rules: tuple[CompiledRule, ...]
    plain: tuple[tuple[str, TruthFn, MissFn], ...]  # no derived gate, no collection, a body
    other: tuple[CompiledRule, ...]
    chained: tuple[CompiledRule, ...]
    deriving: tuple[CompiledRule, ...]


_PLANS: dict[int, _Plan] = {}


def _plan(rules: Sequence[CompiledRule]) -> _Plan:
    frozen = isinstance(rules, tuple)  # an immutable pack (the usual case): its layout is kept
    cached = _PLANS.get(id(rules)) if frozen else None
    if cached is not None and cached.rules is rules:
        return cached
    plain, other = [], []
    for rule in rules:
        shape = rule.shape
        if shape.body is not None and not shape.derived and shape.collection is None:
            _, truth_fn, miss_fn = _compiled(shape.body)
            plain.append((rule.id, truth_fn, miss_fn))
        else:
            other.append(rule)
    plan = _Plan(
        rules if isinstance(rules, tuple) else tuple(rules),
        tuple(plain),
        tuple(other),
        tuple(rule for rule in rules if rule.shape.derived),
        tuple(rule for rule in rules if rule.derives),
    )
    if frozen:
        if len(_PLANS) >= 16:
            _PLANS.clear()
        _PLANS[id(rules)] = plan  # the plan holds the tuple, so its id cannot be reused meanwhile
    return plan


def classify(rules: Sequence[CompiledRule], facts: FactSet, derived_true: Iterable[str]) -> Mapping[str, Verdict]:
    """Three-valued verdict of every rule, given what the engine derived.

    A derived fact that was not derived is UNKNOWN while some rule that could derive it is
    itself UNKNOWN (computed to a fixpoint), and FALSE otherwise. Each round re-evaluates only
    the rules that wait on a derived fact that has just become unknown.
    """
    plan = _plan(rules)
    true_set = set(derived_true)
    unknown: set[str] = set()
    d, collections = flat_facts(facts), facts.collections
    verdicts: dict[str, Verdict] = {}
    for rule_id, truth_fn, miss_fn in plan.plain:  # most rules: one call of the compiled condition
        truth = truth_fn(d, None)
        if truth == 2:
            verdicts[rule_id] = TRUE
        elif truth == 0:
            verdicts[rule_id] = FALSE
        else:
            out: set[str] = set()
            miss_fn(d, None, None, out)
            verdicts[rule_id] = Verdict(Truth.UNKNOWN, frozenset(out))
    for rule in plan.other:
        verdicts[rule.id] = _verdict(rule, d, collections, true_set, unknown)
    changed: Sequence[CompiledRule] = plan.deriving
    while True:
        added = {
            name
            for rule in changed
            if verdicts[rule.id].truth == Truth.UNKNOWN
            for name in rule.derives
            if name not in true_set and name not in unknown
        }
        if not added:
            return {rule.id: verdicts[rule.id] for rule in plan.rules}  # in the rules' order
        unknown |= added
        changed = [rule for rule in plan.chained if not added.isdisjoint(rule.shape.derived)]
        for rule in changed:
            verdicts[rule.id] = _verdict(rule, d, collections, true_set, unknown)


_APPLICABILITY: dict[int, tuple[Condition, Node]] = {}
_LAST_FLAT: tuple[FactSet | None, Facts] = (None, {})


def ruled_out(condition: Condition | None, facts: FactSet) -> bool:
    """Whether a knowledge text's ``applies_when`` is FALSE for the program (unknown does not rule out).

    Knowledge texts and citations carry applicability conditions in the rules' language; one is
    left out only where the declared facts contradict it, so a program that does not say what its
    product is still sees every text.
    """
    global _LAST_FLAT
    if condition is None:
        return False
    entry = _APPLICABILITY.get(id(condition))
    if entry is None or entry[0] is not condition:
        if len(_APPLICABILITY) >= 4096:  # a few knowledge bases per process at most
            _APPLICABILITY.clear()
        entry = (condition, to_nnf(condition))  # the condition is kept, so its id cannot be reused
        _APPLICABILITY[id(condition)] = entry
    last = _LAST_FLAT  # one program's texts are judged together: flatten its facts once (a local: thread-safe)
    if last[0] is not facts:
        last = _LAST_FLAT = (facts, flat_facts(facts))
    _, truth_fn, _ = _compiled(entry[1])
    return truth_fn(last[1], None) == 0
