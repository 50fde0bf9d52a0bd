"""Why a rule fired, or why it did not, and the smallest change of facts that would fire it.

The condition tree is evaluated literal by literal (three-valued), so the answer shows which
tests held, which failed and which lacked facts. The counterfactual is searched over the
condition itself (an ``all`` needs every failing child fixed, an ``any`` its cheapest child,
a derived fact the cheapest rule that derives it) and then checked by re-running the whole
rule pack on the engine with the changed facts. This module returns data; the CLI prints it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from typing import Any

from cmcadvisor import api
from cmcadvisor.conditions import And, Lit, Node, to_nnf
from cmcadvisor.errors import UserInputError
from cmcadvisor.facts import FactInfo, FactSet, Item, Value, derive_facts, vocabulary
from cmcadvisor.loader import Document
from cmcadvisor.models.program import STAGES, ProgramFile
from cmcadvisor.reference_eval import Truth, evaluate_node
from cmcadvisor.registry import LoadedRule

Change = tuple[str, Value | None]  # fact name (item facts as coll[i].field) and new value (None: remove)
_MARK = {Truth.TRUE: "yes", Truth.FALSE: "no", Truth.UNKNOWN: "??"}


@dataclass
class Explanation:
    """Everything ``cmcadvisor explain`` reports about one rule for one program."""

    rule: str
    title: str
    kind: str
    status: str  # fired | not_fired | undetermined | inactive
    items: list[int | None] = field(default_factory=list)
    tree: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    counterfactual: list[str] = field(default_factory=list)
    counterfactual_checked: bool | None = None
    effect: str | None = None
    citations: list[str] = field(default_factory=list)
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return dict(self.__dict__)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "(not given)" if value is None else str(value)


def _tree(node: Node, facts: FactSet, item: Item | None, index: int | None, depth: int = 0) -> list[str]:
    pad = "  " * depth
    verdict = evaluate_node(node, facts, item, index)
    mark = _MARK[verdict.truth]
    if isinstance(node, Lit):
        if node.item_field is not None:
            actual: object = item.get(node.item_field) if item else None
        else:
            actual = facts.get(node.fact)
        value = "" if node.op in ("exists", "missing") else f" {_show(node.value)}"
        return [f"{pad}[{mark}] {node.fact} {node.op}{value} (is {_show(actual)})"]
    lines = [f"{pad}[{mark}] {'all of' if isinstance(node, And) else 'any of'}:"]
    for child in node.children:
        lines.extend(_tree(child, facts, item, index, depth + 1))
    return lines


def _propose(lit: Lit, info: FactInfo | None, current: object) -> Value | None | bool:
    """A value that makes the literal true; ``False`` sentinel means no proposal."""
    op, value = lit.op, lit.value
    allowed = list(info.allowed) if info else []
    if op == "eq":
        return value if not isinstance(value, tuple) else False
    if op == "in" and isinstance(value, tuple) and value:
        return value[0]
    if op == "ne":
        if isinstance(value, bool):
            return not value
        options = [a for a in allowed if a != value]
        if options:
            return options[0]
        if isinstance(value, int | float):
            return value + 1
        return False
    if op == "not_in" and isinstance(value, tuple):
        options = [a for a in allowed if a not in value]
        return options[0] if options else False
    if op in ("lt", "le", "gt", "ge") and isinstance(value, int | float) and not isinstance(value, bool):
        whole = isinstance(value, int)
        step = 1 if whole else max(abs(float(value)) * 0.01, 0.001)
        return {"lt": value - step, "le": value, "gt": value + step, "ge": value}[op]
    if op in ("lt", "le", "gt", "ge") and isinstance(value, str):
        day = datetime.date.fromisoformat(value)
        delta = {"lt": -1, "le": 0, "gt": 1, "ge": 0}[op]
        return (day + datetime.timedelta(days=delta)).isoformat()
    if op == "exists":
        if current is not None:
            return False
        if info and info.type == "bool":
            return True
        return allowed[0] if allowed else False
    if op == "missing":
        return None
    return False


class _Searcher:
    def __init__(self, context: api.Context, facts: FactSet) -> None:
        self.context = context
        self.facts = facts
        self.vocab = vocabulary()

    def fix(self, node: Node, item: Item | None, index: int | None, depth: int = 0) -> list[Change] | None:
        verdict = evaluate_node(node, self.facts, item, index)
        if verdict.truth == Truth.TRUE:
            return []
        if isinstance(node, Lit):
            return self._fix_lit(node, item, index, depth)
        options = [self.fix(child, item, index, depth) for child in node.children]
        if isinstance(node, And):
            changes: list[Change] = []
            for option in options:
                if option is None:
                    return None
                changes.extend(c for c in option if c not in changes)
            names = [name for name, _ in changes]
            return changes if len(names) == len(set(names)) else None
        found = [o for o in options if o is not None]
        return min(found, key=len) if found else None

    def _fix_lit(self, lit: Lit, item: Item | None, index: int | None, depth: int) -> list[Change] | None:
        if lit.derived is not None:
            return self.fix_derived(lit.derived, depth)
        if lit.item_field is not None:
            if item is None or index is None:
                return None
            info = self.vocab.get(lit.fact)
            proposal = _propose(lit, info, item.get(lit.item_field))
            if proposal is False:
                return None
            return [(f"{lit.collection}[{index}].{lit.item_field}", proposal)]
        info = self.vocab.get(lit.fact)
        proposal = _propose(lit, info, self.facts.get(lit.fact))
        if proposal is False:
            return None
        if lit.fact == "clinical.stage_index" and isinstance(proposal, int | float):
            stage = STAGES[max(0, min(len(STAGES) - 1, int(proposal)))]
            return [("clinical.stage", stage)]
        return [(lit.fact, proposal)]

    def fix_derived(self, name: str, depth: int) -> list[Change] | None:
        if depth > 4:
            return None
        best: list[Change] | None = None
        for rule in self.context.pack.active:
            if name not in rule.compiled.derives:
                continue
            changes = self.fix_rule(rule, depth + 1)
            if changes is not None and (best is None or len(changes) < len(best)):
                best = changes
        return best

    def fix_rule(self, rule: LoadedRule, depth: int = 0) -> list[Change] | None:
        shape = rule.compiled.shape
        changes: list[Change] = []
        for name in shape.derived:
            sub = self.fix_derived(name, depth)
            if sub is None:
                return None
            changes.extend(sub)
        if shape.body is None:
            return changes
        if shape.collection is None:
            body = self.fix(shape.body, None, None, depth)
        else:
            items = self.facts.collections.get(shape.collection, ())
            candidates = [self.fix(shape.body, dict(item), i, depth) for i, item in enumerate(items)]
            found = [c for c in candidates if c is not None]
            body = min(found, key=len) if found else None
        return None if body is None else changes + body


def _apply(facts: FactSet, changes: list[Change]) -> FactSet:
    scalars = dict(facts.scalars)
    collections = {k: tuple(dict(i) for i in v) for k, v in facts.collections.items()}
    for name, value in changes:
        if "[" in name:
            collection, rest = name.split("[", 1)
            index_text, field_name = rest.split("].", 1)
            items = [dict(i) for i in collections.get(collection, ())]
            if value is None:
                items[int(index_text)].pop(field_name, None)
            else:
                items[int(index_text)][field_name] = value
            collections[collection] = tuple(items)
        elif value is None:
            scalars.pop(name, None)
        else:
            scalars[name] = value
            if name == "clinical.stage" and isinstance(value, str) and value in STAGES:
                scalars["clinical.stage_index"] = STAGES.index(value)
    return replace(facts, scalars=scalars, collections=collections)


def explain(
    program: ProgramFile, context: api.Context, rule_id: str, options: api.Options | None = None, doc: Document | None = None
) -> Explanation:
    """Explain one rule for one program (``doc``, the parsed file, locates errors in it)."""
    rule = context.pack.resolve(rule_id)
    if rule is None:
        raise UserInputError.single("explain", f"no rule {rule_id}")
    options = options or api.Options()
    result = api.assess(program, context, options, doc)
    as_of = datetime.date.fromisoformat(result.as_of)
    facts = derive_facts(program, as_of)
    spec = rule.spec
    fired_items = [f.item for f in result.audit.fired if f.rule == rule.id]
    if spec.status != "active":
        status = "inactive"
    elif fired_items:
        status = "fired"
    elif rule.id in result.audit.undetermined:
        status = "undetermined"
    else:
        status = "not_fired"
    explanation = Explanation(
        rule=rule.id,
        title=spec.title,
        kind=spec.kind,
        status=status,
        items=fired_items,
        missing=list(result.audit.undetermined_facts.get(rule.id, [])),
        citations=[
            f"{c.id}: {c.title} ({c.issuer}, {c.year}; {c.status}; {c.confidence})"
            for c in (context.kb.citations[c] for c in spec.citations)
        ],
        message=spec.then.message,
    )
    node = to_nnf(spec.when)
    collection = rule.compiled.shape.collection
    items = facts.collections.get(collection, ()) if collection else ()
    if collection and items:
        for index, item in enumerate(items):
            explanation.tree.append(f"item {index} of {collection}:")
            explanation.tree.extend("  " + line for line in _tree(node, facts, item, index))
    else:
        explanation.tree = _tree(node, facts, None, None)
    for name in rule.compiled.shape.derived:
        held = name in result.audit.derived
        explanation.tree.append(f"[{'yes' if held else 'no'}] derived.{name} (derived by another rule this run: {_show(held)})")
    if status in ("not_fired", "undetermined"):
        changes = _Searcher(context, facts).fix_rule(rule)
        if changes:
            explanation.counterfactual = [
                f"{name} = {_show(value)}" if value is not None else f"remove {name}" for name, value in changes
            ]
            changed = _apply(facts, changes)
            run = context.engine.run(context.pack.compiled_active(), changed)
            explanation.counterfactual_checked = any(f.rule == rule.id for f in run.firings)
            if explanation.counterfactual_checked and spec.then.pathway:
                explanation.effect = (
                    f"{spec.then.pathway.id} would become {spec.then.pathway.status} (unless a stronger rule also fires)"
                )
            elif explanation.counterfactual_checked:
                explanation.effect = f"{rule.id} would fire"
    return explanation
