"""The ``cmcadvisor`` command line: the top command, its global options and where each command lives.

Commands parse options, call :mod:`cmcadvisor.api` (or the rule tooling), pick a renderer and
map errors to exit codes: 0 ran, 1 findings at or above ``--fail-on``, 2 bad input or usage
(one line per problem, no traceback), 3 internal error, 141 standard output closed early
(``| head``). Nothing else happens in the commands: shared helpers (errors, outputs, notes,
completion) live in :mod:`cmcadvisor.cliutil` and the settings file in
:mod:`cmcadvisor.cliconfig`. The command line is the only place that reads today's date.

This module declares only the top command. Every command lives in a ``cmcadvisor.cli_*``
module registered here with :meth:`~cmcadvisor.cli_lazy.LazyGroup.add_lazy` and imported at its
first lookup, so ``--help`` and ``--version`` import click and little else: no command (see
``tests/test_startup.py``), no ``pathlib``, no ``dataclasses`` (``bench/run.py`` times them).
"""

from __future__ import annotations

from typing import Any

import click

from cmcadvisor import __version__, cliutil
from cmcadvisor.cliutil import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    MAX_WIDTH,
    MIN_WIDTH,
    PIPED_WIDTH,
    table_width,
    user_errors,
)

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_WIDTH",
    "MIN_WIDTH",
    "PIPED_WIDTH",
    "cli",
    "main",
    "table_width",
    "user_errors",
]


@click.group(cls=cliutil.ConfiguredGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cmcadvisor")
@click.option(
    "--engine",
    type=click.Choice(["auto", "durable", "python"]),
    default="auto",
    show_default=True,
    help="Rule engine: durable-rules, the pure-Python evaluator, or durable with fallback.",
)
@click.option("--rules-dir", multiple=True, type=click.Path(file_okay=False), help="An extra rule pack (repeatable).")
@click.option("--no-builtin-rules", is_flag=True, help="Use only the --rules-dir packs, not the built-in rules.")
@click.option(
    "--knowledge-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Use this knowledge folder instead of the built-in one.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.option("--quiet", "-q", is_flag=True, help="Print only errors on standard error (no notes).")
@click.option("--verbose", "-v", is_flag=True, help="Also say which settings, engine and files a run used.")
@click.option("--no-color", is_flag=True, help="No colour in terminal output (as does a non-empty NO_COLOR).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Read settings from this file instead of the nearest .cmcadvisor.toml or pyproject.toml [tool.cmcadvisor].",
)
@click.option("--no-config", is_flag=True, help="Ignore any settings file.")
def cli(**_: Any) -> None:
    """Plan the CMC regulatory strategy of a cell or gene therapy program from a program file.

    Exit codes: 0 ran; 1 findings at or above --fail-on; 2 bad input or usage; 3 internal error;
    141 standard output closed early (a pipe into head). A program file of '-' is read from
    standard input. Without --as-of or an as_of date in the program, the date is today's, and a
    note on standard error says so. Settings come from .cmcadvisor.toml or [tool.cmcadvisor] in
    pyproject.toml (nearest, upward); options given here win. See 'cmcadvisor config'.
    """


# Every command, imported at its first lookup: (name, "module:attribute", the first paragraph of its
# docstring, which --help lists; tests/test_startup.py checks that each matches its command).
COMMANDS = (
    (
        "assess",
        "cmcadvisor.cli_assess:assess",
        "Assess PROGRAM ('-': standard input): pathways, findings, make-or-buy, timeline, questions, audit trail.",
    ),
    ("audit", "cmcadvisor.cli_portfolio:audit_group", "Check assessment records."),
    (
        "brief",
        "cmcadvisor.cli_assess:brief",
        "Draft a meeting request and briefing package outline for PROGRAM (FDA types; EMA or PMDA for EU or Japan programs).",
    ),
    (
        "completion",
        "cmcadvisor.cli_setup:completion",
        "Print the shell completion script (commands, options, rule ids, pathway ids, meeting types).",
    ),
    (
        "config",
        "cmcadvisor.cli_setup:config_command",
        "Show the effective settings and where each comes from (command line, settings file, default).",
    ),
    (
        "diff",
        "cmcadvisor.cli_portfolio:diff",
        "Compare two program files (or two audit records): facts, rules, pathways, findings, timeline.",
    ),
    ("explain", "cmcadvisor.cli_assess:explain", "Explain a conclusion for PROGRAM, traced to rules."),
    ("init", "cmcadvisor.cli_setup:init", "Write a commented starter program file to PATH (never overwrites)."),
    (
        "knowledge",
        "cmcadvisor.cli_knowledge:knowledge_group",
        "Review the knowledge base: its sources, how current they are and what depends on them.",
    ),
    (
        "portfolio",
        "cmcadvisor.cli_portfolio:portfolio",
        "Assess many program files (folders or files): a summary per program; one bad file does not stop the rest.",
    ),
    (
        "risks",
        "cmcadvisor.cli_assess:risks",
        "The ICH Q9(R1)-style risk register of PROGRAM ('-': standard input); XLSX adds a likelihood-by-impact heat map.",
    ),
    ("rules", "cmcadvisor.cli_rules:rules", "List, show, lint and test the rule pack."),
    (
        "scenarios",
        "cmcadvisor.cli_scenarios:scenarios",
        "Compare the baseline of PROGRAM with what-if scenarios, side by side.",
    ),
    (
        "schema",
        "cmcadvisor.cli_setup:schema",
        "Print the JSON Schema of a program file (or of a rule file, or of the JSON result).",
    ),
    (
        "serve",
        "cmcadvisor.cli_serve:serve",
        "Start the local workspace over FOLDER (default: here): programs, forms, assessments, what-if, downloads.",
    ),
    (
        "timeline",
        "cmcadvisor.cli_assess:timeline",
        "Schedule PROGRAM's manufacturing decisions ('-': standard input): critical path, slack and what is late.",
    ),
    (
        "validate",
        "cmcadvisor.cli_setup:validate",
        "Check program files ('-': standard input) against the input contract; report every problem at once.",
    ),
)
for registration in COMMANDS:
    cli.add_lazy(*registration)


def main() -> None:
    """Console-script entry point: a closed pipe ends quietly (status 141)."""
    cliutil.run_main(cli, "cmcadvisor")
