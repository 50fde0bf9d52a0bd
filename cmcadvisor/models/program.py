"""Pydantic models of the program file (input contract, schema_version 1).

Every field of ``shared/spec/program-file.md`` is here with the same name and nesting. Models
are strict (unknown keys are errors, values are not coerced across types) and frozen, and
every number, date and text field is bounded (docs/input-bounds.md) so that nothing that
validates can overflow a computation or put a control character into an output. Each
field's description is phrased as the question a CMC team would answer, because the
questionnaire is generated from it. This module must not read files or know about rules.
"""

import datetime
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

# Bounds of every number and date (docs/input-bounds.md). They keep every computation in range:
# dates plus the longest chain of activity durations and review clocks stay far below year 9999,
# and money stays a finite float. A value outside its bounds is refused with a located message.
DATE_MIN = datetime.date(1990, 1, 1)
DATE_MAX = datetime.date(2100, 12, 31)
MONEY_MAX = 10**13  # US$ 10 trillion
PEOPLE_MAX = 1_000_000_000  # prevalence, patients per year
COUNT_MAX = 1_000_000  # lots, headcounts
CENTERS_MAX = 100_000
DOSES_MAX = 1_000
DAYS_MAX = 3_650  # ten years
WEEKS_MAX = 520  # ten years
MONTHS_MAX = 240  # twenty years
RUNWAY_MONTHS_MAX = 1_200  # a hundred years

Date = Annotated[
    datetime.date,
    Field(
        ge=DATE_MIN, le=DATE_MAX, json_schema_extra={"formatMinimum": DATE_MIN.isoformat(), "formatMaximum": DATE_MAX.isoformat()}
    ),
]
People = Annotated[StrictInt, Field(ge=0, le=PEOPLE_MAX)]
Count = Annotated[StrictInt, Field(ge=0, le=COUNT_MAX)]
Centers = Annotated[StrictInt, Field(ge=0, le=CENTERS_MAX)]
Doses = Annotated[StrictInt, Field(ge=0, le=DOSES_MAX)]
Days = Annotated[StrictInt, Field(ge=0, le=DAYS_MAX)]
Weeks = Annotated[StrictInt, Field(ge=0, le=WEEKS_MAX)]
Months = Annotated[StrictInt, Field(ge=0, le=MONTHS_MAX)]
RunwayMonths = Annotated[StrictInt, Field(ge=0, le=RUNWAY_MONTHS_MAX)]
# Float first, so that a wrong type reads "a valid number"; both arms carry the bounds (so the
# JSON Schema shows them) and the float arm refuses inf and nan.
Money = Annotated[StrictFloat, Field(ge=0, le=MONEY_MAX, allow_inf_nan=False)] | Annotated[StrictInt, Field(ge=0, le=MONEY_MAX)]

# Characters no text field may hold: C0 controls (tab and line feed only in multi-line text),
# DEL, C1 controls, line and paragraph separators, bidirectional embeddings, overrides and
# isolates (they make audit text read differently from what it says) and the two
# non-characters XML forbids; lone surrogates are refused by pydantic itself. So no writer
# (Word, SVG, a terminal) ever sees them. The patterns are in the JSON Schema too.
_REFUSED = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff"
SINGLE_LINE_PATTERN = rf"^[^\t\n{_REFUSED}]*$"
MULTILINE_PATTERN = rf"^[^{_REFUSED}]*$"
# pattern -> (what kind of field, the characters it refuses)
TEXT_PATTERNS = {
    SINGLE_LINE_PATTERN: ("a one-line text field", re.compile(rf"[\t\n{_REFUSED}]")),
    MULTILINE_PATTERN: ("text", re.compile(rf"[{_REFUSED}]")),
}
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "BACKSPACE", 9: "TAB", 10: "LINE FEED", 11: "VERTICAL TAB", 12: "FORM FEED"}
_CONTROL_NAMES |= {13: "CARRIAGE RETURN", 0x1B: "ESC", 0x7F: "DEL", 0x85: "NEXT LINE"}


