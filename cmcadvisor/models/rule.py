"""Pydantic models of a rule file: metadata, condition tree, outcomes and examples.

A rule is data: one YAML file per rule under ``rules/<area>/<ID>.yaml``. Conditions are a tree
of ``all`` / ``any`` / ``not`` over ``{fact, op, value}`` leaves; there is no expression
language. This module only describes shapes; it must not evaluate conditions or read files.
"""

import typing
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
    model_validator,
)

from cmcadvisor.models import SEVERITY_RANK as SEVERITY_RANK  # re-exported: its home is the light package
from cmcadvisor.models.program import Stage

RULE_ID_PATTERN = r"^[A-Z]{2,4}-[A-Z0-9]{2,8}-\d{3}$"
PathwayId = Literal[
    "us.fast_track",
    "us.breakthrough_therapy",
    "us.rmat",
    "us.accelerated_approval",
    "us.priority_review",
    "us.orphan_drug",
    "us.rare_pediatric_disease",
    "eu.prime",
    "eu.accelerated_assessment",
    "eu.conditional_marketing_authorisation",
    "jp.sakigake",
    "jp.conditional_time_limited",
]
PATHWAY_IDS: tuple[str, ...] = typing.get_args(PathwayId)
TOPICS: tuple[str, ...] = (
    "expedited_pathway",
    "fda_meeting",
    "phase1_gmp",
    "cgmp_full",
    "donor_eligibility",
    "hct_p_361",
    "potency_assay",
    "identity_purity",
    "safety_testing",
    "replication_competent_virus",
    "vector_copy_number",
    "empty_full_capsid",
    "off_target_editing",
    "ltfu",
    "cell_banks",
    "starting_material",
    "raw_materials",
    "chain_of_identity",
    "cryopreservation_shipping",
    "release_turnaround",
    "comparability",
    "process_lock",
    "process_validation",
    "analytical_validation",
    "stability",
    "facility",
    "tech_transfer",
    "cdmo_management",
    "capacity",
    "vector_supply",
    "supply_chain",
    "long_lead_equipment",
    "storage_contingency",
    "talent",
    "capital",
    "make_or_buy",
    "expedited_cmc_readiness",
    "pli_readiness",
    "confirmatory_trial",
    "reimbursement",
    "patient_access",
    "patient_engagement",
    "cost_of_goods",
)

Severity = Literal["critical", "high", "medium", "low", "info"]
RuleKind = Literal["requirement", "gap", "recommendation", "risk", "inconsistency", "pathway", "derivation", "factor", "schedule"]
MakeOrBuyFactorId = Literal[
    "capital",
    "in_house_capability",
    "science_maturity",
    "epidemiology",
    "supply_chain",
    "cmc_regulatory_strategy",
    "cost_structure",
]
MAKE_OR_BUY_FACTORS: tuple[str, ...] = typing.get_args(MakeOrBuyFactorId)
FINDING_KINDS: tuple[str, ...] = ("requirement", "gap", "recommendation", "risk", "inconsistency")
Confidence = Literal["verified", "secondary", "unverified"]
PathwayStatus = Literal["granted", "eligible", "not_eligible", "not_applicable", "undetermined"]
Op = Literal["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "exists", "missing", "contains", "not_contains"]
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr | date
# Ops that take no value, ops that take a list, and ops whose value is one scalar.
UNARY_OPS = frozenset({"exists", "missing"})
LIST_OPS = frozenset({"in", "not_in"})
ORDER_OPS = frozenset({"lt", "le", "gt", "ge"})


class _Model(BaseModel):
    # Built at first use, not at import: a cold ``assess`` reads rules back from the cache
    # (see cmcadvisor.cache) and never validates or serialises one.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _iso(value: object) -> object:
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_iso(v) for v in value]
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    return value


class Leaf(_Model):
    """One test of one fact: ``{fact, op, value}``.

    ``fact`` is a dotted name from the fact vocabulary; ``collection[].field`` tests the items
    of a list (the rule then holds for each item that matches); ``derived.<name>`` tests a
    fact another rule derived.
    """

    fact: Annotated[StrictStr, Field(min_length=1, max_length=120, pattern=r"^[a-z0-9_.\[\]]+$")]
    op: Op
    value: Scalar | list[Scalar] | None = None

    @field_validator("value", mode="after")
    @classmethod
    def _dates_as_text(cls, value: object) -> object:
        """Dates become ISO text, the form facts carry (YAML gives dates, JSON gives text)."""
        return _iso(value)

    @model_validator(mode="after")
    def _value_fits_operator(self) -> "Leaf":
        """``exists``/``missing`` take no value, ``in``/``not_in`` a non-empty list, the rest one value.

        Whether the value fits the fact's type is checked by ``rules lint``, which knows the
        vocabulary; this is the shape every engine relies on.
        """
        if self.op in UNARY_OPS:
            if self.value is not None:
                raise ValueError(f"{self.op} takes no value")
        elif self.op in LIST_OPS:
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"{self.op} needs a non-empty list of values")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"{self.op} needs one value, not {'a list' if self.value is not None else 'none'}")
        return self


