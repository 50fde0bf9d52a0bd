"""Helpers of the command line that are not commands: errors and exit codes, output, notes, settings, completion.

:mod:`cmcadvisor.cli` and the ``cmcadvisor.cli_*`` modules declare the commands; this module
holds what they share: mapping errors to exit codes (a reader that closes the pipe early is not
an error), writing to standard output and to several files, the one-line notes on standard error
(``--quiet`` hides them, ``--verbose`` adds more), colour (``--no-color``, ``NO_COLOR``), the
settings file (:mod:`cmcadvisor.cliconfig`) and shell completion of rule ids, pathway ids and
meeting types. It must not assess anything itself.

The top command imports this module on every run, ``--help`` and ``--version`` included, so it
imports only click and the standard library modules click loads anyway: ``pathlib``, the error
module (``dataclasses``), the rule models and the library are imported by the functions that use
them, and none of those runs for ``--help`` or ``--version``.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import gc
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

from cmcadvisor.cli_lazy import LazyGroup

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_PIPE = 128 + 13  # what a shell reports for a program stopped by SIGPIPE (`| head`)
PIPED_WIDTH = 100  # table width when stdout is not a terminal and COLUMNS is not set
MIN_WIDTH, MAX_WIDTH = 40, 400
STDIN_KEY = "cmcadvisor.stdin_filename"

if TYPE_CHECKING:  # at run time each is imported by the functions that use it (see the module docstring)
    from pathlib import Path
    from types import ModuleType

    from click.shell_completion import CompletionItem

    from cmcadvisor import api
    from cmcadvisor.diff import Snapshot
    from cmcadvisor.loader import Document
    from cmcadvisor.models.program import ProgramFile
    from cmcadvisor.models.result import AssessmentResult


def lazy_import(name: str) -> ModuleType:
    """The module ``name``, executed at its first attribute access (the standard library's lazy loader)."""
    import importlib.util

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def parse_date(_: click.Context, param: click.Parameter, value: str | None) -> datetime.date | None:
    """Click callback: a YYYY-MM-DD option within the dates the tool can plan with."""
    if value is None:
        return None
    if isinstance(value, datetime.date):
        return value
    from cmcadvisor.models.program import DATE_MAX, DATE_MIN

    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form", param=param) from None
    if not DATE_MIN <= day <= DATE_MAX:  # the range the program file allows (docs/input-bounds.md)
        raise click.BadParameter(f"{value} is outside the dates the tool can plan with ({DATE_MIN} to {DATE_MAX})", param=param)
    return day


def _silence_stdout() -> None:
    """Point standard output at the null device: nothing more can reach a closed pipe."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def end_quietly() -> None:
    """Standard output was closed by its reader: end now, with no message, as SIGPIPE would (141)."""
    _silence_stdout()
    sys.exit(EXIT_PIPE)


def is_broken_pipe(exc: BaseException) -> bool:
    """A write to a reader that has gone (``| head``)."""
    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


@contextlib.contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Map errors to messages and exit codes; tracebacks only with --debug."""
    from cmcadvisor.errors import CmcAdvisorError, UserInputError

    try:
        yield
    except UserInputError as exc:
        for item in exc.items:
            click.echo(f"error: {item.format()}", err=True)
        sys.exit(EXIT_USAGE)
    except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if is_broken_pipe(exc):
            end_quietly()
        if debug:
            raise
        shown = str(exc) if isinstance(exc, CmcAdvisorError) else f"{type(exc).__name__}: {exc}"
        click.echo(f"internal error: {shown}. Please report it; rerun with --debug for details.", err=True)
        sys.exit(EXIT_INTERNAL)


def run_main(command: click.Command, prog_name: str) -> None:
    """Run the command line; a closed standard output (``| head``) ends the run quietly with status 141.

    141 is what a shell reports for a program stopped by SIGPIPE, as ``cat`` or ``grep`` would be.

    Garbage collection is tuned for a command-line run. Start-up builds a few hundred thousand
    objects that live until exit (the model classes, the rule pack, the knowledge base) and frees
    almost nothing, so the collector is off until the library is loaded (:func:`library_loaded`,
    called by :func:`make_options`), then moves what exists out of its way and runs again with a
    larger first threshold (a long ``portfolio`` or ``serve`` still collects its cycles and stays
    flat in memory). What is left at the end is frozen too, which spares the final walk at exit.
    """
    # cmcadvisor uses no pydantic plugin. Not looking for one spares a scan of every installed
    # package's metadata at the first model built, and keeps plugins installed for other tools out
    # of how program files are validated. A value the user set is kept.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()
    try:
        _run(command, prog_name)
    finally:
        gc.freeze()


_GC_FIRST_THRESHOLD = 20_000  # allocations between young collections (CPython's default is 700)


def library_loaded() -> None:
    """Collect garbage again, leaving out everything loaded so far (it lives until exit)."""
    gc.freeze()
    gc.set_threshold(_GC_FIRST_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()


def _run(command: click.Command, prog_name: str) -> None:
    try:
        code = command.main(prog_name=prog_name, standalone_mode=False)
        sys.stdout.flush()
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(EXIT_FINDINGS)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:
        if not is_broken_pipe(exc):
            raise
        end_quietly()
    sys.exit(code if isinstance(code, int) else EXIT_OK)


# ------------------------------------------------------------------ options, notes and colour


def root_params(ctx: click.Context) -> dict[str, Any]:
    """The global options of this run."""
    return ctx.find_root().params


def make_options(ctx: click.Context, as_of: datetime.date | None = None, overrides: tuple[str, ...] = ()) -> api.Options:
    """The assessment options from the global options and this command's."""
    from pathlib import Path

    from cmcadvisor import api

    library_loaded()
    root = root_params(ctx)
    return api.Options(
        as_of=as_of,
        overrides=overrides,
        today=datetime.date.today(),
        engine=root["engine"],
        rules_dirs=tuple(Path(p) for p in root["rules_dir"]),
        builtin_rules=not root["no_builtin_rules"],
        knowledge_dir=Path(root["knowledge_dir"]) if root["knowledge_dir"] else None,
        stdin_filename=ctx.meta.get(STDIN_KEY),
    )


def _store_stdin_filename(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[STDIN_KEY] = value


STDIN_OPTION = click.option(
    "--stdin-filename",
    metavar="NAME",
    expose_value=False,
    callback=_store_stdin_filename,
    help="With '-' as the program: the name to show in messages for what is read from standard input.",
)


def note(ctx: click.Context, message: str) -> None:
    """A one-line note on standard error (hidden by --quiet)."""
    if not root_params(ctx).get("quiet"):
        click.echo(f"note: {message}", err=True)


def detail(ctx: click.Context, message: str) -> None:
    """A line on standard error shown only with --verbose."""
    if root_params(ctx).get("verbose") and not root_params(ctx).get("quiet"):
        click.echo(f"info: {message}", err=True)


def use_color(ctx: click.Context) -> bool:
    """Colour on standard output: a terminal, and neither --no-color nor NO_COLOR."""
    if root_params(ctx).get("no_color") or os.environ.get("NO_COLOR", ""):
        return False
    return sys.stdout.isatty()


def note_clock(ctx: click.Context, options: api.Options, program_as_of: datetime.date | None, shown: str) -> None:
    """Say which date was used when neither --as-of nor the program's as_of gives one."""
    if options.as_of is None and program_as_of is None and options.today is not None:
        note(ctx, f"{shown} has no as_of date and no --as-of was given: assessed as of today, {options.today.isoformat()}")


def fail_on_exit(fail_on: str | None, counts: dict[str, int], programs: int | None = None) -> None:
    """Exit 1, saying why in one line, when open findings are at or above ``fail_on``."""
    if not fail_on:
        return
    from cmcadvisor.models import SEVERITY_RANK

    over = {sev: n for sev, n in counts.items() if n and SEVERITY_RANK[sev] <= SEVERITY_RANK[fail_on]}
    total = sum(over.values())
    if not total:
        return
    where = f" in {programs} {'program' if programs == 1 else 'programs'}" if programs is not None else ""
    parts = ", ".join(f"{n} {sev}" for sev, n in sorted(over.items(), key=lambda item: SEVERITY_RANK[item[0]]))
    plural = "finding" if total == 1 else "findings"
    click.echo(f"--fail-on {fail_on}: {total} open {plural} at {fail_on} or above{where} ({parts})", err=True)
    sys.exit(EXIT_FINDINGS)


# ------------------------------------------------------------------ standard output and files


def table_width(output: Path | None = None) -> int:
    """The width for terminal tables: ``COLUMNS`` when set, else the terminal's, else 100 (piped or a file)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, min(MAX_WIDTH, int(columns)))
    if output is None and sys.stdout.isatty():
        import shutil

        return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size((80, 24)).columns))
    return PIPED_WIDTH


def to_stdout(payload: bytes) -> None:
    """Write to standard output; a closed pipe is left to main(), any other failure (a full disk) is exit 2."""
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
    except OSError as exc:
        if is_broken_pipe(exc):
            raise
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more can reach the broken stdout
        from cmcadvisor.errors import UserInputError

        raise UserInputError.single("<stdout>", f"cannot write: {exc.strerror or exc}") from None


def emit(data: str | bytes, output: Path | None, inputs: Sequence[Path]) -> None:
    """Write ``data`` to ``output`` atomically, or to standard output (binary only when redirected)."""
    from cmcadvisor.errors import UserInputError
    from cmcadvisor.writer import write_atomic

    if output is not None:
        write_atomic(output, data, inputs=list(inputs))
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            raise UserInputError.single("--output", "binary output: give --output FILE or redirect stdout")
        to_stdout(data)
    else:
        to_stdout(data.encode("utf-8"))


def file_inputs(*paths: Path) -> list[Path]:
    """The input files an output must never overwrite (standard input is not a file)."""
    return [p for p in paths if str(p) != "-"]


OUTPUTS_HELP = (
    "Write an output (repeatable): FORMAT:PATH writes that format to PATH, so one run can write several; "
    "a plain PATH takes the --format output off standard output (as before); '-' is standard output. "
    "Each file is written atomically."
)


def outputs_option(formats: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The repeatable ``--output/-o [FORMAT:]PATH`` option of a command with these formats."""
    return click.option(
        "--output",
        "-o",
        "outputs",
        multiple=True,
        metavar="[FORMAT:]PATH",
        shell_complete=_complete_output(formats),
        help=OUTPUTS_HELP,
    )


def deliver(
    ctx: click.Context,
    values: Sequence[str],
    fmt: str,
    formats: Sequence[str],
    render: Callable[[str, bool], str | bytes],
    inputs: Sequence[Path],
) -> dict[tuple[str, bool], str | bytes]:
    """Render every output (``render(fmt, to_terminal)``), then write the files and standard output.

    Returns every rendered output by (format, for standard output).
    """
    from cmcadvisor import outputs

    plan = outputs.plan(values, fmt, formats)
    made: dict[tuple[str, bool], str | bytes] = {}
    for target in plan.targets:
        key = (target.fmt, target.path is None)  # standard output may be a terminal: colour and its width
        if key not in made:
            made[key] = render(*key)
    files = [(t.path, made[(t.fmt, False)]) for t in plan.files if t.path is not None]
    outputs.write_files(files, inputs)
    for path, _ in files:
        detail(ctx, f"wrote {path}")
    if plan.stdout is not None:
        emit(made[(plan.stdout, True)], None, inputs)
    return made


# ------------------------------------------------------------------ shell completion


def _complete_output(formats: Sequence[str]) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    def complete(_: click.Context, __: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        if ":" in incomplete:
            return [CompletionItem(incomplete, type="file")]
        return [CompletionItem(f"{f}:") for f in formats if f.startswith(incomplete)]

    return complete


def _quiet_context(ctx: click.Context) -> api.Context | None:
    """The rule pack and knowledge, for completion: never an error on the shell's prompt."""
    from pathlib import Path

    from cmcadvisor import api

    try:
        root = ctx.find_root().params
        options = api.Options(
            engine="python",
            rules_dirs=tuple(Path(p) for p in root.get("rules_dir") or ()),
            builtin_rules=not root.get("no_builtin_rules"),
            knowledge_dir=Path(root["knowledge_dir"]) if root.get("knowledge_dir") else None,
        )
        return api.load_context(options)
    except Exception:  # noqa: BLE001 - completion offers nothing rather than failing
        return None


def _complete(
    ctx: click.Context, incomplete: str, choices: Callable[[api.Context], Iterable[tuple[str, str]]]
) -> list[CompletionItem]:
    """Completion items (value and its help) from the loaded pack and knowledge that start with ``incomplete``."""
    from click.shell_completion import CompletionItem

    context = _quiet_context(ctx)
    if context is None:
        return []
    return [CompletionItem(value, help=text) for value, text in choices(context) if value.startswith(incomplete)]


def complete_rule_ids(ctx: click.Context, _: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Rule ids (and their titles) for shell completion."""
    return _complete(ctx, incomplete.upper(), lambda c: ((r.id, r.spec.title) for r in c.pack.rules))


def complete_pathway_ids(ctx: click.Context, _: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Pathway ids (and their names) for shell completion."""
    return _complete(ctx, incomplete, lambda c: ((pid, p.name) for pid, p in sorted(c.kb.pathways.items())))


def complete_meeting_types(ctx: click.Context, _: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Meeting types (and their names) for shell completion, from the meeting knowledge."""
    return _complete(ctx, incomplete, lambda c: ((mid, m.name) for mid, m in sorted(c.meeting_types.types.items())))


def completion_script(command: click.Command, shell: str, prog_name: str = "cmcadvisor") -> str:
    """The shell's completion script, as click generates it."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the choice is checked by click
        from cmcadvisor.errors import UserInputError

        raise UserInputError.single("completion", f"no completion for {shell}")
    complete_var = "_" + prog_name.replace("-", "_").upper() + "_COMPLETE"
    return cls(command, {}, prog_name, complete_var).source()


# ------------------------------------------------------------------ the settings file


class ConfiguredGroup(LazyGroup):
    """The top command: reads the settings file (see :mod:`cmcadvisor.cliconfig`) before parsing options."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """Find and read the settings, give them to click as defaults (the command line wins), keep them in ``meta``."""
        from cmcadvisor import cliconfig

        if parent is not None or "default_map" in extra:
            return super().make_context(info_name, args, parent, **extra)
        try:
            config = cliconfig.discover(args, self)
        except Exception as exc:
            from cmcadvisor.errors import UserInputError  # here, not at the top: see the module docstring

            if not isinstance(exc, UserInputError):
                raise
            if extra.get("resilient_parsing"):  # shell completion: offer what can be offered
                config = cliconfig.Config()
            else:
                for item in exc.items:
                    click.echo(f"error: {item.format()}", err=True)
                raise click.exceptions.Exit(EXIT_USAGE) from None
        extra["default_map"] = config.default_map
        ctx = super().make_context(info_name, args, parent, **extra)
        ctx.meta[cliconfig.META_KEY] = config
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a reader that closed standard output early (``| head``) ends the run quietly."""
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            end_quietly()


def settings_report(ctx: click.Context, command: click.Command) -> list[dict[str, Any]]:
    """Every setting of this run (global options, the ``config`` command's own, the file's), with its source."""
    from pathlib import Path

    from cmcadvisor import cliconfig

    config: cliconfig.Config = ctx.find_root().meta.get(cliconfig.META_KEY, cliconfig.Config())
    rows: list[dict[str, Any]] = []

    def source_of(context: click.Context, name: str, path: tuple[str, ...]) -> str:
        found = context.get_parameter_source(name)
        if found is click.core.ParameterSource.DEFAULT_MAP:
            return config.origins.get((*path, name), "settings file")
        if found is click.core.ParameterSource.COMMANDLINE:
            return "command line"
        if found is click.core.ParameterSource.ENVIRONMENT:
            return "environment"
        return "default"

    def shown(value: Any) -> Any:
        if isinstance(value, tuple):
            return [shown(v) for v in value]
        if isinstance(value, datetime.date | Path):
            return str(value)
        return value

    root = ctx.find_root()
    for param in root.command.params:
        if param.name and param.name not in cliconfig.NOT_SETTINGS and isinstance(param, click.Option):
            rows.append(
                {
                    "command": "",
                    "setting": max(param.opts, key=len).lstrip("-"),
                    "value": shown(root.params.get(param.name)),
                    "source": source_of(root, param.name, ()),
                }
            )
    for param in command.params:
        if param.name and param.name not in ("fmt",) and isinstance(param, click.Option) and param.expose_value:
            rows.append(
                {
                    "command": "",
                    "setting": max(param.opts, key=len).lstrip("-"),
                    "value": shown(ctx.params.get(param.name)),
                    "source": source_of(ctx, param.name, (ctx.info_name or "config",)),
                }
            )
    for key, origin in sorted(config.origins.items()):
        if len(key) > 1 and key[0] != (ctx.info_name or "config"):
            slot: Any = config.default_map
            for part in key:
                slot = slot.get(part) if isinstance(slot, dict) else None
            rows.append(
                {"command": " ".join(key[:-1]), "setting": _option_name(root.command, key), "value": slot, "source": origin}
            )
    return rows


def settings_text(path: Path | None, rows: list[dict[str, Any]], fmt: str) -> str:
    """The settings report as JSON or as one aligned line per setting."""
    import json

    if fmt == "json":
        return json.dumps({"file": str(path) if path else None, "settings": rows}, indent=2) + "\n"
    lines = [f"settings file: {path if path else 'none found (defaults and command line only)'}"]
    for row in rows:
        name = f"{row['command']} --{row['setting']}" if row["command"] else f"--{row['setting']}"
        value = json.dumps(row["value"]) if row["value"] not in (None, (), []) else "-"
        lines.append(f"{name:<32} {value:<28} {row['source']}")
    return "\n".join(lines) + "\n"


def _option_name(group: click.Command, key: tuple[str, ...]) -> str:
    """The long option name (``format``) of a parameter (``fmt``) of the command at ``key[:-1]``."""
    command: click.Command | None = group
    for part in key[:-1]:
        command = command.commands.get(part) if isinstance(command, click.Group) else None
    for param in command.params if command else ():
        if param.name == key[-1] and isinstance(param, click.Option):
            return max(param.opts, key=len).lstrip("-")
    return key[-1].replace("_", "-")


# ------------------------------------------------------------------ reading and assessing one program


def assess_program(
    ctx: click.Context, program: Path, options: api.Options, context: api.Context | None = None
) -> tuple[AssessmentResult, ProgramFile, Document, api.Context]:
    """Read, validate and assess ``program`` (``-``: standard input), noting a date taken from the clock.

    Returns the result, the validated program, its parsed document and the loaded context.
    """
    from cmcadvisor import api, cliconfig

    settings = ctx.find_root().meta.get(cliconfig.META_KEY)
    if settings is not None and settings.path is not None:
        detail(ctx, f"settings from {settings.path}")
    context = context or api.load_context(options)
    detail(ctx, f"{len(context.pack.active)} active rules; engine {context.engine.name}")
    loaded, doc = api.read_validated(program, options, context)
    note_clock(ctx, options, loaded.program.as_of, doc.source)
    return api.assess(loaded, context, options, doc), loaded, doc, context


def diff_side(ctx: click.Context, path: Path, options: api.Options, context: api.Context) -> Snapshot:
    """One side of ``diff`` (a program file or an audit record), noting a date taken from the clock."""
    from cmcadvisor.diff import snapshot

    taken = snapshot(path, options, context)
    if taken.undated is not None:
        note_clock(ctx, options, None, taken.undated)
    return taken


def ci_report(fmt: str, result: AssessmentResult, doc: Document, context: api.Context, fail_on: str | None) -> str:
    """One program's SARIF or JUnit report."""
    from cmcadvisor.render.ci_common import ProgramReport

    report = ProgramReport(doc.source, result, doc)
    if fmt == "sarif":
        from cmcadvisor.render.sarif import sarif_log

        return sarif_log([report], context.pack, context.kb)
    from cmcadvisor.render.junit import junit_xml

    return junit_xml([report], context.pack, fail_on)


def complete_explain_targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """What ``explain`` can explain: rule ids, pathway ids, meeting types and make-or-buy."""
    from click.shell_completion import CompletionItem

    found = complete_rule_ids(ctx, param, incomplete) + complete_pathway_ids(ctx, param, incomplete)
    found += complete_meeting_types(ctx, param, incomplete)
    if "make-or-buy".startswith(incomplete):
        found.append(CompletionItem("make-or-buy", help="the make-or-buy recommendation"))
    return found
