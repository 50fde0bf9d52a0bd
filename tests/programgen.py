"""Deterministic random program files for differential and property tests.

Walks the program model, so every field of the input contract gets exercised: enums take any
allowed value, booleans either value, numbers plausible ranges, dates around the as-of date,
and about a third of the optional fields are left out so rules become undetermined.
"""

from __future__ import annotations

import datetime
import random
import types
import typing

from pydantic import BaseModel

from cmcadvisor.models.program import ProgramFile

AS_OF = datetime.date(2026, 11, 25)
_SKIP = {"waivers", "schema_version", "timeline"}


def _value(annotation: object, name: str, rng: random.Random, depth: int) -> object:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Annotated:
        return _value(typing.get_args(annotation)[0], name, rng, depth)
    if origin in (typing.Union, types.UnionType):
        return _value(args[0], name, rng, depth) if len(args) == 1 else _value(rng.choice(args), name, rng, depth)
    if origin is typing.Literal:
        return rng.choice(typing.get_args(annotation))
    if origin is list:
        inner = typing.get_args(annotation)[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return [_model(inner, rng, depth + 1) for _ in range(rng.randint(0, 3))]
        values = typing.get_args(inner) if typing.get_origin(inner) is typing.Literal else ("us",)
        return sorted(rng.sample(list(values), rng.randint(1, len(values))))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model(annotation, rng, depth + 1)
    if annotation is bool or "Bool" in repr(annotation) or "bool" in repr(annotation):
        return rng.random() < 0.5
    text = repr(annotation).lower()
    if "date" in text:
        return (AS_OF + datetime.timedelta(days=rng.randint(-200, 900))).isoformat()
    if "int" in text or "float" in text:
        if name.endswith("_usd"):
            return rng.choice([0, 5_000_000, 20_000_000, 60_000_000, 250_000, 450_000, 120_000])
        return rng.randint(0, 60)
    return rng.choice(["alpha", "beta", "<b>x</b>", "=SUM(A1)"])


def _model(model: type[BaseModel], rng: random.Random, depth: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, info in model.model_fields.items():
        if name in _SKIP or (not info.is_required() and rng.random() < 0.33):
            continue
        out[name] = _value(info.annotation, name, rng, depth)
    return out


def random_program(seed: int) -> ProgramFile:
    """One valid, random program."""
    rng = random.Random(seed)
    data = _model(ProgramFile, rng, 0)
    data["schema_version"] = 1
    program = {"id": f"GEN-{seed}", "name": f"Generated {seed}", "as_of": AS_OF.isoformat()}
    if rng.random() < 0.7:
        program["regions"] = sorted(rng.sample(["us", "eu", "jp"], rng.randint(1, 3)))
    data["program"] = program
    return ProgramFile.model_validate(data)
