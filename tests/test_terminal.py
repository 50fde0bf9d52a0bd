"""The terminal tables: the terminal's width, never wider, and every question readable in full."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from cmcadvisor import cli as cli_module
from cmcadvisor import display
from cmcadvisor.cli import cli

AS_OF = "2026-11-25"


def _assess(runner: CliRunner, program: Path, *extra: str, columns: str | None = None) -> str:
    result = runner.invoke(cli, ["assess", str(program), "--as-of", AS_OF, *extra], env={"COLUMNS": columns})
    assert result.exit_code in (0, 1), result.output
    return result.output


def _starter(runner: CliRunner, tmp_path: Path) -> Path:
    """A program as a new user has it after ``cmcadvisor init``: almost every fact missing."""
    path = tmp_path / "program.yaml"
    assert runner.invoke(cli, ["init", str(path)]).exit_code == 0
    return path


def _question_block(text: str) -> str:
    """The questions table: from its title to the end, whitespace collapsed."""
    start = text.index("Questions (most valuable first)")
    return " ".join(text[start:].split())


def _programs(tmp_path: Path, runner: CliRunner) -> list[Path]:
    return [*EXAMPLES, _starter(runner, tmp_path)]


@pytest.mark.parametrize("columns", ["80", "60"])
def test_no_line_wider_than_the_terminal_and_every_question_in_full(runner: CliRunner, tmp_path: Path, columns: str) -> None:
    for program in _programs(tmp_path, runner):
        table = _assess(runner, program, columns=columns)
        too_wide = [line for line in table.splitlines() if len(line) > int(columns)]
        assert not too_wide, (program.name, too_wide[:3])
        questions = json.loads(_assess(runner, program, "--format", "json"))["questions"]
        if not questions:
            continue
        block = _question_block(table)
        for question in questions:
            assert " ".join(question["question"].split()) in block, (program.name, question["question"])


def test_a_question_summarises_what_it_settles(runner: CliRunner, tmp_path: Path) -> None:
    program = _starter(runner, tmp_path)
    questions = json.loads(_assess(runner, program, "--format", "json"))["questions"]
    widest = max(questions, key=lambda q: len(q["unlocks"]))
    assert len(widest["unlocks"]) > 20  # the case the summary is for: dozens of rules behind one question
    block = _question_block(_assess(runner, program, columns="80"))
    rules = [key for key in widest["unlocks"] if not re.match(r"^(us|eu|jp)\.", key)]
    assert f"Settles {len(rules)} rules" in block
    assert not any(rule in block for rule in rules)  # a count, not a list of rule ids
    with_pathway = next(q for q in questions if any(re.match(r"^(us|eu|jp)\.", key) for key in q["unlocks"]))
    names = {p["id"]: p["name"] for p in json.loads(_assess(runner, program, "--format", "json"))["pathways"]}
    pathway = next(key for key in with_pathway["unlocks"] if key in names)
    assert names[pathway] in block and pathway not in block


def test_tables_use_the_width_given(runner: CliRunner) -> None:
    example = EXAMPLES[0]
    wide = _assess(runner, example, columns="140")
    assert max(len(line) for line in wide.splitlines()) > 100  # the tables stretch to 140 columns
    assert max(len(line) for line in wide.splitlines()) <= 140
    piped = _assess(runner, example)  # no COLUMNS and not a terminal: the default width
    assert max(len(line) for line in piped.splitlines()) == cli_module.PIPED_WIDTH
    for command in (["timeline"], ["risks"]):
        result = runner.invoke(cli, [*command, str(example), "--as-of", AS_OF], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.output.splitlines()) <= 80, command


@pytest.mark.parametrize(
    ("columns", "expected"),
    [("80", 80), ("132", 132), ("10", cli_module.MIN_WIDTH), ("", cli_module.PIPED_WIDTH), ("wide", cli_module.PIPED_WIDTH)],
)
def test_table_width_reads_columns(monkeypatch: pytest.MonkeyPatch, columns: str, expected: int) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert cli_module.table_width(Path("out.txt")) == expected


def test_make_or_buy_has_no_constant_column(runner: CliRunner) -> None:
    text = _assess(runner, EXAMPLES[0], columns="100")
    block = text[text.index("Make or buy:") : text.index("Critical path to BLA")]
    header = next(line for line in block.splitlines() if "consideration" in line)
    assert "weight" not in header and "adds" in header  # no weight column when every weight is equal
    assert f"same weight ({display.percent(1 / 7)} each)" in " ".join(block.split())
    assert "+0." in block or "−0." in block


def test_timeline_stays_readable_at_80_columns(runner: CliRunner) -> None:
    for program in EXAMPLES:
        result = runner.invoke(cli, ["timeline", str(program), "--as-of", AS_OF], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.output.splitlines()) <= 80
        header = next(line for line in result.output.splitlines() if line.strip().startswith("activity"))
        # The activity column keeps a readable width (a quarter of the line), not one word a line.
        assert header.index("status") >= 20, header
        activities = json.loads(runner.invoke(cli, ["timeline", str(program), "--format", "json", "--as-of", AS_OF]).output)
        flat = " ".join(result.output.split())
        assert all(activity["name"].split()[0] in flat for activity in activities["activities"])


def test_risk_table_at_80_columns_keeps_titles_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    example = str(next(p for p in EXAMPLES if p.stem == "aav-in-vivo"))
    monkeypatch.setenv("COLUMNS", "80")
    text = CliRunner().invoke(cli, ["risks", example, "--as-of", "2026-11-25"]).output
    assert max(len(line) for line in text.splitlines()) <= 80
    words = " ".join(text.split())
    risks = json.loads(CliRunner().invoke(cli, ["risks", example, "--as-of", "2026-11-25", "--format", "json"]).output)
    items = risks["risks"] if isinstance(risks, dict) else risks
    for risk in items:
        assert risk["id"] in text and risk["title"].split()[0] in words
