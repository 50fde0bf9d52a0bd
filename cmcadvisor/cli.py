"""The ``cmcadvisor`` command line: the only home of click commands.

Commands parse options, call :mod:`cmcadvisor.api` (or the rule tooling), pick a renderer and
map errors to exit codes: 0 ran, 1 findings at or above ``--fail-on``, 2 bad input or usage
(one line per problem, no traceback), 3 internal error, 141 standard output closed early
(``| head``). Nothing else happens here: shared helpers (errors, outputs, notes, completion)
live in :mod:`cmcadvisor.cliutil` and the settings file in :mod:`cmcadvisor.cliconfig`. The
command line is the only place that reads today's date.
"""

from __future__ import annotations

import contextlib
import datetime
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cmcadvisor import __version__, cliconfig, cliutil
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
from cmcadvisor.errors import UserInputError
from cmcadvisor.models import SEVERITY_RANK

if TYPE_CHECKING:
    from cmcadvisor import api
else:
    api = cliutil.lazy_import("cmcadvisor.api")  # loaded at first use: --help and --version stay light

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
_parse_date = cliutil.parse_date
_options = cliutil.make_options
_emit = cliutil.emit
_to_stdout = cliutil.to_stdout


_SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="What-if change to a program field for this run only (repeatable), e.g. clinical.stage=pivotal.",
)


_OUTPUT_OPTION = click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write here (atomically) instead of stdout; never over an input file.",
)
_AS_OF_OPTION = click.option(
    "--as-of",
    callback=_parse_date,
    default=None,
    help="Assessment date YYYY-MM-DD (overrides program.as_of; with neither, today's date, and a note on stderr says so).",
)
_TEMPLATES_OPTION = click.option(
    "--templates",
    "templates_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A folder of templates that override the packaged ones (rendered in a sandbox).",
)


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


ASSESS_FORMATS = ("table", "json", "markdown", "html", "sarif", "junit")


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(ASSESS_FORMATS), default="table", show_default=True)
@cliutil.outputs_option(ASSESS_FORMATS)
@_AS_OF_OPTION
@click.option(
    "--fail-on",
    type=click.Choice(list(SEVERITY_RANK)[:-1]),
    default=None,
    help="Exit 1 (saying why on standard error) when an open finding is at or above this severity.",
)
@_SET_OPTION
@click.option(
    "--audit",
    "audit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write an audit record (JSON) here.",
)
@click.option("--auditor", is_flag=True, help="HTML: show each finding's trace (rule, facts, sources) inline.")
@_TEMPLATES_OPTION
@cliutil.STDIN_OPTION
@click.pass_context
def assess(
    ctx: click.Context,
    program: Path,
    fmt: str,
    outputs: tuple[str, ...],
    as_of: datetime.date | None,
    fail_on: str | None,
    overrides: tuple[str, ...],
    audit_path: Path | None,
    auditor: bool,
    templates_dir: Path | None,
) -> None:
    """Assess PROGRAM ('-': standard input): pathways, findings, make-or-buy, timeline, questions, audit trail.

    SARIF (2.1.0) and JUnit XML are for CI: see the README. Several outputs in one run:
    -o json:result.json -o html:report.html -o sarif:cmc.sarif.
    """
    from cmcadvisor.render import render

    started = datetime.datetime.now(datetime.UTC)
    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx, as_of, overrides)
        result, loaded, doc, context = cliutil.assess_program(ctx, program, options)
        templates = str(templates_dir) if templates_dir else None

        def produce(form: str, to_stdout: bool) -> str:
            if form in ("sarif", "junit"):
                return cliutil.ci_report(form, result, doc, context, fail_on)
            color = to_stdout and form == "table" and cliutil.use_color(ctx)
            width = table_width(None if to_stdout else program)
            return render(result, form, color=color, width=width, auditor=auditor, templates=templates)  # type: ignore[arg-type]

        inputs = cliutil.file_inputs(program)
        made = cliutil.deliver(ctx, outputs, fmt, ASSESS_FORMATS, produce, inputs)
        if audit_path is not None:
            from cmcadvisor import audit
            from cmcadvisor import outputs as outputs_plan

            plan = outputs_plan.plan(outputs, fmt, ASSESS_FORMATS)
            plain = made.get((fmt, False))
            if plain is None:
                plain = produce(fmt, False)
            assert isinstance(plain, str)
            record = audit.build_record(
                program,
                loaded,
                result,
                context,
                options,
                audit.outputs_for(result, {fmt: plain}),
                started,
                datetime.datetime.now(datetime.UTC),
                templates=templates_dir,
            )
            audit.write_record(audit_path, record, inputs + [t.path for t in plan.files if t.path is not None])
        cliutil.fail_on_exit(fail_on, result.summary.open_findings_by_severity)


