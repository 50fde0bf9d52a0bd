"""The commands over several programs or records: ``portfolio``, ``diff`` and ``audit verify``.

Registered lazily on the top command by :mod:`cmcadvisor.cli` (imported only when one of them is
looked up); like it, these commands only parse options, call the library and map errors to exit
codes (see :mod:`cmcadvisor.cliutil`). They assess nothing themselves.
"""

from __future__ import annotations

import contextlib
import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cmcadvisor import cliutil
from cmcadvisor.cliutil import EXIT_FINDINGS, EXIT_USAGE, table_width, user_errors
from cmcadvisor.models import SEVERITY_RANK

if TYPE_CHECKING:
    from cmcadvisor import api
else:  # loaded at first use: this command's --help stays light
    api = cliutil.lazy_import("cmcadvisor.api")

PORTFOLIO_FORMATS = ("table", "json", "jsonl", "csv", "html", "sarif", "junit")


@click.command("portfolio")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(PORTFOLIO_FORMATS), default="table", show_default=True)
@cliutil.outputs_option(PORTFOLIO_FORMATS)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--as-of", callback=cliutil.parse_date, default=None, help="Assessment date YYYY-MM-DD for every program.")
@click.option(
    "--fail-on",
    type=click.Choice(list(SEVERITY_RANK)[:-1]),
    default=None,
    help="Exit 1 when any program has an open finding at or above this.",
)
@click.pass_context
def portfolio(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fmt: str,
    outputs: tuple[str, ...],
    jobs: int,
    as_of: datetime.date | None,
    fail_on: str | None,
) -> None:
    """Assess many program files (folders or files): a summary per program; one bad file does not stop the rest.

    JSON, JSON Lines (jsonl) and CSV are written program by program as each is ready, in file order.
    Exit codes: 0 all assessed; 1 findings at or above --fail-on; 2 one or more files failed.
    """
    from cmcadvisor import outputs as outputs_plan
    from cmcadvisor import portfolio as portfolio_run
    from cmcadvisor.render import portfolio_ci, portfolio_formats
    from cmcadvisor.writer import open_output

    with user_errors(ctx.find_root().params["debug"]), contextlib.ExitStack() as stack:
        options = cliutil.make_options(ctx, as_of)
        plan = outputs_plan.plan(outputs, fmt, PORTFOLIO_FORMATS)
        files = portfolio_run.collect(list(paths))
        if as_of is None:
            cliutil.note(ctx, f"programs without an as_of date are assessed as of today, {options.today}; give --as-of to fix it")
        forms = [t.fmt for t in plan.targets]
        context = api.load_context(options) if set(forms) & set(portfolio_ci.CI_FORMATS) else None
        sinks: list[tuple[portfolio_formats.PortfolioStream, Any]] = []
        for target in plan.targets:
            color = target.path is None and cliutil.use_color(ctx)
            stream = portfolio_ci.stream_for(target.fmt, context, fail_on, color=color, width=table_width(target.path))
            write = cliutil.to_stdout if target.path is None else stack.enter_context(open_output(target.path, inputs=files))
            sinks.append((stream, write))
        streamed_to_terminal = plan.stdout in portfolio_formats.STREAMED and sys.stdout.isatty()
        bar = None
        if sys.stderr.isatty() and not streamed_to_terminal and not ctx.find_root().params["quiet"]:  # for a person watching
            bar = stack.enter_context(click.progressbar(length=len(files), label="assessing", file=sys.stderr))
        render = portfolio_ci.renderer(portfolio_formats.program_renderer(forms), forms)
        outcomes = portfolio_run.run(
            files, options, jobs=jobs, render=render, progress=bar.update if bar else None, context=context
        )
        count = portfolio_ci.FindingCount(fail_on)
        tally = portfolio_formats.write_streams(count.watch(outcomes), sinks)
    if tally.failed:
        sys.exit(EXIT_USAGE)
    cliutil.fail_on_exit(fail_on, count.counts, programs=count.programs)


@click.command("diff")
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
@click.option("--as-of", callback=cliutil.parse_date, default=None, help="Assess both programs as of this date.")
@click.pass_context
def diff(ctx: click.Context, old: Path, new: Path, fmt: str, as_of: datetime.date | None) -> None:
    """Compare two program files (or two audit records): facts, rules, pathways, findings, timeline."""
    from cmcadvisor import diff as diffing

    with user_errors(ctx.find_root().params["debug"]):
        options = cliutil.make_options(ctx, as_of)
        context = api.load_context(options)
        result = diffing.compare(*(cliutil.diff_side(ctx, path, options, context) for path in (old, new)))
    click.echo(diffing.render_diff(result, fmt), nl=False)


@click.group("audit")
def audit_group() -> None:
    """Check assessment records."""


@audit_group.command("verify")
@click.argument("record", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--program", type=click.Path(path_type=Path, dir_okay=False), default=None, help="The program file, if it moved.")
@click.pass_context
def audit_verify(ctx: click.Context, record: Path, program: Path | None) -> None:
    """Re-run the assessment of RECORD and report identical or the first difference (exit 0 only if identical)."""
    from cmcadvisor import audit

    with user_errors(ctx.find_root().params["debug"]):
        verdict = audit.verify(record, program)
    for note in verdict.notes:
        click.echo(f"note: {note}")
    if verdict.identical:
        click.echo(f"identical: {record} reproduces exactly")
        return
    for index, difference in enumerate(verdict.differences):
        click.echo(f"{'first difference' if index == 0 else 'also'}: {difference}")
    sys.exit(EXIT_FINDINGS)
