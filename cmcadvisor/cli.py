"""The ``cmcadvisor`` command line: the only home of click.

Commands parse options, call :mod:`cmcadvisor.api` (or the rule tooling), pick a renderer and
map errors to exit codes: 0 ran, 1 findings at or above ``--fail-on``, 2 bad input or usage
(one line per problem, no traceback), 3 internal error. Nothing else happens here; this is
also the only place that reads today's date.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from cmcadvisor import __version__, api
from cmcadvisor.errors import CmcAdvisorError, EngineError, UserInputError
from cmcadvisor.models.rule import SEVERITY_RANK
from cmcadvisor.writer import generated_changes, write_atomic, write_generated

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _parse_date(_: click.Context, param: click.Parameter, value: str | None) -> datetime.date | None:
    if value is None:
        return None
    from cmcadvisor.models.program import DATE_MAX, DATE_MIN

    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form", param=param) from None
    if not DATE_MIN <= day <= DATE_MAX:  # the range the program file allows (docs/input-bounds.md)
        raise click.BadParameter(f"{value} is outside the dates the tool can plan with ({DATE_MIN} to {DATE_MAX})", param=param)
    return day


@contextlib.contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Map errors to messages and exit codes; tracebacks only with --debug."""
    try:
        yield
    except UserInputError as exc:
        for item in exc.items:
            click.echo(f"error: {item.format()}", err=True)
        sys.exit(EXIT_USAGE)
    except (EngineError, CmcAdvisorError) as exc:
        if debug:
            raise
        click.echo(f"internal error: {exc}. Please report it; rerun with --debug for details.", err=True)
        sys.exit(EXIT_INTERNAL)
    except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if debug:
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc}. Please report it; rerun with --debug for details.", err=True)
        sys.exit(EXIT_INTERNAL)


def _options(ctx: click.Context, as_of: datetime.date | None = None, overrides: tuple[str, ...] = ()) -> api.Options:
    root = ctx.find_root().params
    return api.Options(
        as_of=as_of,
        overrides=overrides,
        today=datetime.date.today(),
        engine=root["engine"],
        rules_dirs=tuple(Path(p) for p in root["rules_dir"]),
        builtin_rules=not root["no_builtin_rules"],
        knowledge_dir=Path(root["knowledge_dir"]) if root["knowledge_dir"] else None,
    )


PIPED_WIDTH = 100  # table width when stdout is not a terminal and COLUMNS is not set
MIN_WIDTH, MAX_WIDTH = 40, 400


