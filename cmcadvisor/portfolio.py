"""Many programs in one call: each assessed exactly as ``assess`` would, one bad file isolated.

Program files are collected from folders and files (``*.yaml``, ``*.yml``, ``*.json``, sorted),
assessed with one shared rule pack and knowledge base, and summarised (pathway statuses, open
findings by severity, top risks, late milestones, make-or-buy). Outcomes stream: each one is
yielded, in file order, as soon as it and every file before it are done, so a run of any size
holds at most one full result per worker (``jobs`` processes, plus a small window of rendered
outputs waiting their turn). A caller that needs more than the summary passes ``render``, which
turns each full result into the bytes it will write (a JSON entry, say) inside the worker; the
full result is then dropped. Workers inherit the loaded pack when the platform forks, load it
once otherwise, and send back only bytes and plain values. Engine state is per evaluation (one
sid, deleted after), so order never matters. This module does not print or render; the CLI
shows progress and the renderers format.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import gc
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cmcadvisor import api
from cmcadvisor.errors import CmcAdvisorError, UsageError, UserInputError

if TYPE_CHECKING:
    from cmcadvisor.models.result import AssessmentResult

SUFFIXES = (".yaml", ".yml", ".json")
SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True)
class ProgramOutcome:
    """One program's outcome: its summary (and result, or rendered bytes), or the errors that stopped it."""

    file: str
    ok: bool
    errors: tuple[str, ...] = ()
    summary: dict[str, Any] | None = None
    result: AssessmentResult | None = None
    rendered: Mapping[str, bytes] = field(default_factory=dict)  # output format -> this program's bytes


Render = Callable[[ProgramOutcome], Mapping[str, bytes]]


