"""The make-or-buy recommendation: a transparent score over the seven considerations.

Each ``kind: factor`` rule that fires votes for in-house or CDMO on one consideration with a
strength of 1 to 3. A factor's net vote (capped at ``vote_cap`` either way, scaled to -1..+1)
times its weight from ``knowledge/make_or_buy.yaml`` adds up to the score; the thresholds and
confidence bands of that file turn the score into a recommendation and its confidence (the
arithmetic of that policy lives with the knowledge loader, which checks the file's examples). ``would_flip_if`` is found by
re-evaluating the factor rules (and the rules they chain on) with one fact changed at a time, at
the boundaries the factor rules themselves test: it is computed, never written by hand. The
what-ifs run on the pure-Python evaluator, the engine's tested oracle, because dozens of them
per program would cost far more on durable-rules; each re-evaluates only the rules the changed
fact can move, on the facts they read, and its firings are memoised per rule pack (bounded:
programs share most of those values). The recommendation itself uses the engine's firings. A
consideration no rule votes on is neutral when some of the facts it rests on (``evidence`` in the
knowledge file) are given, and unknown only when none are. Each factor keeps its score, its
contribution (weight x score), the rules that voted and the facts it was judged on, so renderers
can show what each consideration added and why. This module formats no prose beyond the rules' own
messages and a fixed sentence for a factor no rule voted on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Literal

from cmcadvisor.conditions import And, CompiledRule, Lit, literals
from cmcadvisor.facts import (
    COMPUTED,
    COMPUTED_SCALARS,
    FactSet,
    Item,
    Value,
    as_user_change,
    compute_scalars,
    dependents,
    vocabulary,
)
from cmcadvisor.knowledge import KnowledgeBase, capped_vote, confidence_band, factor_score, recommend
from cmcadvisor.memo import remember
from cmcadvisor.models.knowledge import ConfidenceBand, MakeOrBuyConfig
from cmcadvisor.models.result import MakeOrBuy, MakeOrBuyFactor, MakeOrBuyFlip
from cmcadvisor.models.rule import MAKE_OR_BUY_FACTORS
from cmcadvisor.reference_eval import Truth, Verdict, run_fixpoint, test_literal
from cmcadvisor.registry import LoadedRule, RulePack

MAX_FLIPS = 12
# What the product is cannot be changed to move a make-or-buy decision: a modality fact the
# program gives is never offered as a flip (an AAV program is never told "if it were autologous").
FIXED_FACTS = frozenset(
    {
        "product.cell_source",
        "product.cell_type",
        "product.engineered_receptor",
        "product.genetic_modification",
        "product.delivery",
        "product.vector",
        "product.editing",
        "product.tissue_engineered",
        "product.replication_competent",
    }
)


@dataclass(frozen=True)
class _Score:
    recommendation: str
    confidence: str
    factors: list[MakeOrBuyFactor]
    score: float
    known: int


def _factor_rules(pack: RulePack) -> list[LoadedRule]:
    return [rule for rule in pack.active if rule.spec.then.make_or_buy is not None]


def _dependencies(pack: RulePack, rules: Sequence[LoadedRule]) -> tuple[CompiledRule, ...]:
    """The factor rules plus every rule that derives a fact they need, transitively."""
    chosen = {rule.id: rule for rule in rules}
    needed = {name for rule in rules for name in rule.compiled.shape.derived}
    while needed:
        name = needed.pop()
        for rule in pack.active:
            if name in rule.compiled.derives and rule.id not in chosen:
                chosen[rule.id] = rule
                needed.update(rule.compiled.shape.derived)
    return tuple(chosen[key].compiled for key in sorted(chosen))


def judged_band(mob: MakeOrBuy, config: MakeOrBuyConfig) -> tuple[int, ConfidenceBand | None]:
    """How many considerations a recommendation judged, and the confidence band it meets (None: low confidence)."""
    known = sum(1 for f in mob.factors if f.favours != "unknown")
    return known, confidence_band(mob.score, known, mob.recommendation, config)


def rules_by_factor(pack: RulePack) -> dict[str, list[LoadedRule]]:
    """The active rules that vote on each make-or-buy consideration (every consideration a key), in id order."""
    groups: dict[str, list[LoadedRule]] = {factor: [] for factor in MAKE_OR_BUY_FACTORS}
    for rule in _factor_rules(pack):
        vote = rule.spec.then.make_or_buy
        assert vote is not None
        groups[vote.factor].append(rule)
    return groups


def _score(
    plan: _Plan,
    kb: KnowledgeBase,
    fired: set[str],
    verdicts: Mapping[str, Verdict] | None,
    message: Callable[[LoadedRule], str],
    facts: FactSet | None = None,
) -> _Score:
    config = kb.make_or_buy
    scalars: Mapping[str, Value] = facts.scalars if facts is not None else {}
    vocab = vocabulary()
    factors: list[MakeOrBuyFactor] = []
    score = 0.0
    known = 0
    for index, factor in enumerate(MAKE_OR_BUY_FACTORS):
        signed, evidence = plan.votes[index][1], plan.evidence[index]
        mine = plan.groups[factor]
        voting = [r for r in mine if r.id in fired]
        raw = sum(strength for rule_id, strength in signed if rule_id in fired)
        net = capped_vote(raw, config)
        waiting = [
            verdicts[r.id] for r in mine if verdicts is not None and r.id in verdicts and verdicts[r.id].truth == Truth.UNKNOWN
        ]
        basis = [*evidence, *(name for rule in voting for name in plan.rule_facts[rule.id])]
        given = {name: scalars[name] for name in basis if name in scalars and name in vocab}
        missing = sorted({name for verdict in waiting for name in verdict.missing if name in vocab})
        if voting:
            known += 1
            favours = "in_house" if net > 0 else "cdmo" if net < 0 else "neutral"
            reason = " ".join(message(r) for r in voting)
        elif not mine or (waiting and not given):  # judged only when facts the consideration rests on are given
            favours = "unknown"
            reason = (
                "Not enough facts to judge this consideration yet." if mine else "No rule in the pack weighs this consideration."
            )
        else:
            known += 1
            favours = "neutral"
            reason = (
                "The facts given on this consideration point neither way; the facts still missing could move it."
                if waiting
                else "The facts given point neither way on this consideration."
            )
        term = plan.terms[index][raw]
        score += term.part
        factors.append(
            MakeOrBuyFactor(
                id=factor,
                favours=favours,
                weight=plan.shown_weights[index],
                reason=reason,
                score=term.shown_score,
                contribution=term.shown_part,
                rules=sorted(r.id for r in voting),
                facts=dict(sorted(given.items())),
                missing=missing,
            )
        )
    recommendation = recommend(score, known, config)
    band = confidence_band(score, known, recommendation, config)
    return _Score(recommendation, band.confidence if band else "low", factors, round(score, 4), known)


def _votes(groups: Mapping[str, list[LoadedRule]], kb: KnowledgeBase) -> list[tuple[float, list[tuple[str, int]]]]:
    """Per factor: its normalised weight and its rules' signed votes (for fast what-ifs)."""
    weights = {str(k): v for k, v in kb.make_or_buy.weights.items()}
    total = sum(weights.get(f, 0.0) for f in MAKE_OR_BUY_FACTORS) or 1.0
    table = []
    for factor in MAKE_OR_BUY_FACTORS:
        signed = []
        for rule in groups[factor]:
            vote = rule.spec.then.make_or_buy
            assert vote is not None
            signed.append((rule.id, vote.strength if vote.favours == "in_house" else -vote.strength))
        table.append((weights.get(factor, 0.0) / total, signed))
    return table


