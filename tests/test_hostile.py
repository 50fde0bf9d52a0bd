"""Hostile input: nothing runs, nothing leaks out of a pack, nothing the user wrote is lost."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor.cli import cli

PACKAGE = ROOT / "cmcadvisor"


def test_no_eval_exec_or_pickle_in_the_package() -> None:
    for path in PACKAGE.rglob("*.py"):
        # The one exception: the content-hash cache pickles data the tool itself validated, into the
        # user's own cache folder, and reads back only entries the user owns (see cmcadvisor/cache.py).
        banned = {"marshal", "shelve", "dill"} | (set() if path == PACKAGE / "cache.py" else {"pickle"})
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"eval", "exec", "compile", "__import__"}, f"{path}:{node.lineno}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(n.split(".")[0] in banned for n in names), f"{path}:{node.lineno}"
            if isinstance(node, ast.Attribute) and node.attr in {"load", "unsafe_load", "full_load"}:
                base = node.value
                assert not (isinstance(base, ast.Name) and base.id == "yaml"), f"{path}:{node.lineno}: use the safe composer"


def test_huge_string_refused(runner: CliRunner, tmp_path: Path) -> None:
    program = tmp_path / "p.yaml"
    program.write_text("schema_version: 1\nprogram: {id: X, name: '" + "x" * 200_000 + "'}\n")
    result = runner.invoke(cli, ["validate", str(program)])
    assert result.exit_code == 2 and "longer than" in result.output


def test_rule_pack_cannot_reach_outside_its_folder(runner: CliRunner, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text("id: SEC-RT-001\n")
    pack = tmp_path / "pack"
    pack.mkdir()
    os.symlink(outside, pack / "SEC-RT-001.yaml")
    result = runner.invoke(cli, ["--rules-dir", str(pack), "rules", "list"])
    assert result.exit_code == 2 and "links out of a pack are refused" in result.output


def test_rule_pack_cannot_run_code(runner: CliRunner, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "EVL-AA-001.yaml").write_text(
        "id: EVL-AA-001\ntitle: t\nkind: gap\nseverity: low\ntopics: [stability]\nversion: 1\nstatus: active\n"
        "confidence: unverified\nwhen: {all: [{fact: __import__('os').system('touch pwned'), op: eq, value: 1}]}\n"
        "then: {message: '{program.__class__}'}\ncitations: [CIT-ICH-Q5C]\nrationale: r\n"
        "examples: [{name: a, facts: {}, expect: fires}, {name: b, facts: {}, expect: silent}]\n"
    )
    result = runner.invoke(cli, ["--rules-dir", str(pack), "rules", "lint"])
    assert result.exit_code == 2 and "EVL-AA-001.yaml" in result.output
    assert not Path("pwned").exists() and not (pack / "pwned").exists()
    (pack / "EVL-AA-001.yaml").write_text((pack / "EVL-AA-001.yaml").read_text().replace("!!python/object", ""))
    (pack / "PY-AA-001.yaml").write_text("!!python/object/apply:os.system ['touch pwned2']\n")
    result = runner.invoke(cli, ["--rules-dir", str(pack), "rules", "list"])
    assert result.exit_code == 2 and not Path("pwned2").exists()


def test_yaml_python_tags_in_program_refused(runner: CliRunner, tmp_path: Path) -> None:
    program = tmp_path / "p.yaml"
    program.write_text("schema_version: 1\nprogram: !!python/object/apply:os.system ['touch pwned3']\n")
    result = runner.invoke(cli, ["validate", str(program)])
    assert result.exit_code == 2 and not Path("pwned3").exists() and "Traceback" not in result.output


def test_failed_write_leaves_no_partial_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "out.json"
    result = runner.invoke(cli, ["assess", str(ROOT / "examples" / "aav-in-vivo.yaml"), "--format", "json", "-o", str(target)])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not target.exists()


def test_output_keeps_an_existing_file_until_complete(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out.md"
    out.write_text("previous report\n")
    os.chmod(out, 0o640)
    result = runner.invoke(cli, ["assess", str(ROOT / "examples" / "aav-in-vivo.yaml"), "--format", "markdown", "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text().startswith("# CMC assessment") and (out.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]
