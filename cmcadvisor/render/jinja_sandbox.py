"""The bounded Jinja sandbox for an organisation's template pack: limits on work, time and size.

An untrusted template (``--templates DIR``) renders in ``_BoundedSandbox``: every loop step, call,
attribute look-up and filter is counted against a per-render budget, values and outputs are sized,
and formatting widths are capped, so a template built to hurt stops with ``TemplateLimitError``
instead of exhausting the machine. This module only bounds; loading templates and turning their
errors into user errors is ``cmcadvisor.render.templating``'s job, and the two are the only homes of
jinja2.
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import SandboxedEnvironment, modifies_known_mutable
from jinja2.visitor import NodeTransformer
from pydantic import BaseModel

# Bounds of a render from a template pack. Generous for any report (the packaged templates
# stay far below them through the same environment); fatal only to a template built to hurt.
MAX_STEPS = 2_000_000  # loop iterations, calls, attribute look-ups and filters in one render
MAX_SECONDS = 30.0  # wall-clock backstop for work a step does not see
MAX_SIZE = 1_000_000  # characters of a string, or items of a value counted through its containers
MAX_OUTPUT = 20_000_000  # characters printed in one render, macro and block output included
MAX_RANGE = 100_000  # items of one range()
MAX_WIDTH = 10_000  # a width, precision or count given to a padding or formatting operation
MAX_INT_BITS = 10_000  # bits of an integer a template computes
MAX_DEPTH = 64  # nested macro calls and recursive loops
MAX_TEMPLATE_BYTES = 1_000_000  # size of one template file of a pack


class TemplateLimitError(jinja2.exceptions.SecurityError):
    """A template exceeded a bound of the sandbox (work, time, size, output or recursion)."""


class TemplateRefusedError(jinja2.exceptions.SecurityError):
    """A template file of a pack that may not be read (a link out of the pack, not a file)."""


# -------------------------------------------------------------------------------------- budget


@dataclass
class _Budget:
    """The work, output and nesting one render has used."""

    deadline: float
    steps: int = 0
    printed: int = 0
    depth: int = 0

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > MAX_STEPS:
            raise TemplateLimitError(f"the template does more than {MAX_STEPS} steps of work")
        if self.steps % 1024 < count and time.monotonic() > self.deadline:
            raise TemplateLimitError(f"the template took longer than {MAX_SECONDS:g} seconds")

    def print(self, size: int) -> None:
        self.printed += size
        if self.printed > MAX_OUTPUT:
            raise TemplateLimitError(f"the template prints more than {MAX_OUTPUT} characters")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("cmcadvisor_template_budget", default=None)


def _step(count: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.step(count)


def _weight(value: object, limit: int = MAX_SIZE) -> int:
    """Characters of strings plus items of containers, counted through shared containers; stops past ``limit``."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item) or 1
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"the template computes an integer of more than {MAX_INT_BITS} bits")
        else:
            total += 1
        if total > limit:
            break
    return total


def _checked(value: object) -> Any:
    """``value`` if it is within the size bounds; a limit error otherwise."""
    if _weight(value) > MAX_SIZE:
        raise TemplateLimitError(f"the template builds a value larger than {MAX_SIZE} characters or items")
    return value


def _width(value: object, what: str) -> None:
    if isinstance(value, int) and abs(value) > MAX_WIDTH:
        raise TemplateLimitError(f"{what} {value} is above the limit of {MAX_WIDTH}")


def _size(estimate: int, what: str) -> None:
    if estimate > MAX_SIZE:
        raise TemplateLimitError(f"{what} would build a value larger than {MAX_SIZE} characters or items")


_PERCENT_SPEC = re.compile(r"%%|%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")  # "%%" is a literal percent


def _check_percent_format(template: str) -> None:
    """Bound the widths and precisions of a printf-style format (``'%5s' % x``, ``|format``)."""
    for match in _PERCENT_SPEC.finditer(template):
        for number in match.groups():
            if number == "*":
                raise TemplateLimitError("a '*' width in a format is not allowed in templates")
            if number is not None:
                _width(int(number), "a format width")


