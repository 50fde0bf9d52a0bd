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

from cmcadvisor.loader import data_dir

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def escape_markdown(value: object) -> str:
    """Make a value inert in Markdown: metacharacters escaped, line breaks folded."""
    text = "" if value is None else str(value)
    indent = len(text) - len(text.lstrip(" "))  # keep list nesting
    text = " " * indent + " ".join(text.split())
    text = text.replace("&", "&amp;")
    return _MD_SPECIAL.sub(r"\\\1", text)


@functools.cache
def environment() -> jinja2.Environment:
    """The sandboxed Markdown environment over the packaged templates."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=escape_markdown,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["tojson"] = _tojson
    return env


def _tojson(value: object) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def render_template(name: str, **context: object) -> str:
    """Render one template with the given context."""
    return environment().get_template(name).render(**context)
