"""Why a rule fired, or why it did not, and the smallest change of facts that would fire it.

The condition tree is evaluated literal by literal (three-valued), so the answer shows which
tests held, which failed and which lacked facts. The counterfactual is searched over the
condition itself (an ``all`` needs every failing child fixed, an ``any`` its cheapest child,
a derived fact the cheapest rule that derives it) and then checked by re-running the whole
rule pack on the engine with the changed facts. :func:`rule_state` gives the same answer in
brief for the rules behind a pathway, an activity or make-or-buy. This module returns data; the
CLI prints it.
"""

from __future__ import annotations

import datetime
from dataclasses import replace

from cmcadvisor import api
from cmcadvisor.conditions import And, Lit, Node, to_nnf
from cmcadvisor.errors import UserInputError
from cmcadvisor.explain.models import RuleExplanation, RuleState, RuleStatus
from cmcadvisor.facts import FactInfo, FactSet, Item, Value, vocabulary
from cmcadvisor.loader import Document
from cmcadvisor.models.program import STAGES, ProgramFile
from cmcadvisor.reference_eval import Truth, evaluate_node
from cmcadvisor.registry import LoadedRule

Change = tuple[str, Value | None]  # fact name (item facts as coll[i].field) and new value (None: remove)
_MARK = {Truth.TRUE: "yes", Truth.FALSE: "no", Truth.UNKNOWN: "??"}


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
        now = "not given" if actual is None else f"is {_show(actual)}"
        return [f"{pad}[{mark}] {node.fact} {node.op}{value} ({now})"]
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


def status_of(ev: api.Evaluated, rule: LoadedRule) -> RuleStatus:
    """Whether a rule fired for an evaluated program, did not, was undetermined or is not active."""
    if rule.spec.status != "active":
        return "inactive"
    if rule.id in ev.fired:
        return "fired"
    verdict = ev.verdicts.get(rule.id)
    return "undetermined" if verdict is not None and verdict.truth == Truth.UNKNOWN else "not_fired"


def _counterfactual(ev: api.Evaluated, rule: LoadedRule) -> tuple[list[Change], bool | None]:
    """The smallest change of facts found that would fire the rule, and whether a re-run confirms it."""
    changes = _Searcher(ev.context, ev.facts).fix_rule(rule)
    if not changes:
        return [], None
    run = ev.context.engine.run(ev.pack.compiled_active(), _apply(ev.facts, changes))
    return changes, any(f.rule == rule.id for f in run.firings)


def _changes_text(changes: list[Change]) -> list[str]:
    return [f"{name} = {_show(value)}" if value is not None else f"remove {name}" for name, value in changes]


def rule_state(ev: api.Evaluated, rule: LoadedRule, decides: str | None = None, search: bool = True) -> RuleState:
    """One rule in brief: its status, the facts it waits for and (``search``) a checked change that fires it."""
    status = status_of(ev, rule)
    verdict = ev.verdicts.get(rule.id)
    missing = sorted(verdict.missing) if status == "undetermined" and verdict is not None else []
    would: list[str] = []
    if search and status in ("not_fired", "undetermined"):
        changes, checked = _counterfactual(ev, rule)
        would = _changes_text(changes) if checked else []
    return RuleState(
        rule=rule.id,
        title=rule.spec.title,
        status=status,
        decides=decides,
        missing=missing,
        would_fire_if=would,
        items=sorted({f.item for f in ev.run.firings if f.rule == rule.id}, key=lambda i: -1 if i is None else i),
    )


def explain_rule(ev: api.Evaluated, rule: LoadedRule) -> RuleExplanation:
    """Explain one rule for an evaluated program."""
    spec = rule.spec
    status = status_of(ev, rule)
    facts = ev.facts
    fired_items = [f.item for f in ev.run.firings if f.rule == rule.id]
    verdict = ev.verdicts.get(rule.id)
    tree: list[str] = []
    node = to_nnf(spec.when)
    collection = rule.compiled.shape.collection
    items = facts.collections.get(collection, ()) if collection else ()
    if collection and items:
        for index, item in enumerate(items):
            tree.append(f"item {index} of {collection}:")
            tree.extend("  " + line for line in _tree(node, facts, item, index))
    else:
        tree = _tree(node, facts, None, None)
    derived = set(ev.run.derived)
    for name in rule.compiled.shape.derived:
        held = name in derived
        tree.append(f"[{'yes' if held else 'no'}] derived.{name} (derived by another rule this run: {_show(held)})")
    counterfactual: list[str] = []
    checked: bool | None = None
    effect: str | None = None
    if status in ("not_fired", "undetermined"):
        changes, checked = _counterfactual(ev, rule)
        counterfactual = _changes_text(changes)
        if checked and spec.then.pathway:
            effect = f"{spec.then.pathway.id} would become {spec.then.pathway.status} (unless a stronger rule also fires)"
        elif checked:
            effect = f"{rule.id} would fire"
    return RuleExplanation(
        rule=rule.id,
        title=spec.title,
        kind=spec.kind,
        status=status,
        items=fired_items,
        tree=tree,
        missing=sorted(verdict.missing) if status == "undetermined" and verdict is not None else [],
        counterfactual=counterfactual,
        counterfactual_checked=checked,
        effect=effect,
        citations=[
            f"{c.id}: {c.title} ({c.issuer}, {c.year}; {c.status}; {c.confidence})"
            for c in (ev.kb.citations[c] for c in spec.citations)
        ],
        message=spec.then.message,
        effects=effects_of(rule),
    )


def effects_of(rule: LoadedRule) -> list[str]:
    """What the rule does when it fires, beyond its finding: derived facts, a pathway status, a vote, timeline steps."""
    then = rule.spec.then
    out = [f"derives {name}" for name in then.derive]
    if then.pathway is not None:
        out.append(f"sets {then.pathway.id} to {then.pathway.status}")
    if then.make_or_buy is not None:
        vote = then.make_or_buy
        out.append(f"votes {vote.favours} with strength {vote.strength} on the make-or-buy consideration {vote.factor}")
    if then.requires:
        out.append(f"puts on the timeline: {', '.join(then.requires)}")
    if then.before:
        out.append(f"which must finish before: {', '.join(then.before)}")
    return out


def explain(
    program: ProgramFile, context: api.Context, rule_id: str, options: api.Options | None = None, doc: Document | None = None
) -> RuleExplanation:
    """Explain one rule for one program (``doc``, the parsed file, locates errors in it)."""
    rule = context.pack.resolve(rule_id)
    if rule is None:
        raise UserInputError.single("explain", f"no rule {rule_id}")
    return explain_rule(api.evaluate(program, context, options or api.Options(), doc), rule)
