"""Portfolio runs: one bad file isolated, every result equal to its own single assessment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from programgen import random_program

from cmcadvisor import api
from cmcadvisor.cli import cli

COUNT = 300


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("portfolio")
    for seed in range(COUNT):
        data = random_program(seed).model_dump(mode="json", exclude_none=True)
        (root / f"p{seed:04d}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "p0150-broken.yaml").write_text("schema_version: 1\nprogram: {id: X, name: y}\nmanufactring: {}\n")
    return root


def _run(runner: CliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(cli, ["portfolio", *args, "--format", "json", "--as-of", "2026-11-25"])
    assert result.exit_code == 2, result.output[-2000:]  # the broken file makes the run exit 2
    return json.loads(result.output)


def test_portfolio_isolates_the_broken_file_and_matches_single_runs(runner: CliRunner, folder: Path) -> None:
    doc = _run(runner, str(folder), "--jobs", "2")
    programs = doc["programs"]
    assert isinstance(programs, list) and len(programs) == COUNT + 1 and doc["failed"] == 1
    broken = [p for p in programs if not p["ok"]]
    assert len(broken) == 1 and broken[0]["file"].endswith("p0150-broken.yaml")
    assert "manufactring: unknown key" in broken[0]["errors"][0]
    context = api.load_context(api.Options())
    options = api.Options(as_of=__import__("datetime").date(2026, 11, 25))
    for entry in programs:
        if not entry["ok"]:
            continue
        single = api.assess_file(Path(entry["file"]), options, context)
        assert entry["result"] == json.loads(single.model_dump_json()), entry["file"]


def test_order_does_not_matter(runner: CliRunner, folder: Path) -> None:
    files = sorted(str(p) for p in folder.glob("*.yaml"))[:60]
    forward = {p["file"]: p["result"] for p in _run_ok(runner, files)["programs"]}
    backward = {p["file"]: p["result"] for p in _run_ok(runner, list(reversed(files)))["programs"]}
    assert forward == backward


def _run_ok(runner: CliRunner, files: list[str]) -> dict[str, list[dict[str, object]]]:
    result = runner.invoke(
        cli, ["portfolio", *[f for f in files if "broken" not in f], "--format", "json", "--as-of", "2026-11-25"]
    )
    assert result.exit_code == 0, result.output[-2000:]
    return json.loads(result.output)


@pytest.mark.parametrize("fmt", ["table", "csv", "html"])
def test_other_formats(runner: CliRunner, folder: Path, fmt: str) -> None:
    files = sorted(str(p) for p in folder.glob("p000*.yaml"))
    result = runner.invoke(cli, ["portfolio", *files, "--format", fmt, "--as-of", "2026-11-25"])
    assert result.exit_code == 0, result.output
    assert "GEN-0" in result.output


def test_missing_path_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["portfolio", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such file or folder" in result.output
