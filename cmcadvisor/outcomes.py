"""From firings and verdicts to findings, pathway statuses and questions.

Fills message placeholders from facts (never with ``str.format``: only ``{fact.name}`` and
``{item.field}`` lookups, each value through the display vocabulary), resolves citations,
applies waivers, decides each pathway's status by precedence, and ranks missing facts by how
many undetermined results each would settle. Output is sorted and numbered deterministically.
It must not run the engine or lay out output for a format (that is the renderers' job).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from cmcadvisor import display
from cmcadvisor.conditions import ITEM_MARK, Firing
from cmcadvisor.facts import FactSet, Item, Value, vocabulary
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.memo import remember
from cmcadvisor.models.knowledge import Citation, DisplayFile
from cmcadvisor.models.program import ProgramFile, Waiver
from cmcadvisor.models.result import (
    CitationRef,
    DueRef,
    FindingResult,
    PathwayResult,
    Question,
    WaiverRef,
    findings_from_dicts,
    questions_from_dicts,
)
from cmcadvisor.models.rule import FINDING_KINDS, PATHWAY_IDS, SEVERITY_RANK, Condition, TextPart
from cmcadvisor.reference_eval import FALSE, Truth, Verdict, ruled_out
from cmcadvisor.registry import LoadedRule, RulePack

PATHWAY_PRECEDENCE = ("granted", "not_applicable", "not_eligible", "eligible")
_PLACEHOLDER = re.compile(r"\{([a-z0-9_.\[\]]+)\}")
_ENUM_LIST = re.compile(r"\s*\(([a-z0-9_]+(?:, [a-z0-9_]+)+)\)")  # "(none, in_development, ...)" in a question
_UNKNOWN = Truth.UNKNOWN  # read once: an enum member read off its class costs much more than a global


@dataclass(frozen=True)
class Outcomes:
    """Everything derived from one evaluation, ready to assemble into the result."""

    pathways: list[PathwayResult]
    findings: list[FindingResult]
    questions: list[Question]
    waived: list[str]
    waivers_unused: list[str]
    excluded_citations: frozenset[str] = frozenset()  # citations the program's facts rule out


def _item_label(item: Item | None) -> str:
    """For a finding about one item of a list, which item (so two findings never read the same)."""
    if item is None:
        return ""
    label = item.get("name") or item.get("description")
    if not isinstance(label, str) or not label.strip():
        return ""
    return f" ({display.shorten(label, 60)})"


@dataclass(frozen=True)
class _Template:
    """A message template split once at its placeholders (the same pieces ``_PLACEHOLDER.sub`` sees).

    ``head`` is the text before the first placeholder; ``tail`` holds each placeholder's name,
    its item field (``item.x`` -> ``x``, else None) and the text after it. ``constant`` is the
    filled text of a template without placeholders, which no program can change.
    """

    text: str
    head: str
    tail: tuple[tuple[str, str | None, str], ...]
    constant: str | None


@functools.lru_cache(maxsize=4096)  # keyed on the template text; a few hundred per rule pack
def _template(text: str) -> _Template:
    pieces = _PLACEHOLDER.split(text)  # [text, name, text, name, ..., text]
    tail = tuple(
        (name, name[5:] if name.startswith("item.") else None, after)
        for name, after in zip(pieces[1::2], pieces[2::2], strict=True)
    )
    return _Template(text, pieces[0], tail, None if tail else " ".join(text.split()))


_FILLED_KEPT = 8192  # filled texts kept per rule pack and knowledge base (a few MB at most)


def _fill(
    template: _Template,
    facts: FactSet,
    item: Item | None,
    collection: str | None,
    vocab: DisplayFile | None,
    filled: dict[tuple[object, ...], str] | None = None,
) -> str:
    """:func:`fill_message` of a parsed template.

    ``filled`` keeps texts already made with the same vocabulary: the text depends only on the
    template, the collection and the values filled in (their types too: ``True`` labels "yes",
    ``1`` labels "1", and they are equal keys), and those repeat from program to program.
    """
    if template.constant is not None:
        return template.constant
    values = [
        item.get(item_field) if item_field is not None and item is not None else facts.get(name)
        for name, item_field, _ in template.tail
    ]
    key: tuple[object, ...] = ()
    if filled is not None:
        key = (template.text, collection, item is None, *values, *map(type, values))
        found = filled.get(key)
        if found is not None:
            return found
    out = [template.head]
    for (name, item_field, after), value in zip(template.tail, values, strict=True):
        if value is None:
            out.append("(not given)")
        else:
            if item_field is not None and item is not None:
                path = f"{collection}[].{item_field}" if collection else item_field
            else:
                path = name
            out.append(display.label(path, value, vocab))
        out.append(after)
    text = " ".join("".join(out).split())
    if filled is not None:
        remember(filled, key, text, _FILLED_KEPT)
    return text


def fill_message(
    template: str,
    facts: FactSet,
    item: Item | None,
    collection: str | None = None,
    vocab: DisplayFile | None = None,
) -> str:
    """Replace ``{fact.name}`` and ``{item.field}`` with their human labels; unknown ones read ``(not given)``.

    Every value goes through the display vocabulary (``series_a`` -> "Series A", 8000000 on a
    dollar fact -> "US$ 8.0 million"); ``collection`` names the list an ``{item.field}`` belongs to.
    """
    return _fill(_template(template), facts, item, collection, vocab)


def _notes(notes: list[TextPart]) -> tuple[tuple[Condition | None, _Template], ...]:
    """A rule's ``then.notes``, each with its ``applies_when`` and its parsed text."""
    return tuple((note.applies_when, _template(note.text)) for note in notes)


