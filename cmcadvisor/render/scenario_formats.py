"""Scenario comparisons as a terminal table, Markdown, one HTML page, an XLSX workbook or JSON.

Every format shows the same comparison rows (:func:`comparison_rows`), in the display
vocabulary's words (no rule ids or enum values in prose): the baseline first, then each
scenario in the order given. The HTML page draws one Gantt chart per scenario on one shared
time axis (:func:`cmcadvisor.render.gantt.gantt` with a common ``span``), inlined as SVG. The
workbook has a comparison sheet and one sheet per scenario; every cell passes through
:mod:`cmcadvisor.render.cells`. Output is deterministic. This module formats only: it never
assesses or compares.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from typing import Any

from cmcadvisor import display
from cmcadvisor.models.scenarios import ScenarioComparison, ScenarioOutcome
from cmcadvisor.render.cells import xlsx_text
from cmcadvisor.render.office import stable_zip

SCENARIO_FORMATS = ("table", "markdown", "html", "xlsx", "json")
TOP_RISKS_SHOWN = 3
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
NONE = "none"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _date(value: str | None) -> str:
    return display.human_date(value) if value else "not forecast"


def _milestone_text(outcome: ScenarioOutcome, which: str) -> str:
    m = outcome.bla_submission if which == "submission" else outcome.bla_approval
    if m is None or not m.forecast:
        return "not forecast"
    text = _date(m.forecast)
    if m.late_by_days:
        text += f" ({display.quantity(m.late_by_days, 'days')} after the target)"
    return text


def _late_lines(outcome: ScenarioOutcome) -> list[str]:
    """Each late long-lead item in a few words: how late, and how far it moves the BLA."""
    lines = []
    for item in outcome.result.timeline.late_items:
        name = display.shorten(_capital(item.name.split(": ", 1)[-1]), 60)
        late = f"{display.quantity(item.late_by_days, 'days')} late" if item.late_by_days else "holds work up"
        moves = (
            f"moves the BLA by {display.quantity(item.bla_delay_days, 'days')}"
            if item.bla_delay_days
            else "does not move the BLA"
        )
        lines.append(f"{name}: {late}; {moves}")
    return lines


def _finding_counts(outcome: ScenarioOutcome) -> str:
    open_now = outcome.open_high
    new = sum(1 for f in outcome.findings if f.change == "new")
    resolved = sum(1 for f in outcome.findings if f.change == "resolved")
    text = f"{len(open_now)} open"
    if not outcome.baseline:
        text += f" ({new} new, {resolved} resolved)"
    return text


def _titles(outcome: ScenarioOutcome, change: str) -> list[str]:
    return [f"{f.title} ({display.term(f.severity)})" for f in outcome.findings if f.change == change]


def _meeting_text(outcome: ScenarioOutcome) -> str:
    m = outcome.next_meeting
    if m is None:
        return "none planned"
    text = f"{m.name}, {_date(m.date)}"
    if m.request_due:
        text += f"; request due {_date(m.request_due)} ({m.request_when})"
    return text


def comparison_rows(comparison: ScenarioComparison) -> list[tuple[str, list[list[str]]]]:
    """The comparison, row by row: a label and, per scenario, the lines of its cell."""
    outcomes = comparison.scenarios

    def row(label: str, cell: Any) -> tuple[str, list[list[str]]]:
        return label, [cell(o) or [NONE] for o in outcomes]

    return [
        row("Changes", lambda o: [c.text for c in o.changes] or ["the program as written"]),
        row("Make or buy", lambda o: [o.make_or_buy_text]),
        row("BLA submission forecast", lambda o: [_milestone_text(o, "submission")]),
        row("BLA approval forecast", lambda o: [_milestone_text(o, "approval")]),
        row("Critical path", lambda o: [" → ".join(o.critical_path)] if o.critical_path else []),
        row("Late items and their knock-on", _late_lines),
        row("Open high and critical findings", lambda o: [_finding_counts(o)]),
        row("New findings", lambda o: _titles(o, "new") if not o.baseline else ["(baseline)"]),
        row("Resolved findings", lambda o: _titles(o, "resolved") if not o.baseline else ["(baseline)"]),
        row(
            "Pathway statuses that change",
            lambda o: (
                [f"{p.name}: {p.baseline_text} to {p.status_text}" for p in o.pathway_changes]
                if not o.baseline
                else ["(baseline)"]
            ),
        ),
        row("Top risks", lambda o: [f"{r.title} (score {r.score})" for r in o.top_risks[:TOP_RISKS_SHOWN]]),
        row("Next FDA meeting", lambda o: [_meeting_text(o)]),
        row("Would still flip make-or-buy", lambda o: o.would_flip_if),
    ]


# ----------------------------------------------------------------------------------------- table


def scenarios_table(comparison: ScenarioComparison, *, color: bool = False, width: int = 100) -> str:
    """A terminal table: one column per scenario, one row per thing compared (wrapped to ``width``)."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = io.StringIO()
    console = Console(file=out, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False)
    console.print(f"[bold]Scenarios: {escape(comparison.program_name)}[/bold] (as of {display.human_date(comparison.as_of)})")
    table = Table(box=box.SIMPLE_HEAD, show_lines=True, expand=True, pad_edge=False)
    table.add_column("", style="bold", ratio=2, overflow="fold")
    for outcome in comparison.scenarios:
        table.add_column(escape(outcome.name), ratio=3, overflow="fold")
    for label, cells in comparison_rows(comparison):
        table.add_row(
            label, *("\n".join(f"- {escape(line)}" if len(lines) > 1 else escape(line) for line in lines) for lines in cells)
        )
    console.print(table)
    described = [o for o in comparison.scenarios if o.description and not o.baseline]
    for outcome in described:
        console.print(f"[bold]{escape(outcome.name)}[/bold]: {escape(outcome.description)}")
    return out.getvalue()


