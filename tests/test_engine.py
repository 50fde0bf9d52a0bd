"""The durable-rules adapter against its pure-Python oracle, and the adapter's workarounds."""

from __future__ import annotations

import datetime
import json
import math
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, FIXTURE_PACK
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st
from programgen import AS_OF, random_program

from cmcadvisor import api
from cmcadvisor.conditions import CompiledRule, Lit, Node, required_members, shape_of
from cmcadvisor.engine import (
    EXACT,
    RULES_PER_RULESET,
    AutoEngine,
    DurableEngine,
    NativeEngineError,
    NumberCodec,
    PythonEngine,
    get_engine,
)
from cmcadvisor.errors import EngineError
from cmcadvisor.facts import FactSet, derive_facts, vocabulary
from cmcadvisor.models.rule import AllOf, AnyOf, Leaf, NotOf
from cmcadvisor.reference_eval import Truth, classify, evaluate_rule

DURABLE = get_engine("durable")
PYTHON = get_engine("python")


def _packs() -> list[api.Context]:
    return [
        api.load_context(api.Options(engine="durable")),
        api.load_context(
            api.Options(
                engine="durable",
                rules_dirs=(FIXTURE_PACK / "rules",),
                builtin_rules=False,
                knowledge_dir=FIXTURE_PACK / "knowledge",
            )
        ),
    ]


PACKS = _packs()


def _fired(engine: object, rules: tuple[CompiledRule, ...], facts: object) -> tuple[set[tuple[str, int | None]], set[str]]:
    run = engine.run(rules, facts)  # type: ignore[attr-defined]
    keys = [(f.rule, f.item) for f in run.firings]
    assert len(keys) == len(set(keys)), "a rule fired twice for the same program or item"
    return set(keys), set(run.derived)


def test_durable_is_the_engine_here() -> None:
    assert isinstance(DURABLE, DurableEngine)
    assert DURABLE.name.startswith("durable-rules 2.0.28")
    auto = get_engine("auto")
    assert isinstance(auto, AutoEngine) and auto.durable is DURABLE and auto.name == DURABLE.name


@pytest.mark.parametrize("chunk", range(10))
def test_differential_generated_programs(chunk: int) -> None:
    """1,000 generated programs (10 chunks of 100): identical firings and derived facts."""
    for context in PACKS:
        rules = context.pack.compiled_active()
        for seed in range(chunk * 100, chunk * 100 + 100):
            facts = derive_facts(random_program(seed), AS_OF)
            assert _fired(DURABLE, rules, facts) == _fired(PYTHON, rules, facts), f"seed {seed}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_differential_examples(example: object) -> None:
    from cmcadvisor.validation import load_program

    program = load_program(example)  # type: ignore[arg-type]
    facts = derive_facts(program, program.program.as_of or AS_OF)
    rules = PACKS[0].pack.compiled_active()
    assert _fired(DURABLE, rules, facts) == _fired(PYTHON, rules, facts)


def test_differential_generated_rule_packs() -> None:
    """Generated packs (item rules, chains, any-groups) over generated programs: identical firings."""
    from rulegen import generate

    for size, seed in ((120, 1), (300, 2)):
        rules = generate(size, seed)
        for program_seed in range(60):
            facts = derive_facts(random_program(program_seed), AS_OF)
            assert _fired(DURABLE, rules, facts) == _fired(PYTHON, rules, facts), (size, program_seed)


@pytest.mark.parametrize("chunk", range(4))
def test_compiled_classification_matches_the_plain_definition(chunk: int) -> None:
    """The compiled three-valued evaluator gives the verdicts and missing facts of ``kleene``."""
    import kleene
    from rulegen import generate

    packs = [context.pack.compiled_active() for context in PACKS] + [generate(300, 2)]
    for rules in packs:
        for seed in range(chunk * 100, chunk * 100 + 100):
            facts = derive_facts(random_program(seed), AS_OF)
            derived = PYTHON.run(rules, facts).derived
            assert classify(rules, facts, derived) == kleene.classify(rules, facts, derived), f"seed {seed}"
            for given in ((), derived):  # item by item and whole-rule evaluation, firing or not
                for rule in rules:
                    assert evaluate_rule(rule, facts, set(given)) == kleene.evaluate_rule(rule, facts, set(given))


