"""``cmcadvisor scenarios``: named what-if change sets assessed through the one pipeline and compared side by side."""

from __future__ import annotations

import datetime
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor import api
from cmcadvisor.cli import cli
from cmcadvisor.errors import UsageError
from cmcadvisor.models.scenarios import Scenario, ScenarioComparison
from cmcadvisor.render.scenario_formats import render_scenarios
from cmcadvisor.scenarios import load_scenarios, parse_scenario, run_scenarios
from cmcadvisor.validation import load_program

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
AS_OF = "2026-11-25"
CDMO = "CDMO: manufacturing.strategy=cdmo"
BUILD = "Build: manufacturing.strategy=in_house, manufacturing.facility.status=planned"
OPTIONS = api.Options(today=datetime.date(2026, 12, 4))


@pytest.fixture(scope="module")
def context() -> api.Context:
    return api.load_context(OPTIONS)


@pytest.fixture(scope="module")
def comparison(context: api.Context) -> ScenarioComparison:
    return run_scenarios(CAR_T, [parse_scenario(CDMO), parse_scenario(BUILD)], OPTIONS, context)


def _invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["scenarios", str(CAR_T), "--as-of", AS_OF, *args])
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------------ parsing


def test_parse_scenario_reads_name_and_changes_in_order() -> None:
    scenario = parse_scenario(" Build :  manufacturing.strategy=in_house ,manufacturing.facility.status = planned ")
    assert scenario.name == "Build"
    assert scenario.overrides == ("manufacturing.strategy=in_house", "manufacturing.facility.status=planned")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no colon here", "NAME: FIELD=VALUE"),
        (": manufacturing.strategy=cdmo", "needs a name"),
        ("X:", "at least one change"),
        ("X: manufacturing.strategy", "'manufacturing.strategy' is not FIELD=VALUE"),
        ("X: =cdmo", "is not FIELD=VALUE"),
        ("baseline: manufacturing.strategy=cdmo", "always included"),
        ("A\x1b[31m: manufacturing.strategy=cdmo", "control character"),
    ],
)
def test_parse_scenario_refuses_malformed_text(text: str, expected: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_scenario(text)
    assert expected in str(caught.value)


# ------------------------------------------------------------------------------ the comparison


def test_baseline_first_then_scenarios_in_the_order_given(comparison: ScenarioComparison) -> None:
    assert [o.name for o in comparison.scenarios] == ["Baseline", "CDMO", "Build"]
    assert comparison.scenarios[0].baseline and not comparison.scenarios[1].baseline


def test_scenario_is_the_same_assessment_as_set(context: api.Context, comparison: ScenarioComparison) -> None:
    """One pipeline: a scenario's result is exactly ``assess --set`` with the same changes."""
    build = comparison.scenarios[2]
    options = api.Options(today=OPTIONS.today, overrides=parse_scenario(BUILD).overrides)
    direct = api.assess_file(CAR_T, options, context)
    assert build.result == direct
    assert build.bla_submission is not None and build.bla_submission.forecast == next(
        m.forecast for m in direct.timeline.milestones if m.id == "bla_submission"
    )
    assert build.make_or_buy == direct.make_or_buy.recommendation


def test_building_a_facility_moves_the_bla_and_adds_findings(comparison: ScenarioComparison) -> None:
    baseline, cdmo, build = comparison.scenarios
    assert baseline.bla_submission and build.bla_submission
    assert (build.bla_submission.forecast or "") > (baseline.bla_submission.forecast or "")
    assert "Design and build the manufacturing facility" in build.critical_path
    new = [f for f in build.findings if f.change == "new"]
    assert new and all(f.severity in ("high", "critical") for f in new)
    assert any("facility" in f.title for f in new)
    # the example already uses a CDMO: that scenario changes nothing
    assert [f.change for f in cdmo.findings] == ["unchanged"] * len(cdmo.findings)
    assert cdmo.bla_submission == baseline.bla_submission
    assert all(f.change == "unchanged" for f in baseline.findings)


def test_findings_resolved_against_a_baseline_set_by_overrides(context: api.Context) -> None:
    """--set applies to the baseline too; a scenario that goes back to the CDMO resolves the facility findings."""
    options = api.Options(today=OPTIONS.today, overrides=parse_scenario(BUILD).overrides)
    result = run_scenarios(CAR_T, [parse_scenario(CDMO)], options, context)
    resolved = [f for f in result.scenarios[1].findings if f.change == "resolved"]
    assert any("facility" in f.title for f in resolved)
    assert all(f not in result.scenarios[1].open_high for f in resolved)


def test_pathway_statuses_that_change_are_listed(context: api.Context) -> None:
    late = parse_scenario("Late: clinical.stage=bla_preparation")
    result = run_scenarios(CAR_T, [late], OPTIONS, context)
    changes = result.scenarios[1].pathway_changes
    assert changes, "moving to BLA preparation changes at least one pathway's status"
    assert all(c.baseline != c.status for c in changes)
    assert result.scenarios[0].pathway_changes == []


def test_a_validated_program_gives_the_same_comparison_as_its_file(context: api.Context, comparison: ScenarioComparison) -> None:
    program = load_program(CAR_T)
    again = run_scenarios(program, [parse_scenario(CDMO), parse_scenario(BUILD)], OPTIONS, context)
    assert again.model_dump() == comparison.model_dump()


def test_meeting_risks_and_flips_are_reported(comparison: ScenarioComparison) -> None:
    baseline = comparison.scenarios[0]
    assert baseline.next_meeting is not None and baseline.next_meeting.request_due
    assert baseline.top_risks and baseline.would_flip_if
    assert all("(gives " in flip for flip in baseline.would_flip_if)


# ---------------------------------------------------------------------------- bad input: exit 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("manufacturing.strategy=foo", "Input should be"),
        ("manufacturing.stratgy=cdmo", "did you mean 'strategy'"),
        ("clinical.stage=2027-01-01", "Input should be"),
    ],
)
def test_a_bad_change_exits_2_naming_the_scenario_and_change(runner: CliRunner, change: str, expected: str) -> None:
    code, out, err = _invoke(runner, "--scenario", CDMO, "--scenario", f"Wrong: {change}")
    assert code == 2 and out == ""
    assert f'scenario "Wrong", change {change}' in err and expected in err
    assert "Traceback" not in err


