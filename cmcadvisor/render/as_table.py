"""The assessment as terminal tables, drawn with rich: the only home of rich.

User strings are printed as text, never as rich markup. Colour only when asked (a terminal).
The caller gives the width (the terminal's, ``COLUMNS``, or a default when piped); every line
stays within it, and a question's text is never cut: what a question settles is summarised as
a count of rules plus the pathways it would decide.
"""

from __future__ import annotations

import io
import textwrap

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmcadvisor.models.result import AssessmentResult, Question
from cmcadvisor.render import summary

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
_STATUS_STYLE = {
    "granted": "bold green",
    "eligible": "green",
    "not_eligible": "red",
    "not_applicable": "dim",
    "undetermined": "yellow",
}
_FAVOURS_STYLE = {"in_house": "green", "cdmo": "cyan", "neutral": "dim", "unknown": "yellow"}


def settles(question: Question, pathway_names: dict[str, str]) -> str:
    """What answering a question settles: a count of rules plus the pathways it decides (no rule ids)."""
    pathways = [pathway_names[key] for key in question.unlocks if key in pathway_names]
    rules = len(question.unlocks) - len(pathways)
    parts = [f"settles {summary.count(rules, 'rule')}"] if rules else []
    if pathways:
        parts.append("decides " + ", ".join(pathways))
    return " and ".join(parts)


def render_table(result: AssessmentResult, *, color: bool = False, width: int = 100) -> str:
    """Pathways, findings, make-or-buy, timeline and questions as tables no wider than ``width``."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        soft_wrap=False,
    )
    console.print(Text(f"{result.program.name} ({result.program.id}), as of {result.as_of}", style="bold"))
    console.print(
        Text(
            f"engine: {result.audit.engine}; rules fired: {len(result.audit.fired)}; "
            f"undetermined: {len(result.audit.undetermined)}"
        )
    )

    pathways = Table(title="Expedited pathways", box=box.SIMPLE, expand=True)
    pathways.add_column("pathway", ratio=1, min_width=14)
    pathways.add_column("status", no_wrap=True)
    pathways.add_column("why", ratio=3)
    for p in result.pathways:
        status = Text(summary.term(p.status), style=_STATUS_STYLE.get(p.status, ""))
        pathways.add_row(Text(p.name), status, Text(p.rationale))
    console.print(pathways)

    findings = Table(title="Findings", box=box.SIMPLE, expand=True)
    findings.add_column("severity", no_wrap=True)
    findings.add_column("finding", ratio=1)
    for f in result.findings:
        if f.kind == "undetermined":
            continue
        label = f.title + (f" [{summary.term(f.status)}]" if f.status != "open" else "")
        findings.add_row(Text(summary.term(f.severity), style=_SEVERITY_STYLE[f.severity]), Text(label))
    console.print(findings)

    mob = summary.make_or_buy(result)
    console.print(Text(f"Make or buy: {mob.answer}", style="bold"))
    factors = Table(box=box.SIMPLE, expand=True)
    factors.add_column("consideration", ratio=1, min_width=12)
    factors.add_column("favours", no_wrap=True)
    factors.add_column("adds", no_wrap=True, justify="right")
    if not mob.equal_weights:
        factors.add_column("weight", no_wrap=True, justify="right")
    factors.add_column("why", ratio=3)
    for row in mob.rows:
        cells = [Text(row.name), Text(row.favours, style=_FAVOURS_STYLE.get(row.favours_id, "")), Text(row.contribution)]
        if not mob.equal_weights:
            cells.append(Text(row.weight))
        why = Text(row.reason)
        if not row.voted and row.judged_on:
            why.append(f"\nJudged on {row.judged_on}.", style="dim")
        if not row.voted and row.missing:
            why.append(f"\nNot yet given: {row.missing}.", style="dim")
        cells.append(why)
        factors.add_row(*cells)
    console.print(factors)
    note = result.make_or_buy.note
    console.print(Text(mob.weights_note + (f" {note}" if note else ""), style="dim"))
    if mob.flips:
        console.print(Text("Would change if: " + "; ".join(mob.flips)))
    timeline = summary.timeline(result)
    console.print()
    console.print(Text(f"Critical path to BLA: {' -> '.join(timeline.critical_path) or 'none'}"))
    console.print(Text(f"Late, in date order: {'; '.join(timeline.late) or 'nothing'}"))
    if timeline.delays:
        console.print(Text("Late long-lead items:"))
    for sentence in timeline.delays:  # a hanging indent, as in the timeline command
        console.print(Text(textwrap.fill(sentence, max(console.width - 1, 40), initial_indent="- ", subsequent_indent="  ")))
    waived = [f for f in result.findings if f.status == "waived"]
    if waived:
        console.print(Text("Risks accepted (waived): " + "; ".join(f.title for f in waived)))
    if result.audit.waivers_unused:
        unused = summary.count(len(result.audit.waivers_unused), "waiver")
        console.print(Text(f"{unused} in the program file match no finding (listed in the JSON audit)."))
    if result.questions:
        names = {p.id: p.name for p in result.pathways}
        questions = Table(title="Questions (most valuable first)", box=box.SIMPLE, expand=True)
        questions.add_column("#", no_wrap=True, justify="right")
        questions.add_column("question", ratio=1)
        for n, q in enumerate(result.questions, 1):
            cell = Text(q.question)
            what = settles(q, names)
            if what:
                cell.append(f"\n{what[:1].upper()}{what[1:]}.", style="dim")
            questions.add_row(Text(str(n)), cell)
        console.print(questions)
    return buffer.getvalue()
