"""Whether a meeting type fits a program, and which meetings come next: a small evaluator of the fit tests in meetings.yaml.

Every type gets the same three generic tests (the program's regions include the agency's, the
program's stage is one the type serves, enough questions for a type with a minimum), then its own
``fit`` tests, written in the rule condition language and evaluated three-valued
(``reference_eval``) against the program's facts plus a few meeting facts (already held, question
count, topic spread). ``suggest_types`` takes the types whose ``suggest_when`` holds and whose fit
is not "does not fit", so suggestions can never contradict the stages or the fit tests (each
type's suggestion is decided once per set of values of the facts those tests read). No meeting
type is named in this module's code; it must not draft questions or dates.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from cmcadvisor.conditions import Node, literals
from cmcadvisor.facts import FactSet, Value, derive_facts
from cmcadvisor.meetings.knowledge import MeetingKnowledge
from cmcadvisor.meetings.words import fill, in_agency_terms, meeting_name, plural, shown, stage_list
from cmcadvisor.memo import PerObject, remember
from cmcadvisor.models.meetings import MEETING_TYPE_IDS, FitCheck, FitOutcome, MeetingType
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.reference_eval import Truth, Verdict, evaluate_node

_ORDER: dict[str, int] = {"fits": 0, "check": 1, "does_not_fit": 2}
_RESULT = {Truth.TRUE: "true", Truth.FALSE: "false", Truth.UNKNOWN: "unknown"}


def _in_sentence(mtype: MeetingType) -> str:
    """A meeting type's name inside a sentence: the contract's types in lower case ("end-of-phase 2 meeting"), others as named."""
    return meeting_name(mtype.id) if mtype.id in MEETING_TYPE_IDS else mtype.name


@dataclass(frozen=True)
class FitResult:
    """A type's fit, the reasons a reader sees, and every test behind it (for ``explain``)."""

    fit: str
    reasons: tuple[str, ...]
    checks: tuple[FitCheck, ...]


def held(program: ProgramFile, as_of: datetime.date) -> dict[str, datetime.date | None]:
    """Meeting types already held (an interaction dated on or before as_of, or undated)."""
    found: dict[str, datetime.date | None] = {}
    for item in program.interactions or []:
        if item.date is None or item.date <= as_of:
            found[item.type] = item.date
    return found


def meeting_facts(
    program: ProgramFile, as_of: datetime.date, mtype: MeetingType, points: int = 0, spread: int = 0, base: FactSet | None = None
) -> FactSet:
    """The program's facts plus the meeting facts the fit tests may use for ``mtype``."""
    facts = base if base is not None else derive_facts(program, as_of)
    return _with_meeting_facts(facts, held(program, as_of), mtype, points, spread)


def _with_meeting_facts(
    facts: FactSet, done: dict[str, datetime.date | None], mtype: MeetingType, points: int, spread: int
) -> FactSet:
    """:func:`meeting_facts` from the program's facts and the meetings it has held (``held``)."""
    scalars, lists = _meeting_values(done, mtype, points, spread)
    return FactSet(scalars={**facts.scalars, **scalars}, lists={**facts.lists, **lists}, collections=facts.collections)


def _meeting_values(
    done: dict[str, datetime.date | None], mtype: MeetingType, points: int, spread: int
) -> tuple[dict[str, Value], dict[str, tuple[str, ...]]]:
    """The meeting facts for ``mtype``: scalar facts and list facts (they replace the program's of the same name)."""
    when = done.get(mtype.id)
    scalars: dict[str, Value] = {
        "meeting.held": mtype.id in done,
        "meeting.held_on": when.isoformat() if when else "date not given",
        "meeting.question_points": points,
        "meeting.topic_spread": spread,
        "meeting.name": mtype.name,
    }
    return scalars, {"meetings.held": tuple(sorted(done))}


def _values(facts: FactSet) -> dict[str, object]:
    return {**facts.lists, **facts.scalars}


def _describe(node: Node) -> str:
    """A test as a short text for ``explain`` (fact paths are fine there: it is the auditor's view)."""
    from cmcadvisor.conditions import Lit

    if isinstance(node, Lit):
        return (
            f"{node.fact} {node.op} {json.dumps(node.value, default=str)}" if node.value is not None else f"{node.fact} {node.op}"
        )
    joiner = " and " if type(node).__name__ == "And" else " or "
    return "(" + joiner.join(_describe(child) for child in node.children) + ")"


def evaluate_fit(mtype: MeetingType, facts: FactSet, kn: MeetingKnowledge) -> FitResult:
    """The fit of ``mtype`` for the program whose facts (with the meeting facts) are ``facts``."""
    return _evaluate_fit(mtype, facts, kn, explain=True)


def fit_of(mtype: MeetingType, facts: FactSet, kn: MeetingKnowledge) -> FitResult:
    """:func:`evaluate_fit` without the tests behind it (``checks`` empty): the fit and reasons that planning needs."""
    return _evaluate_fit(mtype, facts, kn, explain=False)