TIMELINE_FORMATS = ("table", "json", "mermaid", "csv", "png", "svg")


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(TIMELINE_FORMATS), default="table", show_default=True)
@cliutil.outputs_option(TIMELINE_FORMATS)
@_AS_OF_OPTION
@_SET_OPTION
@cliutil.STDIN_OPTION
@click.pass_context
def timeline(
    ctx: click.Context, program: Path, fmt: str, outputs: tuple[str, ...], as_of: datetime.date | None, overrides: tuple[str, ...]
) -> None:
    """Schedule PROGRAM's manufacturing decisions ('-': standard input): critical path, slack and what is late."""
    from cmcadvisor.render import timeline_formats

    with user_errors(ctx.find_root().params["debug"]):
        result = cliutil.assess_program(ctx, program, _options(ctx, as_of, overrides))[0]

        def produce(form: str, to_stdout: bool) -> str | bytes:
            if form == "json":
                return result.timeline.model_dump_json(indent=2) + "\n"
            if form == "csv":
                return timeline_formats.timeline_csv(result.timeline)
            if form == "mermaid":
                return timeline_formats.timeline_mermaid(result)
            if form in ("png", "svg"):
                from cmcadvisor.render.gantt import gantt

                return gantt(result, form)
            color = to_stdout and cliutil.use_color(ctx)
            return timeline_formats.timeline_table(result, color=color, width=table_width(None if to_stdout else program))

        cliutil.deliver(ctx, outputs, fmt, TIMELINE_FORMATS, produce, cliutil.file_inputs(program))


BRIEF_FORMATS = ("markdown", "docx", "html", "json")


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option(
    "--meeting",
    "meeting_type",
    required=True,
    type=click.Choice(
        ["interact", "pre_ind", "type_a", "eop1", "eop2", "pre_bla", "type_c", "type_d"]
        + ["ema_scientific_advice", "ema_prime_kickoff", "pmda_rs_strategy", "pmda_clinical_trial", "pmda_prior_assessment"]
    ),
)
@click.option(
    "--date", "desired", callback=_parse_date, default=None, help="The desired meeting date YYYY-MM-DD (default: proposed)."
)
@click.option("--format", "fmt", type=click.Choice(BRIEF_FORMATS), default="markdown", show_default=True)
@click.option(
    "--no-trace",
    "no_trace",
    is_flag=True,
    help="Leave out the internal traceability appendix (rules, findings, facts) of the Markdown, HTML and DOCX brief.",
)
@cliutil.outputs_option(BRIEF_FORMATS)
@_AS_OF_OPTION
@_SET_OPTION
@_TEMPLATES_OPTION
@cliutil.STDIN_OPTION
@click.pass_context
def brief(
    ctx: click.Context,
    program: Path,
    meeting_type: str,
    desired: datetime.date | None,
    fmt: str,
    no_trace: bool,
    outputs: tuple[str, ...],
    as_of: datetime.date | None,
    overrides: tuple[str, ...],
    templates_dir: Path | None,
) -> None:
    """Draft a meeting request and briefing package outline for PROGRAM (FDA types; EMA or PMDA for EU or Japan programs)."""
    from cmcadvisor.meetings import build_brief, plan_meeting
    from cmcadvisor.render.brief_formats import render_brief

    with user_errors(ctx.find_root().params["debug"]):
        result, loaded, _, context = cliutil.assess_program(ctx, program, _options(ctx, as_of, overrides))
        meeting = plan_meeting(result, loaded, meeting_type, desired, context.meeting_types)
        draft = build_brief(result, loaded, meeting, context.meeting_types)
        templates = str(templates_dir) if templates_dir else None

        def produce(form: str, _: bool) -> str | bytes:
            return render_brief(draft, form, templates=templates, trace=not no_trace)  # type: ignore[arg-type]

        cliutil.deliver(ctx, outputs, fmt, BRIEF_FORMATS, produce, cliutil.file_inputs(program))


