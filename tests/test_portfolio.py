"""Portfolio runs: one bad file isolated, every result equal to its own single assessment, streamed in file order."""

from __future__ import annotations

import datetime
import json
import os
import weakref
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from programgen import random_program

from cmcadvisor import api
from cmcadvisor import portfolio as portfolio_run
from cmcadvisor.cli import cli
from cmcadvisor.errors import UserInputError
from cmcadvisor.models.result import AssessmentResult
from cmcadvisor.render import portfolio_formats

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
    return json.loads(result.stdout)


def test_portfolio_isolates_the_broken_file_and_matches_single_runs(runner: CliRunner, folder: Path) -> None:
    doc = _run(runner, str(folder), "--jobs", "2")
    programs = doc["programs"]
    assert isinstance(programs, list) and len(programs) == COUNT + 1 and doc["failed"] == 1
    broken = [p for p in programs if not p["ok"]]
    assert len(broken) == 1 and broken[0]["file"].endswith("p0150-broken.yaml")
    assert "manufactring: unknown key" in broken[0]["errors"][0]
    context = api.load_context(api.Options())
    options = api.Options(as_of=datetime.date(2026, 11, 25))
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
    return json.loads(result.stdout)


@pytest.mark.parametrize("fmt", ["table", "csv", "html"])
def test_other_formats(runner: CliRunner, folder: Path, fmt: str) -> None:
    files = sorted(str(p) for p in folder.glob("p000*.yaml"))
    result = runner.invoke(cli, ["portfolio", *files, "--format", fmt, "--as-of", "2026-11-25"])
    assert result.exit_code == 0, result.output
    assert "GEN-0" in result.output


