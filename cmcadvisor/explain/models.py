"""Pydantic models of ``cmcadvisor explain`` answers (the JSON of ``--format json``).

One model per kind of target, told apart by ``target``: a rule, a pathway, an activity or a
milestone, a meeting type, or make-or-buy. Every answer names the rules behind it. Activities,
milestones and meetings carry the timeline's and the meetings' own answers
(:mod:`cmcadvisor.models.schedule_explain`, :mod:`cmcadvisor.models.meetings`) plus the state of
their rules. Plain frozen data: the text form is made by :mod:`cmcadvisor.explain.text`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cmcadvisor.models.meetings import MeetingExplanation as MeetingDetail
from cmcadvisor.models.schedule_explain import ActivityExplanation as ScheduleDetail

RuleStatus = Literal["fired", "not_fired", "undetermined", "inactive"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RuleExplanation(_Out):
    """Why one rule fired, or why not and the smallest change of facts that would fire it."""

    target: Literal["rule"] = "rule"
    rule: str
    title: str
    kind: str
    status: RuleStatus
    items: list[int | None] = Field(default_factory=list)
    tree: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    counterfactual: list[str] = Field(default_factory=list)
    counterfactual_checked: bool | None = None
    effect: str | None = None
    citations: list[str] = Field(default_factory=list)
    message: str | None = None
    effects: list[str] = Field(default_factory=list)  # what firing does: derived facts, pathway status, vote, timeline

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON output."""
        return self.model_dump(mode="json")


class RuleState(_Out):
    """One rule behind a conclusion: whether it fired, what it decides, what would fire it."""

    rule: str
    title: str
    status: RuleStatus
    decides: str | None = None  # e.g. "eligible" for a pathway rule, "requires ppq" for a timeline rule
    missing: list[str] = Field(default_factory=list)  # facts it waits for (undetermined)
    would_fire_if: list[str] = Field(default_factory=list)  # smallest change found, checked by a re-run
    items: list[int | None] = Field(default_factory=list)  # the list items it fired for


class PathwayExplanation(_Out):
    """Why a pathway has its status: the deciding rules and their state, what would settle it, what to ask."""

    target: Literal["pathway"] = "pathway"
    id: str
    name: str
    status: str
    rationale: str
    deciding: list[str]  # the rules whose verdict set the status
    rules: list[RuleState]  # every rule that can set this pathway's status
    settle: list[str] = Field(default_factory=list)  # what would settle or change the status
    questions: list[str] = Field(default_factory=list)  # questions whose answers settle it
    next_step: str | None = None
    next_step_due: str | None = None
    unsettled: list[str] = Field(default_factory=list)
    policy: list[str] = Field(default_factory=list)  # knowledge-held policy tied to this pathway (review clock)
    citations: list[str] = Field(default_factory=list)


class Vote(_Out):
    """One factor rule's vote on a make-or-buy consideration."""

    rule: str
    title: str
    favours: Literal["in_house", "cdmo"]
    strength: int


class FactorExplanation(_Out):
    """One make-or-buy consideration: its votes, the evidence, its part of the score, what would flip it."""

    id: str
    favours: str
    weight: float
    score: float
    contribution: float
    votes: list[Vote] = Field(default_factory=list)  # the rules that voted
    net_vote: int = 0
    capped: bool = False  # the net vote went past the cap
    waiting: list[RuleState] = Field(default_factory=list)  # factor rules waiting for facts
    evidence: dict[str, bool | int | float | str] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    reason: str = ""
    would_flip: list[str] = Field(default_factory=list)  # flips of the recommendation through this consideration


class MakeOrBuyExplanation(_Out):
    """How make-or-buy reached its answer, consideration by consideration, with the policy it applied."""

    target: Literal["make_or_buy"] = "make_or_buy"
    recommendation: str
    confidence: str
    score: float
    decide_at: float
    known_factors: int
    min_known_factors: int
    vote_cap: int
    confidence_rule: str  # which confidence band applied, and why
    factors: list[FactorExplanation]
    would_flip_if: list[str] = Field(default_factory=list)
    basis: str = ""
    policy_source: str = "make_or_buy.yaml"


class ScheduleExplanation(_Out):
    """Why an activity or milestone has its dates, what makes it late and what would bring it back.

    ``schedule`` is the timeline's own answer (its edges and what added them, the driving chain,
    the smallest change, searched by rescheduling); ``rules`` are the rules behind it with their
    state. An activity not on this program's timeline has no ``schedule``: ``could_add`` says
    which rules would put it there and what would fire them.
    """

    target: Literal["activity", "milestone"]
    id: str
    name: str
    on_timeline: bool
    schedule: ScheduleDetail | None = None
    rules: list[RuleState] = Field(default_factory=list)
    could_add: list[RuleState] = Field(default_factory=list)
    policy: list[str] = Field(default_factory=list)  # knowledge-held policy behind its dates (the review clock)


class MeetingAnswer(_Out):
    """Why a meeting type fits the program or not, its dates, and the rules behind its questions (with their state)."""

    target: Literal["meeting"] = "meeting"
    type: str
    meeting: MeetingDetail  # the meetings' own answer: fit tests, dates and their basis, question sources
    rules: list[RuleState] = Field(default_factory=list)


Answer = Annotated[
    RuleExplanation | PathwayExplanation | MakeOrBuyExplanation | ScheduleExplanation | MeetingAnswer,
    Field(discriminator="target"),
]