def describe_character(char: str) -> str:
    """``U+001B (ESC)``: a code point and its name, for messages about refused characters."""
    code = ord(char)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(char, "") or "a control character"
    return f"U+{code:04X} ({name})"


# Every text field is one of these two, or has a stricter pattern of its own (tests/test_validation_bounds.py).
Text = Annotated[StrictStr, Field(pattern=SINGLE_LINE_PATTERN)]
LongText = Annotated[StrictStr, Field(pattern=MULTILINE_PATTERN)]
Designation = Literal["none", "planned", "requested", "granted", "denied", "rescinded"]
Region = Literal["us", "eu", "jp"]
Stage = Literal["preclinical", "phase1", "phase2", "pivotal", "bla_preparation", "bla_under_review", "approved"]
STAGES: tuple[str, ...] = (
    "preclinical",
    "phase1",
    "phase2",
    "pivotal",
    "bla_preparation",
    "bla_under_review",
    "approved",
)
MeetingType = Literal["interact", "pre_ind", "type_a", "eop1", "eop2", "pre_bla", "type_c", "type_d"]


class _Model(BaseModel):
    # Built at first use, not at import: a program is validated as a whole (ProgramFile), so the
    # parts need no validator of their own unless some code builds one alone.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False, defer_build=True)


class ProgramInfo(_Model):
    """Identity of the program and the date the assessment is made as of."""

    id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._-]+$", min_length=1, max_length=80)] = Field(
        description=("What is the program's short identifier (letters, digits, . _ -)?")
    )
    name: Annotated[Text, Field(min_length=1, max_length=300)] = Field(description=("What is the program's name?"))
    sponsor: Text | None = Field(None, description=("Who is the sponsor?"), max_length=300)
    as_of: Date | None = Field(None, description=("As of which date is the assessment made (YYYY-MM-DD)?"))
    regions: list[Region] | None = Field(None, description=("Which regions does the program target (us, eu, jp)?"), max_length=3)
    # Additions to the contract (docs/contract-extensions.md): the EU and Japan pathway criteria turn on them.
    sponsor_type: Literal["sme", "academic", "large", "other"] | None = Field(
        None,
        description=(
            "What kind of sponsor is it in EU terms: an SME (a micro, small or medium-sized enterprise under the EU "
            "definition), an academic institution, a larger company, or another kind of organisation?"
        ),
    )
    japan_first_filing: StrictBool | None = Field(
        None,
        description=(
            "Will the Japanese application be filed first in the world, or within about 30 days of the first filing anywhere?"
        ),
    )


class Product(_Model):
    """What the product is: the modality facts most CMC rules turn on."""

    cell_source: Literal["autologous", "allogeneic", "xenogeneic", "none"] | None = Field(
        None, description=("Are the cells autologous, allogeneic, xenogeneic, or is there no cell (in vivo product)?")
    )
    cell_type: Literal["t_cell", "nk_cell", "hsc", "msc", "til", "islet", "ipsc_derived", "tissue", "other", "none"] | None = (
        Field(None, description=("Which cell type is the product made of?"))
    )
    engineered_receptor: Literal["car", "tcr", "none"] | None = Field(
        None, description=("Does the product carry an engineered receptor (CAR, TCR)?")
    )
    genetic_modification: Literal["none", "viral_vector", "genome_editing", "non_viral"] | None = Field(
        None, description=("How is the product genetically modified, if at all?")
    )
    delivery: Literal["ex_vivo", "in_vivo"] | None = Field(
        None, description=("Is the product made ex vivo or delivered in vivo?")
    )
    vector: (
        Literal["none", "lentiviral", "gammaretroviral", "aav", "adenoviral", "hsv", "other_viral", "plasmid", "lnp", "other"]
        | None
    ) = Field(None, description=("Which vector or delivery system does the product use?"))
    editing: Literal["none", "nuclease", "base_editing", "prime_editing", "epigenetic"] | None = Field(
        None, description=("Which genome-editing technology does the product use, if any?")
    )
    replication_competent: StrictBool | None = Field(
        None, description=("Is the product a replication-competent virus (e.g. oncolytic)?")
    )
    tissue_engineered: StrictBool | None = Field(None, description=("Is the product a tissue-engineered product?"))
    regulated_solely_under_361: StrictBool | None = Field(
        None, description=("Is the product a 361 HCT/P regulated solely under PHS Act s.361 and 21 CFR 1271?")
    )
    formulation: Literal["cryopreserved", "fresh", "frozen", "refrigerated", "lyophilized"] | None = Field(
        None, description=("How is the final product formulated and stored?")
    )
    route: Text | None = Field(None, description=("By which route is the product administered?"), max_length=200)
    science_maturity: Literal["novel", "emerging", "established"] | None = Field(
        None, description=("How mature is the science behind the product (novel, emerging, established)?")
    )
    platform_prior_licensure: StrictBool | None = Field(
        None, description=("Is the same platform already used in a licensed product?")
    )
    individualized: StrictBool | None = Field(
        None, description=("Is the product individualized (made for one patient, or a few patients sharing one genetic variant)?")
    )


