"""Rule-pack size scaling: engine time per program for 100 to 2,000 generated rules.

Rules are generated over the real fact vocabulary (equality, set and range tests on program
facts, a share of item rules and of chained rules on derived facts), compiled once, and run on
generated programs with both engines; both must agree. Prints compile time and median
milliseconds per program for each size.

Run: .venv/bin/python bench/rulepack.py [--sizes 100,250,500,1000,2000] [--programs 200]
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from programgen import random_program  # noqa: E402
from rulegen import generate  # noqa: E402

from cmcadvisor.engine import DurableEngine, PythonEngine  # noqa: E402
from cmcadvisor.facts import derive_facts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,250,500,1000,2000")
    parser.add_argument("--programs", type=int, default=200)
    args = parser.parse_args()
    as_of = datetime.date(2026, 11, 25)
    facts = [derive_facts(random_program(seed), as_of) for seed in range(args.programs)]
    durable, python = DurableEngine(), PythonEngine()
    print(f"{'rules':>6} {'compile ms':>10} {'durable ms/prog':>15} {'python ms/prog':>14} {'mismatches':>10}")
    for size in (int(s) for s in args.sizes.split(",")):
        rules = generate(size)
        start = time.perf_counter()
        durable.run(rules, facts[0])
        compile_ms = (time.perf_counter() - start) * 1000
        timings: dict[str, list[float]] = {"durable": [], "python": []}
        mismatches = 0
        for program in facts:
            fired = {}
            for name, engine in (("durable", durable), ("python", python)):
                t0 = time.perf_counter()
                run = engine.run(rules, program)
                timings[name].append((time.perf_counter() - t0) * 1000)
                fired[name] = {(f.rule, f.item) for f in run.firings}
            mismatches += fired["durable"] != fired["python"]
        d, p = statistics.median(timings["durable"]), statistics.median(timings["python"])
        print(f"{size:>6} {compile_ms:>10.0f} {d:>15.2f} {p:>14.2f} {mismatches:>10}")


if __name__ == "__main__":
    main()
