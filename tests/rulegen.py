"""Deterministic random rule packs over the real fact vocabulary (differential tests, bench).

Equality, set and range tests on program facts, a share of item rules (planned changes) and of
rules chained on derived facts; ``any`` groups now and then.
"""

from __future__ import annotations

import random

from cmcadvisor.conditions import CompiledRule, shape_of
from cmcadvisor.facts import vocabulary
from cmcadvisor.models.rule import AllOf, AnyOf, Leaf


def _leaf(rng: random.Random, names: list[str]) -> Leaf:
    info = vocabulary()[rng.choice(names)]
    if info.type == "bool":
        return Leaf(fact=info.name, op="eq", value=rng.random() < 0.5)
    if info.type == "enum":
        values = rng.sample(list(info.allowed), min(len(info.allowed), rng.randint(1, 3)))
        return Leaf(fact=info.name, op="in", value=values) if len(values) > 1 else Leaf(fact=info.name, op="eq", value=values[0])
    return Leaf(fact=info.name, op=rng.choice(["lt", "ge"]), value=rng.randint(0, 60))


def generate(count: int, seed: int = 1) -> tuple[CompiledRule, ...]:
    rng = random.Random(seed)
    vocab = vocabulary()
    scalar = [n for n, i in vocab.items() if "[]" not in n and i.type in ("bool", "enum", "int")]
    items = [n for n, i in vocab.items() if n.startswith("manufacturing.planned_changes[]") and i.type in ("bool", "enum")]
    rules = []
    for n in range(count):
        parts = [_leaf(rng, scalar) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.1:
            parts.append(_leaf(rng, items))
        if rng.random() < 0.15 and n > 10:
            parts.append(Leaf(fact=f"derived.d{rng.randrange(20)}", op="eq", value=True))
        when = AllOf(all=[AnyOf(any=parts[:2]), *parts[2:]]) if len(parts) > 2 and rng.random() < 0.3 else AllOf(all=parts)
        derives = (f"d{rng.randrange(20)}",) if rng.random() < 0.1 else ()
        rules.append(CompiledRule(f"GEN-R{n:04d}-001", 1, shape_of(when), derives))
    return tuple(rules)