RISK_FORMATS = ("table", "csv", "xlsx", "markdown", "json", "html")


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(RISK_FORMATS), default="table", show_default=True)
@cliutil.outputs_option(RISK_FORMATS)
@_AS_OF_OPTION
@_SET_OPTION
@_TEMPLATES_OPTION
@cliutil.STDIN_OPTION
@click.pass_context
def risks(
    ctx: click.Context,
    program: Path,
    fmt: str,
    outputs: tuple[str, ...],
    as_of: datetime.date | None,
    overrides: tuple[str, ...],
    templates_dir: Path | None,
) -> None:
    """The ICH Q9(R1)-style risk register of PROGRAM ('-': standard input); XLSX adds a likelihood-by-impact heat map."""
    from cmcadvisor.render.risk_formats import render_risks

    with user_errors(ctx.find_root().params["debug"]):
        result = cliutil.assess_program(ctx, program, _options(ctx, as_of, overrides))[0]
        templates = str(templates_dir) if templates_dir else None

        def produce(form: str, to_stdout: bool) -> str | bytes:
            color = to_stdout and form == "table" and cliutil.use_color(ctx)
            width = table_width(None if to_stdout else program)
            return render_risks(result, form, color=color, width=width, templates=templates)  # type: ignore[arg-type]

        cliutil.deliver(ctx, outputs, fmt, RISK_FORMATS, produce, cliutil.file_inputs(program))


@cli.command()
@click.argument("programs", nargs=-1, required=True, type=click.Path(path_type=Path))
@cliutil.STDIN_OPTION
@click.pass_context
def validate(ctx: click.Context, programs: tuple[Path, ...]) -> None:
    """Check program files ('-': standard input) against the input contract; report every problem at once.

    Each problem is one line, file:line: field: message; exit 2 if any file has one.
    """
    failed = False
    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx)
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


@cli.command()
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


@cli.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="program.yaml")
@click.pass_context
def init(ctx: click.Context, path: Path) -> None:
    """Write a commented starter program file to PATH (never overwrites)."""
    from cmcadvisor.writer import write_atomic

    starter = (Path(__file__).parent / "starter.yaml").read_text(encoding="utf-8")
    with user_errors(ctx.find_root().params["debug"]):
        write_atomic(path, starter, overwrite=False)
    click.echo(f"wrote {path}; fill it in, then run: cmcadvisor assess {path}")


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.argument("target", shell_complete=cliutil.complete_explain_targets)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--as-of", callback=_parse_date, default=None, help="Assessment date YYYY-MM-DD.")
@_SET_OPTION
@cliutil.STDIN_OPTION
@click.pass_context
def explain(
    ctx: click.Context, program: Path, target: str, fmt: str, as_of: datetime.date | None, overrides: tuple[str, ...]
) -> None:
    """Explain a conclusion for PROGRAM, traced to rules.

    TARGET is a rule id (why it fired, or why not and what would fire it), a pathway id (e.g.
    eu.prime), an activity or milestone id (e.g. ppq, bla_submission), a meeting type (e.g.
    pre_bla) or make-or-buy.
    """
    from cmcadvisor import explain as explaining

    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx, as_of, overrides)
        context = api.load_context(options)
        loaded, doc = api.read_validated(program, options, context)
        cliutil.note_clock(ctx, options, loaded.program.as_of, doc.source)
        answer = explaining.explain_target(loaded, context, target, options, doc)
        text = explaining.render_json(answer) if fmt == "json" else explaining.render_text(answer)
    click.echo(text, nl=False)