def rule_message(
    rule: LoadedRule,
    facts: FactSet,
    item: Item | None,
    collection: str | None = None,
    vocab: DisplayFile | None = None,
) -> str:
    """A rule's message filled for one program, with the ``then.notes`` its facts do not rule out."""
    then = rule.spec.then
    return _message(_template(then.message), _notes(then.notes), facts, item, collection, vocab)


def _message(
    message: _Template,
    notes: tuple[tuple[Condition | None, _Template], ...],
    facts: FactSet,
    item: Item | None,
    collection: str | None,
    vocab: DisplayFile | None,
    filled: dict[tuple[object, ...], str] | None = None,
) -> str:
    """:func:`rule_message` of a rule's parsed message and notes (each with its ``applies_when``).

    ``filled`` keeps the texts already filled for this vocabulary (see :func:`_fill`).
    """
    text = _fill(message, facts, item, collection, vocab, filled)
    if not notes:
        return text
    kept = [_fill(note, facts, item, collection, vocab, filled) for when, note in notes if not ruled_out(when, facts)]
    return " ".join([text, *kept]) if kept else text


@functools.lru_cache(maxsize=4096)  # keyed on a rule's tested fact names; one entry per rule shape
def _fact_plan(names: tuple[str, ...]) -> tuple[tuple[tuple[str, str | None], ...], bool]:
    """Each tested fact with its item field (``c[].f`` -> ``f``, else None); whether any is an item fact."""
    plan = tuple((name, name.split(ITEM_MARK, 1)[1] if ITEM_MARK in name else None) for name in names)
    return plan, any(field_name is not None for _, field_name in plan)


def matched_facts(rule: LoadedRule, facts: FactSet, item_index: int | None) -> dict[str, Value | list[str]]:
    """The present facts a rule tests, with item facts named by their index."""
    shape = rule.compiled.shape
    plan, has_items = _fact_plan(shape.facts)
    return _matched(plan, has_items, shape.collection, facts, item_index)


def _matched(
    plan: tuple[tuple[str, str | None], ...],
    has_items: bool,
    collection: str | None,
    facts: FactSet,
    item_index: int | None,
) -> dict[str, Value | list[str]]:
    """:func:`matched_facts` of a rule's :func:`_fact_plan` and collection."""
    scalars, lists = facts.scalars, facts.lists  # FactSet.get, inlined: their names never overlap
    out: dict[str, Value | list[str]] = {}
    if not has_items:  # most rules: shape.facts is sorted, so the names come out in order
        for name, _ in plan:
            value = scalars.get(name)
            if value is not None:
                out[name] = value
            elif name in lists:
                out[name] = list(lists[name])
        return out
    items = facts.collections.get(collection, ()) if collection else ()
    item = items[item_index] if item_index is not None and item_index < len(items) else None
    for name, field_name in plan:
        if field_name is not None:
            if item is not None and field_name in item:
                out[name.replace("[]", f"[{item_index}]")] = item[field_name]
        else:
            value = scalars.get(name)
            if value is not None:
                out[name] = value
            elif name in lists:
                out[name] = list(lists[name])
    return dict(sorted(out.items()))