def table_width(output: Path | None = None) -> int:
    """The width for terminal tables: ``COLUMNS`` when set, else the terminal's, else 100 (piped or a file)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, min(MAX_WIDTH, int(columns)))
    if output is None and sys.stdout.isatty():
        return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size((80, 24)).columns))
    return PIPED_WIDTH


def _emit(data: str | bytes, output: Path | None, inputs: list[Path]) -> None:
    if output is not None:
        write_atomic(output, data, inputs=inputs)
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            raise UserInputError.single("--output", "binary output: give --output FILE or redirect stdout")
        _to_stdout(data)
    else:
        _to_stdout(data.encode("utf-8"))


def _to_stdout(payload: bytes) -> None:
    """Write to standard output; a reader that stopped early is fine, any other failure (a full disk) is exit 2."""
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
    except OSError as exc:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more can reach the broken stdout
        if isinstance(exc, BrokenPipeError):
            return  # `| head`: the reader has what it wanted; the exit code still reports the findings
        raise UserInputError.single("<stdout>", f"cannot write: {exc.strerror or exc}") from None


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
    "--as-of", callback=_parse_date, default=None, help="Assessment date YYYY-MM-DD (overrides program.as_of; default today)."
)
_TEMPLATES_OPTION = click.option(
    "--templates",
    "templates_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A folder of templates that override the packaged ones (rendered in a sandbox).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
def cli(engine: str, rules_dir: tuple[str, ...], no_builtin_rules: bool, knowledge_dir: str | None, debug: bool) -> None:
    """Plan the CMC regulatory strategy of a cell or gene therapy program from a program file.

    Exit codes: 0 ran; 1 findings at or above --fail-on; 2 bad input or usage; 3 internal error.
    """


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "html"]), default="table", show_default=True)
@_OUTPUT_OPTION
@_AS_OF_OPTION
@click.option(
    "--fail-on",
    type=click.Choice(list(SEVERITY_RANK)[:-1]),
    default=None,
    help="Exit 1 when an open finding is at or above this severity.",
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
@click.pass_context
def assess(
    ctx: click.Context,
    program: Path,
    fmt: str,
    output: Path | None,
    as_of: datetime.date | None,
    fail_on: str | None,
    overrides: tuple[str, ...],
    audit_path: Path | None,
    auditor: bool,
    templates_dir: Path | None,
) -> None:
    """Assess PROGRAM: pathways, findings, make-or-buy, timeline, questions and the audit trail."""
    from cmcadvisor.render import render

    started = datetime.datetime.now(datetime.UTC)
    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx, as_of, overrides)
        context = api.load_context(options)
        result = api.assess_file(program, options, context)
        color = output is None and fmt == "table" and sys.stdout.isatty()
        templates = str(templates_dir) if templates_dir else None
        width = table_width(output)
        text = render(result, fmt, color=color, width=width, auditor=auditor, templates=templates)  # type: ignore[arg-type]
        _emit(text, output, [program])
        if audit_path is not None:
            from cmcadvisor import audit
            from cmcadvisor.validation import read_program

            plain = render(result, fmt, width=width, auditor=auditor, templates=templates) if color else text  # type: ignore[arg-type]
            record = audit.build_record(
                program,
                read_program(program, overrides=overrides)[0],
                result,
                context,
                options,
                audit.outputs_for(result, {fmt: plain}),
                started,
                datetime.datetime.now(datetime.UTC),
            )
            audit.write_record(audit_path, record, [program] + ([output] if output else []))
        worst = api.worst_open_severity(result)
        if fail_on and worst is not None and SEVERITY_RANK[worst] <= SEVERITY_RANK[fail_on]:
            sys.exit(EXIT_FINDINGS)


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "mermaid", "csv", "png", "svg"]), default="table", show_default=True
)
@_OUTPUT_OPTION
@_AS_OF_OPTION
@_SET_OPTION
@click.pass_context
def timeline(
    ctx: click.Context, program: Path, fmt: str, output: Path | None, as_of: datetime.date | None, overrides: tuple[str, ...]
) -> None:
    """Schedule PROGRAM's manufacturing decisions: critical path, slack and what is late."""
    from cmcadvisor.render import timeline_formats

    with user_errors(ctx.find_root().params["debug"]):
        result = api.assess_file(program, _options(ctx, as_of, overrides))
        data: str | bytes
        if fmt == "json":
            data = result.timeline.model_dump_json(indent=2) + "\n"
        elif fmt == "csv":
            data = timeline_formats.timeline_csv(result.timeline)
        elif fmt == "mermaid":
            data = timeline_formats.timeline_mermaid(result)
        elif fmt in ("png", "svg"):
            from cmcadvisor.render.gantt import gantt

            data = gantt(result, fmt)
        else:
            data = timeline_formats.timeline_table(
                result, color=output is None and sys.stdout.isatty(), width=table_width(output)
            )
        _emit(data, output, [program])


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option(
    "--meeting",
    "meeting_type",
    required=True,
    type=click.Choice(["interact", "pre_ind", "type_a", "eop1", "eop2", "pre_bla", "type_c", "type_d"]),
)
@click.option(
    "--date", "desired", callback=_parse_date, default=None, help="The desired meeting date YYYY-MM-DD (default: proposed)."
)
@click.option("--format", "fmt", type=click.Choice(["markdown", "docx", "html", "json"]), default="markdown", show_default=True)
@click.option(
    "--no-trace",
    "no_trace",
    is_flag=True,
    help="Leave out the internal traceability appendix (rules, findings, facts) of the Markdown, HTML and DOCX brief.",
)
@_OUTPUT_OPTION
@_AS_OF_OPTION
@_SET_OPTION
@_TEMPLATES_OPTION
@click.pass_context
def brief(
    ctx: click.Context,
    program: Path,
    meeting_type: str,
    desired: datetime.date | None,
    fmt: str,
    no_trace: bool,
    output: Path | None,
    as_of: datetime.date | None,
    overrides: tuple[str, ...],
    templates_dir: Path | None,
) -> None:
    """Draft an FDA meeting request and briefing package outline for PROGRAM (meeting type ids per the contract)."""
    from cmcadvisor.meetings import build_brief, plan_meeting
    from cmcadvisor.render.brief_formats import render_brief

    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx, as_of, overrides)
        context = api.load_context(options)
        loaded, doc = api.read_validated(program, options, context)
        result = api.assess(loaded, context, options, doc)
        meeting = plan_meeting(result, loaded, meeting_type, desired, context.meeting_types)
        draft = build_brief(result, loaded, meeting, context.meeting_types)
        templates = str(templates_dir) if templates_dir else None
        _emit(render_brief(draft, fmt, templates=templates, trace=not no_trace), output, [program])  # type: ignore[arg-type]


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "xlsx", "markdown", "json", "html"]), default="table", show_default=True
)
@_OUTPUT_OPTION
@_AS_OF_OPTION
@_SET_OPTION
@_TEMPLATES_OPTION
@click.pass_context
def risks(
    ctx: click.Context,
    program: Path,
    fmt: str,
    output: Path | None,
    as_of: datetime.date | None,
    overrides: tuple[str, ...],
    templates_dir: Path | None,
) -> None:
    """The ICH Q9(R1)-style risk register of PROGRAM (XLSX adds a likelihood-by-impact heat map)."""
    from cmcadvisor.render.risk_formats import render_risks

    with user_errors(ctx.find_root().params["debug"]):
        result = api.assess_file(program, _options(ctx, as_of, overrides))
        color = output is None and fmt == "table" and sys.stdout.isatty()
        templates = str(templates_dir) if templates_dir else None
        text = render_risks(result, fmt, color=color, width=table_width(output), templates=templates)  # type: ignore[arg-type]
        _emit(text, output, [program])


