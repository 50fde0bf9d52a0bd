"""Pure-Python evaluation of rule conditions: oracle, fallback engine, judge of *undetermined*.

Three-valued (Kleene) logic: a literal on an absent fact is UNKNOWN; ``exists``/``missing``
are always known. A rule fires for a program (or for an item of its collection) when its
condition is TRUE; it is undetermined when the condition is UNKNOWN. :func:`run_fixpoint` is a
complete forward-chaining engine over the same compiled rules the durable-rules adapter runs.
:func:`classify` judges a whole rule tuple at once with integer masks built once per tuple
(:class:`_Tables`); the closures of :func:`_compile` stay the evaluator of single conditions.
This module must not import durable-rules or produce prose.
"""

from __future__ import annotations

import enum
import operator
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cmcadvisor.conditions import DERIVED_PREFIX, And, CompiledRule, Firing, Lit, Node, Or, Value, literals, to_nnf
from cmcadvisor.facts import FactSet, Item
from cmcadvisor.memo import remember
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
_COMPILED: dict[int, tuple[weakref.ref[Node], TruthFn, MissFn]] = {}  # by id(node), while it lives


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
    compare = _ORDER.get(op)  # lt / le / gt / ge: only str against str, number against number (bools apart)
    if compare is not None and isinstance(value, str):
        return lambda v: 2 if isinstance(v, str) and compare(v, value) else 0
    if compare is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return lambda v: 2 if type(v) is not bool and isinstance(v, (int, float)) and compare(v, value) else 0
    probe = Lit(lit.fact, op, value)  # a copy: the closure must not keep the node alive (see _compiled)
    return lambda v: 2 if test_literal(probe, v) else 0  # type: ignore[arg-type]


_ORDER: dict[str, Callable[[Any, Any], bool]] = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


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
    flat = [child for child in node.children if isinstance(child, Lit) and child.item_field is None]
    if isinstance(node, And) and len(flat) == len(node.children):
        return _compile_flat_and(flat)
    if isinstance(node, And) and flat:
        # The program-fact literals of a mixed And as one child, tested first (the order of an
        # And's children changes neither its truth nor its missing facts).
        rest = [child for child in node.children if not (isinstance(child, Lit) and child.item_field is None)]
        compiled = [_compile_flat_and(flat), *(_compile(child) for child in rest)]
    else:
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


def _compiled(node: Node) -> tuple[weakref.ref[Node], TruthFn, MissFn]:
    """The node's closures, kept while the node lives (nodes are compared by identity, not ``==``)."""
    key = id(node)
    entry = _COMPILED.get(key)
    if entry is None or entry[0]() is not node:
        entry = (weakref.ref(node, lambda ref: _forget(key, ref)), *_compile(node))  # the closures hold no node
        _COMPILED[key] = entry
    return entry


def _forget(key: int, ref: weakref.ref[Node]) -> None:
    """Drop a dead node's closures (unless its id already names a newer node)."""
    entry = _COMPILED.get(key)
    if entry is not None and entry[0] is ref:
        _COMPILED.pop(key, None)


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


def _gate_missing(rule: CompiledRule, derived_true: Collection[str], derived_unknown: Collection[str]) -> list[str] | None:
    """The derived facts a rule waits on that are still unknown, or None when one of them is false."""
    missing: list[str] = []
    for name in rule.shape.derived:
        if name in derived_true:
            continue
        if name not in derived_unknown:
            return None
        missing.append(DERIVED_PREFIX + name)
    return missing


def _verdict(
    rule: CompiledRule,
    d: Facts,
    collections: Mapping[str, tuple[Item, ...]],
    derived_true: Collection[str],
    derived_unknown: Collection[str],
) -> Verdict:
    gate_missing = _gate_missing(rule, derived_true, derived_unknown)
    if gate_missing is None:
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


_VALUES_KEPT = 64  # per fact: the masks of this many distinct values are kept (enumerations fit)
_MISSING_KEPT = 1024  # unknown verdicts kept per rule tuple, by the set of absent facts they name