def _recommend(votes: list[tuple[float, list[tuple[str, int]]]], kb: KnowledgeBase, fired: set[str]) -> str:
    """The recommendation alone, by the same arithmetic as :func:`_score` (the reference for :func:`_flipped`)."""
    score, known = 0.0, 0
    for weight, signed in votes:
        net = sum(strength for rule_id, strength in signed if rule_id in fired)
        if signed:  # as in _score without verdicts: a factor with rules is known, voting or neutral
            known += 1
        score += weight * factor_score(net, kb.make_or_buy)
    return recommend(score, known, kb.make_or_buy)


@dataclass(frozen=True)
class _Term:
    """One factor's term of the score for one net vote: weight x score, and the rounded figures shown."""

    part: float  # weight * factor_score(net), the term _recommend and _score add up
    shown_score: float  # round(factor_score(net), 4)
    shown_part: float  # round(part, 4)


def _terms(votes: Sequence[tuple[float, Sequence[tuple[str, int]]]], config: MakeOrBuyConfig) -> tuple[dict[int, _Term], ...]:
    """Per factor, its term for every net vote its rules can give (the same arithmetic, done once per pack)."""
    out = []
    for weight, signed in votes:
        reach = sum(abs(strength) for _, strength in signed)
        table = {}
        for net in range(-reach, reach + 1):
            part = weight * factor_score(net, config)
            table[net] = _Term(part, round(factor_score(net, config), 4), round(part, 4))
        out.append(table)
    return tuple(out)