PORTFOLIO_FORMATS = ("table", "json", "jsonl", "csv", "html", "sarif", "junit")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(PORTFOLIO_FORMATS), default="table", show_default=True)
@cliutil.outputs_option(PORTFOLIO_FORMATS)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True, help="Worker processes.")
@click.option("--as-of", callback=_parse_date, default=None, help="Assessment date YYYY-MM-DD for every program.")
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
        options = _options(ctx, as_of)
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
            write = _to_stdout if target.path is None else stack.enter_context(open_output(target.path, inputs=files))
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


@cli.command()
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table", show_default=True)
@click.option("--as-of", callback=_parse_date, default=None, help="Assess both programs as of this date.")
@click.pass_context
def diff(ctx: click.Context, old: Path, new: Path, fmt: str, as_of: datetime.date | None) -> None:
    """Compare two program files (or two audit records): facts, rules, pathways, findings, timeline."""
    from cmcadvisor import diff as diffing

    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx, as_of)
        context = api.load_context(options)
        result = diffing.compare(*(cliutil.diff_side(ctx, path, options, context) for path in (old, new)))
    click.echo(diffing.render_diff(result, fmt), nl=False)


@cli.group("audit")
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


def _context(ctx: click.Context) -> api.Context:
    return api.load_context(_options(ctx))


# Commands of other modules, imported at first use: add_lazy(name, "module:attribute", first paragraph of its docstring).
cli.add_lazy("rules", "cmcadvisor.cli_rules:rules", "List, show, lint and test the rule pack.")
cli.add_lazy(
    "scenarios", "cmcadvisor.cli_scenarios:scenarios", "Compare the baseline of PROGRAM with what-if scenarios, side by side."
)
cli.add_lazy(
    "serve",
    "cmcadvisor.cli_serve:serve",
    "Start the local workspace over FOLDER (default: here): programs, forms, assessments, what-if, downloads.",
)
cli.add_lazy(
    "knowledge",
    "cmcadvisor.cli_knowledge:knowledge_group",
    "Review the knowledge base: its sources, how current they are and what depends on them.",
)


@cli.command("config")
@click.option("--fail-on", type=click.Choice(list(SEVERITY_RANK)[:-1]), default=None, help="As assess and portfolio take it.")
@click.option("--as-of", callback=_parse_date, default=None, help="As the assessing commands take it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def config_command(ctx: click.Context, fail_on: str | None, as_of: datetime.date | None, fmt: str) -> None:
    """Show the effective settings and where each comes from (command line, settings file, default).

    Settings are read from .cmcadvisor.toml, or from [tool.cmcadvisor] in pyproject.toml, in the
    working folder or the nearest folder above it; options on the command line win.
    """
    settings: cliconfig.Config = ctx.find_root().meta.get(cliconfig.META_KEY, cliconfig.Config())
    click.echo(cliutil.settings_text(settings.path, cliutil.settings_report(ctx, ctx.command), fmt), nl=False)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (commands, options, rule ids, pathway ids, meeting types).

    E.g. eval "$(cmcadvisor completion bash)" in ~/.bashrc; for zsh and fish see the README.
    """
    click.echo(cliutil.completion_script(cli, shell), nl=False)


def main() -> None:
    """Console-script entry point: a closed pipe ends quietly (status 141)."""
    cliutil.run_main(cli, "cmcadvisor")
