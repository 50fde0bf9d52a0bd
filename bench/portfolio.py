"""Portfolio throughput and memory: 100, 1,000 and 10,000 generated programs, one core and two.

Writes the programs to a temporary folder, runs `cmcadvisor portfolio DIR --format csv` in a
fresh process for each size and job count, and reports programs per second, milliseconds per
program and the peak resident memory of the run (largest process). Memory should stay flat as
the count grows: CSV keeps one summary per program, not the full results.

Every configuration runs `--repeat` times (default 3), the repeats interleaved, because this
machine is shared and its speed drifts by tens of percent from minute to minute: the median and
the fastest run are both reported, and the verdict uses the median. As after `pip install`, the
runs use compiled bytecode (a temporary `PYTHONPYCACHEPREFIX`, filled by one untimed warm-up run).

Run: .venv/bin/python bench/portfolio.py [--sizes 100,1000,10000] [--jobs 1,2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def run(folder: Path, jobs: int, engine: str, env: dict[str, str]) -> tuple[float, float]:
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
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    code, seconds, peak_kb = int(out[0]), float(out[1]), int(out[2])
    if code not in (0, 1):
        raise SystemExit(f"portfolio failed with exit code {code}")
    return seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--engine", default="durable")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each configuration, interleaved (default 3)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    jobs_list = [int(j) for j in args.jobs.split(",")]
    runs: dict[tuple[int, int], list[tuple[float, float]]] = {(size, jobs): [] for size in sizes for jobs in jobs_list}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        folders = {}
        for size in sizes:
            folders[size] = Path(tmp) / str(size)
            folders[size].mkdir()
            write_programs(folders[size], size)
        run(folders[sizes[0]], 1, args.engine, env)  # untimed: compiles the bytecode, fills the pack cache
        for _ in range(args.repeat):
            for size in sizes:
                for jobs in jobs_list:
                    runs[(size, jobs)].append(run(folders[size], jobs, args.engine, env))
    print(f"{args.repeat} interleaved runs of each; ms/program and programs/s from the median run")
    head = f"{'programs':>8} {'jobs':>4} {'median s':>9} {'ms/program':>10} {'fastest':>8} {'programs/s':>10} {'peak MB':>8}"
    print(head)
    for (size, jobs), values in runs.items():
        seconds = [s for s, _ in values]
        median, fastest, peak = statistics.median(seconds), min(seconds), max(m for _, m in values)
        per, best = median / size * 1000, fastest / size * 1000
        print(f"{size:>8} {jobs:>4} {median:>9.1f} {per:>10.2f} {best:>8.2f} {size / median:>10.0f} {peak:>8.0f}")
    if (1000, 1) in runs:
        seconds = [s for s, _ in runs[(1000, 1)]]
        per, best = statistics.median(seconds) / 1000 * 1000, min(seconds) / 1000 * 1000
        verdict = "PASS" if per <= TARGET_MS else "MISS"
        print(
            f"1,000 programs on one core: median {per:.2f} ms/program, fastest {best:.2f} "
            f"(target <= {TARGET_MS:.0f} ms, on the median): {verdict}"
        )
    print(f"cpu count: {os.cpu_count()}; engine: {args.engine}")


if __name__ == "__main__":
    main()
