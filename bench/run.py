"""cmcadvisor benchmarks: (a) cold start against the import floors, (b) engine time per program
on both engines, (c) overhead of the durable-rules adapter over raw durable calls.

Run from anywhere: ``.venv/bin/python bench/run.py [--quick] [--programs K] [--repeat N] [--seed S] [--parts abc]``.
Writes only to stdout (and a temporary bytecode cache for the cold-start subprocesses).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("examples/car-t-autologous.yaml", "examples/aav-in-vivo.yaml")
TARGET_ASSESS, TARGET_LIGHT, TARGET_OVERHEAD = 1.5, 1.3, 0.30
CLICK_FLOOR = "import click"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def imported_libraries(command: list[str], env: dict[str, str]) -> list[str]:
    """Every third-party module ``command`` imports (not the standard library, not cmcadvisor), in import order.

    Read from ``python -X importtime``: the floor then imports exactly these modules, so it pays
    for what the libraries themselves load on assess's path (pydantic's schema machinery
    included), and for nothing assess does not import.
    """
    done = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=ROOT, env=env, capture_output=True, text=True)
    names = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.rstrip().endswith("package"):
            continue
        name = line.rpartition("|")[2].strip()
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top.startswith("_sysconfigdata") or top in ("cmcadvisor", "_distutils_hack"):
            continue
        if importlib.util.find_spec(top) is None:  # an import that was tried and failed (copy tries org.python.core)
            continue
        names.append(name)
    return names


# ---------------------------------------------------------------- (a) cold start
def cold_start(n: int) -> None:
    script = Path(sys.executable).with_name("cmcadvisor")  # the installed console script, same interpreter
    base = [str(script)] if script.exists() else [sys.executable, "-m", "cmcadvisor"]
    with tempfile.TemporaryDirectory(prefix="cmcbench-") as cache:
        # Bytecode goes to a temp dir (never into the repository); one warm-up run of each command
        # fills it, so every command is timed with compiled bytecode, as after `pip install`.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": cache}

        def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
            return ms_since(start), proc

        note, example = "", ""
        for candidate in EXAMPLES:  # the first run of the one that works is its warm-up
            _, proc = timed([*base, "assess", candidate, "--format", "json"])
            if proc.returncode in (0, 1):
                example = candidate
                break
            first = (proc.stderr.decode().strip().splitlines() or ["?"])[0]
            note += f"  NOTE {candidate} failed (exit {proc.returncode}: {first}); falling back\n"
        if not example:
            sys.exit(f"{note}no example could be assessed")
        assess_cmd = [*base, "assess", example, "--format", "json"]
        script_cmd = [str(script)] if script.exists() else ["-m", "cmcadvisor"]
        libraries = imported_libraries([*script_cmd, "assess", example, "--format", "json"], env)
        floor_code = "import importlib\nfor m in " + repr(libraries) + ":\n    importlib.import_module(m)"
        commands = {
            "click": [sys.executable, "-c", CLICK_FLOOR],
            "version": [*base, "--version"],
            "help": [*base, "--help"],
            "floor": [sys.executable, "-c", floor_code],
            "assess": assess_cmd,
        }
        for name in ("click", "version", "help", "floor"):
            timed(commands[name])  # warm-up
        times: dict[str, list[float]] = {name: [] for name in commands}
        order = list(commands)
        for i in range(n):  # interleaved, rotating which goes first
            for name in order[i % len(order) :] + order[: i % len(order)]:
                ms, proc = timed(commands[name])
                if proc.returncode not in ((0, 1) if name == "assess" else (0,)):
                    sys.exit(f"{' '.join(commands[name])} failed: {proc.stderr.decode()[:300]}")
                times[name].append(ms)
    med = {name: statistics.median(values) for name, values in times.items()}
    tops = sorted({m.split(".")[0] for m in libraries})
    print(f"(a) cold start: {n} interleaved fresh processes each\n{note}", end="")
    labels = {
        "click": f"python -c '{CLICK_FLOOR}'",
        "version": "cmcadvisor --version",
        "help": "cmcadvisor --help",
        "floor": f"floor of assess: python importing the {len(libraries)} modules of {', '.join(tops)} that assess imports",
        "assess": f"cmcadvisor assess {example} --format json",
    }
    for name, values in times.items():
        print(f"  {labels[name]}\n      median {med[name]:6.1f} ms  (min {min(values):.1f}, max {max(values):.1f})")
    for name, floor, target in (
        ("version", "click", TARGET_LIGHT),
        ("help", "click", TARGET_LIGHT),
        ("assess", "floor", TARGET_ASSESS),
    ):
        ratio = med[name] / med[floor]
        print(f"  ratio {name}/{floor} {ratio:.3f}  ({name} - {floor} = {med[name] - med[floor]:+.1f} ms)  ", end="")
        print(f"target <= {target}  {verdict(ratio <= target)}")
    print()


# ---------------------------------------------------------------- program generator
PRODUCT_KEYS = ("cell_source", "cell_type", "engineered_receptor", "genetic_modification", "delivery", "vector", "editing")
ARCHETYPES = (  # coherent modality facts, applied to the product fields a program states
    ("autologous", "t_cell", "car", "viral_vector", "ex_vivo", "lentiviral", "none"),  # CAR-T
    ("autologous", "t_cell", "tcr", "viral_vector", "ex_vivo", "gammaretroviral", "none"),  # TCR-T
    ("allogeneic", "nk_cell", "car", "genome_editing", "ex_vivo", "lnp", "nuclease"),  # edited CAR-NK
    ("autologous", "hsc", "none", "viral_vector", "ex_vivo", "lentiviral", "none"),  # HSC gene therapy
    ("autologous", "til", "none", "none", "ex_vivo", "none", "none"),  # TIL
    ("allogeneic", "msc", "none", "none", "ex_vivo", "none", "none"),  # MSC
    ("none", "none", "none", "viral_vector", "in_vivo", "aav", "none"),  # AAV in vivo
    ("none", "none", "none", "genome_editing", "in_vivo", "lnp", "base_editing"),  # in vivo editing
    ("none", "none", "none", "viral_vector", "in_vivo", "hsv", "none"),  # oncolytic HSV
)
# Integer ranges by substring of the field name ("field low high"); the first match wins, else 0..100.
INT_SPEC = (
    "usd 20000 2500000, prevalence 50 400000, per_year 5 3000, doses 1 3, weeks 2 60, months 0 48, days 3 50, headcount 0 40"
)
INT_RANGES = [
    (key, int(lo), int(hi)) for key, lo, hi in (part.split() for part in (INT_SPEC + ", centers 1 120, lots 0 12").split(", "))
]
DESIGNATION_WEIGHTS = {"none": 40, "planned": 15, "requested": 10, "granted": 25, "denied": 7, "rescinded": 3}
COLLECTION_MAX = {"manufacturing.planned_changes": 5, "supply_chain.equipment": 5, "supply_chain.materials": 6}


def _value(name: str, info: Any, rng: random.Random, as_of: datetime.date) -> object:
    if name.startswith("designations."):
        return rng.choices(list(DESIGNATION_WEIGHTS), weights=list(DESIGNATION_WEIGHTS.values()))[0]
    if info.type in ("enum", "list"):
        return rng.choice(info.allowed) if info.type == "enum" else rng.sample(info.allowed, rng.randint(1, len(info.allowed)))
    if info.type == "bool":
        return rng.random() < 0.5
    if info.type == "date":
        if name.endswith("need_by"):
            return as_of + datetime.timedelta(weeks=rng.randint(-8, 104))
        return as_of + datetime.timedelta(days=rng.randint(-900, 1500))
    if info.type == "str":
        return f"bench {name.rpartition('.')[2]}"
    lo, hi = next(((lo, hi) for key, lo, hi in INT_RANGES if key in name.rpartition(".")[2]), (0, 100))
    number = rng.randint(lo, hi)
    return float(number) if info.type == "float" and rng.random() < 0.5 else number


def _put(tree: dict[str, Any], dotted: str, value: object) -> None:
    *heads, leaf = dotted.split(".")
    for head in heads:
        tree = tree.setdefault(head, {})
    tree[leaf] = value


def generate_programs(k: int, seed: int) -> list[Any]:
    """K validated ProgramFile objects, deterministic for a seed; sparse ones leave rules undetermined."""
    from cmcadvisor.facts import vocabulary
    from cmcadvisor.models.program import ProgramFile

    vocab = vocabulary()  # every fact a rule may test, with its type and allowed values
    skip = {name for name, info in vocab.items() if info.computed_from} | {"schema_version", "program.id", "program.name"}
    sections = sorted({name.split(".")[0] for name in vocab if "." in name} - {"program"})
    rng = random.Random(seed)
    programs = []
    for index in range(k):
        as_of = datetime.date(2025, 1, 1) + datetime.timedelta(days=rng.randrange(3 * 365))
        data: dict[str, Any] = {"schema_version": 1, "program": {"id": f"BENCH-{index:04d}", "name": f"Program {index}"}}
        completeness = rng.uniform(0.3, 1.0)  # share of the fields this program states
        present = {"program"} | {s for s in sections if rng.random() < 0.5 + completeness / 2}
        archetype = dict(zip(PRODUCT_KEYS, rng.choice(ARCHETYPES), strict=True))
        for name, info in vocab.items():
            if name in skip or "[]." in name or name.split(".")[0] not in present:
                continue
            if name == "program.as_of":
                _put(data, name, as_of)
            elif info.type == "collection":
                fields = [(sub, i) for sub, i in vocab.items() if sub.startswith(name + "[].") and sub not in skip]
                items = []
                for _ in range(rng.randint(0, COLLECTION_MAX.get(name, 3))):
                    stated = [(sub, i) for sub, i in fields if sub.endswith(".type") or rng.random() < completeness]
                    items.append({sub.rpartition(".")[2]: _value(sub, i, rng, as_of) for sub, i in stated})
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
    print(f"(b) engine time per program: {k} generated programs (seed {seed}), ", end="")
    print(f"{len(rules)} active rules in {len(pack.rulesets)} durable ruleset(s)")

    engines = {"durable": durable, "python": python}
    times: dict[str, list[float]] = {"durable": [], "python": []}
    mismatches, firings, undetermined = [], [], []
    for i, fs in enumerate(facts):
        runs = {}
        for name in ("durable", "python") if i % 2 == 0 else ("python", "durable"):
            start = time.perf_counter()
            runs[name] = engines[name].run(rules, fs)
            times[name].append(ms_since(start))
        sets = {name: {(f.rule, f.item) for f in run.firings} for name, run in runs.items()}
        if sets["durable"] != sets["python"]:
            mismatches.append(i)
        firings.append(len(sets["python"]))
        undetermined.append(sum(v.truth == Truth.UNKNOWN for v in classify(rules, fs, runs["python"].derived).values()))
    for name, values in times.items():
        label = f"{name} ({engines[name].name})"
        print(f"  {label:<40} median {statistics.median(values):7.3f} ms/program   p95 {p95(values):7.3f} ms/program")
    example = f"  e.g. programs {mismatches[:5]}" if mismatches else ""
    print(f"  firing-set mismatches (set of (rule, item)): {len(mismatches)}/{k}{example}")
    print(f"  per program: {statistics.mean(firings):.1f} firings (max {max(firings)}, {firings.count(0)} with none), ", end="")
    print(f"{statistics.mean(undetermined):.1f} undetermined rules\n")

    # (c) Raw durable-rules work for the same programs: the adapter's own compiled rulesets and action
    # closures, the same facts (serialised beforehand) in the same order, driven through the same calls
    # into durable-rules' native core, but no lock, no pack lookup, no program_fact translation, no
    # JSON serialisation, no error checks, no given-facts loop and no result copies.
    native = durable._native
    prepared = []  # per program: every (ruleset handle, fact as JSON) the adapter asserts, in its order
    for i, fs in enumerate(facts):
        sid, base = f"raw{i}", engine.program_fact(fs)
        init = json.dumps({"sid": sid, "t": "init"})
        program = pack.codec.dump({**base, "sid": sid, "t": "program"})  # numbers as the adapter writes them
        seq = [(pack.handles[rs], init) for rs in pack.rulesets]  # the sentinel first, everywhere
        seq += [(pack.handles[rs], program) for rs in pack.rulesets]
        for coll, targets in pack.row_rulesets.items():
            for idx, item in enumerate(fs.collections.get(coll, ())):
                row = {**base, **{f"item__{k}": v for k, v in item.items()}, "sid": sid, "t": "row", "coll": coll, "idx": idx}
                text = pack.codec.dump(row)
                seq += [(pack.handles[rs], text) for rs in targets]
        prepared.append((fs, sid, seq))
    adapter_ms, raw_ms, translate_ms, lookup_ms, raw_mismatch = [], [], [], [], 0
    for i, (fs, sid, seq) in enumerate(prepared):
        for mode in ("adapter", "raw") if i % 2 == 0 else ("raw", "adapter"):
            if mode == "adapter":
                start = time.perf_counter()
                durable.run(rules, fs)
                adapter_ms.append(ms_since(start))
                continue
            ctx = durable._ctx = engine._Context(sid=sid)  # the actions record into it, as in run()
            start = time.perf_counter()
            for handle, text in seq:
                code, state = native.assert_fact(handle, text)
                if code in (1, 2):
                    continue
                started = native.start_action_for_state(handle, 0 if code == 3 else state)
                if not started:
                    continue
                state_text, message_text = started
                actions = pack.actions[handle]
                while message_text:
                    actions[message_text[2 : message_text.find('"', 2)]](message_text)
                    native.update_state(handle, state_text)
                    message_text = native.complete_and_start_action(handle, state)
            for rs in pack.rulesets:
                native.delete_state(pack.handles[rs], sid)
            raw_ms.append(ms_since(start))
            durable._ctx = None
            raw_mismatch += {(f.rule, f.item) for f in ctx.firings} != {(f.rule, f.item) for f in durable.run(rules, fs).firings}
        start = time.perf_counter()
        pack.codec.dump({**engine.program_fact(fs), "sid": sid, "t": "program"})
        translate_ms.append(ms_since(start))
        start = time.perf_counter()
        durable._compile(rules)  # the per-call pack lookup (hashes tuple(rules)); a cache hit here
        lookup_ms.append(ms_since(start))
    mean_a, mean_r, mean_t, mean_l = (statistics.mean(v) for v in (adapter_ms, raw_ms, translate_ms, lookup_ms))
    overhead = mean_a / mean_r - 1
    print(f"(c) adapter overhead: the same {k} programs, adapter and raw interleaved")
    for label, values in (("adapter  DurableEngine.run", adapter_ms), ("raw      native assert/actions/delete", raw_ms)):
        print(f"  {label:<40} mean {statistics.mean(values):7.3f} ms   median {statistics.median(values):7.3f} ms")
    print(
        f"  difference {mean_a - mean_r:.3f} ms = program fact to JSON {mean_t:.3f} + _compile() pack lookup {mean_l:.3f}", end=""
    )
    print(f" + rest {mean_a - mean_r - mean_t - mean_l:.3f} ms;  raw firing sets unlike the adapter's: {raw_mismatch}/{k}")
    ok = verdict(overhead < TARGET_OVERHEAD)
    print(f"  overhead adapter/raw - 1 = {overhead * 100:.1f}%  target < {TARGET_OVERHEAD * 100:.0f}%  {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description="cmcadvisor benchmarks: cold start, engine time per program, adapter overhead.")
    parser.add_argument("--quick", action="store_true", help="5 cold runs and 60 programs instead of 15 and 300")
    parser.add_argument("--programs", type=int, help="K generated programs for (b) and (c) (default 300, --quick 60)")
    parser.add_argument("--repeat", type=int, help="N cold runs of each command for (a) (default 15, --quick 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the program generator (default 0)")
    parser.add_argument("--parts", default="abc", help="parts to run, e.g. a (default abc; b and c always run together)")
    args = parser.parse_args()
    if not args.parts or set(args.parts) - set("abc"):
        parser.error("--parts takes letters among a, b and c")
    n = args.repeat or (5 if args.quick else 15)
    k = args.programs or (60 if args.quick else 300)
    print(f"cmcadvisor benchmarks {datetime.date.today()}: Python {platform.python_version()}, ", end="")
    print(f"durable-rules {metadata.version('durable-rules')}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs\n")
    if "a" in args.parts:
        cold_start(n)
    if set(args.parts) & set("bc"):
        engines_and_overhead(k, args.seed)


if __name__ == "__main__":
    main()
