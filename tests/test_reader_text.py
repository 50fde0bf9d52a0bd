"""Reader-facing wording of briefs, reports, the terminal, `knowledge status` and `explain`.

Each test pins one reading flaw that was fixed: a DRAFT mark that ran into a long header, a
doubled "no date is set", a topic list without its "and", nested brackets, Python values
(``True``, ``['eu', 'us']``) in place of the program file's spelling, a late list in id order,
and late long-lead items told twice in the executive summary.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from click.testing import CliRunner

from cmcadvisor.cli import cli
from cmcadvisor.render.brief_formats import _HEADER_LIMIT, _header_text

ROOT = Path(__file__).resolve().parents[1]
CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
AAV = ROOT / "examples" / "aav-in-vivo.yaml"
AS_OF = ["--as-of", "2026-12-04"]

LATE_ISOLATOR = """\
    - name: Isolator for aseptic fill of the commercial drug product (custom build, vendor queue)
      lead_time_weeks: 60
      need_by: 2027-09-01
      ordered: false
      needed_for: [ppq]
"""


def _late_copy(tmp_path: Path) -> Path:
    """The CAR-T example with one more long-lead item that holds up PPQ but not the BLA."""
    text = CAR_T.read_text()
    marker = "  backup_storage: false\n"
    assert text.count(marker) == 1
    path = tmp_path / "late.yaml"
    path.write_text(text.replace(marker, LATE_ISOLATOR + marker))
    return path


def _run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.output


def test_docx_header_leads_with_draft_and_fits_one_line(runner: CliRunner, tmp_path: Path) -> None:
    import docx

    long_name = "EXG-209 AAV9 gene therapy for limb-girdle muscular dystrophy R4 (beta-sarcoglycan deficiency), adults"
    out = tmp_path / "brief.docx"
    _run(runner, "brief", str(AAV), "--meeting", "ema_scientific_advice", "--format", "docx", "-o", str(out),
         "--set", f"program.name={long_name}", *AS_OF)  # fmt: skip
    header = docx.Document(io.BytesIO(out.read_bytes())).sections[0].header.paragraphs[0]
    assert header.runs[0].text == "DRAFT" and header.runs[0].bold
    assert "\t" not in header.text  # no tab for a long title to push the mark past
    assert header.text.endswith(": EMA scientific advice") and "\u2026" in header.text
    assert len(header.text) <= len("DRAFT\u2003") + _HEADER_LIMIT


def test_header_text_keeps_short_titles_and_cuts_the_program_first() -> None:
    assert _header_text("ACME-19", "Pre-BLA meeting") == "ACME-19: Pre-BLA meeting"
    cut = _header_text("x" * 200, "PMDA consultation on quality and safety")
    assert len(cut) <= _HEADER_LIMIT and cut.endswith("\u2026: PMDA consultation on quality and safety")


def test_agency_briefs_read_as_prose(runner: CliRunner) -> None:
    ema = _run(runner, "brief", str(AAV), "--meeting", "ema_scientific_advice", *AS_OF)
    assert "- Limit:" not in ema and "Note: Pre-submission:" not in ema
    scopes = [line for line in ema.splitlines() if line.startswith("- To obtain the Agency's feedback on")]
    assert scopes and all("; and " in line for line in scopes)  # the last topic has its "and"
    assert "Meeting date: 2027-02-22, set from the earliest date" in ema
    milestones = next(line for line in ema.splitlines() if line.startswith("- Planned milestones:"))
    dates = re.findall(r"\d{4}-\d{2}-\d{2}", milestones)
    assert dates == sorted(dates)
    pmda = _run(runner, "brief", str(AAV), "--meeting", "pmda_rs_strategy", *AS_OF)
    assert "No date is set:" not in pmda and pmda.count("so no date is set here") == 2  # key dates and Part 1 item 9
    assert "RS strategy consultation is aimed" not in pmda


def test_late_items_are_told_once_by_their_own_names(runner: CliRunner, tmp_path: Path) -> None:
    path = _late_copy(tmp_path)
    markdown = _run(runner, "assess", str(path), "--format", "markdown")
    assert "- Isolator for aseptic fill of the commercial drug product…: forecast in hand on" in markdown
    assert "this holds up process performance qualification by 78 days, but the plan has room for it" in markdown
    assert "- Controlled-rate freezer (second unit for pivotal capacity): forecast in hand" in markdown
    assert "it moves nothing, because that work cannot start any earlier" in markdown
    assert "\n\nLate long-lead items:\n\n- " in markdown and "reasons.\n\nCalendar days" in markdown  # its own block
    late = next(line for line in markdown.splitlines() if line.startswith("Late, in date order:"))
    assert late.index("Controlled-rate freezer") < late.index("Pivotal study start (34 days late)") < late.index("Submit the BLA")
    assert (
        "= False" not in markdown and "['eu', 'us']" not in markdown and '\\["eu", "us"\\]' in markdown
    )  # Markdown escapes the brackets
    page = _run(runner, "assess", str(path), "--format", "html")
    summary = page[page.index('<section id="executive-summary">') : page.index("</section>")]
    assert summary.count("Order and receive long-lead equipment") == 0  # the late row leaves them to their own row
    assert summary.count("Isolator for aseptic fill of the commercial drug product…: forecast") == 1


def test_terminal_late_items_hang_under_their_heading(runner: CliRunner, tmp_path: Path) -> None:
    path = _late_copy(tmp_path)
    for command in ("assess", "timeline"):
        text = runner.invoke(cli, [command, str(path)], env={"COLUMNS": "80"}).output
        block = text[text.index("Late long-lead items:\n") :]
        lines = block.splitlines()[1:5]
        assert lines[0].startswith("- ") and lines[1].startswith("  "), command
        assert "Late item:" not in text and "Late, in date order: " in text


def test_knowledge_status_table_names_what_each_id_stands_for(runner: CliRunner) -> None:
    text = runner.invoke(cli, ["knowledge", "status", *AS_OF], env={"COLUMNS": "120"}).output
    assert "CIT-CBER-PLI-PRESENTATION-2009" in text and "CBER presentation on pre-license inspections" in text
    assert "confidence: secondary" in text
    markdown = _run(runner, "knowledge", "status", *AS_OF, "--format", "markdown")
    assert "FDA meeting types" not in markdown and "Meeting types: EMA scientific advice" in markdown


def test_explain_spells_values_as_the_program_file_does(runner: CliRunner) -> None:
    mob = _run(runner, "explain", str(CAR_T), "make-or-buy")
    assert "=True" not in mob and "slot_reserved = true" in mob
    assert "equal weights: 1/7 = 0.1429 each" in mob
    meeting = _run(runner, "explain", str(CAR_T), "eop2")
    assert "['phase2']" not in meeting and 'clinical.stage in ["phase2"]' in meeting and "eq True" not in meeting
    assert "(No later than" not in meeting and ": 2026-12-30. No later than 70 days" in meeting
    rule = _run(runner, "explain", str(CAR_T), "PW-PRIME-008")
    assert "(is (not given))" not in rule and "program.sponsor_type in [sme, academic] (not given)" in rule