class _FactTable:
    """What the values of one program fact decide, for :class:`_Tables`.

    Node bits name the condition nodes that :class:`_Tables` evaluates. A literal *decides* its
    node when it is false under an And or true under an Or. :meth:`decided` gives, for a value,
    the mask of nodes that the fact's literals decide; the masks of the first values seen are
    kept (two dicts, as ``True == 1`` but ordering tests tell them apart).
    """

    __slots__ = ("absent_decided", "absent_unknown", "bit", "by_bool", "by_value", "name", "present_decided", "tests")

    def __init__(self, name: str, bit: int) -> None:
        self.name, self.bit = name, bit
        self.tests: list[tuple[Callable[[object], int], int, int]] = []  # tester, mask when true, when false
        self.present_decided = 0  # by exists / missing literals when the fact is present
        self.absent_decided = 0  # by exists / missing literals when it is absent
        self.absent_unknown = 0  # the nodes with a literal made unknown by its absence
        self.by_value: dict[object, int] = {}
        self.by_bool: dict[object, int] = {}

    def add(self, lit: Lit, node_bit: int, node_is_or: bool) -> None:
        """Register a literal on this fact, child of the node ``node_bit``."""
        if_true, if_false = (node_bit, 0) if node_is_or else (0, node_bit)
        if lit.op in ("exists", "missing"):
            present_true = lit.op == "exists"
            self.present_decided |= if_true if present_true else if_false
            self.absent_decided |= if_false if present_true else if_true
        else:
            self.tests.append((_tester(lit), if_true, if_false))
            self.absent_unknown |= node_bit

    def decided(self, value: object) -> int:
        """The nodes that the fact's literals decide when the fact has this value."""
        kept: dict[Any, int] = self.by_bool if value.__class__ is bool else self.by_value
        mask = kept.get(value)
        if mask is None:
            mask = self.present_decided
            for test, if_true, if_false in self.tests:
                mask |= if_true if test(value) else if_false
            if len(kept) < _VALUES_KEPT:
                kept[value] = mask
        return mask


_Lookup = tuple[str, int, dict[object, int], dict[object, int], int, int, _FactTable]  # a field's value tables
_Step = tuple[int, int, int, int]  # a nested node: its bit, what it adds when decided, when not, its parents


class _Space:
    """Condition nodes numbered by bit, for :class:`_Tables`: the program's, or one collection's items'.

    A node is registered under a bit; its literals go to the tables of the facts (or item fields)
    they test, its nested nodes get bits of their own (one per distinct node: ``repr`` tells
    ``True`` from ``1``, unlike ``==``). In an item space, a child that tests no item field is a
    *leaf*: it is settled once per program, in the program's space.
    """

    def __init__(self, first_bit: int, program: _Space | None = None) -> None:
        self.program = program  # None: this is the program's space
        self.tables: dict[str, _FactTable] = {}  # by fact name (by item field in an item space)
        self.inner: dict[str, tuple[int, int]] = {}  # repr -> bit, height
        self.parents: dict[int, list[int]] = {}  # nested bit -> [And parents, Or parents]
        self.inner_or: dict[int, bool] = {}  # nested bit -> it is an Or
        self.leaves: dict[str, int] = {}  # in the program space: repr of a leaf -> its bit
        self.leaf_parents: dict[int, list[int]] = {}  # in an item space: program-space bit -> [And, Or parents]
        self.next = first_bit

    def bit(self) -> int:
        bit = 1 << self.next
        self.next += 1
        return bit

    def add(self, node: Node, bit: int) -> int:
        """Register a node (a literal as an And of one) under ``bit``; its height."""
        is_or = isinstance(node, Or)
        height = 0
        for child in node.children if not isinstance(node, Lit) else (node,):
            if self.program is not None and all(lit.item_field is None for lit in literals(child)):
                leaf = self.program.leaf(child)
                self.leaf_parents.setdefault(leaf, [0, 0])[is_or] |= bit
            elif isinstance(child, Lit):
                name = child.fact if self.program is None else child.item_field
                assert name is not None, "a program-fact literal in a program space, an item literal in an item space"
                table = self.tables.get(name)
                if table is None:
                    table = self.tables[name] = _FactTable(name, 1 << len(self.tables))
                table.add(child, bit, is_or)
            else:
                key = repr(child)
                found = self.inner.get(key)
                if found is None:
                    child_bit = self.bit()
                    found = self.inner[key] = (child_bit, self.add(child, child_bit))
                    self.parents[child_bit] = [0, 0]
                    self.inner_or[child_bit] = isinstance(child, Or)
                self.parents[found[0]][is_or] |= bit
                height = max(height, found[1])
        return height + 1

    def leaf(self, node: Node) -> int:
        """The bit of a node on program facts, settled like an And of one: its truth."""
        key = repr(node)
        bit = self.leaves.get(key)
        if bit is None:
            bit = self.leaves[key] = self.bit()
            self.add(And((node,)), bit)
        return bit

    def steps(self) -> tuple[_Step, ...]:
        """Nested nodes by height: bit, parents when it is decided, parents when not, all parents."""
        found = []
        for _, bit in sorted((height, bit) for bit, height in self.inner.values()):
            ands, ors = self.parents[bit]
            decided, other = (ors, ands) if self.inner_or[bit] else (ands, ors)
            found.append((bit, decided, other, ands | ors))
        return tuple(found)

    def lookups(self) -> tuple[_Lookup, ...]:
        """What the hot loops read of each table."""
        return tuple(
            (table.name, table.bit, table.by_value, table.by_bool, table.absent_decided, table.absent_unknown, table)
            for table in self.tables.values()
        )


