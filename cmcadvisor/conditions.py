"""The engine-neutral condition AST: rule conditions in negation normal form.

Both engines (the durable-rules adapter and the pure-Python evaluator) consume what this
module produces, so they cannot disagree on what a rule means. It turns the ``when`` tree of a
rule into :class:`And` / :class:`Or` / :class:`Lit` nodes with negation pushed onto the
literals, and reports which facts, collection and derived facts a rule uses. Pure functions;
it must not evaluate anything against a program.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from cmcadvisor.models.rule import AllOf, AnyOf, Condition, Leaf, NotOf

Value = bool | int | float | str
NEGATED_OP: dict[str, str] = {
    "eq": "ne",
    "ne": "eq",
    "in": "not_in",
    "not_in": "in",
    "lt": "ge",
    "ge": "lt",
    "le": "gt",
    "gt": "le",
    "exists": "missing",
    "missing": "exists",
    "contains": "not_contains",
    "not_contains": "contains",
}
DERIVED_PREFIX = "derived."
ITEM_MARK = "[]."


@dataclass(frozen=True)
class Lit:
    """A literal: one test of one fact. ``value`` is a scalar, a tuple of scalars or None.

    ``collection`` / ``item_field`` split ``manufacturing.planned_changes[].kind`` into
    ``manufacturing.planned_changes`` and ``kind``; ``derived`` is the name in ``derived.<name>``.
    They are computed once, since evaluation reads them for every program.
    """

    fact: str
    op: str
    value: Value | tuple[Value, ...] | None
    collection: str | None = field(init=False, compare=False, repr=False)
    item_field: str | None = field(init=False, compare=False, repr=False)
    derived: str | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        head, mark, tail = self.fact.partition(ITEM_MARK)
        object.__setattr__(self, "collection", head if mark else None)
        object.__setattr__(self, "item_field", tail if mark else None)
        derived = self.fact[len(DERIVED_PREFIX) :] if self.fact.startswith(DERIVED_PREFIX) else None
        object.__setattr__(self, "derived", derived)


@dataclass(frozen=True)
class And:
    """Conjunction."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Disjunction."""

    children: tuple[Node, ...]


Node = And | Or | Lit


def _norm_value(value: object) -> Value | tuple[Value, ...] | None:
    if isinstance(value, list):
        return tuple(v for v in (_norm_value(item) for item in value) if v is not None and not isinstance(v, tuple))
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"unsupported condition value {value!r}")


def to_nnf(condition: Condition, negate: bool = False) -> Node:
    """Push negations down to the literals (De Morgan); dates become ISO strings."""
    if isinstance(condition, Leaf):
        op = NEGATED_OP[condition.op] if negate else condition.op
        return Lit(condition.fact, op, _norm_value(condition.value))
    if isinstance(condition, NotOf):
        return to_nnf(condition.not_, not negate)
    if isinstance(condition, AllOf):
        kids = tuple(to_nnf(child, negate) for child in condition.all)
        return Or(kids) if negate else And(kids)
    if isinstance(condition, AnyOf):
        kids = tuple(to_nnf(child, negate) for child in condition.any)
        return And(kids) if negate else Or(kids)
    raise TypeError(f"unknown condition {condition!r}")  # pragma: no cover


def literals(node: Node) -> list[Lit]:
    """Every literal of the tree, in order."""
    if isinstance(node, Lit):
        return [node]
    found: list[Lit] = []
    for child in node.children:
        found.extend(literals(child))
    return found


@dataclass(frozen=True)
class RuleShape:
    """What a rule's condition is made of, split the way the engines need it."""

    body: Node | None  # the condition without the top-level derived literals (None: always true)
    derived: tuple[str, ...]  # derived facts required at the top level
    collection: str | None  # the one collection whose items the rule tests
    facts: tuple[str, ...]  # every fact name the rule tests (sorted, derived ones excluded)


def shape_of(condition: Condition) -> RuleShape:
    """Split a rule's condition into its body, its derived requirements and its collection."""
    node = to_nnf(condition)
    top = node.children if isinstance(node, And) else (node,)
    derived = tuple(sorted({lit.derived for lit in top if isinstance(lit, Lit) and lit.derived}))
    rest = tuple(child for child in top if not (isinstance(child, Lit) and child.derived))
    body: Node | None
    if not rest:
        body = None
    elif len(rest) == 1:
        body = rest[0]
    else:
        body = And(rest)
    lits = literals(body) if body is not None else []
    collections = sorted({lit.collection for lit in lits if lit.collection})
    return RuleShape(
        body=body,
        derived=derived,
        collection=collections[0] if collections else None,
        facts=tuple(sorted({lit.fact for lit in lits})),
    )


def required_members(shape: RuleShape, fact: str) -> frozenset[str]:
    """The values the list fact ``fact`` must contain for a rule of this shape to hold at all.

    Only tests every firing needs count: a lone ``contains`` test of ``fact``, or one among the
    children of the top-level ``all``. A test under ``any`` or ``not`` restricts nothing.
    """
    node = shape.body
    top = () if node is None else node.children if isinstance(node, And) else (node,)
    return frozenset(
        str(lit.value)
        for lit in top
        if isinstance(lit, Lit) and lit.fact == fact and lit.op == "contains" and isinstance(lit.value, str)
    )


def misplaced_derived(condition: Condition) -> list[str]:
    """Derived literals that are not plain ``eq true`` tests at the top level (lint)."""
    node = to_nnf(condition)
    top = node.children if isinstance(node, And) else (node,)
    allowed = {id(lit) for lit in top if isinstance(lit, Lit) and lit.derived and lit.op == "eq" and lit.value is True}
    return [lit.fact for lit in literals(node) if lit.derived and id(lit) not in allowed]


@dataclass(frozen=True)
class CompiledRule:
    """What both engines need of a rule: its id, version, shape and what it derives."""

    id: str
    version: int
    shape: RuleShape
    derives: tuple[str, ...]


@dataclass(frozen=True)
class Firing:
    """One rule firing, for the program (``item`` None) or for one item of its collection."""

    rule: str
    version: int
    item: int | None = None
