"""The library entry point: the only place the pipeline's stages are sequenced.

``assess_file`` reads a program file and returns an :class:`AssessmentResult`; ``assess``
does the same for an already validated program. Inside, :func:`evaluate` runs the rules once
and returns an :class:`Evaluated` program (program, context, options, date, facts, firings,
verdicts, outcomes) that every later stage reads (``result_of``, ``timeline_of``,
``make_or_buy_of``; ``explain`` and ``diff`` use it too) instead of loose arguments. Loading
the rule pack and knowledge base is separate (:func:`load_context`) so that many programs can
share one load. This module never imports click, never prints, and never reads the wall clock:
"today" is passed in.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cmcadvisor import __version__
from cmcadvisor.engine import Engine, EngineRun, cache_compiled, get_engine
from cmcadvisor.errors import ErrorItem, ProgramFileError, RuleFileError, UsageError
from cmcadvisor.facts import FactSet, derive_facts
from cmcadvisor.knowledge import ClockChoice, KnowledgeBase, load_knowledge, review_clock
from cmcadvisor.loader import Document
from cmcadvisor.makeorbuy import build_make_or_buy
from cmcadvisor.meetings import MeetingKnowledge, load_meeting_types, meetings_for
from cmcadvisor.models.program import DATE_MAX, DATE_MIN, ProgramFile
from cmcadvisor.models.result import (
    AssessmentResult,
    Audit,
    MakeOrBuy,
    PathwayResult,
    ProgramRef,
    Summary,
    Timeline,
    ToolInfo,
)
from cmcadvisor.models.rule import SEVERITY_RANK
from cmcadvisor.outcomes import Outcomes, build_outcomes, matched_facts, rule_message
from cmcadvisor.pathway_steps import date_next_steps
from cmcadvisor.reference_eval import Truth, Verdict, classify
from cmcadvisor.registry import RulePack, load_rulepack
from cmcadvisor.risks import RiskCategories, build_risks, load_risk_categories
from cmcadvisor.timeline import Built, build, to_timeline
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
    stdin_filename: str | None = None  # how a program read from standard input ("-") is named in messages


@dataclass(frozen=True)
class Context:
    """A loaded, cross-checked rule pack and knowledge base, and the engine to run them."""

    pack: RulePack
    kb: KnowledgeBase
    engine: Engine = field(repr=False)
    risk_categories: RiskCategories = field(repr=False)
    meeting_types: MeetingKnowledge = field(repr=False)


def check_references(pack: RulePack, kb: KnowledgeBase) -> None:
    """Refuse rules that cite unknown knowledge ids (on every load; ``rules lint`` checks much more)."""
    problems = [
        ErrorItem(rule.source, None, "citations", f"unknown citation {cid} (not in the knowledge base)")
        for rule in pack.rules
        for cid in rule.spec.citations
        if cid not in kb.citations
    ]
    if problems:
        raise RuleFileError(problems)


def load_context(options: Options = Options()) -> Context:
    """Load the rule pack(s) and knowledge base and check the references between them."""
    kb = load_knowledge(options.knowledge_dir)
    pack = load_rulepack(options.rules_dirs, builtin=options.builtin_rules)
    check_references(pack, kb)
    categories = load_risk_categories(options.knowledge_dir, citations=kb.citations)
    meetings = load_meeting_types(options.knowledge_dir, kb.citations)
    engine = get_engine(options.engine)
    cache_compiled(engine, pack.compiled_active(), pack.sha256)
    return Context(pack, kb, engine, categories, meetings)


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
    display = (options.stdin_filename or None) if str(path) == "-" else None  # "-": standard input
    return read_program(path, display=display, overrides=options.overrides, rules=rule_lookup(context.pack))


def resolve_as_of(program: ProgramFile, options: Options) -> datetime.date:
    """--as-of, else program.as_of, else the injected today."""
    as_of = options.as_of or program.program.as_of or options.today
    if as_of is None:
        raise ValueError("no as_of date: pass Options.as_of or Options.today")
    if not DATE_MIN <= as_of <= DATE_MAX:
        raise UsageError.single("--as-of", f"{as_of} is outside the dates the tool can plan with ({DATE_MIN} to {DATE_MAX})")
    return as_of


@dataclass(frozen=True)
class Evaluated:
    """One program after the rules ran: what every later stage reads, passed from stage to stage."""

    program: ProgramFile
    context: Context = field(repr=False)
    options: Options
    as_of: datetime.date
    facts: FactSet = field(repr=False)
    run: EngineRun = field(repr=False)  # firings in engine order, derived facts
    verdicts: Mapping[str, Verdict] = field(repr=False)  # true / false / undetermined per active rule
    outcomes: Outcomes = field(repr=False)

    @property
    def pack(self) -> RulePack:
        """The rule pack the program was evaluated with."""
        return self.context.pack

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base the program was evaluated with."""
        return self.context.kb

    @cached_property
    def fired(self) -> set[str]:
        """The ids of the rules that fired (for any item); computed once."""
        return {f.rule for f in self.run.firings}