def _check_brace_format(template: str) -> None:
    """Bound the widths and precisions of a ``str.format`` template; nested replacement fields are refused."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format itself reports the malformed template
    for _, name, spec, _ in parsed:
        if name is None or not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("a nested replacement field in a format spec is not allowed in templates")
        for number in re.findall(r"\d+", spec):
            _width(int(number), "a format width")


# ------------------------------------------------------------------------------ checked filters


def _lines(value: object) -> int:
    return str(value).count("\n") + 1


def _filter_checks(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before it runs, a filter call whose result would exceed the size bounds."""
    value = args[0] if args else None
    rest = list(args[1:])

    def arg(index: int, key: str, default: object = None) -> object:
        return rest[index] if len(rest) > index else kwargs.get(key, default)

    if name == "center":
        _width(arg(0, "width", 80), "a width")
    elif name == "indent":
        width = arg(0, "width", 4)
        unit = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        _width(unit, "an indent")
        _size(_weight(value) + _lines(value) * unit, "indent")
    elif name == "format" and isinstance(value, str):
        _check_percent_format(value)
    elif name == "replace":
        old, new = arg(0, "old", ""), arg(1, "new", "")
        text = str(value)
        hits = text.count(str(old)) if old else len(text) + 1
        _size(len(text) + hits * len(str(new)), "replace")
    elif name == "join":
        items = value if isinstance(value, list) else ()  # made a list by the wrapper
        separator = arg(0, "d", "")
        _size(sum(_weight(i) for i in items) + len(items) * len(str(separator)), "join")
    elif name == "wordwrap":
        _width(arg(0, "width", 79), "a width")
        wrapstring = arg(2, "wrapstring", None)
        if isinstance(wrapstring, str):
            _size(_weight(value) * (len(wrapstring) + 1), "wordwrap")
    elif name == "batch":
        _width(arg(0, "linecount", 1), "a batch size")
    elif name == "slice":
        _width(arg(0, "slices", 1), "a slice count")
    elif name == "truncate":
        _width(arg(0, "length", 255), "a length")
    elif name in ("string", "pprint", "tojson", "list"):
        _checked(value)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passes = getattr(func, "jinja_pass_arg", None) is not None  # set by jinja2.pass_context and its siblings

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _step()
        first = 1 if passes else 0
        if name == "join" and len(args) > first and not isinstance(args[first], str | jinja2.Undefined):
            args = (*args[:first], list(args[first]), *args[first + 1 :])  # measured before it is joined
        _filter_checks(name, args[first:], kwargs)
        return _checked(func(*args, **kwargs))

    wrapper.cmc_bounded = True  # type: ignore[attr-defined]
    return wrapper


def _bounded_test(func: Callable[..., bool]) -> Callable[..., bool]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> bool:
        _step()
        return func(*args, **kwargs)

    return wrapper


def _bounded_range(*args: int) -> range:
    """``range`` of at most :data:`MAX_RANGE` items."""
    rng = range(*args)
    try:
        count = len(rng)
    except OverflowError:
        count = MAX_RANGE + 1
    if count > MAX_RANGE:
        raise TemplateLimitError(f"range() of more than {MAX_RANGE} items")
    return rng


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 - jinja's names
    """Jinja's ``lipsum`` with at most 100 paragraphs of at most 1,000 words."""
    if not (isinstance(n, int) and isinstance(max, int) and 0 <= n <= 100 and 0 <= max <= 1000):
        raise TemplateLimitError("lipsum() takes at most 100 paragraphs of at most 1000 words")
    return str(jinja2.utils.generate_lorem_ipsum(n, html, min, max))


@jinja2.pass_context
def _iter_filter(context: Context, value: Any) -> Iterator[Any]:
    """The iterable of a ``for`` loop, one step per item."""
    for item in value:
        _step()
        yield item


@jinja2.pass_context
def _value_filter(context: Context, value: Any) -> Any:
    """A value built by a literal or a ``~`` concatenation, within the size bounds."""
    _step()
    return _checked(value)


@jinja2.pass_context
def _print_filter(context: Context, value: Any) -> Any:
    """A value about to be printed: within the size bounds, and counted against the output bound."""
    size = _weight(value)
    if size > MAX_SIZE:
        raise TemplateLimitError(f"the template prints a value larger than {MAX_SIZE} characters or items")
    budget = _BUDGET.get()
    if budget is not None:
        budget.print(size)
    return value


