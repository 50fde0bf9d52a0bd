"""Running a rule's co-located examples, shared by ``cmcadvisor rules test`` and pytest.

An example is a partial program written with dotted fact names. It is completed into a valid
program file, validated by the program model, turned into facts, and evaluated with the rule
alone on the requested engine, with any ``derived`` facts given. It must not print.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from pydantic import ValidationError

from cmcadvisor.engine import Engine
from cmcadvisor.facts import derive_facts
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.rule import Example
from cmcadvisor.reference_eval import Truth, classify
from cmcadvisor.registry import LoadedRule, RulePack

EXAMPLE_AS_OF = datetime.date(2026, 1, 1)


@dataclass(frozen=True)
class ExampleResult:
    """The outcome of one example on one engine."""

    rule: str
    example: str
    expect: str
    got: str
    engine: str

    @property
    def passed(self) -> bool:
        """True when the rule behaved as the example says (``todo`` always passes)."""
        return self.expect == "todo" or self.expect == self.got


def example_program(example: Example) -> ProgramFile:
    """The example's facts completed into a validated program file."""
    data: dict[str, object] = {"schema_version": 1, "program": {"id": "EXAMPLE", "name": "Example"}}
    for dotted, value in example.facts.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{dotted}: {part} is not a section")
            node = child
        node[parts[-1]] = value
    program = data["program"]
    assert isinstance(program, dict)
    program.setdefault("as_of", EXAMPLE_AS_OF.isoformat())
    return ProgramFile.model_validate(data)


def run_example(rule: LoadedRule, example: Example, engine: Engine) -> ExampleResult:
    """Evaluate one example of one rule on one engine."""
    try:
        program = example_program(example)
    except (ValidationError, ValueError) as exc:
        return ExampleResult(rule.id, example.name, example.expect, f"invalid example: {exc}".splitlines()[0], engine.name)
    as_of = program.program.as_of or EXAMPLE_AS_OF
    facts = derive_facts(program, as_of)
    run = engine.run([rule.compiled], facts, example.derived)
    if any(f.rule == rule.id for f in run.firings):
        got = "fires"
    else:
        verdict = classify([rule.compiled], facts, [*example.derived, *run.derived])[rule.id]
        got = "undetermined" if verdict.truth == Truth.UNKNOWN else "silent"
    return ExampleResult(rule.id, example.name, example.expect, got, engine.name)


def run_all_examples(pack: RulePack, engine: Engine) -> list[ExampleResult]:
    """Every example of every rule in the pack."""
    return [run_example(rule, example, engine) for rule in pack.rules for example in rule.spec.examples]