class Indication(_Model):
    """The disease, its seriousness and the demand it creates."""

    name: Text | None = Field(None, description=("What is the indication?"), max_length=300)
    serious_condition: StrictBool | None = Field(None, description=("Is the condition serious?"))
    life_threatening: StrictBool | None = Field(None, description=("Is the condition life-threatening?"))
    unmet_medical_need: StrictBool | None = Field(
        None, description=("Is there an unmet medical need (no therapy, or available therapy inadequate)?")
    )
    rare_disease: StrictBool | None = Field(None, description=("Does the disease affect fewer than 200,000 people in the US?"))
    pediatric_onset: StrictBool | None = Field(
        None, description=("Do the serious manifestations primarily affect people aged 0 to 18?")
    )
    us_prevalence: People | None = Field(None, description=("How many people in the US have the disease?"))
    genetic_cause_known: StrictBool | None = Field(
        None, description=("Is the disease caused by a known genetic defect (a specific gene or variant)?")
    )
    progressive: StrictBool | None = Field(None, description=("Does the disease progress to significant disability or death?"))
    patients_per_year_at_peak: People | None = Field(
        None, description=("How many patients per year will be treated at peak demand?")
    )
    doses_per_patient: Doses | None = Field(None, description=("How many doses does each patient receive?"))


class Evidence(_Model):
    """The evidence the expedited-program criteria turn on."""

    nonclinical_potential: StrictBool | None = Field(
        None, description=("Do nonclinical or clinical data show potential to address an unmet need?")
    )
    preliminary_clinical_evidence: StrictBool | None = Field(
        None, description=("Are there early clinical data in patients (preliminary clinical evidence)?")
    )
    substantial_improvement: StrictBool | None = Field(
        None,
        description=("Do the data suggest substantial improvement over available therapy on a clinically significant endpoint?"),
    )
    surrogate_endpoint: StrictBool | None = Field(
        None,
        description=("Is there an effect on a surrogate or intermediate endpoint reasonably likely to predict benefit?"),
    )
    significant_improvement_safety_or_effectiveness: StrictBool | None = Field(
        None, description=("Would the product significantly improve safety or effectiveness (priority review standard)?")
    )
    first_in_human_tolerability: StrictBool | None = Field(
        None, description=("Are there tolerability data from the first-in-human study?")
    )


class Milestones(_Model):
    """Target (planned) dates of the clinical and regulatory milestones."""

    ind_submission: Date | None = Field(None, description=("When is the IND planned to be submitted?"))
    first_patient_dosed: Date | None = Field(None, description=("When is the first patient planned to be dosed?"))
    eop2_meeting: Date | None = Field(None, description=("When is the end-of-phase 2 meeting planned?"))
    pivotal_start: Date | None = Field(None, description=("When is the pivotal study planned to start?"))
    bla_submission: Date | None = Field(None, description=("When is the BLA planned to be submitted?"))
    pre_bla_meeting: Date | None = Field(None, description=("When is the pre-BLA meeting planned?"))
    bla_approval: Date | None = Field(None, description=("When is BLA approval targeted?"))
    commercial_launch: Date | None = Field(None, description=("When is commercial launch targeted?"))


