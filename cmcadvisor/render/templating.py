"""The Jinja environment: with its bounded sandbox (``render.jinja_sandbox``), the only home of jinja2.

Templates live in ``templates/``; they use strict undefined, and every value they print is
escaped for its format (HTML autoescape; Markdown metacharacters backslash-escaped), so user
strings such as ``<script>`` or ``[link](x)`` stay inert. Templates loop and branch; they do not
compute.

An organisation's template pack (``--templates DIR``) is untrusted: it is read only through a
loader confined to its folder (a link or path that resolves outside it is refused), and it is
rendered in a sandbox with bounds on work, time, value sizes, output and recursion,
so a template can neither leak a file nor exhaust the machine. Every error a pack's template
causes is a user error naming the template file and line. The packaged templates are trusted
and rendered without those bounds.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment

from cmcadvisor.errors import UserInputError
from cmcadvisor.loader import data_dir
from cmcadvisor.render.jinja_sandbox import (
    _BUDGET,
    MAX_SECONDS,
    MAX_TEMPLATE_BYTES,
    TemplateLimitError,
    TemplateRefusedError,
    _BoundedSandbox,
    _Budget,
)

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def escape_markdown(value: object) -> str:
    """Make a value inert in Markdown: metacharacters escaped, line breaks folded."""
    text = "" if value is None else str(value)
    indent = len(text) - len(text.lstrip(" "))  # keep list nesting
    text = " " * indent + " ".join(text.split())
    text = text.replace("&", "&amp;")
    return _MD_SPECIAL.sub(r"\\\1", text)


# ---------------------------------------------------------------------------------- pack loader


class PackLoader(jinja2.BaseLoader):
    """Templates from one folder; a name that resolves outside it, or to anything but a file, is refused.

    Unlike ``FileSystemLoader``, a link (or a linked folder) whose target lies outside the pack is an
    error, not a file to read, and so is a FIFO or a device; a name not in the pack is simply not
    found, so the packaged template of that name is used.
    """

    def __init__(self, root: str) -> None:
        """Serve templates from ``root``."""
        self.root = root
        self.base = Path(root).resolve()

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        """The source of ``template``, its file name and an up-to-date check."""
        path = os.path.join(self.root, *split_template_path(template))
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.base):
            raise TemplateRefusedError(
                f"{path}: resolves outside the template folder {self.root}; links out of a pack are refused"
            )
        try:
            fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise TemplateRefusedError(f"{path}: cannot read: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise TemplateRefusedError(f"{path}: not a regular file")
            raw = handle.read(MAX_TEMPLATE_BYTES + 1)
        if len(raw) > MAX_TEMPLATE_BYTES:
            raise TemplateRefusedError(f"{path}: larger than {MAX_TEMPLATE_BYTES} bytes")
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateRefusedError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None

        def uptodate() -> bool:
            try:
                return os.stat(resolved).st_mtime_ns == info.st_mtime_ns
            except OSError:
                return False

        return source, path, uptodate


def _loader(override: str | None) -> jinja2.BaseLoader:
    """The organisation's templates first (when given), then the packaged ones; ``default:`` reaches the latter."""
    packaged = jinja2.FileSystemLoader(str(data_dir("templates")))
    loaders: list[jinja2.BaseLoader] = [PackLoader(override)] if override else []
    return jinja2.ChoiceLoader([*loaders, packaged, jinja2.PrefixLoader({"default": packaged}, delimiter=":")])


@functools.cache
def environment(override: str | None = None) -> jinja2.Environment:
    """The sandboxed Markdown environment over the packaged templates (and a --templates folder)."""
    return _environment(override, html=False)


def _environment(override: str | None, *, html: bool) -> jinja2.Environment:
    kind = _BoundedSandbox if override else SandboxedEnvironment
    env = kind(
        loader=_loader(override),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        finalize=None if html else escape_markdown,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = _tojson
    _display_filters(env)
    return env


def _display_filters(env: jinja2.Environment) -> None:
    """The display vocabulary as filters: ``{{ value | label("clinical.stage") }}``, ``{{ n | plural("question") }}``."""
    from cmcadvisor import display

    env.filters["label"] = lambda value, field=None: display.label(field, value)
    env.filters["term"] = display.term
    env.filters["fact_label"] = display.fact_label
    env.filters["facts_text"] = display.facts_text
    env.filters["money"] = display.money
    env.filters["quantity"] = display.quantity
    env.filters["percent"] = display.percent
    env.filters["number"] = display.number
    env.filters["plural"] = lambda n, singular, plural=None: display.plural(n, singular, plural)
    env.filters["plural_word"] = lambda n, singular, plural=None: display.plural_word(n, singular, plural)
    env.filters["human_date"] = display.human_date
    env.filters["caveats"] = display.finding_caveats


def _tojson(value: object) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _location(exc: BaseException, override: str, name: str) -> tuple[str, int | None]:
    """The template file and line an error happened at (jinja rewrites tracebacks to template frames)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.filename or name, exc.lineno
    roots = tuple(os.path.join(os.path.abspath(root), "") for root in (override, str(data_dir("templates"))))
    found: tuple[str, int | None] = (os.path.join(override, name), None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename).startswith(roots):
            found = (frame.filename, frame.lineno)
    return found


def _message(exc: BaseException) -> str:
    if isinstance(exc, TemplateRefusedError):
        return f"template refused: {exc.message}"
    if isinstance(exc, TemplateLimitError):
        return f"template stopped: {exc.message}"
    if isinstance(exc, jinja2.TemplateError):
        return f"template error: {exc.message or type(exc).__name__}"
    if isinstance(exc, RecursionError):
        return "template stopped: templates include or call each other too deeply"
    if isinstance(exc, MemoryError):
        return "template stopped: out of memory"
    return f"template error: {type(exc).__name__}: {exc}"


def _render(env: jinja2.Environment, name: str, override: str | None, context: dict[str, object]) -> str:
    if override is None:
        return env.get_template(name).render(**context)  # packaged templates: an error is an internal one
    token = _BUDGET.set(_Budget(deadline=time.monotonic() + MAX_SECONDS))
    try:
        return env.get_template(name).render(**context)
    except UserInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything a pack's template raises is the pack's error
        where, line = _location(exc, override, name)
        raise UserInputError.single(where, _message(exc), line=line) from None
    finally:
        _BUDGET.reset(token)


def render_template(name: str, override: str | None = None, **context: object) -> str:
    """Render one Markdown template with the given context."""
    return _render(environment(override), name, override, context)


@functools.cache
def html_environment(override: str | None = None) -> jinja2.Environment:
    """The sandboxed, autoescaping HTML environment (optionally over a --templates folder)."""
    return _environment(override, html=True)


def render_html_template(name: str, override: str | None = None, **context: object) -> str:
    """Render one HTML template; every value is HTML-escaped unless marked safe by our own code."""
    return _render(html_environment(override), name, override, context)
