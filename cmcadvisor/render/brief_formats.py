"""FDA meeting briefs as Markdown, HTML, DOCX and JSON.

Each renderer prints a :class:`~cmcadvisor.meetings.Brief` and decides nothing. Markdown and HTML
come from Jinja templates (``brief.md.j2``, ``brief.html.j2``) whose printed values are escaped
for their format; the DOCX is built with python-docx (real headings, numbered questions, a table
of key dates) and is byte-identical for the same brief: its core properties and zip timestamps
come from the assessment date, never from the clock.
"""

from __future__ import annotations

import datetime
import io
import json
from typing import Literal, assert_never

from cmcadvisor.meetings import Brief
from cmcadvisor.models.result import MeetingQuestion
from cmcadvisor.render.office import stable_zip

BriefFormat = Literal["markdown", "docx", "html", "json"]
BRIEF_FORMATS: tuple[str, ...] = ("markdown", "docx", "html", "json")


def brief_markdown(brief: Brief, templates: str | None = None) -> str:
    """The brief as Markdown (``templates``: an organisation's override folder)."""
    from cmcadvisor.render.templating import render_template

    return render_template("brief.md.j2", templates, brief=brief)


def brief_html(brief: Brief, templates: str | None = None) -> str:
    """The brief as one self-contained, printable HTML page."""
    from cmcadvisor.render.templating import render_html_template

    return render_html_template("brief.html.j2", templates, brief=brief)


def brief_json(brief: Brief) -> str:
    """The meeting (the contract's ``meetings`` entry, with the extra keys) plus the outline, as JSON."""
    meeting = brief.meeting.model_dump(mode="json")
    document: dict[str, object] = {
        "schema_version": 1,
        "tool": {"name": "cmcadvisor", "version": brief.tool_version},
        "program": brief.program.model_dump(mode="json"),
        "as_of": brief.as_of,
        **meeting,
        "outline": {
            "title": brief.title,
            "disclaimer": brief.disclaimer,
            "key_dates": [d.model_dump(mode="json") for d in brief.key_dates],
            "request": [i.model_dump(mode="json") for i in brief.request],
            "package": [i.model_dump(mode="json") for i in brief.package],
            "question_groups": [
                {"discipline": g.discipline, "label": g.label, "questions": [q.number for q in g.questions]}
                for g in brief.question_groups
            ],
            "attachments": list(brief.attachments),
            "sources": [c.model_dump(mode="json") for c in brief.sources],
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _facts_text(facts: dict[str, object]) -> str:
    if not facts:
        return "none recorded"
    return "; ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in facts.items())


def brief_docx(brief: Brief) -> bytes:
    """The brief as a Word document with real headings; deterministic for the same brief."""
    from docx import Document
    from docx.document import Document as DocumentObject
    from docx.shared import Pt

    doc: DocumentObject = Document()
    m = brief.meeting
    as_of = datetime.date.fromisoformat(brief.as_of)
    stamp = datetime.datetime(as_of.year, as_of.month, as_of.day, tzinfo=datetime.UTC)
    props = doc.core_properties
    props.title = brief.title
    props.subject = f"FDA {m.fda_category} meeting request and briefing package outline"
    props.author = "cmcadvisor"
    props.last_modified_by = "cmcadvisor"
    props.keywords = f"{brief.program.id}; {m.type}; FDA meeting"
    props.comments = brief.disclaimer
    props.category = "FDA meeting brief"
    props.identifier = f"{brief.program.id}-{m.type}-{brief.as_of}"
    props.version = brief.tool_version
    props.revision = 1
    props.created = stamp
    props.modified = stamp
    props.last_printed = stamp

    def bullets(lines: list[str]) -> None:
        for line in lines:
            doc.add_paragraph(line, style="List Bullet")

    def question_line(number: int, text: str, tail: str = "") -> None:
        para = doc.add_paragraph()
        para.add_run(f"Question {number}. ").bold = True
        para.add_run(text + tail)

    doc.add_heading(brief.title, level=0)
    doc.add_paragraph(
        f"Program {brief.program.id}, as of {brief.as_of}. Meeting type: {m.type} ({m.fda_category}). Fit: {m.fit}."
    )
    note = doc.add_paragraph()
    note.add_run(brief.disclaimer).italic = True

    doc.add_heading("Key dates", level=1)
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("Date", "What", "Rule"), strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for d in brief.key_dates:
        row = table.add_row().cells
        row[0].text, row[1].text, row[2].text = d.date or "not set", d.label, d.rule
    bullets([f"Scheduling: {n}" for n in m.date_notes])

    doc.add_heading("Which meeting fits", level=1)
    doc.add_paragraph(m.purpose)
    bullets([*m.fit_reasons, *(f"Limit: {x}" for x in m.limits), *([f"CDRP: {m.cdrp}"] if m.cdrp else [])])

    doc.add_heading("Assumptions", level=1)
    bullets(m.assumptions)

    def request_question(q: MeetingQuestion) -> None:
        question_line(q.number, q.text, f" (Rules: {', '.join(q.rules)}; CTD {q.ctd_section or 'no Module 3 section'})")

    def package_question(q: MeetingQuestion) -> None:
        doc.add_heading(f"Question {q.number}", level=4)
        question_line(q.number, q.text)
        traced = f"rule {', '.join(q.rules)}" + (f", finding {q.finding}" if q.finding else "")
        traced += f" ({q.severity})" if q.severity else ""
        for label, text in (
            ("Context", q.context),
            ("Facts behind it", _facts_text(dict(q.facts))),
            ("CTD Module 3", q.ctd_section or "no Module 3 section"),
            ("Traced to", traced),
            ("Sources", ", ".join(q.citations) or "none"),
            ("Sponsor's position", q.sponsor_position),
        ):
            para = doc.add_paragraph(style="List Bullet")
            para.add_run(f"{label}: ").bold = True
            para.add_run(text)

    # The request and the package list the same outline items; only their questions read differently.
    for heading, items, write_question in (
        ("Part 1: Meeting request", brief.request, request_question),
        ("Part 2: Briefing package outline", brief.package, package_question),
    ):
        doc.add_heading(heading, level=1)
        for item in items:
            doc.add_heading(f"{item.number}. {item.title}", level=2)
            if item.id == "questions":
                for group in brief.question_groups:
                    doc.add_heading(group.label, level=3)
                    for q in group.questions:
                        write_question(q)
                if not brief.question_groups:
                    doc.add_paragraph("No questions could be drawn from the open findings. [Add the sponsor's questions.]")
            else:
                bullets(item.lines)
            if item.note:
                doc.add_paragraph(f"Note: {item.note}")

    doc.add_heading("Sources", level=1)
    for c in brief.sources:
        text = f"{c.id}: {c.title}, {c.issuer}, {c.year}" + (f", {c.section}" if c.section else "")
        text += f" ({c.status}; {c.confidence})" + (f" {c.url}" if c.url else "")
        doc.add_paragraph(text, style="List Bullet")

    style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    raw = io.BytesIO()
    doc.save(raw)
    return stable_zip(raw.getvalue(), as_of)


def render_brief(brief: Brief, fmt: BriefFormat, *, templates: str | None = None) -> str | bytes:
    """The brief in ``fmt``: text for markdown, html and json; bytes for docx."""
    if fmt == "markdown":
        return brief_markdown(brief, templates)
    if fmt == "html":
        return brief_html(brief, templates)
    if fmt == "json":
        return brief_json(brief)
    if fmt == "docx":
        return brief_docx(brief)
    assert_never(fmt)
