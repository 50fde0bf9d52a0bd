"""Pydantic models of the knowledge base: citations and pathways.

Knowledge is data with ids and provenance. Each citation records what the source is, who issued
it, when, whether it is final or a draft, how sure we are of what we took from it, and when a
person last checked it. This module only describes shapes; it must not read files.
"""

import typing
from datetime import date
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from cmcadvisor.models.program import ActivityId, MilestoneId, Stage
from cmcadvisor.models.program import MeetingType as MeetingTypeLiteral
from cmcadvisor.models.rule import Condition, Confidence, MakeOrBuyFactorId, PathwayStatus, TextPart

CITATION_ID_PATTERN = r"^CIT-[A-Z0-9][A-Z0-9-]{2,60}$"


class _Model(BaseModel):
    # Built at first use, not at import: a cold ``assess`` reads knowledge back from the cache
    # (see cmcadvisor.cache) and validates or serialises only a few of these models.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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
        description=(
            "When the team last checked the source (status, date, the point cited). `reviewed_on` is read as an older name."
        ),
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


class ReviewClockExample(_Model):
    """A worked example of a review-clock choice: the pathway's status, the program's own choice, the clock."""

    status: PathwayStatus
    review: Literal["standard", "priority"] | None = None  # the program file's timeline.review
    expect: Literal["standard", "priority"]


class ReviewClockChoice(_Model):
    """Which BLA review clock the timeline plans with, given this pathway's status.

    The program file's ``timeline.review`` wins; otherwise a status in ``statuses`` plans with
    ``clock`` and any other with the standard clock.
    """

    clock: Literal["priority"]
    statuses: Annotated[list[PathwayStatus], Field(min_length=1)]
    basis: Annotated[StrictStr, Field(min_length=10, max_length=600)]
    examples: list[ReviewClockExample] = Field(default_factory=list)


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
    review_clock: ReviewClockChoice | None = None


class MakeOrBuyThresholds(_Model):
    """Where the make-or-buy score turns into a recommendation."""

    decide: Annotated[float, Field(gt=0, lt=1)] = 0.15
    min_known_factors: Annotated[StrictInt, Field(ge=1, le=7)] = 4


class ConfidenceBand(_Model):
    """A make-or-buy confidence level and the least it takes (bands are tried in order; none met: low)."""

    confidence: Literal["high", "medium"]
    min_known_factors: Annotated[StrictInt, Field(ge=1, le=7)]
    min_margin: Annotated[float, Field(ge=0, le=1)]  # the score's distance from zero, at least
    basis: Annotated[StrictStr, Field(min_length=10, max_length=400)]


class MakeOrBuyExpect(_Model):
    """What a make-or-buy policy example must give."""

    factor_score: float | None = None
    recommendation: Literal["in_house", "cdmo", "hybrid", "undetermined"] | None = None
    confidence: Literal["high", "medium", "low"] | None = None


class MakeOrBuyExample(_Model):
    """A worked example of the make-or-buy policy: one consideration's votes, or a score and a count."""

    name: Annotated[StrictStr, Field(min_length=5, max_length=200)]
    votes: list[Annotated[StrictInt, Field(ge=-3, le=3)]] = Field(default_factory=list)  # + in-house, - CDMO
    score: Annotated[float, Field(ge=-1, le=1)] | None = None
    known_factors: Annotated[StrictInt, Field(ge=0, le=7)] | None = None
    expect: MakeOrBuyExpect


def _default_bands() -> list[ConfidenceBand]:
    return [
        ConfidenceBand(
            confidence="high", min_known_factors=6, min_margin=0.4, basis="six or more considerations judged, a clear lead"
        ),
        ConfidenceBand(confidence="medium", min_known_factors=5, min_margin=0.225, basis="five considerations judged, a lead"),
    ]