def _parts(plan: _Plan, fired: AbstractSet[str]) -> list[float]:
    """Per factor, weight x score for the rules in ``fired``: the terms :func:`_recommend` adds up."""
    return [
        plan.terms[index][sum(s for rule_id, s in signed if rule_id in fired)].part
        for index, (_, signed) in enumerate(plan.votes)
    ]


def _flipped(plan: _Plan, config: MakeOrBuyConfig, base_parts: Sequence[float], fact: str, fired: AbstractSet[str]) -> str:
    """What :func:`_recommend` gives for ``fired`` after a what-if on ``fact``, recomputing only the factors it can move.

    A factor none of whose rules is affected by ``fact`` keeps its base part exactly; the parts
    are then added in factor order from 0.0, as :func:`_recommend` adds them, so the score (and the
    recommendation) is the same float, not merely a close one.
    """
    parts = list(base_parts)
    for index in plan.touched.get(fact, ()):
        parts[index] = plan.terms[index][sum(s for rule_id, s in plan.votes[index][1] if rule_id in fired)].part
    score = 0.0
    for part in parts:
        score += part
    return recommend(score, plan.known, config)


@dataclass(frozen=True)
class _FactProbe:
    """The literals the factor rules test on one fact, and the values worth trying on it."""

    lits: tuple[Lit, ...]
    values: tuple[Value, ...]  # the boundaries of those literals (every value of a bool or enum)
    marks: tuple[tuple[bool | None, ...], ...]  # per value, how each literal comes out
    # (value, mark) pairs in the order tried when the current value is not a number (by text)
    by_text: tuple[tuple[Value, tuple[bool | None, ...]], ...] = ()
    known: Mapping[tuple[type, Value], tuple[bool | None, ...]] = field(default_factory=dict)  # marks by (type, value)
    # tries by the current value and its type: programs share most values, and a probe lives as
    # long as its plan (bounded by _MAX_TRIES)
    memo: dict[tuple[type, Value | None], tuple[Value, ...]] = field(default_factory=dict, compare=False, repr=False)

    def signature(self, value: object) -> tuple[bool | None, ...]:
        """How each literal comes out for a value (None throughout when the fact is absent)."""
        if value is not None:
            found = self.known.get((type(value), value))  # type: ignore[arg-type]
            if found is not None:  # one of the probe's own values: its mark, already made
                return found
        return _signature(self.lits, value)

    def tries(self, current: Value | None) -> tuple[Value, ...]:
        """The values worth trying when the program gives ``current`` (None: not given), nearest first (see _candidates)."""
        key = (type(current), current)  # with the type, so 1 is never True (nor 1.0)
        found = self.memo.get(key)
        if found is None:
            found = remember(self.memo, key, self._tries(current), _MAX_TRIES)
        return found

    def _tries(self, current: Value | None) -> tuple[Value, ...]:
        pairs: Sequence[tuple[Value, tuple[bool | None, ...]]] = self.by_text  # a value that is not a number: by text
        if isinstance(current, int | float) and not isinstance(current, bool):

            def distance(pair: tuple[Value, object], current: float = float(current)) -> tuple[float, str]:
                value = pair[0]
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return (abs(float(value) - current), str(value))
                return (0.0, str(value))

            pairs = sorted(zip(self.values, self.marks, strict=True), key=distance)
        out: list[Value] = []
        seen = {self.signature(current)}
        for value, mark in pairs:
            if value == current:
                continue
            if mark not in seen:
                seen.add(mark)
                out.append(value)
        return tuple(out)


