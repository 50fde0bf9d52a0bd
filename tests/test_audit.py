"""Audit records, verify, explain, diff and waivers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor import api
from cmcadvisor.cli import cli
from cmcadvisor.explain import explain
from cmcadvisor.models.program import ProgramFile

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
CONTEXT = api.load_context(api.Options(engine="durable"))


def _record(runner: CliRunner, tmp_path: Path, program: Path | None = None, *extra: str) -> Path:
    source = program or tmp_path / "program.yaml"
    if program is None:
        shutil.copy(CAR_T, source)
    record = tmp_path / "record.json"
    result = runner.invoke(
        cli, [*extra, "assess", str(source), "--format", "json", "--as-of", "2026-11-25", "--audit", str(record)]
    )
    assert result.exit_code == 0, result.output
    return record


def test_record_contents(runner: CliRunner, tmp_path: Path) -> None:
    record = json.loads(_record(runner, tmp_path).read_text())
    for key in (
        "record_schema",
        "tool",
        "engine",
        "libraries",
        "program",
        "rules_sha256",
        "knowledge_sha256",
        "templates_sha256",
        "as_of",
        "options",
        "facts",
        "firings",
        "not_fired",
        "undetermined",
        "waived",
        "outputs",
        "started_at",
        "finished_at",
        "record_sha256",
    ):
        assert key in record, key
    assert record["engine"].startswith("durable-rules")
    assert record["firings"][0]["seq"] == 1 and record["firings"][0]["facts"]
    assert record["waived"] == ["CMC-POT-002"]
    assert len(record["program"]["sha256"]) == 64 and record["outputs"]["json"]


def test_verify_untouched_record(runner: CliRunner, tmp_path: Path) -> None:
    record = _record(runner, tmp_path)
    result = runner.invoke(cli, ["audit", "verify", str(record)])
    assert result.exit_code == 0 and "identical" in result.output


def test_verify_detects_an_edited_record(runner: CliRunner, tmp_path: Path) -> None:
    record = _record(runner, tmp_path)
    data = record.read_bytes()
    flipped = data.replace(b'"as_of": "2026-11-25"', b'"as_of": "2026-11-24"', 1)
    assert flipped != data
    record.write_bytes(flipped)
    result = runner.invoke(cli, ["audit", "verify", str(record)])
    assert result.exit_code == 1 and "first difference: record edited" in result.output


def test_verify_detects_a_changed_program(runner: CliRunner, tmp_path: Path) -> None:
    record = _record(runner, tmp_path)
    program = tmp_path / "program.yaml"
    program.write_text(program.read_text().replace("stability_months: 12", "stability_months: 13"))
    result = runner.invoke(cli, ["audit", "verify", str(record)])
    assert result.exit_code == 1 and "program changed" in result.output and "manufacturing.stability_months" in result.output


def test_verify_detects_rule_and_knowledge_drift(runner: CliRunner, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "rules", pack / "rules")
    shutil.copytree(ROOT / "knowledge", pack / "knowledge")
    args = ["--no-builtin-rules", "--rules-dir", str(pack / "rules"), "--knowledge-dir", str(pack / "knowledge")]
    record = _record(runner, tmp_path, None, *args)
    assert runner.invoke(cli, ["audit", "verify", str(record)]).exit_code == 0
    rule = pack / "rules" / "potency" / "CMC-POT-001.yaml"
    rule.write_text(rule.read_text().replace("version: 1", "version: 2", 1))
    result = runner.invoke(cli, ["audit", "verify", str(record)])
    assert result.exit_code == 1 and "rule pack drifted: CMC-POT-001 v1 -> v2" in result.output
    rule.write_text(rule.read_text().replace("version: 2", "version: 1", 1))
    cites = pack / "knowledge" / "citations.yaml"
    cites.write_bytes(cites.read_bytes() + b"\n")
    result = runner.invoke(cli, ["audit", "verify", str(record)])
    assert result.exit_code == 1 and "knowledge base changed" in result.output


def test_records_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    program = tmp_path / "program.yaml"
    shutil.copy(CAR_T, program)
    bodies = set()
    for seed in ("0", "7"):
        record = tmp_path / f"r{seed}.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cmcadvisor",
                "assess",
                str(program),
                "--format",
                "json",
                "--as-of",
                "2026-11-25",
                "--audit",
                str(record),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        data = json.loads(record.read_text())
        for key in ("started_at", "finished_at", "record_sha256"):
            data.pop(key)
        bodies.add(json.dumps(data, sort_keys=True))
    assert len(bodies) == 1


def _program(**sections: object) -> ProgramFile:
    return ProgramFile.model_validate(
        {"schema_version": 1, "program": {"id": "X", "name": "x", "as_of": "2026-11-25"}, **sections}
    )


def test_explain_why_not_with_counterfactual_for_pathways() -> None:
    program = _program(
        product={"cell_source": "autologous"},
        indication={"serious_condition": True, "unmet_medical_need": True},
        clinical={"evidence": {"preliminary_clinical_evidence": False}},
    )
    answer = explain(program, CONTEXT, "PW-RMAT-009")
    assert answer.status == "not_fired"
    assert any("[no] clinical.evidence.preliminary_clinical_evidence" in line for line in answer.tree)
    assert answer.counterfactual == ["clinical.evidence.preliminary_clinical_evidence = true"]
    assert answer.counterfactual_checked is True and "us.rmat would become eligible" in (answer.effect or "")


def test_explain_why_it_fired_and_undetermined(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["explain", str(CAR_T), "PW-RMAT-001", "--as-of", "2026-11-25"])
    assert result.exit_code == 0 and "status: fired" in result.output and "[yes] designations.rmat" in result.output
    answer = explain(_program(product={"cell_source": "autologous"}), CONTEXT, "PW-RMAT-009")
    assert answer.status == "undetermined" and "indication.unmet_medical_need" in answer.missing
    assert runner.invoke(cli, ["explain", str(CAR_T), "NOPE-XX-001"]).exit_code == 2


def test_diff_on_a_vector_change(runner: CliRunner, tmp_path: Path) -> None:
    changed = tmp_path / "gamma.yaml"
    changed.write_text(CAR_T.read_text().replace("vector: lentiviral", "vector: gammaretroviral"))
    result = runner.invoke(cli, ["diff", str(CAR_T), str(changed), "--as-of", "2026-11-25", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"fact": "product.vector", "old": "lentiviral", "new": "gammaretroviral"} in data["facts"]
    assert "CMC-RCV-002" in data["rules"]["gained"] and "CMC-RCV-001" in data["rules"]["lost"]
    assert any(f.startswith("CMC-RCV-002") for f in data["findings"]["gained"])
    md = runner.invoke(cli, ["diff", str(CAR_T), str(changed), "--as-of", "2026-11-25", "--format", "markdown"]).output
    assert "## Facts changed" in md and "## Rules now firing" in md


WAIVER = {"rule": "CMC-POT-002", "justification": "agreed", "approved_by": "QA head", "approved_on": "2026-01-01"}
POT_FACTS = {"clinical": {"stage": "phase2"}, "manufacturing": {"potency_assay": {"matrix": False}}}


def _finding(program: ProgramFile, rule: str) -> object:
    result = api.assess(program, CONTEXT)
    return next(f for f in result.findings if f.rule == rule), result


def test_valid_waiver_is_waived_and_visible() -> None:
    finding, result = _finding(_program(**POT_FACTS, waivers=[{**WAIVER, "expires": "2027-01-01"}]), "CMC-POT-002")
    assert finding.status == "waived" and finding.waiver.honoured  # type: ignore[attr-defined]
    assert result.audit.waived == ["CMC-POT-002"]


def test_expired_waiver_is_not_honoured() -> None:
    finding, result = _finding(_program(**POT_FACTS, waivers=[{**WAIVER, "expires": "2026-06-01"}]), "CMC-POT-002")
    assert finding.status == "open" and finding.waiver.honoured is False  # type: ignore[attr-defined]
    assert "expired on 2026-06-01" in finding.waiver.reason  # type: ignore[attr-defined]
    assert result.audit.waived == []


def test_unknown_rule_waiver_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    program = tmp_path / "p.yaml"
    program.write_text(CAR_T.read_text().replace("rule: CMC-POT-002", "rule: CMC-NOPE-002"))
    result = runner.invoke(cli, ["assess", str(program)])
    assert result.exit_code == 2 and "no rule CMC-NOPE-002 to waive" in result.output


def test_unused_waiver_is_flagged() -> None:
    program = _program(
        clinical={"stage": "phase2"},
        manufacturing={"potency_assay": {"matrix": True}},
        waivers=[{**WAIVER, "expires": "2027-01-01"}],
    )
    result = api.assess(program, CONTEXT)
    assert result.audit.waivers_unused == ["CMC-POT-002"] and result.audit.waived == []


def test_waiver_approved_after_expiry_is_an_error() -> None:
    with pytest.raises(Exception, match="expires before it was approved"):
        api.assess(_program(**POT_FACTS, waivers=[{**WAIVER, "expires": "2025-06-01"}]), CONTEXT)


def test_verify_names_a_changed_template_of_a_templates_folder(runner: CliRunner, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    record = _record(runner, tmp_path, None)
    data = json.loads(record.read_text())
    assert "templates/assessment.md.j2" in data["template_files"] and data["options"]["templates"] is None
    program = tmp_path / "program.yaml"
    record = tmp_path / "with-templates.json"
    args = ["assess", str(program), "--format", "markdown", "--as-of", "2026-11-25", "--templates", str(templates)]
    assert runner.invoke(cli, [*args, "--audit", str(record), "-o", str(tmp_path / "out.md")]).exit_code == 0
    data = json.loads(record.read_text())
    assert str(templates / "assessment.md.j2") in data["template_files"]
    assert data["templates_sha256"] != json.loads((tmp_path / "record.json").read_text())["templates_sha256"]
    assert runner.invoke(cli, ["audit", "verify", str(record)]).exit_code == 0
    changed = templates / "assessment.md.j2"
    changed.write_text(changed.read_text() + "\n")
    result = runner.invoke(cli, ["audit", "verify", str(record)])
    assert result.exit_code == 1
    assert f"templates changed: {changed} changed" in result.output


def test_verify_names_a_changed_knowledge_file_and_hashes_the_fallbacks(runner: CliRunner, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    (knowledge / "risk_categories.yaml").unlink()  # falls back on the built-in file, which is then in the record
    record = _record(runner, tmp_path, None, "--knowledge-dir", str(knowledge))
    files = json.loads(record.read_text())["knowledge_files"]
    assert "knowledge/risk_categories.yaml" in files and str(knowledge / "meetings.yaml") in files
    assert str(knowledge / "risk_categories.yaml") not in files
    assert runner.invoke(cli, ["audit", "verify", str(record)]).exit_code == 0
    meetings = knowledge / "meetings.yaml"
    meetings.write_bytes(meetings.read_bytes() + b"\n# changed\n")
    result = runner.invoke(cli, ["audit", "verify", str(record)])
    assert result.exit_code == 1
    assert f"knowledge base changed: {meetings} changed" in result.output


def test_fallback_knowledge_files_are_hashed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cmcadvisor import knowledge as knowledge_module

    builtin = tmp_path / "builtin"
    shutil.copytree(ROOT / "knowledge", builtin)
    own = tmp_path / "own"
    shutil.copytree(ROOT / "knowledge", own)
    (own / "meetings.yaml").unlink()
    monkeypatch.setattr(knowledge_module, "data_dir", lambda name: builtin)
    before = knowledge_module.load_knowledge(own)
    assert {"knowledge/meetings.yaml", "knowledge/ctd_sections.yaml"} <= {f.shown for f in before.files if f.builtin}
    (builtin / "meetings.yaml").write_bytes((builtin / "meetings.yaml").read_bytes() + b"\n")
    after = knowledge_module.load_knowledge(own)
    assert after.sha256 != before.sha256
    (builtin / "meetings.yaml").write_bytes((ROOT / "knowledge" / "meetings.yaml").read_bytes())
    (builtin / "pathways.yaml").write_bytes((builtin / "pathways.yaml").read_bytes() + b"\n")  # not a fallback: own file used
    assert knowledge_module.load_knowledge(own).sha256 == before.sha256


@pytest.mark.parametrize("seed", [None, *range(40)])
def test_audit_facts_are_the_facts_each_firing_matched(seed: int | None) -> None:
    """The audit names each firing's facts as ``outcomes.matched_facts`` gives them (its fast path must agree)."""
    from programgen import AS_OF, random_program

    from cmcadvisor.facts import derive_facts
    from cmcadvisor.outcomes import matched_facts
    from cmcadvisor.validation import load_program

    program = load_program(CAR_T) if seed is None else random_program(seed)
    result = api.assess(program, CONTEXT, api.Options(engine="durable", as_of=AS_OF))
    facts = derive_facts(program, AS_OF)
    assert result.audit.fired
    for entry in result.audit.fired:
        matched = matched_facts(CONTEXT.pack.by_id[entry.rule], facts, entry.item)
        assert entry.facts == [f"{name}={json.dumps(value)}" for name, value in matched.items()], entry.rule
