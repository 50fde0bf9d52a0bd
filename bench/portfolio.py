"""Portfolio memory, throughput and scale on realistic programs, as ratios measured in one run.

Programs are the bundled examples and variations of them (``bench/realistic.py``: 3 to 10 facts
changed per program, about 50 firings each). Every portfolio run is a fresh
``cmcadvisor portfolio DIR`` process (compiled bytecode, as after ``pip install``; one untimed
warm-up run first), timed from outside, with the peak resident memory of its largest process.

1. Memory: every format at 100 and at 3,000 programs; ratio of the peaks (target <= 1.25).
2. Throughput: 1,000 programs, JSON and CSV, 1 and 2 jobs, ``--repeat`` runs interleaved (median
   reported). The floor is the in-process engine-only time of the same 1,000 programs
   (``engine.run`` alone, facts derived beforehand, measured here, in the same run): JSON on one
   core at most 3x that floor and at most 12 ms per program; ``--jobs 2`` faster than 1. Then
   where a program's time goes, in the same run: the parts every program pays whatever the
   pipeline does (the engine, reading and validating the YAML, the JSON, the start-up spread over
   the programs), what the 3x target leaves for everything else, and what everything else takes.
3. Scale: 10,000 files with a broken file, an unreadable file, a symbolic-link loop and a 10 MB
   file among them, CSV with two jobs: exit 2, one row per file, each bad file in its own row.

Run: .venv/bin/python bench/portfolio.py [--quick] [--repeat 3] [--skip-scale] [--parts 1,2,3]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import realistic  # noqa: E402

FORMATS = ("json", "jsonl", "csv", "table", "html")
AS_OF = "2026-11-25"
MEMORY_RATIO, ENGINE_RATIO, TARGET_MS = 1.25, 3.0, 12.0

# A fresh wrapper per run, so the peak memory is this run's alone (the largest of the tool and its workers).
WRAPPER = (
    "import resource, subprocess, sys, time; t = time.perf_counter();"
    "p = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], 'wb'), stderr=subprocess.PIPE);"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
    "print(p.returncode, time.perf_counter() - t, u.ru_maxrss, u.ru_utime + u.ru_stime)"
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def tool() -> list[str]:
    script = Path(sys.executable).with_name("cmcadvisor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cmcadvisor"]


def portfolio(
    folder: Path, fmt: str, jobs: int, env: dict[str, str], out: Path = Path(os.devnull)
) -> tuple[int, float, float, float]:
    """(exit code, seconds, peak RSS MB, CPU seconds of every process) of one ``portfolio`` run."""
    command = [*tool(), "--engine", "durable", "portfolio", str(folder), "--format", fmt, "--jobs", str(jobs), "--as-of", AS_OF]
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *command], capture_output=True, text=True, check=True, env=env
    )
    code, seconds, peak_kb, cpu = done.stdout.split()
    if int(code) not in (0, 1, 2):
        raise SystemExit(f"portfolio {folder} --format {fmt} failed with exit code {code}")
    return int(code), float(seconds), int(peak_kb) / 1024, float(cpu)


@dataclass(frozen=True)
class InProcess:
    """Seconds (medians over the repeats) for all programs, in this process, and the mean firings per program."""

    engine: float  # engine.run alone, facts derived beforehand: the floor of target 2
    engine_cpu: float
    read: float  # reading the YAML and validating the program
    whole: float  # api.assess_file and the JSON of its result
    json: float  # the JSON of the result alone (part of whole)
    firings: float


def in_process(paths: list[Path], repeat: int) -> InProcess:
    """The engine-only floor and the parts of an assessment every program pays, timed in this process."""
    from cmcadvisor import api
    from cmcadvisor.cliutil import library_loaded
    from cmcadvisor.facts import derive_facts
    from cmcadvisor.render.as_json import render_json

    options = api.Options(engine="durable", as_of=datetime.date.fromisoformat(AS_OF))
    context = api.load_context(options)
    rules = context.pack.compiled_active()
    facts = []
    for path in paths:
        program, _ = api.read_validated(path, options, context)
        facts.append(derive_facts(program, api.resolve_as_of(program, options)))
    firings = [len(context.engine.run(rules, fs).firings) for fs in facts]  # also the warm-up
    for path in paths[:20]:
        render_json(api.assess_file(path, options, context))
    # The command line's garbage-collection policy (what is loaded, here the facts too, moved out
    # of the collector's way, a larger first threshold), so these parts cost what they cost in a run.
    library_loaded()
    runs: dict[str, list[float]] = {"engine": [], "engine_cpu": [], "read": [], "whole": [], "json": []}
    clock = time.perf_counter
    for _ in range(repeat):
        start, start_cpu = clock(), time.process_time()
        for fs in facts:
            context.engine.run(rules, fs)
        runs["engine"].append(clock() - start)
        runs["engine_cpu"].append(time.process_time() - start_cpu)
        start = clock()
        for path in paths:
            api.read_validated(path, options, context)
        runs["read"].append(clock() - start)
        whole = encode = 0.0
        for path in paths:  # one result at a time, as the portfolio holds them
            start = clock()
            result = api.assess_file(path, options, context)
            middle = clock()
            render_json(result)
            end = clock()
            whole += end - start
            encode += end - middle
        runs["whole"].append(whole)
        runs["json"].append(encode)
    medians = {key: statistics.median(values) for key, values in runs.items()}
    return InProcess(**medians, firings=statistics.mean(firings))


def memory(folders: dict[int, Path], env: dict[str, str]) -> None:
    small, large = sorted(folders)
    print(f"1. memory: peak RSS of the largest process, {small:,} and {large:,} programs, one run each")
    print(f"   {'format':<7}{'jobs':>5}{f'{small} MB':>10}{f'{large} MB':>10}{'ratio':>8}  target <= {MEMORY_RATIO}")
    for fmt in FORMATS:
        for jobs in (1, 2) if fmt in ("json", "jsonl") else (1,):
            peaks = [portfolio(folders[size], fmt, jobs, env)[2] for size in (small, large)]
            ratio = peaks[1] / peaks[0]
            print(f"   {fmt:<7}{jobs:>5}{peaks[0]:>10.0f}{peaks[1]:>10.0f}{ratio:>8.2f}  {verdict(ratio <= MEMORY_RATIO)}")
    print()


def throughput(folder: Path, paths: list[Path], env: dict[str, str], repeat: int) -> None:
    count = len(paths)
    measured = in_process(paths, repeat)
    floor, floor_cpu = measured.engine, measured.engine_cpu
    single = folder.parent / f"{folder.name}-one"  # the start-up and one program: what a run pays however many
    single.mkdir(exist_ok=True)
    if not (single / paths[0].name).exists():
        os.link(paths[0], single / paths[0].name)
    runs: dict[tuple[str, int], list[float]] = {(fmt, jobs): [] for fmt in ("json", "csv") for jobs in (1, 2)}
    cpus: dict[tuple[str, int], list[float]] = {key: [] for key in runs}
    starts: list[float] = []
    for index in range(repeat):  # interleaved, rotating which goes first
        order = list(runs)
        for key in order[index % len(order) :] + order[: index % len(order)]:
            _, seconds, _, cpu = portfolio(folder, key[0], key[1], env)
            runs[key].append(seconds)
            cpus[key].append(cpu)
        starts.append(portfolio(single, "json", 1, env)[1])
    firings = measured.firings
    print(f"2. throughput: {count:,} programs ({firings:.1f} firings each on average), {repeat} interleaved runs of each")
    print(
        f"   engine only (engine.run in-process, same programs): median {floor:.2f} s = {floor / count * 1000:.2f} ms/program",
        end="",
    )
    print(f" (CPU {floor_cpu:.2f} s)")
    head = ("format", 7), ("jobs", 5), ("median s", 10), ("fastest", 9), ("ms/program", 12), ("x engine", 10), ("CPU s", 8)
    print("   " + "".join(f"{name:<{w}}" if name == "format" else f"{name:>{w}}" for name, w in head) + f"{'CPU x engine':>14}")
    median = {key: statistics.median(values) for key, values in runs.items()}
    for (fmt, jobs), values in runs.items():
        m, c = median[(fmt, jobs)], statistics.median(cpus[(fmt, jobs)])
        print(f"   {fmt:<7}{jobs:>5}{m:>10.2f}{min(values):>9.2f}{m / count * 1000:>12.2f}{m / floor:>10.2f}", end="")
        print(f"{c:>8.2f}{c / floor_cpu:>14.2f}")
    json1 = median[("json", 1)]
    ratio = json1 / floor
    print(f"   JSON, one core: {ratio:.2f}x engine-only (target <= {ENGINE_RATIO})  {verdict(ratio <= ENGINE_RATIO)}")
    per = json1 / count * 1000
    print(f"   JSON, one core: {per:.2f} ms/program (target <= {TARGET_MS:.0f})  {verdict(per <= TARGET_MS)}")
    for fmt in ("json", "csv"):
        gain = median[(fmt, 1)] / median[(fmt, 2)]
        print(f"   {fmt.upper()}: --jobs 1 / --jobs 2 = {gain:.2f}x (target > 1)  {verdict(gain > 1)}")
    breakdown(measured, statistics.median(starts), json1, count)
    print()


def breakdown(measured: InProcess, start: float, json1: float, count: int) -> None:
    """Where a program's time goes, against the engine-only floor: what any run must pay, and what is left."""
    ms = 1000 / count
    floor = measured.engine
    rest = measured.whole - measured.engine - measured.read - measured.json
    parts = [
        ("engine.run alone (the floor)", measured.engine),
        ("reading and validating the YAML", measured.read),
        ("the JSON of the result (pydantic)", measured.json),
        (f"start-up of a run, spread over {count:,}", start),
    ]
    fixed = sum(seconds for _, seconds in parts)
    print("   where a program's time goes (same programs, this process; start-up from a one-program run):")
    for name, seconds in parts:
        print(f"     {name:<44}{seconds * ms:>7.2f} ms{seconds / floor:>7.2f}x")
    print(f"     {'sum of the parts every program pays':<44}{fixed * ms:>7.2f} ms{fixed / floor:>7.2f}x")
    budget = ENGINE_RATIO * floor - fixed
    print(
        f"     {'everything else in this process':<44}{rest * ms:>7.2f} ms{rest / floor:>7.2f}x"
        "  (facts, classify, findings, pathways, audit, meetings, make-or-buy, timeline, risks; engine in situ above its floor)"
    )
    other = json1 - start - measured.whole
    shown = f"{other * ms:>7.2f} ms{other / floor:>7.2f}x"
    print(f"     {'portfolio run beyond the above':<44}{shown}  (files, writing, cache and GC effects)")
    print(
        f"   the {ENGINE_RATIO:g}x target leaves {budget * ms:.2f} ms per program for everything else "
        f"and the portfolio run; they take {(rest + other) * ms:.2f} ms"
    )


