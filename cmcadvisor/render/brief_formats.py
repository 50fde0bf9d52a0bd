"""Meeting briefs (FDA, EMA, PMDA) as Markdown, HTML, DOCX and JSON.

Each renderer prints a :class:`~cmcadvisor.meetings.Brief` and decides nothing. Markdown and HTML
come from Jinja templates (``brief.md.j2``, ``brief.html.j2``) whose printed values are escaped
for their format; the DOCX is built with python-docx (real headings, numbered questions, a table
of key dates, a DRAFT header, "Page X of Y" footer and contents field) and is byte-identical for
the same brief: its document properties and zip timestamps come from the brief and the assessment
date, never from the clock or the template. The agency-facing body of every format carries no rule,
finding or citation ids and no fact paths; those go to a final "Traceability (internal: remove
before submission)" appendix, which ``trace=False`` (``--no-trace``) leaves out.
"""

from __future__ import annotations

import datetime
import io
import json
from typing import Literal, assert_never

from cmcadvisor.models.meetings import Brief
from cmcadvisor.models.result import CitationRef, MeetingQuestion
from cmcadvisor.render.office import stable_zip

BriefFormat = Literal["markdown", "docx", "html", "json"]
BRIEF_FORMATS: tuple[str, ...] = ("markdown", "docx", "html", "json")


_CORE_LIMIT = 255


def _core_text(text: str) -> str:
    """A document property value within Word's 255-character limit (cut with an ellipsis)."""
    return text if len(text) <= _CORE_LIMIT else text[: _CORE_LIMIT - 1].rstrip() + "\u2026"


def brief_markdown(brief: Brief, templates: str | None = None, *, trace: bool = True) -> str:
    """The brief as Markdown (``templates``: an organisation's override folder; ``trace``: add the appendix)."""
    from cmcadvisor.render.templating import render_template

    return render_template("brief.md.j2", templates, brief=brief, trace=trace)


def brief_html(brief: Brief, templates: str | None = None, *, trace: bool = True) -> str:
    """The brief as one self-contained, printable HTML page (``trace``: add the traceability appendix)."""
    from cmcadvisor.render.templating import render_html_template

    return render_html_template("brief.html.j2", templates, brief=brief, trace=trace)


