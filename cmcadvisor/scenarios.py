"""Scenario planning: the baseline and named sets of what-if changes, assessed side by side.

A scenario is a named set of ``--set`` changes (:func:`parse_scenario` reads
``"NAME: field=value, field=value"``; :func:`load_scenarios` reads a scenarios file). Each is
assessed through the one pipeline (:func:`cmcadvisor.api.read_validated` with the changes as
overrides, then :func:`cmcadvisor.api.evaluate` and :func:`cmcadvisor.api.result_of`), so a
wrong key or value fails exactly as ``--set`` does, reported against the scenario and the
change. Findings are matched against the baseline by rule and item as ``diff`` matches them
(:func:`cmcadvisor.diff.snapshot_of`). :func:`run_scenarios` returns a
:class:`~cmcadvisor.models.scenarios.ScenarioComparison`; this module never prints, renders
or reads the wall clock.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Sequence
from pathlib import Path

from cmcadvisor import __version__, api, display, loader
from cmcadvisor.diff import Entry, Snapshot, compare, snapshot_of
from cmcadvisor.errors import ErrorItem, UsageError, UserInputError
from cmcadvisor.models import SEVERITY_RANK
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult
from cmcadvisor.models.scenarios import (
    BASELINE,
    Change,
    ChangeShown,
    FindingShown,
    MeetingShown,
    MilestoneForecast,
    PathwayChange,
    RiskShown,
    Scenario,
    ScenarioComparison,
    ScenarioFile,
    ScenarioOutcome,
)
from cmcadvisor.render import summary
from cmcadvisor.validation import apply_overrides, validate_document, validate_program

MAX_NAME = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORM = 'give "NAME: FIELD=VALUE, FIELD=VALUE", e.g. "CDMO: manufacturing.strategy=cdmo"'
HIGH = ("critical", "high")


def _check_name(name: str, where: str, line: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise UsageError.single(where, f"a scenario needs a name; {_FORM}", line=line)
    if len(name) > MAX_NAME:
        raise UsageError.single(where, f"scenario name {name[:20]!r}... is longer than {MAX_NAME} characters", line=line)
    if _CONTROL.search(name):
        raise UsageError.single(where, f"scenario name {name!r} holds a control character; remove it", line=line)
    if name.casefold() == BASELINE.casefold():
        raise UsageError.single(where, f'"{BASELINE}" is always included; give the scenario another name', line=line)
    return name


def parse_scenario(text: str) -> Scenario:
    """One ``--scenario`` value: ``"NAME: field=value, field=value"`` (commas separate the changes)."""
    name, sep, rest = text.partition(":")
    if not sep:
        raise UsageError.single("--scenario", f"{text!r}: {_FORM}")
    name = _check_name(name, "--scenario")
    changes: list[Change] = []
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise UsageError.single("--scenario", f'scenario "{name}": {part!r} is not FIELD=VALUE; {_FORM}')
        changes.append(Change(key=key.strip(), value=value.strip()))
    if not changes:
        raise UsageError.single("--scenario", f'scenario "{name}": give at least one change; {_FORM}')
    return Scenario(name=name, changes=tuple(changes))


def _value_text(value: object) -> str:
    """A value from a scenarios file as the text ``--set`` reads back to the same value."""
    if not isinstance(value, str):
        return display.scalar_text(value)
    text = value
    try:
        same = text == text.strip() and loader.parse_text(text, "scenario").data == text
    except UserInputError:
        same = False
    return text if same else json.dumps(text)


def load_scenarios(path: Path) -> list[Scenario]:
    """Read a scenarios file: a YAML list (bare or under ``scenarios:``) of name, description and changes."""
    try:
        doc = loader.load_document(path)
    except UserInputError as exc:
        raise UsageError(exc.items) from None
    if isinstance(doc.data, list):
        lines = {("scenarios", *loc): n for loc, n in doc.lines.items()}
        doc = dataclasses.replace(doc, data={"scenarios": doc.data}, lines=lines)
    spec = validate_document(doc, ScenarioFile, UsageError)
    scenarios: list[Scenario] = []
    for index, entry in enumerate(spec.scenarios):
        name = _check_name(entry.name, doc.source, doc.line_of(("scenarios", index, "name")))
        if not entry.changes:
            line = doc.line_of(("scenarios", index))
            raise UsageError.single(doc.source, f'scenario "{name}": give at least one change', line=line, location="changes")
        changes = tuple(
            Change(key=key, value=_value_text(value), source=doc.source, line=doc.line_of(("scenarios", index, "changes", key)))
            for key, value in entry.changes.items()
        )
        scenarios.append(Scenario(name=name, description=entry.description, changes=changes))
    _check_unique(scenarios, doc.source)
    return scenarios


def _check_unique(scenarios: Sequence[Scenario], where: str) -> None:
    seen: set[str] = set()
    for scenario in scenarios:
        _check_name(scenario.name, where)
        key = scenario.name.casefold()
        if key in seen:
            raise UsageError.single(where, f'two scenarios are named "{scenario.name}"; give each its own name')
        seen.add(key)


# ------------------------------------------------------------------------------------ assessing


def _change_of(scenario: Scenario, item: ErrorItem) -> Change | None:
    """The change an error is about: the one whose field the error's location (or message) names."""
    for change in scenario.changes:
        if item.location and (item.location == change.key or item.location.startswith((change.key + ".", change.key + "["))):
            return change
        if not item.location and item.message.startswith(change.key + ":"):
            return change
    for change in scenario.changes:  # an error inside a section the change created: the change that leads to it
        if item.location and change.key.split(".", 1)[0] == item.location.split(".", 1)[0]:
            return change
    return None


