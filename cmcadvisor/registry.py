"""The rule pack: every rule file loaded, validated, indexed and hashed.

Reads ``rules/<area>/<ID>.yaml`` (and an organisation's ``--rules-dir`` packs), validates each
against :class:`~cmcadvisor.models.rule.RuleSpec`, rejects duplicate ids and aliases naming
both files, and compiles each rule's condition into the engine-neutral shape. A pack whose
files hash the same as one loaded before is read back, already validated and compiled, from
the content-hash cache (:mod:`cmcadvisor.cache`). It must not evaluate rules or check
references into the knowledge base (that is :func:`cmcadvisor.api.check_references` and
:mod:`rulelint`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cmcadvisor import __version__, cache
from cmcadvisor.conditions import ITEM_MARK, CompiledRule, literals, required_members, shape_of
from cmcadvisor.errors import ErrorItem, RuleFileError, UserInputError
from cmcadvisor.loader import data_dir, files_under, load_document, sha256_files
from cmcadvisor.models.rule import RuleSpec
from cmcadvisor.validation import validate_document


@dataclass(frozen=True)
class LoadedRule:
    """A validated rule, where it came from, and its compiled form (``id`` mirrors the spec's)."""

    spec: RuleSpec
    source: str
    compiled: CompiledRule
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", self.spec.id)


@dataclass(frozen=True)
class RulePack:
    """All rules of one run, sorted by id, with a content hash."""

    rules: tuple[LoadedRule, ...]
    sha256: str
    roots: tuple[str, ...]
    by_id: dict[str, LoadedRule] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def active(self) -> tuple[LoadedRule, ...]:
        """Rules with status ``active``: the ones evaluated."""
        return tuple(rule for rule in self.rules if rule.spec.status == "active")

    @functools.cached_property
    def _compiled_active(self) -> tuple[CompiledRule, ...]:
        return tuple(rule.compiled for rule in self.active)

    @functools.cached_property
    def pathway_rules(self) -> dict[str, tuple[LoadedRule, ...]]:
        """Active pathway rules by pathway id."""
        found: dict[str, list[LoadedRule]] = {}
        for rule in self.active:
            if rule.spec.then.pathway is not None:
                found.setdefault(rule.spec.then.pathway.id, []).append(rule)
        return {key: tuple(value) for key, value in found.items()}

    @functools.cached_property
    def region_gates(self) -> dict[str, frozenset[str]]:
        """Active rules that hold only for programs aimed at certain regions, by id: those regions.

        A rule whose condition requires ``program.regions`` to contain ``eu`` speaks of the EU
        (its finding is no question for FDA or PMDA); a rule with no such test speaks of none in
        particular and is left out.
        """
        found = {rule.id: required_members(rule.compiled.shape, "program.regions") for rule in self.active}
        return {rule_id: regions for rule_id, regions in found.items() if regions}

    @functools.cached_property
    def scalar_facts(self) -> dict[str, tuple[str, ...] | None]:
        """By active rule id, the facts it tests when none is an item fact (else None), sorted.

        The audit names a firing's facts from these (``outcomes.matched_facts`` gives the present
        ones among them, in this order) without working them out for every firing.
        """
        return {
            rule.id: None if any(ITEM_MARK in name for name in rule.compiled.shape.facts) else rule.compiled.shape.facts
            for rule in self.active
        }

    @functools.cached_property
    def derivers(self) -> dict[str, tuple[str, ...]]:
        """Active rule ids by the derived fact they derive."""
        found: dict[str, list[str]] = {}
        for rule in self.active:
            for name in rule.compiled.derives:
                found.setdefault(name, []).append(rule.id)
        return {key: tuple(value) for key, value in found.items()}

    @functools.cached_property
    def settles(self) -> tuple[tuple[str, str, bool], ...]:
        """Per active rule: its id, what settling it decides, and whether it tests derived facts.

        Settling a pathway rule decides its pathway; any other rule decides itself. Only a rule
        that tests derived facts can be kept open by a derived fact.
        """
        return tuple(
            (
                rule.id,
                rule.spec.then.pathway.id if rule.spec.then.pathway else rule.id,
                bool(rule.compiled.shape.derived)
                or any(lit.derived for lit in (literals(rule.compiled.shape.body) if rule.compiled.shape.body else ())),
            )
            for rule in self.active
        )

    def compiled_active(self) -> tuple[CompiledRule, ...]:
        """The compiled active rules, in id order."""
        return self._compiled_active

    def resolve(self, rule_id: str) -> LoadedRule | None:
        """A rule by id or by one of its aliases."""
        return self.by_id.get(rule_id) or self.by_id.get(self.aliases.get(rule_id, ""))


def compile_spec(spec: RuleSpec) -> CompiledRule:
    """The engine-neutral compiled form of a rule."""
    return CompiledRule(spec.id, spec.version, shape_of(spec.when), tuple(spec.then.derive))


def _cache_key(digest: str) -> str:
    return f"rules-{__version__}-{digest[:32]}"


def _from_cache(digest: str, display: Callable[[str], str]) -> list[LoadedRule] | None:
    """Rules of a pack read back from the cache, as validated and compiled when it was written, or None."""
    entries = cache.read(_cache_key(digest))
    if not isinstance(entries, list):
        return None
    try:
        return [LoadedRule(spec, display(path), compiled) for path, spec, compiled in entries]
    except (TypeError, ValueError):  # not the shape written below: rebuild
        return None


def _to_cache(digest: str, root: Path, paths: Sequence[Path], rules: Sequence[LoadedRule]) -> None:
    """Cache a pack's validated rules (each with its path inside the pack and its compiled form)."""
    entries = [(path.relative_to(root).as_posix(), rule.spec, rule.compiled) for path, rule in zip(paths, rules, strict=True)]
    cache.write(_cache_key(digest), entries)


def load_rule_file(path: Path, display: str) -> LoadedRule:
    """Read and validate one rule file."""
    try:
        doc = load_document(path, display=display)
    except UserInputError as exc:
        raise RuleFileError(exc.items) from None
    spec = validate_document(doc, RuleSpec, RuleFileError)
    return LoadedRule(spec, display, compile_spec(spec))


def load_rulepack(extra_dirs: Sequence[Path] = (), *, builtin: bool = True) -> RulePack:
    """Load the built-in rules and any extra packs; every problem of every file is reported."""
    roots: list[Path] = ([data_dir("rules")] if builtin else []) + [Path(d) for d in extra_dirs]
    loaded: list[LoadedRule] = []
    problems: list[ErrorItem] = []
    hashes: list[str] = []
    for index, root in enumerate(roots):
        shipped = builtin and index == 0
        if not root.is_dir():
            raise RuleFileError.single(str(root), "rules directory not found")
        try:
            paths = files_under(root, "*.yaml")
        except UserInputError as exc:
            raise RuleFileError(exc.items) from None
        paths = [p for p in paths if not p.name.endswith(".cases.yaml")]
        digest = sha256_files(root, paths)
        hashes.append(digest)

        def display(relative: str, root: Path = root, shipped: bool = shipped) -> str:
            return f"rules/{relative}" if shipped else str(root / relative)

        cached = _from_cache(digest, display)
        if cached is not None:
            loaded.extend(cached)
            continue
        fresh: list[LoadedRule] = []
        for path in paths:
            try:
                fresh.append(load_rule_file(path, display(path.relative_to(root).as_posix())))
            except UserInputError as exc:
                problems.extend(exc.items)
        loaded.extend(fresh)
        if not problems:
            _to_cache(digest, root, paths, fresh)
    by_id: dict[str, LoadedRule] = {}
    aliases: dict[str, str] = {}
    for rule in loaded:
        if rule.id in by_id:
            problems.append(ErrorItem(rule.source, None, "id", f"duplicate rule id {rule.id} (also in {by_id[rule.id].source})"))
            continue
        by_id[rule.id] = rule
    for rule in loaded:
        for alias in rule.spec.aliases:
            if alias in by_id or alias in aliases:
                problems.append(ErrorItem(rule.source, None, "aliases", f"alias {alias} is already an id or alias"))
            aliases[alias] = rule.id
    if problems:
        raise RuleFileError(problems)
    digest = hashes[0] if len(hashes) == 1 else hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    ordered = tuple(sorted(by_id.values(), key=lambda r: r.id))
    return RulePack(ordered, digest, tuple(str(r) for r in roots), dict(sorted(by_id.items())), aliases)