def collect(paths: Sequence[Path]) -> list[Path]:
    """The program files named or found, sorted within each path named; folders searched recursively.

    Folders are walked without following links to folders (a link loop cannot trap the walk).
    Every entry with a program suffix that is not a folder is kept, broken or looping links and
    unreadable files included, so the run reports each in its own row; a folder that cannot be
    listed is kept too, and reported the same way.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(_walk(path)))
        elif path.is_file() or path.is_symlink():
            found.append(path)
        else:
            raise UsageError.single(str(path), "no such file or folder")
    return found


def _walk(root: Path) -> Iterator[Path]:
    unreadable: list[Path] = []

    def refused(exc: OSError) -> None:
        unreadable.append(Path(exc.filename))

    # Folders (and links to folders, never entered) are not programs; every other entry is: files,
    # and links that lead to no folder, broken or looping ones included.
    for folder, _folders, names in os.walk(root, onerror=refused, followlinks=False):
        base = Path(folder)
        for name in names:
            if os.path.splitext(name)[1].lower() in SUFFIXES:
                yield base / name
    yield from unreadable


def summarize(result: AssessmentResult) -> dict[str, Any]:
    """The portfolio line of one assessment."""
    open_findings: Counter[str] = Counter(f.severity for f in result.findings if f.status == "open" and f.kind != "undetermined")
    return {
        "program": result.program.id,
        "name": result.program.name,
        "as_of": result.as_of,
        "pathways": {p.id: p.status for p in result.pathways},
        "open_findings": {s: open_findings.get(s, 0) for s in SEVERITIES},
        "top_risks": [{"id": r.id, "title": r.title, "score": r.score} for r in result.risks[:3]],
        "late": list(result.timeline.late),
        "make_or_buy": result.make_or_buy.recommendation,
        "undetermined_rules": result.summary.undetermined_rules,
        "engine": result.audit.engine,
    }


def _failed(path: Path, errors: Iterable[str]) -> ProgramOutcome:
    return ProgramOutcome(str(path), False, tuple(errors))


def assess_one(
    path: Path, context: api.Context, options: api.Options, keep: bool = True, render: Render | None = None
) -> ProgramOutcome:
    """Assess one file, turning its errors into data; ``render`` turns the result into bytes, ``keep`` keeps it."""
    if path.is_dir() and not path.is_symlink():
        return _failed(path, (f"{path}: cannot list this folder (permission denied or unreadable)",))
    try:
        result = api.assess_file(path, options, context)
    except UserInputError as exc:
        return _failed(path, (item.format() for item in exc.items))
    except CmcAdvisorError as exc:
        return _failed(path, (f"{path}: internal error: {exc}",))
    except RecursionError:
        return _failed(path, (f"{path}: internal error: nesting too deep to assess",))
    outcome = ProgramOutcome(str(path), True, (), summarize(result), result)
    rendered = render(outcome) if render is not None else {}
    return ProgramOutcome(outcome.file, True, (), outcome.summary, result if keep else None, rendered)


class Tally:
    """What a run has shown so far: programs, failures and the worst open severity (for exit codes)."""

    def __init__(self) -> None:
        self.count = 0
        self.failed = 0
        self.severities: set[str] = set()  # severities with at least one open finding in some program

    def add(self, outcome: ProgramOutcome) -> None:
        """Count one outcome."""
        self.count += 1
        if not outcome.ok:
            self.failed += 1
        counts = (outcome.summary or {}).get("open_findings") or {}
        self.severities.update(sev for sev, n in counts.items() if n)

    def watch(self, outcomes: Iterable[ProgramOutcome]) -> Iterator[ProgramOutcome]:
        """Pass outcomes through, counting each."""
        for outcome in outcomes:
            self.add(outcome)
            yield outcome
            del outcome  # not kept while the next program is assessed: see run()


_WORKER: dict[str, Any] = {}


def _init_worker(options: api.Options, context: api.Context | None, render: Render | None) -> None:
    _WORKER["options"] = options
    _WORKER["context"] = context if context is not None else api.load_context(options)
    _WORKER["render"] = render
    gc.freeze()  # the worker lives as long as the run: keep its pack out of every collection


@contextlib.contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Move what exists now (the loaded pack and knowledge) out of the garbage collector's scans.

    A portfolio allocates and frees millions of objects; without this, every full collection
    walks the whole rule pack again. Undone at the end, so the caller's process is as it was.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _work(path: str) -> tuple[str, bool, tuple[str, ...], dict[str, Any] | None, dict[str, bytes]]:
    outcome = assess_one(Path(path), _WORKER["context"], _WORKER["options"], keep=False, render=_WORKER["render"])
    return outcome.file, outcome.ok, outcome.errors, outcome.summary, dict(outcome.rendered)


def run(
    files: Sequence[Path],
    options: api.Options,
    *,
    jobs: int = 1,
    keep_results: bool = False,
    render: Render | None = None,
    progress: Callable[[int], None] | None = None,
    context: api.Context | None = None,
) -> Iterator[ProgramOutcome]:
    """Assess every file, yielding outcomes in input order, each as soon as it and those before it are done.

    ``render`` (a picklable function when ``jobs > 1``) makes each program's output bytes where
    the result is built; ``keep_results`` keeps the full results too (one process only: they
    would not stay flat in memory otherwise).
    """
    context = context or api.load_context(options)  # fails fast on a broken pack, before any worker starts
    if jobs <= 1 or len(files) <= 1:
        with _long_lived_frozen():
            for path in files:
                outcome = assess_one(path, context, options, keep=keep_results, render=render)
                if progress:
                    progress(1)
                yield outcome
                # Dropped before the next program is assessed, here and by every stage that passes
                # outcomes on. With a program's bytes (a JSON entry is about 300 KB) still held, the
                # C allocator tends to grow its heap for the next program's engine state and give it
                # back after, faulting about a megabyte of fresh pages in for every program.
                del outcome
        return
    if keep_results:
        raise ValueError("keep_results needs jobs=1: results are rendered in the workers and not sent back")
    forking = "fork" in multiprocessing.get_all_start_methods()
    mp_context = multiprocessing.get_context("fork") if forking else None
    inherited = context if forking else None  # a forked worker starts with the parent's loaded pack
    window = 2 * jobs  # programs in flight or done and waiting their turn: bounded, whatever the count
    with (
        _long_lived_frozen(),
        concurrent.futures.ProcessPoolExecutor(
            max_workers=min(jobs, len(files)),
            mp_context=mp_context,
            initializer=_init_worker,
            initargs=(options, inherited, render),
        ) as pool,
    ):
        pending: collections.deque[concurrent.futures.Future[Any]] = collections.deque()
        queue = iter(str(path) for path in files)
        for name in queue:
            pending.append(pool.submit(_work, name))
            if len(pending) >= window:
                break
        while pending:
            file, ok, errors, summary, rendered = pending.popleft().result()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(pool.submit(_work, nxt))
            if progress:
                progress(1)
            yield ProgramOutcome(file, ok, tuple(errors), summary, None, rendered)
