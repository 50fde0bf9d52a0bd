"""The timeline as text: a terminal table, CSV and a Mermaid Gantt chart.

User-controlled names are neutralised for each format: CSV cells go through the shared
spreadsheet-cell helper (:mod:`cmcadvisor.render.cells`), Mermaid metacharacters are replaced. This module only formats.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmcadvisor import display
from cmcadvisor.models.result import AssessmentResult, Timeline
from cmcadvisor.render.cells import csv_text
from cmcadvisor.render.summary import timeline as timeline_view


def timeline_csv(timeline: Timeline) -> str:
    """One row per activity and milestone."""
    rows: list[Sequence[object]] = []
    rows.append(
        [
            "kind",
            "id",
            "name",
            "status",
            "start",
            "finish",
            "duration (days)",
            "slack (days)",
            "on critical path",
            "due",
            "late by (days)",
            "depends on",
            "rules",
            "moves the BLA by (days)",
        ]
    )
    on_path = set(timeline.critical_path)
    moves = {i.id: i.bla_delay_days for i in timeline.late_items}
    for a in timeline.activities:
        rows.append(
            (
                "activity",
                a.id,
                a.name,
                display.term(a.status),
                a.start or "",
                a.finish or "",
                a.duration_days,
                "" if a.slack_days is None else a.slack_days,
                "yes" if a.id in on_path else "no",
                a.due or "",
                "" if a.late_by_days is None else a.late_by_days,
                " ".join(a.depends_on),
                " ".join(a.rules),
                moves.get(a.id, ""),
            )
        )
    for m in timeline.milestones:
        rows.append(
            (
                "milestone",
                m.id,
                display.term(m.id),
                display.term(m.status),
                m.forecast or "",
                m.forecast or "",
                0,
                "",
                "",
                m.target or "",
                "" if m.late_by_days is None else m.late_by_days,
                "",
                "",
                "",
            )
        )
    return csv_text(rows)


def _mermaid_text(value: str) -> str:
    return re.sub(r"[:#;\n\r%{}<>\"`]", " ", value).strip() or "-"


def timeline_mermaid(result: AssessmentResult) -> str:
    """A Mermaid ``gantt`` block: critical activities marked, milestones as milestones."""
    timeline = result.timeline
    lines = [
        "gantt",
        f"    title CMC timeline for {_mermaid_text(result.program.name)} (as of {display.human_date(result.as_of)})",
        "    dateFormat YYYY-MM-DD",
        "    axisFormat %Y-%m",
        "    section CMC activities",
    ]
    on_path = set(timeline.critical_path)
    for a in timeline.activities:
        if a.start is None or a.finish is None or a.status == "complete":
            continue
        tags = [t for t in ("crit" if a.id in on_path else "", "active" if a.status == "in_progress" else "") if t]
        tag = ", ".join([*tags, re.sub(r"[^A-Za-z0-9_]", "_", a.id)])
        lines.append(f"    {_mermaid_text(a.name)} :{tag}, {a.start}, {max(a.duration_days, 1)}d")
    lines.append("    section Milestones")
    for m in timeline.milestones:
        if m.forecast:
            late = f" (late by {display.quantity(m.late_by_days, 'days')})" if m.late_by_days else ""
            lines.append(f"    {_mermaid_text(display.term(m.id))}{late} :milestone, m_{m.id}, {m.forecast}, 0d")
    return "\n".join(lines) + "\n"


COLUMNS = ("activity", "status", "start", "finish", "slack", "due", "late")
NARROW = 100  # below this many columns the table folds start and finish into one column


def timeline_table(result: AssessmentResult, *, color: bool = False, width: int = 110) -> str:
    """Activities in start order with slack, then milestones with forecasts."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False)
    timeline = result.timeline
    table = Table(title=f"CMC timeline, as of {display.human_date(result.as_of)}", box=box.SIMPLE, expand=True)
    on_path = set(timeline.critical_path)
    narrow = width < NARROW  # start and finish share a column, one date a line, so the activity stays readable
    columns = ("activity", "status", "start, end", "slack", "due", "late") if narrow else COLUMNS
    for column in columns:
        table.add_column(column, no_wrap=column not in ("activity", "status"), ratio=1 if column == "activity" else None)
    for a in timeline.activities:
        style = "bold red" if a.late_by_days else ("yellow" if a.id in on_path else "")
        dates = [Text(f"{a.start or '-'}\n{a.finish or '-'}")] if narrow else [Text(a.start or "-"), Text(a.finish or "-")]
        table.add_row(
            Text(a.name, style=style),
            Text(display.term(a.status)),
            *dates,
            Text("-" if a.slack_days is None else str(a.slack_days)),
            Text(a.due or "-"),
            Text(f"{a.late_by_days} d" if a.late_by_days else ""),
        )
    console.print(table)
    milestones = Table(title="Milestones", box=box.SIMPLE, expand=True)
    for column in ("milestone", "status", "target", "forecast", "late"):
        milestones.add_column(column)
    for m in timeline.milestones:
        label = display.term(m.id)
        milestones.add_row(
            Text(label[:1].upper() + label[1:]),
            Text(display.term(m.status)),
            Text(m.target or "-"),
            Text(m.forecast or "-"),
            Text(f"{m.late_by_days} d" if m.late_by_days else "", style="bold red" if m.late_by_days else ""),
        )
    console.print(milestones)
    view = timeline_view(result)  # the same words as the reports: names, date order, how late
    console.print(Text("Critical path to BLA: " + (" -> ".join(view.critical_path) or "none")))
    if view.late:
        console.print(Text("Late, in date order: " + "; ".join(view.late), style="bold red" if color else ""))
    if view.delays:
        console.print(Text("Late long-lead items:"))
    for sentence in view.delays:  # a hanging indent, so each item stands out from the next
        item = textwrap.fill(sentence, width - 1, initial_indent="- ", subsequent_indent="  ")
        console.print(Text(item, style="red" if color else ""))
    if timeline.note:
        console.print(Text(timeline.note))
    return buffer.getvalue()
