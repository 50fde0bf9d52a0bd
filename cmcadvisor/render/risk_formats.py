"""The risk register as a terminal table, CSV, Markdown, JSON, HTML and an XLSX workbook.

Every format prints the same :class:`~cmcadvisor.models.result.Risk` entries in the order
given. User-controlled text is neutralised for each format: spreadsheet cells that could be
read as a formula get a leading apostrophe (CSV and XLSX), Markdown metacharacters are
escaped, HTML is autoescaped by the template environment, and the terminal prints text, never
rich markup. The workbook is byte-identical for identical input (fixed timestamps derived from
``as_of``). This module only formats; it never scores or selects risks.
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any, Literal, assert_never

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmcadvisor import display
from cmcadvisor.models.result import AssessmentResult, Risk
from cmcadvisor.render.cells import csv_text, xlsx_text
from cmcadvisor.render.office import stable_zip
from cmcadvisor.render.templating import escape_markdown, render_html_template
from cmcadvisor.risks import risk_level

RiskFormat = Literal["table", "csv", "xlsx", "markdown", "json", "html"]
RISK_FORMATS: tuple[str, ...] = ("table", "csv", "xlsx", "markdown", "json", "html")

COLUMNS: tuple[str, ...] = (
    "id",
    "title",
    "status",
    "category",
    "cause",
    "effect",
    "likelihood",
    "impact",
    "score",
    "level",
    "mitigation",
    "owner",
    "trigger",
    "rules",
    "topics",
    "finding",
    "citations",
)
_NUMERIC = frozenset({"likelihood", "impact", "score"})
_WIDTHS = {
    "id": 8,
    "title": 40,
    "status": 9,
    "category": 18,
    "cause": 60,
    "effect": 40,
    "likelihood": 11,
    "impact": 8,
    "score": 7,
    "level": 9,
    "mitigation": 60,
    "owner": 20,
    "trigger": 40,
    "rules": 16,
    "topics": 24,
    "finding": 9,
    "citations": 30,
}
_LEVEL_STYLE = {"high": "bold red", "medium": "yellow", "low": "green"}
# Fill colours of the score bands (Excel's "bad", "neutral" and "good" cell styles).
_BAND_FILL = {"high": "FFC7CE", "medium": "FFEB9C", "low": "C6EFCE"}
_BAND_FONT = {"high": "9C0006", "medium": "9C5700", "low": "006100"}
_EPOCH = datetime.datetime(2000, 1, 1)
# The workbook's "Register" sheet: what a reader prints (ids of rules, findings and sources go to "Trace").
SHEET_COLUMNS: tuple[str, ...] = (
    "id",
    "title",
    "category",
    "cause",
    "effect",
    "likelihood",
    "impact",
    "score",
    "level",
    "mitigation",
    "owner",
    "trigger",
    "status",
)
SHEET_HEADERS = {
    "id": "ID",
    "title": "Risk",
    "category": "Category",
    "cause": "Cause",
    "effect": "Effect",
    "likelihood": "L",
    "impact": "I",
    "score": "Score",
    "level": "Level",
    "mitigation": "Mitigation",
    "owner": "Owner",
    "trigger": "Trigger",
    "status": "Status",
}
_SHEET_WIDTHS = {
    "id": 7,
    "title": 28,
    "category": 14,
    "cause": 36,
    "effect": 30,
    "likelihood": 4,
    "impact": 4,
    "score": 6,
    "level": 8,
    "mitigation": 40,
    "owner": 13,
    "trigger": 28,
    "status": 8,
}
_TRACE_COLUMNS: tuple[str, ...] = ("id", "rules", "finding", "topics", "citations")
_PRINT_TITLES = {"Register": "Risk register", "Heat map": "Risk heat map", "Trace": "Risk register trace (internal)"}
_LABELLED = frozenset({"category", "level", "status"})
# Row heights: 9-point text fits about 1.35 characters per unit of column width (measured in LibreOffice with a
# font wider than Calibri, so Excel fits more), at most 11.5 points a line; one spare line is kept for safety.
_CHARS_PER_WIDTH = 1.35
_LINE_POINTS = 11.5


def _sheet_values(risk: Risk) -> dict[str, object]:
    """The register sheet's cells: enum ids shown as their display labels."""
    values = _values(risk)
    return {c: display.term(str(values[c])) if c in _LABELLED and values[c] else values[c] for c in SHEET_COLUMNS}


