"""From firings and verdicts to findings, pathway statuses and questions.

Fills message placeholders from facts (never with ``str.format``: only ``{fact.name}`` and
``{item.field}`` lookups, each value through the display vocabulary), resolves citations,
applies waivers, decides each pathway's status by precedence, and ranks missing facts by how
many undetermined results each would settle. Output is sorted and numbered deterministically.
It must not run the engine or lay out output for a format (that is the renderers' job).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from cmcadvisor import display
from cmcadvisor.conditions import Firing
from cmcadvisor.facts import FactSet, Item, Value, vocabulary
from cmcadvisor.knowledge import KnowledgeBase
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
from cmcadvisor.models.rule import FINDING_KINDS, PATHWAY_IDS, SEVERITY_RANK
from cmcadvisor.reference_eval import Truth, Verdict, ruled_out
from cmcadvisor.registry import LoadedRule, RulePack

PATHWAY_PRECEDENCE = ("granted", "not_applicable", "not_eligible", "eligible")
_PLACEHOLDER = re.compile(r"\{([a-z0-9_.\[\]]+)\}")
_ENUM_LIST = re.compile(r"\s*\(([a-z0-9_]+(?:, [a-z0-9_]+)+)\)")  # "(none, in_development, ...)" in a question


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

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("item.") and item is not None:
            value: object = item.get(name[5:])
            path = f"{collection}[].{name[5:]}" if collection else name[5:]
        else:
            value = facts.get(name)
            path = name
        return "(not given)" if value is None else display.label(path, value, vocab)

    return " ".join(_PLACEHOLDER.sub(lookup, template).split())


def rule_message(
    rule: LoadedRule,
    facts: FactSet,
    item: Item | None,
    collection: str | None = None,
    vocab: DisplayFile | None = None,
) -> str:
    """A rule's message filled for one program, with the ``then.notes`` its facts do not rule out."""
    then = rule.spec.then
    text = fill_message(then.message, facts, item, collection, vocab)
    notes = [fill_message(n.text, facts, item, collection, vocab) for n in then.notes if not ruled_out(n.applies_when, facts)]
    return " ".join([text, *notes]) if notes else text


def matched_facts(rule: LoadedRule, facts: FactSet, item_index: int | None) -> dict[str, Value | list[str]]:
    """The present facts a rule tests, with item facts named by their index."""
    out: dict[str, Value | list[str]] = {}
    collection = rule.compiled.shape.collection
    items = facts.collections.get(collection, ()) if collection else ()
    for name in rule.compiled.shape.facts:
        if "[]." in name:
            if item_index is None or item_index >= len(items):
                continue
            field_name = name.split("[].", 1)[1]
            if field_name in items[item_index]:
                out[name.replace("[]", f"[{item_index}]")] = items[item_index][field_name]
        else:
            value = facts.get(name)
            if isinstance(value, tuple):
                out[name] = list(value)
            elif value is not None:
                out[name] = value
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
        if len(_CONDITIONAL) >= 8:
            _CONDITIONAL.clear()
        conditional = _CONDITIONAL[kb.sha256] = tuple(
            (cid, c.applies_when) for cid, c in kb.citations.items() if c.applies_when is not None
        )
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
    """The parts of a rule's findings that do not depend on the program (shared, never mutated)."""

    topics: list[str]
    citations: list[CitationRef]
    due: DueRef
    requires: list[str]
    before: list[str]
    undetermined_title: str


@dataclass(frozen=True)
class _PackFindings:
    """What findings reuse from program to program, for one rule pack and knowledge base."""

    statics: dict[str, _Static]  # per finding rule
    # An undetermined rule's finding depends only on the rule and its missing facts, which repeat
    # from program to program: validated ones are kept (a bounded number), numbered F-0000.
    undetermined: dict[tuple[str, frozenset[str]], dict[str, Any]] = field(default_factory=dict)


_PACKS: dict[tuple[str, str], _PackFindings] = {}
_NO_DUE = DueRef()
_UNDETERMINED_KEPT = 2048  # a few MB at most: memory never grows with the number of programs