def brief_json(brief: Brief) -> str:
    """The meeting (the contract's ``meetings`` entry, with the extra keys) plus the outline, as JSON."""
    meeting = brief.meeting.model_dump(mode="json")
    document: dict[str, object] = {
        "schema_version": 1,
        "tool": {"name": "cmcadvisor", "version": brief.tool_version},
        "program": brief.program.model_dump(mode="json"),
        "as_of": brief.as_of,
        **meeting,
        "agency": brief.agency,
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
            "question_sources": {str(k): v for k, v in brief.question_sources.items()},
            "trace": [t.model_dump(mode="json") for t in brief.trace],
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


TRACE_HEADING = "Traceability (internal: remove before submission)"


def _source_text(c: CitationRef) -> str:
    text = f"{c.title}, {c.issuer}, {c.year}" + (f", {c.section}" if c.section else "")
    return text + (" (draft)" if c.status == "draft" else "") + (f". {c.url}" if c.url else "")


def brief_docx(brief: Brief, *, trace: bool = True) -> bytes:
    """The brief as a Word document a regulatory writer can start from; deterministic for the same brief.

    A header with the program and a DRAFT mark, a "Page X of Y" footer (PAGE and NUMPAGES fields),
    a table-of-contents field (filled with the headings; Word refreshes it with page numbers on
    opening), headings kept with what follows, core and extended document properties from the
    brief (no template metadata, no thumbnail), and the traceability appendix last unless
    ``trace`` is false.
    """
    from docx import Document
    from docx.document import Document as DocumentObject
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.shared import Cm, Pt, RGBColor
    from docx.text.paragraph import Paragraph

    doc: DocumentObject = Document()
    m = brief.meeting
    as_of = datetime.date.fromisoformat(brief.as_of)
    stamp = datetime.datetime(as_of.year, as_of.month, as_of.day, tzinfo=datetime.UTC)
    props = doc.core_properties
    # Word's core properties hold at most 255 characters; names and sponsors may be longer.
    props.title = _core_text(brief.title)
    props.subject = _core_text(f"{brief.meeting_label}: meeting request and briefing package outline")
    props.author = _core_text(brief.sponsor or brief.program.name)
    props.last_modified_by = "cmcadvisor"
    props.keywords = _core_text(f"{brief.program.id}; {m.name}; {brief.agency_short} meeting; draft")
    props.comments = _core_text(brief.disclaimer)
    props.category = f"{brief.agency_short} meeting brief (draft)"
    props.identifier = _core_text(f"{brief.program.id}-{m.type}-{brief.as_of}")
    props.version = _core_text(brief.tool_version)
    props.revision = 1
    props.created = stamp
    props.modified = stamp
    props.last_printed = stamp

    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    section = doc.sections[0]
    section.top_margin = section.bottom_margin = Cm(2.2)
    section.left_margin = section.right_margin = Cm(2.2)
    section.header_distance = section.footer_distance = Cm(1.0)
    _header(section.header.paragraphs[0], _header_text(brief.program.name, m.name), RGBColor(0xA3, 0x15, 0x15))
    _page_footer(section.footer.paragraphs[0])

    toc: list[tuple[int, str]] = []

    def heading(text: str, level: int) -> Paragraph:
        para: Paragraph = doc.add_heading(text, level=level)
        para.paragraph_format.keep_with_next = True
        para.paragraph_format.keep_together = True
        if level == 1:
            toc.append((level, text))
        return para

    def paragraph(text: str = "", style: str | None = None, *, keep: bool = False) -> Paragraph:
        para = doc.add_paragraph(text, style=style)
        para.paragraph_format.keep_together = True
        if keep:
            para.paragraph_format.keep_with_next = True
        return para

    def bullets(lines: list[str]) -> None:
        for index, line in enumerate(lines):
            # The first lines stay with the next, so a list never leaves one line behind its heading.
            paragraph(line, "List Bullet", keep=index == 0 and len(lines) > 1)

    def labelled(label: str, text: str, *, keep: bool = True) -> None:
        para = paragraph(style="List Bullet", keep=keep)
        para.add_run(f"{label}: ").bold = True
        para.add_run(text)

    def question_line(number: int, text: str, tail: str = "", *, keep: bool = False) -> None:
        para = paragraph(keep=keep)
        para.add_run(f"Question {number}. ").bold = True
        para.add_run(text + tail)

    title = doc.add_heading(brief.title, level=0)
    title.paragraph_format.keep_with_next = True
    draft = paragraph(keep=True)
    mark = draft.add_run("DRAFT")
    mark.bold = True
    mark.font.color.rgb = RGBColor(0xA3, 0x15, 0x15)
    draft.add_run(f"  Program {brief.program.id}, as of {brief.as_of_text}. Meeting: {brief.meeting_label}.")
    draft.add_run(f" Fit: {brief.fit_label}.")
    note = paragraph()
    note.add_run(brief.disclaimer).italic = True
    contents = paragraph(keep=True)
    contents.add_run("Contents").bold = True
    toc_paragraph = paragraph()

    heading("Key dates", 1)
    _grid(
        doc,
        ("Date", "What", "How the date is set"),
        [(d.date or "not set", d.label, d.rule) for d in brief.key_dates],
        (Cm(2.6), Cm(5.0), Cm(9.0)),
    )
    bullets([f"Scheduling: {n}" for n in m.date_notes])

    heading("Which meeting fits", 1)
    paragraph(m.purpose)
    if brief.when_to_ask:
        when = paragraph()
        when.add_run("When to ask: ").bold = True
        when.add_run(brief.when_to_ask)
    bullets([*m.fit_reasons, *m.limits, *([f"CDRP: {m.cdrp}"] if m.cdrp else [])])

    heading("Assumptions", 1)
    bullets(m.assumptions)

    def request_question(q: MeetingQuestion) -> None:
        question_line(q.number, q.text, f" (CTD {q.ctd_section or 'no Module 3 section'})")

    def package_question(q: MeetingQuestion) -> None:
        heading(f"Question {q.number}", 4)
        question_line(q.number, q.text, keep=True)
        refs = ", ".join(f"[{n}]" for n in brief.question_sources.get(q.number, [])) or "none"
        labelled("Context", q.context)
        labelled("CTD Module 3", q.ctd_section or "no Module 3 section")
        labelled("Sources", refs)
        labelled("Sponsor's position", q.sponsor_position, keep=False)

    # The request and the package list the same outline items; only their questions read differently.
    for title_text, items, write_question in (
        (f"Part 1: {brief.request_title}", brief.request, request_question),
        (f"Part 2: {brief.package_title}", brief.package, package_question),
    ):
        heading(title_text, 1).paragraph_format.page_break_before = True
        for item in items:
            heading(f"{item.number}. {item.title}", 2)
            if item.id == "questions":
                for group in brief.question_groups:
                    heading(group.label, 3)
                    for q in group.questions:
                        write_question(q)
                if not brief.question_groups:
                    paragraph("No questions could be drawn from the open findings. [Add the sponsor's questions.]")
            else:
                bullets(item.lines)
            if item.note:
                paragraph(f"Note: {item.note}")

    heading("Sources", 1)
    for c in brief.sources:
        paragraph(_source_text(c), "List Number")

    if trace:
        heading(TRACE_HEADING, 1).paragraph_format.page_break_before = True
        paragraph(
            "Where each question comes from in the assessment: the rules and findings behind it and the facts they "
            f"tested. For cmcadvisor's users only; delete this appendix before the package goes to {brief.agency_short}."
        ).runs[0].italic = True
        _grid(
            doc,
            ("Item", "Rules", "Findings", "Facts"),
            [
                (
                    t.item,
                    ", ".join(t.rules),
                    ", ".join(t.findings) + (f" ({t.severity})" if t.severity else ""),
                    "\n".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in t.facts.items()) or "none",
                )
                for t in brief.trace
            ],
            (Cm(2.4), Cm(3.6), Cm(3.2), Cm(7.4)),
        )
        paragraph("Sources by knowledge-base id:", keep=True)
        for n, c in enumerate(brief.sources, 1):
            paragraph(f"[{n}] {c.id} ({c.status}; {c.confidence})", "List Bullet")

    _toc_field(toc_paragraph, toc)
    _update_fields_on_open(doc)
    package = doc.part.package
    for rel_id, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:  # the template's preview image: not this document
            del package.rels[rel_id]
        elif rel.reltype == RT.EXTENDED_PROPERTIES:
            rel.target_part._blob = _app_xml(brief, doc)
    raw = io.BytesIO()
    doc.save(raw)
    return stable_zip(raw.getvalue(), as_of)


