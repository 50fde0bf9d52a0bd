"""The durable-rules adapter against its pure-Python oracle, and the adapter's workarounds."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from conftest import EXAMPLES, FIXTURE_PACK
from programgen import AS_OF, random_program

from cmcadvisor import api
from cmcadvisor.conditions import CompiledRule, shape_of
from cmcadvisor.engine import RULES_PER_RULESET, DurableEngine, PythonEngine, get_engine
from cmcadvisor.errors import EngineError
from cmcadvisor.facts import derive_facts
from cmcadvisor.models.rule import AllOf, Leaf
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
    assert isinstance(get_engine("auto"), DurableEngine)


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
