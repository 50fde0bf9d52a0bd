"""What the CI formats (SARIF and JUnit) share: the programs they report on and where a finding points.

A :class:`ProgramReport` is one assessed program (or one that failed to load) with the name
it is shown under and, when known, the parsed document, so that a finding can point at the
line of the program file holding the fact that triggered it. Pure functions over the result
models; nothing here reads files, prints or knows the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import quote

from cmcadvisor.loader import STDIN_NAME, Document, Loc
from cmcadvisor.models.result import AssessmentResult, FindingResult
from cmcadvisor.models.rule import SEVERITY_RANK


@dataclass(frozen=True)
class ProgramReport:
    """One program of a CI report: its result, or the errors that stopped it."""

    shown: str  # the program file as the user named it (``<stdin>`` or --stdin-filename for standard input)
    result: AssessmentResult | None = None
    doc: Document | None = None
    errors: tuple[str, ...] = field(default_factory=tuple)


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def fact_loc(name: str) -> Loc:
    """``manufacturing.planned_changes[0].timing`` -> ``("manufacturing", "planned_changes", 0, "timing")``."""
    loc: list[str | int] = []
    for match in _PART.finditer(name):
        loc.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
    return tuple(loc)


def finding_line(finding: FindingResult, doc: Document | None) -> int:
    """The line of the program file holding the fact that triggered ``finding`` (1 when none is in the file).

    A fact given in the file wins (the first, in the finding's order); a computed fact points at
    the deepest part of the file it lies under (``supply_chain.equipment[0]`` for that item's slack).
    """
    if doc is None:
        return 1
    best: tuple[int, int] | None = None  # (depth matched, line)
    for name in finding.facts:
        loc = fact_loc(name)
        if loc in doc.lines:
            return doc.lines[loc]
        for depth in range(len(loc) - 1, 0, -1):
            if loc[:depth] in doc.lines:
                if best is None or depth > best[0]:
                    best = (depth, doc.lines[loc[:depth]])
                break
    return best[1] if best else 1


def waiver_line(rule: str, doc: Document | None) -> int | None:
    """The line of the program file's waiver of ``rule``, when it has one."""
    if doc is None or not isinstance(doc.data, dict):
        return None
    waivers = doc.data.get("waivers")
    if not isinstance(waivers, list):
        return None
    for index, waiver in enumerate(waivers):
        if isinstance(waiver, dict) and waiver.get("rule") == rule:
            return doc.line_of(("waivers", index))
    return None


def artifact_uri(shown: str) -> str:
    """A URI reference for a program file: relative paths stay relative (``examples/x.yaml``)."""
    if shown == STDIN_NAME:
        return "stdin"
    path = PurePath(shown)
    if path.is_absolute():
        return "file://" + quote(path.as_posix())
    return quote(path.as_posix())


def counts_against(finding: FindingResult, fail_on: str | None) -> bool:
    """Whether an open finding is at or above ``fail_on`` (every open finding when no threshold is set)."""
    if finding.status != "open" or finding.kind == "undetermined":
        return False
    return fail_on is None or SEVERITY_RANK[finding.severity] <= SEVERITY_RANK[fail_on]


def sentence(title: str, detail: str) -> str:
    """A finding's title and detail as one plain-text message."""
    title = title.strip()
    if not detail.strip():
        return title
    joiner = " " if title.endswith((".", "?", "!", ":")) else ". "
    return f"{title}{joiner}{detail.strip()}"
