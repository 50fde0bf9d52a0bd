"""Pydantic models of the meeting knowledge (``knowledge/meetings.yaml``, ``ctd_sections.yaml``) and of a drafted brief.

The meeting knowledge is policy as data: each agency (FDA, EMA, PMDA) with its regions, the words
its briefs use and its request and package outline; each meeting type with its agency, stages,
dates (PDUFA VII day counts for FDA, a procedure timetable for EMA, none where the agency
publishes none) and the tests, written in the rule condition language, that make it fit a
program or not. The brief models are what the renderers print. This module only describes
shapes; it must not read files or evaluate anything.
"""

import typing
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from cmcadvisor.models.program import MeetingType as MeetingTypeLiteral
from cmcadvisor.models.program import MilestoneId, Region, Stage
from cmcadvisor.models.result import CitationRef, Meeting, MeetingQuestion, ProgramRef, Scalar
from cmcadvisor.models.rule import Condition, Confidence

# The FDA meeting type ids of the contract, then the other agencies' meeting types (brief only).
MEETING_TYPE_IDS: tuple[str, ...] = typing.get_args(MeetingTypeLiteral)
AGENCY_MEETING_TYPE_IDS: tuple[str, ...] = (
    "ema_scientific_advice",
    "ema_prime_kickoff",
    "pmda_rs_strategy",
    "pmda_clinical_trial",
    "pmda_prior_assessment",
)
BRIEF_MEETING_TYPE_IDS: tuple[str, ...] = MEETING_TYPE_IDS + AGENCY_MEETING_TYPE_IDS
Discipline = Literal["cmc", "nonclinical", "clinical", "regulatory", "business"]
Fit = Literal["fits", "check", "does_not_fit"]
Days = Annotated[StrictInt, Field(ge=0, le=365)]
Words = Annotated[StrictStr, Field(min_length=3, max_length=1200)]


class _Model(BaseModel):
    # Built at first use, not at import: a cold ``assess`` reads the meeting knowledge back from
    # the cache (see cmcadvisor.cache) and never validates or serialises it.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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