class _Items:
    """The collection rules on one collection, for :class:`_Tables`: an item space.

    Rule ``i``'s body is bit ``i`` here too, so what the items settle joins the program's masks;
    nested nodes follow. ``leaves`` passes the truth of the program-fact parts (bits of the
    program space) to their parents: once per program.
    """

    def __init__(self, collection: str, program: _Space, rules: list[tuple[int, CompiledRule]], first_bit: int) -> None:
        self.collection = collection
        self.rules = tuple(rule for _, rule in rules)
        self.missing_of: dict[int, MissFn] = {}  # rule index -> its missing-facts closure (called per item)
        space = _Space(first_bit, program)
        self.and_roots = self.or_roots = 0
        for index, rule in rules:
            body = rule.shape.body
            assert body is not None, "a collection rule tests an item field"
            space.add(body, 1 << index)
            self.missing_of[index] = _compiled(body)[2]
            if isinstance(body, Or):
                self.or_roots |= 1 << index
            else:
                self.and_roots |= 1 << index
        self.roots = self.and_roots | self.or_roots
        self.leaves = tuple((leaf, ands, ors, ands | ors) for leaf, (ands, ors) in space.leaf_parents.items())
        self.steps = space.steps()
        self.fields = space.lookups()

    def unknown(self, index: int, items: tuple[Item, ...], per_item: Sequence[int], d: Facts) -> Verdict:
        """Rule ``index``'s verdict, known to be unknown: the missing facts of its unknown items."""
        out: set[str] = set()
        bit, miss = 1 << index, self.missing_of[index]
        for item_index, open_here in enumerate(per_item):
            if open_here & bit:
                miss(d, items[item_index], item_index, out)
        return Verdict(Truth.UNKNOWN, frozenset(out))