def _synthetic_rules(count: int) -> tuple[CompiledRule, ...]:
    """Many rules that all match the same fact: more than one ruleset's worth."""
    rules = []
    for n in range(count):
        when = AllOf(all=[Leaf(fact="clinical.stage_index", op="ge", value=n % 3), Leaf(fact="product.vector", op="exists")])
        rules.append(CompiledRule(f"SYN-R{n:03d}-001", 1, shape_of(when), ()))
    return tuple(rules)


def test_partitioning_survives_many_matching_rules() -> None:
    """200 rules matching one fact would hit durable's error 303 in one ruleset."""
    rules = _synthetic_rules(200)
    assert len(rules) > RULES_PER_RULESET * 4
    facts = derive_facts(random_program(7).model_copy(), AS_OF)
    facts.scalars["clinical.stage_index"] = 2
    facts.scalars["product.vector"] = "aav"
    fired, _ = _fired(DURABLE, rules, facts)
    assert len(fired) == 200
    assert fired == _fired(PYTHON, rules, facts)[0]


def test_many_evaluations_do_not_leak_sids() -> None:
    """Over 1,024 evaluations in one ruleset: delete_state frees every sid (else MemoryError)."""
    rules = PACKS[1].pack.compiled_active()
    facts = derive_facts(random_program(3), AS_OF)
    expected = _fired(PYTHON, rules, facts)
    for _ in range(1100):
        assert _fired(DURABLE, rules, facts) == expected