# ---------------------------------------------------------------- WordprocessingML helpers


def _run_field(paragraph: object, instruction: str, shown: str) -> None:
    """A complex field (``PAGE``, ``NUMPAGES``, ``TOC ...``) whose current result reads ``shown``."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    assert isinstance(paragraph, Paragraph)
    for kind, text in (("begin", None), ("instr", instruction), ("separate", None), ("result", shown), ("end", None)):
        run = paragraph.add_run()
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = f" {text} "
            run._r.append(instr)
        elif kind == "result":
            run.text = text or ""
        else:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            if kind == "begin":
                char.set(qn("w:dirty"), "true")
            run._r.append(char)


_HEADER_LIMIT = 90


def _header_text(program: str, meeting: str) -> str:
    """Program and meeting for the page header, cut to one line (the program name gives way first)."""
    text = f"{program}: {meeting}"
    if len(text) <= _HEADER_LIMIT:
        return text
    room = _HEADER_LIMIT - len(meeting) - 3
    if room >= 12:
        return f"{program[:room].rstrip()}\u2026: {meeting}"
    return text[: _HEADER_LIMIT - 1].rstrip() + "\u2026"


def _header(paragraph: object, text: str, colour: object) -> None:
    """The page header: the DRAFT mark first, then the program and meeting on the same line.

    The mark leads so that a long title can never push it onto the title's text (a right-aligned
    mark after a tab ran into titles longer than the line).
    """
    from docx.shared import Pt
    from docx.text.paragraph import Paragraph

    assert isinstance(paragraph, Paragraph)
    mark = paragraph.add_run("DRAFT")
    mark.bold = True
    mark.font.size = Pt(9)
    mark.font.color.rgb = colour
    lead = paragraph.add_run(f"\u2003{text}")
    lead.font.size = Pt(9)


def _page_footer(paragraph: object) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.text.paragraph import Paragraph

    assert isinstance(paragraph, Paragraph)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run("Page ")
    _run_field(paragraph, "PAGE", "1")
    paragraph.add_run(" of ")
    _run_field(paragraph, "NUMPAGES", "1")


def _toc_field(paragraph: object, entries: list[tuple[int, str]]) -> None:
    """A TOC field over the level-1 headings; its result lists them until Word refreshes it with page numbers."""
    from docx.text.paragraph import Paragraph

    assert isinstance(paragraph, Paragraph)
    shown = "\n".join(("    " if level == 2 else "") + text for level, text in entries)
    _run_field(paragraph, 'TOC \\o "1-1" \\h \\z \\u', shown)
    for run in paragraph.runs:
        if "\n" in run.text:
            lines = run.text.split("\n")
            run.text = lines[0]
            for line in lines[1:]:
                run.add_break()
                run.add_text(line)


def _update_fields_on_open(doc: object) -> None:
    """Ask Word to refresh the fields (contents, page count) when the document opens."""
    from docx.document import Document as DocumentObject
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    assert isinstance(doc, DocumentObject)
    settings = doc.settings.element
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    settings.append(update)


def _widths(table: object, widths: tuple[object, ...]) -> None:
    """Fixed column widths, in the grid (which LibreOffice reads) and in every cell (which Word reads)."""
    from docx.shared import Length
    from docx.table import Table

    assert isinstance(table, Table)
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        assert isinstance(width, Length)
        column.width = width
        for cell in column.cells:
            cell.width = width


def _grid(doc: object, headers: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[object, ...]) -> None:
    """A bordered table: bold header row repeated on every page, rows never split, fixed widths."""
    from docx.document import Document as DocumentObject

    assert isinstance(doc, DocumentObject)
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    _row_flag(table.rows[0], "w:tblHeader")
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    for values in rows:
        row = table.add_row()
        _row_flag(row, "w:cantSplit")
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = text
    _widths(table, widths)


def _row_flag(row: object, tag: str) -> None:
    """Set an on/off row property (``w:tblHeader`` repeats the row; ``w:cantSplit`` keeps it on one page)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.table import _Row

    assert isinstance(row, _Row)
    flag = OxmlElement(tag)
    flag.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(flag)


