"""The ``knowledge`` commands of the command line: the status of every source, for the quarterly review.

Registered lazily on the top command by :mod:`cmcadvisor.cli`; like it, these commands only parse
options, call :mod:`cmcadvisor.knowledge_status` and its renderer, and map errors to exit codes
(see :mod:`cmcadvisor.cliutil`). They judge no source themselves.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cmcadvisor import cliutil
from cmcadvisor.cliutil import table_width, user_errors

if TYPE_CHECKING:
    from cmcadvisor import api
else:  # loaded at first use, as in cmcadvisor.cli
    api = cliutil.lazy_import("cmcadvisor.api")


@click.group("knowledge")
def knowledge_group() -> None:
    """Review the knowledge base: its sources, how current they are and what depends on them."""


@knowledge_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]), default="table", show_default=True)
@click.option("--as-of", callback=cliutil.parse_date, default=None, help="Count ages as of this date YYYY-MM-DD (default today).")
@click.option("--due", is_flag=True, help="Only sources needing attention: stale, a draft over 12 months old, a re-check due.")
@click.option("--sort", type=click.Choice(["status", "age", "id"]), default="status", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write here (atomically) instead of stdout.",
)
@click.pass_context
def knowledge_status(
    ctx: click.Context, fmt: str, as_of: datetime.date | None, due: bool, sort: str, output: Path | None
) -> None:
    """List every source with its status, confidence, dates and dependants, for the quarterly review."""
    from cmcadvisor.knowledge_status import build_status
    from cmcadvisor.render.knowledge_formats import render_status

    with user_errors(ctx.find_root().params["debug"]):
        context = api.load_context(cliutil.make_options(ctx))
        if as_of is None:
            as_of = datetime.date.today()
            cliutil.note(ctx, f"ages counted as of today, {as_of.isoformat()}; give --as-of to choose the date")
        report = build_status(context, as_of, due_only=due, sort=sort)  # type: ignore[arg-type]
        color = output is None and fmt == "table" and cliutil.use_color(ctx)
        cliutil.emit(render_status(report, fmt, color=color, width=table_width(output)), output, [])  # type: ignore[arg-type]
