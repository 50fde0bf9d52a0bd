"""Robust runtime: the fallback engine, no network, broken custom packs, real make-or-buy."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor import api
from cmcadvisor.cli import cli
from cmcadvisor.validation import load_program

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"


def test_works_without_durable_rules(tmp_path: Path) -> None:
    """With durable-rules unimportable, auto falls back to the Python engine and says so."""
    code = (
        "import sys; sys.modules['durable'] = None; sys.modules['durable.engine'] = None\nfrom cmcadvisor.cli import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "assess", str(CAR_T), "--format", "json", "--as-of", "2026-11-25"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["audit"]["engine"].startswith("python-fixpoint")
    forced = subprocess.run(
        [sys.executable, "-c", code, "--engine", "durable", "assess", str(CAR_T)], capture_output=True, text=True, check=False
    )
    assert forced.returncode == 3 and "durable-rules is not installed" in forced.stderr and "Traceback" not in forced.stderr


def test_no_network_is_ever_used(monkeypatch: pytest.MonkeyPatch, runner: CliRunner, tmp_path: Path) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("cmcadvisor tried to open a network socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for args in (
        ["assess", str(CAR_T), "--format", "html", "-o", str(tmp_path / "a.html")],
        ["brief", str(CAR_T), "--meeting", "eop2", "--format", "docx", "-o", str(tmp_path / "b.docx")],
        ["risks", str(CAR_T), "--format", "xlsx", "-o", str(tmp_path / "r.xlsx")],
        ["timeline", str(CAR_T), "--format", "png", "-o", str(tmp_path / "t.png")],
    ):
        result = runner.invoke(cli, [*args, "--as-of", "2026-11-25"])
        assert result.exit_code == 0, result.output


def test_broken_custom_knowledge_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    (knowledge / "pathways.yaml").write_text("pathways:\n  - id: us.rmat\n    name: x\n")
    result = runner.invoke(cli, ["--knowledge-dir", str(knowledge), "assess", str(CAR_T)])
    assert result.exit_code == 2 and "pathways.yaml" in result.output and "Traceback" not in result.output


def test_make_or_buy_moves_as_expected_on_the_real_pack() -> None:
    context = api.load_context(api.Options())
    base = load_program(CAR_T)

    def recommend(**changes: dict[str, object]) -> tuple[str, list[str]]:
        data = base.model_dump(mode="json", exclude_none=True)
        for section, values in changes.items():
            data.setdefault(section, {}).update(values)
        program = type(base).model_validate(data)
        mob = api.assess(program, context, api.Options()).make_or_buy
        return mob.recommendation, mob.would_flip_if

    rich = recommend(
        organization={
            "funding_stage": "large_pharma",
            "cash_runway_months": 60,
            "capex_available_usd": 150_000_000,
            "gmp_experience": "established",
            "talent_market": "strong",
        },
        indication={"patients_per_year_at_peak": 3000},
    )
    poor = recommend(
        organization={
            "funding_stage": "seed",
            "cash_runway_months": 10,
            "capex_available_usd": 1_000_000,
            "gmp_experience": "none",
            "talent_market": "weak",
        },
        indication={"patients_per_year_at_peak": 50},
    )
    order = ["cdmo", "hybrid", "in_house"]
    assert order.index(rich[0]) > order.index(poor[0]), (rich, poor)
    assert poor[0] == "cdmo"
    assert rich[1] and all(" (gives " in text for text in rich[1])