_CITATION_REFS: dict[tuple[str, str], CitationRef] = {}


def citation_ref(c: Citation) -> CitationRef:
    """A knowledge-base citation as the output contract shows it."""
    return CitationRef(
        id=c.id,
        title=c.title,
        issuer=c.issuer,
        year=c.year,
        section=c.section,
        status=c.status,
        confidence=c.confidence,
        url=c.url,
    )


def cite(kb: KnowledgeBase, ids: Sequence[str]) -> list[CitationRef]:
    """Resolve citation ids (references are checked at load time); refs are frozen, so shared."""
    refs = []
    for cid in ids:
        key = (kb.sha256, cid)
        cached = _CITATION_REFS.get(key)
        if cached is not None:
            refs.append(cached)
            continue
        ref = citation_ref(kb.citations[cid])
        _CITATION_REFS[key] = ref
        refs.append(ref)
    return refs


_CONDITIONAL: dict[str, tuple[tuple[str, Any], ...]] = {}


def excluded_citations(kb: KnowledgeBase, facts: FactSet) -> frozenset[str]:
    """The citations whose ``applies_when`` the program's facts make false (e.g. 21 CFR 1271 for an AAV vector)."""
    conditional = _CONDITIONAL.get(kb.sha256)
    if conditional is None:
        found = tuple((cid, c.applies_when) for cid, c in kb.citations.items() if c.applies_when is not None)
        conditional = remember(_CONDITIONAL, kb.sha256, found, 8)  # a few knowledge bases per process at most
    return frozenset(cid for cid, condition in conditional if ruled_out(condition, facts))


def _kept(citations: list[Any], excluded: AbstractSet[str]) -> list[Any]:
    """Citations (ids or refs) without the excluded ones; the same list when none is excluded."""
    if not excluded:
        return citations
    kept = [c for c in citations if (c if isinstance(c, str) else c.id) not in excluded]
    return kept if len(kept) != len(citations) else citations


def _waiver_index(program: ProgramFile, pack: RulePack, as_of: datetime.date) -> dict[str, tuple[Waiver, bool, str | None]]:
    index: dict[str, tuple[Waiver, bool, str | None]] = {}
    for waiver in program.waivers or []:
        rule = pack.resolve(waiver.rule)
        if rule is None:
            continue  # refused earlier by check_waivers
        honoured, reason = True, None
        if waiver.expires < as_of:
            honoured, reason = False, f"waiver expired on {waiver.expires.isoformat()}"
        elif waiver.approved_on > as_of:
            honoured, reason = False, f"waiver is approved only from {waiver.approved_on.isoformat()}"
        index[rule.id] = (waiver, honoured, reason)
    return index


@dataclass(frozen=True)
class _Static:
    """What a finding rule's findings take from the rule alone (shared, never mutated).

    Its templates are parsed once; only the facts filled into them change from program to program.
    """

    rule: LoadedRule
    # the spec's fields a finding shows, read here once rather than off the spec for every firing
    id: str
    kind: str
    severity: str
    rank: int  # SEVERITY_RANK of the rule's severity: findings sort by it first
    confidence: str
    unsettled: str | None
    collection: str | None
    fact_plan: tuple[tuple[tuple[str, str | None], ...], bool]  # _fact_plan of the facts it tests
    title: _Template
    message: _Template
    notes: tuple[tuple[Condition | None, _Template], ...]  # then.notes, each with its applies_when
    topics: list[str]
    citations: list[CitationRef]
    citation_ids: frozenset[str]
    due: DueRef
    requires: list[str]
    before: list[str]
    undetermined_title: str


@dataclass(frozen=True)
class _PathwayRule:
    """What a pathway rule brings to its pathway's row, read off the rule once per pack."""

    id: str
    message: _Template  # the rationale, with the notes below
    notes: tuple[tuple[Condition | None, _Template], ...]  # then.notes, each with its applies_when
    status: str  # then.pathway.status
    rank: int  # the status's place in PATHWAY_PRECEDENCE: the lowest among the fired rules decides
    next_step: str | None
    citations: tuple[str, ...]
    unsettled: str | None
    title: str