class MakeOrBuyConfig(_Model):
    """``knowledge/make_or_buy.yaml``: weights of the seven considerations, thresholds and policy."""

    basis: Annotated[StrictStr, Field(min_length=10)]
    weights: dict[MakeOrBuyFactorId, Annotated[float, Field(ge=0)]]
    # model_construct(): the defaults as MakeOrBuyThresholds() gives them (defaults are not
    # validated: validate_default is off), without building the deferred model at import.
    thresholds: MakeOrBuyThresholds = MakeOrBuyThresholds.model_construct()
    # A consideration's net vote is capped at this either way and divided by it (a score of -1..+1).
    vote_cap: Annotated[StrictInt, Field(ge=1, le=9)] = 3
    confidence: list[ConfidenceBand] = Field(default_factory=_default_bands)
    examples: list[MakeOrBuyExample] = Field(default_factory=list)
    # Per consideration, the program facts it is judged on. When some of them are given but no
    # factor rule votes, the consideration counts as judged (neutral), not unknown.
    evidence: dict[MakeOrBuyFactorId, list[StrictStr]] = Field(default_factory=dict)


ACTIVITY_IDS: tuple[str, ...] = typing.get_args(ActivityId)
MILESTONE_IDS: tuple[str, ...] = typing.get_args(MilestoneId)


class DurationFrom(_Model):
    """A duration read from a program fact (or, for a per-item activity, an item field) instead of the default."""

    fact: Annotated[StrictStr, Field(min_length=3, max_length=120)]  # ``a.b`` or ``a.b[].field``
    unit: Literal["days", "weeks", "months"]
    remaining_of: Annotated[StrictInt, Field(ge=1, le=240)] | None = None  # the duration is this many units less the fact
    basis: Annotated[StrictStr, Field(min_length=5, max_length=300)]


class PerItem(_Model):
    """An activity that exists once per item of a program collection (one order per piece of equipment)."""

    collection: Annotated[StrictStr, Field(min_length=3, max_length=120)]
    label: StrictStr  # the item field that names it
    due_field: StrictStr | None = None  # the item field holding its need-by date
    # The item field whose value names the milestone the activity must precede, and the milestone for each value.
    deadline_field: StrictStr | None = None
    deadlines: dict[StrictStr, MilestoneId] = Field(default_factory=dict)


class Activity(_Model):
    """A kind of timeline activity: default duration, basis, standard predecessors and when it is done.

    ``complete_when`` and ``in_progress_when`` are conditions in the rules' language over program
    facts (and, for a per-item activity, its item's fields); a condition that is not true (false
    or unknown) leaves the work planned. ``needed_for`` says, for a long-lead supply activity,
    which activities or milestones wait for it, by manufacturing strategy (``default`` for any
    other or no strategy); the program file's own ``needed_for`` replaces it.
    """

    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: Annotated[StrictStr, Field(min_length=3, max_length=200)]
    duration_days: Annotated[StrictInt, Field(ge=0, le=3650)]
    basis: Literal["source", "heuristic"]
    note: StrictStr | None = Field(None, max_length=600)
    citations: list[StrictStr] = Field(default_factory=list)
    depends_on: list[StrictStr] = Field(default_factory=list)
    complete_when: Condition | None = None
    in_progress_when: Condition | None = None
    in_progress_remaining: Annotated[float, Field(gt=0, le=1)] = 0.5  # the share of the duration left for work in progress
    duration_from: DurationFrom | None = None
    per_item: PerItem | None = None
    needed_for: dict[StrictStr, list[StrictStr]] = Field(default_factory=dict)
    # The program field that replaces the default: ``a.b.needed_for``, or ``a.b[].needed_for`` per item.
    needed_for_field: StrictStr | None = Field(None, max_length=120)


class MilestoneInfo(_Model):
    """A milestone of the timeline: its name and the clinical stage from which it has happened."""

    id: MilestoneId
    name: Annotated[StrictStr, Field(min_length=3, max_length=200)]
    achieved_from_stage: Stage | None = None


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
    milestones: list[MilestoneInfo]
    review: ReviewClock


class CitationsFile(_Model):
    """``knowledge/citations.yaml``."""

    citations: list[Citation]


class PathwaysFile(_Model):
    """``knowledge/pathways.yaml``."""

    pathways: list[Pathway]


# FDA, EMA and PMDA meeting types and CTD sections: cmcadvisor/models/meetings.py.

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
    selection: RiskSelection = RiskSelection.model_construct()  # see MakeOrBuyConfig.thresholds
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
    money: MoneyDisplay = MoneyDisplay.model_construct()  # see MakeOrBuyConfig.thresholds
    months: Annotated[list[Label], Field(min_length=12, max_length=12)]
    caveats: CaveatDisplay
