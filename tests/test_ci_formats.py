"""SARIF 2.1.0 and JUnit XML from ``assess`` and ``portfolio`` (issue 15).

The SARIF is validated against the official OASIS 2.1.0 schema shipped in tests/schemas and
read back with sarif-tools (Microsoft's SARIF reader); the JUnit XML is read back with
junitparser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import junitparser
import pytest
from click.testing import CliRunner
from conftest import ROOT
from sarif import loader as sarif_loader

from cmcadvisor.cli import cli

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def _run(args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    return result


@pytest.fixture(scope="module")
def assessed() -> dict[str, Any]:
    result = _run(["assess", str(CAR_T), "--format", "json"])
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sarif_text() -> str:
    return _run(["assess", str(CAR_T), "--format", "sarif"]).stdout


@pytest.fixture(scope="module")
def active_rules() -> list[str]:
    return [r["id"] for r in json.loads(_run(["rules", "list", "--format", "json"]).stdout)]


def test_assess_sarif_validates_against_the_official_schema(sarif_text: str) -> None:
    log = json.loads(sarif_text)
    jsonschema.validate(log, SCHEMA)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1


def test_assess_sarif_opens_in_a_maintained_reader(tmp_path: Path, sarif_text: str, assessed: dict[str, Any]) -> None:
    path = tmp_path / "cmc.sarif"
    path.write_text(sarif_text, encoding="utf-8")
    read = sarif_loader.load_sarif_file(str(path))
    assert read.get_distinct_tool_names() == ["cmcadvisor"]
    reported = [f for f in assessed["findings"] if f["status"] in ("open", "waived")]
    assert read.get_result_count() == len(reported)
    records = read.get_records()
    assert {r["Code"] for r in records} == {f["rule"] for f in reported}
    assert all(r["Location"] == CAR_T.as_uri() for r in records)  # an absolute path given: a file URI


def test_sarif_rules_levels_lines_and_suppressions(sarif_text: str, assessed: dict[str, Any], active_rules: list[str]) -> None:
    run = json.loads(sarif_text)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == active_rules  # the active pack is the tool's rules
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    assert any(r.get("helpUri", "").startswith("https://") for r in rules)
    assert any("](https://" in r["help"]["markdown"] for r in rules)  # citation links
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    by_rule = {f["rule"]: f for f in assessed["findings"]}
    lines = CAR_T.read_text(encoding="utf-8").splitlines()
    for result in run["results"]:
        finding = by_rule[result["ruleId"]]
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        if finding["kind"] != "undetermined":
            assert result["level"] == levels[finding["severity"]]
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        assert 1 <= line <= len(lines)
    comparability = next(r for r in run["results"] if r["ruleId"] == "CMC-CMP-001")
    line = comparability["locations"][0]["physicalLocation"]["region"]["startLine"]
    # the fact that triggered it: manufacturing.planned_changes[0].comparability_plan / timing
    assert lines[line - 1].strip().startswith(("comparability_plan:", "timing:", "- ")), lines[line - 1]
    waived = [r for r in run["results"] if "suppressions" in r]
    assert [r["ruleId"] for r in waived] == [f["rule"] for f in assessed["findings"] if f["status"] == "waived"]
    suppression = waived[0]["suppressions"][0]
    assert suppression["kind"] == "inSource" and suppression["status"] == "accepted"
    assert suppression["justification"] == by_rule[waived[0]["ruleId"]]["waiver"]["justification"]
    waiver_line = suppression["location"]["physicalLocation"]["region"]["startLine"]
    assert "rule:" in lines[waiver_line - 1] or lines[waiver_line - 1].strip().startswith("-")


def test_assess_junit_parses_and_follows_fail_on(tmp_path: Path, assessed: dict[str, Any], active_rules: list[str]) -> None:
    path = tmp_path / "cmc.xml"
    _run(["assess", str(CAR_T), "--format", "junit", "--fail-on", "critical", "-o", str(path)])
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    cases = list(suites[0])
    assert len(cases) == len(active_rules)
    failed = {c.name.split()[0] for c in cases if any(isinstance(r, junitparser.Failure) for r in c.result)}
    skipped = {c.name.split()[0] for c in cases if any(isinstance(r, junitparser.Skipped) for r in c.result)}
    critical = {f["rule"] for f in assessed["findings"] if f["status"] == "open" and f["severity"] == "critical"}
    assert failed == critical
    waived = {f["rule"] for f in assessed["findings"] if f["status"] == "waived"}
    assert waived and waived <= skipped
    # without --fail-on, every open finding fails its rule's case
    every = junitparser.JUnitXml.fromstring(_run(["assess", str(CAR_T), "--format", "junit"]).stdout.encode())
    failed_all = {c.name.split()[0] for s in every for c in s if any(isinstance(r, junitparser.Failure) for r in c.result)}
    assert failed_all == {f["rule"] for f in assessed["findings"] if f["status"] == "open" and f["kind"] != "undetermined"}


def test_portfolio_sarif_and_junit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nprogram: {id: x}\n", encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_bytes(CAR_T.read_bytes())
    sarif_path, junit_path = tmp_path / "p.sarif", tmp_path / "p.xml"
    result = CliRunner().invoke(
        cli, ["portfolio", str(good), str(bad), "--as-of", "2026-11-25", "-o", f"sarif:{sarif_path}", "-o", f"junit:{junit_path}"]
    )
    assert result.exit_code == 2, result.output  # one file failed; the others are still reported
    log = json.loads(sarif_path.read_text(encoding="utf-8"))
    jsonschema.validate(log, SCHEMA)
    run = log["runs"][0]
    assert [a["location"]["uri"] for a in run["artifacts"]] == [good.as_uri(), bad.as_uri()]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["level"] == "error"
    read = sarif_loader.load_sarif_file(str(sarif_path))
    assert read.get_result_count() == len(run["results"]) > 0
    xml = junitparser.JUnitXml.fromfile(str(junit_path))
    suites = list(xml)
    assert len(suites) == 2
    assert suites[0].failures > 0 and suites[1].errors == 1


def test_portfolio_sarif_with_jobs_matches_one_process(tmp_path: Path) -> None:
    folder = tmp_path / "programs"
    folder.mkdir()
    for example in sorted((ROOT / "examples").glob("*.yaml"))[:3]:
        (folder / example.name).write_bytes(example.read_bytes())
    one = _run(["portfolio", str(folder), "--as-of", "2026-11-25", "--format", "sarif"]).stdout
    two = _run(["portfolio", str(folder), "--as-of", "2026-11-25", "--format", "sarif", "--jobs", "2"]).stdout
    assert one == two
    jsonschema.validate(json.loads(one), SCHEMA)