def test_action_exceptions_are_surfaced(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = DurableEngine()
    rules = _synthetic_rules(3)
    facts = derive_facts(random_program(1), AS_OF)
    facts.scalars["clinical.stage_index"] = 2
    facts.scalars["product.vector"] = "aav"
    engine.run(rules, facts)  # compiles

    def failing(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("cmcadvisor.engine.Firing", failing)
    with pytest.raises(EngineError, match="boom"):
        engine.run(rules, facts)
    monkeypatch.undo()  # the engine is still usable afterwards
    assert {f.rule for f in engine.run(rules, facts).firings} == {r.id for r in rules}


def test_python_engine_name() -> None:
    assert PythonEngine().name.startswith("python-fixpoint")


def test_undetermined_propagates_through_derived_facts() -> None:
    pack = PACKS[1].pack
    rules = pack.compiled_active()
    program = random_program(11).model_copy(update={"clinical": None, "product": None})
    facts = derive_facts(program, datetime.date(2026, 1, 1))
    run = PYTHON.run(rules, facts)
    verdicts = classify(rules, facts, run.derived)
    assert verdicts["TST-AA-001"].truth == Truth.UNKNOWN
    assert verdicts["TST-AA-002"].truth == Truth.UNKNOWN
    assert "derived.potency_ready" in verdicts["TST-AA-002"].missing


def test_specialised_literal_tests_match_the_definition() -> None:
    """Each compiled literal gives test_literal's answer, on values of every type a fact can hold."""
    from cmcadvisor.conditions import NEGATED_OP, And, Lit
    from cmcadvisor.facts import FactSet
    from cmcadvisor.reference_eval import FALSE, Verdict, evaluate_node, test_literal

    operands: list[Any] = [True, False, 0, 1, 2, 1.0, 2.5, "1", "a", "b", ("a", "b"), ("a",)]
    present: list[Any] = [*operands, (), ("1",)]
    for op in NEGATED_OP:
        for operand in operands if op not in ("exists", "missing") else [None]:
            lit = Lit("product.x", op, operand)
            item_lit = Lit("manufacturing.planned_changes[].x", op, operand)
            for value in present:
                expected = Truth.TRUE if test_literal(lit, value) else Truth.FALSE
                program = (
                    FactSet(lists={"product.x": value}) if isinstance(value, tuple) else FactSet(scalars={"product.x": value})
                )
                assert evaluate_node(lit, program).truth == expected, (op, operand, value)
                both = And((lit, Lit("product.y", "eq", 1)))  # a flat conjunction compiles to one loop
                with_y = FactSet({**program.scalars, "product.y": 1}, program.lists)
                assert evaluate_node(both, with_y).truth == expected, ("and", op, operand, value)
                assert evaluate_node(both, program) == (
                    FALSE if expected == Truth.FALSE else Verdict(Truth.UNKNOWN, frozenset({"product.y"}))
                )
                assert evaluate_node(item_lit, FactSet(), {"x": value}, 0).truth == expected, (op, operand, value)
            absent = {"exists": Truth.FALSE, "missing": Truth.TRUE}.get(op, Truth.UNKNOWN)
            assert evaluate_node(lit, FactSet()).truth == absent
            missing = frozenset({"product.x", "product.y"} if absent == Truth.UNKNOWN else {"product.y"})
            expected_both = FALSE if absent == Truth.FALSE else Verdict(Truth.UNKNOWN, missing)
            assert evaluate_node(And((lit, Lit("product.y", "eq", 1))), FactSet()) == expected_both
            assert evaluate_node(item_lit, FactSet(), {}, 0).truth == absent


def test_native_core_failures_are_surfaced_and_the_engine_recovers() -> None:
    """A failure inside the native core mid-action is an EngineError; the next evaluation is whole."""
    engine = DurableEngine()
    rules = _synthetic_rules(3)
    facts = derive_facts(random_program(1), AS_OF)
    facts.scalars["clinical.stage_index"] = 2
    facts.scalars["product.vector"] = "aav"
    expected = {f.rule for f in engine.run(rules, facts).firings}
    native = engine._native

    class Failing:
        def __getattr__(self, name: str) -> Any:
            return getattr(native, name)

        def update_state(self, *args: Any) -> None:
            raise Exception("error 301")  # the core raises bare Exceptions

    engine._native = Failing()
    with pytest.raises(EngineError, match="error 301"):
        engine.run(rules, facts)
    engine._native = native
    assert {f.rule for f in engine.run(rules, facts).firings} == expected == {r.id for r in rules}


# --- Numbers: what durable-rules' JSON parser reads, and the whole numeric range on both engines ---

CAR_T = next(p for p in EXAMPLES if p.stem == "car-t-autologous")


def _car_t(**changes: Any) -> FactSet:
    """The CAR-T example's facts with some program fields changed (``section__field=value``)."""
    from cmcadvisor.validation import load_program

    program = load_program(CAR_T)
    data = program.model_dump()
    for dotted, value in changes.items():
        section, name = dotted.split("__")
        data[section][name] = value
    return derive_facts(type(program).model_validate(data), program.program.as_of or AS_OF)


@pytest.mark.parametrize(
    ("changes", "fact"),
    [
        ({"market_access__cogs_per_dose_usd": 1.0}, "market_access.cogs_share_of_price"),  # 2.4e-06
        ({"indication__patients_per_year_at_peak": 50000, "manufacturing__capacity_lots_per_year": 2}, None),
        ({"organization__capex_available_usd": 5e12}, None),
        ({"organization__capex_available_usd": 1e13, "market_access__expected_price_usd": 1e13}, None),
    ],
)
def test_issue_11_exponent_floats_reach_durable(changes: dict[str, Any], fact: str | None) -> None:
    """Issue 11 point 4: ``Could not assert fact, error code: 204`` on plausible programs."""
    facts = _car_t(**changes)
    if fact is not None:
        assert "e" in repr(facts.scalars[fact])  # what json.dumps wrote, and durable-rules refused
    rules = PACKS[0].pack.compiled_active()
    assert _fired(DURABLE, rules, facts) == _fired(PYTHON, rules, facts)


def test_issue_11_reproducer_on_the_command_line(runner: CliRunner) -> None:
    from cmcadvisor.cli import cli

    args = ["assess", str(CAR_T), "--set", "market_access.cogs_per_dose_usd=1", "--format", "json", "--as-of", "2026-11-25"]
    outputs = {}
    for engine in ("durable", "auto", "python"):
        result = runner.invoke(cli, ["--engine", engine, *args])
        assert result.exit_code in (0, 1), result.output
        outputs[engine] = json.loads(result.output)
    assert outputs["auto"]["audit"]["engine"] == outputs["durable"]["audit"]["engine"] == DURABLE.name  # no fallback needed
    fired = {e: sorted((f["rule"], f["item"]) for f in o["audit"]["fired"]) for e, o in outputs.items()}
    assert fired["durable"] == fired["auto"] == fired["python"]


def test_number_text_is_what_the_native_parser_reads() -> None:
    """Every number becomes ``-?digits`` or ``-?digits.digits``: no exponent, no NaN/Infinity words."""
    import re

    codec = NumberCodec([2**64, -(2**70), 1e300])
    values: list[int | float] = [0, -0.0, 1, -1, 4e-05, -4e-05, 1e-12, 5e-324, -5e-324, 2.2250738585072014e-308, 0.1, 1e15]
    values += [2**53 - 1, -(2**53) + 1, 9007199254740991.0, 2**53, 2**63, 2**64, -(2**70), 1e16, 1e300, math.inf, -math.inf]
    for value in values:
        text = codec.text(value)
        assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text), (value, text)
        if abs(value) < EXACT:  # written as itself: read back to the very same number
            assert float(text) == value and (isinstance(value, int) == ("." not in text)), (value, text)
        else:  # a code between 2**53 and 2**63 that keeps the value's order among the pack's constants
            assert EXACT < abs(int(text)) < 2**63, (value, text)
    assert codec.text(2**64) == str(EXACT + 2) and codec.text(2**64 + 1) == str(EXACT + 3) and codec.text(2**60) == str(EXACT + 1)
    assert codec.text(1e300) == codec.text(int(1e300)) == str(EXACT + 4) and codec.text(math.inf) == str(EXACT + 5)
    assert codec.text(-(2**70)) == str(-(EXACT + 2)) and codec.text(-math.inf) == str(-(EXACT + 3))
    with pytest.raises(NativeEngineError, match="NaN"):
        codec.text(math.nan)
    with pytest.raises(NativeEngineError, match="NaN"):
        codec.fact({"x": math.nan})
    for value in _distinct([v for c in CONSTANTS + EDGES for v in _near(c)]):  # the fast path writes what dump writes
        fact = {"s": "é", "b": True, "n": None, "x": value, "y": 2}
        assert codec.fact(fact) == codec.dump(fact), value
    nested = codec.dump({"a": [1e-05, True, None, 'x"y'], "b": {"c": -2.5e-07}})
    assert nested == '{"a":[0.00001,true,null,"x\\"y"],"b":{"c":-0.00000025}}'
    assert json.loads(nested) == {"a": [1e-05, True, None, 'x"y'], "b": {"c": -2.5e-07}}


NUMERIC_FACTS = sorted(name for name, info in vocabulary().items() if info.type in ("int", "float"))
# Constants for the synthetic rules: every region of the number line, exact and inexact doubles, ints past 2**53 and 2**63.
CONSTANTS: list[int | float] = [0, 1, -1, 0.5, 1e-12, 4e-05, 1e-05, 0.001, 2.4e-06, 1e12, 5e12, 1e15, 1e16, 1e300]
CONSTANTS += [2**53 - 1, 2**53, 2**53 + 1, float(2**53), 2**63 - 1, 2**63, float(2**63), 2**63 + 1, -(2**63), -(2**63) - 1]
CONSTANTS += [2**64, -1e-12, -5e12, -(2**53) - 1, 9007199254740993.5 - 0.5]


def _near(value: int | float) -> list[int | float]:
    """A value and its neighbours: the next doubles, the next ints, a hair either side."""
    out: list[int | float] = [value, -value]
    if isinstance(value, float) and math.isfinite(value):
        out += [math.nextafter(value, math.inf), math.nextafter(value, -math.inf), value * (1 + 1e-9), value - 1e-9]
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and math.isfinite(value)):
        whole = int(value)
        out += [whole, whole - 1, whole + 1]
        if abs(whole) < 2**1000:
            out.append(float(whole))
    return out