def _pack_findings(pack: RulePack, kb: KnowledgeBase) -> _PackFindings:
    """The reusable parts of findings for a pack and knowledge base (built once per pair)."""
    key = (pack.sha256, kb.sha256)
    found = _PACKS.get(key)
    if found is None:
        statics = {}
        for rule in pack.active:
            spec = rule.spec
            if spec.kind not in FINDING_KINDS:
                continue
            statics[spec.id] = _Static(
                topics=list(spec.topics),
                citations=cite(kb, spec.citations),
                due=DueRef(stage=spec.then.due.stage) if spec.then.due else _NO_DUE,
                requires=list(spec.then.requires),
                before=list(spec.then.before),
                undetermined_title=f"Not yet decidable: {spec.title}",
            )
        if len(_PACKS) >= 8:  # a few packs per process at most
            _PACKS.clear()
        found = _PACKS[key] = _PackFindings(statics)
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
        if len(plan.undetermined) >= _UNDETERMINED_KEPT:
            plan.undetermined.clear()
        plan.undetermined[(rule.id, missing)] = found
    return found


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
    used: set[str] = set()
    drafts: list[tuple[tuple[object, ...], dict[str, Any]]] = []
    for firing in sorted(set(firings), key=lambda f: (f.rule, -1 if f.item is None else f.item)):
        static = statics.get(firing.rule)
        if static is None:
            continue
        rule = pack.by_id[firing.rule]
        spec = rule.spec
        collection = rule.compiled.shape.collection
        item = facts.collections[collection][firing.item] if collection and firing.item is not None else None
        status = "open"
        waiver_ref = None
        if spec.id in waivers:
            waiver, honoured, reason = waivers[spec.id]
            used.add(spec.id)
            status = "waived" if honoured else "open"
            waiver_ref = WaiverRef(
                approved_by=waiver.approved_by,
                approved_on=waiver.approved_on.isoformat(),
                expires=waiver.expires.isoformat(),
                justification=waiver.justification,
                honoured=honoured,
                reason=reason,
            )
        drafts.append(
            (
                (SEVERITY_RANK[spec.severity], spec.id, -1 if firing.item is None else firing.item),
                {
                    "rule": spec.id,
                    "kind": spec.kind,
                    "severity": spec.severity,
                    "title": fill_message(spec.then.title or spec.title, facts, item, collection, kb.display) + _item_label(item),
                    "detail": rule_message(rule, facts, item, collection, kb.display),
                    "topics": static.topics,
                    "due": static.due,
                    "status": status,
                    "citations": static.citations,
                    "facts": matched_facts(rule, facts, firing.item),
                    "confidence": spec.confidence,
                    "unsettled": spec.unsettled,
                    "requires": static.requires,
                    "before": static.before,
                    "waiver": waiver_ref,
                },
            )
        )
    undetermined_rank = SEVERITY_RANK["info"] + 1
    for rule in pack.active:
        verdict = verdicts.get(rule.id)
        if verdict is None or verdict.truth != Truth.UNKNOWN or rule.id not in statics:
            continue
        drafts.append(((undetermined_rank, rule.id, -1), _undetermined(plan, rule, verdict.missing)))
    drafts.sort(key=lambda d: d[0])
    findings = findings_from_dicts(
        [{**body, "id": f"F-{n:04d}", "citations": _kept(body["citations"], excluded)} for n, (_, body) in enumerate(drafts, 1)]
    )
    waived = sorted(f.rule for f in findings if f.status == "waived")
    unused = sorted(rule_id for rule_id in waivers if rule_id not in used)
    return findings, waived, unused


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
    results: list[PathwayResult] = []
    for pathway_id in PATHWAY_IDS:
        if pathway_id.split(".", 1)[0] not in regions:
            continue
        rules = list(pack.pathway_rules.get(pathway_id, ()))
        name = kb.pathways[pathway_id].name if pathway_id in kb.pathways else pathway_id
        decided = [r for r in rules if r.id in fired_ids]
        if decided:
            best = min(PATHWAY_PRECEDENCE.index(r.spec.then.pathway.status) for r in decided if r.spec.then.pathway)
            status = PATHWAY_PRECEDENCE[best]
            chosen = [r for r in decided if r.spec.then.pathway and r.spec.then.pathway.status == status]
            results.append(
                PathwayResult(
                    id=pathway_id,
                    name=name,
                    status=status,
                    rationale=" ".join(rule_message(r, facts, None, vocab=kb.display) for r in chosen),
                    rules=[r.id for r in chosen],
                    citations=sorted({c for r in chosen for c in r.spec.citations} - set(excluded)),
                    next_step=next(
                        (r.spec.then.pathway.next_step for r in chosen if r.spec.then.pathway and r.spec.then.pathway.next_step),
                        None,
                    ),
                    unsettled=[r.spec.unsettled for r in chosen if r.spec.unsettled],
                )
            )
            continue
        unknown = [r for r in rules if verdicts.get(r.id, Verdict(Truth.FALSE)).truth == Truth.UNKNOWN]
        missing = sorted({m for r in unknown for m in verdicts[r.id].missing})
        if unknown:
            rationale = (
                "Cannot decide yet: "
                + "; ".join(r.spec.title for r in unknown)
                + ". Missing facts: "
                + ", ".join(dict.fromkeys(display.fact_label(m, kb.display) for m in missing))
                + "."
            )
        elif rules:
            checked = "; ".join(r.spec.title for r in rules)
            rationale = (
                "The facts given neither meet nor rule out the criteria cmcadvisor checks for this pathway, "
                f"so it cannot decide: {checked}. Judge eligibility against the cited sources."
            )
        else:
            rationale = "cmcadvisor has no rules for this pathway yet; assess it with the cited sources."
        results.append(
            PathwayResult(
                id=pathway_id,
                name=name,
                status="undetermined",
                rationale=rationale,
                rules=[r.id for r in (unknown or rules)],
                citations=_kept(
                    sorted({c for r in unknown for c in r.spec.citations})
                    or (list(kb.pathways[pathway_id].citations) if pathway_id in kb.pathways else []),
                    excluded,
                ),
                next_step=_undetermined_step(kb, pathway_id, missing),
                missing_facts=missing,
            )
        )
    return results


