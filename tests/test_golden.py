"""Golden files: every output format of every example, through the CLI runner.

Run ``pytest --update-golden`` to rewrite them after an intended change, then review the diff.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from cmcadvisor.cli import cli

GOLDEN = Path(__file__).parent / "golden"
FORMATS = {"json": "json", "markdown": "md", "table": "txt", "html": "html"}
# Other outputs with golden files: (name, command arguments after the program).
OTHERS = {
    "risks.csv": ["risks", "--format", "csv"],
    "risks.json": ["risks", "--format", "json"],
    "timeline.csv": ["timeline", "--format", "csv"],
    "timeline.mmd": ["timeline", "--format", "mermaid"],
    "brief-eop2.md": ["brief", "--meeting", "eop2", "--format", "markdown"],
    "brief-pre_bla.json": ["brief", "--meeting", "pre_bla", "--date", "2028-05-15", "--format", "json"],
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_golden(runner: CliRunner, example: Path, fmt: str, update_golden: bool) -> None:
    result = runner.invoke(cli, ["assess", str(example), "--format", fmt, "--as-of", "2026-11-25"])
    assert result.exit_code == 0, result.output
    # The Gantt chart is matplotlib's drawing: compared by the timeline tests, not byte for byte here.
    output = re.sub(r"<svg.*?</svg>", "<svg>(chart)</svg>", result.output, flags=re.S) if fmt == "html" else result.output
    golden = GOLDEN / f"{example.stem}.{FORMATS[fmt]}"
    if update_golden or not golden.exists():
        golden.write_text(output)
        if not update_golden:
            pytest.fail(f"{golden.name} was missing and has been written; review and commit it")
    assert output == golden.read_text(), f"{golden.name} differs; rerun with --update-golden if intended"


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_golden_other_outputs(runner: CliRunner, name: str, update_golden: bool) -> None:
    example = next(p for p in EXAMPLES if p.stem == "car-t-autologous")
    command, *options = OTHERS[name]
    result = runner.invoke(cli, [command, str(example), *options, "--as-of", "2026-11-25"])
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{example.stem}.{name}"
    if update_golden or not golden.exists():
        golden.write_text(result.output)
        if not update_golden:
            pytest.fail(f"{golden.name} was missing and has been written; review and commit it")
    assert result.output == golden.read_text(), f"{golden.name} differs; rerun with --update-golden if intended"