@jinja2.pass_context
def _data_filter(context: Context, size: int) -> str:
    """Count literal template text against the output bound."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.step()
        budget.print(size)
    return ""


_INTERNAL = {"_cmc_iter": _iter_filter, "_cmc_value": _value_filter, "_cmc_print": _print_filter, "_cmc_data": _data_filter}


class _Bounder(NodeTransformer):
    """Route every unhooked construct of a template through a bounding filter."""

    def _wrap(self, node: nodes.Node, name: str) -> nodes.Filter:
        return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - NodeTransformer naming
        self.generic_visit(node)
        node.iter = self._wrap(node.iter, "_cmc_iter")
        return node

    def _literal(self, node: nodes.Node) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, "_cmc_value")

    visit_Concat = visit_List = visit_Dict = _literal  # noqa: N815

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:  # noqa: N802
        if node.ctx != "load":
            return node  # an assignment target
        return self._literal(node)

    def visit_Output(self, node: nodes.Output) -> list[nodes.Node]:  # noqa: N802
        self.generic_visit(node)
        data = sum(len(child.data) for child in node.nodes if isinstance(child, nodes.TemplateData))
        node.nodes = [c if isinstance(c, nodes.TemplateData) else self._wrap(c, "_cmc_print") for c in node.nodes]
        size = nodes.Const(data, lineno=node.lineno)
        count = nodes.ExprStmt(nodes.Filter(size, "_cmc_data", [], [], None, None, lineno=node.lineno), lineno=node.lineno)
        return [count, node]


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:  # noqa: N802
        bounded = _Bounder().visit(node)
        bounded.set_environment(self.environment)
        super().visit_Template(bounded, frame)


_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _call_checks(obj: object) -> Callable[[tuple[Any, ...], dict[str, Any]], None] | None:
    """A pre-check for a call on a string whose result can be far larger than its inputs."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str | bytes):
        return None
    text: str | bytes = owner

    def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        first = args[0] if args else next(iter(kwargs.values()), None)
        if name in _STR_WIDTH_METHODS:
            _width(first, "a width")
        elif name == "expandtabs":
            _width(first if first is not None else 8, "a tab size")
            _size(len(text) * (first if isinstance(first, int) else 8), "expandtabs")
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            hits = text.count(old) if old else len(text) + 1
            _size(len(text) + hits * len(new), "replace")
        elif name == "join" and args:
            items = args[0]  # made a list by the call hook
            _size(sum(_weight(i) for i in items) + len(items) * len(text), "join")
        elif name == "translate" and isinstance(first, dict):
            longest = max((len(v) for v in first.values() if isinstance(v, str | bytes)), default=1)
            _size(len(text) * max(longest, 1), "translate")

    return check


class _BoundedFilters(dict[str, Callable[..., Any]]):
    """The filters of a bounded environment: each one checked, including any registered later."""

    def __init__(self, filters: dict[str, Callable[..., Any]]) -> None:
        super().__init__()
        self.update(filters)

    def __setitem__(self, name: str, func: Callable[..., Any]) -> None:
        bounded = func if name in _INTERNAL or getattr(func, "cmc_bounded", False) else _bounded_filter(name, func)
        super().__setitem__(name, bounded)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, func in dict(*args, **kwargs).items():
            self[name] = func


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox for template packs: confined, and bounded in work, size, output and depth.

    Lists and dicts may be changed (``names.update(...)`` is a common idiom, also in the packaged
    templates a pack may extend), but a container is measured after every change, so no value a
    template can reach ever exceeds the size bound.
    """

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Install the bounded globals, filters and tests."""
        super().__init__(*args, **kwargs)
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum
        self.filters = _BoundedFilters(self.filters)
        self.filters.update(_INTERNAL)
        self.tests = {name: _bounded_test(test) for name, test in self.tests.items()}  # type: ignore[arg-type]

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Also refuse pydantic's own model methods (dump, copy, parse_file, schema...): fields and properties only."""
        if isinstance(obj, BaseModel) and hasattr(BaseModel, attr):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Look up an attribute, one step of work."""
        _step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Subscribe, one step of work."""
        _step()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` in the sandbox, with its widths bounded."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_brace_format(template)
            return str(_checked(wrapped(*args, **kwargs)))

        return bounded

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """An arithmetic operator, refused when its result would exceed the bounds."""
        _step()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                    _size(_weight(seq) * max(times, 0), "repetition")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if left.bit_length() * right > MAX_INT_BITS:
                raise TemplateLimitError(f"the template computes an integer of more than {MAX_INT_BITS} bits")
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        return _checked(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """A call from a template: one step, a size pre-check, macro and loop recursion bounded."""
        _step()
        check = _call_checks(obj)
        if check is not None:
            if getattr(obj, "__name__", "") == "join" and args:
                args = (list(args[0]), *args[1:])  # measured before it is joined
            check(args, kwargs)
        budget = _BUDGET.get()
        nested = budget is not None and isinstance(obj, Macro | LoopContext)
        if nested:
            assert budget is not None
            budget.depth += 1
            if budget.depth > MAX_DEPTH:
                raise TemplateLimitError(f"macros or recursive loops nested more than {MAX_DEPTH} deep")
        try:
            result = _checked(super().call(context, obj, *args, **kwargs))
            owner = getattr(obj, "__self__", None)
            if owner is not None and modifies_known_mutable(owner, getattr(obj, "__name__", "")):
                _checked(owner)  # a list or dict the call just grew
            return result
        finally:
            if nested:
                assert budget is not None
                budget.depth -= 1


# --------------------------------------------------------------------------------- environments
