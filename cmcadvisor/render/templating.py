"""The Jinja environment: the only home of jinja2.

Templates live in ``templates/``; they use strict undefined, and every value they print is
escaped for its format (HTML autoescape; Markdown metacharacters backslash-escaped), so user
strings such as ``<script>`` or ``[link](x)`` stay inert. Templates loop and branch; they do not
compute.
"""

from __future__ import annotations

import functools
import re

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from cmcadvisor.errors import UserInputError
from cmcadvisor.loader import data_dir

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def escape_markdown(value: object) -> str:
    """Make a value inert in Markdown: metacharacters escaped, line breaks folded."""
    text = "" if value is None else str(value)
    indent = len(text) - len(text.lstrip(" "))  # keep list nesting
    text = " " * indent + " ".join(text.split())
    text = text.replace("&", "&amp;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _loader(override: str | None) -> jinja2.BaseLoader:
    """The organisation's templates first (when given), then the packaged ones; ``default:`` reaches the latter."""
    packaged = jinja2.FileSystemLoader(str(data_dir("templates")))
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(override)] if override else []
    return jinja2.ChoiceLoader([*loaders, packaged, jinja2.PrefixLoader({"default": packaged}, delimiter=":")])


@functools.cache
def environment(override: str | None = None) -> jinja2.Environment:
    """The sandboxed Markdown environment over the packaged templates (and a --templates folder)."""
    return _environment(override, html=False)


def _environment(override: str | None, *, html: bool) -> jinja2.Environment:
    env = SandboxedEnvironment(
        loader=_loader(override),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        finalize=None if html else escape_markdown,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = _tojson
    return env


def _tojson(value: object) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _render(env: jinja2.Environment, name: str, override: str | None, context: dict[str, object]) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateError as exc:
        if override is None:
            raise  # a packaged template is broken: an internal error
        where = getattr(exc, "filename", None) or name
        line = getattr(exc, "lineno", None)
        raise UserInputError.single(str(where), f"template error: {exc.message or type(exc).__name__}", line=line) from None


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