class Clinical(_Model):
    """Where the clinical program stands."""

    stage: Stage | None = Field(None, description=("What stage is the program at?"))
    ind_status: Literal["none", "planned", "active", "clinical_hold"] | None = Field(
        None, description=("What is the status of the IND?")
    )
    evidence: Evidence | None = None
    single_arm_pivotal: StrictBool | None = Field(None, description=("Is the pivotal study single-arm?"))
    confirmatory_trial: Literal["not_applicable", "none", "planned", "underway", "completed"] | None = Field(
        None, description=("What is the status of the confirmatory trial?")
    )
    milestones: Milestones | None = None


class Designations(_Model):
    """Status of each designation (none, planned, requested, granted, denied, rescinded)."""

    fast_track: Designation | None = Field(None, description=("What is the Fast Track designation status?"))
    breakthrough_therapy: Designation | None = Field(None, description=("What is the Breakthrough Therapy designation status?"))
    rmat: Designation | None = Field(None, description=("What is the RMAT designation status?"))
    orphan: Designation | None = Field(None, description=("What is the orphan drug designation status?"))
    rare_pediatric_disease: Designation | None = Field(
        None, description=("What is the rare pediatric disease designation status?")
    )
    prime: Designation | None = Field(None, description=("What is the EU PRIME status?"))
    sakigake: Designation | None = Field(None, description=("What is the Japanese SAKIGAKE status?"))
    cnpv: Designation | None = Field(
        None, description=("What is the status of a Commissioner's National Priority Voucher for the program?")
    )


class PlannedChange(_Model):
    """One planned manufacturing change."""

    description: LongText | None = Field(None, description=("What is the change?"), max_length=500)
    kind: (
        Literal["scale_up", "scale_out", "site_transfer", "raw_material", "equipment", "analytical", "formulation", "other"]
        | None
    ) = Field(None, description=("What kind of change is it?"))
    timing: Literal["before_pivotal", "during_pivotal", "after_pivotal", "post_approval"] | None = Field(
        None, description=("When will the change be made relative to the pivotal study?")
    )
    comparability_plan: StrictBool | None = Field(None, description=("Is there a comparability plan for the change?"))


# The timeline's CMC work other than the long-lead supply activities and the BLA steps.
_WorkActivityId = Literal[
    "make_or_buy_decision",
    "cdmo_selection",
    "tech_transfer",
    "facility_build",
    "facility_qualification",
    "process_lock",
    "comparability_study",
    "potency_assay_qualification",
    "potency_assay_validation",
    "analytical_method_validation",
    "engineering_runs",
    "ppq",
    "stability_data",
]
# The timeline's milestones, in the order they come.
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
# What a long-lead item (equipment, vector, critical material) can be needed for: the timeline's
# activities and milestones, except the supply activities themselves (an item is never needed
# for another item's delivery). Checked on load, so an unknown id is a located error.
NeededFor = Literal[_WorkActivityId, "pre_license_inspection", MilestoneId]


class PotencyAssay(_Model):
    """The potency assay and its maturity."""

    status: Literal["none", "in_development", "qualified", "validated"] | None = Field(
        None, description=("How far along is the potency assay (none, in_development, qualified, validated)?")
    )
    moa_based: StrictBool | None = Field(None, description=("Does the potency assay reflect the mechanism of action?"))
    matrix: StrictBool | None = Field(None, description=("Is potency measured by a matrix of complementary assays?"))


class VectorSupply(_Model):
    """Where the vector comes from and how secure its supply is."""

    source: Literal["in_house", "cdmo", "purchased", "none"] | None = Field(
        None, description=("Where does the vector come from?")
    )
    gmp_grade: StrictBool | None = Field(None, description=("Is the vector GMP grade?"))
    lots_secured: Count | None = Field(None, description=("How many vector lots are secured?"))
    lead_time_weeks: Weeks | None = Field(None, description=("What is the vector lead time in weeks?"))
    needed_for: list[NeededFor] | None = Field(
        None, description="Which activities or milestones cannot start until the vector lots are in hand?", max_length=30
    )


