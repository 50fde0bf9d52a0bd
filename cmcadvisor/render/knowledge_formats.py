"""The knowledge base status (``cmcadvisor knowledge status``) as a terminal table, JSON, CSV or Markdown.

Every format lists the same sources in the order of the :class:`~cmcadvisor.knowledge_status.StatusReport`.
The terminal table is made to be read at 80 columns (dependants as counts; the other formats list
them). Text from knowledge files is neutralised per format: CSV cells against spreadsheet formulas,
Markdown metacharacters escaped, and the terminal prints text, never rich markup. This module only
formats; it never decides what needs attention.
"""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Sequence
from typing import Literal, assert_never

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmcadvisor import display
from cmcadvisor.knowledge_status import DEPENDANT_KINDS, STATUS_ORDER, SourceStatus, StatusReport
from cmcadvisor.render.cells import csv_text
from cmcadvisor.render.templating import escape_markdown

StatusFormat = Literal["table", "json", "csv", "markdown"]
STATUS_FORMATS: tuple[str, ...] = ("table", "json", "csv", "markdown")

# How each kind of dependant reads, singular and plural.
_KIND_WORDS: dict[str, tuple[str, str]] = {
    "rules": ("rule", "rules"),
    "pathways": ("pathway", "pathways"),
    "activities": ("timeline activity", "timeline activities"),
    "meeting_types": ("meeting type", "meeting types"),
    "risk_categories": ("risk category", "risk categories"),
    "other": ("other entry", "other entries"),
}
_KIND_HEADINGS: dict[str, str] = {
    "rules": "Rules",
    "pathways": "Pathways",
    "activities": "Timeline activities",
    "meeting_types": "Meeting types",
    "risk_categories": "Risk register categories",
    "other": "Other",
}
NO_DEPENDANTS = "no dependants"
_FIXED_WIDTH = 49  # the table's width less the source column: dates, used by, padding and edges


def render_status(report: StatusReport, fmt: StatusFormat, *, color: bool = False, width: int = 80) -> str:
    """The report in one format."""
    if fmt == "json":
        return status_json(report)
    if fmt == "csv":
        return status_csv(report)
    if fmt == "markdown":
        return status_markdown(report)
    if fmt == "table":
        return status_table(report, color=color, width=width)
    assert_never(fmt)


def _summary(report: StatusReport) -> str:
    due = sum(1 for row in report.sources if row.due)
    if report.due_only:
        if not report.sources:
            return f"As of {report.as_of.isoformat()}, none of the {report.total} sources needs attention."
        return (
            f"As of {report.as_of.isoformat()}, {display.plural(due, 'source')} of {report.total} "
            f"{'needs' if due == 1 else 'need'} attention."
        )
    return (
        f"As of {report.as_of.isoformat()}: {display.plural(report.total, 'source')}, "
        f"{due} {'needs' if due == 1 else 'need'} attention."
    )


def _counts(row: SourceStatus) -> list[str]:
    """``3 rules``, ``1 pathway``... or ``no dependants``."""
    parts = [display.plural(len(row.dependants[kind]), *_KIND_WORDS[kind]) for kind in DEPENDANT_KINDS if row.dependants[kind]]
    return parts or [NO_DEPENDANTS]


def _groups(report: StatusReport) -> list[tuple[str | None, list[SourceStatus]]]:
    """Sorted by status: one group per status present (in the review's order); otherwise one group."""
    if report.sort != "status":
        return [(None, list(report.sources))]
    return [(status, rows) for status in STATUS_ORDER if (rows := [r for r in report.sources if r.citation.status == status])]


# ---------------------------------------------------------------------------------- table


def status_table(report: StatusReport, *, color: bool = False, width: int = 80) -> str:
    """A terminal table: one row per source, grouped by status when sorted by status."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False)
    title = "Sources needing attention" if report.due_only else "Knowledge base sources"
    console.print(Text(f"{title}. {_summary(report)}"))
    for status, rows in _groups(report):
        heading = f"{status.capitalize()} ({len(rows)})" if status else None
        table = Table(title=heading, title_justify="left", box=box.SIMPLE_HEAD, show_lines=True, expand=True)
        table.add_column("Source and confidence", ratio=1, overflow="fold")
        table.add_column("Dates", no_wrap=True)
        table.add_column("Used by", max_width=20)  # "1 timeline activity" on one line
        for row in rows:
            table.add_row(*_table_cells(row, grouped=status is not None, color=color, id_width=max(16, width - _FIXED_WIDTH)))
        console.print(table)
    if not report.sources:
        console.print(Text("Nothing to list."))
    return buffer.getvalue()


def _table_cells(row: SourceStatus, *, grouped: bool, color: bool, id_width: int) -> tuple[Text, Text, Text]:
    c = row.citation
    source = Text("\n".join(textwrap.wrap(c.id, id_width, break_on_hyphens=True)))  # break a long id after a hyphen
    source.append("\n" + "\n".join(_title_lines(c.title, id_width)), style="dim" if color else "")  # what the id stands for
    source.append(f"\nconfidence: {c.confidence}" if grouped else f"\n{c.status}; confidence: {c.confidence}")
    for item in row.attention:
        source.append(f"\n! {item.label}", style="bold red" if color else "")
    dates = [f"issued {c.issued or c.year}", f"checked {c.last_checked.isoformat()}", f"  ({_age(row.age_days)})"]
    if c.recheck_by is not None:
        dates.append(f"re-check {c.recheck_by.isoformat()}")
    if c.valid_until is not None:
        dates.append(f"ends {c.valid_until.isoformat()}")
    return source, Text("\n".join(dates)), Text("\n".join(_counts(row)))


def _title_lines(title: str, width: int) -> list[str]:
    """The source's title in at most two lines of ``width`` (the second cut with an ellipsis)."""
    lines = textwrap.wrap(" ".join(title.split()), width) or [""]
    return lines if len(lines) <= 2 else [lines[0], display.shorten(" ".join(lines[1:]), width)]