def _scenario_error(scenario: Scenario, exc: UserInputError) -> UsageError:
    """An error from applying or validating a scenario's changes, naming the scenario and the change."""
    items: list[ErrorItem] = []
    for item in exc.items:
        if item.source != "--set":  # the program itself (or a check across fields), with the scenario named
            items.append(dataclasses.replace(item, message=f'in scenario "{scenario.name}": {item.message}'))
            continue
        change = _change_of(scenario, item)
        source = (change.source or "--scenario") if change else "--scenario"
        line = change.line if change else None
        what = f'scenario "{scenario.name}", change {change.text}' if change else f'scenario "{scenario.name}"'
        message = item.message
        if change and not item.location and message.startswith(change.key + ":"):
            message = message[len(change.key) + 1 :].strip()
        elif item.location and not (change and item.location == change.key):
            message = f"{item.location}: {message}"
        items.append(ErrorItem(source, line, what, message, item.hint))
    return UsageError(items)


def _assess(
    source: Path | ProgramFile, scenario: Scenario | None, options: api.Options, context: api.Context
) -> tuple[AssessmentResult, Snapshot]:
    """One scenario (None: the baseline) through the one pipeline: overrides, validation, rules, result."""
    extra = scenario.overrides if scenario else ()
    opts = dataclasses.replace(options, overrides=options.overrides + extra)
    try:
        if isinstance(source, ProgramFile):
            base = loader.Document("program", source.model_dump(mode="json", exclude_none=True), {})
            doc = apply_overrides(base, opts.overrides)
            program = validate_program(doc, api.rule_lookup(context.pack))
        else:
            program, doc = api.read_validated(source, opts, context)
        evaluated = api.evaluate(program, context, opts, doc)
    except UserInputError as exc:
        if scenario is None:
            raise
        raise _scenario_error(scenario, exc) from None
    result = api.result_of(evaluated)
    return result, snapshot_of(result, evaluated.facts)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _when(due: str, as_of: str) -> str:
    """A due date against the as-of date, in words."""
    days = (datetime.date.fromisoformat(due) - datetime.date.fromisoformat(as_of)).days
    if days == 0:
        return "on the as-of date"
    return f"overdue by {display.quantity(-days, 'days')}" if days < 0 else f"in {display.quantity(days, 'days')}"


def _milestone(result: AssessmentResult, key: str) -> MilestoneForecast | None:
    for m in result.timeline.milestones:
        if m.id == key:
            name = _capital(display.term(m.id))
            return MilestoneForecast(id=m.id, name=name, target=m.target, forecast=m.forecast, late_by_days=m.late_by_days)
    return None


def _open_high(snap: Snapshot) -> dict[tuple[str, str | None], Entry]:
    return {k: e for k, e in snap.findings.items() if e.status == "open" and e.severity in HIGH}