EDGES: list[int | float] = [0, -0.0, 1e-12, -1e-12, 5e-324, 2.2250738585072014e-308, 4e-05, 2.4e-06, 1e12, 1e15, -1e15, 1e308]
EDGES += [2**53, 2**63, 2**63 - 1, -(2**63), 2**64, 10**20, 10**400, -(10**400), math.inf, -math.inf]


def _distinct(values: list[int | float]) -> list[int | float]:
    """Values in order without repeats, keeping 0 and -0.0, 2**53 and float(2**53) apart (a set would merge them)."""
    return list({(type(v), repr(v)): v for v in values}.values())


def _thresholds(rules: tuple[CompiledRule, ...]) -> dict[str, set[int | float]]:
    """Every numeric constant a pack compares each fact with."""
    out: dict[str, set[int | float]] = {}

    def walk(node: Node | None) -> None:
        if node is None:
            return
        if isinstance(node, Lit):
            values = node.value if isinstance(node.value, tuple) else (node.value,)
            for value in values:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out.setdefault(node.fact, set()).add(value)
            return
        for child in node.children:
            walk(child)

    for rule in rules:
        walk(rule.shape.body)
    return out


def _with(facts: FactSet, name: str, value: int | float) -> FactSet:
    """A copy of the facts with one numeric fact (or that field of every item of its collection) set."""
    if "[]." not in name:
        return FactSet({**facts.scalars, name: value}, facts.lists, facts.collections)
    collection, field_name = name.split("[].")
    items = facts.collections.get(collection) or ({},)
    return FactSet(facts.scalars, facts.lists, {**facts.collections, collection: tuple({**i, field_name: value} for i in items)})


