"""Pydantic models of the answer to "why is this activity or milestone where it is on the timeline?".

Filled by :func:`cmcadvisor.timeline.explain.explain_activity`; printed by ``cmcadvisor explain``.
This module only describes shapes; it must not compute schedules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduleEdge(_Out):
    """One "finish before start" link into or out of the explained node."""

    id: str  # the other node
    name: str
    lag_days: int
    added_by: list[str]  # rule ids, "knowledge/activities.yaml", "milestone order", "review clock", ...
    sets_start: bool = False  # a predecessor whose finish (plus lag) is what sets the start


class ScheduleChange(_Out):
    """A change that would bring the node back on time, checked by rescheduling."""

    id: str  # the activity to shorten, or the node whose target moves
    name: str
    kind: Literal["shorten", "move_target"]
    from_days: int | None = None
    to_days: int | None = None
    new_date: str | None = None
    fact: str | None = None  # the program fact that sets the duration, when one does
    text: str


class ActivityExplanation(_Out):
    """Why an activity or milestone has its dates, what makes it late and what would bring it back."""

    id: str
    name: str
    kind: Literal["activity", "milestone"]
    status: str
    status_basis: str | None = None
    completion: str | None = None  # the knowledge condition that marks the work done
    start: str | None = None
    finish: str | None = None
    duration_days: int = 0
    duration_basis: str | None = None
    slack_days: int | None = None
    on_critical_path: bool = False
    rules: list[str] = Field(default_factory=list)  # the rules that put it on the plan
    set_by: str  # what sets its start, in words
    predecessors: list[ScheduleEdge] = Field(default_factory=list)
    successors: list[ScheduleEdge] = Field(default_factory=list)
    driving_chain: list[str] = Field(default_factory=list)  # from the as-of date (or a fixed date) to it
    due: str | None = None
    due_basis: str | None = None
    late_by_days: int | None = None
    late_because: list[str] = Field(default_factory=list)
    smallest_change: ScheduleChange | None = None
    other_changes: list[ScheduleChange] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)


class RuleEdge(_Out):
    """One "finish before start" link a rule adds to the timeline."""

    before: str  # the node that must finish first
    before_name: str
    after: str
    after_name: str


class RuleSchedule(_Out):
    """What one rule does to a program's timeline: the activities it puts on it and the links it adds."""

    rule: str
    fired: bool
    activities: list[str] = Field(default_factory=list)
    edges: list[RuleEdge] = Field(default_factory=list)