def test_two_scenarios_with_one_name_are_refused(runner: CliRunner) -> None:
    code, _, err = _invoke(runner, "--scenario", CDMO, "--scenario", "cdmo: manufacturing.strategy=hybrid")
    assert code == 2 and "two scenarios are named" in err


def test_no_scenario_is_a_usage_error(runner: CliRunner) -> None:
    code, _, err = _invoke(runner)
    assert code == 2 and "--scenario" in err


SCENARIOS_FILE = """\
# manufacturing options
- name: CDMO
  description: Keep the current CDMO.
  changes:
    manufacturing.strategy: cdmo
- name: Build
  description: Build our own facility.
  changes:
    manufacturing.strategy: in_house
    manufacturing.facility.status: planned
"""


def test_a_scenarios_file_gives_the_same_comparison(tmp_path: Path, context: api.Context, comparison: ScenarioComparison) -> None:
    path = tmp_path / "options.yaml"
    path.write_text(SCENARIOS_FILE)
    loaded = load_scenarios(path)
    assert [s.name for s in loaded] == ["CDMO", "Build"] and loaded[1].description == "Build our own facility."
    result = run_scenarios(CAR_T, loaded, OPTIONS, context)
    assert [o.result for o in result.scenarios] == [o.result for o in comparison.scenarios]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (SCENARIOS_FILE.replace("in_house", "in_houze"), 9, 'scenario "Build", change manufacturing.strategy=in_houze'),
        (SCENARIOS_FILE.replace("  description: Build", "  descripton: Build"), 7, "did you mean 'description'"),
        (SCENARIOS_FILE.replace("manufacturing.strategy: cdmo", "manufacturing.strategy: [a, b]"), 4, "give one value"),
        (SCENARIOS_FILE.replace("name: Build", "name: CDMO"), None, "two scenarios are named"),
        ("scenarios: []\n", 1, "scenarios"),
    ],
)
def test_a_bad_scenarios_file_names_file_line_and_field(
    runner: CliRunner, tmp_path: Path, text: str, line: int | None, expected: str
) -> None:
    path = tmp_path / "options.yaml"
    path.write_text(text)
    code, out, err = _invoke(runner, "--scenarios", str(path))
    assert code == 2 and out == "", err
    assert expected in err and "options.yaml" in err
    if line is not None:
        assert f"options.yaml:{line}:" in err


# ------------------------------------------------------------------------------------ formats


