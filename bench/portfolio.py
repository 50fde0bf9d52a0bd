"""Portfolio throughput and memory: 100, 1,000 and 10,000 generated programs, one core and two.

Writes the programs to a temporary folder, runs `cmcadvisor portfolio DIR --format csv` in a
fresh process for each size and job count, and reports programs per second, milliseconds per
program and the peak resident memory of the run (largest process). Memory should stay flat as
the count grows: CSV keeps one summary per program, not the full results.

Run: .venv/bin/python bench/portfolio.py [--sizes 100,1000,10000] [--jobs 1,2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from programgen import random_program  # noqa: E402

TARGET_MS = 10.0


def write_programs(folder: Path, count: int) -> None:
    for seed in range(count):
        data = random_program(seed).model_dump(mode="json", exclude_none=True)
        (folder / f"p{seed:05d}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


# A fresh wrapper process per run, so the peak memory of its children is this run's alone.
WRAPPER = (
    "import resource, subprocess, sys, time; t = time.perf_counter();"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE);"
    "print(p.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run(folder: Path, jobs: int, engine: str) -> tuple[float, float]:
    """(seconds, peak RSS MB of the largest process) of one portfolio run."""
    script = ROOT / ".venv" / "bin" / "cmcadvisor"
    tool = str(script) if script.exists() else "cmcadvisor"
    command = [
        tool,
        "--engine",
        engine,
        "portfolio",
        str(folder),
        "--format",
        "csv",
        "--jobs",
        str(jobs),
        "--as-of",
        "2026-11-25",
    ]
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True).stdout.split()
    code, seconds, peak_kb = int(out[0]), float(out[1]), int(out[2])
    if code not in (0, 1):
        raise SystemExit(f"portfolio failed with exit code {code}")
    return seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--engine", default="durable")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    jobs_list = [int(j) for j in args.jobs.split(",")]
    print(f"{'programs':>8} {'jobs':>4} {'seconds':>8} {'ms/program':>10} {'programs/s':>10} {'peak MB':>8}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            write_programs(folder, size)
            for jobs in jobs_list:
                seconds, peak = run(folder, jobs, args.engine)
                per = seconds / size * 1000
                results[(size, jobs)] = (per, peak)
                print(f"{size:>8} {jobs:>4} {seconds:>8.1f} {per:>10.2f} {size / seconds:>10.0f} {peak:>8.0f}")
    if (1000, 1) in results:
        per = results[(1000, 1)][0]
        verdict = "PASS" if per <= TARGET_MS else "MISS"
        print(f"1,000 programs on one core: {per:.2f} ms/program (target <= {TARGET_MS:.0f} ms): {verdict}")
    print(f"cpu count: {os.cpu_count()}; engine: {args.engine}")


if __name__ == "__main__":
    main()