def _app_xml(brief: Brief, doc: object) -> bytes:
    """docProps/app.xml written for this document (the template's says another application, 1 page, 0 words)."""
    from xml.sax.saxutils import escape

    from docx.document import Document as DocumentObject

    assert isinstance(doc, DocumentObject)
    texts = [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells]
    words = sum(len(t.split()) for t in texts)
    characters = sum(len(t.replace(" ", "")) for t in texts)
    company = escape(brief.sponsor or "")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"<Template>Normal.dotm</Template><TotalTime>0</TotalTime><Words>{words}</Words>"
        f"<Characters>{characters}</Characters><Application>cmcadvisor {escape(brief.tool_version)}</Application>"
        f"<DocSecurity>0</DocSecurity><Paragraphs>{len(texts)}</Paragraphs><ScaleCrop>false</ScaleCrop>"
        f"<Company>{company}</Company><LinksUpToDate>false</LinksUpToDate>"
        f"<CharactersWithSpaces>{sum(len(t) for t in texts)}</CharactersWithSpaces>"
        "<SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged></Properties>"
    ).encode()


def render_brief(brief: Brief, fmt: BriefFormat, *, templates: str | None = None, trace: bool = True) -> str | bytes:
    """The brief in ``fmt``: text for markdown, html and json; bytes for docx.

    ``trace`` adds the internal traceability appendix to Markdown, HTML and DOCX; the JSON always
    carries the trace (it is the machine-readable record).
    """
    if fmt == "markdown":
        return brief_markdown(brief, templates, trace=trace)
    if fmt == "html":
        return brief_html(brief, templates, trace=trace)
    if fmt == "json":
        return brief_json(brief)
    if fmt == "docx":
        return brief_docx(brief, trace=trace)
    assert_never(fmt)
