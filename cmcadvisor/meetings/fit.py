"""Whether a meeting type fits a program, and which meetings come next: a small evaluator of the fit tests in meetings.yaml.

Every type gets the same three generic tests (the program's regions include the agency's, the
program's stage is one the type serves, enough questions for a type with a minimum), then its own
``fit`` tests, written in the rule condition language and evaluated three-valued
(``reference_eval``) against the program's facts plus a few meeting facts (already held, question
count, topic spread). ``suggest_types`` takes the types whose ``suggest_when`` holds and whose fit
is not "does not fit", so suggestions can never contradict the stages or the fit tests. No meeting
type is named in this module's code; it must not draft questions or dates.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass

from cmcadvisor.conditions import Node
from cmcadvisor.facts import FactSet, derive_facts
from cmcadvisor.meetings.knowledge import MeetingKnowledge
from cmcadvisor.meetings.words import fill, meeting_name, plural, shown, stage_list
from cmcadvisor.models.meetings import MEETING_TYPE_IDS, FitCheck, FitOutcome, MeetingType
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.reference_eval import Truth, Verdict, evaluate_node

_ORDER: dict[str, int] = {"fits": 0, "check": 1, "does_not_fit": 2}
_RESULT = {Truth.TRUE: "true", Truth.FALSE: "false", Truth.UNKNOWN: "unknown"}


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
    done = held(program, as_of)
    scalars = dict(facts.scalars)
    scalars["meeting.held"] = mtype.id in done
    when = done.get(mtype.id)
    scalars["meeting.held_on"] = when.isoformat() if when else "date not given"
    scalars["meeting.question_points"] = points
    scalars["meeting.topic_spread"] = spread
    scalars["meeting.name"] = mtype.name
    lists = dict(facts.lists)
    lists["meetings.held"] = tuple(sorted(done))
    return FactSet(scalars=scalars, lists=lists, collections=facts.collections)


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
    agency = kn.agency(mtype)
    values = _values(facts)
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
        reason = (
            f"The program's stage ({shown('clinical.stage', stage)}) is one the {mtype.name} serves ({stage_list(mtype.stages)})."
        )
        checks.append(FitCheck(test=f"clinical.stage in {json.dumps(list(mtype.stages))}", result="true", reason=reason))
    else:
        worse("does_not_fit")
        reason = (
            f"The program's stage ({shown('clinical.stage', stage)}) is not one the {mtype.name} usually serves "
            f"({stage_list(mtype.stages)})."
        )
        checks.append(
            FitCheck(
                test=f"clinical.stage in {json.dumps(list(mtype.stages))}", result="false", effect="does_not_fit", reason=reason
            )
        )
    reasons.append(reason)
    for test in kn.fit_tests.get(mtype.id, ()):
        source = mtype.fit[test.index]
        if test.given is not None and evaluate_node(test.given, facts).truth != Truth.TRUE:
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
                text = fill(outcome.reason, values)
                reasons.append(text)
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
        checks.append(
            FitCheck(test=f"meeting.question_points ge {mtype.question_min}", result="false", effect="check", reason=reason)
        )
    return FitResult(fit, tuple(reasons), tuple(checks))


def suggested(mtype: MeetingType, facts: FactSet, kn: MeetingKnowledge) -> bool:
    """Whether ``mtype`` is one of the next meetings for the program whose facts (with meeting facts) are ``facts``."""
    node = kn.suggest.get(mtype.id)
    if node is None or evaluate_node(node, facts).truth != Truth.TRUE:
        return False
    return evaluate_fit(mtype, facts, kn).fit != "does_not_fit"


def example_facts(facts: dict[str, object]) -> FactSet:
    """The facts of a worked fit example (meetings.yaml ``examples``): lists are list facts, the rest scalars."""
    scalars = {k: v for k, v in facts.items() if not isinstance(v, list)}
    lists = {k: tuple(sorted(str(x) for x in v)) for k, v in facts.items() if isinstance(v, list)}
    lists.setdefault("meetings.held", ())
    lists.setdefault("program.regions", ("us",))
    for name, default in (("meeting.held", False), ("meeting.question_points", 0), ("meeting.topic_spread", 0)):
        scalars.setdefault(name, default)
    return FactSet(scalars=scalars, lists=lists)  # type: ignore[arg-type]


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
    out: list[str] = []
    for type_id, mtype in kn.types.items():
        if wanted is not None and mtype.agency not in wanted:
            continue
        if suggested(mtype, meeting_facts(program, as_of, mtype, base=base), kn):
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
    names = ", ".join(meeting_name(t) if t in MEETING_TYPE_IDS else kn.types[t].name for t in suggested)
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
