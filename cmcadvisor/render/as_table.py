"""The assessment as terminal tables, drawn with rich: the only home of rich.

User strings are printed as text, never as rich markup. Colour only when asked (a terminal).
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cmcadvisor.models.result import AssessmentResult

_SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
_STATUS_STYLE = {
    "granted": "bold green",
    "eligible": "green",
    "not_eligible": "red",
    "not_applicable": "dim",
    "undetermined": "yellow",
}


def render_table(result: AssessmentResult, *, color: bool = False, width: int = 100) -> str:
    """Pathways, findings and questions as tables."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False)
    console.print(Text(f"{result.program.name} ({result.program.id}), as of {result.as_of}", style="bold"))
    console.print(
        Text(
            f"engine: {result.audit.engine}; rules fired: {len(result.audit.fired)}; "
            f"undetermined: {len(result.audit.undetermined)}"
        )
    )

    pathways = Table(title="Expedited pathways", box=box.SIMPLE, expand=True)
    pathways.add_column("pathway", no_wrap=True)
    pathways.add_column("status", no_wrap=True)
    pathways.add_column("rationale", ratio=1)
    for p in result.pathways:
        pathways.add_row(Text(p.id), Text(p.status, style=_STATUS_STYLE.get(p.status, "")), Text(p.rationale))
    console.print(pathways)

    findings = Table(title="Findings", box=box.SIMPLE, expand=True)
    findings.add_column("id", no_wrap=True)
    findings.add_column("severity", no_wrap=True)
    findings.add_column("rule", no_wrap=True)
    findings.add_column("finding", ratio=1)
    for f in result.findings:
        if f.kind == "undetermined":
            continue
        label = f.title + (f" [{f.status}]" if f.status != "open" else "")
        findings.add_row(Text(f.id), Text(f.severity, style=_SEVERITY_STYLE[f.severity]), Text(f.rule), Text(label))
    console.print(findings)

    mob = result.make_or_buy
    console.print(Text(f"Make or buy: {mob.recommendation} ({mob.confidence} confidence)", style="bold"))
    factors = Table(box=box.SIMPLE, expand=True)
    factors.add_column("consideration", no_wrap=True)
    factors.add_column("favours", no_wrap=True)
    factors.add_column("reason", ratio=1)
    for factor in mob.factors:
        factors.add_row(Text(factor.id), Text(factor.favours), Text(factor.reason))
    console.print(factors)
    if mob.would_flip_if:
        console.print(Text("Would change if: " + "; ".join(mob.would_flip_if)))
    timeline = result.timeline
    late = ", ".join(timeline.late) or "nothing"
    console.print(Text(f"Timeline: critical path {' > '.join(timeline.critical_path) or '-'}; late: {late}"))
    waived = [f for f in result.findings if f.status == "waived"]
    if waived:
        console.print(Text("Risks accepted (waived): " + ", ".join(f"{f.id} {f.rule}" for f in waived)))
    if result.audit.waivers_unused:
        console.print(Text("Unused waivers: " + ", ".join(result.audit.waivers_unused)))
    if result.questions:
        questions = Table(title="Questions (most valuable first)", box=box.SIMPLE, expand=True)
        questions.add_column("#", no_wrap=True)
        questions.add_column("question", ratio=1)
        questions.add_column("settles", no_wrap=False)
        for n, q in enumerate(result.questions, 1):
            questions.add_row(Text(str(n)), Text(f"{q.question} ({q.field})"), Text(", ".join(q.unlocks)))
        console.print(questions)
    return buffer.getvalue()