def _row_height(values: dict[str, object], widths: dict[str, int] | None = None) -> float:
    """A row height (points) that shows every wrapped line of the row's longest cell."""
    widths = widths or _SHEET_WIDTHS
    lines = 1
    for column, value in values.items():
        if value is None or column in _NUMERIC:
            continue
        per_line = max(1, int(widths[column] * _CHARS_PER_WIDTH) - 1)
        count = 0
        for paragraph in str(value).split("\n"):
            words, length = paragraph.split(), 0
            count += 1
            for word in words:  # wrap by words, as the spreadsheet does
                if length and length + 1 + len(word) > per_line:
                    count += 1 + (len(word) - 1) // per_line
                    length = len(word) % per_line or per_line
                else:
                    length += (1 if length else 0) + len(word)
        lines = max(lines, count)
    return min(409.0, round((lines + 1) * _LINE_POINTS, 1))


def _header_text(text: str) -> str:
    """Text for a print header or footer: ``&`` starts a code there, so it is doubled."""
    return _text_cell(text).replace("&", "&&")[:200]


def heat_map(risks: Sequence[Risk]) -> dict[tuple[int, int], list[str]]:
    """Risk ids by (likelihood, impact), for every cell of the 5x5 grid."""
    grid: dict[tuple[int, int], list[str]] = {(lik, imp): [] for lik in range(1, 6) for imp in range(1, 6)}
    for risk in risks:
        grid.setdefault((risk.likelihood, risk.impact), []).append(risk.id)
    return grid


def _grid_rows(risks: Sequence[Risk]) -> list[dict[str, Any]]:
    """Heat-map rows, likelihood 5 at the top, for templates (which do not compute)."""
    grid = heat_map(risks)
    return [
        {
            "likelihood": lik,
            "cells": [
                {
                    "impact": imp,
                    "score": lik * imp,
                    "band": risk_level(lik * imp),
                    "count": len(grid[lik, imp]),
                    "ids": grid[lik, imp],
                }
                for imp in range(1, 6)
            ],
        }
        for lik in range(5, 0, -1)
    ]


def _values(risk: Risk) -> dict[str, object]:
    data = risk.model_dump(mode="json")
    return {column: " ".join(data[column]) if isinstance(data[column], list) else data[column] for column in COLUMNS}


def _level_counts(risks: Sequence[Risk]) -> dict[str, int]:
    return {level: sum(1 for r in risks if r.level == level) for level in ("high", "medium", "low")}


def _as_of_text(as_of: str | datetime.date | None) -> str | None:
    return as_of.isoformat() if isinstance(as_of, datetime.date) else as_of


# ---------------------------------------------------------------------------------- text formats


