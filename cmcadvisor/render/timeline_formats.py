"""The timeline as text: a terminal table, CSV and a Mermaid Gantt chart.

User-controlled names are neutralised for each format: spreadsheet formulas in CSV get a
leading apostrophe, Mermaid metacharacters are replaced. This module only formats.
"""

from __future__ import annotations

import csv
import io
import re

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmcadvisor.models.result import AssessmentResult, Timeline

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> str:
    """A CSV/spreadsheet cell that can never be read as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def timeline_csv(timeline: Timeline) -> str:
    """One row per activity and milestone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "kind",
            "id",
            "name",
            "status",
            "start",
            "finish",
            "duration_days",
            "slack_days",
            "critical",
            "due",
            "late_by_days",
            "depends_on",
            "rules",
        ]
    )
    for a in timeline.activities:
        writer.writerow(
            [
                neutralise_cell(v)
                for v in (
                    "activity",
                    a.id,
                    a.name,
                    a.status,
                    a.start or "",
                    a.finish or "",
                    a.duration_days,
                    "" if a.slack_days is None else a.slack_days,
                    "yes" if a.critical else "no",
                    a.due or "",
                    "" if a.late_by_days is None else a.late_by_days,
                    " ".join(a.depends_on),
                    " ".join(a.rules),
                )
            ]
        )
    for m in timeline.milestones:
        writer.writerow(
            [
                neutralise_cell(v)
                for v in (
                    "milestone",
                    m.id,
                    m.id.replace("_", " "),
                    m.status,
                    m.forecast or "",
                    m.forecast or "",
                    0,
                    "",
                    "",
                    m.target or "",
                    "" if m.late_by_days is None else m.late_by_days,
                    "",
                    "",
                )
            ]
        )
    return buffer.getvalue()


def _mermaid_text(value: str) -> str:
    return re.sub(r"[:#;\n\r%{}<>\"`]", " ", value).strip() or "-"


def timeline_mermaid(result: AssessmentResult) -> str:
    """A Mermaid ``gantt`` block: critical activities marked, milestones as milestones."""
    timeline = result.timeline
    lines = [
        "gantt",
        f"    title CMC timeline for {_mermaid_text(result.program.name)} (as of {result.as_of})",
        "    dateFormat YYYY-MM-DD",
        "    axisFormat %Y-%m",
        "    section CMC activities",
    ]
    for a in timeline.activities:
        if a.start is None or a.finish is None or a.status == "complete":
            continue
        tags = [t for t in ("crit" if a.critical else "", "active" if a.status == "in_progress" else "") if t]
        tag = ", ".join([*tags, re.sub(r"[^A-Za-z0-9_]", "_", a.id)])
        lines.append(f"    {_mermaid_text(a.name)} :{tag}, {a.start}, {max(a.duration_days, 1)}d")
    lines.append("    section Milestones")
    for m in timeline.milestones:
        if m.forecast:
            late = f" (late {m.late_by_days} d)" if m.late_by_days else ""
            lines.append(f"    {_mermaid_text(m.id.replace('_', ' '))}{late} :milestone, m_{m.id}, {m.forecast}, 0d")
    return "\n".join(lines) + "\n"


def timeline_table(result: AssessmentResult, *, color: bool = False, width: int = 110) -> str:
    """Activities in start order with slack, then milestones with forecasts."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False)
    timeline = result.timeline
    table = Table(title=f"CMC timeline, as of {result.as_of}", box=box.SIMPLE, expand=True)
    for column in ("activity", "status", "start", "finish", "slack", "due", "late"):
        table.add_column(column, no_wrap=column != "activity", ratio=1 if column == "activity" else None)
    for a in timeline.activities:
        style = "bold red" if a.late_by_days else ("yellow" if a.critical else "")
        table.add_row(
            Text(f"{a.name} ({a.id})", style=style),
            Text(a.status),
            Text(a.start or "-"),
            Text(a.finish or "-"),
            Text("-" if a.slack_days is None else str(a.slack_days)),
            Text(a.due or "-"),
            Text(f"{a.late_by_days} d" if a.late_by_days else ""),
        )
    console.print(table)
    milestones = Table(title="Milestones", box=box.SIMPLE, expand=True)
    for column in ("milestone", "status", "target", "forecast", "late"):
        milestones.add_column(column)
    for m in timeline.milestones:
        milestones.add_row(
            Text(m.id),
            Text(m.status),
            Text(m.target or "-"),
            Text(m.forecast or "-"),
            Text(f"{m.late_by_days} d" if m.late_by_days else "", style="bold red" if m.late_by_days else ""),
        )
    console.print(milestones)
    console.print(Text("Critical path: " + " -> ".join(timeline.critical_path)))
    if timeline.late:
        console.print(Text("Late: " + ", ".join(timeline.late), style="bold red" if color else ""))
    if timeline.note:
        console.print(Text(timeline.note))
    return buffer.getvalue()