class Facility(_Model):
    """The sponsor's own manufacturing facility, if any."""

    status: Literal["none", "planned", "under_construction", "qualified", "licensed"] | None = Field(
        None, description=("What is the status of the sponsor's own facility?")
    )
    build_months: Months | None = Field(None, description=("How many months would the facility take to build?"))
    talent_pool: Literal["strong", "moderate", "weak"] | None = Field(
        None, description=("How strong is the talent pipeline at the facility's location?")
    )


class Cdmo(_Model):
    """The contract manufacturer and the state of the relationship."""

    name: Text | None = Field(None, description=("Which CDMO manufactures the product?"), max_length=300)
    tech_transfer: Literal["not_started", "in_progress", "complete"] | None = Field(
        None, description=("What is the status of technology transfer to the CDMO?")
    )
    joint_team: StrictBool | None = Field(None, description=("Is there a dedicated cross-functional sponsor and CDMO team?"))
    slot_reserved: StrictBool | None = Field(None, description=("Are CDMO manufacturing slots reserved?"))
    quality_agreement: StrictBool | None = Field(None, description=("Is a quality agreement with the CDMO in place?"))


class Manufacturing(_Model):
    """Manufacturing strategy, process maturity and CMC readiness."""

    strategy: Literal["in_house", "cdmo", "hybrid", "undecided"] | None = Field(
        None, description=("Is manufacturing in-house, at a CDMO, hybrid, or undecided?")
    )
    process_status: Literal["research", "clinical", "optimized", "locked", "validated"] | None = Field(
        None, description=("How mature is the manufacturing process?")
    )
    planned_changes: list[PlannedChange] | None = Field(
        None, description=("Which manufacturing changes are planned?"), max_length=200
    )
    potency_assay: PotencyAssay | None = None
    analytical_methods: Literal["research", "qualified", "validated"] | None = Field(
        None, description=("How mature are the analytical methods (research, qualified, validated)?")
    )
    stability_months: Months | None = Field(
        None, description=("How many months of real-time stability data exist on representative lots?")
    )
    release_turnaround_days: Days | None = Field(None, description=("How many days does lot release testing take?"))
    vein_to_vein_days: Days | None = Field(None, description=("How many days from collection to infusion (vein to vein)?"))
    chain_of_identity: Literal["none", "manual", "electronic"] | None = Field(
        None, description=("How is chain of identity tracked (none, manual, electronic)?")
    )
    shipping_validated: StrictBool | None = Field(None, description=("Is the shipping process validated?"))
    cell_bank: Literal["none", "in_progress", "characterized"] | None = Field(
        None, description=("What is the status of the master and working cell banks?")
    )
    vector_supply: VectorSupply | None = None
    capacity_lots_per_year: Count | None = Field(None, description=("How many lots per year can be manufactured?"))
    facility: Facility | None = None
    cdmo: Cdmo | None = None


class Material(_Model):
    """One critical raw material or reagent."""

    name: Text | None = Field(None, description=("What is the material?"), max_length=300)
    grade: Literal["gmp", "clinical", "research"] | None = Field(None, description=("What grade is the material?"))
    single_source: StrictBool | None = Field(None, description=("Does the material have a single source?"))
    lead_time_weeks: Weeks | None = Field(None, description=("What is the material's lead time in weeks?"))
    animal_origin: StrictBool | None = Field(None, description=("Is the material of animal origin?"))
    qualified: StrictBool | None = Field(None, description=("Is the material qualified?"))
    needed_for: list[NeededFor] | None = Field(
        None, description="Which activities or milestones cannot start until the material is in hand?", max_length=30
    )


class Equipment(_Model):
    """One long-lead piece of equipment."""

    name: Text | None = Field(None, description=("What is the equipment?"), max_length=300)
    lead_time_weeks: Weeks | None = Field(None, description=("What is the equipment's lead time in weeks?"))
    need_by: Date | None = Field(None, description=("By when is the equipment needed?"))
    ordered: StrictBool | None = Field(None, description=("Has the equipment been ordered?"))
    needed_for: list[NeededFor] | None = Field(
        None, description="Which activities or milestones cannot start until the equipment is in place?", max_length=30
    )


