"""Realistic portfolio programs for the benchmarks: the bundled examples and variations of them.

A variation starts from one of the bundled example programs (each a full program with 30 to
60 firings) and changes a few facts the way a real portfolio differs from program to program:
a different stage, modality detail, designation or evidence flag, another as-of date, other
dates, amounts and lead times. Every variation is validated like a program file; one that does
not validate is replaced by the next. Deterministic for a seed. Used by ``bench/portfolio.py``.
"""

from __future__ import annotations

import copy
import datetime
import random
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
_FIXED = ("schema_version", "program.id", "program.name", "waivers")  # never changed (waivers name rules)


def _leaves(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every (dotted path, value) of scalar or list leaves, collection items included as path[i]."""
    found: list[tuple[str, Any]] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += _leaves(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(tree, list) and tree and all(isinstance(v, dict) for v in tree):
        for index, item in enumerate(tree):
            found += _leaves(item, f"{prefix}[{index}]")
    else:
        found.append((prefix, tree))
    return found


def _set(tree: Any, path: str, value: Any) -> None:
    parts: list[str | int] = []
    for part in path.split("."):
        name, _, rest = part.partition("[")
        parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    for part in parts[:-1]:
        tree = tree[part]
    tree[parts[-1]] = value


def _vary(path: str, value: Any, rng: random.Random, vocab: dict[str, Any]) -> Any:
    """Another plausible value for one leaf (the same value when none is known)."""
    info = vocab.get(path.split("[")[0] + ("[]." + path.rpartition(".")[2] if "[" in path else ""))
    allowed = list(info.allowed) if info is not None and info.allowed else []
    if isinstance(value, bool):
        return not value
    if allowed and isinstance(value, str):
        return rng.choice(allowed)
    if allowed and isinstance(value, list):
        return sorted(rng.sample(allowed, rng.randint(1, len(allowed))))
    if isinstance(value, datetime.date):
        return value + datetime.timedelta(days=rng.randint(-120, 240))
    if isinstance(value, int):
        return max(0, int(value * rng.uniform(0.5, 1.8)))
    if isinstance(value, float):
        return round(value * rng.uniform(0.5, 1.8), 2)
    return value


def _vocabulary() -> dict[str, Any]:
    from cmcadvisor.facts import vocabulary

    return dict(vocabulary())


def variations(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` valid program documents: the examples first, then variations of them."""
    from pydantic import ValidationError

    from cmcadvisor.models.program import ProgramFile

    bases = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in EXAMPLES]
    vocab = _vocabulary()
    rng = random.Random(seed)
    programs: list[dict[str, Any]] = []
    index = 0
    while len(programs) < count:
        base = bases[index % len(bases)]
        data = copy.deepcopy(base)
        if index >= len(bases):  # the examples themselves come first, unchanged
            leaves = [(p, v) for p, v in _leaves(data) if not p.startswith(_FIXED)]
            for path, value in rng.sample(leaves, rng.randint(3, 10)):
                _set(data, path, _vary(path, value, rng, vocab))
            data["program"]["id"] = f"{data['program']['id']}-V{index:05d}"
            data["program"]["name"] = f"{data['program']['name']} (variation {index})"
            data["program"]["as_of"] = datetime.date(2026, 11, 25) + datetime.timedelta(days=rng.randint(-400, 300))
        index += 1
        try:
            ProgramFile.model_validate(data)
        except ValidationError:
            continue
        programs.append(data)
    return programs


def write(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Write ``count`` realistic program files into ``folder``; their paths, in file order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, data in enumerate(variations(count, seed)):
        path = folder / f"p{index:05d}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths.append(path)
    return paths