def test_missing_path_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["portfolio", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such file or folder" in result.output


AS_OF = datetime.date(2026, 11, 25)
SUBSET = 40  # programs in the runs below, with the broken file among them


def _subset(folder: Path) -> list[str]:
    files = sorted(str(p) for p in folder.glob("*.yaml"))
    return files[130:170]


def _invoke(runner: CliRunner, files: list[str], fmt: str, jobs: int) -> str:
    result = runner.invoke(cli, ["portfolio", *files, "--format", fmt, "--jobs", str(jobs), "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 2, result.output[-2000:]  # the broken file is in the subset
    return result.stdout


@pytest.fixture(scope="module")
def singles(folder: Path) -> dict[str, AssessmentResult | None]:
    """Each file of the subset assessed on its own (None for the broken file)."""
    context = api.load_context(api.Options())
    options = api.Options(as_of=AS_OF)
    found: dict[str, AssessmentResult | None] = {}
    for file in _subset(folder):
        try:
            found[file] = api.assess_file(Path(file), options, context)
        except UserInputError:
            found[file] = None
    assert len(found) == SUBSET and sum(r is None for r in found.values()) == 1
    return found


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_and_json_lines_equal_single_runs(
    runner: CliRunner, folder: Path, singles: dict[str, AssessmentResult | None], fmt: str, jobs: int
) -> None:
    text = _invoke(runner, list(singles), fmt, jobs)
    if fmt == "json":
        doc = json.loads(text)
        entries = doc["programs"]
        assert (doc["count"], doc["failed"]) == (SUBSET, 1)
    else:
        lines = text.splitlines()
        assert len(lines) == SUBSET
        entries = [json.loads(line) for line in lines]
    assert [e["file"] for e in entries] == list(singles)  # file order, whatever the job count
    for entry in entries:
        single = singles[entry["file"]]
        if single is None:
            assert not entry["ok"] and entry["result"] is None and "manufactring" in entry["errors"][0]
            continue
        assert entry["ok"] and entry["result"] == json.loads(single.model_dump_json()), entry["file"]
        assert entry["summary"] == json.loads(json.dumps(portfolio_run.summarize(single)))


@pytest.mark.parametrize("fmt", ["csv", "table", "html"])
def test_summary_formats_equal_single_runs_for_one_and_two_jobs(
    runner: CliRunner, singles: dict[str, AssessmentResult | None], fmt: str
) -> None:
    outcomes = [
        portfolio_run.ProgramOutcome(f, r is not None, (), portfolio_run.summarize(r) if r else None) for f, r in singles.items()
    ]
    one, two = (_invoke(runner, list(singles), fmt, jobs) for jobs in (1, 2))
    assert one == two
    if fmt == "csv":
        rows = one.splitlines()
        assert len(rows) == SUBSET + 1
        expected = portfolio_formats.portfolio_csv(outcomes).splitlines()
        broken = next(i for i, o in enumerate(outcomes, 1) if not o.ok)
        assert rows[:broken] == expected[:broken] and rows[broken + 1 :] == expected[broken + 1 :]
        assert "manufactring: unknown key" in rows[broken]


def test_json_bytes_are_the_same_every_run(runner: CliRunner, singles: dict[str, AssessmentResult | None]) -> None:
    files = list(singles)[:8]
    first, second = (
        runner.invoke(cli, ["portfolio", *files, "--format", "json", "--as-of", AS_OF.isoformat()]).stdout for _ in range(2)
    )
    assert first == second and first.endswith("}\n")


def test_an_empty_portfolio_is_valid_json(runner: CliRunner, tmp_path: Path) -> None:
    for fmt in ("json", "jsonl", "csv"):
        result = runner.invoke(cli, ["portfolio", str(tmp_path), "--format", fmt])
        assert result.exit_code == 0, result.output
        if fmt == "json":
            assert json.loads(result.stdout) == {"schema_version": 1, "programs": [], "count": 0, "failed": 0}
        else:
            assert result.stdout == ("" if fmt == "jsonl" else portfolio_formats.portfolio_csv([]))


def test_one_process_holds_one_result_at_a_time(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each result is rendered and dropped before the next program is read."""
    files = [Path(f) for f in sorted(str(p) for p in folder.glob("p00[0-1]*.yaml"))]
    alive: list[weakref.ref[AssessmentResult]] = []
    assess_file = api.assess_file

    def tracked(*args: object) -> AssessmentResult:
        held = sum(ref() is not None for ref in alive)
        assert held == 0, f"{held} earlier result(s) still in memory"
        result = assess_file(*args)  # type: ignore[arg-type]
        alive.append(weakref.ref(result))
        return result

    monkeypatch.setattr(api, "assess_file", tracked)
    render = portfolio_formats.program_renderer(["json"])
    for outcome in portfolio_run.run(files, api.Options(as_of=AS_OF), render=render):
        assert outcome.result is None and outcome.rendered["json"].startswith(b"    {")
    assert len(alive) == len(files) == 20 and all(ref() is None for ref in alive)


@pytest.mark.parametrize("jobs", [1, 2])
def test_outcomes_stream_with_a_bounded_lookahead(folder: Path, tmp_path: Path, jobs: int) -> None:
    """The first outcome arrives before later files are read: a file removed then is reported missing, in its row."""
    files = []
    for index, source in enumerate(sorted(folder.glob("p00[0-1]*.yaml"))):
        target = tmp_path / f"q{index:02d}.yaml"
        target.write_bytes(source.read_bytes())
        files.append(target)
    stream = portfolio_run.run(files, api.Options(as_of=AS_OF), jobs=jobs)
    first = next(stream)
    files[-1].unlink()  # far beyond the window of programs in flight (two per worker)
    rest = list(stream)
    assert first.ok and [o.file for o in [first, *rest]] == [str(f) for f in files]
    assert all(o.ok for o in rest[:-1])
    assert not rest[-1].ok and "no such file" in rest[-1].errors[0]


def test_bad_files_each_get_a_row_and_the_run_goes_on(runner: CliRunner, folder: Path, tmp_path: Path) -> None:
    good = sorted(folder.glob("p000*.yaml"))[:3]
    for source in good:
        (tmp_path / source.name).write_bytes(source.read_bytes())
    (tmp_path / "broken.yaml").write_text("schema_version: 1\nprogram: {id: X, name: y\n")
    (tmp_path / "big.yaml").write_bytes(b"# padding\n" * 300_000)  # 3 MB, over the 2 MB limit
    (tmp_path / "loop-a.yaml").symlink_to(tmp_path / "loop-b.yaml")
    (tmp_path / "loop-b.yaml").symlink_to(tmp_path / "loop-a.yaml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "deeper").mkdir()
    (tmp_path / "deeper" / "up").symlink_to(tmp_path)  # a folder link loop: never followed
    os.mkfifo(tmp_path / "pipe.yaml")  # not a regular file: refused without opening it
    (tmp_path / "notes.txt").write_text("not a program")
    unreadable = tmp_path / "secret.yaml"
    unreadable.write_bytes(good[0].read_bytes())
    unreadable.chmod(0)
    result = runner.invoke(cli, ["portfolio", str(tmp_path), "--format", "csv", "--jobs", "2", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 2, result.output
    rows = {line.split(",")[0].rpartition("/")[2]: line for line in result.stdout.splitlines()[1:]}
    names = ["big.yaml", "broken.yaml", "gone.yaml", "loop-a.yaml", "loop-b.yaml", *(p.name for p in good), "pipe.yaml"]
    assert sorted(rows) == sorted([*names, "secret.yaml"])
    assert "limit of 2,097,152" in rows["big.yaml"] and "invalid YAML" in rows["broken.yaml"]
    assert "no such file" in rows["gone.yaml"] and "symbolic links" in rows["loop-a.yaml"]
    assert "named pipe" in rows["pipe.yaml"]
    assert all(",yes," in rows[p.name] for p in good)
    if os.geteuid() != 0:  # root reads it anyway
        assert "permission denied" in rows["secret.yaml"]
