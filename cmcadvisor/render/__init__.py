"""Renderers: an assessment in, text out. They format; they never decide or compute.

``render(result, fmt)`` picks the renderer for an output format. JSON is the contract's
document; Markdown comes from a Jinja template; the table is drawn with rich.
"""

from __future__ import annotations

from typing import Literal, assert_never

from cmcadvisor.models.result import AssessmentResult

Format = Literal["json", "markdown", "table"]
FORMATS: tuple[str, ...] = ("table", "json", "markdown")


def render(result: AssessmentResult, fmt: Format, *, color: bool = False, width: int = 100) -> str:
    """The assessment in the requested format."""
    if fmt == "json":
        from cmcadvisor.render.as_json import render_json

        return render_json(result)
    if fmt == "markdown":
        from cmcadvisor.render.templating import render_template

        return render_template("assessment.md.j2", result=result)
    if fmt == "table":
        from cmcadvisor.render.as_table import render_table

        return render_table(result, color=color, width=width)
    assert_never(fmt)