@dataclass(frozen=True)
class _Pathway:
    """One pathway of the contract with its active rules (pack) and its name and citations (knowledge base)."""

    id: str
    region: str
    name: str
    rules: tuple[_PathwayRule, ...]
    citations: tuple[str, ...]  # the knowledge base's own, shown while it cannot be decided


def _pathways(pack: RulePack, kb: KnowledgeBase) -> tuple[_Pathway, ...]:
    """Every pathway of the contract with what its rows are decided from (built once per pack and knowledge base)."""
    found = []
    for pathway_id in PATHWAY_IDS:
        rules = []
        for rule in pack.pathway_rules.get(pathway_id, ()):
            outcome = rule.spec.then.pathway
            if outcome is None:  # never: pathway_rules holds only rules that set a pathway
                continue
            rules.append(
                _PathwayRule(
                    id=rule.id,
                    message=_template(rule.spec.then.message),
                    notes=_notes(rule.spec.then.notes),
                    status=outcome.status,
                    rank=PATHWAY_PRECEDENCE.index(outcome.status),
                    next_step=outcome.next_step,
                    citations=tuple(rule.spec.citations),
                    unsettled=rule.spec.unsettled,
                    title=rule.spec.title,
                )
            )
        known = kb.pathways.get(pathway_id)
        found.append(
            _Pathway(
                id=pathway_id,
                region=pathway_id.split(".", 1)[0],
                name=known.name if known else pathway_id,
                rules=tuple(rules),
                citations=tuple(known.citations) if known else (),
            )
        )
    return tuple(found)


@dataclass(frozen=True)
class _PackFindings:
    """What findings and pathway rows reuse from program to program, for one rule pack and knowledge base."""

    statics: dict[str, _Static]  # per finding rule, in the pack's order
    pathways: tuple[_Pathway, ...]  # per pathway of the contract, in PATHWAY_IDS order
    # An undetermined rule's finding depends only on the rule and its missing facts, which repeat
    # from program to program: validated ones are kept (a bounded number), numbered F-0000.
    undetermined: dict[tuple[str, frozenset[str]], dict[str, Any]] = field(default_factory=dict)
    filled: dict[tuple[object, ...], str] = field(default_factory=dict)  # see _fill


_PACKS: dict[tuple[str, str], _PackFindings] = {}
_NO_DUE = DueRef()
_UNDETERMINED_KEPT = 2048  # a few MB at most: memory never grows with the number of programs


def _pack_findings(pack: RulePack, kb: KnowledgeBase) -> _PackFindings:
    """The reusable parts of findings and pathway rows for a pack and knowledge base (built once per pair)."""
    key = (pack.sha256, kb.sha256)
    found = _PACKS.get(key)
    if found is None:
        statics = {}
        for rule in pack.active:
            spec = rule.spec
            if spec.kind not in FINDING_KINDS:
                continue
            then = spec.then
            statics[spec.id] = _Static(
                rule=rule,
                id=spec.id,
                kind=spec.kind,
                severity=spec.severity,
                rank=SEVERITY_RANK[spec.severity],
                confidence=spec.confidence,
                unsettled=spec.unsettled,
                collection=rule.compiled.shape.collection,
                fact_plan=_fact_plan(rule.compiled.shape.facts),
                title=_template(then.title or spec.title),
                message=_template(then.message),
                notes=_notes(then.notes),
                topics=list(spec.topics),
                citations=cite(kb, spec.citations),
                citation_ids=frozenset(spec.citations),
                due=DueRef(stage=then.due.stage) if then.due else _NO_DUE,
                requires=list(then.requires),
                before=list(then.before),
                undetermined_title=f"Not yet decidable: {spec.title}",
            )
        found = remember(_PACKS, key, _PackFindings(statics, _pathways(pack, kb)), 8)  # a few packs per process at most
    return found


