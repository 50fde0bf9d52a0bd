"""The HTML report printed by a real browser: the executive summary is page 1, on A4 and on Letter.

Each bundled example's report is printed to PDF by headless Chromium (the browser CI installs)
and page 1's text is read with pdftotext (poppler-utils). Without a browser the tests skip,
unless ``CMCADVISOR_REQUIRE_BROWSER`` is set (as in CI), where they fail.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BROWSER_FLAGS as SHARED_FLAGS
from conftest import EXAMPLES

from cmcadvisor import display
from cmcadvisor.cli import cli

BROWSER_FLAGS = (*SHARED_FLAGS, "--no-pdf-header-footer")
PAPERS = {"A4": "A4", "Letter": "letter"}
SUMMARY_ROWS = ("Pathways to pursue", "Make or buy", "Top open risks", "Late", "Critical path to BLA", "Next FDA meeting")


def _tool(*names: str) -> str:
    found = next((path for path in map(shutil.which, names) if path), None)
    if found is None:
        if os.environ.get("CMCADVISOR_REQUIRE_BROWSER"):
            pytest.fail(f"{names[0]} is required here (CMCADVISOR_REQUIRE_BROWSER is set) but not installed")
        pytest.skip(f"{names[0]} is not installed")
    return found


def _report(runner: CliRunner, program: Path, folder: Path, paper: str) -> Path:
    """The report with the paper size set, as a user's print dialog would."""
    result = runner.invoke(cli, ["assess", str(program), "--format", "html", "--as-of", "2026-11-25"])
    assert result.exit_code == 0, result.output
    html = result.output.replace("</head>", f"<style>@page {{ size: {PAPERS[paper]}; }}</style></head>", 1)
    path = folder / f"{program.stem}-{paper}.html"
    path.write_text(html, encoding="utf-8")
    return path


def _print(report: Path, folder: Path) -> Path:
    browser = _tool("chromium", "chromium-browser", "google-chrome")
    pdf = report.with_suffix(".pdf")
    subprocess.run(
        [browser, *BROWSER_FLAGS, f"--user-data-dir={folder / 'profile'}", f"--print-to-pdf={pdf}", report.as_uri()],
        capture_output=True,
        timeout=180,
        check=True,
    )
    assert pdf.read_bytes().startswith(b"%PDF")
    return pdf


def _page_text(pdf: Path, first: int, last: int | None = None) -> str:
    pdftotext = _tool("pdftotext")
    command = [pdftotext, "-f", str(first), "-l", str(last or first), str(pdf), "-"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, timeout=60, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


@pytest.mark.parametrize("paper", sorted(PAPERS))
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_executive_summary_is_the_first_printed_page(runner: CliRunner, tmp_path: Path, example: Path, paper: str) -> None:
    pdf = _print(_report(runner, example, tmp_path, paper), tmp_path)
    page = " ".join(_page_text(pdf, 1).split())
    assert "Executive summary" in page
    for row in SUMMARY_ROWS:  # the whole summary, down to its last row, fits on page 1
        assert row in page, (row, page[:400])
    json_out = runner.invoke(cli, ["assess", str(example), "--format", "json", "--as-of", "2026-11-25"]).output
    result = json.loads(json_out)
    answer = display.term(result["make_or_buy"]["recommendation"])
    assert f"{answer[:1].upper()}{answer[1:]}" in page  # the make-or-buy answer itself
    if result["make_or_buy"]["recommendation"] != "undetermined":
        assert f"{result['make_or_buy']['confidence']} confidence" in page
    upcoming = sorted(m["recommended_date"] for m in result["meetings"] if m["recommended_date"] >= result["as_of"])
    if upcoming:
        assert display.human_date(upcoming[0]) in page  # the next FDA meeting's date
    # Only the summary and the contents share page 1: the sections start on later pages.
    assert "Findings" in page and "Expedited pathways" in page  # as contents entries
    assert "Risks accepted (waived findings)" not in page
    assert "Critical path to BLA" in page


def test_printed_report_expands_details_and_repeats_table_headers(runner: CliRunner, tmp_path: Path) -> None:
    example = next(p for p in EXAMPLES if p.stem == "car-t-autologous")
    pdf = _print(_report(runner, example, tmp_path, "Letter"), tmp_path)
    text = _page_text(pdf, 1, _pages(pdf))
    flat = " ".join(text.split())
    json_out = runner.invoke(cli, ["assess", str(example), "--format", "json", "--as-of", "2026-11-25"]).output
    factors = json.loads(json_out)["make_or_buy"]["factors"]
    folded = max((f["reason"] for f in factors), key=len)  # its later sentences sit in a closed <details>
    last_words = " ".join(folded.split()[-8:])
    assert last_words in flat, last_words
    # A table that runs over a page break repeats its header row on the next page.
    pages = [_page_text(pdf, n) for n in range(1, _pages(pdf) + 1)]
    pages_with_header = sum(1 for page in pages if "Mitigation" in page and "Owner" in page)
    assert pages_with_header >= 2


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_executive_summary_holds_what_a_reader_acts_on(runner: CliRunner, example: Path) -> None:
    """Without a browser: the summary's pathways, risks, late items and next meeting come from the assessment."""
    result = json.loads(runner.invoke(cli, ["assess", str(example), "--format", "json", "--as-of", "2026-11-25"]).output)
    page = runner.invoke(cli, ["assess", str(example), "--format", "html", "--as-of", "2026-11-25"]).output
    start = page.index('<section id="executive-summary">')
    summary = html.unescape(page[start : page.index("</section>", start)])
    top = sorted((r for r in result["risks"] if r["status"] == "open"), key=lambda r: (-r["score"], r["id"]))[:5]
    positions = [summary.index(risk["title"]) for risk in top]
    assert positions == sorted(positions)  # the five highest-scoring open risks, highest first
    for pathway in result["pathways"]:
        assert (f"<b>{pathway['name']}</b>" in summary) == (pathway["status"] == "eligible"), pathway["id"]
        if pathway["status"] == "eligible" and pathway.get("next_step_due"):
            assert display.human_date(pathway["next_step_due"]) in summary
    meetings = sorted(
        (m for m in result["meetings"] if m["recommended_date"] >= result["as_of"]), key=lambda m: m["recommended_date"]
    )
    if meetings:
        assert display.human_date(meetings[0]["request_due"]) in summary
    activities = {a["id"]: a["name"] for a in result["timeline"]["activities"]}
    items = {i["id"] for i in result["timeline"]["late_items"]}
    for key in result["timeline"]["critical_path"] + result["timeline"]["late"]:
        if key in activities:
            # A late long-lead item is told once, in its own row, by the item's name ("Controlled-rate freezer").
            assert (activities[key].split(": ", 1)[-1] if key in items else activities[key]) in summary
    for fact_path in ("organization.", "clinical.", "manufacturing."):
        assert fact_path not in summary