def _findings(snap: Snapshot, base: Snapshot | None) -> list[FindingShown]:
    now = _open_high(snap)
    before = _open_high(base) if base is not None else now
    shown = [
        FindingShown(
            rule=e.rule, item=e.item, title=e.title, severity=e.severity or "", change="new" if k not in before else "unchanged"
        )
        for k, e in now.items()
    ]
    shown += [
        FindingShown(rule=e.rule, item=e.item, title=e.title, severity=e.severity or "", change="resolved")
        for k, e in before.items()
        if k not in now
    ]
    order = {"new": 0, "unchanged": 1, "resolved": 2}
    return sorted(shown, key=lambda f: (order[f.change], SEVERITY_RANK.get(f.severity, 9), f.title, f.rule, f.item or ""))


def _pathway_changes(
    result: AssessmentResult, snap: Snapshot, base: Snapshot, base_result: AssessmentResult
) -> list[PathwayChange]:
    names = {p.id: p.name for p in base_result.pathways} | {p.id: p.name for p in result.pathways}
    return [
        PathwayChange(
            id=pid,
            name=names.get(pid, display.term(pid)),
            baseline=old,
            status=new,
            baseline_text=display.term(old) if old else "not assessed",
            status_text=display.term(new) if new else "not assessed",
        )
        for pid, old, new in compare(base, snap).pathways
    ]


def _meeting(result: AssessmentResult) -> MeetingShown | None:
    future = sorted(
        (m for m in result.meetings if m.recommended_date and m.recommended_date >= result.as_of),
        key=lambda m: (m.recommended_date or "", m.type),
    )
    if not future:
        return None
    m = future[0]
    return MeetingShown(
        type=m.type,
        name=_capital(display.term(m.type)),
        date=m.recommended_date,
        request_due=m.request_due,
        request_when=_when(m.request_due, result.as_of) if m.request_due else "",
    )


def _shown_change(change: Change) -> ChangeShown:
    try:
        value = loader.parse_text(change.value, "scenario").data if change.value else None
    except UserInputError:
        value = change.value
    return ChangeShown(key=change.key, value=change.value, text=display.fact_line(change.key, value))


def _outcome(
    scenario: Scenario | None,
    result: AssessmentResult,
    snap: Snapshot,
    base: tuple[AssessmentResult, Snapshot] | None,
) -> ScenarioOutcome:
    view = summary.executive_summary(result)
    return ScenarioOutcome(
        name=scenario.name if scenario else BASELINE,
        description=scenario.description if scenario else "The program file as written.",
        baseline=scenario is None,
        changes=[_shown_change(c) for c in scenario.changes] if scenario else [],
        make_or_buy=result.make_or_buy.recommendation,
        make_or_buy_confidence=result.make_or_buy.confidence,
        make_or_buy_text=view.make_or_buy.answer,
        bla_submission=_milestone(result, "bla_submission"),
        bla_approval=_milestone(result, "bla_approval"),
        critical_path=view.timeline.critical_path,
        late_items=view.timeline.delays,
        findings=_findings(snap, base[1] if base else None),
        pathway_changes=_pathway_changes(result, snap, base[1], base[0]) if base else [],
        top_risks=[RiskShown(title=r.title, level=r.level, score=r.score) for r in view.risks],
        next_meeting=_meeting(result),
        would_flip_if=view.make_or_buy.flips,
        result=result,
    )


def run_scenarios(
    path_or_program: Path | ProgramFile,
    scenarios: Sequence[Scenario],
    options: api.Options,
    context: api.Context | None = None,
) -> ScenarioComparison:
    """Assess the baseline and every scenario (in the order given) and compare them side by side.

    ``path_or_program`` is a program file (``-``: standard input) or an already validated
    program; ``options.overrides`` apply to the baseline and every scenario alike. A bad change
    raises :class:`~cmcadvisor.errors.UsageError` naming the scenario and the change.
    """
    _check_unique(scenarios, "--scenario")
    context = context or api.load_context(options)
    base_result, base_snap = _assess(path_or_program, None, options, context)
    outcomes = [_outcome(None, base_result, base_snap, None)]
    for scenario in scenarios:
        result, snap = _assess(path_or_program, scenario, options, context)
        outcomes.append(_outcome(scenario, result, snap, (base_result, base_snap)))
    return ScenarioComparison(
        program_id=base_result.program.id,
        program_name=base_result.program.name,
        as_of=base_result.as_of,
        tool_version=__version__,
        scenarios=outcomes,
    )
