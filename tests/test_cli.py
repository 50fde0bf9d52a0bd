"""The CLI end to end: the output contract, determinism, exit codes, safe writing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT

from cmcadvisor.cli import cli
from cmcadvisor.models.result import AssessmentResult
from cmcadvisor.models.rule import PATHWAY_IDS

TOP_KEYS = [
    "schema_version",
    "tool",
    "program",
    "as_of",
    "pathways",
    "findings",
    "make_or_buy",
    "timeline",
    "meetings",
    "risks",
    "questions",
    "audit",
]
US_PATHWAYS = {p for p in PATHWAY_IDS if p.startswith("us.")}
STATUSES = {"granted", "eligible", "not_eligible", "not_applicable", "undetermined"}


def _assess(runner: CliRunner, *args: str) -> dict[str, object]:
    result = runner.invoke(cli, ["assess", *args, "--format", "json", "--as-of", "2026-11-25"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_json_honours_the_contract(runner: CliRunner, example: Path) -> None:
    doc = _assess(runner, str(example))
    for key in TOP_KEYS:
        assert key in doc
    AssessmentResult.model_validate(doc)
    assert doc["schema_version"] == 1 and doc["as_of"] == "2026-11-25"
    pathways = {p["id"]: p for p in doc["pathways"]}  # type: ignore[union-attr]
    assert set(pathways) >= US_PATHWAYS
    assert all(p["status"] in STATUSES and p["rationale"] for p in pathways.values())
    audit = doc["audit"]
    assert isinstance(audit, dict)
    assert audit["engine"].startswith("durable-rules 2.0.28")
    for key in ("input_sha256", "rules_sha256", "knowledge_sha256", "tool_version", "fired", "not_fired", "waived"):
        assert key in audit
    for finding in doc["findings"]:  # type: ignore[union-attr]
        assert finding["kind"] in {"requirement", "gap", "recommendation", "risk", "inconsistency", "undetermined"}
        assert finding["severity"] in {"critical", "high", "medium", "low", "info"}
        assert finding["status"] in {"open", "met", "waived"}
        if finding["kind"] != "undetermined":
            assert finding["citations"], finding["rule"]


def test_regions_limit_pathways(runner: CliRunner) -> None:
    us_only = _assess(runner, str(ROOT / "examples" / "allogeneic-nk.yaml"))
    assert {p["id"].split(".")[0] for p in us_only["pathways"]} == {"us"}  # type: ignore[union-attr,index]
    everywhere = _assess(runner, str(ROOT / "examples" / "aav-in-vivo.yaml"))
    assert len(everywhere["pathways"]) == 12  # type: ignore[arg-type]


def test_same_input_byte_identical(runner: CliRunner) -> None:
    example = str(EXAMPLES[0])
    first = runner.invoke(cli, ["assess", example, "--format", "json", "--as-of", "2026-11-25"]).output
    second = runner.invoke(cli, ["assess", example, "--format", "json", "--as-of", "2026-11-25"]).output
    assert first == second


def test_identical_across_processes_and_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-m", "cmcadvisor", "assess", str(EXAMPLES[0]), "--format", "json", "--as-of", "2026-11-25"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1


def test_python_engine_gives_the_same_conclusions(runner: CliRunner) -> None:
    for example in EXAMPLES:
        a = _assess(runner, str(example))
        result = runner.invoke(cli, ["--engine", "python", "assess", str(example), "--format", "json", "--as-of", "2026-11-25"])
        b = json.loads(result.output)
        assert b["audit"]["engine"].startswith("python-fixpoint")
        for key in ("pathways", "findings", "questions"):
            assert a[key] == b[key]
        assert sorted(f["rule"] for f in a["audit"]["fired"]) == sorted(f["rule"] for f in b["audit"]["fired"])  # type: ignore[index,union-attr]


def test_fail_on(runner: CliRunner) -> None:
    example = str(ROOT / "examples" / "car-t-autologous.yaml")
    doc = _assess(runner, example)
    severities = {f["severity"] for f in doc["findings"] if f["status"] == "open" and f["kind"] != "undetermined"}  # type: ignore[union-attr]
    result = runner.invoke(cli, ["assess", example, "--format", "json", "--as-of", "2026-11-25", "--fail-on", "low"])
    assert result.exit_code == (1 if severities - {"info"} else 0)
    clean = runner.invoke(cli, ["assess", example, "--format", "json", "--as-of", "2026-11-25", "--fail-on", "critical"])
    assert clean.exit_code == (1 if "critical" in severities else 0)


def test_bad_usage_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["assess", str(EXAMPLES[0]), "--as-of", "25/11/2026"]).exit_code == 2
    assert runner.invoke(cli, ["assess", str(EXAMPLES[0]), "--format", "pdf"]).exit_code == 2
    assert runner.invoke(cli, ["nonsense"]).exit_code == 2


def test_output_written_atomically_and_never_over_the_input(runner: CliRunner, tmp_path: Path) -> None:
    program = tmp_path / "p.yaml"
    shutil.copy(EXAMPLES[0], program)
    before = program.read_bytes()
    result = runner.invoke(cli, ["assess", str(program), "--format", "json", "--output", str(program)])
    assert result.exit_code == 2 and "refusing to overwrite an input file" in result.output
    assert program.read_bytes() == before
    out = tmp_path / "out.json"
    result = runner.invoke(cli, ["assess", str(program), "--format", "json", "--output", str(out), "--as-of", "2026-11-25"])
    assert result.exit_code == 0
    json.loads(out.read_text())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_init_writes_a_valid_starter_and_never_overwrites(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "program.yaml"
    assert runner.invoke(cli, ["init", str(target)]).exit_code == 0
    assert runner.invoke(cli, ["validate", str(target)]).exit_code == 0
    target.write_text("mine\n")
    result = runner.invoke(cli, ["init", str(target)])
    assert result.exit_code == 2 and "not overwritten" in result.output
    assert target.read_text() == "mine\n"


def test_schema_is_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema"])
    schema = json.loads(result.output)
    assert schema["title"] == "ProgramFile" and "manufacturing" in json.dumps(schema)
    assert json.loads(runner.invoke(cli, ["schema", "rule"]).output)["title"] == "RuleSpec"


def test_rules_commands(runner: CliRunner) -> None:
    listed = json.loads(runner.invoke(cli, ["rules", "list", "--format", "json"]).output)
    assert listed and {"id", "title", "kind", "severity", "topics", "status", "version", "citations"} <= set(listed[0])
    assert all(rule["citations"] for rule in listed)
    lint = runner.invoke(cli, ["rules", "lint"])
    assert lint.exit_code == 0, lint.output
    shown = runner.invoke(cli, ["rules", "show", listed[0]["id"]])
    assert shown.exit_code == 0 and listed[0]["id"] in shown.output
    assert runner.invoke(cli, ["rules", "show", "NO-SUCH-999"]).exit_code == 2


def test_rules_test_command_fixture(runner: CliRunner, fixture_args: list[str]) -> None:
    result = runner.invoke(cli, [*fixture_args, "rules", "test"])
    assert result.exit_code == 0 and " 0 failed" in result.output


def test_installed_console_script(tmp_path: Path) -> None:
    script = shutil.which("cmcadvisor", path=str(Path(sys.executable).parent))
    assert script, "the cmcadvisor console script is not installed next to this Python"
    proc = subprocess.run(
        [script, "assess", str(EXAMPLES[0]), "--format", "json", "--as-of", "2026-11-25"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema_version"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nprogram: {id: x, name: y}\nproduct: {vector: nope}\n")
    proc = subprocess.run([script, "assess", str(bad)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "bad.yaml:3: product.vector" in proc.stderr and "Traceback" not in proc.stderr


def test_rule_docs_are_up_to_date(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "docs", "--check", "--output", str(ROOT / "docs" / "rules")])
    assert result.exit_code == 0, "docs/rules is stale: run `cmcadvisor rules docs`\n" + result.output


def test_rules_list_covers_every_topic_and_is_cited(runner: CliRunner) -> None:
    from cmcadvisor.models.rule import TOPICS

    listed = json.loads(runner.invoke(cli, ["rules", "list", "--format", "json"]).output)
    assert len(listed) >= 200
    assert all(rule["citations"] for rule in listed)
    covered = {topic for rule in listed for topic in rule["topics"]}
    assert set(TOPICS) <= covered, sorted(set(TOPICS) - covered)


def test_all_twelve_pathways_for_three_regions(runner: CliRunner) -> None:
    doc = _assess(runner, str(ROOT / "tests" / "programs" / "kitchen_sink.yaml"))
    pathways = {p["id"]: p for p in doc["pathways"]}  # type: ignore[union-attr]
    assert len(pathways) == 12
    decided = [p for p in pathways.values() if p["status"] != "undetermined"]
    assert len(decided) >= 10, [p["id"] for p in pathways.values() if p["status"] == "undetermined"]
    assert all(p["rationale"] for p in pathways.values())
