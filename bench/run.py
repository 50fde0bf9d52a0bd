"""cmcadvisor benchmarks: (a) cold start against the dependency import floor, (b) engine time
per program on both engines, (c) overhead of the durable-rules adapter over raw durable calls.

Run from anywhere: ``.venv/bin/python bench/run.py [--quick] [--programs K] [--repeat N] [--seed S]``.
Writes only to stdout (and a temporary bytecode cache for the cold-start subprocesses).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR_IMPORTS = "import durable.engine, pydantic, click, jinja2, networkx, yaml, rich"
EXAMPLES = ("examples/car-t-autologous.yaml", "examples/aav-in-vivo.yaml")
TARGET_RATIO, TARGET_OVERHEAD = 1.2, 0.30


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


# ---------------------------------------------------------------- (a) cold start
def cold_start(n: int) -> None:
    script = Path(sys.executable).with_name("cmcadvisor")  # the installed console script, same interpreter
    base = [str(script)] if script.exists() else [sys.executable, "-m", "cmcadvisor"]
    with tempfile.TemporaryDirectory(prefix="cmcbench-") as cache:
        # Bytecode goes to a temp dir (never into the repository); one warm-up run fills it.
        env = {**os.environ, "PYTHONPYCACHEPREFIX": cache}

        def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
            return (time.perf_counter() - start) * 1000, proc

        note, example = "", None
        for candidate in EXAMPLES:
            _, proc = timed([*base, "assess", candidate, "--format", "json"])
            if proc.returncode in (0, 1):
                example = candidate
                break
            first = (proc.stderr.decode().strip().splitlines() or ["?"])[0]
            note += f"  NOTE {candidate} failed (exit {proc.returncode}: {first}); falling back\n"
        if example is None:
            sys.exit(f"{note}no example could be assessed")
        assess_cmd = [*base, "assess", example, "--format", "json"]
        floor_cmd = [sys.executable, "-c", FLOOR_IMPORTS]
        timed(floor_cmd)  # warm-up
        floors, assesses = [], []
        for i in range(n):  # interleaved, alternating which goes first
            for cmd in (floor_cmd, assess_cmd) if i % 2 == 0 else (assess_cmd, floor_cmd):
                ms, proc = timed(cmd)
                if proc.returncode not in (0, 1):
                    sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[:300]}")
                (floors if cmd is floor_cmd else assesses).append(ms)
    f, a = statistics.median(floors), statistics.median(assesses)
    print(f"(a) cold start: {n} interleaved fresh processes each\n{note}", end="")
    print(f"  {'import floor  (' + FLOOR_IMPORTS[7:] + ')':<58} median {f:7.1f} ms  (min {min(floors):.1f}, max {max(floors):.1f})")
    print(f"  {'cmcadvisor assess ' + example + ' --format json':<58} median {a:7.1f} ms  (min {min(assesses):.1f}, max {max(assesses):.1f})")
    print(f"  ratio assess/floor {a / f:.3f}   (assess - floor = {a - f:+.1f} ms)   target <= {TARGET_RATIO}   {verdict(a / f <= TARGET_RATIO)}\n")


# ---------------------------------------------------------------- program generator
ARCHETYPES = (  # coherent modality facts; applied only to the product fields a program states
    dict(cell_source="autologous", cell_type="t_cell", engineered_receptor="car", genetic_modification="viral_vector", delivery="ex_vivo", vector="lentiviral", editing="none"),
    dict(cell_source="autologous", cell_type="t_cell", engineered_receptor="tcr", genetic_modification="viral_vector", delivery="ex_vivo", vector="gammaretroviral", editing="none"),
    dict(cell_source="allogeneic", cell_type="nk_cell", engineered_receptor="car", genetic_modification="genome_editing", delivery="ex_vivo", vector="lnp", editing="nuclease"),
    dict(cell_source="autologous", cell_type="hsc", engineered_receptor="none", genetic_modification="viral_vector", delivery="ex_vivo", vector="lentiviral", editing="none"),
    dict(cell_source="autologous", cell_type="til", engineered_receptor="none", genetic_modification="none", delivery="ex_vivo", vector="none", editing="none"),
    dict(cell_source="allogeneic", cell_type="msc", engineered_receptor="none", genetic_modification="none", delivery="ex_vivo", vector="none", editing="none"),
    dict(cell_source="none", cell_type="none", engineered_receptor="none", genetic_modification="viral_vector", delivery="in_vivo", vector="aav", editing="none"),
    dict(cell_source="none", cell_type="none", engineered_receptor="none", genetic_modification="genome_editing", delivery="in_vivo", vector="lnp", editing="base_editing"),
    dict(cell_source="none", cell_type="none", engineered_receptor="none", genetic_modification="viral_vector", delivery="in_vivo", vector="hsv", editing="none", replication_competent=True),
)
INT_RANGES = (("usd", 20_000, 2_500_000), ("prevalence", 50, 400_000), ("per_year", 5, 3000), ("doses", 1, 3),
              ("weeks", 2, 60), ("months", 0, 48), ("days", 3, 50), ("headcount", 0, 40), ("centers", 1, 120), ("lots", 0, 12))
DESIGNATION_WEIGHTS = {"none": 40, "planned": 15, "requested": 10, "granted": 25, "denied": 7, "rescinded": 3}
COLLECTION_MAX = {"manufacturing.planned_changes": 5, "supply_chain.equipment": 5, "supply_chain.materials": 6, "interactions": 4}


def _value(name: str, info, rng: random.Random, as_of: datetime.date) -> object:  # noqa: ANN001
    if name.startswith("designations."):
        return rng.choices(list(DESIGNATION_WEIGHTS), weights=list(DESIGNATION_WEIGHTS.values()))[0]
    if info.type == "enum":
        return rng.choice(info.allowed)
    if info.type == "list":
        return rng.sample(info.allowed, rng.randint(1, len(info.allowed)))
    if info.type == "bool":
        return rng.random() < 0.5
    if info.type == "date":
        if name.endswith("need_by"):
            return as_of + datetime.timedelta(weeks=rng.randint(-8, 104))
        return as_of + datetime.timedelta(days=rng.randint(-900, 1500))
    if info.type == "str":
        return f"bench {name.rpartition('.')[2]}"
    leaf = name.rpartition(".")[2]
    lo, hi = next(((lo, hi) for key, lo, hi in INT_RANGES if key in leaf), (0, 100))
    number = rng.randint(lo, hi)
    return float(number) if info.type == "float" and rng.random() < 0.5 else number


def _put(tree: dict, dotted: str, value: object) -> None:
    *heads, leaf = dotted.split(".")
    for head in heads:
        tree = tree.setdefault(head, {})
    tree[leaf] = value


def generate_programs(k: int, seed: int) -> list:
    """K validated ProgramFile objects, deterministic for a seed; sparse ones leave rules undetermined."""
    from cmcadvisor.facts import vocabulary
    from cmcadvisor.models.program import ProgramFile

    vocab = vocabulary()
    computed = {info.name for info in vocab.values() if info.computed_from}
    fixed = {"schema_version", "program.id", "program.name", "program.as_of"}
    rng = random.Random(seed)
    programs = []
    for index in range(k):
        as_of = datetime.date(2025, 1, 1) + datetime.timedelta(days=rng.randrange(3 * 365))
        data: dict = {"schema_version": 1, "program": {"id": f"BENCH-{index:04d}", "name": f"Bench program {index}", "as_of": as_of}}
        completeness = rng.uniform(0.3, 1.0)  # share of fields a program states
        sections = {name.split(".")[0] for name in vocab if "." in name} - {"program"}
        present = {s for s in sections if rng.random() < 0.5 + completeness / 2}
        archetype = rng.choice(ARCHETYPES)
        for name, info in vocab.items():
            if name in fixed or name in computed or "[]." in name or name.split(".")[0] not in present | {"program"}:
                continue
            if info.type == "collection":
                items = []
                for _ in range(rng.randint(0, COLLECTION_MAX.get(name, 3))):
                    item = {}
                    for sub, sub_info in vocab.items():
                        if sub.startswith(name + "[].") and sub not in computed and (sub.endswith("].type") or rng.random() < completeness):
                            item[sub.rpartition(".")[2]] = _value(sub, sub_info, rng, as_of)
                    items.append(item)
                _put(data, name, items)
            elif rng.random() < completeness:
                leaf = name.rpartition(".")[2]
                value = archetype[leaf] if name.startswith("product.") and leaf in archetype else _value(name, info, rng, as_of)
                _put(data, name, value)
        programs.append(ProgramFile.model_validate(data))
    return programs


# ---------------------------------------------------------------- (b) engines, (c) adapter overhead
def engines_and_overhead(k: int, seed: int) -> None:
    from cmcadvisor import api, engine
    from cmcadvisor.facts import derive_facts
    from cmcadvisor.reference_eval import Truth, classify

    contexts = {name: api.load_context(api.Options(engine=name)) for name in ("durable", "python")}
    durable, python = contexts["durable"].engine, contexts["python"].engine
    assert isinstance(durable, engine.DurableEngine) and isinstance(python, engine.PythonEngine), "engine fell back"
    rules = contexts["durable"].pack.compiled_active()
    facts = [derive_facts(p, p.program.as_of) for p in generate_programs(k, seed)]
    durable.run(rules, facts[0]), python.run(rules, facts[0])  # warm-up: compiles the rulesets once
    pack = durable._compile(rules)
    print(f"(b) engine time per program: {k} generated programs (seed {seed}), {len(rules)} active rules in {len(pack.rulesets)} ruleset(s)")

    times: dict[str, list[float]] = {"durable": [], "python": []}
    mismatches, firings, undetermined = [], [], []
    for i, fs in enumerate(facts):
        runs = {}
        for name in ("durable", "python") if i % 2 == 0 else ("python", "durable"):
            eng = durable if name == "durable" else python
            start = time.perf_counter()
            runs[name] = eng.run(rules, fs)
            times[name].append((time.perf_counter() - start) * 1000)
        sets = {name: {(f.rule, f.item) for f in run.firings} for name, run in runs.items()}
        if sets["durable"] != sets["python"]:
            mismatches.append(i)
        firings.append(len(sets["python"]))
        undetermined.append(sum(v.truth == Truth.UNKNOWN for v in classify(rules, fs, runs["python"].derived).values()))
    for name, values in times.items():
        print(f"  {name + ' (' + (durable if name == 'durable' else python).name + ')':<40} median {statistics.median(values):7.3f} ms   p95 {p95(values):7.3f} ms")
    print(f"  firing-set mismatches (set of (rule, item)): {len(mismatches)}/{k}" + (f"  first at programs {mismatches[:5]}" if mismatches else ""))
    print(f"  per program: firings mean {statistics.mean(firings):.1f} (max {max(firings)}), undetermined rules mean {statistics.mean(undetermined):.1f}; "
          f"programs with none fired {sum(f == 0 for f in firings)}\n")

    # (c) Raw durable-rules work for the same programs: the adapter's own compiled rulesets, host and
    # action closures, the same facts in the same order, but no lock, no pack lookup, no program_fact
    # translation (done beforehand), no state/exception checks, no given-facts loop, no result copies.
    host, observed = durable._host, (durable._durable.MessageObservedException, durable._durable.MessageNotHandledException)
    prepared = []
    for fs in facts:
        base = engine.program_fact(fs)
        rows = [(targets, {**base, **{f"item__{k}": v for k, v in item.items()}, "t": "row", "coll": coll, "idx": idx})
                for coll, targets in pack.row_rulesets.items() for idx, item in enumerate(fs.collections.get(coll, ()))]
        prepared.append((fs, base, rows))
    adapter_ms, raw_ms, translate_ms, raw_mismatch = [], [], [], 0
    for i, (fs, base, rows) in enumerate(prepared):
        for mode in ("adapter", "raw") if i % 2 == 0 else ("raw", "adapter"):
            if mode == "adapter":
                start = time.perf_counter()
                durable.run(rules, fs)
                adapter_ms.append((time.perf_counter() - start) * 1000)
                continue
            sid = f"raw{i}"
            ctx = durable._ctx = engine._Context(sid=sid)  # the actions record into it, as in run()
            start = time.perf_counter()
            for rs in pack.rulesets:
                try:
                    host.assert_fact(rs, {"sid": sid, "t": "init"})
                except observed:
                    pass
            for rs in pack.rulesets:
                try:
                    host.assert_fact(rs, {**base, "sid": sid, "t": "program"})
                except observed:
                    pass
            for targets, row in rows:
                for rs in targets:
                    try:
                        host.assert_fact(rs, {**row, "sid": sid})
                    except observed:
                        pass
            for rs in pack.rulesets:
                host.delete_state(rs, sid)
            raw_ms.append((time.perf_counter() - start) * 1000)
            durable._ctx = None
            raw_mismatch += {(f.rule, f.item) for f in ctx.firings} != {(f.rule, f.item) for f in durable.run(rules, fs).firings}
        start = time.perf_counter()
        engine.program_fact(fs)
        translate_ms.append((time.perf_counter() - start) * 1000)
    mean_a, mean_r, mean_t = statistics.mean(adapter_ms), statistics.mean(raw_ms), statistics.mean(translate_ms)
    overhead = mean_a / mean_r - 1
    print(f"(c) adapter overhead: same {k} programs, adapter and raw interleaved")
    print(f"  {'adapter  DurableEngine.run':<40} mean {mean_a:7.3f} ms   median {statistics.median(adapter_ms):7.3f} ms")
    print(f"  {'raw      host.assert_fact/delete_state':<40} mean {mean_r:7.3f} ms   median {statistics.median(raw_ms):7.3f} ms")
    print(f"  {'  of the difference: program_fact()':<40} mean {mean_t:7.3f} ms   rest {mean_a - mean_r - mean_t:7.3f} ms")
    print(f"  raw firing sets differing from the adapter's: {raw_mismatch}/{k}")
    print(f"  overhead adapter/raw - 1 = {overhead * 100:.1f}%   target < {TARGET_OVERHEAD * 100:.0f}%   {verdict(overhead < TARGET_OVERHEAD)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 cold runs and 60 programs instead of 15 and 300")
    parser.add_argument("--programs", type=int, help="K programs for (b) and (c) (default 300, --quick 60)")
    parser.add_argument("--repeat", type=int, help="N cold runs of each command for (a) (default 15, --quick 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the program generator (default 0)")
    args = parser.parse_args()
    n = args.repeat or (5 if args.quick else 15)
    k = args.programs or (60 if args.quick else 300)
    sys.path.insert(0, str(ROOT))
    from importlib import metadata

    print(f"cmcadvisor benchmarks  {datetime.date.today()}  Python {platform.python_version()}  durable-rules {metadata.version('durable-rules')}  "
          f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs\n")
    cold_start(n)
    engines_and_overhead(k, args.seed)


if __name__ == "__main__":
    main()
