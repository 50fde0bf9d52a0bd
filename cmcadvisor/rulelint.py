"""Checks on the rule pack and the knowledge base: the rules that lint the rules.

The strict check that runs on every load (a dangling citation is an error) is
:func:`cmcadvisor.api.check_references`; :func:`lint` adds the authoring checks of
``cmcadvisor rules lint``: file name equals id, fact vocabulary, operator and value types,
placeholders, derived facts produced and consumed, examples present, stale or draft sources.
It reports; it must not change any file.
"""

from __future__ import annotations

import datetime
import re
import types
import typing
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import PurePath

from pydantic import BaseModel

from cmcadvisor import display
from cmcadvisor.conditions import Lit, literals, misplaced_derived, to_nnf
from cmcadvisor.dates import add_months
from cmcadvisor.facts import FactInfo, vocabulary
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.knowledge import ACTIVITY_IDS, MILESTONE_IDS, Citation, DisplayFile, RiskCategoriesFile
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult
from cmcadvisor.models.rule import LIST_OPS, ORDER_OPS, PATHWAY_IDS, TOPICS, UNARY_OPS, Condition, MakeOrBuyFactorId
from cmcadvisor.registry import LoadedRule, RulePack

CHECK_EVERY_MONTHS = 12  # a source not checked for longer than this is stale
DRAFT_MAX_MONTHS = 12  # a draft issued longer ago than this may have been finalised
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ID_WORD = re.compile(r"(?<![\w.{\[-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)(?![\w}\]-])")


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


@dataclass(frozen=True)
class Attention:
    """Why a source needs looking at now: a short label for tables and the full lint message."""

    reason: str  # stale | old_draft | recheck_due | ended
    label: str
    message: str