class _Tables:
    """A rule tuple compiled for :func:`classify`: integer masks instead of closures.

    Every condition node gets a bit. In the program's space, rule ``i``'s body is bit ``i``; the
    nested nodes (one bit per distinct node) and the program-fact parts of collection rules
    follow. For one program, ``decided`` collects from the facts' tables the nodes one of whose
    literals decides them and ``unknown`` those with an unknown literal; the nested nodes are
    then settled by height and passed up to their parents as if literals. A node that is decided
    takes the deciding value (false for an And, true for an Or), else it is unknown if it has an
    unknown child, else it takes the other value: Kleene's min and max. Collection rules are
    settled the same way item by item, in one space per collection (:class:`_Items`).

    The missing facts of nested bodies and of collection rules come from the closures of
    :func:`_compile`, called only for unknown ones; the collection rules of a program that does
    not give the collection, and those with a derived gate, are left to :func:`_verdict`.
    """

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        self.rules = rules
        self.ids = tuple(rule.id for rule in rules)
        self.unique = len(set(self.ids)) == len(rules)
        self.width = f"0{len(rules)}b"  # one character per rule, rule 0 last: reversed, rule i at i
        space = _Space(len(rules))
        self.and_roots = self.or_roots = 0  # the bodies of rules with no derived gate and no collection
        self.is_or: dict[int, bool] = {}  # rule index -> body is an Or (for gated bodies)
        self.asked: dict[int, int] = {}  # rule index -> facts of a flat body's literals that can be unknown
        self.missing_of: dict[int, MissFn] = {}  # rule index -> missing-facts closure of a nested body
        self.missing_kept: dict[int, Verdict] = {}  # absent facts asked -> unknown verdict naming them
        special: list[tuple[int, CompiledRule]] = []
        by_collection: dict[str, list[tuple[int, CompiledRule]]] = {}
        for index, rule in enumerate(rules):
            shape, body = rule.shape, rule.shape.body
            if body is not None and shape.collection is None:
                space.add(body, 1 << index)
                is_or = self.is_or[index] = isinstance(body, Or)
                if isinstance(body, Lit) or all(isinstance(child, Lit) for child in body.children):
                    self.asked[index] = sum(
                        {space.tables[lit.fact].bit for lit in literals(body) if lit.op not in ("exists", "missing")}
                    )
                else:
                    self.missing_of[index] = _compiled(body)[2]
                if not shape.derived:  # settled with the masks alone; a gated body waits for its gate
                    if is_or:
                        self.or_roots |= 1 << index
                    else:
                        self.and_roots |= 1 << index
                    continue
            elif shape.collection is not None and not shape.derived:
                by_collection.setdefault(shape.collection, []).append((index, rule))
            special.append((index, rule))
        self.items = tuple(_Items(name, space, found, len(rules)) for name, found in by_collection.items())
        self.space_of = {index: items for items in self.items for index, _ in by_collection[items.collection]}
        self.template = dict.fromkeys(self.ids, FALSE)  # copied for each program, never handed out
        self.roots = self.and_roots | self.or_roots
        self.special = tuple((index, rule) for index, rule in special if rule.shape.collection is None or rule.shape.derived)
        self.chained = tuple((index, rule) for index, rule in enumerate(rules) if rule.shape.derived)
        self.deriving = tuple(rule for rule in rules if rule.derives)
        self.steps = space.steps()
        self.facts = space.lookups()
        self.fact_names = tuple((table.name, table.bit) for table in space.tables.values())

    def unknown(self, index: int, absent: int, d: Facts) -> Verdict:
        """The verdict of rule ``index``'s body, known to be unknown, with its missing facts."""
        asked = self.asked.get(index)
        if asked is None:  # nested: the closures find which unknown children keep it open
            out: set[str] = set()
            self.missing_of[index](d, None, None, out)
            return Verdict(Truth.UNKNOWN, frozenset(out))
        key = absent & asked  # flat: every literal whose fact is absent is unknown, and counts
        verdict = self.missing_kept.get(key)
        if verdict is None:
            verdict = Verdict(Truth.UNKNOWN, frozenset(name for name, bit in self.fact_names if key & bit))
            if len(self.missing_kept) < _MISSING_KEPT:
                self.missing_kept[key] = verdict
        return verdict

    def body(self, index: int, decided: int, unknown: int, absent: int, d: Facts) -> Verdict:
        """The verdict of the body of program rule ``index`` (TRUE when it has none)."""
        bit = 1 << index
        if index not in self.is_or:
            return TRUE
        if decided & bit:
            return TRUE if self.is_or[index] else FALSE
        if unknown & bit:
            return self.unknown(index, absent, d)
        return FALSE if self.is_or[index] else TRUE