class ProcedureStep(_Model):
    """One dated step of an agency's procedure, counted in days from the procedure's start (day 0)."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: Annotated[StrictStr, Field(min_length=3, max_length=200)]
    day: Annotated[StrictInt, Field(ge=-365, le=365)]
    rule: Words


class Procedure(_Model):
    """A non-FDA procedure's timetable: the meeting falls on ``meeting_day`` after the start.

    ``steps`` are empty where the agency publishes no timetable in the sources read; then
    ``no_dates`` says why, and the brief sets no date.
    """

    meeting_day: Annotated[StrictInt, Field(ge=0, le=365)] | None = None
    steps: list[ProcedureStep] = Field(default_factory=list)
    no_dates: Words | None = None
    window_text: Words | None = None  # how the earliest date is counted, in words ("about 20 days of validation ...")
    package_rule: Words | None = None  # when the briefing document or consultation materials are due, in words

    @model_validator(mode="after")
    def _published_or_not(self) -> "Procedure":
        if not self.steps and not self.no_dates:
            raise ValueError("a procedure without steps must say why no date can be set (no_dates)")
        if self.steps and self.meeting_day is None:
            raise ValueError("a procedure with steps needs meeting_day")
        if self.steps and not any(s.id == "request_due" for s in self.steps):
            raise ValueError("a procedure with steps needs a request_due step")
        return self


class FitOutcome(_Model):
    """What one fit test does: a reason to print and, optionally, a worse fit (or an exact one)."""

    reason: Words | None = None
    fit: Fit | None = None  # the fit can only get worse (fits -> check -> does_not_fit)
    set_fit: Fit | None = None  # the fit becomes exactly this (e.g. a planned seamless design makes "check")


class FitTest(_Model):
    """One test of whether a meeting type fits a program, in the rule condition language.

    ``given`` (when present) must be true for the test to apply. ``when`` is then true, false or
    unknown (three-valued); the matching outcome applies. Reasons may name facts as ``{fact}``,
    which print as their display labels.
    """

    given: Condition | None = None
    when: Condition
    if_true: FitOutcome | None = None
    if_false: FitOutcome | None = None
    if_unknown: FitOutcome | None = None


class FitExample(_Model):
    """A worked example of a type's fit, run by the tests like a rule's examples: given facts, the expected fit.

    ``facts`` are program facts by path (lists for list facts such as ``program.regions``) plus
    meeting facts; absent facts are unknown. ``suggested`` (when given) is whether the type is then
    one of the program's next meetings.
    """

    name: Annotated[StrictStr, Field(min_length=3, max_length=200)]
    facts: dict[Annotated[StrictStr, Field(pattern=r"^[a-z0-9_.]+$")], StrictBool | StrictInt | StrictStr | list[StrictStr]]
    fit: Fit
    suggested: StrictBool | None = None


class MeetingType(_Model):
    """One meeting type of one agency: what it is for, when, its dates and what makes it fit."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
    agency: Annotated[StrictStr, Field(pattern=r"^[a-z]+$")] = "fda"
    name: Annotated[StrictStr, Field(min_length=3, max_length=120)]
    fda_category: Annotated[StrictStr, Field(min_length=3, max_length=60)]  # the agency's category (contract name)
    category_note: StrictStr | None = Field(None, max_length=600)
    purpose: Annotated[StrictStr, Field(min_length=10, max_length=1200)]
    when_to_ask: StrictStr | None = Field(None, max_length=800)  # relative to the development stage, in words
    # FDA (PDUFA VII) day counts; every FDA type has them.
    reply_days: Days | None = None
    meeting_within_days: Days | None = None
    package: PackageTiming | None = None
    package_alternative: StrictStr | None = Field(None, max_length=600)  # an open conflict (C1): the other reading
    preliminary_responses_days_before: Days | None = None
    preliminary_responses_guidance_days_before: Days | None = None  # an open conflict (C2): the guidance default
    sponsor_reply: SponsorReply | None = None
    # Other agencies: the procedure's timetable.
    procedure: Procedure | None = None
    meeting_minutes: Annotated[StrictInt, Field(ge=1, le=480)] | None = None
    format_note: StrictStr | None = Field(None, max_length=300)
    max_pages: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None
    topic_limit: Annotated[StrictInt, Field(ge=1, le=20)] | None = None
    question_min: Annotated[StrictInt, Field(ge=1, le=50)] | None = None
    question_limit: Annotated[StrictInt, Field(ge=1, le=50)] | None = None
    discipline_limit: Annotated[StrictInt, Field(ge=1, le=10)] | None = None
    stages: Annotated[list[Stage], Field(min_length=1)]
    fit: list[FitTest] = Field(default_factory=list)
    suggest_when: Condition | None = None  # when true (and the type does not fail its fit), it is a next meeting
    examples: list[FitExample] = Field(default_factory=list)
    milestones: MeetingMilestones | None = None
    topics: Annotated[list[StrictStr], Field(min_length=1)]
    milestone_phrase: Annotated[StrictStr, Field(min_length=5, max_length=200)]
    assumptions: list[Annotated[StrictStr, Field(min_length=10, max_length=1000)]] = Field(default_factory=list)
    confidence: Confidence
    citations: Annotated[list[StrictStr], Field(min_length=1)]

    @model_validator(mode="after")
    def _timing(self) -> "MeetingType":
        fda = (
            self.reply_days,
            self.meeting_within_days,
            self.package,
            self.preliminary_responses_days_before,
            self.sponsor_reply,
        )
        if self.agency == "fda" and any(v is None for v in fda):
            raise ValueError(
                "an FDA meeting type needs reply_days, meeting_within_days, package, preliminary_responses_days_before "
                "and sponsor_reply"
            )
        if self.agency != "fda" and self.procedure is None:
            raise ValueError("a meeting type of another agency needs a procedure")
        return self


class Term(_Model):
    """A US term the rules' finding titles use, and how this agency's questions name it instead."""

    us: Annotated[StrictStr, Field(pattern=r"^[A-Za-z][A-Za-z -]*$", max_length=40)]  # "BLA": whole words only
    here: Annotated[StrictStr, Field(min_length=2, max_length=80)]  # "marketing authorisation application"
    # A point that already names one of these (e.g. "the BLA or MAA") is left as it is.
    unless: list[Annotated[StrictStr, Field(min_length=2, max_length=80)]] = Field(default_factory=list)