def test_the_acceptance_command_prints_the_comparison(runner: CliRunner) -> None:
    code, out, err = _invoke(runner, "--scenario", CDMO, "--scenario", "Build: manufacturing.strategy=in_house")
    assert code == 0, err
    for words in ("Baseline", "CDMO", "Build", "Make or buy", "BLA submission", "Critical path", "Next FDA meeting"):
        assert words in out
    assert not re.search(r"\b(CMC|PW)-[A-Z]+-\d{3}\b", out), "no rule ids for readers"
    assert "in_house" not in out and "bla_submission" not in out, "no enum values for readers"


@pytest.mark.parametrize("width", [80, 100])
def test_the_table_fits_the_width(context: api.Context, comparison: ScenarioComparison, width: int) -> None:
    text = render_scenarios(comparison, "table", width=width)
    assert isinstance(text, str)
    assert max(len(line) for line in text.splitlines()) <= width
    long = Scenario(
        name="A scenario with a long name " * 2, description="Why we look at it. " * 12, changes=parse_scenario(CDMO).changes
    )
    text = render_scenarios(run_scenarios(CAR_T, [long], OPTIONS, context), "table", width=width)
    assert isinstance(text, str) and "Why we look at it." in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_every_format_is_written_in_one_run(runner: CliRunner, tmp_path: Path) -> None:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    paths = {
        fmt: tmp_path / f"s.{ext}" for fmt, ext in (("html", "html"), ("xlsx", "xlsx"), ("json", "json"), ("markdown", "md"))
    }
    args = [arg for fmt, path in paths.items() for arg in ("-o", f"{fmt}:{path}")]
    code, out, err = _invoke(runner, "--scenario", CDMO, "--scenario", BUILD, *args)
    assert code == 0, err
    assert "Make or buy" in out  # the table still on standard output
    html = paths["html"].read_text()
    assert html.count("<svg") == 3 and "<?xml" not in html and "<script" not in html
    data = json.loads(paths["json"].read_text())
    assert [s["name"] for s in data["scenarios"]] == ["Baseline", "CDMO", "Build"] and "result" not in data["scenarios"][0]
    markdown = paths["markdown"].read_text()
    assert "| **Make or buy** |" in markdown and "## Build" in markdown
    workbook = load_workbook(io.BytesIO(paths["xlsx"].read_bytes()))
    assert workbook.sheetnames == ["Comparison", "Baseline", "CDMO", "Build"]
    sheet = workbook["Comparison"]
    assert [c.value for c in sheet[2]][1:] == ["Baseline", "CDMO", "Build"]
    assert any(row[0].value == "Make or buy" for row in sheet.iter_rows(min_row=3))


def test_the_charts_share_one_time_axis(comparison: ScenarioComparison) -> None:
    html = render_scenarios(comparison, "html")
    assert isinstance(html, str)
    charts = html.split("<svg")[1:]
    ticks = [re.findall(r"<!-- (20\d\d-\d\d) -->", chart) for chart in charts]
    assert len(charts) == 3 and ticks[0] and all(t == ticks[0] for t in ticks)


@pytest.mark.parametrize("fmt", ["table", "markdown", "html", "xlsx", "json"])
def test_output_is_deterministic(context: api.Context, comparison: ScenarioComparison, fmt: str) -> None:
    again = run_scenarios(CAR_T, [parse_scenario(CDMO), parse_scenario(BUILD)], OPTIONS, context)
    assert render_scenarios(again, fmt) == render_scenarios(comparison, fmt)


def test_hostile_names_stay_inert(context: api.Context) -> None:
    from openpyxl import load_workbook

    hostile = parse_scenario("=HYPERLINK(1)<script>x</script>: manufacturing.strategy=hybrid")
    result = run_scenarios(CAR_T, [hostile], OPTIONS, context)
    html = render_scenarios(result, "html")
    assert isinstance(html, str) and "<script>" not in html and "&lt;script&gt;" in html
    markdown = render_scenarios(result, "markdown")
    assert isinstance(markdown, str) and "<script>" not in markdown
    data = render_scenarios(result, "xlsx")
    assert isinstance(data, bytes)
    workbook = load_workbook(io.BytesIO(data))
    assert workbook["Comparison"].cell(row=2, column=3).value.startswith("'=")
    assert len(workbook.sheetnames) == 3 and all(len(name) <= 31 for name in workbook.sheetnames)
