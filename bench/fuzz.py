"""A longer fuzz run than CI's: the properties of tests/test_fuzz.py at 30x, or an N-input campaign.

    .venv/bin/python bench/fuzz.py [--scale N]           # tests/test_fuzz.py with N times CI's examples (default 30)
    .venv/bin/python bench/fuzz.py --inputs 10000 [--jobs 2] [--save DIR]

A campaign generates program files from the program-file schema (tests/schemafuzz.py: plain, edge and
hostile profiles), runs ``validate`` and ``assess --format json`` on each in-process (click's CliRunner),
reads one more output format of every valid program back with its own reader (rotating through all of
them), compares the two engines on a share of the valid programs, and runs a few inputs through the
installed console script in a subprocess. It prints the count of each exit code, of exit-3 results, of
unlocated exit-2 lines, of unparseable outputs and of the other problems, with examples, and the elapsed
time; it exits 1 when any problem was seen. Not part of CI; it must not change the product.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# Outputs drawn with matplotlib or python-docx take ~10x longer than the rest: each valid input reads one output
# back, going round this list, in which the slow ones come up half as often.
SLOW = {("assess", "html"), ("timeline", "svg"), ("brief", "docx")}


def _kind(problem: str) -> str:
    if problem.startswith("exit3"):
        return "exit3"
    if problem.startswith("traceback"):
        return "traceback"
    if problem.startswith("unlocated"):
        return "unlocated"
    if problem.startswith("unparseable"):
        return "unparseable"
    if problem.startswith("engine"):
        return "engine"
    if "validate" in problem:
        return "validate/assess"
    return "other"


def _worker(job: tuple[int, int, int, int, str | None]) -> dict[str, Any]:
    """Run ``count`` generated inputs with hypothesis seed ``seed``; return the tallies."""
    worker, count, seed, engine_every, save = job
    import schemafuzz
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    tally: dict[str, Any] = {
        "exits": collections.Counter(),
        "profiles": collections.Counter(),
        "valid": 0,
        "outputs": 0,
        "engine_runs": 0,
        "problems": collections.Counter(),
        "examples": {},
        "inputs": 0,
    }
    folder = Path(tempfile.mkdtemp(prefix=f"cmcfuzz-{worker}-"))

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(schemafuzz.cases())
    def run(case: schemafuzz.Case) -> None:
        index = tally["inputs"]
        if index >= count:
            return
        tally["inputs"] += 1
        rotation = [output for output in schemafuzz.OUTPUTS for _ in range(1 if output in SLOW else 2)]
        output = rotation[index % len(rotation)]
        for child in folder.iterdir():
            child.unlink()
        report = schemafuzz.check_case(case, [output], engines=index % engine_every == 0, folder=folder)
        tally["exits"][report["exit"]] += 1
        tally["profiles"][case.profile] += 1
        tally["outputs"] += report["outputs"]
        if report["exit"] == 0:
            tally["engine_runs"] += index % engine_every == 0
        tally["valid"] += report["valid"]
        for problem in report["problems"]:
            kind = _kind(problem)
            tally["problems"][kind] += 1
            key = problem[:80]
            if key not in tally["examples"] and len(tally["examples"]) < 40:
                tally["examples"][key] = (problem[:600], case.text[:1500], case.as_of, output)
                if save:
                    target = Path(save) / f"w{worker}-{len(tally['examples']):02d}{case.suffix}"
                    target.write_text(case.text, encoding="utf-8", errors="surrogatepass")

    with schemafuzz.shared_contexts():
        run()
    shutil.rmtree(folder, ignore_errors=True)
    return tally


def _subprocess_checks(count: int) -> collections.Counter[str]:
    """A few inputs through the installed console script, as a user runs it (not CliRunner)."""
    import schemafuzz
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    script = Path(sys.executable).parent / "cmcadvisor"
    seen: collections.Counter[str] = collections.Counter()
    if not script.exists():
        print(f"no console script next to {sys.executable}; subprocess checks skipped")
        return seen
    folder = Path(tempfile.mkdtemp(prefix="cmcfuzz-sub-"))

    @hypothesis_seed(4)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(schemafuzz.cases())
    def run(case: schemafuzz.Case) -> None:
        if any("\x00" in override for override in case.overrides):
            return  # an argument of a real process cannot hold NUL
        path = schemafuzz.write_case(case, folder)
        for name, fmt in (("validate", None), ("assess", "json")):
            args = schemafuzz.command(case, path, name, fmt)
            done = subprocess.run([str(script), *args], capture_output=True, timeout=120, check=False)
            result = schemafuzz.Run(args, done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"), None)
            problems = schemafuzz.exit_problems(result, path)
            if done.returncode == 0 and name == "assess":
                problems += schemafuzz.output_problems("json", done.stdout)
            seen[f"exit {done.returncode}"] += 1
            for problem in problems:
                seen[f"problem {_kind(problem)}"] += 1
                print(f"  subprocess {name}: {problem[:300]}")
        path.unlink()

    run()
    shutil.rmtree(folder, ignore_errors=True)
    return seen


def campaign(inputs: int, jobs: int, save: str | None, engine_every: int) -> int:
    started = time.monotonic()
    shares = [inputs // jobs + (1 if k < inputs % jobs else 0) for k in range(jobs)]
    work = [(k, shares[k], 20261204 + k, engine_every, save) for k in range(jobs)]
    if save:
        Path(save).mkdir(parents=True, exist_ok=True)
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        tallies = pool.map(_worker, work)
    pooled = time.monotonic() - started
    sub = _subprocess_checks(6)
    elapsed = time.monotonic() - started
    exits: collections.Counter[int] = collections.Counter()
    profiles: collections.Counter[str] = collections.Counter()
    problems: collections.Counter[str] = collections.Counter()
    examples: dict[str, Any] = {}
    total = valid = outputs = engine_runs = 0
    for tally in tallies:
        exits.update(tally["exits"])
        profiles.update(tally["profiles"])
        problems.update(tally["problems"])
        total += tally["inputs"]
        valid += tally["valid"]
        outputs += tally["outputs"]
        engine_runs += tally["engine_runs"]
        for key, value in tally["examples"].items():
            examples.setdefault(key, value)
    print(f"inputs: {total} ({', '.join(f'{p} {n}' for p, n in sorted(profiles.items()))}); jobs: {jobs}")
    print("assess exit codes: " + ", ".join(f"{code}: {exits[code]}" for code in sorted(exits)))
    print(f"valid by `validate`: {valid}; outputs read back: {outputs}; engine comparisons: {engine_runs}")
    print(f"exit-3 results (assess, and every other command run on an input): {problems['exit3']}")
    print(
        f"problems: exit3 {problems['exit3']}, traceback {problems['traceback']}, "
        f"unlocated exit-2 lines {problems['unlocated']}, "
        f"unparseable outputs {problems['unparseable']}, engine differences/crashes {problems['engine']}, "
        f"validate/assess disagreements {problems['validate/assess']}, other {problems['other']}"
    )
    print("subprocess (installed console script): " + ", ".join(f"{k}: {v}" for k, v in sorted(sub.items())))
    print(f"elapsed: {elapsed:.1f} s ({pooled:.1f} s in-process, {elapsed - pooled:.1f} s subprocess)")
    for problem, text, as_of, output in list(examples.values())[:25]:
        print(f"\n--- {problem}\n    (extra output {output[0]} --format {output[1]}; --as-of {as_of})\n    file: {text[:500]!r}")
    bad = sum(problems.values()) + sum(v for k, v in sub.items() if k.startswith("problem"))
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=int(os.environ.get("CMCADVISOR_FUZZ_SCALE", "30")))
    parser.add_argument("--inputs", type=int, default=0, help="Run an N-input campaign instead of the test module.")
    parser.add_argument("--jobs", type=int, default=2, help="Worker processes of a campaign.")
    parser.add_argument("--engine-every", type=int, default=3, help="Compare the engines on every k-th input.")
    parser.add_argument("--save", default=None, help="Write the file of each distinct problem here.")
    args = parser.parse_args()
    if args.inputs:
        return campaign(args.inputs, args.jobs, args.save, args.engine_every)
    env = {**os.environ, "CMCADVISOR_FUZZ_SCALE": str(args.scale)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "test_fuzz.py")]
    return subprocess.run(command, env=env, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
