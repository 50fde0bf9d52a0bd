"""SARIF and JUnit for ``portfolio``: the CI formats as portfolio streams.

Each program's full result is serialised where it was assessed (in the worker, through the
portfolio's ``render`` hook) and read back here; the SARIF log or JUnit report is laid out when
the last program is in, since both are one document. The line of each finding is found by
parsing the program file again (its line map only). This module never assesses anything and
must not print.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from cmcadvisor.api import Context
from cmcadvisor.errors import UserInputError
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.loader import load_document
from cmcadvisor.models.result import AssessmentResult
from cmcadvisor.models.rule import SEVERITY_RANK
from cmcadvisor.portfolio import ProgramOutcome, Render, Tally
from cmcadvisor.registry import RulePack
from cmcadvisor.render.ci_common import ProgramReport
from cmcadvisor.render.portfolio_formats import PortfolioStream

CI_FORMATS = ("sarif", "junit")
RESULT_KEY = "ci-result"  # the program's full result as JSON, made in the worker


def _with_result(base: Render | None, outcome: ProgramOutcome) -> Mapping[str, bytes]:
    made = dict(base(outcome)) if base is not None else {}
    if outcome.result is not None:
        made[RESULT_KEY] = outcome.result.model_dump_json().encode("utf-8")
    return made


def renderer(base: Render | None, formats: Iterable[str]) -> Render | None:
    """The portfolio's per-program render hook, extended to keep each result when a CI format is wanted."""
    if not set(formats) & set(CI_FORMATS):
        return base
    return functools.partial(_with_result, base)


class CiStream(PortfolioStream):
    """A SARIF or JUnit output of a portfolio run: nothing until the last program, then the whole document."""

    def __init__(self, fmt: str, pack: RulePack, kb: KnowledgeBase, fail_on: str | None) -> None:
        super().__init__("json")
        self.fmt = fmt
        self.pack, self.kb, self.fail_on = pack, kb, fail_on
        self.reports: list[ProgramReport] = []

    def head(self) -> bytes:
        """Nothing before the first program."""
        return b""

    def add(self, outcome: ProgramOutcome) -> bytes:
        """Keep this program's result and line map; write nothing yet."""
        raw = outcome.rendered.get(RESULT_KEY)
        result = (
            outcome.result
            if outcome.result is not None
            else (AssessmentResult.model_validate_json(raw) if raw is not None else None)
        )
        doc = None
        if result is not None:
            try:
                doc = load_document(Path(outcome.file), defer=True)
            except UserInputError:
                doc = None  # changed or gone since it was assessed: findings point at line 1
        self.reports.append(ProgramReport(outcome.file, result, doc, tuple(outcome.errors)))
        return b""

    def tail(self, tally: Tally) -> bytes:
        """The whole SARIF log or JUnit report."""
        if self.fmt == "sarif":
            from cmcadvisor.render.sarif import sarif_log

            return sarif_log(self.reports, self.pack, self.kb).encode("utf-8")
        from cmcadvisor.render.junit import junit_xml

        return junit_xml(self.reports, self.pack, self.fail_on).encode("utf-8")


def stream_for(fmt: str, context: Context | None, fail_on: str | None, *, color: bool, width: int) -> PortfolioStream:
    """The stream that writes one output format of a portfolio run (CI formats need the loaded context)."""
    if fmt in CI_FORMATS:
        if context is None:
            raise ValueError("the SARIF and JUnit outputs need the rule pack and knowledge")
        return CiStream(fmt, context.pack, context.kb, fail_on)
    return PortfolioStream(fmt, color=color, width=width)


class FindingCount:
    """Open findings by severity over a run, and how many programs reach ``fail_on``."""

    def __init__(self, fail_on: str | None) -> None:
        self.threshold = SEVERITY_RANK[fail_on] if fail_on else -1
        self.counts: dict[str, int] = dict.fromkeys(SEVERITY_RANK, 0)
        self.programs = 0

    def watch(self, outcomes: Iterable[ProgramOutcome]) -> Iterator[ProgramOutcome]:
        """Pass outcomes through, counting each."""
        for outcome in outcomes:
            found = (outcome.summary or {}).get("open_findings") or {}
            self.programs += any(n and SEVERITY_RANK[sev] <= self.threshold for sev, n in found.items())
            for sev, n in found.items():
                self.counts[sev] = self.counts.get(sev, 0) + (n or 0)
            yield outcome
            del outcome, found  # not kept while the next program is assessed (see portfolio.run)