def _evaluate_fit(mtype: MeetingType, facts: FactSet, kn: MeetingKnowledge, explain: bool) -> FitResult:
    """The fit and its reasons; with ``explain``, every test behind them as well (``checks``, for ``explain``)."""
    agency = kn.agency(mtype)
    values: dict[str, object] | None = None  # for the reasons' placeholders, made when a reason has some
    fit = "fits"
    reasons: list[str] = []
    checks: list[FitCheck] = []

    def worse(to: str) -> None:
        nonlocal fit
        if _ORDER[to] > _ORDER[fit]:
            fit = to

    regions = facts.lists.get("program.regions", ("us",))
    if not set(agency.regions) & set(regions):
        worse("does_not_fit")
        reason = (
            f"The program's regions ({shown('program.regions', regions)}) do not include {agency.region_label}: "
            f"{agency.short} meetings serve programs aimed at {agency.region_label}."
        )
        reasons.append(reason)
        if explain:
            checks.append(
                FitCheck(
                    test=f"program.regions meets {json.dumps(list(agency.regions))}",
                    result="false",
                    effect="does_not_fit",
                    reason=reason,
                )
            )
    stage = facts.scalars.get("clinical.stage")
    if stage is None:
        worse("check")
        reason = "The clinical stage is not given; cmcadvisor cannot tell whether this meeting suits the program's stage."
        if explain:
            checks.append(
                FitCheck(
                    test=f"clinical.stage in {json.dumps(list(mtype.stages))}",
                    result="unknown",
                    effect="check",
                    reason=reason,
                    missing=["clinical.stage"],
                )
            )
    elif stage in mtype.stages:
        reason = in_agency_terms(  # the stage labels say "BLA"; other agencies' briefs name their own application
            f"The program is at {shown('clinical.stage', stage)}, a stage the {_in_sentence(mtype)} is meant for "
            f"({stage_list(mtype.stages)}).",
            agency.terms,
        )
        if explain:
            checks.append(FitCheck(test=f"clinical.stage in {json.dumps(list(mtype.stages))}", result="true", reason=reason))
    else:
        worse("does_not_fit")
        reason = in_agency_terms(
            f"The program is at {shown('clinical.stage', stage)}, not a stage the {_in_sentence(mtype)} usually serves "
            f"({stage_list(mtype.stages)}).",
            agency.terms,
        )
        if explain:
            checks.append(
                FitCheck(
                    test=f"clinical.stage in {json.dumps(list(mtype.stages))}",
                    result="false",
                    effect="does_not_fit",
                    reason=reason,
                )
            )
    reasons.append(reason)
    for test in kn.fit_tests.get(mtype.id, ()):
        source = mtype.fit[test.index]
        if test.given is not None and evaluate_node(test.given, facts).truth != Truth.TRUE:
            if explain:
                checks.append(FitCheck(test=_describe(test.when), result="not applicable"))
            continue
        verdict: Verdict = evaluate_node(test.when, facts)
        outcome: FitOutcome | None = {
            Truth.TRUE: source.if_true,
            Truth.FALSE: source.if_false,
            Truth.UNKNOWN: source.if_unknown,
        }[verdict.truth]
        effect = None
        text = None
        if outcome is not None:
            if outcome.set_fit is not None:
                fit = outcome.set_fit
                effect = outcome.set_fit
            elif outcome.fit is not None:
                worse(outcome.fit)
                effect = outcome.fit
            if outcome.reason:
                if values is None:
                    values = _values(facts)
                text = fill(outcome.reason, values)
                reasons.append(text)
        if explain:
            checks.append(
                FitCheck(
                    test=_describe(test.when),
                    result=_RESULT[verdict.truth],
                    effect=effect,
                    reason=text,
                    missing=sorted(verdict.missing),
                )
            )
    points = facts.scalars.get("meeting.question_points")
    if mtype.question_min and isinstance(points, int) and points < mtype.question_min:
        worse("check")
        reason = (
            f"Only {plural(points, 'question')} (counting each point of a merged question) could be drawn from the "
            f"findings; the {mtype.name} expects at least {mtype.question_min}."
        )
        reasons.append(reason)
        if explain:
            checks.append(
                FitCheck(test=f"meeting.question_points ge {mtype.question_min}", result="false", effect="check", reason=reason)
            )
    return FitResult(fit, tuple(reasons), tuple(checks))


def suggested(mtype: MeetingType, facts: FactSet, kn: MeetingKnowledge) -> bool:
    """Whether ``mtype`` is one of the next meetings for the program whose facts (with meeting facts) are ``facts``."""
    node = kn.suggest.get(mtype.id)
    if node is None or evaluate_node(node, facts).truth != Truth.TRUE:
        return False
    return fit_of(mtype, facts, kn).fit != "does_not_fit"


def example_facts(facts: dict[str, object]) -> FactSet:
    """The facts of a worked fit example (meetings.yaml ``examples``): lists are list facts, the rest scalars."""
    scalars = {k: v for k, v in facts.items() if not isinstance(v, list)}
    lists = {k: tuple(sorted(str(x) for x in v)) for k, v in facts.items() if isinstance(v, list)}
    lists.setdefault("meetings.held", ())
    lists.setdefault("program.regions", ("us",))
    for name, default in (("meeting.held", False), ("meeting.question_points", 0), ("meeting.topic_spread", 0)):
        scalars.setdefault(name, default)
    return FactSet(scalars=scalars, lists=lists)  # type: ignore[arg-type]


