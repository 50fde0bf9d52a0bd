"""The library entry point: the only place the pipeline's stages are sequenced.

``assess_file`` reads a program file and returns an :class:`AssessmentResult`; ``assess``
does the same for an already validated program. Loading the rule pack and knowledge base is
separate (:func:`load_context`) so that many programs can share one load. This module never
imports click, never prints, and never reads the wall clock: "today" is passed in.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cmcadvisor import __version__
from cmcadvisor.engine import Engine, get_engine
from cmcadvisor.errors import ProgramFileError, UsageError
from cmcadvisor.facts import derive_facts
from cmcadvisor.knowledge import KnowledgeBase, load_knowledge
from cmcadvisor.loader import Document
from cmcadvisor.makeorbuy import build_make_or_buy
from cmcadvisor.meetings import MeetingKnowledge, load_meeting_types, recommend_meetings
from cmcadvisor.models.program import DATE_MAX, DATE_MIN, ProgramFile
from cmcadvisor.models.result import (
    AssessmentResult,
    Audit,
    ProgramRef,
    Summary,
    ToolInfo,
)
from cmcadvisor.models.rule import SEVERITY_RANK
from cmcadvisor.outcomes import build_outcomes, matched_facts, rule_message
from cmcadvisor.pathway_steps import date_next_steps
from cmcadvisor.reference_eval import Truth, classify
from cmcadvisor.registry import RulePack, load_rulepack
from cmcadvisor.risks import RiskCategories, build_risks, load_risk_categories
from cmcadvisor.rulelint import check_references
from cmcadvisor.timeline import build_timeline
from cmcadvisor.validation import program_problems, read_program


@dataclass(frozen=True)
class Options:
    """How to assess: the dates, the engine and any extra rule or knowledge packs."""

    as_of: datetime.date | None = None  # overrides program.as_of
    today: datetime.date | None = None  # used when neither --as-of nor program.as_of is given
    engine: str = "auto"  # auto | durable | python
    overrides: tuple[str, ...] = ()  # --set FIELD=VALUE what-if changes
    rules_dirs: tuple[Path, ...] = ()
    builtin_rules: bool = True
    knowledge_dir: Path | None = None


@dataclass(frozen=True)
class Context:
    """A loaded, cross-checked rule pack and knowledge base, and the engine to run them."""

    pack: RulePack
    kb: KnowledgeBase
    engine: Engine = field(repr=False)
    risk_categories: RiskCategories = field(repr=False)
    meeting_types: MeetingKnowledge = field(repr=False)


def load_context(options: Options = Options()) -> Context:
    """Load the rule pack(s) and knowledge base and check the references between them."""
    kb = load_knowledge(options.knowledge_dir)
    pack = load_rulepack(options.rules_dirs, builtin=options.builtin_rules)
    check_references(pack, kb)
    categories = load_risk_categories(options.knowledge_dir, citations=kb.citations)
    meetings = load_meeting_types(options.knowledge_dir, kb.citations)
    return Context(pack, kb, get_engine(options.engine), categories, meetings)


def canonical_sha256(program: ProgramFile) -> str:
    """SHA-256 of the canonical JSON of a validated program (insensitive to layout and order)."""
    text = json.dumps(program.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def rule_lookup(pack: RulePack) -> Callable[[str], str | None]:
    """Rule id or alias -> the rule's id (None when the pack has no such rule), for validation."""

    def lookup(rule_id: str) -> str | None:
        rule = pack.resolve(rule_id)
        return None if rule is None else rule.id

    return lookup


def check_waivers(program: ProgramFile, pack: RulePack, doc: Document | None) -> None:
    """Refuse a program that fails the checks across fields (waivers of unknown rules, expired before approved).

    The same checks :func:`read_validated` makes; repeated here for programs built in code.
    """
    problems = program_problems(program, doc, rule_lookup(pack))
    if problems:
        raise ProgramFileError(problems)


def read_validated(path: Path, options: Options, context: Context) -> tuple[ProgramFile, Document]:
    """The one validation of a program file, for every command: parse, apply --set, model and cross-field checks."""
    return read_program(path, overrides=options.overrides, rules=rule_lookup(context.pack))


def resolve_as_of(program: ProgramFile, options: Options) -> datetime.date:
    """--as-of, else program.as_of, else the injected today."""
    as_of = options.as_of or program.program.as_of or options.today
    if as_of is None:
        raise ValueError("no as_of date: pass Options.as_of or Options.today")
    if not DATE_MIN <= as_of <= DATE_MAX:
        raise UsageError.single("--as-of", f"{as_of} is outside the dates the tool can plan with ({DATE_MIN} to {DATE_MAX})")
    return as_of