def risks_table(
    risks: Sequence[Risk], program_name: str, *, color: bool = False, as_of: str | datetime.date | None = None, width: int = 110
) -> str:
    """The register as a rich table (highest score first), with a heat map of counts."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False)
    when = _as_of_text(as_of)
    console.print(Text(f"Risk register: {program_name}" + (f", as of {when}" if when else ""), style="bold"))
    counts = _level_counts(risks)
    console.print(Text(f"{len(risks)} risks: {counts['high']} high, {counts['medium']} medium, {counts['low']} low"))
    table = Table(box=box.SIMPLE, expand=True)
    narrow = width < 100  # an 80-column terminal: category under the title, no separate L and I columns
    columns = (
        ("id", "score", "level", "risk", "owner") if narrow else ("id", "L", "I", "score", "level", "category", "risk", "owner")
    )
    for column in columns:
        table.add_column(column, no_wrap=column not in ("risk", "owner"), ratio=1 if column == "risk" else None)
    for r in risks:
        level = Text(display.term(r.level), style=_LEVEL_STYLE[r.level])
        if narrow:
            risk = Text(r.title)
            risk.append("\n" + display.term(r.category), style="dim")
            table.add_row(Text(r.id), Text(str(r.score)), level, risk, Text(r.owner))
            continue
        table.add_row(
            Text(r.id),
            Text(str(r.likelihood)),
            Text(str(r.impact)),
            Text(str(r.score)),
            level,
            Text(display.term(r.category)),
            Text(r.title),
            Text(r.owner),
        )
    console.print(table)
    grid = Table(title="Heat map (counts)", box=box.SIMPLE)
    grid.add_column("L \\ I", justify="right")
    for imp in range(1, 6):
        grid.add_column(str(imp), justify="center")
    for row in _grid_rows(risks):
        grid.add_row(
            Text(str(row["likelihood"])),
            *(
                Text(str(c["count"]) if c["count"] else ".", style=_LEVEL_STYLE[c["band"]] if c["count"] else "")
                for c in row["cells"]
            ),
        )
    console.print(grid)
    console.print(
        Text(
            "Scores are likelihood x impact (1-5 each) by a cmcadvisor heuristic mapping; ICH Q9(R1) prescribes no scale. "
            "Causes, effects, mitigations and triggers are in the csv, markdown, html, json and xlsx formats."
        )
    )
    return buffer.getvalue()


def risks_csv(risks: Sequence[Risk]) -> str:
    """One row per risk, every cell neutralised against spreadsheet formulas."""
    rows = [_values(risk) for risk in risks]
    return csv_text([COLUMNS, *([row[column] for column in COLUMNS] for row in rows)])


def risks_json(risks: Sequence[Risk]) -> str:
    """A JSON list of the risks (model field order, indent 2, trailing newline)."""
    return json.dumps([r.model_dump(mode="json") for r in risks], indent=2, ensure_ascii=False) + "\n"


def risks_markdown(risks: Sequence[Risk], program_name: str, *, as_of: str | datetime.date | None = None) -> str:
    """A summary table, the heat map and one section per risk; every value Markdown-escaped."""
    e = escape_markdown
    when = _as_of_text(as_of)
    counts = _level_counts(risks)
    lines = [f"# Risk register: {e(program_name)}", ""]
    if when:
        lines += [f"As of {e(when)}.", ""]
    lines += [
        f"{len(risks)} risks: {counts['high']} high, {counts['medium']} medium, {counts['low']} low. "
        "Score is likelihood times impact (1-5 each) by a cmcadvisor heuristic mapping from each finding's kind, "
        "severity and confidence; ICH Q9(R1) prescribes no scale. Levels: low 1-5, medium 6-14, high 15-25.",
        "",
    ]
    if not risks:
        return "\n".join([*lines, "No risks recorded.", ""])
    lines += ["| Id | Level | L | I | Score | Category | Risk | Owner |", "|---|---|---|---|---|---|---|---|"]
    lines += [
        f"| {e(r.id)} | {e(display.term(r.level))} | {r.likelihood} | {r.impact} | {r.score} | {e(display.term(r.category))} "
        f"| {e(r.title)} | {e(r.owner)} |"
        for r in risks
    ]
    lines += ["", "## Heat map", "", "Likelihood (rows, 5 at the top) by impact (columns): risk ids per cell.", ""]
    lines += ["| Likelihood | Impact 1 | Impact 2 | Impact 3 | Impact 4 | Impact 5 |", "|---|---|---|---|---|---|"]
    for row in _grid_rows(risks):
        cells = [e(", ".join(c["ids"])) if c["count"] else "" for c in row["cells"]]
        lines.append(f"| {row['likelihood']} | " + " | ".join(cells) + " |")
    lines += ["", "## Risks", ""]
    for r in risks:
        lines += [
            f"### {e(r.id)}: {e(r.title)}",
            "",
            f"- **Level:** {e(display.term(r.level))} (likelihood {r.likelihood} x impact {r.impact} = {r.score}); "
            f"status {e(display.term(r.status))}",
            f"- **Category:** {e(display.term(r.category))}",
            f"- **Cause:** {e(r.cause)}",
            f"- **Effect:** {e(r.effect)}",
            f"- **Mitigation:** {e(r.mitigation)}",
            f"- **Owner:** {e(r.owner)}",
            f"- **Trigger:** {e(r.trigger)}",
            f"- **Topics:** {e(', '.join(display.term(t) for t in r.topics))}",
            "",
        ]
    lines += [
        "## Traceability (internal)",
        "",
        "Which rules and finding raised each risk, and its sources. "
        "For the program team; leave it out of documents sent outside.",
        "",
        "| Id | Rules | Finding | Topics | Sources |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {e(r.id)} | {e(', '.join(r.rules))} | {e(r.finding or '-')} | {e(', '.join(r.topics))} "
        f"| {e(', '.join(r.citations))} |"
        for r in risks
    ]
    lines.append("")
    return "\n".join(lines)


def risks_html(
    risks: Sequence[Risk], program_name: str, *, as_of: str | datetime.date | None = None, templates: str | None = None
) -> str:
    """A self-contained page (inline CSS, no scripts) from ``risks.html.j2``; every value HTML-escaped."""
    return render_html_template(
        "risks.html.j2",
        templates,
        program_name=program_name,
        as_of=_as_of_text(as_of),
        risks=list(risks),
        counts=_level_counts(risks),
        grid=_grid_rows(risks),
    )


# ------------------------------------------------------------------------------------------ XLSX


def _fixed_datetime(as_of: str | datetime.date | None) -> datetime.datetime:
    """The workbook's created/modified time: midnight of ``as_of`` (never the clock)."""
    if isinstance(as_of, datetime.date):
        return datetime.datetime(as_of.year, as_of.month, as_of.day)
    if as_of:
        try:
            day = datetime.date.fromisoformat(as_of)
        except ValueError:
            return _EPOCH
        return datetime.datetime(day.year, day.month, day.day)
    return _EPOCH