class OutlineEntry(_Model):
    """One item of the meeting request or package outline, in the order the agency expects."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: Annotated[StrictStr, Field(min_length=3, max_length=200)]
    note: StrictStr | None = Field(None, max_length=600)
    lines: list[Words] = Field(default_factory=list)  # fixed lines for this agency, in place of the drafted ones


class CdrpSettings(_Model):
    """Which findings signal a CDRP candidate, and what to say about its extra CMC meetings."""

    rules: Annotated[list[StrictStr], Field(min_length=1)]
    note: Annotated[StrictStr, Field(min_length=10, max_length=1200)]
    citations: Annotated[list[StrictStr], Field(min_length=1)]


class Agency(_Model):
    """One agency: where it applies, how its briefs word things, and its request and package outline."""

    id: Annotated[StrictStr, Field(pattern=r"^[a-z]+$")]
    name: Annotated[StrictStr, Field(min_length=3, max_length=120)]
    short: Annotated[StrictStr, Field(min_length=2, max_length=20)]  # "FDA", "EMA", "PMDA"
    regions: Annotated[list[Region], Field(min_length=1)]
    region_label: Annotated[StrictStr, Field(min_length=2, max_length=60)]  # "the United States"
    # A brief for this agency is refused when the program's regions leave it out (the FDA stays the default).
    region_required: StrictBool = False
    # FDA only: the PDUFA VII notes, the CDRP note and FDA's counting of calendar days apply.
    pdufa_goals: StrictBool = False
    own_issuers: list[StrictStr] = Field(default_factory=list)  # a finding citing one of these is for this agency
    own_prefixes: list[StrictStr] = Field(default_factory=list)
    foreign_issuers: list[StrictStr] = Field(default_factory=list)  # ...and citing only these, it is not
    foreign_prefixes: list[StrictStr] = Field(default_factory=list)  # issuers starting like this are foreign too
    # A finding with no source of this agency's is left out when any (or, with "all", every) source is foreign.
    leave_out_when: Literal["any_foreign", "all_foreign"] = "any_foreign"
    disciplines: dict[Discipline, Annotated[StrictStr, Field(min_length=3, max_length=80)]]
    check_against: Words  # the disclaimer's "check every date and fact against ..."
    request_outline: Annotated[list[OutlineEntry], Field(min_length=1)]
    package_outline: Annotated[list[OutlineEntry], Field(min_length=1)]
    request_title: Annotated[StrictStr, Field(min_length=3, max_length=80)] = "Meeting request"
    package_title: Annotated[StrictStr, Field(min_length=3, max_length=80)] = "Briefing package outline"
    request_citations: list[StrictStr] = Field(default_factory=list)
    notes: list[Words] = Field(default_factory=list)  # assumptions every meeting of this agency carries
    # US terms in the points of a question (finding titles), as this agency's questions say them.
    terms: list[Term] = Field(default_factory=list)

    def discipline_label(self, discipline: str) -> str:
        """How this agency's briefs name a discipline (the id itself if the agency does not name it)."""
        return next((label for key, label in self.disciplines.items() if key == discipline), discipline)


class MeetingsFile(_Model):
    """``knowledge/meetings.yaml``."""

    basis: Annotated[StrictStr, Field(min_length=10)]
    pdufa_vii_end: date
    pdufa_note: Annotated[StrictStr, Field(min_length=10, max_length=800)]
    scheduling_note: Annotated[StrictStr, Field(min_length=10, max_length=800)]
    max_questions: Annotated[StrictInt, Field(ge=1, le=50)]
    cdrp: CdrpSettings
    agencies: Annotated[list[Agency], Field(min_length=1)]
    types: Annotated[list[MeetingType], Field(min_length=1)]


class CtdSection(_Model):
    """Where a contract topic goes in CTD Module 3, and which discipline answers it."""

    topic: StrictStr
    label: Annotated[StrictStr, Field(min_length=3, max_length=120)]
    discipline: Discipline
    section: StrictStr | None = Field(None, pattern=r"^3\.[23][0-9A-Z.;–\- ]*$", max_length=120)
    also: list[Annotated[StrictStr, Field(max_length=120)]] = Field(default_factory=list)
    basis: Annotated[StrictStr, Field(min_length=3, max_length=600)]
    sheet_mark: StrictStr | None = Field(None, max_length=60)
    confidence: Confidence
    # How a question on this topic opens, up to the meeting's milestone phrase ("... is adequate").
    ask: StrictStr | None = Field(None, pattern=r"^Does the Agency agree ", min_length=30, max_length=300)


class CtdSectionsFile(_Model):
    """``knowledge/ctd_sections.yaml``."""

    citations: list[StrictStr] = Field(default_factory=list)
    sections: list[CtdSection]


# ---------------------------------------------------------------- the outline prose (templates/brief_outline.yaml)

