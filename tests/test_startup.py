"""Start-up: light commands import click and little else; assess imports no renderer it does not use.

These check which modules a fresh process loads (never how long it takes: the timings are in
bench/run.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

PROBE = """
import json, sys
from cmcadvisor.cli import main
sys.argv = ["cmcadvisor", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
loaded = [name for name, module in sys.modules.items() if module is not None]
executed = [name for name in loaded if type(sys.modules[name]).__name__ != "_LazyModule"]  # lazy: not run yet
print(json.dumps(sorted(executed)), file=sys.stderr)
"""

PIPELINE = ("pydantic", "networkx", "durable", "yaml", "cmcadvisor.engine", "cmcadvisor.models.rule", "cmcadvisor.api")
RENDERING = ("jinja2", "rich", "matplotlib", "docx", "openpyxl")


def _loaded(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    last = done.stderr.strip().splitlines()[-1]
    return set(json.loads(last))


def _tops(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names} | names


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["assess", "--help"], ["portfolio", "--help"]])
def test_light_commands_do_not_load_the_pipeline(args: list[str]) -> None:
    found = _tops(_loaded(*args))
    assert "click" in found
    assert not found & set(PIPELINE + RENDERING), sorted(found & set(PIPELINE + RENDERING))


def test_assess_json_loads_no_renderer_it_does_not_use() -> None:
    example = str(ROOT / "examples" / "car-t-autologous.yaml")
    found = _tops(_loaded("assess", example, "--format", "json", "--as-of", "2026-11-25"))
    assert "cmcadvisor.api" in found and "pydantic" in found  # it did assess
    assert not found & set(RENDERING), sorted(found & set(RENDERING))