_MAX_TRIES = 1024  # per fact, the current values whose tries are kept


def _signature(lits: Sequence[Lit], value: object) -> tuple[bool | None, ...]:
    if value is None:
        return tuple(None for _ in lits)
    return tuple(test_literal(lit, value) for lit in lits)  # type: ignore[arg-type]


def _probes(rules: Sequence[LoadedRule]) -> dict[str, _FactProbe]:
    """Per program fact that a factor rule tests, the candidate values (independent of programs)."""
    vocab = vocabulary()
    lits: list[Lit] = [lit for rule in rules if rule.compiled.shape.body for lit in literals(rule.compiled.shape.body)]
    by_fact: dict[str, list[Lit]] = {}
    for lit in lits:
        if not (lit.collection or lit.derived) and lit.fact in vocab:
            by_fact.setdefault(lit.fact, []).append(lit)
    probes: dict[str, _FactProbe] = {}
    for fact in sorted(by_fact):
        info = vocab[fact]
        values: set[Value] = set()
        for lit in by_fact[fact]:
            if info.type == "bool":
                values.update((True, False))
            elif info.type == "enum":
                values.update(info.allowed)
            elif info.type in ("int", "float") and isinstance(lit.value, int | float) and not isinstance(lit.value, bool):
                whole = isinstance(lit.value, int) or float(lit.value).is_integer()
                step: float = 1 if whole else max(abs(float(lit.value)) * 0.01, 0.001)
                near = [v for v in (lit.value - step, lit.value, lit.value + step) if v >= 0]
                values.update(int(v) for v in near) if whole else values.update(near)
        ordered = tuple(sorted(values, key=lambda v: (type(v).__name__, v)))
        marks = tuple(_signature(by_fact[fact], v) for v in ordered)
        by_text = tuple(sorted(zip(ordered, marks, strict=True), key=lambda pair: str(pair[0])))
        known = {(type(v), v): mark for v, mark in zip(ordered, marks, strict=True)}
        probes[fact] = _FactProbe(tuple(by_fact[fact]), ordered, marks, by_text, known)
    return probes


def _candidates(probes: Mapping[str, _FactProbe], facts: FactSet) -> list[tuple[str, Value]]:
    """Single-fact changes worth trying: the boundaries the factor rules test.

    A change that leaves every literal on its fact as it is cannot move the score, and of
    several changes with the same effect on those literals only the smallest is kept. Each
    fact's changes come nearest to its current value first (numbers by distance, ties and
    other values by their text).
    """
    out: list[tuple[str, Value]] = []
    for fact, probe in probes.items():
        current = facts.scalars.get(fact)
        if current is not None and fact in FIXED_FACTS:
            continue
        out.extend((fact, value) for value in probe.tries(current))
    return out


def _could_flip(plan: _Plan, kb: KnowledgeBase, parts: Sequence[float], base: str) -> Callable[[str], bool]:
    """Whether changing a fact can give a recommendation other than ``base`` (else skip its what-ifs).

    A change moves only the factors its rules vote in, each by at most its weight either way, so
    the score stays within the current score minus those factors' parts, plus or minus their
    weights. When that whole range gives ``base``, no value of the fact can flip it. Sound, not
    exact: a range that crosses a threshold is tried value by value.
    """
    thresholds = kb.make_or_buy.thresholds
    if plan.known < thresholds.min_known_factors:
        return lambda fact: False  # every what-if would be undetermined, which never counts as a flip
    if base not in ("in_house", "cdmo", "hybrid"):
        return lambda fact: False  # too few facts to recommend: the questions, not a what-if, say what is missing
    total, decide, margin = sum(parts), thresholds.decide, 1e-9

    def could(fact: str) -> bool:
        moved = plan.touched.get(fact, ())
        rest = total - sum(parts[index] for index in moved)
        reach = sum(plan.votes[index][0] for index in moved)
        low, high = rest - reach, rest + reach
        if base == "in_house":
            return not low > decide + margin
        if base == "cdmo":
            return not high < -decide - margin
        return not (low >= -decide + margin and high <= decide - margin)

    return could