def months_between(start: datetime.date, end: datetime.date) -> int:
    """Whole calendar months from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and add_months(start, months) > end:
        months -= 1
    return months


def issued_date(citation: Citation) -> tuple[datetime.date, bool]:
    """The day a source was issued, and whether that day is only known to the year.

    ``issued`` YYYY-MM counts from the first of the month; a bare year (``issued`` YYYY or only
    ``year``) counts from 31 December, so the age stated is never more than the true one.
    """
    text = citation.issued or str(citation.year)
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 1:
        return datetime.date(parts[0], 12, 31), True
    return datetime.date(parts[0], parts[1], parts[2] if len(parts) == 3 else 1), False


def citation_attention(citation: Citation, today: datetime.date) -> list[Attention]:
    """What needs doing about one source as of ``today``: stale, an old draft, a re-check due, ended.

    The one definition of "needs attention", shared by ``rules lint`` and ``knowledge status --due``.
    """
    found: list[Attention] = []
    checked = citation.last_checked
    if today > add_months(checked, CHECK_EVERY_MONTHS):
        days = (today - checked).days
        found.append(
            Attention(
                "stale",
                f"not checked for {months_between(checked, today)} months",
                f"last checked {checked.isoformat()}, {days} days ago (more than {CHECK_EVERY_MONTHS} months): "
                "check the source again and update last_checked",
            )
        )
    if citation.status == "draft":
        issued, year_only = issued_date(citation)
        if today > add_months(issued, DRAFT_MAX_MONTHS):
            months = months_between(issued, today)
            at_least = "at least " if year_only else ""
            when = f"in {citation.issued or citation.year}" if year_only else citation.issued
            found.append(
                Attention(
                    "old_draft",
                    f"draft for {at_least}{months} months",
                    f"draft for {at_least}{months} months (issued {when}): check whether it was finalised",
                )
            )
    if citation.recheck_by is not None and citation.recheck_by < today:
        days = (today - citation.recheck_by).days
        found.append(
            Attention(
                "recheck_due",
                f"re-check was due {citation.recheck_by.isoformat()}",
                f"re-check date {citation.recheck_by.isoformat()} passed {days} days ago: check the source again, "
                "then set a new recheck_by (or remove it once the source is final)",
            )
        )
    if citation.valid_until is not None and citation.valid_until < today:
        found.append(
            Attention(
                "ended",
                f"stopped applying {citation.valid_until.isoformat()}",
                f"stopped applying on {citation.valid_until.isoformat()}; replace it",
            )
        )
    return found


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
    issues.extend(_lint_raw_values(rule, vocab, collections, kb.display or display.builtin()))
    for index, note in enumerate(spec.then.notes):
        issues.extend(lint_applicability(src, f"then.notes[{index}].applies_when", note.applies_when, vocab))
        for placeholder in _PLACEHOLDER.findall(note.text):
            if placeholder.startswith("item.") or placeholder in vocab or placeholder == "program.as_of":
                continue
            err(f"then.notes[{index}].text", f"placeholder {{{placeholder}}} is not a fact")
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


def _enum_ids() -> set[str]:
    """Every enum value of the program model and of the output model (ids a reader must never see)."""
    found: set[str] = set()

    def walk(annotation: object, seen: set[type]) -> None:
        origin = typing.get_origin(annotation)
        if origin is typing.Literal:
            found.update(v for v in typing.get_args(annotation) if isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9_]*", v))
            return
        if origin is not None or isinstance(annotation, types.UnionType):
            for arg in typing.get_args(annotation):
                walk(arg, seen)
            return
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
            seen.add(annotation)
            for info in annotation.model_fields.values():
                walk(info.annotation, seen)

    walk(ProgramFile, set())
    walk(AssessmentResult, set())
    return found


def _lint_raw_values(
    rule: LoadedRule, vocab: dict[str, FactInfo], collections: AbstractSet[str | None], labels: DisplayFile
) -> list[LintIssue]:
    """A message that would print a raw enum id or a fact path instead of its label."""
    issues: list[LintIssue] = []
    spec = rule.spec
    enum_ids = _enum_ids()
    collection = next(iter(collections)) if len(collections) == 1 else None
    for text_field, text in (("then.message", spec.then.message), ("then.title", spec.then.title or "")):
        for placeholder in _PLACEHOLDER.findall(text):
            name = f"{collection}[].{placeholder[5:]}" if placeholder.startswith("item.") and collection else placeholder
            info = vocab.get(name)
            if info is None or info.type not in ("enum", "list"):
                continue
            for value in info.allowed:
                if value not in labels.values and value not in labels.fields.get(name, {}):
                    message = f"placeholder {{{placeholder}}} would print the raw value {value}: add its label to display.yaml"
                    issues.append(LintIssue("error", rule.source, text_field, message))
        for match in re.finditer(r"(US\$\s*|\$)?\{([^{}]*)\}\s*([A-Za-z]+)?", text):
            placeholder = match.group(2)
            name = f"{collection}[].{placeholder[5:]}" if placeholder.startswith("item.") and collection else placeholder
            entry = labels.facts.get(name)
            unit = labels.units.get(entry.unit) if entry is not None and entry.unit else None
            if entry is not None and entry.unit == "usd" and match.group(1):
                message = (
                    f"placeholder {{{placeholder}}} already reads as an amount (US$ 8.0 million); drop the currency before it"
                )
                issues.append(LintIssue("error", rule.source, text_field, message))
            elif unit is not None and unit.singular and match.group(3) in (unit.singular, unit.plural):
                message = f"placeholder {{{placeholder}}} already carries its unit ({unit.plural}); drop the word after it"
                issues.append(LintIssue("error", rule.source, text_field, message))
        bare = _PLACEHOLDER.sub(" ", text)
        for word in sorted({m.group(1) for m in _ID_WORD.finditer(bare)}):
            if word in enum_ids or word in vocab:
                shown = display.fact_label(word, labels) if word in vocab else display.term(word, labels)
                message = f"'{word}' is a raw id; write its label ({shown})"
                issues.append(LintIssue("error", rule.source, text_field, message))
    return issues


def lint_display(labels: DisplayFile, source: str, vocab: dict[str, FactInfo]) -> list[LintIssue]:
    """Every enum value and fact has a label; no label is empty, unknown or ambiguous."""
    issues: list[LintIssue] = []

    def err(location: str, message: str) -> None:
        issues.append(LintIssue("error", source, location, message))

    needed = _enum_ids() | set(MILESTONE_IDS) | set(ACTIVITY_IDS) | set(TOPICS) | set(typing.get_args(MakeOrBuyFactorId))
    needed |= set(PATHWAY_IDS)
    for info in vocab.values():
        needed.update(info.allowed)
    for value in sorted(needed - set(labels.values)):
        err("values", f"no label for {value}")
    for name in sorted(set(vocab) - set(labels.facts)):
        err("facts", f"no label for fact {name}")
    for name in sorted(set(labels.facts) - set(vocab)):
        err(f"facts.{name}", "not a fact of the vocabulary")
    for key, text in sorted(labels.values.items()):
        if not text.strip():
            err(f"values.{key}", "empty label")
    for field, overrides in sorted(labels.fields.items()):
        known = vocab.get(field)
        if known is not None:
            for value in sorted(set(overrides) - set(known.allowed)):
                err(f"fields.{field}", f"{value} is not a value of {field}")
    for name, info in sorted(vocab.items()):
        shown: dict[str, str] = {}
        for value in info.allowed:
            text = labels.fields.get(name, {}).get(value) or labels.values.get(value, value)
            if text in shown:
                err(f"fields.{name}", f"{shown[text]} and {value} both read '{text}'")
            shown.setdefault(text, value)
    by_label: dict[str, str] = {}
    for name, entry in sorted(labels.facts.items()):
        other = by_label.get(entry.label)
        if other is not None and other not in vocab[name].computed_from and name not in vocab[other].computed_from:
            err(f"facts.{name}", f"same label as {other}: '{entry.label}'")
        by_label.setdefault(entry.label, name)
    return issues


def lint_applicability(source: str, location: str, condition: Condition | None, vocab: dict[str, FactInfo]) -> list[LintIssue]:
    """Checks on a knowledge text's ``applies_when``: known program facts, values of the right type.

    It is evaluated against the program alone, so derived facts and list items cannot be tested.
    """
    if condition is None:
        return []
    issues: list[LintIssue] = []
    for lit in literals(to_nnf(condition)):
        if lit.derived is not None or lit.collection is not None:
            issues.append(LintIssue("error", source, location, f"{lit.fact}: only program facts can be tested here"))
            continue
        issues.extend(LintIssue("error", source, location, message) for message in _lint_literal(lit, vocab))
    return issues


def lint_knowledge_texts(
    kb: KnowledgeBase, risk_categories: RiskCategoriesFile | None, risk_source: str, vocab: dict[str, FactInfo]
) -> list[LintIssue]:
    """The applicability conditions of citations and risk-register texts, against the fact vocabulary."""
    issues: list[LintIssue] = []
    for citation in kb.citations.values():
        source = kb.citation_sources.get(citation.id, kb.root)
        issues.extend(lint_applicability(source, f"citation {citation.id}: applies_when", citation.applies_when, vocab))
    for cid, category in (risk_categories.categories if risk_categories else {}).items():
        for name in ("effect", "mitigation", "trigger"):
            text = getattr(category, name)
            for index, part in enumerate(() if isinstance(text, str) else text):
                where = f"categories.{cid}.{name}[{index}].applies_when"
                issues.extend(lint_applicability(risk_source, where, part.applies_when, vocab))
    return issues


def lint(
    pack: RulePack,
    kb: KnowledgeBase,
    *,
    today: datetime.date,
    also_cited: frozenset[str] = frozenset(),
    risk_categories: RiskCategoriesFile | None = None,
    risk_source: str = "knowledge/risk_categories.yaml",
) -> list[LintIssue]:
    """Every check on every rule and knowledge entry; sorted. ``also_cited``: ids other data cites."""
    vocab = vocabulary()
    issues: list[LintIssue] = lint_knowledge_texts(kb, risk_categories, risk_source, vocab)
    labels = kb.display or display.builtin()
    issues.extend(lint_display(labels, f"{kb.root}/display.yaml" if kb.display else "knowledge/display.yaml", vocab))
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
        issues.extend(LintIssue("warning", source, where, a.message) for a in citation_attention(citation, today))
        if citation.valid_until is not None and 0 <= (citation.valid_until - today).days <= 365:
            left = (citation.valid_until - today).days
            message = f"stops applying on {citation.valid_until.isoformat()} ({left} days); plan its successor"
            issues.append(LintIssue("warning", source, where, message))
        if citation.status == "draft" and citation.recheck_by is None:
            message = "is a draft with no re-check date: set recheck_by to when to look again for a final version"
            issues.append(LintIssue("warning", source, where, message))
        if citation.status in ("superseded", "withdrawn") and citation.id in cited:
            issues.append(LintIssue("warning", source, where, f"is {citation.status} but still cited"))
        if citation.kind == "heuristic" and citation.confidence != "unverified":
            issues.append(LintIssue("error", source, where, "a cmcadvisor heuristic can only be 'unverified'"))
        if citation.id not in cited:
            issues.append(LintIssue("warning", source, where, "is cited by no rule or pathway"))
    return sorted(issues, key=lambda i: (i.level != "error", i.source, i.location, i.message))