def _synthetic_numeric_rules(fact: str) -> tuple[CompiledRule, ...]:
    """One rule per operator and constant over one fact, plus in/not_in over several constants."""
    rules = []
    for n, value in enumerate(CONSTANTS):
        for op in ("lt", "le", "gt", "ge", "eq", "ne"):
            rules.append(CompiledRule(f"NUM-{op.upper()}{n:03d}-001", 1, shape_of(Leaf(fact=fact, op=op, value=value)), ()))
    for n in range(0, len(CONSTANTS), 4):
        group = CONSTANTS[n : n + 4]
        for op in ("in", "not_in"):
            when = AnyOf(any=[Leaf(fact=fact, op=op, value=group), Leaf(fact=fact, op="lt", value=-(10**500))])
            rules.append(CompiledRule(f"NUM-{op.upper().replace('_', '')}{n:03d}-001", 1, shape_of(when), ()))
    return tuple(rules)


SYNTHETIC = {
    fact: _synthetic_numeric_rules(fact) for fact in ("indication.us_prevalence", "supply_chain.equipment[].lead_time_weeks")
}


def _agree(rules: tuple[CompiledRule, ...], facts: FactSet, label: object) -> None:
    assert _fired(DURABLE, rules, facts) == _fired(PYTHON, rules, facts), label


@pytest.mark.parametrize("fact", NUMERIC_FACTS)
def test_differential_numeric_range_on_every_numeric_fact(fact: str) -> None:
    """Each numeric fact of the vocabulary across the number line and at each rule threshold of the
    pack ± one double, ± one, ± a hair: both engines agree (built-in pack and synthetic rules)."""
    rules = PACKS[0].pack.compiled_active()
    values = _distinct([v for c in [*EDGES, *_thresholds(rules).get(fact, ())] for v in _near(c)])
    base = derive_facts(random_program(5), AS_OF)
    synthetic = SYNTHETIC["supply_chain.equipment[].lead_time_weeks" if "[]." in fact else "indication.us_prevalence"]
    renamed = tuple(_renamed(rule, fact) for rule in synthetic)
    for value in values:
        facts = _with(base, fact, value)
        _agree(rules, facts, (fact, value))
    for value in _distinct(EDGES):  # the synthetic rules' own edges are swept in the next test
        _agree(renamed, _with(base, fact, value), (fact, value, "synthetic"))