def _relation(value: Value, current: Value | tuple[str, ...] | None) -> Literal["=", ">=", "<="]:
    """How a what-if value relates to the current one (as :func:`_describe` writes it)."""
    if isinstance(value, bool | str) or isinstance(current, bool) or not isinstance(current, int | float):
        return "="
    return ">=" if value > current else "<="


def _describe(fact: str, value: Value, current: Value | tuple[str, ...] | None) -> str:
    if isinstance(value, bool | str):
        shown = ("true" if value else "false") if isinstance(value, bool) else value
        return f"{fact} = {shown}"
    number = str(int(value)) if float(value).is_integer() else f"{value:.4g}"
    if isinstance(current, int | float) and not isinstance(current, bool):
        return f"{fact} {'>=' if value > current else '<='} {number}"
    return f"{fact} = {number}"


@dataclass(frozen=True)
class _Plan:
    """What the what-if search needs of a rule pack, built once per pack and knowledge base."""

    groups: dict[str, list[LoadedRule]]
    votes: list[tuple[float, list[tuple[str, int]]]]
    sub_pack: tuple[CompiledRule, ...]
    probes: dict[str, _FactProbe]
    # per fact: the rules that test it and those chained on what they derive (the only ones a
    # change of that fact can move), in id order, and their ids
    affected: dict[str, tuple[tuple[CompiledRule, ...], frozenset[str]]]
    touched: dict[str, tuple[int, ...]]  # per fact: the factors (indexes into votes) it can move
    known: int  # the factors with rules: what _recommend counts as judged
    evidence: tuple[tuple[str, ...], ...]  # per factor, in factor order: the facts it rests on (knowledge file)
    rule_facts: dict[str, tuple[str, ...]]  # per factor rule: the facts it tests, sorted
    dependents: dict[str, tuple[str, ...]]  # per fact a what-if can change: itself and the facts computed from it
    # per fact a what-if can change: the program facts its affected rules test (all they read of
    # the scalar and list facts, so a what-if evaluates them on these alone)
    reads: dict[str, tuple[str, ...]]
    terms: tuple[dict[int, _Term], ...]  # per factor (in factor order): its term by net vote
    shown_weights: tuple[float, ...]  # per factor: its weight rounded as the output shows it
    # per fact whose affected rules test no collection: the derived facts those rules wait on
    # (with the facts they read, all a what-if's firings depend on); other facts are not listed
    waits: dict[str, frozenset[str]]
    # What-if firings already found (see _fired): programs share most of the values the affected
    # rules read. Bounded; a plan lives as long as its pack and knowledge base.
    fired: dict[tuple[object, ...], frozenset[str]] = field(default_factory=dict, compare=False, repr=False)


_MAX_WHAT_IFS = 8192  # what-if firings kept per plan


_PLANS: dict[tuple[str, str, int], _Plan] = {}


def _affected(sub_pack: Sequence[CompiledRule]) -> dict[str, tuple[tuple[CompiledRule, ...], frozenset[str]]]:
    by_fact: dict[str, list[CompiledRule]] = {}
    consumers: dict[str, list[CompiledRule]] = {}
    sources = {info.name: info.computed_from for info in COMPUTED if info.name in COMPUTED_SCALARS}
    for rule in sub_pack:
        for name in rule.shape.facts:
            by_fact.setdefault(name, []).append(rule)
            for source in sources.get(name, ()):  # a change of the stage moves the stage index too
                by_fact.setdefault(source, []).append(rule)
        for name in rule.shape.derived:
            consumers.setdefault(name, []).append(rule)
    out: dict[str, tuple[tuple[CompiledRule, ...], frozenset[str]]] = {}
    for fact, testing in by_fact.items():
        affected = {rule.id: rule for rule in sorted(testing, key=lambda rule: rule.id)}
        frontier = list(testing)
        while frontier:
            for name in frontier.pop().derives:
                for rule in consumers.get(name, []):
                    if rule.id not in affected:
                        affected[rule.id] = rule
                        frontier.append(rule)
        out[fact] = (tuple(affected[key] for key in sorted(affected)), frozenset(affected))
    return out