@cli.command()
@click.argument("programs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def validate(ctx: click.Context, programs: tuple[Path, ...]) -> None:
    """Check program files against the input contract; report every problem."""
    failed = False
    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx)
        context = api.load_context(options)  # waivers are checked against the rule pack, as assess does
        for path in programs:
            try:
                api.read_validated(path, options, context)
                click.echo(f"ok: {path}")
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
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@cli.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default="program.yaml")
@click.pass_context
def init(ctx: click.Context, path: Path) -> None:
    """Write a commented starter program file to PATH (never overwrites)."""
    starter = (Path(__file__).parent / "starter.yaml").read_text(encoding="utf-8")
    with user_errors(ctx.find_root().params["debug"]):
        write_atomic(path, starter, overwrite=False)
    click.echo(f"wrote {path}; fill it in, then run: cmcadvisor assess {path}")


@cli.command()
@click.argument("program", type=click.Path(path_type=Path))
@click.argument("rule_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--as-of", callback=_parse_date, default=None, help="Assessment date YYYY-MM-DD.")
@_SET_OPTION
@click.pass_context
def explain(
    ctx: click.Context, program: Path, rule_id: str, fmt: str, as_of: datetime.date | None, overrides: tuple[str, ...]
) -> None:
    """Explain why RULE_ID fired for PROGRAM, or why not and what would make it fire."""
    from cmcadvisor import explain as explaining

    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx, as_of, overrides)
        context = api.load_context(options)
        loaded, doc = api.read_validated(program, options, context)
        answer = explaining.explain(loaded, context, rule_id, options, doc)
    if fmt == "json":
        click.echo(json.dumps(answer.as_dict(), indent=2, sort_keys=True))
        return
    click.echo(f"{answer.rule}: {answer.title} ({answer.kind})")
    click.echo(
        f"status: {answer.status.replace('_', ' ')}"
        + (f" for items {answer.items}" if any(i is not None for i in answer.items) else "")
    )
    click.echo("condition ([yes] held, [no] failed, [??] fact missing):")
    for line in answer.tree:
        click.echo(f"  {line}")
    if answer.missing:
        click.echo("missing facts: " + ", ".join(answer.missing))
    if answer.counterfactual:
        checked = {True: "checked: the rule then fires", False: "not confirmed by a re-run", None: ""}[
            answer.counterfactual_checked
        ]
        click.echo(f"smallest change that would make it fire ({checked}):")
        for change in answer.counterfactual:
            click.echo(f"  {change}")
        if answer.effect:
            click.echo(f"effect: {answer.effect}")
    elif answer.status != "fired":
        click.echo("no single set of fact changes found that would make it fire")
    click.echo("sources:")
    for citation in answer.citations:
        click.echo(f"  {citation}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table", show_default=True)
