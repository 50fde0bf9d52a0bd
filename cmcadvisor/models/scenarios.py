"""Pydantic models of scenario planning: the scenarios asked for, and their side-by-side comparison.

A :class:`Scenario` is a named set of what-if changes (each the ``FIELD=VALUE`` text ``--set``
takes); :class:`ScenarioFileSpec` is how a scenarios file writes them. A
:class:`ScenarioComparison` holds, for the baseline and each scenario, what a reader compares:
the make-or-buy answer, the BLA forecasts, the critical path, late items, open high and
critical findings (new and resolved against the baseline), pathway statuses that change, top
risks, the next FDA meeting and the facts that would still flip the make-or-buy answer. Text
fields are already in the display vocabulary's words; ids are kept beside them for programs.
This module holds no logic or formatting and must not import renderers.
"""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cmcadvisor.models.result import AssessmentResult

ChangeValue = bool | int | float | str | datetime.date | None
BASELINE = "Baseline"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(_Out):
    """One what-if change: a program field and its new value, as ``--set`` takes it (``FIELD=VALUE``)."""

    key: str
    value: str  # the value as text, read as a YAML scalar (``cdmo``, ``20``, ``true``, ``2027-01-01``)
    source: str | None = None  # the scenarios file it came from (None: the command line)
    line: int | None = None

    @property
    def text(self) -> str:
        """``key=value``, as written to ``--set``."""
        return f"{self.key}={self.value}"


class Scenario(_Out):
    """A named set of what-if changes applied to the program for this run only."""

    name: str
    description: str = ""
    changes: tuple[Change, ...] = ()

    @property
    def overrides(self) -> tuple[str, ...]:
        """The changes as ``--set`` values."""
        return tuple(change.text for change in self.changes)


class ScenarioFileSpec(BaseModel):
    """One scenario as a scenarios file writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=2000)
    changes: dict[str, ChangeValue] = Field(default_factory=dict)

    @field_validator("changes", mode="before")
    @classmethod
    def _one_value_each(cls, value: object) -> object:
        if isinstance(value, dict):
            for key, given in value.items():
                if isinstance(given, dict | list):
                    raise ValueError(f"{key}: give one value, not a list or mapping")
        return value

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a scenario needs a name")
        return value.strip()


class ScenarioFile(BaseModel):
    """A scenarios file: a list of scenarios (written bare, or under ``scenarios:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenarios: list[ScenarioFileSpec] = Field(min_length=1, max_length=50)


class ChangeShown(_Out):
    """A change as a reader sees it: the field's label and the new value in words."""

    key: str
    value: str
    text: str


class MilestoneForecast(_Out):
    """A milestone's target and forecast (ISO dates) and how late it is."""

    id: str
    name: str
    target: str | None = None
    forecast: str | None = None
    late_by_days: int | None = None


class FindingShown(_Out):
    """An open high or critical finding, matched against the baseline by rule and item."""

    rule: str
    item: str | None = None
    title: str
    severity: str
    change: Literal["new", "resolved", "unchanged"] = "unchanged"


class PathwayChange(_Out):
    """A pathway whose status differs from the baseline's."""

    id: str
    name: str
    baseline: str | None
    status: str | None
    baseline_text: str
    status_text: str


class RiskShown(_Out):
    """One of the top open risks."""

    title: str
    level: str
    score: int


class MeetingShown(_Out):
    """The next FDA meeting and the day its request is due."""

    type: str
    name: str
    date: str | None
    request_due: str | None
    request_when: str = ""


class ScenarioOutcome(_Out):
    """What one scenario (or the baseline) comes to."""

    name: str
    description: str = ""
    baseline: bool = False
    changes: list[ChangeShown] = Field(default_factory=list)
    make_or_buy: str
    make_or_buy_confidence: str
    make_or_buy_text: str
    bla_submission: MilestoneForecast | None = None
    bla_approval: MilestoneForecast | None = None
    critical_path: list[str] = Field(default_factory=list)
    late_items: list[str] = Field(default_factory=list)  # one sentence per late item: when, and what it moves
    findings: list[FindingShown] = Field(default_factory=list)  # open high and critical, and those resolved
    pathway_changes: list[PathwayChange] = Field(default_factory=list)
    top_risks: list[RiskShown] = Field(default_factory=list)
    next_meeting: MeetingShown | None = None
    would_flip_if: list[str] = Field(default_factory=list)
    result: AssessmentResult = Field(exclude=True, repr=False)  # the full assessment (not in the JSON output)

    @property
    def open_high(self) -> list[FindingShown]:
        """The open high and critical findings (those resolved left out)."""
        return [f for f in self.findings if f.change != "resolved"]


class ScenarioComparison(_Out):
    """The baseline and every scenario, side by side (baseline first, then in the order given)."""

    program_id: str
    program_name: str
    as_of: str
    tool_version: str
    scenarios: list[ScenarioOutcome]