def _plan(pack: RulePack, kb: KnowledgeBase) -> _Plan:
    key = (pack.sha256, kb.sha256, len(pack.active))
    plan = _PLANS.get(key)
    if plan is None:
        groups = rules_by_factor(pack)
        rules = _factor_rules(pack)
        sub_pack = _dependencies(pack, rules)
        votes = _votes(groups, kb)
        affected = _affected(sub_pack)
        touched = {
            fact: tuple(index for index, (_, signed) in enumerate(votes) if any(rule_id in ids for rule_id, _ in signed))
            for fact, (_, ids) in affected.items()
        }
        evidence = {str(k): tuple(v) for k, v in kb.make_or_buy.evidence.items()}
        plan = _Plan(
            groups,
            votes,
            sub_pack,
            _probes(rules),
            affected,
            touched,
            known=sum(1 for _, signed in votes if signed),
            evidence=tuple(evidence.get(factor, ()) for factor in MAKE_OR_BUY_FACTORS),
            rule_facts={rule.id: tuple(sorted(rule.compiled.shape.facts)) for rule in rules},
            dependents={fact: (fact, *dependents(fact)) for fact in affected},
            reads={
                fact: tuple(
                    sorted({lit.fact for rule in rules for lit in literals(rule.shape.body or And(())) if lit.item_field is None})
                )
                for fact, (rules, _) in affected.items()
            },
            terms=_terms(votes, kb.make_or_buy),
            shown_weights=tuple(round(weight, 4) for weight, _ in votes),
            waits={
                fact: frozenset(name for rule in rules for name in rule.shape.derived)
                for fact, (rules, _) in affected.items()
                if not any(rule.shape.collection for rule in rules)
            },
        )
        remember(_PLANS, key, plan, 8)  # a few packs per process at most; never grows with programs
    return plan


@dataclass(slots=True)  # not frozen: cheaper to make, a dozen per program; never changed once made
class _WhatIfs:
    """What every what-if on one fact shares, for one program."""

    fact: str
    rules: tuple[CompiledRule, ...]  # the rules a change of the fact can move (plan.affected)
    kept: frozenset[str]  # the base firings it cannot move
    given: frozenset[str]  # the facts those derive
    recompute: bool  # facts are computed from the fact (a changed stage moves its stage index)
    reads: tuple[str, ...]  # the program facts the rules read (plan.reads)
    read: dict[str, Value]  # those of them the program gives as scalars, with their values
    lists: dict[str, tuple[str, ...]]  # the list facts they read
    key: tuple[object, ...] | None  # what the firings depend on besides the scalars read (None: not memoised)


def _what_ifs(
    plan: _Plan, fact: str, facts: FactSet, base_fired: AbstractSet[str], derived: Sequence[tuple[str, tuple[str, ...]]]
) -> _WhatIfs:
    """``derived``: the base firings of the plan's rules that derive facts, with those facts."""
    rules, affected_ids = plan.affected.get(fact, ((), frozenset()))
    kept = frozenset(base_fired - affected_ids)
    given = frozenset(name for rule_id, names in derived if rule_id not in affected_ids for name in names)
    # The affected rules read no program facts but ``reads``: evaluating them on these alone
    # gives the same firings, without copying every fact of the program for each what-if.
    reads = plan.reads.get(fact, ())
    moved = plan.dependents.get(fact) or (fact, *dependents(fact))
    lists = {name: facts.lists[name] for name in reads if name in facts.lists}
    waits = plan.waits.get(fact)
    key = None if waits is None else (fact, tuple(lists.get(name) for name in reads), given & waits)
    return _WhatIfs(
        fact,
        rules,
        kept,
        given,
        len(moved) > 1,
        reads,
        {name: facts.scalars[name] for name in reads if name in facts.scalars},
        lists,
        key,
    )


