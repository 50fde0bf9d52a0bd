"""Documentation pages for rules, generated from the rule files (``cmcadvisor rules docs``).

One Markdown page per rule (condition in prose, rationale, sources resolved from the knowledge
base, examples) and an index. The text comes only from the rule and knowledge files.
"""

from __future__ import annotations

from cmcadvisor.conditions import And, Lit, Node, to_nnf
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.registry import LoadedRule, RulePack
from cmcadvisor.render.templating import render_template

_OP_TEXT = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "lt": "is less than",
    "le": "is at most",
    "gt": "is more than",
    "ge": "is at least",
    "exists": "is given",
    "missing": "is not given",
    "contains": "includes",
    "not_contains": "does not include",
}


def _value(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def describe(node: Node, depth: int = 0) -> list[str]:
    """The condition as nested Markdown bullets."""
    pad = "  " * depth
    if isinstance(node, Lit):
        tail = f" {_value(node.value)}" if node.op not in ("exists", "missing") else ""
        return [f"{pad}- {node.fact} {_OP_TEXT[node.op]}{tail}"]
    head = "all of:" if isinstance(node, And) else "any of:"
    lines = [f"{pad}- {head}"]
    for child in node.children:
        lines.extend(describe(child, depth + 1))
    return lines


def rule_page(rule: LoadedRule, kb: KnowledgeBase) -> str:
    """The Markdown page of one rule."""
    return render_template(
        "rule_doc.md.j2",
        rule=rule.spec,
        source=rule.source,
        condition=describe(to_nnf(rule.spec.when)),
        notes=[(n.text, describe(to_nnf(n.applies_when)) if n.applies_when else []) for n in rule.spec.then.notes],
        citations=[kb.citations[c] for c in rule.spec.citations if c in kb.citations],
    )


def rule_pages(pack: RulePack, kb: KnowledgeBase) -> dict[str, str]:
    """File name to content, for every rule and the index."""
    pages = {f"{rule.id}.md": rule_page(rule, kb) for rule in pack.rules}
    pages["index.md"] = render_template("rules_index.md.j2", rules=[rule.spec for rule in pack.rules])
    return pages
