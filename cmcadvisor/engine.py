"""The rule engines: the durable-rules adapter (the engine) and the pure-Python fallback.

This is the only module that imports ``durable``. It compiles the engine-neutral condition AST
(:mod:`cmcadvisor.conditions`) to durable-rules JSON rulesets and applies every workaround the
engine needs (see ``docs/engine.md``):

* rulesets of at most ``RULES_PER_RULESET`` rules (error 303 past 64 alpha branches), with
  derived facts routed to the rulesets whose rules consume them;
* a sentinel rule in every ruleset, fired by an ``init`` fact before anything else, so that
  ``delete_state`` never frees a state that ran no action (heap corruption in 2.0.28);
* no ``Host`` at all (its timer threads, dispatcher thread, per-action closures, clock reads and
  JSON round trips, and an action over 10 s silently dropped): rulesets are created and driven
  through the native core directly, with the host's own sequence of calls, under one lock
  (the engine is not thread-safe);
* one ``sid`` per evaluation and ``delete_state`` in ``finally`` (1,024 live sids at most);
* definitions and facts serialised by the adapter itself, with every number written as text
  the native JSON parser reads and compared exactly as Python compares it
  (:class:`NumberCodec`): the parser refuses an exponent without a decimal point (``4e-05``,
  ``1e+16``: error 204), holds integers in 64 bits and compares an integer with a double by
  converting the integer;
* a pack's definitions and number codec kept in the content-hash cache (:mod:`cmcadvisor.cache`)
  under the pack's hash (:meth:`DurableEngine.cache_as`), so a cold start only creates the
  rulesets in the native core;
* one closure per rule id (actions are not told which rule fired); actions only record,
  and a rule fires once per program or item (an ``$or`` activates once per true branch);
* derived facts deduplicated in Python; ``MessageObservedException`` and
  ``MessageNotHandledException`` caught around every assert;
* swallowed action exceptions surfaced from the returned state as :class:`EngineError`;
* dates as ISO strings, reserved keys ``id``/``sid`` never used for program data;
* ``auto``: a program durable-rules fails on for an engine reason (:class:`NativeEngineError`)
  is evaluated by the Python engine instead, and the run says which engine ran and why.

It returns firings, never prose. The pure-Python engine runs the same compiled rules through
:func:`cmcadvisor.reference_eval.run_fixpoint`.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from typing import Any, Protocol

from cmcadvisor import cache
from cmcadvisor.conditions import And, CompiledRule, Firing, Lit, Node, Or
from cmcadvisor.errors import EngineError
from cmcadvisor.facts import FactSet, vocabulary
from cmcadvisor.reference_eval import run_fixpoint

RULES_PER_RULESET = 40
_DEFINITIONS_FORMAT = 1  # what a cached entry of ruleset definitions holds (see DurableEngine.cache_as)
MAX_FACT_PROPERTIES = 250
_SENTINEL = "__sentinel__"


class NativeEngineError(EngineError):
    """durable-rules itself failed or cannot represent the program (a native error code, a limit).

    ``--engine auto`` evaluates such a program with the Python engine instead; a failing rule
    action (a defect of ours) stays a plain :class:`EngineError`.
    """


@dataclass(frozen=True)
class EngineRun:
    """What an engine reports for one program: firings in firing order and derived facts.

    ``engine`` is set when another engine than the one called produced the run (``auto``'s
    fallback): its name and why, for ``audit.engine``.
    """

    firings: list[Firing]
    derived: list[str]
    engine: str | None = None


class Engine(Protocol):
    """A forward-chaining engine over compiled rules."""

    @property
    def name(self) -> str:
        """Engine name and version, as recorded in ``audit.engine``."""

    def run(self, rules: Sequence[CompiledRule], facts: FactSet, given: Iterable[str] = ()) -> EngineRun:
        """Evaluate one program to a fixpoint."""


class PythonEngine:
    """The pure-Python fixpoint engine: oracle and fallback."""

    @property
    def name(self) -> str:
        """``python-fixpoint`` plus the package version."""
        return f"python-fixpoint {_version('cmcadvisor')}"

    def run(self, rules: Sequence[CompiledRule], facts: FactSet, given: Iterable[str] = ()) -> EngineRun:
        """Evaluate with :func:`run_fixpoint`."""
        firings, derived = run_fixpoint(rules, facts, given)
        return EngineRun(firings, derived)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _key(name: str) -> str:
    return name.replace(".", "__")


EXACT = 2**53
"""Below this magnitude durable-rules holds and compares every number exactly (see NumberCodec)."""


class NumberCodec:
    """Numbers as text durable-rules' JSON parser reads, comparing exactly as Python compares them.

    What the native core (``src/rules/json.c``, ``rete.c``, ``state.c``, ``events.c``) does with a
    number: the parser takes ``-?[0-9]+`` as an integer (read with ``atoll``/``atol`` into 64 bits,
    saturating beyond) and ``-?[0-9]+.[0-9]*`` as a double (``atof``, correctly
    rounded), with an exponent only *after* a decimal point: ``4e-05`` or ``1e+16`` (what
    ``json.dumps`` writes for such floats) is error 204. Two integers compare as ``long long``,
    two doubles as doubles, and an integer with a double after converting the integer to double.

    So a number of magnitude below 2**53 is written as itself: an int in digits, a float as the
    decimal digits of its shortest ``repr`` without an exponent (``0.00004``), which ``atof``
    reads back to the same double; any int or float compares exactly with another there, and
    (since every double from 2**52 up is whole) with any larger int. A number of magnitude
    2**53 or more (including infinity) is replaced by an integer code just above 2**53 that
    keeps its order and equality against every such constant of the rule pack:
    ``2**53 + 2 + 2*j`` for the pack's j-th large magnitude itself, ``2**53 + 1 + 2*j`` between
    the (j-1)-th and the j-th, negated for negative numbers. NaN has no faithful form
    (:class:`NativeEngineError`). Booleans stay JSON booleans.
    """

    def __init__(self, constants: Iterable[object] = ()) -> None:
        """Remember the pack's constants of magnitude 2**53 or more, by sign."""
        large = [v for v in constants if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) >= EXACT]
        self.above: list[int | float] = sorted({v for v in large if v > 0})
        self.below: list[int | float] = sorted({-v for v in large if v < 0})

    def text(self, value: int | float) -> str:
        """The JSON text of a number (not a bool) for durable-rules."""
        if -EXACT < value < EXACT:
            if isinstance(value, int):
                return int.__repr__(value)
            shown = float.__repr__(value)
            if "e" in shown:
                shown = format(Decimal(shown), "f")
                if "." not in shown:
                    shown += ".0"
            return shown
        if value != value:
            raise NativeEngineError("durable-rules cannot represent NaN (not a number)")
        if value > 0:
            return str(EXACT + _rank(self.above, value))
        return str(-(EXACT + _rank(self.below, -value)))

    def fact(self, fact: dict[str, Any]) -> str:
        """JSON text of a flat fact: ``json.dumps`` (fast) where that writes every number as :meth:`text` does.

        Ints and floats under 2**53 in magnitude are written alike by both, except floats whose
        ``repr`` has an exponent (below 1e-4); large numbers are swapped for their integer codes.
        Anything else (a tiny float, NaN, a number subclass) takes :meth:`dump`.
        """
        out = fact
        for key, value in fact.items():
            kind = type(value)
            if kind is str or kind is bool or value is None:
                continue
            if kind is int or kind is float:
                if -EXACT < value < EXACT:
                    if kind is int or "e" not in float.__repr__(value):
                        continue
                elif value == value:  # large (NaN fails both tests): its code is an int
                    if out is fact:
                        out = dict(fact)
                    out[key] = int(self.text(value))
                    continue
            return self.dump(fact)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))

    def dump(self, value: object) -> str:
        """JSON text of a fact or definition: ``json.dumps`` (fast) where it writes what :meth:`_parts` would."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if self._plain(value) else "".join(self._parts(value))

    def _plain(self, value: Any) -> bool:
        """Whether ``value`` has only string keys and numbers ``json.dumps`` writes as :meth:`text` does."""
        kind = type(value)
        if kind is int or kind is float:
            return bool(-EXACT < value < EXACT and (kind is int or "e" not in float.__repr__(value)))
        if kind is dict:
            return all(type(key) is str and self._plain(item) for key, item in value.items())
        if kind is list or kind is tuple:
            return all(self._plain(item) for item in value)
        return kind is str or kind is bool or value is None

    def _parts(self, value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield json.dumps(value, ensure_ascii=False)
        elif value is True or value is False or value is None:
            yield json.dumps(value)
        elif isinstance(value, int | float):
            yield self.text(value)
        elif isinstance(value, dict):
            yield "{"
            for index, (key, item) in enumerate(value.items()):
                yield ("," if index else "") + json.dumps(str(key), ensure_ascii=False) + ":"
                yield from self._parts(item)
            yield "}"
        elif isinstance(value, list | tuple):
            yield "["
            for index, item in enumerate(value):
                if index:
                    yield ","
                yield from self._parts(item)
            yield "]"
        else:
            raise TypeError(f"cannot give durable-rules a {type(value).__name__}")


def _rank(magnitudes: list[int | float], value: int | float) -> int:
    index = bisect.bisect_left(magnitudes, value)
    if index < len(magnitudes) and magnitudes[index] == value:
        return 2 + 2 * index
    return 1 + 2 * index


def _constants(node: Node | None) -> Iterator[object]:
    """Every literal value in a condition tree."""
    if node is None:
        return
    if isinstance(node, Lit):
        yield from node.value if isinstance(node.value, tuple) else (node.value,)
        return
    for child in node.children:
        yield from _constants(child)


def _compile_lit(lit: Lit) -> dict[str, Any]:
    key = f"item__{lit.item_field}" if lit.item_field is not None else _key(lit.fact)
    op, value = lit.op, lit.value
    if op in ("contains", "not_contains"):
        return {f"{key}__has__{value}": op == "contains"}
    if op == "eq":
        return {key: value}
    if op == "ne":
        return {"$neq": {key: value}}
    if op in ("in", "not_in"):
        options = value if isinstance(value, tuple) else (value,)
        if op == "in":
            return {"$or": [{key: option} for option in options]}
        return {"$and": [{"$neq": {key: option}} for option in options]}
    if op == "exists":
        return {"$ex": {key: 1}}
    if op == "missing":
        return {"$nex": {key: 1}}
    durable_op = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}[op]
    return {durable_op: {key: value}}


def compile_node(node: Node) -> dict[str, Any]:
    """The durable-rules JSON expression of a condition in negation normal form."""
    if isinstance(node, Lit):
        return _compile_lit(node)
    kids = [compile_node(child) for child in node.children]
    if len(kids) == 1:  # every level of nesting costs durable-rules one of its few expressions
        return kids[0]
    if isinstance(node, And):
        return {"$and": kids}
    assert isinstance(node, Or)
    return {"$or": kids}


def compile_rule(rule: CompiledRule) -> dict[str, Any]:
    """The durable-rules definition of one rule (without its ``run`` action)."""
    shape = rule.shape
    parts: list[dict[str, Any]]
    if shape.collection is None:
        parts = [{"t": "program"}]
    else:
        parts = [{"t": "row"}, {"coll": shape.collection}]
    if shape.body is not None:
        parts.append(compile_node(shape.body))
    conditions: list[dict[str, Any]] = [{"m": {"$and": parts}}]
    for index, name in enumerate(shape.derived):
        conditions.append({f"d{index}": {"$and": [{"t": "derived"}, {"name": name}]}})
    return {"all": conditions}


def ruleset_definitions(chunks: Sequence[Sequence[CompiledRule]], key: str | None = None) -> tuple[NumberCodec, tuple[str, ...]]:
    """A pack's number codec and the durable-rules JSON definition of each ruleset (one per chunk of rules).

    With ``key`` (the pack's hash, see :meth:`DurableEngine.cache_as`) they are read from the
    content-hash cache when an entry there fits the chunks, and kept there otherwise.
    """
    entry = f"durable-{_DEFINITIONS_FORMAT}-{key[:32]}" if key else None
    if entry is not None:
        cached = cache.read(entry)
        if (
            isinstance(cached, tuple)
            and len(cached) == 2
            and isinstance(cached[0], NumberCodec)
            and isinstance(cached[1], tuple)
            and len(cached[1]) == len(chunks)
            and all(isinstance(text, str) for text in cached[1])
        ):
            return cached[0], cached[1]
    codec = NumberCodec(value for chunk in chunks for rule in chunk for value in _constants(rule.shape.body))
    definitions = []
    for chunk in chunks:
        ruleset: dict[str, Any] = {_SENTINEL: {"all": [{"m": {"t": "init"}}]}}
        for rule in chunk:
            ruleset[rule.id] = compile_rule(rule)
        definitions.append(codec.dump(ruleset))
    if entry is not None:
        cache.write(entry, (codec, tuple(definitions)))
    return codec, tuple(definitions)


def program_fact(facts: FactSet) -> dict[str, Any]:
    """The program as one flat durable-rules fact (lists become ``__has__`` booleans)."""
    fact: dict[str, Any] = {_key(name): value for name, value in facts.scalars.items()}
    vocab = vocabulary()
    for name, values in facts.lists.items():
        info = vocab.get(name)
        domain = set(info.allowed if info else ()) | set(values)
        for option in sorted(domain):
            fact[f"{_key(name)}__has__{option}"] = option in values
    return fact


@dataclass
class _Context:
    sid: str
    firings: list[Firing] = field(default_factory=list)
    fired: set[tuple[str, int | None]] = field(default_factory=set)
    derived: list[str] = field(default_factory=list)
    derived_set: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


Action = Callable[[str], None]  # called with the activation's JSON text


@dataclass(frozen=True)
class _CompiledPack:
    codec: NumberCodec
    rulesets: tuple[str, ...]
    row_rulesets: dict[str, tuple[str, ...]]  # collection -> rulesets with rules over it
    consumers: dict[str, tuple[str, ...]]  # derived fact -> rulesets that consume it
    handles: dict[str, int] = field(default_factory=dict)  # ruleset -> handle in the native core
    actions: dict[int, dict[str, Action]] = field(default_factory=dict)  # handle -> rule name -> action


class DurableEngine:
    """The durable-rules adapter. One per process; every call is serialised by one lock."""

    def __init__(self) -> None:
        """Import durable-rules' native core (no ``Host``: no threads, nothing runs off the caller's thread)."""
        from durable import engine as durable_engine  # the only import of durable in the package

        self._native = durable_engine.durable_rules_engine  # the C core the Python host wraps
        self._lock = threading.Lock()
        self._packs: dict[tuple[CompiledRule, ...], _CompiledPack] = {}
        self._last: tuple[Sequence[CompiledRule] | None, _CompiledPack | None] = (None, None)
        self._cache_as: tuple[Sequence[CompiledRule] | None, str] = (None, "")  # see cache_as
        self._counter = itertools.count(1)
        self._sids = itertools.count(1)
        self._ctx: _Context | None = None
        self._version = _version("durable-rules")

    @property
    def name(self) -> str:
        """``durable-rules`` plus its version."""
        return f"durable-rules {self._version}"

    def cache_as(self, rules: tuple[CompiledRule, ...], key: str) -> None:
        """Keep what compiling ``rules`` costs in Python in the content-hash cache, under ``key``.

        ``key`` must identify the rules' content (the rule pack's hash). Compiling these very
        rules (the same tuple) then reads the codec and the JSON definitions of the rulesets back
        from :mod:`cmcadvisor.cache` instead of building them; only the native core's
        ``create_ruleset`` calls remain. One pack is remembered: the last one named.
        """
        self._cache_as = (rules, key)

    def _compile(self, rules: Sequence[CompiledRule]) -> _CompiledPack:
        if isinstance(rules, tuple) and rules is self._last[0] and self._last[1] is not None:  # same immutable pack: skip hashing
            return self._last[1]
        key = tuple(rules)
        pack = self._packs.get(key)
        if pack is not None:
            self._last = (rules, pack)
        if pack is not None:
            return pack
        ordered = sorted(rules, key=lambda r: r.id)
        chunks = [ordered[i : i + RULES_PER_RULESET] for i in range(0, len(ordered), RULES_PER_RULESET)] or [[]]
        pack_no = next(self._counter)
        names = tuple(f"cmc{pack_no}_{index}" for index in range(len(chunks)))
        consumers: dict[str, set[str]] = {}
        rows: dict[str, set[str]] = {}
        for name, chunk in zip(names, chunks, strict=True):
            for rule in chunk:
                for derived in rule.shape.derived:
                    consumers.setdefault(derived, set()).add(name)
                if rule.shape.collection:
                    rows.setdefault(rule.shape.collection, set()).add(name)
        codec, definitions = ruleset_definitions(chunks, self._cache_as[1] if rules is self._cache_as[0] else None)
        compiled = _CompiledPack(
            codec=codec,
            rulesets=names,
            row_rulesets={k: tuple(sorted(v)) for k, v in sorted(rows.items())},
            consumers={k: tuple(sorted(v)) for k, v in sorted(consumers.items())},
        )
        lean: dict[str, dict[str, Action]] = {}
        for name, chunk in zip(names, chunks, strict=True):
            actions: dict[str, Action] = {_SENTINEL: _noop}
            for rule in chunk:
                actions[rule.id] = self._make_action(rule, compiled)
            lean[name] = actions
        try:
            for name, definition in zip(names, definitions, strict=True):  # what Host.set_rulesets does, with our own JSON text
                handle = self._native.create_ruleset(name, definition)
                compiled.handles[name] = handle
                compiled.actions[handle] = lean[name]
        except Exception as exc:  # noqa: BLE001 - the C core raises bare Exceptions
            raise NativeEngineError(f"durable-rules refused the compiled rule pack: {exc}") from exc
        self._packs[key] = compiled
        self._last = (rules, compiled)
        return compiled

    def _make_action(self, rule: CompiledRule, pack: _CompiledPack) -> Action:
        rows = rule.shape.collection is not None

        def action(text: str) -> None:
            ctx = self._ctx
            if ctx is None:  # pragma: no cover - actions only run inside run()
                return
            try:
                item = None
                if rows:  # only a row rule needs the matched fact (for its item index): parse just then
                    matched = json.loads(text)[rule.id].get("m") or {}
                    item = matched.get("idx") if matched.get("t") == "row" else None
                # durable-rules expands an $or into one alpha path per branch, so a rule whose
                # disjuncts hold together is activated once per true branch: fire it once.
                if (rule.id, item) in ctx.fired:
                    return
                ctx.fired.add((rule.id, item))
                ctx.firings.append(Firing(rule.id, rule.version, item))
                for name in rule.derives:
                    if name in ctx.derived_set:
                        continue
                    ctx.derived_set.add(name)
                    ctx.derived.append(name)
                    text = json.dumps({"sid": ctx.sid, "t": "derived", "name": name})
                    for target in pack.consumers.get(name, ()):
                        self._assert(pack.handles[target], text, pack, ctx)
            except EngineError:
                raise
            except BaseException as exc:  # noqa: BLE001 - surfaced after the assert returns
                ctx.errors.append(f"{rule.id}: {type(exc).__name__}: {exc}")

        return action

    def _assert(self, handle: int, text: str, pack: _CompiledPack, ctx: _Context) -> None:
        """Assert one fact (JSON text) into a ruleset and run the actions it activates.

        The same sequence of calls into the native core as durable-rules' Python host makes
        (``assert_fact``, ``start_action_for_state``, then ``update_state`` and
        ``complete_and_start_action`` after each action), without its per-action closures,
        timers, clock reads and JSON round trips of the state.
        """
        native = self._native
        try:
            code, state_handle = native.assert_fact(handle, text)
        except Exception as exc:  # noqa: BLE001 - the C core raises bare Exceptions
            raise NativeEngineError(f"durable-rules failed: {exc}") from exc
        if code in (1, 2):  # not handled by any rule / already observed: nothing to run
            return
        if code == 3:  # as the host does: no state to act on yet
            state_handle = 0
        actions = pack.actions[handle]
        try:
            started = native.start_action_for_state(handle, state_handle)
            if not started:
                return
            state_text, message_text = started
            while True:
                actions[_activated(message_text, actions)](message_text)
                native.update_state(handle, state_text)
                message_text = native.complete_and_start_action(handle, state_handle)
                if not message_text:
                    break
        except Exception as exc:  # noqa: BLE001 - the C core raises bare Exceptions
            with contextlib.suppress(Exception):  # as the host does: release the action in flight
                native.abandon_action(handle, state_handle)
            if isinstance(exc, EngineError):
                raise
            raise NativeEngineError(f"durable-rules failed while running actions: {exc}") from exc
        if ctx.errors:
            raise EngineError("a rule action failed: " + "; ".join(ctx.errors))

    def run(self, rules: Sequence[CompiledRule], facts: FactSet, given: Iterable[str] = ()) -> EngineRun:
        """Evaluate one program in its own sid, then delete every state it created."""
        with self._lock:
            pack = self._compile(rules)
            ctx = _Context(sid=f"s{next(self._sids)}")
            self._ctx = ctx
            started: list[int] = []
            base = program_fact(facts)
            if len(base) + 8 > MAX_FACT_PROPERTIES:
                raise NativeEngineError(f"a program fact has {len(base)} properties; durable-rules allows {MAX_FACT_PROPERTIES}")
            handles = pack.handles
            try:
                init = json.dumps({"sid": ctx.sid, "t": "init"})
                for ruleset in pack.rulesets:  # the sentinel runs first in every state
                    handle = handles[ruleset]
                    self._assert(handle, init, pack, ctx)
                    started.append(handle)
                for name in dict.fromkeys(given):
                    if name in ctx.derived_set:
                        continue
                    ctx.derived_set.add(name)
                    text = json.dumps({"sid": ctx.sid, "t": "derived", "name": name})
                    for target in pack.consumers.get(name, ()):
                        self._assert(handles[target], text, pack, ctx)
                # One JSON text per fact, asserted into every ruleset that needs it.
                dump = pack.codec.fact
                program = dump({**base, "sid": ctx.sid, "t": "program"})
                for ruleset in pack.rulesets:
                    self._assert(handles[ruleset], program, pack, ctx)
                for collection, targets in pack.row_rulesets.items():
                    for index, item in enumerate(facts.collections.get(collection, ())):
                        row = {**base, **{f"item__{k}": v for k, v in item.items()}}
                        row.update({"sid": ctx.sid, "t": "row", "coll": collection, "idx": index})
                        text = dump(row)
                        for target in targets:
                            self._assert(handles[target], text, pack, ctx)
                return EngineRun(list(ctx.firings), list(ctx.derived))
            finally:
                self._ctx = None
                for handle in started:
                    try:
                        self._native.delete_state(handle, ctx.sid)
                    except Exception:  # noqa: BLE001, S110 - a failed cleanup must not hide the result
                        pass


def compile_problems(rules: Sequence[CompiledRule]) -> list[tuple[str, str]]:
    """Rules durable-rules refuses to compile (e.g. error 113, too many nested expressions).

    Each rule is compiled alone in a throwaway host, so one bad rule is named precisely.
    """
    engine = DurableEngine()
    problems: list[tuple[str, str]] = []
    empty = FactSet()
    for rule in rules:
        try:
            engine.run((rule,), empty)
        except EngineError as exc:
            problems.append((rule.id, str(exc)))
    return problems


def _activated(text: str, actions: dict[str, Action]) -> str:
    """The rule an activation is for: the first key of ``{"<rule>": {...}}``.

    Read without parsing the whole matched fact (rule names carry no quotes or escapes); the
    text is parsed in full only when it looks otherwise.
    """
    if text.startswith('{"'):
        name = text[2 : text.find('"', 2)]
        if name in actions:
            return name
    return str(next(iter(json.loads(text))))


def _noop(_: Any) -> None:
    """The sentinel rule's action: nothing, but it makes the state run an action."""


