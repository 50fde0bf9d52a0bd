"""The commands around the assessments: ``validate``, ``schema``, ``init``, ``config`` and ``completion``.

Check program files, print the JSON Schemas, write a starter program file, show the effective
settings and print the shell completion script. Registered lazily on the top command by
:mod:`cmcadvisor.cli` (imported only when one of them is looked up); like it, these commands
only parse options, call the library and map errors to exit codes (see :mod:`cmcadvisor.cliutil`).
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cmcadvisor import cliconfig, cliutil
from cmcadvisor.cliutil import EXIT_USAGE, user_errors
from cmcadvisor.errors import UserInputError
from cmcadvisor.models import SEVERITY_RANK

if TYPE_CHECKING:
    from cmcadvisor import api
else:  # loaded at first use: this command's --help stays light
    api = cliutil.lazy_import("cmcadvisor.api")


@click.command("validate")
@click.argument("programs", nargs=-1, required=True, type=click.Path(path_type=Path))
@cliutil.STDIN_OPTION
@click.pass_context
def validate(ctx: click.Context, programs: tuple[Path, ...]) -> None:
    """Check program files ('-': standard input) against the input contract; report every problem at once.

    Each problem is one line, file:line: field: message; exit 2 if any file has one.
    """
    failed = False
    with user_errors(ctx.find_root().params["debug"]):
        options = cliutil.make_options(ctx)
        context = api.load_context(options)  # waivers are checked against the rule pack, as assess does
        for path in programs:
            try:
                _, doc = api.read_validated(path, options, context)
                if not ctx.find_root().params["quiet"]:
                    click.echo(f"ok: {doc.source}")
            except UserInputError as exc:
                failed = True
                for item in exc.items:
                    click.echo(f"error: {item.format()}", err=True)
    if failed:
        sys.exit(EXIT_USAGE)


@click.command("schema")
@click.argument("kind", type=click.Choice(["program", "rule", "result"]), default="program")
def schema(kind: str) -> None:
    """Print the JSON Schema of a program file (or of a rule file, or of the JSON result)."""
    from cmcadvisor.models.program import ProgramFile
    from cmcadvisor.models.result import AssessmentResult
    from cmcadvisor.models.rule import RuleSpec

    model: Any = {"program": ProgramFile, "rule": RuleSpec, "result": AssessmentResult}[kind]
    document = model.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    import json

    click.echo(json.dumps(document, indent=2, sort_keys=True))


@click.command("init")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="program.yaml")
@click.pass_context
def init(ctx: click.Context, path: Path) -> None:
    """Write a commented starter program file to PATH (never overwrites)."""
    from cmcadvisor.writer import write_atomic

    starter = (Path(__file__).parent / "starter.yaml").read_text(encoding="utf-8")
    with user_errors(ctx.find_root().params["debug"]):
        write_atomic(path, starter, overwrite=False)
    click.echo(f"wrote {path}; fill it in, then run: cmcadvisor assess {path}")


@click.command("config")
@click.option("--fail-on", type=click.Choice(list(SEVERITY_RANK)[:-1]), default=None, help="As assess and portfolio take it.")
@click.option("--as-of", callback=cliutil.parse_date, default=None, help="As the assessing commands take it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def config_command(ctx: click.Context, fail_on: str | None, as_of: datetime.date | None, fmt: str) -> None:
    """Show the effective settings and where each comes from (command line, settings file, default).

    Settings are read from .cmcadvisor.toml, or from [tool.cmcadvisor] in pyproject.toml, in the
    working folder or the nearest folder above it; options on the command line win.
    """
    settings: cliconfig.Config = ctx.find_root().meta.get(cliconfig.META_KEY, cliconfig.Config())
    click.echo(cliutil.settings_text(settings.path, cliutil.settings_report(ctx, ctx.command), fmt), nl=False)


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script (commands, options, rule ids, pathway ids, meeting types).

    E.g. eval "$(cmcadvisor completion bash)" in ~/.bashrc; for zsh and fish see the README.
    """
    click.echo(cliutil.completion_script(ctx.find_root().command, shell), nl=False)  # the top command