OutlineBlock = Literal[
    "meeting_type",
    "feedback",
    "agenda",
    "questions",
    "disciplines",
    "dates",
    "milestones",
    "interactions",
    "designations",
    "attachments",
]


class OutlineChoice(_Model):
    """One alternative of a ``choose`` entry: its text, shown when ``when`` is true (always without one)."""

    when: Condition | None = None
    text: Words


class OutlineLine(_Model):
    """One entry of an outline item's prose: exactly one of text, choose, facts, block or include."""

    text: Words | None = None
    when: Condition | None = None  # only with text
    choose: list[OutlineChoice] | None = None
    facts: list[Annotated[StrictStr, Field(pattern=r"^[a-z0-9_.]+$")]] | None = None
    block: OutlineBlock | None = None
    include: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "OutlineLine":
        kinds = [k for k in ("text", "choose", "facts", "block", "include") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("an outline entry is exactly one of text, choose, facts, block or include")
        if self.when is not None and self.text is None:
            raise ValueError("`when` goes with `text` (use `choose` for alternatives)")
        return self


class OutlineProseFile(_Model):
    """``templates/brief_outline.yaml``: the prose of every request and package item."""

    items: dict[Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")], list[OutlineLine]]


# ---------------------------------------------------------------- the brief


class _BriefModel(BaseModel):
    # Built at first use: only ``brief`` and ``explain`` make these (``assess`` one fit check per meeting).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class KeyDate(_BriefModel):
    """One date of the meeting timeline."""

    id: str
    label: str
    date: str | None
    rule: str


class OutlineItem(_BriefModel):
    """One numbered item of the meeting request or briefing package."""

    number: int
    id: str
    title: str
    lines: list[str] = Field(default_factory=list)
    note: str | None = None


class QuestionGroup(_BriefModel):
    """The questions for one discipline."""

    discipline: str
    label: str
    questions: list[MeetingQuestion]


class TraceEntry(_BriefModel):
    """Where one part of the brief comes from, for the internal traceability appendix (never the body)."""

    item: str
    rules: list[str] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
    severity: str | None = None
    facts: dict[str, Scalar | list[str]] = Field(default_factory=dict)
    citations: list[str] = Field(default_factory=list)


class Brief(_BriefModel):
    """A meeting, its request and package outline, and the sources behind them: what the renderers print.

    Everything but ``trace`` is agency-facing text: no rule, finding or citation ids and no fact
    paths. ``question_sources`` gives each question's sources as numbers into ``sources`` (1-based).
    """

    title: str
    meeting_label: str  # the meeting's name, with its category where that adds something (meetings.brief.meeting_label)
    program: ProgramRef
    as_of: str
    tool_version: str
    disclaimer: str
    meeting: Meeting
    key_dates: list[KeyDate]
    request: list[OutlineItem]
    package: list[OutlineItem]
    question_groups: list[QuestionGroup]
    attachments: list[str]
    sources: list[CitationRef]
    fit_label: str = ""
    as_of_text: str = ""
    sponsor: str | None = None
    question_sources: dict[int, list[int]] = Field(default_factory=dict)
    trace: list[TraceEntry] = Field(default_factory=list)
    agency: str = "fda"
    agency_short: str = "FDA"
    request_title: str = "Meeting request"
    package_title: str = "Briefing package outline"
    when_to_ask: str | None = None


# ---------------------------------------------------------------- explain


class FitCheck(_BriefModel):
    """One test behind a meeting type's fit: what it tested, its three-valued result and its effect."""

    test: str  # what was tested, in words
    result: Literal["true", "false", "unknown", "not applicable"]
    effect: Fit | None = None
    reason: str | None = None
    missing: list[str] = Field(default_factory=list)  # facts whose absence left the test unknown


class QuestionSource(_BriefModel):
    """The rules and findings behind one drafted question."""

    number: int
    text: str
    rules: list[str]
    findings: list[str]
    citations: list[str] = Field(default_factory=list)


class MeetingExplanation(_BriefModel):
    """Why a meeting type fits a program or not, its dates and their basis, and the rules behind its questions."""

    type: str
    name: str
    agency: str
    category: str
    purpose: str
    when_to_ask: str | None = None
    fit: Fit
    fit_reasons: list[str]
    checks: list[FitCheck]
    suggested: bool
    suggested_types: list[str]
    dates: list[KeyDate]
    date_basis: str
    date_notes: list[str] = Field(default_factory=list)
    questions: list[QuestionSource] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)
