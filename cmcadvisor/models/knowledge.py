"""Pydantic models of the knowledge base: citations and pathways.

Knowledge is data with ids and provenance. Each citation records what the source is, who issued
it, when, whether it is final or a draft, how sure we are of what we took from it, and when a
person last checked it. This module only describes shapes; it must not read files.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from cmcadvisor.models.rule import Confidence

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
    reviewed_on: date
    superseded_by: StrictStr | None = None
    note: StrictStr | None = Field(None, max_length=1000)

    @field_validator("issued", mode="before")
    @classmethod
    def _date_as_text(cls, value: object) -> object:
        """YAML reads 2023-07-13 as a date; keep the text form."""
        return value.isoformat() if isinstance(value, date) else value


class Pathway(_Model):
    """One expedited program, by its contract id."""

    id: StrictStr
    name: Annotated[StrictStr, Field(min_length=2, max_length=200)]
    region: Literal["us", "eu", "jp"]
    summary: Annotated[StrictStr, Field(min_length=10, max_length=1500)]
    citations: Annotated[list[StrictStr], Field(min_length=1)]


class MakeOrBuyThresholds(_Model):
    """Where the make-or-buy score turns into a recommendation."""

    decide: Annotated[float, Field(gt=0, lt=1)] = 0.15
    min_known_factors: Annotated[StrictInt, Field(ge=1, le=7)] = 4


class MakeOrBuyConfig(_Model):
    """``knowledge/make_or_buy.yaml``: weights of the seven considerations and thresholds."""

    basis: Annotated[StrictStr, Field(min_length=10)]
    weights: dict[
        Literal[
            "capital",
            "in_house_capability",
            "science_maturity",
            "epidemiology",
            "supply_chain",
            "cmc_regulatory_strategy",
            "cost_structure",
        ],
        Annotated[float, Field(ge=0)],
    ]
    thresholds: MakeOrBuyThresholds = MakeOrBuyThresholds()


ACTIVITY_IDS: tuple[str, ...] = (
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
    "long_lead_equipment",
    "vector_supply",
    "bla_submission",
    "pre_license_inspection",
)
MILESTONE_IDS: tuple[str, ...] = (
    "ind_submission",
    "first_patient_dosed",
    "eop2_meeting",
    "pivotal_start",
    "pre_bla_meeting",
    "bla_submission",
    "bla_approval",
    "commercial_launch",
)


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