# The facts the generic tests of _evaluate_fit read (the fit tests' own facts come from their conditions).
_GENERIC_FACTS = ("program.regions", "clinical.stage", "meeting.question_points")
_MAX_DECIDED = 4096  # suggestions kept per meeting knowledge


@dataclass(frozen=True)
class _Suggestions:
    """Per loaded meeting knowledge: the facts each type's suggestion rests on, and the suggestions already decided.

    Whether a type is suggested (:func:`suggested`) depends on nothing but the values of the
    facts its ``suggest_when``, its fit tests and the generic tests read (conditions are evaluated
    without an item, so no collection is read): decided once per set of values, each value with
    its type, and kept (bounded) as programs share most of them.
    """

    reads: dict[str, tuple[str, ...]]  # per type id
    decided: dict[tuple[object, ...], bool] = field(default_factory=dict)


def _suggestions_of(kn: MeetingKnowledge) -> _Suggestions:
    reads: dict[str, tuple[str, ...]] = {}
    for type_id in kn.types:
        nodes = [kn.suggest.get(type_id), *(node for test in kn.fit_tests.get(type_id, ()) for node in (test.given, test.when))]
        names = {lit.fact for node in nodes if node is not None for lit in literals(node) if lit.item_field is None}
        reads[type_id] = tuple(sorted(names.union(_GENERIC_FACTS)))
    return _Suggestions(reads)


_suggestions: PerObject[MeetingKnowledge, _Suggestions] = PerObject(_suggestions_of)  # per meeting knowledge in use


def _is_suggested(mtype: MeetingType, base: FactSet, done: dict[str, datetime.date | None], kn: MeetingKnowledge) -> bool:
    """:func:`suggested` for the program whose facts are ``base`` and which has held ``done`` (see :func:`held`).

    Decided once per set of values of the facts it reads (see :class:`_Suggestions`), read as
    from :func:`meeting_facts`: the meeting facts replace the program's, scalars before lists.
    """
    memo = _suggestions(kn)
    own, own_lists = _meeting_values(done, mtype, 0, 0)

    def value(name: str) -> object:
        if name in own:
            return own[name]
        if name in base.scalars:
            return base.scalars[name]
        return own_lists[name] if name in own_lists else base.lists.get(name)

    key = (mtype.id, *((type(found), found) for found in map(value, memo.reads[mtype.id])))  # typed: 1 is never True
    decided = memo.decided.get(key)
    if decided is None:
        decided = remember(memo.decided, key, suggested(mtype, _with_meeting_facts(base, done, mtype, 0, 0), kn), _MAX_DECIDED)
    return decided


def suggest_types(
    program: ProgramFile,
    as_of: datetime.date,
    kn: MeetingKnowledge,
    agencies: Iterable[str] | None = None,
    base: FactSet | None = None,
) -> list[str]:
    """The meeting type ids that come next for the program, in the knowledge's order (deterministic).

    A type is suggested when its ``suggest_when`` holds and its fit (stages, regions, fit tests)
    is not "does not fit". ``agencies`` limits the agencies (default: every agency). ``base``:
    the program's facts as of ``as_of`` when the caller has them already (derived here otherwise).
    """
    wanted = set(agencies) if agencies is not None else None
    if base is None:
        base = derive_facts(program, as_of)
    done = held(program, as_of)
    out: list[str] = []
    for type_id, mtype in kn.types.items():
        if wanted is not None and mtype.agency not in wanted:
            continue
        if _is_suggested(mtype, base, done, kn):
            out.append(type_id)
    return out


def suggestion_text(
    program: ProgramFile,
    as_of: datetime.date,
    kn: MeetingKnowledge,
    agencies: Iterable[str] | None = None,
    base: FactSet | None = None,
) -> str | None:
    """The sentence naming the program's next meetings, for a type that does not fit (None when there are none)."""
    suggested = suggest_types(program, as_of, kn, agencies, base)
    if not suggested:
        return None
    names = ", ".join(_in_sentence(kn.types[t]) for t in suggested)
    return f"For this program cmcadvisor suggests: {names}."


def example_problems(kn: MeetingKnowledge) -> tuple[int, list[tuple[str, str]]]:
    """Run every worked fit example of meetings.yaml: (how many ran, [(where, what went wrong)])."""
    count, problems = 0, []
    for mtype in sorted(kn.types.values(), key=lambda t: t.id):
        for index, example in enumerate(mtype.examples):
            count += 1
            facts = example_facts(dict(example.facts))
            result = evaluate_fit(mtype, facts, kn)
            where = f"meetings.yaml {mtype.id} examples[{index}] ({example.name})"
            if result.fit != example.fit:
                problems.append((where, f"fit is {result.fit}, not {example.fit}"))
            elif example.suggested is not None and suggested(mtype, facts, kn) != example.suggested:
                problems.append((where, f"suggested is {not example.suggested}, not {example.suggested}"))
    return count, problems