def _undetermined_step(kb: KnowledgeBase, pathway_id: str, missing: Sequence[str]) -> str | None:
    """The next step of an undecided pathway: answer what is missing, then the pathway's own step."""
    pathway = kb.pathways.get(pathway_id)
    own = " ".join(pathway.undetermined_step.split()) if pathway and pathway.undetermined_step else None
    vocab = vocabulary()
    asks = list(
        dict.fromkeys(
            _without_value_list(vocab[generic].question, frozenset(vocab[generic].allowed))
            for generic in (_INDEX.sub("[]", name) for name in missing if not name.startswith("derived."))
            if generic in vocab
        )
    )
    if not asks:
        return own or "Answer the open questions below; then judge eligibility against the cited sources."
    more = f" {display.plural(len(asks) - 3, 'further question')} in the list of questions." if len(asks) > 3 else ""
    asks = asks[:3]
    lead = "Answer the open questions that decide it: " + " ".join(asks) + more
    return f"{lead} {own}" if own else lead


_INDEX = re.compile(r"\[(\d+)\]")


def _without_value_list(question: str, allowed: frozenset[str]) -> str:
    """A question without its "(none, in_development, ...)" list of raw values (the labels follow it)."""
    return _ENUM_LIST.sub(lambda m: "" if set(m.group(1).split(", ")) <= allowed else m.group(0), question)


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
                if rule_id not in seen and verdict is not None and verdict.truth == Truth.UNKNOWN:
                    out |= expand(verdict.missing, seen | {rule_id})
        return out

    unlocks: dict[str, set[str]] = {}
    for rule_id, target, chained in pack.settles:
        verdict = verdicts.get(rule_id)
        if verdict is None or verdict.truth != Truth.UNKNOWN:
            continue
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
    findings, waived, unused = build_findings(pack, kb, facts, firings, verdicts, program, as_of, excluded)
    return Outcomes(
        pathways=build_pathways(pack, kb, facts, firings, verdicts, excluded),
        findings=findings,
        questions=build_questions(pack, facts, verdicts, kb.display),
        waived=waived,
        waivers_unused=unused,
        excluded_citations=excluded,
    )