@_OUTPUT_OPTION
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
    output: Path | None,
    jobs: int,
    as_of: datetime.date | None,
    fail_on: str | None,
) -> None:
    """Assess many program files (folders or files): a summary per program; one bad file does not stop the rest.

    Exit codes: 0 all assessed; 1 findings at or above --fail-on; 2 one or more files failed.
    """
    from cmcadvisor import portfolio as portfolio_run
    from cmcadvisor.render import portfolio_formats

    with user_errors(ctx.find_root().params["debug"]):
        options = _options(ctx, as_of)
        files = portfolio_run.collect(list(paths))
        keep = fmt == "json"
        show = sys.stderr.isatty()
        if show:  # a progress bar only for a person watching a terminal; never on stdout
            with click.progressbar(length=len(files), label="assessing", file=sys.stderr) as bar:
                outcomes = list(portfolio_run.run(files, options, jobs=jobs, keep_results=keep, progress=bar.update))
        else:
            outcomes = list(portfolio_run.run(files, options, jobs=jobs, keep_results=keep))
        if fmt == "json":
            text = portfolio_formats.portfolio_json(outcomes)
        elif fmt == "csv":
            text = portfolio_formats.portfolio_csv(outcomes)
        elif fmt == "html":
            text = portfolio_formats.portfolio_html(outcomes)
        else:
            text = portfolio_formats.portfolio_table(
                outcomes, color=output is None and sys.stdout.isatty(), width=table_width(output)
            )
        _emit(text, output, files)
    if any(not o.ok for o in outcomes):
        sys.exit(EXIT_USAGE)
    if fail_on:
        threshold = SEVERITY_RANK[fail_on]
        for o in outcomes:
            counts = (o.summary or {}).get("open_findings", {})
            if any(count and SEVERITY_RANK[sev] <= threshold for sev, count in counts.items()):
                sys.exit(EXIT_FINDINGS)


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
        result = diffing.compare(diffing.snapshot(old, options, context), diffing.snapshot(new, options, context))
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


@cli.group()
def rules() -> None:
    """List, show, lint and test the rule pack."""


def _context(ctx: click.Context) -> api.Context:
    return api.load_context(_options(ctx))


@rules.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Include draft and deprecated rules.")
@click.pass_context
def rules_list(ctx: click.Context, fmt: str, show_all: bool) -> None:
    """List the rules (active ones unless --all)."""
    with user_errors(ctx.find_root().params["debug"]):
        pack = _context(ctx).pack
        chosen = pack.rules if show_all else pack.active
        rows = [
            {
                "id": r.id,
                "title": r.spec.title,
                "kind": r.spec.kind,
                "severity": r.spec.severity,
                "topics": list(r.spec.topics),
                "status": r.spec.status,
                "version": r.spec.version,
                "confidence": r.spec.confidence,
                "citations": list(r.spec.citations),
            }
            for r in chosen
        ]
        if fmt == "json":
            click.echo(json.dumps(rows, indent=2))
            return
        for row in rows:
            click.echo(f"{row['id']:<14} {row['kind']:<14} {row['severity']:<8} {row['title']}")
        click.echo(f"{len(rows)} rules")


@rules.command("show")
@click.argument("rule_id")
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str) -> None:
    """Show one rule: metadata, condition, citations and examples."""
    from cmcadvisor.loader import dump_yaml

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        rule = context.pack.resolve(rule_id)
        if rule is None:
            raise UserInputError.single("rules", f"no rule {rule_id}")
        click.echo(f"# {rule.id}: {rule.spec.title}\n# file: {rule.source}")
        click.echo(dump_yaml(rule.spec.model_dump(mode="json", by_alias=True, exclude_none=True)), nl=False)
        click.echo("# citations")
        for cid in rule.spec.citations:
            c = context.kb.citations[cid]
            click.echo(f"#   {c.id}: {c.title} ({c.issuer}, {c.year}; {c.status}; {c.confidence})")


