"""Bad input: every problem located as file:line: field: message, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cmcadvisor.cli import cli

GOOD = """\
schema_version: 1
program:
  id: T-1
  name: Test program
"""


def _run(runner: CliRunner, tmp_path: Path, text: str | bytes, name: str = "p.yaml") -> tuple[int, str]:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = runner.invoke(cli, ["validate", str(path)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_good_file_validates(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD)
    assert code == 0 and "ok:" in out


def test_malformed_yaml(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "product: [unclosed\n")
    assert code == 2
    assert "p.yaml:" in out and "invalid YAML" in out


def test_unknown_key_suggests_nearest(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "manufactring:\n  strategy: cdmo\n")
    assert code == 2
    assert "p.yaml:5: manufactring: unknown key (did you mean 'manufacturing'?)" in out


def test_nested_unknown_key(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "product:\n  cel_source: autologous\n")
    assert code == 2
    assert "p.yaml:6: product.cel_source: unknown key (did you mean 'cell_source'?)" in out


def test_bad_enum_lists_allowed_values(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "product:\n  vector: lentivirus\n")
    assert code == 2
    assert "p.yaml:6: product.vector:" in out
    assert "'lentiviral'" in out and "'aav'" in out and "(got 'lentivirus')" in out


def test_wrong_type(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "manufacturing:\n  stability_months: six\n")
    assert code == 2
    assert "p.yaml:6: manufacturing.stability_months: Input should be a valid integer" in out


def test_bad_date_and_list_item(runner: CliRunner, tmp_path: Path) -> None:
    text = GOOD + "supply_chain:\n  equipment:\n    - name: freezer\n      need_by: 2027-02-30\n"
    code, out = _run(runner, tmp_path, text)
    assert code == 2
    assert "p.yaml:8: supply_chain.equipment[0].need_by:" in out


def test_every_error_is_listed(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "product:\n  vector: x\n  delivery: y\n")
    assert code == 2
    assert out.count("error:") == 2


def test_missing_required_fields(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, "schema_version: 1\nprogram:\n  name: x\n")
    assert code == 2
    assert "program.id: required field is missing" in out


def test_alias_bomb_refused(runner: CliRunner, tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    code, out = _run(runner, tmp_path, "\n".join(lines) + "\n")
    assert code == 2
    assert "too many YAML nodes" in out


def test_huge_file_refused(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "# " + "x" * (20 * 1024 * 1024) + "\n")
    assert code == 2
    assert "limit" in out and "p.yaml" in out


def test_binary_file_refused(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00")
    assert code == 2 and "binary" in out


def test_deep_nesting_refused(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, "a: " + "[" * 200 + "]" * 200 + "\n")
    assert code == 2 and "p.yaml" in out


def test_duplicate_key_refused(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, GOOD + "product:\n  vector: aav\n  vector: lnp\n")
    assert code == 2 and "p.yaml:7" in out and "duplicate key 'vector'" in out


def test_not_a_mapping(runner: CliRunner, tmp_path: Path) -> None:
    code, out = _run(runner, tmp_path, "- just\n- a list\n")
    assert code == 2 and "expected a mapping" in out


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["assess", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_json_input_with_lines(runner: CliRunner, tmp_path: Path) -> None:
    text = '{\n  "schema_version": 1,\n  "program": {"id": "J", "name": "j"},\n  "product": {"vector": "bad"}\n}\n'
    code, out = _run(runner, tmp_path, text, name="p.json")
    assert code == 2 and "p.json:4: product.vector" in out
    code, out = _run(runner, tmp_path, '{"schema_version": 1,}', name="q.json")
    assert code == 2 and "q.json:1: invalid JSON" in out


@pytest.mark.parametrize("text", ["", "null\n", "42\n"])
def test_empty_or_scalar(runner: CliRunner, tmp_path: Path, text: str) -> None:
    code, out = _run(runner, tmp_path, text)
    assert code == 2 and "p.yaml" in out


def test_unknown_waiver_rule_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    text = GOOD + (
        "waivers:\n  - rule: CMC-NOPE-999\n    justification: because\n    approved_by: me\n"
        "    approved_on: 2026-01-01\n    expires: 2027-01-01\n"
    )
    path = tmp_path / "w.yaml"
    path.write_text(text)
    result = runner.invoke(cli, ["assess", str(path), "--as-of", "2026-06-01"])
    assert result.exit_code == 2
    assert "w.yaml:6: waivers[0].rule: no rule CMC-NOPE-999 to waive" in result.output