def _undetermined(plan: _PackFindings, rule: LoadedRule, missing: frozenset[str]) -> dict[str, Any]:
    """The finding of an undetermined rule, unnumbered (shared: the caller copies it)."""
    found = plan.undetermined.get((rule.id, missing))
    if found is None:
        static = plan.statics[rule.id]
        names = sorted(missing)
        found = {
            "rule": rule.id,
            "kind": "undetermined",
            "severity": "info",
            "title": static.undetermined_title,
            "detail": "This rule could not be evaluated because these facts are missing: "
            + ", ".join(names)
            + ". Answer the questions below to settle it.",
            "topics": static.topics,
            "due": _NO_DUE,
            "status": "open",
            "citations": static.citations,
            "facts": {},
            "confidence": rule.spec.confidence,
            "unsettled": rule.spec.unsettled,
            "missing_facts": names,
        }
        remember(plan.undetermined, (rule.id, missing), found, _UNDETERMINED_KEPT)
    return found


def _kept_refs(static: _Static, excluded: AbstractSet[str]) -> list[CitationRef]:
    """The rule's citation refs without the excluded ones (its shared list when none is excluded)."""
    if not excluded or static.citation_ids.isdisjoint(excluded):
        return static.citations
    return _kept(static.citations, excluded)


def build_findings(
    pack: RulePack,
    kb: KnowledgeBase,
    facts: FactSet,
    firings: Sequence[Firing],
    verdicts: Mapping[str, Verdict],
    program: ProgramFile,
    as_of: datetime.date,
    excluded: AbstractSet[str] = frozenset(),
) -> tuple[list[FindingResult], list[str], list[str]]:
    """Findings for every firing of a finding rule and every undetermined rule; waivers applied.

    Citations in ``excluded`` (ruled out by the program's facts) are not shown with a finding.
    """
    waivers = _waiver_index(program, pack, as_of) if program.waivers else {}
    plan = _pack_findings(pack, kb)
    statics = plan.statics
    vocab, filled = kb.display, plan.filled
    used: set[str] = set()
    # (sort key, finding body, whether the body is shared and must be copied before numbering)
    drafts: list[tuple[tuple[int, str, int], dict[str, Any], bool]] = []
    seen: set[tuple[str, int | None]] = set()  # (rule, item) names a firing: a pack holds one version of a rule
    for firing in firings:  # the drafts are sorted below
        static = statics.get(firing.rule)
        if static is None or (firing.rule, firing.item) in seen:
            continue
        seen.add((firing.rule, firing.item))
        rule_id = static.id
        collection = static.collection
        item = facts.collections[collection][firing.item] if collection and firing.item is not None else None
        status = "open"
        waiver_ref = None
        if rule_id in waivers:
            waiver, honoured, reason = waivers[rule_id]
            used.add(rule_id)
            status = "waived" if honoured else "open"
            waiver_ref = WaiverRef(
                approved_by=waiver.approved_by,
                approved_on=waiver.approved_on.isoformat(),
                expires=waiver.expires.isoformat(),
                justification=waiver.justification,
                honoured=honoured,
                reason=reason,
            )
        detail = _message(static.message, static.notes, facts, item, collection, vocab, filled)
        drafts.append(
            (
                (static.rank, rule_id, -1 if firing.item is None else firing.item),
                {
                    "rule": rule_id,
                    "kind": static.kind,
                    "severity": static.severity,
                    "title": _fill(static.title, facts, item, collection, vocab, filled) + _item_label(item),
                    "detail": detail,
                    "topics": static.topics,
                    "due": static.due,
                    "status": status,
                    "citations": _kept_refs(static, excluded),
                    "facts": _matched(*static.fact_plan, collection, facts, firing.item),
                    "confidence": static.confidence,
                    "unsettled": static.unsettled,
                    "requires": static.requires,
                    "before": static.before,
                    "waiver": waiver_ref,
                },
                False,
            )
        )
    undetermined_rank = SEVERITY_RANK["info"] + 1
    for rule_id, verdict in verdicts.items():
        if verdict.truth != _UNKNOWN:
            continue
        static = statics.get(rule_id)
        if static is None:
            continue
        body = _undetermined(plan, static.rule, verdict.missing)
        drafts.append(((undetermined_rank, rule_id, -1), body, True))
    drafts.sort(key=lambda d: d[0])  # the keys are unique: (severity, rule, item)
    bodies = []
    for n, (_, body, shared) in enumerate(drafts, 1):
        if shared:
            body = {**body, "citations": _kept(body["citations"], excluded)}
        body["id"] = f"F-{n:04d}"
        bodies.append(body)
    findings = findings_from_dicts(bodies)
    waived = sorted(f.rule for f in findings if f.status == "waived")
    unused = sorted(rule_id for rule_id in waivers if rule_id not in used)
    return findings, waived, unused


