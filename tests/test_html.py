"""The HTML report: self-contained, escaped, overridable, and rendered by a real browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BROWSER_FLAGS, ROOT

from cmcadvisor.cli import cli

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
SECTIONS = ("summary", "pathways", "findings", "accepted", "make-or-buy", "timeline", "risks", "questions", "reproduce")


def _html(runner: CliRunner, tmp_path: Path, *extra: str, program: Path = CAR_T) -> Path:
    out = tmp_path / "report.html"
    result = runner.invoke(
        cli, ["assess", str(program), "--format", "html", "--as-of", "2026-11-25", "--output", str(out), *extra]
    )
    assert result.exit_code == 0, result.output
    return out


def test_report_is_self_contained_with_every_section(runner: CliRunner, tmp_path: Path) -> None:
    html = _html(runner, tmp_path).read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in html
    assert "<svg" in html and "<script" not in html
    assert "http://" not in html.split("<svg", 1)[0].replace("http://www.w3.org", "")  # no external resources
    # the waived finding sits under risks accepted, by its title (rule ids only in the auditor view)
    data = json.loads(runner.invoke(cli, ["assess", str(CAR_T), "--format", "json", "--as-of", "2026-11-25"]).output)
    waived = [f["title"] for f in data["findings"] if f["status"] == "waived"]
    accepted = html.split('id="accepted"', 1)[1].split("</section>", 1)[0]
    assert waived and all(escape(title) in accepted for title in waived)
    assert "CMC-POT-002" not in html and "CMC-POT-002" in _html(runner, tmp_path, "--auditor").read_text()


def test_auditor_view_shows_traces(runner: CliRunner, tmp_path: Path) -> None:
    normal = _html(runner, tmp_path).read_text()
    audited = _html(runner, tmp_path, "--auditor").read_text()
    assert 'class="trace"' not in normal and 'class="trace"' in audited
    assert "Firings in engine order" in audited


def test_hostile_strings_are_inert(runner: CliRunner, tmp_path: Path) -> None:
    program = tmp_path / "hostile.yaml"
    program.write_text(
        CAR_T.read_text()
        .replace("name: ACME-19 anti-CD19 CAR-T", 'name: "<script>alert(1)</script>"')
        .replace("- name: Anti-CD3/CD28", '- name: \'=HYPERLINK("http://x","y")\'\n      #')
    )
    html = _html(runner, tmp_path, program=program).read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = runner.invoke(cli, ["assess", str(program), "--format", "markdown", "--as-of", "2026-11-25"]).output
    assert "<script>" not in md


def test_templates_override_in_a_sandbox(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "brand"
    folder.mkdir()
    (folder / "assessment.html.j2").write_text(
        '{% extends "default:assessment.html.j2" %}{% block header %}<h1>ACME regulatory</h1>{{ super() }}{% endblock %}'
    )
    html = _html(runner, tmp_path, "--templates", str(folder)).read_text()
    assert "<h1>ACME regulatory</h1>" in html and 'id="findings"' in html
    (folder / "assessment.html.j2").write_text("{{ result.__class__.__mro__ }}")
    result = runner.invoke(cli, ["assess", str(CAR_T), "--format", "html", "--templates", str(folder)])
    assert result.exit_code == 2 and "template error" in result.output and "Traceback" not in result.output


def _browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_renders_in_headless_chromium(runner: CliRunner, tmp_path: Path) -> None:
    browser = _browser()
    if browser is None:
        if os.environ.get("CMCADVISOR_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (CMCADVISOR_REQUIRE_BROWSER is set) but not installed")
        pytest.skip("Chromium is not installed")
    report = _html(runner, tmp_path)
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [browser, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for section in SECTIONS:
        assert f'id="{section}"' in dom
    assert "F-0001" in dom and "<svg" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            browser,
            *BROWSER_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000