# ------------------------------------------------------------------------------ markdown and HTML


def _context(comparison: ScenarioComparison) -> dict[str, object]:
    return {
        "comparison": comparison,
        "rows": comparison_rows(comparison),
        "late": {o.name: _late_lines(o) for o in comparison.scenarios},
    }


def scenarios_markdown(comparison: ScenarioComparison, templates: str | None = None) -> str:
    """The comparison as Markdown: one table, then each scenario's details."""
    from cmcadvisor.render.templating import render_template

    return render_template("scenarios.md.j2", templates, **_context(comparison))


def _span(comparison: ScenarioComparison) -> tuple[datetime.date, datetime.date]:
    """The first and last dates any scenario's chart shows: the shared time axis."""
    dates = [datetime.date.fromisoformat(o.result.as_of) for o in comparison.scenarios]
    for outcome in comparison.scenarios:
        timeline = outcome.result.timeline
        for a in timeline.activities:
            if a.start and a.finish and a.status != "complete":
                dates += [datetime.date.fromisoformat(a.start), datetime.date.fromisoformat(a.finish)]
        dates += [datetime.date.fromisoformat(m.forecast) for m in timeline.milestones if m.forecast and m.status != "achieved"]
    return min(dates), max(dates)


def _inline_svg(data: bytes) -> str:
    """An SVG document as an element to inline in HTML (the XML prologue and doctype dropped)."""
    text = data.decode("utf-8")
    return text[text.index("<svg") :]


def scenarios_html(comparison: ScenarioComparison, templates: str | None = None) -> str:
    """One page: the comparison table, then each scenario with its Gantt chart on the shared time axis."""
    from markupsafe import Markup

    from cmcadvisor.render.gantt import gantt
    from cmcadvisor.render.templating import render_html_template

    span = _span(comparison)
    charts = {
        o.name: Markup(_inline_svg(gantt(o.result, "svg", span=span, title=f"{comparison.program_name}: {o.name}")))  # noqa: S704 - our own matplotlib SVG; its text is escaped
        for o in comparison.scenarios
    }
    return render_html_template("scenarios.html.j2", templates, charts=charts, **_context(comparison))


# ------------------------------------------------------------------------------------------ XLSX


def _sheet_name(name: str, used: set[str]) -> str:
    base = _SHEET_UNSAFE.sub(" ", name).strip(" '") or "Scenario"
    base = base[:28]
    candidate, n = base, 2
    while candidate.casefold() in used:
        candidate = f"{base[:25]} ({n})"
        n += 1
    used.add(candidate.casefold())
    return candidate


