"""What the workspace pages show, computed through the one pipeline (``api``) and the existing renderers.

:class:`Workspace` holds the folder, the loaded rule pack and knowledge base (loaded once) and a
small cache of assessments keyed by the file's size and modification time, so a saved file is
assessed afresh. It gives each program's headline (the programs list and portfolio), its
assessment, a what-if against the baseline (``--set``-style changes applied in memory, compared
with :mod:`cmcadvisor.diff`, the file untouched), an explanation of any conclusion
(:mod:`cmcadvisor.explain`) and every download (the renderers the command line uses). Values
for readers go through the display vocabulary. This module knows no HTTP and writes no file.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmcadvisor import api, display
from cmcadvisor.diff import compare, snapshot_of
from cmcadvisor.errors import CmcAdvisorError, ErrorItem, UserInputError
from cmcadvisor.loader import Document
from cmcadvisor.memo import remember
from cmcadvisor.models.program import STAGES, ProgramFile
from cmcadvisor.models.result import AssessmentResult
from cmcadvisor.workspace import store
from cmcadvisor.workspace.safety import program_path

DOWNLOADS = {
    "report.html": ("HTML report", "text/html; charset=utf-8"),
    "assessment.json": ("Assessment (JSON)", "application/json"),
    "risk-register.xlsx": ("Risk register (Excel)", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "timeline.png": ("Timeline (PNG)", "image/png"),
    "timeline.svg": ("Timeline (SVG)", "image/svg+xml"),
    "audit.json": ("Audit record (JSON)", "application/json"),
}
BRIEF_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MAX_OVERRIDES = 20


@dataclass(frozen=True)
class Assessed:
    """One program assessed: the validated program, its document and result, and the facts of the run."""

    program: ProgramFile
    doc: Document
    result: AssessmentResult
    evaluated: api.Evaluated = field(repr=False)


@dataclass(frozen=True)
class Headline:
    """One row of the programs list: the headline of a program, or why it could not be assessed."""

    file: str
    name: str
    program_id: str = ""
    stage: str = ""
    stage_rank: int = -1
    pathways: tuple[str, ...] = ()
    open_high: int = 0
    late: tuple[str, ...] = ()
    make_or_buy: str = ""
    bla: str = ""
    errors: tuple[str, ...] = ()

    def sort_key(self, column: str) -> tuple[Any, ...]:
        """The value this row sorts by in ``column`` (then by file name)."""
        value: Any = {
            "stage": self.stage_rank,
            "pathways": len(self.pathways),
            "high": self.open_high,
            "late": len(self.late),
            "mob": self.make_or_buy,
            "bla": self.bla or "9999",
        }.get(column, self.name.lower())
        return (bool(self.errors), value, self.file)


@dataclass(frozen=True)
class Change:
    """One difference a what-if makes, in words: what, before, after."""

    what: str
    before: str
    after: str


@dataclass(frozen=True)
class WhatIf:
    """A what-if run: the changes asked, the result under them, and the differences from the baseline."""

    overrides: tuple[str, ...]
    result: AssessmentResult
    sections: list[tuple[str, list[Change]]]


class Workspace:
    """The folder served, the rule pack and knowledge base, and the assessments already made."""

    def __init__(self, root: Path, options: api.Options) -> None:
        """Serve ``root``; ``options``: the engine, packs and today's date (``today`` is injected)."""
        self.root = root.resolve()
        self.options = options
        self._context: api.Context | None = None
        self._cache: dict[tuple[str, int, int, tuple[str, ...]], Assessed | UserInputError] = {}
        self._lock = threading.Lock()

    @property
    def context(self) -> api.Context:
        """The rule pack and knowledge base, loaded at first use."""
        if self._context is None:
            self._context = api.load_context(self.options)
        return self._context

    # ------------------------------------------------------------------ assessing

    def assess(self, name: str, overrides: tuple[str, ...] = ()) -> Assessed:
        """Assess program file ``name`` (with what-if ``overrides``); a bad file raises :class:`UserInputError`."""
        path = program_path(self.root, name)
        info = path.stat()
        key = (name, info.st_mtime_ns, info.st_size, overrides)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self._assess(name, overrides)
            with self._lock:
                remember(self._cache, key, cached, 257)
        if isinstance(cached, UserInputError):
            raise cached
        return cached

    def _assess(self, name: str, overrides: tuple[str, ...]) -> Assessed | UserInputError:
        options = dataclasses.replace(self.options, overrides=overrides, stdin_filename=None)
        try:
            text = store.read_text(self.root, name)
            checked = store.check_text(text, name, self.context, overrides)
            if checked.program is None or checked.doc is None:
                return UserInputError(list(checked.problems))
            evaluated = api.evaluate(checked.program, self.context, options, checked.doc)
            return Assessed(checked.program, checked.doc, api.result_of(evaluated), evaluated)
        except UserInputError as exc:
            return exc

    def headline(self, name: str) -> Headline:
        """The programs-list row of ``name``."""
        try:
            assessed = self.assess(name)
        except UserInputError as exc:
            return Headline(name, name, errors=tuple(item.format() for item in exc.items[:3]))
        except CmcAdvisorError as exc:
            return Headline(name, name, errors=(f"could not be assessed: {exc}",))
        result, program = assessed.result, assessed.program
        stage = program.clinical.stage if program.clinical else None
        pathways = tuple(f"{p.name} ({display.term(p.status)})" for p in result.pathways if p.status in ("granted", "eligible"))
        milestones = {m.id: m.forecast for m in result.timeline.milestones}
        names = {a.id: a.name for a in result.timeline.activities} | {
            m.id: display.term(m.id) for m in result.timeline.milestones
        }
        return Headline(
            file=name,
            name=result.program.name,
            program_id=result.program.id,
            stage=cap(display.label("clinical.stage", stage)) if stage else "Not given",
            stage_rank=STAGES.index(stage) if stage in STAGES else -1,
            pathways=pathways,
            open_high=sum(n for s, n in result.summary.open_findings_by_severity.items() if s in ("critical", "high")),
            late=tuple(cap(names.get(i, display.term(i))) for i in result.timeline.late),
            make_or_buy=cap(display.label("make_or_buy.recommendation", result.make_or_buy.recommendation)),
            bla=milestones.get("bla_submission") or "",
        )

    def headlines(self, sort: str = "name", descending: bool = False) -> list[Headline]:
        """Every program's headline, sorted by ``sort`` (programs that fail to load last)."""
        rows = [self.headline(name) for name in store.program_names(self.root)]
        rows.sort(key=lambda row: row.sort_key(sort), reverse=descending)
        if descending:  # failed files stay last
            rows.sort(key=lambda row: bool(row.errors))
        return rows

    # ------------------------------------------------------------------ what-if, explain

    def what_if(self, name: str, overrides: tuple[str, ...]) -> WhatIf:
        """The assessment under ``overrides`` against the baseline, in words (the file untouched)."""
        base = self.assess(name)
        changed = self.assess(name, overrides)
        diff = compare(snapshot_of(base.result, base.evaluated.facts), snapshot_of(changed.result, changed.evaluated.facts))
        return WhatIf(overrides, changed.result, _sections(diff, base.result, changed.result))

    def explain(self, name: str, target: str) -> str:
        """The explanation of ``target`` (a rule, pathway, activity, milestone, meeting type or make-or-buy)."""
        from cmcadvisor import explain as explaining

        assessed = self.assess(name)
        answer = explaining.explain_target(assessed.program, self.context, target, assessed.evaluated.options, assessed.doc)
        return explaining.render_text(answer)

    def explain_summary(self, name: str, target: str) -> list[str]:
        """The conclusion ``target`` names, in plain sentences from the assessment (the trace gives the why)."""
        result = self.assess(name).result
        lines: list[str] = []
        for p in result.pathways:
            if p.id == target:
                lines += [f"{p.name}: {display.term(p.status)}.", p.rationale]
                lines += [f"Next step: {p.next_step}"] if p.next_step else []
        for f in result.findings:
            if f.rule == target and f.kind != "undetermined":
                lines += [f"{f.title} ({display.term(f.severity)}, {display.term(f.status)}).", f.detail]
        for a in result.timeline.activities:
            if a.id == target:
                lines.append(f"{a.name}: from {_date(a.start)} to {_date(a.finish)}.")
                lines += ["On the critical path."] if a.critical else []
                lines += [f"Late by {display.plural(a.late_by_days, 'day')}."] if a.late_by_days else []
        for m in result.timeline.milestones:
            if m.id == target:
                lines.append(f"{cap(display.term(m.id))}: forecast {_date(m.forecast)}; target {_date(m.target)}.")
        for meeting in result.meetings:
            if meeting.type == target:
                lines += [f"{meeting.name or cap(display.term(meeting.type))}: {meeting.purpose}"]
                lines += [f"Recommended for {_date(meeting.recommended_date)}; request due {_date(meeting.request_due)}."]
        if target == "make-or-buy":
            mob = result.make_or_buy
            rec = cap(display.label("make_or_buy.recommendation", mob.recommendation))
            lines += [f"{rec}, {display.term(mob.confidence)} confidence."] + ([mob.note] if mob.note else [])
        return [line for line in lines if line]

    def explain_targets(self, name: str) -> list[tuple[str, list[tuple[str, str]]]]:
        """What can be explained for ``name``, grouped: (group, [(target, label)])."""
        from cmcadvisor.explain import kind_of

        result = self.assess(name).result
        findings: dict[str, str] = {}
        for finding in result.findings:
            if finding.kind != "undetermined" and finding.status == "open":
                findings.setdefault(finding.rule, finding.title)
        groups = [
            ("Pathways", [(p.id, p.name) for p in result.pathways]),
            ("Findings", sorted(findings.items(), key=lambda item: item[1])),
            ("Activities", [(a.id, a.name) for a in result.timeline.activities]),
            ("Milestones", [(m.id, cap(display.term(m.id))) for m in result.timeline.milestones]),
            ("Meetings", [(m.type, m.name or display.term(m.type)) for m in result.meetings]),
            ("Make or buy", [("make-or-buy", "The make-or-buy recommendation")]),
        ]
        known: list[tuple[str, list[tuple[str, str]]]] = []
        for group, items in groups:
            kept = []
            for target, text in items:
                try:
                    kind_of(target, self.context)
                except UserInputError:
                    continue
                kept.append((target, text))
            if kept:
                known.append((group, kept))
        return known

    # ------------------------------------------------------------------ downloads

    def download(self, name: str, what: str, overrides: tuple[str, ...] = ()) -> bytes:
        """One download of ``name`` (a key of :data:`DOWNLOADS`), rendered as the command line renders it."""
        assessed = self.assess(name, overrides)
        result = assessed.result
        if what == "report.html":
            from cmcadvisor.render import render

            return render(result, "html").encode("utf-8")
        if what == "assessment.json":
            from cmcadvisor.render import render

            return render(result, "json").encode("utf-8")
        if what == "risk-register.xlsx":
            from cmcadvisor.render.risk_formats import render_risks

            data = render_risks(result, "xlsx")
            return data if isinstance(data, bytes) else data.encode("utf-8")
        if what in ("timeline.png", "timeline.svg"):
            from cmcadvisor.render.gantt import gantt

            return gantt(result, what.rsplit(".", 1)[1])
        if what == "audit.json":
            return self._audit(name, assessed)
        raise KeyError(what)

    def _audit(self, name: str, assessed: Assessed) -> bytes:
        from cmcadvisor import audit

        now = datetime.datetime.combine(self.options.today or datetime.date.today(), datetime.time(), datetime.UTC)
        record = audit.build_record(
            program_path(self.root, name),
            assessed.program,
            assessed.result,
            self.context,
            assessed.evaluated.options,
            audit.outputs_for(assessed.result, {}),
            now,
            now,
        )
        return (json.dumps(record, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")

    def scenarios(self, name: str, lines: tuple[str, ...], fmt: str) -> str | bytes:
        """The baseline and each scenario (``NAME: field=value, ...``) side by side, rendered as ``fmt`` (html or xlsx).

        Through :mod:`cmcadvisor.scenarios` (the one pipeline, the file untouched); a bad
        scenario raises :class:`UserInputError` naming it and the change.
        """
        from cmcadvisor.render.scenario_formats import render_scenarios
        from cmcadvisor.scenarios import parse_scenario, run_scenarios

        parsed = [parse_scenario(line) for line in lines]
        options = dataclasses.replace(self.options, overrides=())
        comparison = run_scenarios(program_path(self.root, name), parsed, options, self.context)
        return render_scenarios(comparison, fmt)

    def meeting_choices(self, name: str) -> list[tuple[str, str]]:
        """The meetings a brief can be drafted for: the recommended ones first, then every other type."""
        result = self.assess(name).result
        recommended = [(m.type, m.name or display.term(m.type)) for m in result.meetings]
        seen = {t for t, _ in recommended}
        others = [(t, display.term(t)) for t in sorted(self.context.meeting_types.types) if t not in seen]
        return recommended + others

    def brief_docx(self, name: str, meeting_type: str) -> bytes:
        """The Word brief of ``name`` for ``meeting_type`` (the command line's ``brief --format docx``)."""
        from cmcadvisor.meetings import build_brief, plan_meeting
        from cmcadvisor.render.brief_formats import render_brief

        assessed = self.assess(name)
        types = self.context.meeting_types
        meeting = plan_meeting(assessed.result, assessed.program, meeting_type, None, types, gates=self.context.pack.region_gates)
        data = render_brief(build_brief(assessed.result, assessed.program, meeting, types), "docx")
        return data if isinstance(data, bytes) else data.encode("utf-8")


def cap(text: str) -> str:
    """The text with its first letter capitalised (labels of the vocabulary are lower case)."""
    return text[:1].upper() + text[1:]


def problems_text(items: list[ErrorItem] | tuple[ErrorItem, ...]) -> list[str]:
    """Validation problems as the command line prints them (``file:line: field: message``)."""
    return [item.format() for item in items]


def _value(path: str, value: object) -> str:
    if value is None:
        return "Not given"
    if isinstance(value, list):
        return ", ".join(_value(path, v) for v in value) or "None"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return cap(display.label(path, value))


def _finding_state(entry: Any) -> str:
    return cap(", ".join(display.term(v) for v in (entry.severity, entry.status) if v))


def _date(value: str | None) -> str:
    return display.human_date(value) if value else "Not forecast"


def _sections(diff: Any, base: AssessmentResult, new: AssessmentResult) -> list[tuple[str, list[Change]]]:
    pathway_names = {p.id: p.name for p in [*base.pathways, *new.pathways]}
    milestone_names = {m.id: cap(display.term(m.id)) for m in [*base.timeline.milestones, *new.timeline.milestones]}
    sections: list[tuple[str, list[Change]]] = [
        ("Facts changed", [Change(cap(display.fact_label(f)), _value(f, o), _value(f, n)) for f, o, n in diff.facts]),
        (
            "Pathways",
            [
                Change(
                    pathway_names.get(p, display.term(p)),
                    cap(display.term(o)) if o else "Not assessed",
                    cap(display.term(n)) if n else "Not assessed",
                )
                for p, o, n in diff.pathways
            ],
        ),
        (
            "Milestone forecasts",
            [Change(milestone_names.get(m, display.term(m)), _date(o), _date(n)) for m, o, n in diff.milestones],
        ),
        (
            "Findings",
            [
                Change(e.title, "Not raised", cap(display.term(e.severity)) if e.severity else "Raised")
                for e in diff.findings_gained
            ]
            + [Change(e.title, cap(display.term(e.severity)) if e.severity else "Raised", "Resolved") for e in diff.findings_lost]
            + [Change(n.title, _finding_state(o), _finding_state(n)) for o, n in diff.findings_changed],
        ),
        (
            "Risks",
            [Change(e.title, "Not raised", f"Score {e.score}") for e in diff.risks_gained]
            + [Change(e.title, f"Score {e.score}", "Gone") for e in diff.risks_lost]
            + [Change(n.title, f"Score {o.score}", f"Score {n.score}") for o, n in diff.risks_changed],
        ),
    ]
    if diff.make_or_buy:
        old, new_value = diff.make_or_buy
        sections.append(
            (
                "Make or buy",
                [
                    Change(
                        "Recommendation",
                        cap(display.label("make_or_buy.recommendation", old)),
                        cap(display.label("make_or_buy.recommendation", new_value)),
                    )
                ],
            )
        )
    return [(title, rows) for title, rows in sections if rows]