def assess(program: ProgramFile, context: Context, options: Options = Options(), doc: Document | None = None) -> AssessmentResult:
    """Assess one validated program."""
    pack, kb = context.pack, context.kb
    check_waivers(program, pack, doc)
    as_of = resolve_as_of(program, options)
    facts = derive_facts(program, as_of)
    rules = pack.compiled_active()
    run = context.engine.run(rules, facts)
    verdicts = classify(rules, facts, run.derived)
    fired_ids = {f.rule for f in run.firings}
    outcomes = build_outcomes(pack, kb, facts, run.firings, verdicts, program, as_of)
    fired: list[dict[str, object]] = []  # validated with the audit, in one call
    for seq, firing in enumerate(run.firings, 1):
        shown = matched_facts(pack.by_id[firing.rule], facts, firing.item)
        fired.append(
            {
                "seq": seq,
                "rule": firing.rule,
                "version": firing.version,
                "facts": [f"{k}={json.dumps(v)}" for k, v in shown.items()],
                "item": firing.item,
            }
        )
    not_fired: list[str] = []
    undetermined: dict[str, list[str]] = {}
    for rule in pack.active:  # one pass over the verdicts (rules are in id order)
        verdict = verdicts[rule.id]
        if verdict.truth == Truth.UNKNOWN:
            undetermined[rule.id] = sorted(verdict.missing)
        elif verdict.truth == Truth.FALSE and rule.id not in fired_ids:
            not_fired.append(rule.id)
    audit = Audit(
        input_sha256=canonical_sha256(program),
        rules_sha256=pack.sha256,
        knowledge_sha256=kb.sha256,
        tool_version=__version__,
        engine=run.engine or context.engine.name,  # auto names the fallback engine and why
        fired=fired,  # dicts: pydantic builds the records
        not_fired=sorted(not_fired),
        undetermined=sorted(undetermined),
        undetermined_facts=undetermined,
        waived=outcomes.waived,
        waivers_unused=outcomes.waivers_unused,
        derived=sorted(run.derived),
    )
    open_by_severity: Counter[str] = Counter(
        f.severity for f in outcomes.findings if f.status == "open" and f.kind != "undetermined"
    )
    priority_statuses = {p.status for p in outcomes.pathways if p.id == "us.priority_review"}
    review = program.timeline.review if program.timeline else None
    timeline = build_timeline(
        program,
        facts,
        pack,
        kb,
        run.firings,
        as_of,
        priority_review=review == "priority" or (review is None and bool(priority_statuses & {"granted", "eligible"})),
    )
    result = AssessmentResult(
        tool=ToolInfo(version=__version__),
        program=ProgramRef(id=program.program.id, name=program.program.name),
        as_of=as_of.isoformat(),
        summary=Summary(
            open_findings_by_severity={s: open_by_severity.get(s, 0) for s in SEVERITY_RANK},
            pathways_by_status=dict(sorted(Counter(p.status for p in outcomes.pathways).items())),
            undetermined_rules=len(audit.undetermined),
            questions=len(outcomes.questions),
        ),
        pathways=outcomes.pathways,
        findings=outcomes.findings,
        make_or_buy=build_make_or_buy(
            pack,
            kb,
            facts,
            fired_ids,
            verdicts,
            lambda rule, given: rule_message(rule, given, None, vocab=kb.display),
        ),
        timeline=timeline,
        meetings=[],
        risks=build_risks(outcomes.findings, context.risk_categories, facts, outcomes.excluded_citations),
        questions=outcomes.questions,
        audit=audit,
    )
    meetings = recommend_meetings(result, program, context.meeting_types)
    pathways = date_next_steps(result.pathways, program, kb, meetings, as_of)
    return result.model_copy(update={"meetings": meetings, "pathways": pathways})


def assess_file(path: Path, options: Options = Options(), context: Context | None = None) -> AssessmentResult:
    """Read, validate and assess one program file."""
    ctx = context or load_context(options)
    program, doc = read_validated(path, options, ctx)
    return assess(program, ctx, options, doc)


def worst_open_severity(result: AssessmentResult) -> str | None:
    """The most severe open finding (undetermined ones excluded), for ``--fail-on``."""
    ranks = [SEVERITY_RANK[f.severity] for f in result.findings if f.status == "open" and f.kind != "undetermined"]
    if not ranks:
        return None
    best = min(ranks)
    return next(name for name, rank in SEVERITY_RANK.items() if rank == best)