def _renamed(rule: CompiledRule, fact: str) -> CompiledRule:
    """The same synthetic rule over another fact."""
    leaves: list[Any] = []
    for lit in _lits(rule.shape.body):
        leaves.append(Leaf(fact=fact, op=lit.op, value=list(lit.value) if isinstance(lit.value, tuple) else lit.value))
    when: Any = leaves[0] if len(leaves) == 1 else AnyOf(any=leaves)
    return CompiledRule(rule.id, 1, shape_of(when), ())


def _lits(node: Node | None) -> list[Lit]:
    if node is None:
        return []
    if isinstance(node, Lit):
        return [node]
    return [lit for child in node.children for lit in _lits(child)]


def test_differential_synthetic_constants_at_their_edges() -> None:
    """Every synthetic constant ± one double and ± one, as a program value and as an item value."""
    base = derive_facts(random_program(2), AS_OF)
    values = _distinct([v for c in CONSTANTS + EDGES for v in _near(c)])
    for fact, rules in SYNTHETIC.items():
        for value in values:
            _agree(rules, _with(base, fact, value), (fact, value))


NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
    st.sampled_from(CONSTANTS).flatmap(lambda c: st.sampled_from(_near(c))),
)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@hypothesis_given(st.sampled_from(NUMERIC_FACTS), NUMBERS, st.integers(min_value=0, max_value=999))
def test_differential_numeric_property(fact: str, value: int | float, seed: int) -> None:
    """Hypothesis: any number in any numeric fact of any generated program; built-in and synthetic rules."""
    facts = _with(derive_facts(random_program(seed), AS_OF), fact, value)
    _agree(PACKS[0].pack.compiled_active(), facts, (fact, value, seed))
    for rules in SYNTHETIC.values():
        _agree(tuple(_renamed(rule, fact) for rule in rules), facts, (fact, value, seed, "synthetic"))


# --- --engine auto: fall back on a native failure, say so; --engine durable fails loudly ---