def _propagate(
    fields: tuple[_Lookup, ...], steps: tuple[_Step, ...], get: Callable[[str], Any], decided: int, unknown: int
) -> tuple[int, int, int]:
    """Settle a space's nodes for one set of values (a program's facts or one item's fields).

    ``fields`` are the space's value tables, ``steps`` its nested nodes by height; ``decided`` and
    ``unknown`` start from what is already settled. Returns (decided, unknown, absent) bit masks:
    nodes decided (an And false, an Or true), nodes left open by a missing value, fields absent.
    """
    absent = 0
    for name, bit, by_value, by_bool, absent_decided, absent_unknown, table in fields:
        value = get(name)
        if value is None:
            absent |= bit
            decided |= absent_decided
            unknown |= absent_unknown
        else:
            mask = (by_bool if value.__class__ is bool else by_value).get(value)
            decided |= table.decided(value) if mask is None else mask
    for bit, if_decided, if_not, parents in steps:
        if decided & bit:
            decided |= if_decided
        elif unknown & bit:
            unknown |= parents
        else:
            decided |= if_not
    return decided, unknown, absent


def _settle_items(space: _Items, items: tuple[Item, ...], decided: int, unknown: int) -> tuple[int, int, list[int]]:
    """For each collection rule (bits of ``space``): true for some item, unknown for some item, per item unknown."""
    base_decided = base_unknown = 0
    for leaf, ands, ors, parents in space.leaves:  # the program-fact parts, settled in the program's space
        if decided & leaf:
            base_decided |= ands
        elif unknown & leaf:
            base_unknown |= parents
        else:
            base_decided |= ors
    any_true = any_unknown = 0
    per_item: list[int] = []
    for item in items:
        here_decided, here_unknown, _ = _propagate(space.fields, space.steps, item.get, base_decided, base_unknown)
        any_true |= (space.and_roots & ~(here_decided | here_unknown)) | (space.or_roots & here_decided)
        open_here = space.roots & here_unknown & ~here_decided
        any_unknown |= open_here
        per_item.append(open_here)
    return any_true, any_unknown, per_item


def _gated(rule: CompiledRule, body: Verdict, derived_true: Collection[str], derived_unknown: Collection[str]) -> Verdict:
    """A program rule's verdict from its body's and its derived gate: what :func:`_verdict` gives."""
    gate_missing = _gate_missing(rule, derived_true, derived_unknown)
    if gate_missing is None:
        return FALSE
    if body.truth == Truth.FALSE or not gate_missing:
        return body
    return Verdict(Truth.UNKNOWN, frozenset(gate_missing if body.truth == Truth.TRUE else (*body.missing, *gate_missing)))


_TABLES: dict[int, _Tables] = {}


def _tables(rules: Sequence[CompiledRule]) -> _Tables:
    frozen = isinstance(rules, tuple)  # an immutable pack (the usual case): its tables are kept
    cached = _TABLES.get(id(rules)) if frozen else None
    if cached is not None and cached.rules is rules:
        return cached
    tables = _Tables(rules if isinstance(rules, tuple) else tuple(rules))
    if frozen:
        remember(_TABLES, id(rules), tables, 16)  # a few packs at most; the tables hold the tuple, so its id is not reused
    return tables


