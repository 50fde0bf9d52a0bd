"""The commands that assess one program file: ``assess``, ``timeline``, ``brief``, ``risks`` and ``explain``.

Registered lazily on the top command by :mod:`cmcadvisor.cli` (imported only when one of them is
looked up); like it, these commands only parse options, call :mod:`cmcadvisor.api`, pick a
renderer and map errors to exit codes (see :mod:`cmcadvisor.cliutil`). They assess nothing themselves.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cmcadvisor import cliutil
from cmcadvisor.cliutil import table_width, user_errors
from cmcadvisor.models import SEVERITY_RANK

if TYPE_CHECKING:
    from cmcadvisor import api
else:  # loaded at first use: this command's --help stays light
    api = cliutil.lazy_import("cmcadvisor.api")


_SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="What-if change to a program field for this run only (repeatable), e.g. clinical.stage=pivotal.",
)


_AS_OF_OPTION = click.option(
    "--as-of",
    callback=cliutil.parse_date,
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

ASSESS_FORMATS = ("table", "json", "markdown", "html", "sarif", "junit")


@click.command("assess")
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
        options = cliutil.make_options(ctx, as_of, overrides)
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


@click.command("timeline")
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
        result = cliutil.assess_program(ctx, program, cliutil.make_options(ctx, as_of, overrides))[0]

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


@click.command("brief")
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
    "--date",
    "desired",
    callback=cliutil.parse_date,
    default=None,
    help="The desired meeting date YYYY-MM-DD (default: proposed).",
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
        result, loaded, _, context = cliutil.assess_program(ctx, program, cliutil.make_options(ctx, as_of, overrides))
        meeting = plan_meeting(result, loaded, meeting_type, desired, context.meeting_types, gates=context.pack.region_gates)
        draft = build_brief(result, loaded, meeting, context.meeting_types)
        templates = str(templates_dir) if templates_dir else None

        def produce(form: str, _: bool) -> str | bytes:
            return render_brief(draft, form, templates=templates, trace=not no_trace)  # type: ignore[arg-type]

        cliutil.deliver(ctx, outputs, fmt, BRIEF_FORMATS, produce, cliutil.file_inputs(program))


RISK_FORMATS = ("table", "csv", "xlsx", "markdown", "json", "html")


@click.command("risks")
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
        result = cliutil.assess_program(ctx, program, cliutil.make_options(ctx, as_of, overrides))[0]
        templates = str(templates_dir) if templates_dir else None

        def produce(form: str, to_stdout: bool) -> str | bytes:
            color = to_stdout and form == "table" and cliutil.use_color(ctx)
            width = table_width(None if to_stdout else program)
            return render_risks(result, form, color=color, width=width, templates=templates)  # type: ignore[arg-type]

        cliutil.deliver(ctx, outputs, fmt, RISK_FORMATS, produce, cliutil.file_inputs(program))


@click.command("explain")
@click.argument("program", type=click.Path(path_type=Path))
@click.argument("target", shell_complete=cliutil.complete_explain_targets)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--as-of", callback=cliutil.parse_date, default=None, help="Assessment date YYYY-MM-DD.")
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
        options = cliutil.make_options(ctx, as_of, overrides)
        context = api.load_context(options)
        loaded, doc = api.read_validated(program, options, context)
        cliutil.note_clock(ctx, options, loaded.program.as_of, doc.source)
        answer = explaining.explain_target(loaded, context, target, options, doc)
        text = explaining.render_json(answer) if fmt == "json" else explaining.render_text(answer)
    click.echo(text, nl=False)
