"""The risk register as a terminal table, CSV, Markdown, JSON, HTML and an XLSX workbook.

Every format prints the same :class:`~cmcadvisor.models.result.Risk` entries in the order
given. User-controlled text is neutralised for each format: spreadsheet cells that could be
read as a formula get a leading apostrophe (CSV and XLSX), Markdown metacharacters are
escaped, HTML is autoescaped by the template environment, and the terminal prints text, never
rich markup. The workbook is byte-identical for identical input (fixed timestamps derived from
``as_of``). This module only formats; it never scores or selects risks.
"""

from __future__ import annotations

import csv
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

from cmcadvisor.models.result import AssessmentResult, Risk
from cmcadvisor.render.office import stable_zip
from cmcadvisor.render.templating import escape_markdown, render_html_template
from cmcadvisor.render.timeline_formats import neutralise_cell
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
    for column in ("id", "L", "I", "score", "level", "category", "risk", "owner"):
        table.add_column(column, no_wrap=column != "risk", ratio=1 if column == "risk" else None)
    for r in risks:
        table.add_row(
            Text(r.id),
            Text(str(r.likelihood)),
            Text(str(r.impact)),
            Text(str(r.score)),
            Text(r.level, style=_LEVEL_STYLE[r.level]),
            Text(r.category),
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
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for risk in risks:
        values = _values(risk)
        writer.writerow([neutralise_cell(values[column]) for column in COLUMNS])
    return buffer.getvalue()


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
    lines += ["| Id | Level | L | I | Score | Category | Risk | Owner | Rules |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [
        f"| {e(r.id)} | {e(r.level)} | {r.likelihood} | {r.impact} | {r.score} | {e(r.category)} | {e(r.title)} "
        f"| {e(r.owner)} | {e(', '.join(r.rules))} |"
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
            f"- **Level:** {e(r.level)} (likelihood {r.likelihood} x impact {r.impact} = {r.score}); status {e(r.status)}",
            f"- **Category:** {e(r.category)}",
            f"- **Cause:** {e(r.cause)}",
            f"- **Effect:** {e(r.effect)}",
            f"- **Mitigation:** {e(r.mitigation)}",
            f"- **Owner:** {e(r.owner)}",
            f"- **Trigger:** {e(r.trigger)}",
            f"- **Rules:** {e(', '.join(r.rules))}; **finding:** {e(r.finding or '-')}; **topics:** {e(', '.join(r.topics))}",
        ]
        if r.citations:
            lines.append(f"- **Sources:** {e(', '.join(r.citations))}")
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
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]

    return str(ILLEGAL_CHARACTERS_RE.sub("", neutralise_cell(value)))


def risks_xlsx(risks: Sequence[Risk], program_name: str, *, as_of: str | datetime.date | None = None) -> bytes:
    """A workbook: a formatted "Register" sheet and a likelihood-by-impact "Heat map" sheet."""
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
    header_fill = PatternFill("solid", fgColor="D9E1F2")
    wrap = Alignment(wrap_text=True, vertical="top")
    centre = Alignment(wrap_text=True, vertical="center", horizontal="center")
    thin = Side(style="thin", color="A6A6A6")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)

    register = workbook.active
    register.title = "Register"
    for col, column in enumerate(COLUMNS, 1):
        cell = register.cell(row=1, column=col, value=column)
        cell.font = bold
        cell.fill = header_fill
        cell.alignment = wrap
        register.column_dimensions[get_column_letter(col)].width = _WIDTHS[column]
    level_col = COLUMNS.index("level") + 1
    for row, risk in enumerate(risks, 2):
        values = _values(risk)
        for col, column in enumerate(COLUMNS, 1):
            value = values[column]
            cell = register.cell(row=row, column=col, value=int(str(value)) if column in _NUMERIC else _text_cell(value))
            cell.alignment = wrap
        level = register.cell(row=row, column=level_col)
        level.fill = PatternFill("solid", fgColor=_BAND_FILL[risk.level])
        level.font = Font(bold=True, color=_BAND_FONT[risk.level])
    register.freeze_panes = "B2"
    register.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{max(1, len(risks)) + 1}"

    heat = workbook.create_sheet("Heat map")
    heat.cell(row=1, column=1, value="Risk heat map").font = Font(bold=True, size=14)
    heat.cell(row=2, column=1, value="Program").font = bold
    heat.cell(row=2, column=2, value=_text_cell(program_name))
    heat.cell(row=3, column=1, value="As of").font = bold
    heat.cell(row=3, column=2, value=_text_cell(_as_of_text(as_of) or ""))
    heat.cell(row=4, column=1, value="Likelihood (rows, 5 at the top) by impact (columns); each cell: count, then risk ids.")
    top = 6
    corner = heat.cell(row=top, column=1, value="Likelihood \\ Impact")
    corner.font, corner.alignment, corner.border, corner.fill = bold, centre, border, header_fill
    for imp in range(1, 6):
        cell = heat.cell(row=top, column=imp + 1, value=imp)
        cell.font, cell.alignment, cell.border, cell.fill = bold, centre, border, header_fill
    for offset, grid_row in enumerate(_grid_rows(risks), 1):
        label = heat.cell(row=top + offset, column=1, value=grid_row["likelihood"])
        label.font, label.alignment, label.border, label.fill = bold, centre, border, header_fill
        for c in grid_row["cells"]:
            text = str(c["count"]) + ("\n" + ", ".join(c["ids"]) if c["ids"] else "")
            cell = heat.cell(row=top + offset, column=c["impact"] + 1, value=_text_cell(text))
            cell.alignment, cell.border = centre, border
            cell.fill = PatternFill("solid", fgColor=_BAND_FILL[c["band"]])
            cell.font = Font(color=_BAND_FONT[c["band"]], bold=bool(c["count"]))
        heat.row_dimensions[top + offset].height = 48
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
    heat.column_dimensions["A"].width = 22
    for imp in range(1, 6):
        heat.column_dimensions[get_column_letter(imp + 1)].width = 22

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
