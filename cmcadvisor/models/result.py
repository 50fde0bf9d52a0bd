"""Pydantic models of the assessment output (output contract, schema_version 1).

Frozen plain data: every renderer reads these and nothing else. The keys and identifiers of
``shared/spec/assessment-output.md`` are kept exactly; extra keys are additions. This module
holds no formatting and must not import renderers.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from cmcadvisor.models.rule import Confidence, PathwayStatus, Severity

Scalar = bool | int | float | str


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolInfo(_Out):
    """Name and version of the tool."""

    name: str = "cmcadvisor"
    version: str


class ProgramRef(_Out):
    """Which program was assessed."""

    id: str
    name: str


class CitationRef(_Out):
    """A citation resolved from the knowledge base."""

    id: str
    title: str
    issuer: str
    year: int
    section: str | None = None
    status: str
    confidence: Confidence
    url: str | None = None


class PathwayResult(_Out):
    """The status of one expedited pathway."""

    id: str
    name: str
    status: PathwayStatus
    rationale: str
    rules: list[str]
    citations: list[str]
    next_step: str | None = None
    missing_facts: list[str] = Field(default_factory=list)
    unsettled: list[str] = Field(default_factory=list)
    next_step_due: str | None = None  # ISO date the next step should be done by, where the program fixes one
    next_step_basis: str | None = None  # the request timing the date rests on, and which program date was used


class DueRef(_Out):
    """When a finding has to be dealt with."""

    stage: str | None = None
    date: str | None = None


class WaiverRef(_Out):
    """The waiver applied to a finding (or why it was not honoured)."""

    approved_by: str
    approved_on: str
    expires: str
    justification: str
    honoured: bool
    reason: str | None = None


class FindingResult(_Out):
    """One conclusion of one rule firing."""

    id: str
    rule: str
    kind: Literal["requirement", "gap", "recommendation", "risk", "inconsistency", "undetermined"]
    severity: Severity
    title: str
    detail: str
    topics: list[str]
    due: DueRef
    status: Literal["open", "met", "waived"]
    citations: list[CitationRef]
    facts: dict[str, Scalar | list[str]]
    confidence: Confidence
    unsettled: str | None = None
    missing_facts: list[str] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)
    before: list[str] = Field(default_factory=list)
    waiver: WaiverRef | None = None


class MakeOrBuyFactor(_Out):
    """One of the seven make-or-buy considerations."""

    id: str
    favours: Literal["in_house", "cdmo", "neutral", "unknown"]
    weight: float
    reason: str
    # The factor's net vote scaled to -1..+1 (positive favours in-house), and weight x score:
    # what this consideration added to the recommendation's score.
    score: float = 0.0
    contribution: float = 0.0
    rules: list[str] = Field(default_factory=list)  # the factor rules that voted
    facts: dict[str, bool | int | float | str] = Field(default_factory=dict)  # the given facts it was judged on
    missing: list[str] = Field(default_factory=list)  # facts not given that could still move it


class MakeOrBuyFlip(_Out):
    """One single-fact change that would flip the recommendation (``would_flip_if`` as data)."""

    fact: str
    op: Literal["=", ">=", "<="]
    value: bool | int | float | str
    gives: Literal["in_house", "cdmo", "hybrid"]


class MakeOrBuy(_Out):
    """The make-or-buy recommendation."""

    recommendation: Literal["in_house", "cdmo", "hybrid", "undetermined"]
    confidence: Literal["high", "medium", "low"]
    factors: list[MakeOrBuyFactor]
    would_flip_if: list[str]
    note: str | None = None
    flips: list[MakeOrBuyFlip] = Field(default_factory=list)  # would_flip_if, item for item, as data
    score: float = 0.0  # the sum of the contributions; above +decide_at in-house, below -decide_at CDMO
    decide_at: float | None = None


class Activity(_Out):
    """A scheduled activity of the timeline."""

    id: str
    name: str
    start: str | None
    finish: str | None
    slack_days: int | None
    critical: bool
    depends_on: list[str]
    rules: list[str]
    duration_days: int = 0
    status: Literal["planned", "in_progress", "complete", "achieved"] = "planned"
    due: str | None = None
    late_by_days: int | None = None
    basis: str | None = None


class Milestone(_Out):
    """A target milestone and its forecast."""

    id: str
    target: str | None
    forecast: str | None
    late_by_days: int | None
    status: Literal["planned", "achieved"] = "planned"


class LateItem(_Out):
    """A long-lead item (equipment, vector, critical material) and what waiting for it costs the plan."""

    id: str  # its activity id
    name: str
    needed_for: list[str] = Field(default_factory=list)  # what waits for it (activity and milestone ids)
    finish: str | None = None  # when it is forecast to be in hand
    need_by: str | None = None
    late_by_days: int | None = None  # against its need-by date
    bla_delay_days: int = 0  # how far the BLA submission forecast moves because of it
    delays: dict[str, int] = Field(default_factory=dict)  # what it moves (activity and milestone ids), by days


class Timeline(_Out):
    """Ordered decisions, critical path and slack."""

    activities: list[Activity] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    critical_path: list[str] = Field(default_factory=list)
    late: list[str] = Field(default_factory=list)
    note: str | None = None
    # Long-lead items that are late or hold something up, the one that moves the BLA most first.
    late_items: list[LateItem] = Field(default_factory=list)


class MeetingQuestion(_Out):
    """A question for FDA, traced to the rules behind it."""

    text: str
    topics: list[str]
    ctd_section: str | None
    rules: list[str]
    number: int = 0
    discipline: str = "cmc"
    context: str = ""
    facts: dict[str, Scalar | list[str]] = Field(default_factory=dict)
    sponsor_position: str = ""
    finding: str | None = None
    severity: Severity | None = None
    citations: list[str] = Field(default_factory=list)
    # One question per topic: every open finding it merges (``finding`` first) and the point each adds.
    findings: list[str] = Field(default_factory=list)
    points: list[str] = Field(default_factory=list)


class Meeting(_Out):
    """A recommended FDA meeting."""

    type: str
    fda_category: str
    purpose: str
    recommended_date: str | None
    request_due: str | None
    package_due: str | None
    questions: list[MeetingQuestion]
    name: str = ""
    date_basis: str = ""
    fda_reply_due: str | None = None
    preliminary_responses_due: str | None = None
    sponsor_reply_due: str | None = None
    meeting_within_days: int | None = None
    package_rule: str = ""
    preliminary_responses_rule: str = ""
    sponsor_reply_rule: str = ""
    meeting_minutes: int | None = None
    fit: Literal["fits", "check", "does_not_fit"] = "check"
    fit_reasons: list[str] = Field(default_factory=list)
    date_notes: list[str] = Field(default_factory=list)
    limits: list[str] = Field(default_factory=list)
    agenda: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    cdrp: str | None = None
    citations: list[str] = Field(default_factory=list)


class Risk(_Out):
    """One entry of the risk register."""

    id: str
    title: str
    category: str
    cause: str
    effect: str
    likelihood: int
    impact: int
    score: int
    level: Literal["low", "medium", "high"]
    mitigation: str
    owner: str
    trigger: str
    rules: list[str]
    topics: list[str]
    status: Literal["open", "waived"] = "open"  # waived: accepted under an honoured waiver
    finding: str | None = None  # the finding that raised the risk
    citations: list[str] = Field(default_factory=list)


class Question(_Out):
    """A missing fact, and what knowing it would settle."""

    field: str
    question: str
    unlocks: list[str]


_FINDING_LIST = TypeAdapter(list[FindingResult])
_QUESTION_LIST = TypeAdapter(list[Question])


def findings_from_dicts(bodies: list[dict[str, Any]]) -> list[FindingResult]:
    """Validate many findings in one call (much cheaper than one call per finding)."""
    return _FINDING_LIST.validate_python(bodies)


def questions_from_dicts(bodies: list[dict[str, Any]]) -> list[Question]:
    """Validate many questions in one call."""
    return _QUESTION_LIST.validate_python(bodies)


class FiredRecord(_Out):
    """One firing, in engine order."""

    seq: int
    rule: str
    version: int
    facts: list[str]
    item: int | None = None


class Audit(_Out):
    """How the result was reached."""

    input_sha256: str
    rules_sha256: str
    knowledge_sha256: str
    tool_version: str
    engine: str
    fired: list[FiredRecord]
    not_fired: list[str]
    undetermined: list[str]
    undetermined_facts: dict[str, list[str]] = Field(default_factory=dict)
    waived: list[str]
    waivers_unused: list[str]
    derived: list[str]


class Summary(_Out):
    """Counts for a quick read."""

    open_findings_by_severity: dict[str, int]
    pathways_by_status: dict[str, int]
    undetermined_rules: int
    questions: int


class AssessmentResult(_Out):
    """The whole assessment."""

    schema_version: Literal[1] = 1
    tool: ToolInfo
    program: ProgramRef
    as_of: str
    summary: Summary
    pathways: list[PathwayResult]
    findings: list[FindingResult]
    make_or_buy: MakeOrBuy
    timeline: Timeline
    meetings: list[Meeting]
    risks: list[Risk]
    questions: list[Question]
    audit: Audit
