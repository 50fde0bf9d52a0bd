"""Checks on the rule pack and the knowledge base: the rules that lint the rules.

:func:`check_references` is strict and runs on every load (a dangling citation is an error);
:func:`lint` adds the authoring checks of ``cmcadvisor rules lint``: file name equals id, fact
vocabulary, operator and value types, placeholders, derived facts produced and consumed,
examples present, stale or draft sources. It reports; it must not change any file.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import PurePath

from cmcadvisor.conditions import Lit, literals, misplaced_derived, to_nnf
from cmcadvisor.errors import ErrorItem, RuleFileError
from cmcadvisor.facts import FactInfo, vocabulary
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import MILESTONE_IDS
from cmcadvisor.models.rule import LIST_OPS, ORDER_OPS, TOPICS, UNARY_OPS
from cmcadvisor.registry import LoadedRule, RulePack

REVIEW_MAX_AGE_DAYS = 365
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class LintIssue:
    """One lint finding; errors fail ``rules lint``, warnings are shown."""

    level: str  # error | warning
    source: str
    location: str
    message: str

    def format(self) -> str:
        """``level: file: location: message``."""
        return (
            f"{self.level}: {self.source}: {self.location}: {self.message}"
            if self.location
            else f"{self.level}: {self.source}: {self.message}"
        )


def check_references(pack: RulePack, kb: KnowledgeBase) -> None:
    """Refuse rules that cite unknown knowledge ids."""
    problems = [
        ErrorItem(rule.source, None, "citations", f"unknown citation {cid} (not in the knowledge base)")
        for rule in pack.rules
        for cid in rule.spec.citations
        if cid not in kb.citations
    ]
    if problems:
        raise RuleFileError(problems)


def _value_fits(info: FactInfo, value: object) -> bool:
    kind = info.type
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    if kind in ("enum", "list"):
        return isinstance(value, str) and (not info.allowed or value in info.allowed)
    return isinstance(value, str)


def _lint_literal(lit: Lit, vocab: dict[str, FactInfo]) -> list[str]:
    if lit.derived is not None:
        return []
    info = vocab.get(lit.fact)
    if info is None:
        return [f"unknown fact {lit.fact}"]
    if info.type == "collection":
        return [f"{lit.fact} is a collection; test its items with {lit.fact}[].<field>"]
    op, value = lit.op, lit.value  # the value's shape per operator is checked when the rule loads
    if op in UNARY_OPS:
        return []
    if info.type == "list":
        if op not in ("contains", "not_contains"):
            return [f"{lit.fact} is a list; use contains or not_contains"]
    elif op in ("contains", "not_contains"):
        return [f"{op} needs a list fact; {lit.fact} is {info.type}"]
    if op in LIST_OPS:
        values = value if isinstance(value, tuple) else (value,)
        return [
            f"value {v!r} does not fit {lit.fact} ({info.type}{': ' + ', '.join(info.allowed) if info.allowed else ''})"
            for v in values
            if not _value_fits(info, v)
        ]
    if op in ORDER_OPS and info.type in ("bool", "enum", "str"):
        return [f"{op} cannot order {info.type} fact {lit.fact}"]
    if not _value_fits(info, value):
        return [f"value {value!r} does not fit {lit.fact} ({info.type}{': ' + ', '.join(info.allowed) if info.allowed else ''})"]
    return []


def lint_rule(rule: LoadedRule, kb: KnowledgeBase, vocab: dict[str, FactInfo]) -> list[LintIssue]:
    """Authoring checks on one rule."""
    spec, src = rule.spec, rule.source
    issues: list[LintIssue] = []

    def err(location: str, message: str) -> None:
        issues.append(LintIssue("error", src, location, message))

    if PurePath(src).stem != spec.id:
        err("id", f"file name must equal the id ({spec.id}.yaml)")
    for topic in spec.topics:
        if topic not in TOPICS:
            err("topics", f"unknown topic {topic}")
    for cid in spec.citations:
        if cid not in kb.citations:
            err("citations", f"unknown citation {cid}")
    lits = literals(to_nnf(spec.when))
    for lit in lits:
        for message in _lint_literal(lit, vocab):
            err("when", message)
    for name in misplaced_derived(spec.when):
        err("when", f"{name} may only be tested as 'eq true' in the top-level all")
    collections = {lit.collection for lit in lits if lit.collection}
    if len(collections) > 1:
        err("when", f"a rule may test one collection; found {', '.join(sorted(collections))}")
    tested = {lit.fact for lit in lits}
    tested |= {source for name in list(tested) if name in vocab for source in vocab[name].computed_from}
    for text_field, text in (("then.message", spec.then.message), ("then.title", spec.then.title or "")):
        for placeholder in _PLACEHOLDER.findall(text):
            if placeholder.startswith("item."):
                if not collections or f"{next(iter(collections))}[].{placeholder[5:]}" not in vocab:
                    err(text_field, f"placeholder {{{placeholder}}} is not a field of the tested collection")
            elif placeholder not in vocab and placeholder not in ("program.as_of",):
                err(text_field, f"placeholder {{{placeholder}}} is not a fact")
            elif placeholder not in tested and not placeholder.startswith("program."):
                issues.append(
                    LintIssue(
                        "warning",
                        src,
                        text_field,
                        f"placeholder {{{placeholder}}} is not tested by the rule; it may read (not given)",
                    )
                )
    if spec.kind == "pathway" and spec.then.pathway is None:
        err("then.pathway", "a pathway rule must set then.pathway")
    if spec.kind != "pathway" and spec.then.pathway is not None:
        err("kind", "only kind: pathway rules may set then.pathway")
    if (spec.kind == "factor") != (spec.then.make_or_buy is not None):
        err("then.make_or_buy", "kind: factor rules, and only they, set then.make_or_buy")
    if spec.kind == "schedule" and not spec.then.requires:
        err("then.requires", "a schedule rule must require at least one timeline activity")
    for activity in spec.then.requires:
        if activity not in kb.activities:
            err("then.requires", f"unknown timeline activity {activity}")
    for milestone in spec.then.before:
        if milestone not in MILESTONE_IDS:
            err("then.before", f"unknown milestone {milestone}")
    if spec.kind == "derivation" and not spec.then.derive:
        err("then.derive", "a derivation rule must derive at least one fact")
    kinds = {kb.citations[c].kind for c in spec.citations if c in kb.citations}
    if kinds == {"heuristic"}:
        issues.append(
            LintIssue("warning", src, "citations", "rests only on cmcadvisor planning heuristics; find a published source")
        )
    expects = {example.expect for example in spec.examples}
    for needed in ("fires", "silent"):
        if needed not in expects:
            err("examples", f"needs at least one '{needed}' example")
    if len(lits) > 30:
        err("when", "more than 30 tests in one rule (durable-rules allows 32 per rule)")
    return issues


def lint(pack: RulePack, kb: KnowledgeBase, *, today: datetime.date, also_cited: frozenset[str] = frozenset()) -> list[LintIssue]:
    """Every check on every rule and knowledge entry; sorted. ``also_cited``: ids other data cites."""
    vocab = vocabulary()
    issues: list[LintIssue] = []
    for rule in pack.rules:
        issues.extend(lint_rule(rule, kb, vocab))
    produced = {name for rule in pack.active for name in rule.compiled.derives}
    consumed = {name for rule in pack.active for name in rule.compiled.shape.derived}
    for rule in pack.active:
        for name in rule.compiled.derives:
            if name not in consumed:
                issues.append(
                    LintIssue("error", rule.source, "then.derive", f"derived fact {name} is consumed by no active rule")
                )
        for name in rule.compiled.shape.derived:
            if name not in produced:
                issues.append(LintIssue("error", rule.source, "when", f"derived.{name} is derived by no active rule"))
    cited = {cid for rule in pack.rules for cid in rule.spec.citations} | {c for p in kb.pathways.values() for c in p.citations}
    cited |= {c for a in kb.activities.values() for c in a.citations} | set(kb.review.citations) | also_cited
    for citation in kb.citations.values():
        source = kb.citation_sources.get(citation.id, kb.root)
        where = f"citation {citation.id}"
        age = (today - citation.reviewed_on).days
        if age > REVIEW_MAX_AGE_DAYS:
            issues.append(
                LintIssue(
                    "warning", source, where, f"last reviewed {citation.reviewed_on.isoformat()} ({age} days ago); review it"
                )
            )
        if citation.valid_until is not None:
            left = (citation.valid_until - today).days
            if left < 0:
                issues.append(
                    LintIssue("warning", source, where, f"stopped applying on {citation.valid_until.isoformat()}; replace it")
                )
            elif left <= 365:
                issues.append(
                    LintIssue(
                        "warning",
                        source,
                        where,
                        f"stops applying on {citation.valid_until.isoformat()} ({left} days); plan its successor",
                    )
                )
        if citation.status == "draft":
            issues.append(
                LintIssue(
                    "warning",
                    source,
                    where,
                    f"is a draft ({citation.issued or citation.year}); check whether it has been finalised",
                )
            )
        if citation.status in ("superseded", "withdrawn") and citation.id in cited:
            issues.append(LintIssue("warning", source, where, f"is {citation.status} but still cited"))
        if citation.kind == "heuristic" and citation.confidence != "unverified":
            issues.append(LintIssue("error", source, where, "a cmcadvisor heuristic can only be 'unverified'"))
        if citation.id not in cited:
            issues.append(LintIssue("warning", source, where, "is cited by no rule or pathway"))
    return sorted(issues, key=lambda i: (i.level != "error", i.source, i.location, i.message))
