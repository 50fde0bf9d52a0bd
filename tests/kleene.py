"""The plain recursive definition of three-valued rule evaluation, as a test oracle.

``cmcadvisor.reference_eval`` compiles conditions into closures and re-evaluates only what can
change; this module says the same thing the slow, obvious way (one Verdict per node, every
chained rule re-evaluated every round), so tests can hold the fast version to it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from cmcadvisor.conditions import And, CompiledRule, Lit, Node, Or
from cmcadvisor.facts import FactSet, Item
from cmcadvisor.reference_eval import Truth, Verdict, test_literal


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


def evaluate_node(node: Node, facts: FactSet, item: Item | None = None, item_index: int | None = None) -> Verdict:
    """Kleene evaluation of a condition tree, with the missing facts of an unknown result."""
    if isinstance(node, Lit):
        present, value, name = _lookup(node, facts, item, item_index)
        if node.op == "exists":
            return Verdict(Truth.TRUE if present else Truth.FALSE)
        if node.op == "missing":
            return Verdict(Truth.FALSE if present else Truth.TRUE)
        if not present:
            return Verdict(Truth.UNKNOWN, frozenset({name}))
        return Verdict(Truth.TRUE if test_literal(node, value) else Truth.FALSE)  # type: ignore[arg-type]
    verdicts = [evaluate_node(child, facts, item, item_index) for child in node.children]
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
    return Verdict(truth, frozenset(missing))


def evaluate_rule(
    rule: CompiledRule, facts: FactSet, derived_true: Collection[str], derived_unknown: Collection[str] = ()
) -> tuple[Verdict, list[int | None]]:
    """The rule's verdict and the items it fires for (``[None]`` for a program-level firing)."""
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
        verdict = evaluate_node(body, facts)
        hits = [None] if verdict.truth == Truth.TRUE else []
    else:
        items = facts.collections.get(collection)
        if items is None:
            verdict = evaluate_node(body, facts, None)
            hits = []
            if verdict.truth == Truth.TRUE:
                verdict = Verdict(Truth.UNKNOWN, frozenset({collection}))
        else:
            per_item = [evaluate_node(body, facts, item, index) for index, item in enumerate(items)]
            hits = [index for index, v in enumerate(per_item) if v.truth == Truth.TRUE]
            best = max((v.truth for v in per_item), default=Truth.FALSE)
            missing = frozenset().union(*(v.missing for v in per_item if v.truth == Truth.UNKNOWN))
            verdict = Verdict(best, missing if best == Truth.UNKNOWN else frozenset())
    truth = min(verdict.truth, gate)
    if truth == Truth.TRUE:
        return Verdict(Truth.TRUE), hits
    if truth == Truth.UNKNOWN:
        missing = (verdict.missing if verdict.truth == Truth.UNKNOWN else frozenset()) | gate_missing
        return Verdict(Truth.UNKNOWN, frozenset(missing)), []
    return Verdict(Truth.FALSE), []


def classify(rules: Sequence[CompiledRule], facts: FactSet, derived_true: Iterable[str]) -> Mapping[str, Verdict]:
    """Every rule's verdict; a derived fact is unknown while a rule that could derive it is unknown."""
    true_set = set(derived_true)
    unknown: set[str] = set()
    verdicts = {rule.id: evaluate_rule(rule, facts, true_set, unknown)[0] for rule in rules}
    while True:
        grown = set(unknown)
        for rule in rules:
            if verdicts[rule.id].truth == Truth.UNKNOWN:
                grown.update(name for name in rule.derives if name not in true_set)
        if grown == unknown:
            return verdicts
        unknown = grown
        for rule in rules:
            if rule.shape.derived:
                verdicts[rule.id] = evaluate_rule(rule, facts, true_set, unknown)[0]
