"""The ``scenarios`` command: the baseline and named what-if scenarios, assessed side by side.

Registered on the top command by :mod:`cmcadvisor.cli`; like it, this command only parses
options, calls :func:`cmcadvisor.scenarios.run_scenarios`, picks a renderer and maps errors to
exit codes (see :mod:`cmcadvisor.cliutil`). It assesses nothing itself.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import click

from cmcadvisor import cliutil
from cmcadvisor.cliutil import table_width, user_errors

SCENARIO_FORMATS = ("table", "markdown", "html", "xlsx", "json")


@click.command("scenarios")
@click.argument("program", type=click.Path(path_type=Path))
@click.option(
    "--scenario",
    "scenario_texts",
    multiple=True,
    metavar='"NAME: FIELD=VALUE, ..."',
    help='A scenario (repeatable): a name, a colon and its changes, e.g. "Build: manufacturing.strategy=in_house".',
)
@click.option(
    "--scenarios",
    "scenarios_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A YAML file listing scenarios, each with a name, a description and its changes (field: value).",
)
@click.option("--format", "fmt", type=click.Choice(SCENARIO_FORMATS), default="table", show_default=True)
@cliutil.outputs_option(SCENARIO_FORMATS)
@click.option("--as-of", callback=cliutil.parse_date, default=None, help="Assessment date YYYY-MM-DD for every scenario.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A what-if change applied to the baseline and every scenario.",
)
@click.option(
    "--templates",
    "templates_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A folder of templates that override the packaged ones (rendered in a sandbox).",
)
@cliutil.STDIN_OPTION
@click.pass_context
def scenarios(
    ctx: click.Context,
    program: Path,
    scenario_texts: tuple[str, ...],
    scenarios_file: Path | None,
    fmt: str,
    outputs: tuple[str, ...],
    as_of: datetime.date | None,
    overrides: tuple[str, ...],
    templates_dir: Path | None,
) -> None:
    """Compare the baseline of PROGRAM with what-if scenarios, side by side.

    For each: make or buy, the BLA forecasts, the critical path, late items, open high and
    critical findings (new or resolved against the baseline), pathway statuses that change, top
    risks, the next FDA meeting and what would still flip make-or-buy. E.g.
    --scenario "CDMO: manufacturing.strategy=cdmo" --scenario "Build: manufacturing.strategy=in_house"
    -o html:scenarios.html -o xlsx:scenarios.xlsx.
    """
    from cmcadvisor import api
    from cmcadvisor.errors import UsageError
    from cmcadvisor.render.scenario_formats import render_scenarios
    from cmcadvisor.scenarios import load_scenarios, parse_scenario, run_scenarios

    with user_errors(ctx.find_root().params["debug"]):
        chosen = [parse_scenario(text) for text in scenario_texts]
        if scenarios_file is not None:
            chosen += load_scenarios(scenarios_file)
        if not chosen:
            raise UsageError.single("scenarios", 'give at least one --scenario "NAME: FIELD=VALUE" or a --scenarios file')
        options = cliutil.make_options(ctx, as_of, overrides)
        context = api.load_context(options)
        comparison = run_scenarios(program, chosen, options, context)
        today = options.today.isoformat() if options.today else None
        given = None if comparison.as_of == today else datetime.date.fromisoformat(comparison.as_of)
        cliutil.note_clock(ctx, options, given, program.name)  # a note when the date came from the clock
        templates = str(templates_dir) if templates_dir else None

        def produce(form: str, to_stdout: bool) -> str | bytes:
            color = to_stdout and form == "table" and cliutil.use_color(ctx)
            width = table_width(None if to_stdout else program)
            return render_scenarios(comparison, form, color=color, width=width, templates=templates)

        inputs = cliutil.file_inputs(program, *([scenarios_file] if scenarios_file else []))
        cliutil.deliver(ctx, outputs, fmt, SCENARIO_FORMATS, produce, inputs)