def _detail_rows(outcome: ScenarioOutcome) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("Scenario", outcome.name)]
    if outcome.description:
        rows.append(("Description", outcome.description))
    rows += [("Change", c.text) for c in outcome.changes]
    rows += [
        ("Make or buy", outcome.make_or_buy_text),
        ("BLA submission forecast", _milestone_text(outcome, "submission")),
        ("BLA approval forecast", _milestone_text(outcome, "approval")),
        ("Critical path", " → ".join(outcome.critical_path) or NONE),
        ("Next FDA meeting", _meeting_text(outcome)),
    ]
    rows += [("Late item", line) for line in outcome.late_items]
    change_words = {"new": "Open (new)", "unchanged": "Open", "resolved": "Resolved"}
    rows += [(f"{change_words[f.change]} {display.term(f.severity)} finding", f.title) for f in outcome.findings]
    rows += [("Pathway status change", f"{p.name}: {p.baseline_text} to {p.status_text}") for p in outcome.pathway_changes]
    rows += [("Top risk", f"{r.title} (score {r.score}, {display.term(r.level)})") for r in outcome.top_risks]
    rows += [("Would flip make-or-buy", flip) for flip in outcome.would_flip_if]
    return rows


def scenarios_xlsx(comparison: ScenarioComparison) -> bytes:
    """A workbook: "Comparison" (one column per scenario), then one sheet per scenario."""
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
    from openpyxl.writer.excel import ExcelWriter  # type: ignore[import-untyped]

    day = datetime.date.fromisoformat(comparison.as_of)
    when = datetime.datetime(day.year, day.month, day.day)
    workbook = Workbook()
    workbook.properties.created = workbook.properties.modified = when
    workbook.properties.creator = workbook.properties.lastModifiedBy = "cmcadvisor"
    workbook.properties.title = xlsx_text(f"Scenarios: {comparison.program_name}")
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="D9E1F2")
    wrap = Alignment(wrap_text=True, vertical="top")

    def landscape(sheet: Any) -> None:
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True

    sheet = workbook.active
    sheet.title = "Comparison"
    sheet.cell(
        row=1, column=1, value=xlsx_text(f"Scenarios: {comparison.program_name}, as of {display.human_date(comparison.as_of)}")
    ).font = bold
    headers = ["", *(o.name for o in comparison.scenarios)]
    for col, text in enumerate(headers, 1):
        cell = sheet.cell(row=2, column=col, value=xlsx_text(text))
        cell.font, cell.fill, cell.alignment = bold, fill, wrap
        sheet.column_dimensions[get_column_letter(col)].width = 26 if col == 1 else 48
    for row, (label, cells) in enumerate(comparison_rows(comparison), 3):
        sheet.cell(row=row, column=1, value=xlsx_text(label)).font = bold
        sheet.cell(row=row, column=1).alignment = wrap
        for col, lines in enumerate(cells, 2):
            sheet.cell(row=row, column=col, value=xlsx_text("\n".join(lines))).alignment = wrap
        tallest = max(sum(1 + len(line) // 55 for line in lines) for lines in cells)
        sheet.row_dimensions[row].height = min(409, 15 * tallest)
    sheet.freeze_panes = "B3"
    landscape(sheet)
    used = {"comparison"}
    for outcome in comparison.scenarios:
        detail = workbook.create_sheet(_sheet_name(outcome.name, used))
        for col, (text, size) in enumerate((("What", 30), ("Detail", 110)), 1):
            cell = detail.cell(row=1, column=col, value=text)
            cell.font, cell.fill = bold, fill
            detail.column_dimensions[get_column_letter(col)].width = size
        for row, (what, text) in enumerate(_detail_rows(outcome), 2):
            detail.cell(row=row, column=1, value=xlsx_text(what)).alignment = wrap
            detail.cell(row=row, column=2, value=xlsx_text(text)).alignment = wrap
            detail.row_dimensions[row].height = 15 * (1 + len(text) // 120)
        detail.freeze_panes = "A2"
        landscape(detail)
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).write_data()
    return stable_zip(raw.getvalue(), day)


# ----------------------------------------------------------------------------------------- dispatch


def render_scenarios(
    comparison: ScenarioComparison, fmt: str, *, color: bool = False, width: int = 100, templates: str | None = None
) -> str | bytes:
    """The comparison in one of :data:`SCENARIO_FORMATS` (XLSX is bytes, the rest text)."""
    if fmt == "json":
        return comparison.model_dump_json(indent=2) + "\n"
    if fmt == "markdown":
        return scenarios_markdown(comparison, templates)
    if fmt == "html":
        return scenarios_html(comparison, templates)
    if fmt == "xlsx":
        return scenarios_xlsx(comparison)
    if fmt == "table":
        return scenarios_table(comparison, color=color, width=width)
    raise ValueError(f"unknown scenarios format {fmt!r}")
