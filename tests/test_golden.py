"""Golden files: every output format of every example, through the CLI runner.

Run ``pytest --update-golden`` to rewrite them after an intended change, then review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from cmcadvisor.cli import cli

GOLDEN = Path(__file__).parent / "golden"
FORMATS = {"json": "json", "markdown": "md", "table": "txt"}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_golden(runner: CliRunner, example: Path, fmt: str, update_golden: bool) -> None:
    result = runner.invoke(cli, ["assess", str(example), "--format", fmt, "--as-of", "2026-11-25"])
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{example.stem}.{FORMATS[fmt]}"
    if update_golden or not golden.exists():
        golden.write_text(result.output)
        if not update_golden:
            pytest.fail(f"{golden.name} was missing and has been written; review and commit it")
    assert result.output == golden.read_text(), f"{golden.name} differs; rerun with --update-golden if intended"
