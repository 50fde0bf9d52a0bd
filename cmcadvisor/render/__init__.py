"""Renderers: an assessment in, text out. They format; they never decide or compute.

``render(result, fmt)`` picks the renderer for an output format. JSON is the contract's
document; Markdown and HTML come from Jinja templates, with the executive summary and the
make-or-buy view of :mod:`cmcadvisor.render.summary`; the table is drawn with rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, assert_never

if TYPE_CHECKING:  # the renderers are imported by commands that never build an assessment
    from cmcadvisor.models.result import AssessmentResult

Format = Literal["json", "markdown", "table", "html"]
FORMATS: tuple[str, ...] = ("table", "json", "markdown", "html")


def render(
    result: AssessmentResult,
    fmt: Format,
    *,
    color: bool = False,
    width: int = 100,
    auditor: bool = False,
    templates: str | None = None,
) -> str:
    """The assessment in the requested format (``templates``: an organisation's override folder)."""
    if fmt == "json":
        from cmcadvisor.render.as_json import render_json

        return render_json(result)
    if fmt == "markdown":
        from cmcadvisor.render.summary import executive_summary
        from cmcadvisor.render.templating import render_template

        return render_template("assessment.md.j2", templates, result=result, summary=executive_summary(result))
    if fmt == "html":
        from markupsafe import Markup

        from cmcadvisor.render.gantt import gantt
        from cmcadvisor.render.summary import executive_summary
        from cmcadvisor.render.templating import render_html_template

        svg = gantt(result, "svg").decode("utf-8") if result.timeline.activities or result.timeline.milestones else ""
        svg = svg[svg.find("<svg") :] if "<svg" in svg else ""
        # matplotlib writes the SVG and escapes every text it draws (tested with hostile names)
        chart = Markup(svg)  # noqa: S704
        return render_html_template(
            "assessment.html.j2", templates, result=result, auditor=auditor, gantt_svg=chart, summary=executive_summary(result)
        )
    if fmt == "table":
        from cmcadvisor.render.as_table import render_table

        return render_table(result, color=color, width=width)
    assert_never(fmt)
