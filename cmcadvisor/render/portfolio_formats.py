"""A portfolio run as a table, CSV, JSON or one HTML page. Only formats.

CSV cells are neutralised against spreadsheet formulas; HTML is autoescaped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmcadvisor import display
from cmcadvisor.portfolio import ProgramOutcome
from cmcadvisor.render.cells import csv_text
from cmcadvisor.render.templating import render_html_template

SEVERITIES = ("critical", "high", "medium", "low")


def _pathways(summary: dict[str, object]) -> str:
    pathways = summary.get("pathways")
    assert isinstance(pathways, dict)
    granted = sorted(p for p, s in pathways.items() if s == "granted")
    eligible = sorted(p for p, s in pathways.items() if s == "eligible")
    return f"granted: {', '.join(granted) or '-'}; eligible: {', '.join(eligible) or '-'}"


def _pathway_labels(summary: dict[str, object]) -> str:
    """Granted and eligible pathways in words, for the table."""
    pathways = summary.get("pathways")
    assert isinstance(pathways, dict)
    granted = [display.term(p) for p, s in sorted(pathways.items()) if s == "granted"]
    eligible = [display.term(p) for p, s in sorted(pathways.items()) if s == "eligible"]
    return f"granted: {', '.join(granted) or '-'}; eligible: {', '.join(eligible) or '-'}"


def portfolio_json(outcomes: Sequence[ProgramOutcome]) -> str:
    """Every program: file, ok, errors, summary and (when kept) the full result."""
    programs = [
        {
            "file": o.file,
            "ok": o.ok,
            "errors": list(o.errors),
            "summary": o.summary,
            "result": json.loads(o.result.model_dump_json()) if o.result is not None else None,
        }
        for o in outcomes
    ]
    failed = sum(1 for o in outcomes if not o.ok)
    return json.dumps({"schema_version": 1, "programs": programs, "count": len(outcomes), "failed": failed}, indent=2) + "\n"


def portfolio_csv(outcomes: Sequence[ProgramOutcome]) -> str:
    """One row per program."""
    rows: list[list[object]] = [["file", "ok", "program", "name", *SEVERITIES, "make_or_buy", "late", "pathways", "errors"]]
    for o in outcomes:
        s = o.summary or {}
        counts = s.get("open_findings") or {}
        assert isinstance(counts, dict)
        row = [
            o.file,
            "yes" if o.ok else "no",
            s.get("program", ""),
            s.get("name", ""),
            *(counts.get(sev, "") for sev in SEVERITIES),
            s.get("make_or_buy", ""),
            " ".join(s.get("late", []) or []),
            _pathways(s) if s else "",
            " | ".join(o.errors),
        ]
        rows.append(row)
    return csv_text(rows)


def portfolio_table(outcomes: Sequence[ProgramOutcome], *, color: bool = False, width: int = 120) -> str:
    """A terminal summary table."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False)
    table = Table(title=f"Portfolio: {display.plural(len(outcomes), 'program')}", box=box.SIMPLE, expand=True)
    for column in ("program", "crit", "high", "med", "low", "make/buy", "late", "pathways"):
        table.add_column(column, ratio=2 if column in ("program", "pathways") else None)
    for o in outcomes:
        if not o.ok or o.summary is None:
            table.add_row(
                Text(o.file),
                Text("error", style="bold red"),
                Text(""),
                Text(""),
                Text(""),
                Text(""),
                Text(""),
                Text(" | ".join(o.errors)),
            )
            continue
        s = o.summary
        counts = s["open_findings"]
        table.add_row(
            Text(f"{s['program']} ({o.file})"),
            *(Text(str(counts[sev])) for sev in SEVERITIES),
            Text(display.term(str(s["make_or_buy"]))),
            Text(str(len(s["late"]))),
            Text(_pathway_labels(s)),
        )
    console.print(table)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        failures = display.plural(len(failed), "file")
        console.print(Text(f"{failures} failed; their errors are listed above.", style="bold red" if color else ""))
    return buffer.getvalue()


def portfolio_html(outcomes: Sequence[ProgramOutcome], templates: str | None = None) -> str:
    """One self-contained page."""
    return render_html_template("portfolio.html.j2", templates, outcomes=outcomes, severities=SEVERITIES)