def evaluate(program: ProgramFile, context: Context, options: Options = Options(), doc: Document | None = None) -> Evaluated:
    """Run the rules on one validated program: facts, firings, verdicts and their outcomes."""
    check_waivers(program, context.pack, doc)
    as_of = resolve_as_of(program, options)
    facts = derive_facts(program, as_of)
    rules = context.pack.compiled_active()
    run = context.engine.run(rules, facts)
    verdicts = classify(rules, facts, run.derived)
    outcomes = build_outcomes(context.pack, context.kb, facts, run.firings, verdicts, program, as_of)
    return Evaluated(program, context, options, as_of, facts, run, verdicts, outcomes)


def _audit(ev: Evaluated) -> Audit:
    by_id, facts = ev.pack.by_id, ev.facts
    scalars, lists = facts.scalars, facts.lists
    encode = json.encoder.encode_basestring_ascii
    texts: dict[str, str] = {}  # "name=<JSON>" by fact name: within one program a name always has one value
    scalar_facts = ev.pack.scalar_facts

    def text_of(name: str, value: object) -> str:
        # the text json.dumps gives these types, without its set-up cost for each small value
        if isinstance(value, str):
            text = encode(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = int.__repr__(value)
        elif isinstance(value, list) and all(isinstance(entry, str) for entry in value):
            text = "[" + ", ".join(map(encode, value)) + "]"
        else:
            text = json.dumps(value)
        text = texts[name] = f"{name}={text}"
        return text

    fired: list[dict[str, object]] = []  # validated with the audit, in one call
    for seq, firing in enumerate(ev.run.firings, 1):
        names = scalar_facts.get(firing.rule)
        if names is None:  # item facts (named by their index), or a rule not in the active pack: matched_facts
            matched = matched_facts(by_id[firing.rule], facts, firing.item)
            shown = [texts.get(name) or text_of(name, value) for name, value in matched.items()]
        else:  # what matched_facts gives (the present facts, in order), each text made once per program
            shown = []
            for name in names:
                text = texts.get(name)
                if text is None:
                    if name in scalars:
                        text = text_of(name, scalars[name])
                    elif name in lists:
                        text = text_of(name, list(lists[name]))
                    else:
                        continue
                shown.append(text)
        fired.append({"seq": seq, "rule": firing.rule, "version": firing.version, "facts": shown, "item": firing.item})
    fired_ids = ev.fired
    not_fired: list[str] = []
    undetermined: dict[str, list[str]] = {}
    unknown_truth, false_truth = Truth.UNKNOWN, Truth.FALSE  # read once, not for each rule
    for rule_id, verdict in ev.verdicts.items():  # one pass: every active rule, in id order (see classify)
        if verdict.truth == unknown_truth:
            undetermined[rule_id] = sorted(verdict.missing)
        elif verdict.truth == false_truth and rule_id not in fired_ids:
            not_fired.append(rule_id)
    return Audit(
        input_sha256=canonical_sha256(ev.program),
        rules_sha256=ev.pack.sha256,
        knowledge_sha256=ev.kb.sha256,
        tool_version=__version__,
        engine=ev.run.engine or ev.context.engine.name,  # auto names the fallback engine and why
        fired=fired,  # dicts: pydantic builds the records
        not_fired=sorted(not_fired),
        undetermined=sorted(undetermined),
        undetermined_facts=undetermined,
        waived=ev.outcomes.waived,
        waivers_unused=ev.outcomes.waivers_unused,
        derived=sorted(ev.run.derived),
    )


def clock_for(program: ProgramFile, kb: KnowledgeBase, pathways: Iterable[PathwayResult]) -> ClockChoice:
    """The BLA review clock a program is planned with, and why (the choice is data: ``pathways.yaml``)."""
    review = program.timeline.review if program.timeline else None
    return review_clock(kb, review, {p.id: p.status for p in pathways})


def clock_choice(ev: Evaluated) -> ClockChoice:
    """The BLA review clock the timeline of an evaluated program plans with, and why."""
    return clock_for(ev.program, ev.kb, ev.outcomes.pathways)


def make_or_buy_of(ev: Evaluated) -> MakeOrBuy:
    """The make-or-buy recommendation of an evaluated program."""
    kb = ev.kb
    return build_make_or_buy(
        ev.pack,
        kb,
        ev.facts,
        ev.fired,
        ev.verdicts,
        lambda rule, given: rule_message(rule, given, None, vocab=kb.display),
    )


def built_of(ev: Evaluated) -> Built:
    """The scheduled plan of an evaluated program, on the review clock it plans with (``explain`` reads it too)."""
    priority = clock_choice(ev).clock == "priority"
    return build(ev.program, ev.facts, ev.pack, ev.kb, ev.run.firings, ev.as_of, priority_review=priority)


def timeline_of(ev: Evaluated) -> Timeline:
    """The timeline of an evaluated program."""
    return to_timeline(built_of(ev), ev.program)


def result_of(ev: Evaluated) -> AssessmentResult:
    """Assemble the assessment of an evaluated program (timeline, make-or-buy, risks, meetings, next steps)."""
    outcomes = ev.outcomes
    audit = _audit(ev)
    open_by_severity: Counter[str] = Counter(
        f.severity for f in outcomes.findings if f.status == "open" and f.kind != "undetermined"
    )
    # Meetings are planned from the findings (not from the finished result): the next steps are dated from them.
    meetings = meetings_for(
        outcomes.findings, ev.program, ev.as_of, ev.context.meeting_types, ev.facts, gates=ev.context.pack.region_gates
    )
    return AssessmentResult(
        tool=ToolInfo(version=__version__),
        program=ProgramRef(id=ev.program.program.id, name=ev.program.program.name),
        as_of=ev.as_of.isoformat(),
        summary=Summary(
            open_findings_by_severity={s: open_by_severity.get(s, 0) for s in SEVERITY_RANK},
            pathways_by_status=dict(sorted(Counter(p.status for p in outcomes.pathways).items())),
            undetermined_rules=len(audit.undetermined),
            questions=len(outcomes.questions),
        ),
        pathways=date_next_steps(outcomes.pathways, ev.program, ev.kb, meetings, ev.as_of),
        findings=outcomes.findings,
        make_or_buy=make_or_buy_of(ev),
        timeline=timeline_of(ev),
        meetings=meetings,
        risks=build_risks(outcomes.findings, ev.context.risk_categories, ev.facts, outcomes.excluded_citations),
        questions=outcomes.questions,
        audit=audit,
    )


def assess(program: ProgramFile, context: Context, options: Options = Options(), doc: Document | None = None) -> AssessmentResult:
    """Assess one validated program."""
    return result_of(evaluate(program, context, options, doc))


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