def classify(rules: Sequence[CompiledRule], facts: FactSet, derived_true: Iterable[str]) -> Mapping[str, Verdict]:
    """Three-valued verdict of every rule, given what the engine derived.

    A derived fact that was not derived is UNKNOWN while some rule that could derive it is
    itself UNKNOWN (computed to a fixpoint), and FALSE otherwise. Each round re-evaluates only
    the rules that wait on a derived fact that has just become unknown. The rules' bodies on
    program facts are settled together with integer masks (:class:`_Tables`).
    """
    tables = _tables(rules)
    true_set = set(derived_true)
    unknown_set: set[str] = set()
    d, collections = flat_facts(facts), facts.collections
    if not tables.unique:  # the same id twice (not in a loaded pack): the last rule's verdict, as ever
        verdicts = {rule.id: _verdict(rule, d, collections, true_set, unknown_set) for rule in tables.rules}
        return _settle(tables, verdicts, {}, d, collections, true_set, unknown_set)
    decided, unknown, absent = _propagate(tables.facts, tables.steps, d.get, 0, 0)
    true = (tables.and_roots & ~(decided | unknown)) | (tables.or_roots & decided)
    open_roots = tables.roots & unknown & ~decided
    settled: dict[str, tuple[tuple[Item, ...], list[int]]] = {}
    verdicts = tables.template.copy()  # every rule FALSE; then the true and unknown ones
    for space in tables.items:
        items = collections.get(space.collection)
        if items is None:  # the program does not give the collection: as the closures say
            for rule in space.rules:
                verdicts[rule.id] = _verdict(rule, d, collections, true_set, unknown_set)
            continue
        any_true, any_unknown, per_item = _settle_items(space, items, decided, unknown)
        true |= any_true
        open_roots |= any_unknown & ~any_true
        settled[space.collection] = items, per_item
    ids = tables.ids
    marks = format(true, tables.width)[::-1]  # the rules by bit: rule i at character i
    index = marks.find("1")
    while index >= 0:
        verdicts[ids[index]] = TRUE
        index = marks.find("1", index + 1)
    if open_roots:
        marks = format(open_roots, tables.width)[::-1]
        index = marks.find("1")
        while index >= 0:
            owner = tables.space_of.get(index)
            if owner is None:
                verdicts[ids[index]] = tables.unknown(index, absent, d)
            else:
                verdicts[ids[index]] = owner.unknown(index, *settled[owner.collection], d)
            index = marks.find("1", index + 1)
    bodies: dict[int, Verdict] = {}
    for index, rule in tables.special:
        if rule.shape.collection is not None:
            verdicts[rule.id] = _verdict(rule, d, collections, true_set, unknown_set)
        else:
            body = bodies[index] = tables.body(index, decided, unknown, absent, d)
            verdicts[rule.id] = _gated(rule, body, true_set, unknown_set)
    return _settle(tables, verdicts, bodies, d, collections, true_set, unknown_set)


def _settle(
    tables: _Tables,
    verdicts: dict[str, Verdict],
    bodies: Mapping[int, Verdict],
    d: Facts,
    collections: Mapping[str, tuple[Item, ...]],
    true_set: set[str],
    unknown: set[str],
) -> dict[str, Verdict]:
    """Carry unknown derived facts to the rules chained on them, to a fixpoint (``verdicts`` in place)."""
    changed: Sequence[CompiledRule] = tables.deriving
    unknown_truth = Truth.UNKNOWN  # read once, not for each rule
    while True:
        added = {
            name
            for rule in changed
            if verdicts[rule.id].truth == unknown_truth
            for name in rule.derives
            if name not in true_set and name not in unknown
        }
        if not added:
            return verdicts
        unknown |= added
        changed = []
        for index, rule in tables.chained:
            if added.isdisjoint(rule.shape.derived):
                continue
            changed.append(rule)
            body = bodies.get(index)
            if body is None:
                verdicts[rule.id] = _verdict(rule, d, collections, true_set, unknown)
            else:
                verdicts[rule.id] = _gated(rule, body, true_set, unknown)


_APPLICABILITY: dict[int, tuple[Condition, TruthFn]] = {}
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
        entry = (condition, _compiled(to_nnf(condition))[1])  # the condition is kept, so its id cannot be reused
        remember(_APPLICABILITY, id(condition), entry, 4096)  # a few knowledge bases per process at most
    last = _LAST_FLAT  # one program's texts are judged together: flatten its facts once (a local: thread-safe)
    if last[0] is not facts:
        last = _LAST_FLAT = (facts, flat_facts(facts))
    return entry[1](last[1], None) == 0