@rules.command("facts")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def rules_facts(fmt: str) -> None:
    """List the fact vocabulary rules may test: names, types, allowed values."""
    from cmcadvisor.facts import vocabulary

    vocab = vocabulary()
    if fmt == "json":
        rows = [
            {
                "name": i.name,
                "type": i.type,
                "allowed": list(i.allowed),
                "question": i.question,
                "computed_from": list(i.computed_from),
            }
            for i in vocab.values()
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for info in vocab.values():
        allowed = f" [{', '.join(info.allowed)}]" if info.allowed else ""
        click.echo(f"{info.name:<58} {info.type:<10}{allowed}")


@rules.command("docs")
@click.option(
    "--output", "-o", "folder", type=click.Path(path_type=Path, file_okay=False), default=Path("docs/rules"), show_default=True
)
@click.option("--check", is_flag=True, help="Do not write: exit 1 if the folder is not up to date.")
@click.pass_context
def rules_docs(ctx: click.Context, folder: Path, check: bool) -> None:
    """Generate one Markdown page per rule, plus an index.

    Only files listed in the folder's manifest (written by an earlier run) are ever removed; a
    folder holding other files and no manifest is refused.
    """
    from cmcadvisor.render.rule_docs import rule_pages

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        pages = rule_pages(context.pack, context.kb)
        if check:
            stale, extra = generated_changes(folder, pages)
            for name in stale + extra:
                click.echo(f"out of date: {folder / name}", err=True)
            click.echo(f"{len(pages)} pages, {len(stale) + len(extra)} out of date")
            if stale or extra:
                sys.exit(EXIT_FINDINGS)
            return
        written, removed = write_generated(folder, pages)
    gone = f"; removed {removed} it had written before" if removed else ""
    click.echo(f"wrote {written} of {len(pages)} pages to {folder}{gone}")


@rules.command("lint")
@click.pass_context
def rules_lint(ctx: click.Context) -> None:
    """Check every rule and knowledge cross-reference; exit 2 on any error."""
    from cmcadvisor.engine import AutoEngine, compile_problems, get_engine
    from cmcadvisor.rulelint import LintIssue, lint

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        data = [
            *context.meeting_types.types.values(),
            *context.meeting_types.ctd.values(),
            *context.risk_categories.categories.values(),
        ]
        also = frozenset(c for item in data for c in getattr(item, "citations", ()))
        also |= frozenset(context.meeting_types.ctd_citations)
        issues = lint(
            context.pack,
            context.kb,
            today=datetime.date.today(),
            also_cited=also,
            risk_categories=context.risk_categories.config,
            risk_source=context.risk_categories.source,
        )
        from cmcadvisor.timeline import hook_cycles

        for rule_id, cycle in hook_cycles(context.pack, context.kb):
            issues.append(
                LintIssue("error", context.pack.by_id[rule_id].source, "then.before", f"timeline hooks make a cycle: {cycle}")
            )
        if isinstance(get_engine("auto"), AutoEngine):  # durable-rules is available
            for rule_id, problem in compile_problems([r.compiled for r in context.pack.active]):
                source = context.pack.by_id[rule_id].source
                issues.append(
                    LintIssue("error", source, "when", f"durable-rules cannot compile this condition ({problem}); simplify it")
                )
    errors = [i for i in issues if i.level == "error"]
    for issue in issues:
        click.echo(issue.format(), err=issue.level == "error")
    click.echo(
        f"{len(context.pack.rules)} rules, {len(context.kb.citations)} citations: "
        f"{len(errors)} errors, {len(issues) - len(errors)} warnings"
    )
    if errors:
        sys.exit(EXIT_USAGE)


@rules.command("test")
@click.option(
    "--engine",
    "engines",
    type=click.Choice(["durable", "python"]),
    multiple=True,
    help="Engines to run (default: both where available).",
)
@click.pass_context
def rules_test(ctx: click.Context, engines: tuple[str, ...]) -> None:
    """Run every rule's examples on both engines; exit 1 if any fails."""
    from cmcadvisor.engine import get_engine
    from cmcadvisor.testing import run_all_examples

    with user_errors(ctx.find_root().params["debug"]):
        context = _context(ctx)
        chosen = [get_engine(name) for name in (engines or ("durable", "python"))]
        results = [r for engine in chosen for r in run_all_examples(context.pack, engine)]
    failures = [r for r in results if not r.passed]
    for r in failures:
        click.echo(f"FAIL {r.rule} :: {r.example} [{r.engine}]: expected {r.expect}, got {r.got}", err=True)
    click.echo(f"{len(results) - len(failures)} passed, {len(failures)} failed")
    if failures:
        sys.exit(EXIT_FINDINGS)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="cmcadvisor")
