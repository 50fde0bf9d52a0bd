"""Start-up: light commands import click and little else; assess imports no renderer (nor networkx) it does not use.

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
    # The timeline schedules over plain lists; networkx is imported where a graph is read (explain,
    # a cycle's error, rules lint), not by an assessment.
    assert "networkx" not in found


def test_explain_of_an_activity_reads_the_decision_graph() -> None:
    example = str(ROOT / "examples" / "car-t-autologous.yaml")
    found = _tops(_loaded("explain", example, "ppq", "--as-of", "2026-11-25"))
    assert "networkx" in found


def test_help_and_version_import_no_lazily_registered_command() -> None:
    from cmcadvisor.cli import cli
    from cmcadvisor.cli_lazy import LazyCommands

    assert isinstance(cli.commands, LazyCommands)
    lazy = {target.partition(":")[0] for target, _ in cli.commands.registered.values()}
    assert "cmcadvisor.cli_rules" in lazy
    for args in (["--help"], ["--version"]):
        assert not _loaded(*args) & lazy, args
    assert "cmcadvisor.cli_rules" in _loaded("rules", "--help")  # looked up: imported


def test_lazy_command_summaries_are_the_first_paragraph_of_their_docstring() -> None:
    """--help lists a lazily registered command from its summary: it must read as the command's own short help."""
    import click

    from cmcadvisor.cli import cli
    from cmcadvisor.cli_lazy import LazyCommands

    commands = cli.commands
    assert isinstance(commands, LazyCommands)
    assert {"rules", "scenarios", "serve"} <= set(commands.registered)
    for name, (_, stand_in) in commands.registered.items():
        real = commands[name]  # imports it
        assert commands.stand_in(name) is real and real is not stand_in
        assert real.help is not None and stand_in.help == real.help.split("\n\n")[0].strip(), name
        for limit in (30, 45, 80, 200):
            assert stand_in.get_short_help_str(limit) == real.get_short_help_str(limit), (name, limit)
    runner = click.testing.CliRunner()
    assert "List, show, lint and test the rule pack." in runner.invoke(cli, ["--help"]).output


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_top_command_loads_only_the_command_line_modules(args: list[str]) -> None:
    """--version and --help load the four command-line modules and nothing click does not load itself."""
    found = _loaded(*args)
    assert sorted(n for n in found if n.startswith("cmcadvisor")) == [
        "cmcadvisor",
        "cmcadvisor.cli",
        "cmcadvisor.cli_lazy",
        "cmcadvisor.cliconfig",
        "cmcadvisor.cliutil",
    ]
    # Standard-library modules click does not need: the settings search and the error module stay off this path.
    assert not found & {"pathlib", "dataclasses", "tomllib"}, sorted(found & {"pathlib", "dataclasses", "tomllib"})


GC_PROBE = """
import gc, sys
import click
from cmcadvisor import cliutil
from cmcadvisor.cli import cli

@cli.command("gc-probe")
@click.pass_context
def probe(ctx):
    before = gc.isenabled()
    cliutil.make_options(ctx)  # every command that loads the library goes through here
    print(before, gc.isenabled(), gc.get_threshold()[0], gc.get_freeze_count() > 0)

sys.argv = ["cmcadvisor", "gc-probe"]
cliutil.run_main(cli, "cmcadvisor")
"""


def test_the_collector_is_off_during_start_up_and_on_once_the_library_is_loaded() -> None:
    """Long runs (portfolio, serve) must collect their cycles: make_options turns the collector back on."""
    done = subprocess.run([sys.executable, "-c", GC_PROBE], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    before, after, threshold, frozen = done.stdout.split()
    assert (before, after, frozen) == ("False", "True", "True")
    assert int(threshold) > 700  # fewer young collections than CPython's default, never none