class AllOf(_Model):
    """True when every child is true."""

    all: Annotated[list["Condition"], Field(min_length=1, max_length=32)]


class AnyOf(_Model):
    """True when at least one child is true."""

    any: Annotated[list["Condition"], Field(min_length=1, max_length=32)]


class NotOf(_Model):
    """True when the child is false (unknown stays unknown)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    not_: "Condition" = Field(alias="not")


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "leaf"
    if isinstance(value, BaseModel):
        return {AllOf: "all", AnyOf: "any", NotOf: "not", Leaf: "leaf"}.get(type(value))
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")] | Annotated[AnyOf, Tag("any")] | Annotated[NotOf, Tag("not")] | Annotated[Leaf, Tag("leaf")],
    Discriminator(_condition_tag),
]


class TextPart(_Model):
    """One sentence of a text, shown only where the program's facts do not rule it out.

    ``applies_when`` is a condition in the rules' language over program facts (no derived or
    item facts); an unknown fact keeps the sentence. Used for modality-specific notes of rule
    messages and for the risk register's category texts.
    """

    text: Annotated[StrictStr, Field(min_length=3, max_length=800)]
    applies_when: Condition | None = None


class PathwayOutcome(_Model):
    """The status a pathway rule gives to one pathway id."""

    id: PathwayId
    status: Literal["granted", "eligible", "not_eligible", "not_applicable"]
    next_step: StrictStr | None = Field(None, max_length=600)


class MakeOrBuyVote(_Model):
    """A ``factor`` rule's vote on one of the seven make-or-buy considerations."""

    factor: MakeOrBuyFactorId
    favours: Literal["in_house", "cdmo"]
    strength: Annotated[StrictInt, Field(ge=1, le=3)] = 1


class Due(_Model):
    """When the finding has to be dealt with."""

    stage: Stage | None = None


class Outcome(_Model):
    """What a firing produces: a finding, derived facts, a pathway status, timeline hooks."""

    message: Annotated[StrictStr, Field(min_length=1, max_length=2000)]
    # Sentences added to the message for the products they apply to (e.g. a 21 CFR 1271 point
    # for cell-based products only), so a finding never reads another modality's advice.
    notes: list[TextPart] = Field(default_factory=list, max_length=8)
    title: StrictStr | None = Field(None, max_length=300)
    derive: list[Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(default_factory=list, max_length=8)
    pathway: PathwayOutcome | None = None
    make_or_buy: MakeOrBuyVote | None = None
    requires: list[StrictStr] = Field(default_factory=list, max_length=16)
    before: list[StrictStr] = Field(default_factory=list, max_length=16)
    due: Due | None = None


class Example(_Model):
    """A co-located test: facts given, and whether the rule must fire, stay silent or be undetermined."""

    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    facts: dict[StrictStr, Any] = Field(default_factory=dict)
    derived: list[StrictStr] = Field(default_factory=list)
    expect: Literal["fires", "silent", "undetermined", "todo"]

    @field_validator("facts", mode="after")
    @classmethod
    def _dates_as_text(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Dates become ISO text, so a rule reads the same from YAML and from the cache."""
        result = _iso(value)
        assert isinstance(result, dict)
        return result


class RuleSpec(_Model):
    """One rule, exactly as written in its YAML file."""

    id: Annotated[StrictStr, Field(pattern=RULE_ID_PATTERN)]
    title: Annotated[StrictStr, Field(min_length=1, max_length=300)]
    kind: RuleKind
    severity: Severity
    topics: Annotated[list[StrictStr], Field(min_length=1, max_length=12)]
    version: Annotated[StrictInt, Field(ge=1)]
    status: Literal["active", "draft", "deprecated"]
    confidence: Confidence
    aliases: list[Annotated[StrictStr, Field(pattern=RULE_ID_PATTERN)]] = Field(default_factory=list)
    when: Condition
    then: Outcome
    citations: Annotated[list[StrictStr], Field(min_length=1, max_length=12)]
    rationale: Annotated[StrictStr, Field(min_length=1, max_length=4000)]
    unsettled: StrictStr | None = Field(
        None, max_length=1000, description="Where the regulatory position is a draft or contested, say so."
    )
    examples: Annotated[list[Example], Field(min_length=2, max_length=50)]


# No model_rebuild() for the recursive Condition: the models are deferred (see _Model), and
# pydantic resolves the forward references when it first builds them.