def _fired(plan: _Plan, what_ifs: _WhatIfs, read: dict[str, Value], collections: dict[str, tuple[Item, ...]]) -> frozenset[str]:
    """The rules a what-if fires (``read``: the scalar facts the rules read, one changed).

    The firings of the affected rules depend on nothing but the facts they read, the derived
    facts their gates wait on and (for a collection rule) the items: with no collection rule,
    they are memoised on the first two, each value with its type (so ``1`` is never ``True``).
    """
    key = None
    if what_ifs.key is not None:
        key = (what_ifs.key, tuple((type(value), value) for value in map(read.get, what_ifs.reads)))
        found = plan.fired.get(key)
        if found is not None:
            return found
    firings, _ = run_fixpoint(what_ifs.rules, FactSet(read, what_ifs.lists, collections), what_ifs.given)
    fired = frozenset(firing.rule for firing in firings)
    if key is not None:
        remember(plan.fired, key, fired, _MAX_WHAT_IFS)
    return fired


def build_make_or_buy(
    pack: RulePack,
    kb: KnowledgeBase,
    facts: FactSet,
    fired: set[str],
    verdicts: Mapping[str, Verdict],
    message: Callable[[LoadedRule, FactSet], str],
) -> MakeOrBuy:
    """The recommendation with its factors, and the single-fact changes that would flip it."""
    plan = _plan(pack, kb)
    config = kb.make_or_buy
    base = _score(plan, kb, fired, verdicts, lambda rule: message(rule, facts), facts)
    base_fired = {rule.id for rule in plan.sub_pack if rule.id in fired}
    derived = [(rule.id, rule.derives) for rule in plan.sub_pack if rule.derives and rule.id in fired]
    base_parts = _parts(plan, fired)
    flips: dict[str, str] = {}  # per fact, the nearest change that flips the recommendation
    changes: dict[str, MakeOrBuyFlip] = {}  # the same changes, as data for renderers
    context: _WhatIfs | None = None
    could_flip = _could_flip(plan, kb, base_parts, base.recommendation)
    open_facts: dict[str, bool] = {}
    for probed, probe_value in _candidates(plan.probes, facts):
        # A fact's candidates come nearest first, so its first flip is the one to report. A probe
        # on a computed fact is tried as the program-file change behind it (stage index -> stage).
        user_change = as_user_change(probed, probe_value)
        if user_change is None:
            continue
        fact, value = user_change
        if fact in flips or (fact != probed and value == facts.scalars.get(fact)):
            continue
        is_open = open_facts.get(fact)
        if is_open is None:
            is_open = open_facts[fact] = could_flip(fact)
        if not is_open:
            continue
        if context is None or context.fact != fact:
            context = _what_ifs(plan, fact, facts, base_fired, derived)
        current = facts.scalars.get(fact)
        if context.recompute:
            scalars = {**facts.scalars, fact: value}
            compute_scalars(scalars)
            read = {name: scalars[name] for name in context.reads if name in scalars}
        else:
            read = {**context.read, fact: value}
        recommendation = _flipped(plan, config, base_parts, fact, context.kept | _fired(plan, context, read, facts.collections))
        if recommendation not in (base.recommendation, "undetermined"):
            flips[fact] = f"{_describe(fact, value, current)} (gives {recommendation})"
            changes[fact] = MakeOrBuyFlip(fact=fact, op=_relation(value, current), value=value, gives=recommendation)
    would_flip = sorted(flips.values())[:MAX_FLIPS]
    structured = sorted(changes.values(), key=lambda change: flips[change.fact])[:MAX_FLIPS]
    return MakeOrBuy(
        recommendation=base.recommendation,
        confidence=base.confidence,
        factors=base.factors,
        would_flip_if=would_flip,
        flips=structured,
        note=kb.make_or_buy.basis,
        score=base.score,
        decide_at=kb.make_or_buy.thresholds.decide,
    )