def _text_cell(value: object) -> str:
    """A spreadsheet-safe text cell: formula-neutralised, characters XML cannot hold removed."""
    return xlsx_text(value)


def risks_xlsx(risks: Sequence[Risk], program_name: str, *, as_of: str | datetime.date | None = None) -> bytes:
    """A print-ready workbook: "Register", a one-page "Heat map" and the internal "Trace" (rules, finding, sources).

    Every sheet prints landscape, one page wide, with the program, the date and page numbers in its
    header and footer; the register repeats its header row on every page and sizes each row to its
    wrapped text. Empty values stay empty cells.
    """
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
    from openpyxl.writer.excel import ExcelWriter  # type: ignore[import-untyped]

    when = _fixed_datetime(as_of)
    workbook = Workbook()
    workbook.properties.created = when
    workbook.properties.modified = when
    workbook.properties.creator = "cmcadvisor"
    workbook.properties.lastModifiedBy = "cmcadvisor"
    workbook.properties.title = _text_cell(f"Risk register: {program_name}")

    bold = Font(bold=True)
    small, small_bold = Font(size=9), Font(size=9, bold=True)
    header_fill = PatternFill("solid", fgColor="D9E1F2")
    wrap = Alignment(wrap_text=True, vertical="top")
    centre = Alignment(wrap_text=True, vertical="center", horizontal="center")
    thin = Side(style="thin", color="A6A6A6")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    when_text = _as_of_text(as_of) or ""

    def print_layout(sheet: Any, *, one_page: bool) -> None:
        """Landscape, one page wide (and one page tall for ``one_page``), program, date and page numbers."""
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 1 if one_page else 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.print_options.horizontalCentered = one_page
        sheet.page_margins.left = sheet.page_margins.right = 0.4
        sheet.page_margins.top = sheet.page_margins.bottom = 0.6
        sheet.page_margins.header = sheet.page_margins.footer = 0.25
        sheet.oddHeader.left.text = _header_text(program_name)
        sheet.oddHeader.left.size = 9
        sheet.oddHeader.center.text = _PRINT_TITLES[sheet.title]
        sheet.oddHeader.center.size = 9
        sheet.oddHeader.right.text = _header_text(f"As of {when_text}" if when_text else "")
        sheet.oddHeader.right.size = 9
        sheet.oddFooter.left.text = "cmcadvisor risk register"
        sheet.oddFooter.left.size = 8
        sheet.oddFooter.right.text = "Page &P of &N"
        sheet.oddFooter.right.size = 8

    def text_or_blank(value: object) -> str | None:
        text = _text_cell(value)
        return text if text else None  # an empty cell stays empty (never a 0 or an empty string)

    register = workbook.active
    register.title = "Register"
    for col, column in enumerate(SHEET_COLUMNS, 1):
        cell = register.cell(row=1, column=col, value=SHEET_HEADERS[column])
        cell.font = small_bold
        cell.fill = header_fill
        cell.alignment = wrap
        cell.border = border
        register.column_dimensions[get_column_letter(col)].width = _SHEET_WIDTHS[column]
    level_col = SHEET_COLUMNS.index("level") + 1
    for row, risk in enumerate(risks, 2):
        values = _sheet_values(risk)
        for col, column in enumerate(SHEET_COLUMNS, 1):
            value = values[column]
            cell = register.cell(row=row, column=col, value=int(str(value)) if column in _NUMERIC else text_or_blank(value))
            cell.alignment = centre if column in _NUMERIC else wrap
            cell.font = small
            cell.border = border
        level = register.cell(row=row, column=level_col)
        level.fill = PatternFill("solid", fgColor=_BAND_FILL[risk.level])
        level.font = Font(size=9, bold=True, color=_BAND_FONT[risk.level])
        register.row_dimensions[row].height = _row_height(values)
    register.row_dimensions[1].height = 26
    register.freeze_panes = "C2"
    register.auto_filter.ref = f"A1:{get_column_letter(len(SHEET_COLUMNS))}{max(1, len(risks)) + 1}"
    register.print_title_rows = "1:1"
    print_layout(register, one_page=False)

    heat = workbook.create_sheet("Heat map")
    heat.cell(row=1, column=1, value="Risk heat map").font = Font(bold=True, size=14)
    heat.cell(row=2, column=1, value="Program").font = bold
    heat.cell(row=2, column=2, value=_text_cell(program_name))
    heat.merge_cells(start_row=2, start_column=2, end_row=2, end_column=6)
    heat.cell(row=2, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    heat.row_dimensions[2].height = 15 * max(1, -(-len(program_name) // 100))
    heat.cell(row=3, column=1, value="As of").font = bold
    heat.cell(row=3, column=2, value=text_or_blank(when_text))
    heat.cell(row=4, column=1, value="Likelihood (rows, 5 at the top) by impact (columns); each cell: count, then risk ids.")
    heat.merge_cells(start_row=4, start_column=1, end_row=4, end_column=6)
    top = 6
    corner = heat.cell(row=top, column=1, value="Likelihood \\ Impact")
    corner.font, corner.alignment, corner.border, corner.fill = bold, centre, border, header_fill
    for imp in range(1, 6):
        cell = heat.cell(row=top, column=imp + 1, value=imp)
        cell.font, cell.alignment, cell.border, cell.fill = bold, centre, border, header_fill
    for offset, grid_row in enumerate(_grid_rows(risks), 1):
        label = heat.cell(row=top + offset, column=1, value=grid_row["likelihood"])
        label.font, label.alignment, label.border, label.fill = bold, centre, border, header_fill
        lines = 1
        for c in grid_row["cells"]:
            # An empty cell of the grid stays blank: only its colour shows the band.
            # Three ids a line, so no id is broken at its hyphen.
            rows = [", ".join(c["ids"][i : i + 3]) for i in range(0, len(c["ids"]), 3)]
            text = "\n".join([str(c["count"]), *rows]) if c["ids"] else None
            cell = heat.cell(row=top + offset, column=c["impact"] + 1, value=_text_cell(text) if text else None)
            cell.alignment, cell.border = centre, border
            cell.fill = PatternFill("solid", fgColor=_BAND_FILL[c["band"]])
            cell.font = Font(color=_BAND_FONT[c["band"]], bold=bool(c["count"]))
            lines = max(lines, 1 + len(rows) if c["ids"] else 1)
        heat.row_dimensions[top + offset].height = max(48, 15 * lines + 6)
    legend = top + 7
    heat.cell(row=legend, column=1, value="Level").font = bold
    for index, (name, span) in enumerate((("low", "1-5"), ("medium", "6-14"), ("high", "15-25")), 1):
        cell = heat.cell(row=legend + index, column=1, value=f"{name} ({span})")
        cell.fill = PatternFill("solid", fgColor=_BAND_FILL[name])
        cell.font = Font(color=_BAND_FONT[name])
    heat.cell(
        row=legend + 5,
        column=1,
        value="Score = likelihood x impact, by a cmcadvisor heuristic mapping; ICH Q9(R1) prescribes no scale.",
    )
    heat.merge_cells(start_row=legend + 5, start_column=1, end_row=legend + 5, end_column=6)
    heat.column_dimensions["A"].width = 22
    for imp in range(1, 6):
        heat.column_dimensions[get_column_letter(imp + 1)].width = 24
    heat.print_area = f"A1:F{legend + 5}"
    print_layout(heat, one_page=True)

    trace = workbook.create_sheet("Trace")
    trace.cell(row=1, column=1, value="Where each risk comes from (internal): the rules, finding, topics and sources behind it.")
    trace.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(_TRACE_COLUMNS))
    for col, column in enumerate(_TRACE_COLUMNS, 1):
        cell = trace.cell(row=2, column=col, value=column.capitalize())
        cell.font, cell.fill, cell.alignment, cell.border = small_bold, header_fill, wrap, border
        trace.column_dimensions[get_column_letter(col)].width = _WIDTHS[column]
    for row, risk in enumerate(risks, 3):
        values = _values(risk)
        for col, column in enumerate(_TRACE_COLUMNS, 1):
            cell = trace.cell(row=row, column=col, value=text_or_blank(values[column]))
            cell.font, cell.alignment, cell.border = small, wrap, border
        trace.row_dimensions[row].height = _row_height({c: values[c] for c in _TRACE_COLUMNS}, _WIDTHS)
    trace.freeze_panes = "B3"
    trace.print_title_rows = "2:2"
    print_layout(trace, one_page=False)

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).write_data()
    return stable_zip(raw.getvalue(), when)


# -------------------------------------------------------------------------------------- dispatch


def render_risks(
    result: AssessmentResult, fmt: RiskFormat, *, color: bool = False, width: int = 110, templates: str | None = None
) -> str | bytes:
    """The register of an assessment (``result.risks``) in one format; XLSX is bytes, the rest text."""
    risks, name, as_of = result.risks, result.program.name, result.as_of
    if fmt == "table":
        return risks_table(risks, name, color=color, as_of=as_of, width=width)
    if fmt == "csv":
        return risks_csv(risks)
    if fmt == "xlsx":
        return risks_xlsx(risks, name, as_of=as_of)
    if fmt == "markdown":
        return risks_markdown(risks, name, as_of=as_of)
    if fmt == "json":
        return risks_json(risks)
    if fmt == "html":
        return risks_html(risks, name, as_of=as_of, templates=templates)
    assert_never(fmt)
