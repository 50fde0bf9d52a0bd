"""Scheduling cost of the timeline's critical-path method for 50, 500 and 5,000 activities.

Builds random DAGs (each activity depends on up to three earlier ones, durations 0-120 days,
some lags and start-no-earlier-than targets) and times graph construction plus the forward
and backward passes of ``cmcadvisor.timeline.schedule``, with the critical path to the last
activity as the timeline asks for it (``terminal``). Prints median milliseconds per graph size and
the cost per activity, so near-linear growth shows as a flat per-activity column, and the ratio
of 5,000 to 50 activities against the target of at most 120x (issue 16, target 5). The ratio is
measured within one run; it is a benchmark, never a timed test. Times are CPU time of this
process (``time.process_time``), so other work on a shared machine does not inflate the large
sizes more than the small ones.

Run: .venv/bin/python bench/timeline.py [--repeat N] [--seed S]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import random
import statistics
import time

import networkx as nx

from cmcadvisor.timeline import schedule

SIZES = (50, 500, 5000)
TARGET_MS_500 = 50.0
TARGET_RATIO = 120.0  # 100x the activities may cost at most 120x the time


def build(n: int, rng: random.Random) -> nx.DiGraph[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    start = datetime.date(2026, 11, 25).toordinal()
    for i in range(n):
        name = f"a{i:05d}"
        target = start + rng.randint(0, 400) if rng.random() < 0.05 else None
        graph.add_node(name, duration=rng.randint(0, 120), not_before=target)
        for j in rng.sample(range(i), min(i, rng.randint(0, 3))):
            graph.add_edge(f"a{j:05d}", name, lag=rng.choice((0, 0, 0, 7, 30)))
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = datetime.date(2026, 11, 25).toordinal()
    rows = []
    for n in SIZES:
        times = []
        for r in range(args.repeat):
            rng = random.Random(args.seed * 1000 + r)
            gc.collect()
            t0 = time.process_time()
            graph = build(n, rng)
            result = schedule(graph, start, terminal=f"a{n - 1:05d}")
            times.append((time.process_time() - t0) * 1000)
            assert len(result.es) == n
        median = statistics.median(times)
        rows.append((n, median, median / n * 1000))
    print(f"{'activities':>10} {'median ms':>10} {'us/activity':>12}")
    for n, median, per in rows:
        print(f"{n:>10} {median:>10.2f} {per:>12.1f}")
    growth = rows[-1][1] / rows[0][1]
    verdict = "PASS" if growth <= TARGET_RATIO else "MISS"
    print(f"cost ratio 5000/50 = {growth:.0f}x for 100x the activities (linear = 100x; target <= {TARGET_RATIO:.0f}x): {verdict}")
    ms_500 = rows[1][1]
    print(f"500 activities: {ms_500:.1f} ms (target < {TARGET_MS_500:.0f} ms): {'PASS' if ms_500 < TARGET_MS_500 else 'MISS'}")


if __name__ == "__main__":
    main()