@functools.cache
def _pathway_list() -> TypeAdapter[list[PathwayResult]]:
    """Validates a program's pathway rows in one call (built at first use, not at import)."""
    return TypeAdapter(list[PathwayResult])


def build_pathways(
    pack: RulePack,
    kb: KnowledgeBase,
    facts: FactSet,
    firings: Sequence[Firing],
    verdicts: Mapping[str, Verdict],
    excluded: AbstractSet[str] = frozenset(),
) -> list[PathwayResult]:
    """One entry per pathway of the program's regions (US always), decided by precedence.

    Every row has a next step: the deciding rule's, else the pathway's ``undetermined_step``.
    """
    regions = set(facts.lists.get("program.regions", ())) | {"us"}
    fired_ids = {f.rule for f in firings}
    plan = _pack_findings(pack, kb)
    filled = plan.filled
    results: list[dict[str, Any]] = []  # validated together at the end
    for pathway in plan.pathways:
        if pathway.region not in regions:
            continue
        rules = pathway.rules
        decided = [r for r in rules if r.id in fired_ids]
        if decided:
            status = PATHWAY_PRECEDENCE[min(r.rank for r in decided)]
            chosen = [r for r in decided if r.status == status]
            results.append(
                {
                    "id": pathway.id,
                    "name": pathway.name,
                    "status": status,
                    "rationale": " ".join(_message(r.message, r.notes, facts, None, None, kb.display, filled) for r in chosen),
                    "rules": [r.id for r in chosen],
                    "citations": sorted({c for r in chosen for c in r.citations}.difference(excluded)),
                    "next_step": next((r.next_step for r in chosen if r.next_step), None),
                    "unsettled": [r.unsettled for r in chosen if r.unsettled],
                }
            )
            continue
        unknown = [r for r in rules if verdicts.get(r.id, FALSE).truth == _UNKNOWN]
        missing = sorted({m for r in unknown for m in verdicts[r.id].missing})
        if unknown:
            rationale = (
                "Cannot decide yet: "
                + "; ".join(r.title for r in unknown)
                + ". Missing facts: "
                + ", ".join(dict.fromkeys(display.fact_label(m, kb.display) for m in missing))
                + "."
            )
        elif rules:
            checked = "; ".join(r.title for r in rules)
            rationale = (
                "The facts given neither meet nor rule out the criteria cmcadvisor checks for this pathway, "
                f"so it cannot decide: {checked}. Judge eligibility against the cited sources."
            )
        else:
            rationale = "cmcadvisor has no rules for this pathway yet; assess it with the cited sources."
        results.append(
            {
                "id": pathway.id,
                "name": pathway.name,
                "status": "undetermined",
                "rationale": rationale,
                "rules": [r.id for r in (unknown or rules)],
                "citations": _kept(sorted({c for r in unknown for c in r.citations}) or list(pathway.citations), excluded),
                "next_step": _undetermined_step(kb, pathway.id, missing),
                "missing_facts": missing,
            }
        )
    return _pathway_list().validate_python(results)


def _undetermined_step(kb: KnowledgeBase, pathway_id: str, missing: Sequence[str]) -> str | None:
    """The next step of an undecided pathway: answer what is missing, then the pathway's own step."""
    pathway = kb.pathways.get(pathway_id)
    own = " ".join(pathway.undetermined_step.split()) if pathway and pathway.undetermined_step else None
    asks = list(
        dict.fromkeys(
            ask
            for ask in (_ask(_INDEX.sub("[]", name)) for name in missing if not name.startswith("derived."))
            if ask is not None
        )
    )
    if not asks:
        return own or "Answer the open questions below; then judge eligibility against the cited sources."
    more = f" {display.plural(len(asks) - 3, 'further question')} in the list of questions." if len(asks) > 3 else ""
    asks = asks[:3]
    lead = "Answer the open questions that decide it: " + " ".join(asks) + more
    return f"{lead} {own}" if own else lead


_INDEX = re.compile(r"\[(\d+)\]")