def _break_asserts(engine: DurableEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    native = engine._native

    class Failing:
        def __getattr__(self, name: str) -> Any:
            return getattr(native, name)

        def assert_fact(self, handle: int, text: str) -> Any:
            if '"t":"program"' in text:
                raise Exception("Could not assert fact, error code: 204")  # the core raises bare Exceptions
            return native.assert_fact(handle, text)

    monkeypatch.setattr(engine, "_native", Failing())


def test_auto_falls_back_on_a_native_failure_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = PACKS[0].pack.compiled_active()
    facts = derive_facts(random_program(4), AS_OF)
    auto = get_engine("auto")
    assert isinstance(auto, AutoEngine)
    assert auto.run(rules, facts).engine is None  # durable-rules ran
    _break_asserts(DURABLE, monkeypatch)
    with pytest.raises(NativeEngineError, match="error code: 204"):
        DURABLE.run(rules, facts)
    run = auto.run(rules, facts)
    assert run.engine is not None and run.engine.startswith(PYTHON.name)
    assert DURABLE.name in run.engine and "error code: 204" in run.engine
    expected = PYTHON.run(rules, facts)
    assert (run.firings, run.derived) == (expected.firings, expected.derived)


def test_auto_fallback_is_recorded_in_the_audit_and_durable_exits_3(monkeypatch: pytest.MonkeyPatch, runner: CliRunner) -> None:
    from cmcadvisor.cli import cli

    _break_asserts(DURABLE, monkeypatch)
    args = ["assess", str(CAR_T), "--format", "json", "--as-of", "2026-11-25"]
    auto = runner.invoke(cli, ["--engine", "auto", *args])
    assert auto.exit_code in (0, 1), auto.output
    engine = json.loads(auto.output)["audit"]["engine"]
    assert engine.startswith("python-fixpoint") and "durable-rules 2.0.28 failed on this program" in engine
    assert "error code: 204" in engine
    durable = runner.invoke(cli, ["--engine", "durable", *args])
    assert durable.exit_code == 3 and "error code: 204" in durable.output


def test_auto_falls_back_on_nan_but_not_on_a_failing_action(monkeypatch: pytest.MonkeyPatch) -> None:
    """NaN has no faithful durable-rules form: auto uses the Python engine. A failing action is a defect: it raises."""
    rules = PACKS[0].pack.compiled_active()
    facts = _with(derive_facts(random_program(4), AS_OF), "organization.capex_available_usd", math.nan)
    auto = get_engine("auto")
    with pytest.raises(NativeEngineError, match="NaN"):
        DURABLE.run(rules, facts)
    run = auto.run(rules, facts)
    assert run.engine is not None and "NaN" in run.engine
    assert {(f.rule, f.item) for f in run.firings} == _fired(PYTHON, rules, facts)[0]

    def failing(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("cmcadvisor.engine.Firing", failing)
    with pytest.raises(EngineError, match="boom") as raised:
        auto.run(rules, derive_facts(random_program(4), AS_OF))
    assert not isinstance(raised.value, NativeEngineError)


_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from([1e-7, 4e-05, 1e16, -1e300, 2.0**53, -0.0]),
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@hypothesis_given(_JSON_VALUES)
def test_codec_dump_fast_path_writes_what_the_careful_writer_writes(value: Any) -> None:
    """dump takes json.dumps only when it writes the same text as the number-aware writer (tiny and huge numbers differ)."""
    codec = NumberCodec([2**60, -(2**70), 1e300])
    assert codec.dump(value) == "".join(codec._parts(value))
    assert codec.dump({"x": [1e-7]}) == '{"x":[0.0000001]}'  # json.dumps would write 1e-07, which durable-rules refuses
    assert codec.dump({"big": 2**60}) == '{"big":' + str(2**53 + 2) + "}"


def test_compiled_conditions_are_dropped_with_their_nodes() -> None:
    """The compiled-closure cache follows its conditions: a long-lived process (serve) does not grow it."""
    import gc

    from cmcadvisor import reference_eval
    from cmcadvisor.conditions import And, Lit
    from cmcadvisor.facts import FactSet

    gc.collect()
    before = len(reference_eval._COMPILED)
    for n in range(500):  # fresh nodes each time, as explain or a reloaded pack makes them
        node = And((Lit("product.x", "eq", n), Lit("product.y", "gt", n)))
        reference_eval.evaluate_node(node, FactSet(scalars={"product.x": n, "product.y": n + 1}))
    del node
    gc.collect()
    assert len(reference_eval._COMPILED) <= before + 5


def test_bounded_memos_stay_bounded_and_forget_what_is_freed() -> None:
    """The memos the stages keep between programs never grow past their limit, nor outlive their object."""
    import gc

    from cmcadvisor.memo import PerObject, remember

    memo: dict[int, int] = {}
    for n in range(100):
        assert remember(memo, n, n * n, 10) == n * n
    assert len(memo) <= 10 and memo[99] == 99 * 99

    class Loaded:  # a stand-in for a loaded vocabulary or knowledge base
        pass

    made: list[int] = []
    derived: PerObject[Loaded, int] = PerObject(lambda obj: made.append(1) or len(made), keep=2)
    first = Loaded()
    assert derived(first) == derived(first) == 1  # made once while it lives
    others = [Loaded() for _ in range(5)]
    for other in others:
        derived(other)
    assert derived(first) == 7  # only the last two are kept: the first was made again
    del others
    gc.collect()
    assert len(derived._entries) <= 2


def test_required_members_are_the_contains_tests_every_firing_needs() -> None:
    eu = Leaf(fact="program.regions", op="contains", value="eu")
    stage = Leaf(fact="clinical.stage", op="eq", value="phase1")
    assert required_members(shape_of(eu), "program.regions") == {"eu"}
    assert required_members(shape_of(AllOf(all=[stage, eu])), "program.regions") == {"eu"}
    assert required_members(
        shape_of(AllOf(all=[eu, Leaf(fact="program.regions", op="contains", value="us")])), "program.regions"
    ) == {
        "eu",
        "us",
    }
    assert required_members(shape_of(AnyOf(any=[eu, stage])), "program.regions") == frozenset()  # either will do: no gate
    assert required_members(shape_of(NotOf(**{"not": eu})), "program.regions") == frozenset()  # "not in the EU" is no EU rule
    assert required_members(shape_of(stage), "program.regions") == frozenset()