def _age(days: int) -> str:
    if days < 0:
        return f"{display.plural(-days, 'day')} after the report date"
    return "today" if days == 0 else f"{display.plural(days, 'day')} ago"


# ---------------------------------------------------------------------------------- JSON and CSV


def _record(row: SourceStatus) -> dict[str, object]:
    c = row.citation
    return {
        "id": c.id,
        "title": c.title,
        "issuer": c.issuer,
        "kind": c.kind,
        "status": c.status,
        "confidence": c.confidence,
        "issued": c.issued or str(c.year),
        "last_checked": c.last_checked.isoformat(),
        "age_days": row.age_days,
        "recheck_by": c.recheck_by.isoformat() if c.recheck_by else None,
        "valid_until": c.valid_until.isoformat() if c.valid_until else None,
        "superseded_by": c.superseded_by,
        "file": row.file,
        "due": row.due,
        "needs_attention": [{"reason": a.reason, "message": a.message} for a in row.attention],
        "dependants": {kind: [d.id for d in row.dependants[kind]] for kind in DEPENDANT_KINDS},
        "dependant_count": row.dependant_count,
    }


def status_json(report: StatusReport) -> str:
    """``{schema_version, as_of, total, due_only, sort, count, due, sources: [...]}``."""
    document = {
        "schema_version": 1,
        "as_of": report.as_of.isoformat(),
        "total": report.total,
        "due_only": report.due_only,
        "sort": report.sort,
        "count": len(report.sources),
        "due": sum(1 for row in report.sources if row.due),
        "sources": [_record(row) for row in report.sources],
    }
    return json.dumps(document, indent=2) + "\n"


CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "title",
    "issuer",
    "kind",
    "status",
    "confidence",
    "issued",
    "last_checked",
    "age_days",
    "recheck_by",
    "valid_until",
    "superseded_by",
    "file",
    "needs_attention",
    *DEPENDANT_KINDS,
)


def status_csv(report: StatusReport) -> str:
    """One row per source; dependants as space-separated ids per kind, attention as ``; ``-separated sentences."""
    rows: list[Sequence[object]] = [CSV_COLUMNS]
    for row in report.sources:
        record = _record(row)
        deps = record["dependants"]
        assert isinstance(deps, dict)
        rows.append(
            (
                *(record[name] or "" for name in CSV_COLUMNS[:13]),
                "; ".join(a.message for a in row.attention),
                *(" ".join(deps[kind]) for kind in DEPENDANT_KINDS),
            )
        )
    return csv_text(rows)


# ---------------------------------------------------------------------------------- Markdown


def _used_by(row: SourceStatus) -> str:
    parts = []
    for kind in DEPENDANT_KINDS:
        items = row.dependants[kind]
        if items:
            names = ", ".join(d.id if kind == "rules" else d.name for d in items)
            parts.append(f"{_KIND_HEADINGS[kind]}: {names}")
    return escape_markdown("; ".join(parts)) if parts else NO_DEPENDANTS


def status_markdown(report: StatusReport) -> str:
    """A heading per status (when sorted by status) and a table of its sources; every value escaped."""
    e = escape_markdown
    title = "Sources needing attention" if report.due_only else "Knowledge base status"
    lines = [f"# {title}", "", e(_summary(report)), ""]
    header = [
        "| Source | Confidence | Issued | Last checked | Age (days) | Re-check by | Needs attention | Used by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for status, rows in _groups(report):
        if status is not None:
            lines += [f"## {status.capitalize()} ({len(rows)})", ""]
        lines += header
        for row in rows:
            c = row.citation
            source = f"**{e(c.id)}**: {e(c.title)}" + ("" if status else f" ({e(c.status)})")
            attention = "; ".join(e(a.message) for a in row.attention) or "-"
            lines.append(
                f"| {source} | {e(c.confidence)} | {e(c.issued or c.year)} | {c.last_checked.isoformat()} | {row.age_days} "
                f"| {c.recheck_by.isoformat() if c.recheck_by else '-'} | {attention} | {_used_by(row)} |"
            )
        lines.append("")
    if not report.sources:
        lines += ["Nothing to list.", ""]
    return "\n".join(lines)