@functools.lru_cache(maxsize=1024)  # keyed on a fact name of the vocabulary, which is fixed per process
def _ask(generic: str) -> str | None:
    """The vocabulary's question for a fact (item indexes as ``[]``) without its raw value list; None if it has none."""
    info = vocabulary().get(generic)
    return None if info is None else _without_value_list(info.question, frozenset(info.allowed))


def _without_value_list(question: str, allowed: frozenset[str]) -> str:
    """A question without its "(none, in_development, ...)" list of raw values (the labels follow it)."""
    return _ENUM_LIST.sub(lambda m: "" if set(m.group(1).split(", ")) <= allowed else m.group(0), question)


_SETTLES: dict[str, dict[str, tuple[str, bool]]] = {}


def _settles(pack: RulePack) -> dict[str, tuple[str, bool]]:
    """:attr:`RulePack.settles` by rule id (built once per pack)."""
    found = _SETTLES.get(pack.sha256)
    if found is None:
        found = {rule_id: (target, chained) for rule_id, target, chained in pack.settles}
        remember(_SETTLES, pack.sha256, found, 8)  # a few packs per process at most
    return found


def build_questions(
    pack: RulePack, facts: FactSet, verdicts: Mapping[str, Verdict], labels: DisplayFile | None = None
) -> list[Question]:
    """Missing facts, most valuable first: each names the results it would help settle (values by their labels)."""
    derivers = pack.derivers

    def expand(missing: AbstractSet[str], seen: set[str]) -> set[str]:
        out: set[str] = set()
        for name in missing:
            if not name.startswith("derived."):
                out.add(name)
                continue
            for rule_id in derivers.get(name[8:], ()):
                verdict = verdicts.get(rule_id)
                if rule_id not in seen and verdict is not None and verdict.truth == _UNKNOWN:
                    out |= expand(verdict.missing, seen | {rule_id})
        return out

    unlocks: dict[str, set[str]] = {}
    settles = _settles(pack)
    for rule_id, verdict in verdicts.items():  # the order does not matter: questions are sorted below
        if verdict.truth != _UNKNOWN or rule_id not in settles:
            continue
        target, chained = settles[rule_id]
        missing = verdict.missing
        names = expand(missing, {rule_id}) if chained else missing  # only these can miss derived facts
        for name in names:
            found = unlocks.get(name)
            if found is None:
                unlocks[name] = {target}
            else:
                found.add(target)
    vocab = vocabulary()
    questions = []
    for name, targets in unlocks.items():
        match = _INDEX.search(name) if "[" in name else None
        generic = _INDEX.sub("[]", name) if match else name
        info = vocab.get(generic)
        text = info.question if info else f"What is the {display.fact_label(name, labels)}?"
        if match:
            index = int(match.group(1))
            collection = name.split("[", 1)[0]
            items = facts.collections.get(collection, ())
            label = (items[index].get("name") or items[index].get("description")) if index < len(items) else None
            text = f"{text} (item {index + 1}{': ' + str(label) if label else ''})"
        if info and info.allowed:
            text = _without_value_list(text, frozenset(info.allowed))
            text = f"{text} One of: {', '.join(display.label(generic, v, labels) for v in info.allowed)}."
        questions.append((-len(targets), name, {"field": name, "question": text, "unlocks": sorted(targets)}))
    questions.sort(key=lambda q: (q[0], q[1]))
    return questions_from_dicts([body for _, _, body in questions])


def build_outcomes(
    pack: RulePack,
    kb: KnowledgeBase,
    facts: FactSet,
    firings: Sequence[Firing],
    verdicts: Mapping[str, Verdict],
    program: ProgramFile,
    as_of: datetime.date,
) -> Outcomes:
    """Pathways, findings and questions for one evaluated program."""
    excluded = excluded_citations(kb, facts)
    # Each step below reads only the undetermined verdicts (a rule that is not in the mapping is
    # treated as false): passing just those spares each a pass over every rule of the pack.
    unknown = {rule_id: verdict for rule_id, verdict in verdicts.items() if verdict.truth == _UNKNOWN}
    findings, waived, unused = build_findings(pack, kb, facts, firings, unknown, program, as_of, excluded)
    return Outcomes(
        pathways=build_pathways(pack, kb, facts, firings, unknown, excluded),
        findings=findings,
        questions=build_questions(pack, facts, unknown, kb.display),
        waived=waived,
        waivers_unused=unused,
        excluded_citations=excluded,
    )