class SupplyChain(_Model):
    """Critical materials, long-lead equipment and storage contingency."""

    materials: list[Material] | None = Field(
        None, description=("Which critical raw materials does the process use?"), max_length=500
    )
    equipment: list[Equipment] | None = Field(
        None, description=("Which long-lead equipment does the process need?"), max_length=500
    )
    backup_storage: StrictBool | None = Field(
        None, description=("Is there a second qualified storage location for critical frozen material?")
    )


class Organization(_Model):
    """The sponsor's means: money, people and GMP experience."""

    funding_stage: Literal["pre_seed", "seed", "series_a", "series_b", "series_c", "public", "large_pharma"] | None = Field(
        None, description=("What is the sponsor's funding stage?")
    )
    cash_runway_months: RunwayMonths | None = Field(None, description=("How many months of cash runway remain?"))
    capex_available_usd: Money | None = Field(
        None, description=("How much capital (USD) is available for manufacturing facilities?")
    )
    gmp_experience: Literal["none", "limited", "established"] | None = Field(
        None, description=("How much GMP manufacturing experience does the organization have?")
    )
    cmc_headcount: Count | None = Field(None, description=("How many people work in CMC?"))
    quality_headcount: Count | None = Field(None, description=("How many people work in quality?"))
    talent_market: Literal["strong", "moderate", "weak"] | None = Field(
        None, description=("How strong is the local market for GMP talent?")
    )


class MarketAccess(_Model):
    """Price, cost of goods, reimbursement and patient access."""

    expected_price_usd: Money | None = Field(None, description=("What is the expected price per treatment (USD)?"))
    cogs_per_dose_usd: Money | None = Field(None, description=("What is the cost of goods per dose (USD)?"))
    reimbursement_model: Literal["none", "traditional", "outcomes_based", "annuity", "undecided"] | None = Field(
        None, description=("Which reimbursement model is planned?")
    )
    treatment_centers_planned: Centers | None = Field(None, description=("How many treatment centres are planned at launch?"))
    patient_engagement: StrictBool | None = Field(
        None, description=("Is there an advocacy partnership or patient-focused development in place?")
    )


class Interaction(_Model):
    """One formal interaction with FDA (or another agency) so far."""

    type: MeetingType = Field(description=("Which type of meeting was it?"))
    date: Date | None = Field(None, description=("When was the meeting held?"))
    cmc_discussed: StrictBool | None = Field(None, description=("Was CMC discussed?"))


class Waiver(_Model):
    """An accepted deviation from one rule's advice; stays visible in every output."""

    rule: Annotated[Text, Field(min_length=1, max_length=40)] = Field(description="Which rule is waived?")
    justification: Annotated[LongText, Field(min_length=1, max_length=2000)] = Field(description="Why is the deviation accepted?")
    approved_by: Annotated[Text, Field(min_length=1, max_length=300)] = Field(description="Who approved it?")
    approved_on: Date = Field(description="When was it approved?")
    expires: Date = Field(description="When does the waiver expire?")


ActivityId = Literal[
    _WorkActivityId, "long_lead_equipment", "vector_supply", "material_supply", "bla_submission", "pre_license_inspection"
]


class TimelineSettings(_Model):
    """Planning overrides for the timeline (an addition to the contract)."""

    durations_days: dict[ActivityId, Days] | None = Field(
        None, description="Which default activity durations (in days) should be replaced, and by what?"
    )
    review: Literal["standard", "priority"] | None = Field(
        None, description="Which BLA review clock should the timeline assume (default: priority when eligible)?"
    )


class ProgramFile(_Model):
    """A whole program file."""

    schema_version: Literal[1] = Field(description="Version of the program file format (1).")
    program: ProgramInfo
    product: Product | None = None
    indication: Indication | None = None
    clinical: Clinical | None = None
    designations: Designations | None = None
    manufacturing: Manufacturing | None = None
    supply_chain: SupplyChain | None = None
    organization: Organization | None = None
    market_access: MarketAccess | None = None
    interactions: list[Interaction] | None = Field(None, max_length=200)
    waivers: list[Waiver] | None = Field(None, max_length=500)
    timeline: TimelineSettings | None = None