def scale(source: list[Path], root: Path, env: dict[str, str], count: int) -> None:
    folder = root / "scale"
    folder.mkdir()
    for index in range(count - 4):  # hard links: 10,000 files without 10,000 generations
        os.link(source[index % len(source)], folder / f"p{index:05d}.yaml")
    (folder / "broken.yaml").write_text("schema_version: 1\nprogram: {id: X, name: y\n")
    (folder / "huge.yaml").write_bytes(b"# padding to ten megabytes\n" * (10 * 1024 * 1024 // 27))
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    secret = folder / "secret.yaml"
    shutil.copyfile(source[0], secret)
    secret.chmod(0)  # unreadable, except to root
    out = root / "scale.csv"
    code, seconds, peak, _ = portfolio(folder, "csv", 2, env, out)
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))[1:]
    bad = {row[0].rpartition("/")[2]: row[-1] for row in rows if row[1] == "no"}
    print(f"3. scale: {count:,} files, CSV, 2 jobs: exit {code} in {seconds:.1f} s, peak {peak:.0f} MB, {len(rows):,} rows")
    for name in ("broken.yaml", "huge.yaml", "loop.yaml", "secret.yaml"):
        shown = bad[name].replace(f"{folder}/", "")[:110] if name in bad else "read and assessed (running as root)"
        print(f"   {name:<12} {shown}")
    reported = all(name in bad for name in ("broken.yaml", "huge.yaml", "loop.yaml"))
    ok = code == 2 and len(rows) == count and reported
    print(f"   every file in its own row, each bad one reported, exit 2 at the end: {verdict(ok)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="memory at 100 and 1,000; throughput on 300; scale 2,000")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each throughput configuration (default 3)")
    parser.add_argument("--skip-scale", action="store_true", help="leave out the 10,000-file run")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run: 1 memory, 2 throughput, 3 scale (default all)")
    args = parser.parse_args()
    small, large, work, many = (100, 1000, 300, 2000) if args.quick else (100, 3000, 1000, 10000)
    print(f"cmcadvisor portfolio benchmark {datetime.date.today()}: Python {platform.python_version()}, ", end="")
    print(f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n")
    with tempfile.TemporaryDirectory(prefix="cmcbench-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": str(root / "pyc")}
        paths = realistic.write(root / "all", large)
        folders = {}
        for size in (small, work, large):
            folders[size] = root / f"n{size}"
            folders[size].mkdir()
            for path in paths[:size]:
                os.link(path, folders[size] / path.name)
        portfolio(folders[small], "json", 1, env)  # untimed: compiles the bytecode, fills the pack cache
        parts = {int(part) for part in args.parts.split(",")}
        if 1 in parts:
            memory({small: folders[small], large: folders[large]}, env)
        if 2 in parts:
            throughput(folders[work], paths[:work], env, args.repeat)
        if 3 in parts and not args.skip_scale:
            scale(paths, root, env, many)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
