"""Pydantic models of the knowledge base: citations and pathways.

Knowledge is data with ids and provenance. Each citation records what the source is, who issued
it, when, whether it is final or a draft, how sure we are of what we took from it, and when a
person last checked it. This module only describes shapes; it must not read files.
"""

from __future__ import annotations

import typing
from datetime import date
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from cmcadvisor.models.program import ActivityId, Stage
from cmcadvisor.models.program import MeetingType as MeetingTypeLiteral
from cmcadvisor.models.rule import Condition, Confidence, MakeOrBuyFactorId, TextPart

CITATION_ID_PATTERN = r"^CIT-[A-Z0-9][A-Z0-9-]{2,60}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Citation(_Model):
    """One source a rule or knowledge entry relies on."""

    id: Annotated[StrictStr, Field(pattern=CITATION_ID_PATTERN)]
    title: Annotated[StrictStr, Field(min_length=3, max_length=400)]
    issuer: Annotated[StrictStr, Field(min_length=2, max_length=200)]
    year: Annotated[StrictInt, Field(ge=1900, le=2100)]
    issued: StrictStr | None = Field(None, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$", description="YYYY, YYYY-MM or YYYY-MM-DD")
    kind: Literal[
        "guidance",
        "regulation",
        "statute",
        "federal_register",
        "web_page",
        "ich",
        "ema",
        "mhlw",
        "literature",
        "industry",
        "heuristic",  # a cmcadvisor planning assumption, not a published source: always unverified
    ]
    status: Literal["final", "draft", "superseded", "withdrawn", "current"]
    section: StrictStr | None = Field(None, max_length=300)
    url: StrictStr | None = Field(None, max_length=500, pattern=r"^https?://")
    confidence: Confidence
    last_checked: date = Field(
        validation_alias=AliasChoices("last_checked", "reviewed_on"),
        description="When the team last checked the source (status, date, the point cited). `reviewed_on` is read as an older name.",
    )
    recheck_by: date | None = Field(
        None, description="For a draft or an announced change: the date to look again for a final version."
    )
    superseded_by: StrictStr | None = None
    valid_until: date | None = Field(None, description="When the source stops applying (e.g. the end of a PDUFA period).")
    note: StrictStr | None = Field(None, max_length=1000)
    # Which products the source is about, in the rules' condition language: where the program's
    # facts rule it out (an AAV vector is no HCT/P), the citation is not shown for that program.
    applies_when: Condition | None = None

    @field_validator("issued", mode="before")
    @classmethod
    def _date_as_text(cls, value: object) -> object:
        """YAML reads 2023-07-13 as a date; keep the text form."""
        return value.isoformat() if isinstance(value, date) else value


class PathwayTiming(_Model):
    """When a pathway is requested, as its source states it, tied to the program's milestones.

    ``by`` is the milestone the request should precede (``with_`` the one it goes in with); the
    next step is dated from the program's planned date for it or, for a meeting milestone, from
    the recommended FDA meeting. ``rule`` says the timing in words and ``citations`` where it is
    written; nothing here may be inferred beyond what the source says.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    rule: Annotated[StrictStr, Field(min_length=10, max_length=400)]
    by: MilestoneId | None = None
    with_: MilestoneId | None = Field(None, alias="with")
    meeting: MeetingTypeLiteral | None = None  # the FDA meeting type held at the ``by`` milestone
    designation: StrictStr | None = Field(None, pattern=r"^designations\.[a-z_]+$")  # skip dating once requested
    citations: Annotated[list[StrictStr], Field(min_length=1)]


class Pathway(_Model):
    """One expedited program, by its contract id."""

    id: StrictStr
    name: Annotated[StrictStr, Field(min_length=2, max_length=200)]
    region: Literal["us", "eu", "jp"]
    summary: Annotated[StrictStr, Field(min_length=10, max_length=1500)]
    citations: Annotated[list[StrictStr], Field(min_length=1)]
    # What to do while the status cannot be decided (the row still needs a next step).
    undetermined_step: StrictStr | None = Field(None, min_length=10, max_length=600)
    timing: PathwayTiming | None = None


class MakeOrBuyThresholds(_Model):
    """Where the make-or-buy score turns into a recommendation."""

    decide: Annotated[float, Field(gt=0, lt=1)] = 0.15
    min_known_factors: Annotated[StrictInt, Field(ge=1, le=7)] = 4


class MakeOrBuyConfig(_Model):
    """``knowledge/make_or_buy.yaml``: weights of the seven considerations and thresholds."""

    basis: Annotated[StrictStr, Field(min_length=10)]
    weights: dict[MakeOrBuyFactorId, Annotated[float, Field(ge=0)]]
    thresholds: MakeOrBuyThresholds = MakeOrBuyThresholds()
    # Per consideration, the program facts it is judged on. When some of them are given but no
    # factor rule votes, the consideration counts as judged (neutral), not unknown.
    evidence: dict[MakeOrBuyFactorId, list[StrictStr]] = Field(default_factory=dict)


ACTIVITY_IDS: tuple[str, ...] = typing.get_args(ActivityId)
MilestoneId = Literal[
    "ind_submission",
    "first_patient_dosed",
    "eop2_meeting",
    "pivotal_start",
    "pre_bla_meeting",
    "bla_submission",
    "bla_approval",
    "commercial_launch",
]
MILESTONE_IDS: tuple[str, ...] = typing.get_args(MilestoneId)


class Activity(_Model):
    """A kind of timeline activity: default duration, basis and standard predecessors."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: Annotated[StrictStr, Field(min_length=3, max_length=200)]
    duration_days: Annotated[StrictInt, Field(ge=0, le=3650)]
    basis: Literal["source", "heuristic"]
    note: StrictStr | None = Field(None, max_length=600)
    citations: list[StrictStr] = Field(default_factory=list)
    depends_on: list[StrictStr] = Field(default_factory=list)


class ReviewClock(_Model):
    """The BLA review clock under PDUFA."""

    filing_days: Annotated[StrictInt, Field(ge=0, le=365)]
    standard_months: Annotated[StrictInt, Field(ge=1, le=24)]
    priority_months: Annotated[StrictInt, Field(ge=1, le=24)]
    inspection_fraction: Annotated[float, Field(ge=0, le=1)]
    citations: list[StrictStr] = Field(default_factory=list)


class ActivitiesFile(_Model):
    """``knowledge/activities.yaml``."""

    activities: list[Activity]
    review: ReviewClock


class CitationsFile(_Model):
    """``knowledge/citations.yaml``."""

    citations: list[Citation]


class PathwaysFile(_Model):
    """``knowledge/pathways.yaml``."""

    pathways: list[Pathway]


# ---------------------------------------------------------------- FDA meetings and CTD sections

MeetingTypeId = MeetingTypeLiteral
MEETING_TYPE_IDS: tuple[str, ...] = typing.get_args(MeetingTypeLiteral)
StageId = Stage
Discipline = Literal["cmc", "nonclinical", "clinical", "regulatory", "business"]
Days = Annotated[StrictInt, Field(ge=0, le=365)]


class PackageWithRequest(_Model):
    """The meeting package goes in with the meeting request."""

    with_request: Literal[True]
    rule: Annotated[StrictStr, Field(min_length=5, max_length=300)]


class PackageBefore(_Model):
    """The meeting package is due no later than N days before the meeting."""

    days_before: Annotated[StrictInt, Field(ge=1, le=365)]
    rule: Annotated[StrictStr, Field(min_length=5, max_length=300)]


PackageTiming = PackageWithRequest | PackageBefore


class SponsorReply(_Model):
    """When the sponsor answers FDA's preliminary responses."""

    rule: Annotated[StrictStr, Field(min_length=5, max_length=300)]
    days_after_preliminary: Days | None = None
    days_before_meeting: Days | None = None


class MeetingMilestones(_Model):
    """How a meeting type relates to the program's clinical.milestones."""

    planned: MilestoneId | None = None  # the milestone that holds this meeting's planned date
    before: MilestoneId | None = None  # the meeting should be held before this milestone
    request_months_before: Annotated[StrictInt, Field(ge=1, le=24)] | None = None  # request >= N months before `before`
    request_basis: StrictStr | None = Field(None, max_length=400)


class MeetingType(_Model):
    """One FDA formal meeting type (PDUFA VII meeting management), by its contract id."""

    id: MeetingTypeId
    name: Annotated[StrictStr, Field(min_length=3, max_length=120)]
    fda_category: Annotated[StrictStr, Field(min_length=3, max_length=60)]
    category_note: StrictStr | None = Field(None, max_length=600)
    purpose: Annotated[StrictStr, Field(min_length=10, max_length=800)]
    reply_days: Days
    meeting_within_days: Days
    package: PackageTiming
    package_alternative: StrictStr | None = Field(None, max_length=600)  # an open conflict (C1): the other reading
    preliminary_responses_days_before: Days
    preliminary_responses_guidance_days_before: Days | None = None  # an open conflict (C2): the guidance default
    sponsor_reply: SponsorReply
    meeting_minutes: Annotated[StrictInt, Field(ge=1, le=480)] | None = None
    format_note: StrictStr | None = Field(None, max_length=300)
    max_pages: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None
    topic_limit: Annotated[StrictInt, Field(ge=1, le=20)] | None = None
    question_min: Annotated[StrictInt, Field(ge=1, le=50)] | None = None
    question_limit: Annotated[StrictInt, Field(ge=1, le=50)] | None = None
    discipline_limit: Annotated[StrictInt, Field(ge=1, le=10)] | None = None
    stages: Annotated[list[StageId], Field(min_length=1)]
    milestones: MeetingMilestones | None = None
    topics: Annotated[list[StrictStr], Field(min_length=1)]
    milestone_phrase: Annotated[StrictStr, Field(min_length=5, max_length=200)]
    assumptions: list[Annotated[StrictStr, Field(min_length=10, max_length=1000)]] = Field(default_factory=list)
    confidence: Confidence
    citations: Annotated[list[StrictStr], Field(min_length=1)]


class OutlineEntry(_Model):
    """One item of the meeting request or package outline, in the order FDA expects."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: Annotated[StrictStr, Field(min_length=3, max_length=200)]
    note: StrictStr | None = Field(None, max_length=600)


class CdrpSettings(_Model):
    """Which findings signal a CDRP candidate, and what to say about its extra CMC meetings."""

    rules: Annotated[list[StrictStr], Field(min_length=1)]
    note: Annotated[StrictStr, Field(min_length=10, max_length=1200)]
    citations: Annotated[list[StrictStr], Field(min_length=1)]


class MeetingsFile(_Model):
    """``knowledge/meetings.yaml``."""

    basis: Annotated[StrictStr, Field(min_length=10)]
    pdufa_vii_end: date
    pdufa_note: Annotated[StrictStr, Field(min_length=10, max_length=800)]
    scheduling_note: Annotated[StrictStr, Field(min_length=10, max_length=800)]
    max_questions: Annotated[StrictInt, Field(ge=1, le=50)]
    non_us_issuers: list[StrictStr] = Field(default_factory=list)
    request_outline: Annotated[list[OutlineEntry], Field(min_length=1)]
    package_outline: Annotated[list[OutlineEntry], Field(min_length=1)]
    request_citations: list[StrictStr] = Field(default_factory=list)
    cdrp: CdrpSettings
    types: Annotated[list[MeetingType], Field(min_length=1)]


class CtdSection(_Model):
    """Where a contract topic goes in CTD Module 3, and which FDA discipline answers it."""

    topic: StrictStr
    label: Annotated[StrictStr, Field(min_length=3, max_length=120)]
    discipline: Discipline
    section: StrictStr | None = Field(None, pattern=r"^3\.[23][0-9A-Z.;–\- ]*$", max_length=120)
    also: list[Annotated[StrictStr, Field(max_length=120)]] = Field(default_factory=list)
    basis: Annotated[StrictStr, Field(min_length=3, max_length=600)]
    sheet_mark: StrictStr | None = Field(None, max_length=60)
    confidence: Confidence
    # How a question to FDA on this topic opens, up to the meeting's milestone phrase ("... is adequate").
    ask: StrictStr | None = Field(None, pattern=r"^Does the Agency agree ", min_length=30, max_length=300)


class CtdSectionsFile(_Model):
    """``knowledge/ctd_sections.yaml``."""

    citations: list[StrictStr] = Field(default_factory=list)
    sections: list[CtdSection]


RISK_CATEGORY_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
FindingKind = Literal["requirement", "gap", "recommendation", "risk", "inconsistency"]


Parts = Annotated[list[TextPart], Field(min_length=1, max_length=12)]


class RiskCategory(_Model):
    """One category of the risk register: what the risk does, how to treat it and who owns it.

    ``effect``, ``mitigation`` and ``trigger`` are one text, or sentences each with the products
    it applies to (``applies_when``), so an in vivo vector program never reads cell-therapy advice.
    """

    name: Annotated[StrictStr, Field(min_length=3, max_length=120)]
    topics: list[StrictStr] = Field(default_factory=list, max_length=40)
    effect: Annotated[StrictStr, Field(min_length=10, max_length=1000)] | Parts
    mitigation: Annotated[StrictStr, Field(min_length=10, max_length=1500)] | Parts
    owner: Annotated[StrictStr, Field(min_length=2, max_length=120)]
    trigger: Annotated[StrictStr, Field(min_length=10, max_length=800)] | Parts
    citations: Annotated[list[StrictStr], Field(min_length=1, max_length=12)]
    basis: Annotated[StrictStr, Field(min_length=10, max_length=1500)]


class RiskScoring(_Model):
    """How a finding's likelihood and impact (1 to 5 each) are derived: a cmcadvisor heuristic."""

    basis: Annotated[StrictStr, Field(min_length=10, max_length=2000)]
    impact_by_severity: dict[
        Literal["critical", "high", "medium", "low", "info"],
        Annotated[StrictInt, Field(ge=1, le=5)],
    ]
    likelihood_by_kind: dict[FindingKind, Annotated[StrictInt, Field(ge=1, le=5)]]
    unverified_adjustment: Annotated[StrictInt, Field(ge=-4, le=0)] = -1
    likelihood_floor: Annotated[StrictInt, Field(ge=1, le=5)] = 1


class RiskSelection(_Model):
    """Which findings enter the register."""

    statuses: Annotated[list[Literal["open", "waived"]], Field(min_length=1)] = ["open", "waived"]
    kinds: list[FindingKind] = ["risk", "gap", "inconsistency"]
    kinds_if_severe: list[FindingKind] = ["requirement", "recommendation"]
    severe: list[Literal["critical", "high", "medium", "low", "info"]] = ["critical", "high"]


class RiskCategoriesFile(_Model):
    """``knowledge/risk_categories.yaml``: the register's categories, selection and scoring."""

    basis: Annotated[StrictStr, Field(min_length=10, max_length=2000)]
    fallback: Annotated[StrictStr, Field(pattern=RISK_CATEGORY_ID_PATTERN)]
    selection: RiskSelection = RiskSelection()
    scoring: RiskScoring
    categories: dict[Annotated[StrictStr, Field(pattern=RISK_CATEGORY_ID_PATTERN)], RiskCategory]


# ---------------------------------------------------------------- display vocabulary

UnitId = Literal[
    "usd", "weeks", "months", "days", "percent", "count", "date", "lots", "doses", "patients", "people", "years", "stage"
]
Label = Annotated[StrictStr, Field(min_length=1, max_length=120)]


class FactDisplay(_Model):
    """How one fact reads in prose: its label and, for a number, its unit."""

    label: Label
    unit: UnitId | None = None


class UnitDisplay(_Model):
    """One unit: singular and plural words (``week``/``weeks``), or a symbol (``%``)."""

    singular: Annotated[StrictStr, Field(max_length=40)]
    plural: Annotated[StrictStr, Field(max_length=40)]


class MoneyDisplay(_Model):
    """How amounts read: ``US$ 8.0 million``."""

    currency: Label = "US$"
    million: Label = "million"
    billion: Label = "billion"


class CaveatDisplay(_Model):
    """Plain sentences that replace the knowledge base's confidence marks for readers."""

    confidence: dict[Literal["verified", "secondary", "unverified"], StrictStr]
    draft: Annotated[StrictStr, Field(min_length=5, max_length=300)]  # may hold {year}
    superseded: Annotated[StrictStr, Field(min_length=5, max_length=300)]
    heuristic: Annotated[StrictStr, Field(min_length=5, max_length=300)]
    source_codes: Annotated[list[StrictStr], Field(min_length=1)]  # regular expressions of authoring shorthand


class DisplayFile(_Model):
    """``knowledge/display.yaml``: the one display vocabulary (labels, units, plurals, caveats)."""

    basis: Annotated[StrictStr, Field(min_length=10, max_length=2000)]
    values: dict[StrictStr, Label]
    fields: dict[StrictStr, dict[StrictStr, Label]] = Field(default_factory=dict)
    facts: dict[StrictStr, FactDisplay]
    units: dict[UnitId, UnitDisplay]
    plurals: dict[StrictStr, Label] = Field(default_factory=dict)
    money: MoneyDisplay = MoneyDisplay()
    months: Annotated[list[Label], Field(min_length=12, max_length=12)]
    caveats: CaveatDisplay