class AutoEngine:
    """durable-rules, with the Python engine for a program durable-rules fails on for an engine reason.

    Only a :class:`NativeEngineError` (a native error code, a limit of durable-rules) falls back;
    a failing rule action is a defect and still raises. The fallback run names the engine that
    ran and why (``EngineRun.engine``, recorded as ``audit.engine``).
    """

    def __init__(self, durable: DurableEngine, python: PythonEngine) -> None:
        """Wrap the process's two engines."""
        self.durable = durable
        self.python = python

    @property
    def name(self) -> str:
        """durable-rules' name: the engine that runs unless a program makes it fail."""
        return self.durable.name

    def run(self, rules: Sequence[CompiledRule], facts: FactSet, given: Iterable[str] = ()) -> EngineRun:
        """Evaluate with durable-rules, or with the Python engine if durable-rules fails natively."""
        try:
            return self.durable.run(rules, facts, given)
        except NativeEngineError as exc:
            run = self.python.run(rules, facts, given)
            why = f"{self.python.name} (auto: {self.durable.name} failed on this program: {exc})"
            return EngineRun(run.firings, run.derived, engine=why)


def cache_compiled(engine: Engine, rules: tuple[CompiledRule, ...], key: str) -> None:
    """Let ``engine`` keep its compiled form of ``rules`` (a rule pack's, hashing to ``key``) in the cache.

    Only durable-rules (alone or under ``auto``) compiles anything worth keeping; see
    :meth:`DurableEngine.cache_as`.
    """
    durable = engine.durable if isinstance(engine, AutoEngine) else engine
    if isinstance(durable, DurableEngine):
        durable.cache_as(rules, key)


_ENGINES: dict[str, Engine] = {}


def get_engine(preferred: str = "auto") -> Engine:
    """The engine to use: ``durable``, ``python``, or ``auto`` (the default).

    ``auto`` is durable-rules with the Python engine for any program durable-rules fails on
    (:class:`AutoEngine`), or the Python engine alone where durable-rules cannot be imported.
    """
    python = _ENGINES.setdefault("python", PythonEngine())
    if preferred == "python":
        return python
    if "durable" not in _ENGINES:
        try:
            _ENGINES["durable"] = DurableEngine()
        except ImportError:
            if preferred == "durable":
                raise EngineError("durable-rules is not installed or cannot be imported on this Python") from None
            return python
    durable = _ENGINES["durable"]
    if preferred == "durable":
        return durable
    assert isinstance(durable, DurableEngine) and isinstance(python, PythonEngine)
    return _ENGINES.setdefault("auto", AutoEngine(durable, python))
