"""Many programs in one call: each assessed exactly as ``assess`` would, one bad file isolated.

Program files are collected from folders and files (``*.yaml``, ``*.yml``, ``*.json``, sorted),
assessed with one shared rule pack and knowledge base, and summarised (pathway statuses, open
findings by severity, top risks, late milestones, make-or-buy). With ``jobs > 1`` worker
processes each load the pack once and send results back as JSON text (never pickled user
data). Engine state is per evaluation (one sid, deleted after), so order never matters. This
module does not print; the CLI shows progress.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmcadvisor import api
from cmcadvisor.errors import CmcAdvisorError, UsageError, UserInputError
from cmcadvisor.models.result import AssessmentResult

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class ProgramOutcome:
    """One program's outcome: its summary and result, or the errors that stopped it."""

    file: str
    ok: bool
    errors: tuple[str, ...] = ()
    summary: dict[str, Any] | None = None
    result: AssessmentResult | None = None


def collect(paths: Sequence[Path]) -> list[Path]:
    """The program files named or found (one level of sorting, folders searched recursively)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError.single(str(path), "no such file or folder")
    return found


def summarize(result: AssessmentResult) -> dict[str, Any]:
    """The portfolio line of one assessment."""
    open_findings = Counter(f.severity for f in result.findings if f.status == "open" and f.kind != "undetermined")
    return {
        "program": result.program.id,
        "name": result.program.name,
        "as_of": result.as_of,
        "pathways": {p.id: p.status for p in result.pathways},
        "open_findings": {s: open_findings.get(s, 0) for s in ("critical", "high", "medium", "low", "info")},
        "top_risks": [{"id": r.id, "title": r.title, "score": r.score} for r in result.risks[:3]],
        "late": list(result.timeline.late),
        "make_or_buy": result.make_or_buy.recommendation,
        "undetermined_rules": result.summary.undetermined_rules,
        "engine": result.audit.engine,
    }


def assess_one(path: Path, context: api.Context, options: api.Options, keep: bool = True) -> ProgramOutcome:
    """Assess one file, turning its errors into data."""
    try:
        result = api.assess_file(path, options, context)
    except UserInputError as exc:
        return ProgramOutcome(str(path), False, tuple(item.format() for item in exc.items))
    except CmcAdvisorError as exc:
        return ProgramOutcome(str(path), False, (f"{path}: internal error: {exc}",))
    return ProgramOutcome(str(path), True, (), summarize(result), result if keep else None)


_WORKER: dict[str, Any] = {}


def _init_worker(options: api.Options) -> None:
    _WORKER["options"] = options
    _WORKER["context"] = api.load_context(options)
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


def _work(path: str) -> tuple[str, bool, list[str], str | None]:
    outcome = assess_one(Path(path), _WORKER["context"], _WORKER["options"])
    text = outcome.result.model_dump_json() if outcome.result is not None else None
    return outcome.file, outcome.ok, list(outcome.errors), text


def run(
    files: Sequence[Path],
    options: api.Options,
    *,
    jobs: int = 1,
    keep_results: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Iterator[ProgramOutcome]:
    """Assess every file, yielding outcomes in input order."""
    if jobs <= 1:
        context = api.load_context(options)
        with _long_lived_frozen():
            for path in files:
                outcome = assess_one(path, context, options, keep=keep_results)
                if progress:
                    progress(1)
                yield outcome
        return
    api.load_context(options)  # fail fast on a broken rule pack, before forking
    ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(options,)
    ) as pool:
        work = [str(path) for path in files]
        for file, ok, errors, text in pool.map(_work, work, chunksize=max(1, min(64, len(work) // (jobs * 4) or 1))):
            result = AssessmentResult.model_validate_json(text) if text is not None else None
            if progress:
                progress(1)
            yield ProgramOutcome(file, ok, tuple(errors), summarize(result) if result else None, result if keep_results else None)
