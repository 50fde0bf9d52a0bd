"""The fact vocabulary and the translation of a program file into facts.

Facts are flat: a dotted name (``product.vector``) maps to a scalar; a list of objects becomes
a collection of items (``manufacturing.planned_changes[].kind``); a few facts are computed
(stage index, weeks until equipment is needed, cost of goods against price). Absent fields
stay absent: that is what makes a rule *undetermined*. The vocabulary is introspected from the
program model, so it cannot drift from the input contract. Pure functions; no rule logic here.
"""

from __future__ import annotations

import datetime
import functools
import types
import typing
from dataclasses import dataclass, field

from pydantic import BaseModel

from cmcadvisor.models.program import STAGES, ProgramFile

Value = bool | int | float | str
Item = dict[str, Value]
# Collections that are program history or bookkeeping, not facts for rules.
_NOT_FACTS = frozenset({"waivers", "timeline", "schema_version"})


@dataclass(frozen=True)
class FactInfo:
    """One entry of the vocabulary: what a fact is and how to ask for it."""

    name: str
    type: str  # bool | int | float | str | date | enum | list
    question: str
    allowed: tuple[str, ...] = ()
    computed_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class FactSet:
    """The facts of one program: scalars, list facts and collections of items."""

    scalars: dict[str, Value] = field(default_factory=dict)
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    collections: dict[str, tuple[Item, ...]] = field(default_factory=dict)

    def get(self, name: str) -> Value | tuple[str, ...] | None:
        """A scalar or list fact by name, None when absent."""
        if name in self.scalars:
            return self.scalars[name]
        return self.lists.get(name)


def _literal_values(annotation: object) -> tuple[str, ...]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return tuple(str(v) for v in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        found: list[str] = []
        for arg in typing.get_args(annotation):
            found.extend(_literal_values(arg))
        return tuple(found)
    return ()


def _classify(annotation: object) -> tuple[str, object]:
    """Kind of a field: ('model', cls) | ('models', cls) | ('list', values) | ('scalar', type)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _classify(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _classify(args[0])
    if origin is list:
        inner = typing.get_args(annotation)[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return ("models", inner)
        return ("list", _literal_values(inner))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", annotation)
    values = _literal_values(annotation)
    if values:
        return ("enum", values)
    text = repr(annotation)
    for name in ("bool", "date", "float", "int", "str"):
        if name in text.lower():
            if name == "int" and "float" in text.lower():
                return ("scalar", "float")
            return ("scalar", name)
    return ("scalar", "str")  # pragma: no cover


def _walk(model: type[BaseModel], prefix: str, out: dict[str, FactInfo]) -> None:
    for name, info in model.model_fields.items():
        if not prefix and name in _NOT_FACTS:
            continue
        dotted = f"{prefix}{name}"
        question = info.description or f"What is {dotted}?"
        kind, detail = _classify(info.annotation)
        if kind == "model":
            assert isinstance(detail, type)
            _walk(detail, f"{dotted}.", out)
        elif kind == "models":
            assert isinstance(detail, type)
            out[dotted] = FactInfo(dotted, "collection", question)
            _walk(detail, f"{dotted}[].", out)
        elif kind == "list":
            out[dotted] = FactInfo(dotted, "list", question, tuple(detail) if isinstance(detail, tuple) else ())
        elif kind == "enum":
            out[dotted] = FactInfo(dotted, "enum", question, tuple(detail) if isinstance(detail, tuple) else ())
        else:
            out[dotted] = FactInfo(dotted, str(detail), question)


COMPUTED: tuple[FactInfo, ...] = (
    FactInfo("clinical.stage_index", "int", "What stage is the program at?", computed_from=("clinical.stage",)),
    FactInfo(
        "supply_chain.equipment[].weeks_until_needed",
        "int",
        "By when is each piece of long-lead equipment needed?",
        computed_from=("supply_chain.equipment[].need_by",),
    ),
    FactInfo(
        "supply_chain.equipment[].order_slack_weeks",
        "int",
        "What are the lead time and need-by date of each piece of long-lead equipment?",
        computed_from=("supply_chain.equipment[].need_by", "supply_chain.equipment[].lead_time_weeks"),
    ),
    FactInfo(
        "market_access.cogs_share_of_price",
        "float",
        "What are the cost of goods per dose, doses per patient and expected price?",
        computed_from=(
            "market_access.cogs_per_dose_usd",
            "indication.doses_per_patient",
            "market_access.expected_price_usd",
        ),
    ),
    FactInfo(
        "manufacturing.capacity_to_demand_ratio",
        "float",
        "What are the manufacturing capacity (lots per year), peak patients per year and doses per patient?",
        computed_from=(
            "manufacturing.capacity_lots_per_year",
            "indication.patients_per_year_at_peak",
            "indication.doses_per_patient",
        ),
    ),
    FactInfo(
        "organization.quality_to_cmc_ratio",
        "float",
        "How many people work in quality and in CMC?",
        computed_from=("organization.quality_headcount", "organization.cmc_headcount"),
    ),
)


@functools.cache
def vocabulary() -> dict[str, FactInfo]:
    """Every fact name a rule may test, with its type, allowed values and question."""
    out: dict[str, FactInfo] = {}
    _walk(ProgramFile, "", out)
    for info in COMPUTED:
        out[info.name] = info
    return dict(sorted(out.items()))


_PLAIN = frozenset({str, bool, int, float})  # exact types a fact value takes as it is (the common case, checked first)


@functools.cache
def _collections() -> frozenset[str]:
    """The facts that are collections of items (an empty list of them is an empty collection)."""
    return frozenset(name for name, info in vocabulary().items() if info.type == "collection")


def _scalar(value: object) -> Value | None:
    if type(value) in _PLAIN:
        return value  # type: ignore[return-value]  # one of the Value types, exactly
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bool | int | float | str):
        return value
    return None


def _flatten(data: dict[str, object], prefix: str, facts: FactSet) -> None:
    for key, value in data.items():
        if value is None or (not prefix and key in _NOT_FACTS):
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{dotted}.", facts)
        elif isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                items: list[Item] = []
                for entry in value:
                    item: Item = {}
                    for item_key, item_value in entry.items():
                        if type(item_value) in _PLAIN:  # most values: what _scalar would return, without the call
                            item[item_key] = item_value
                        else:
                            scalar = _scalar(item_value)
                            if scalar is not None:
                                item[item_key] = scalar
                    items.append(item)
                facts.collections[dotted] = tuple(items)
            elif not value and dotted in _collections():
                facts.collections[dotted] = ()
            else:
                facts.lists[dotted] = tuple(sorted({str(v) for v in value}))
        else:
            scalar = _scalar(value)
            if scalar is not None:
                facts.scalars[dotted] = scalar


def derive_facts(program: ProgramFile, as_of: datetime.date) -> FactSet:
    """Translate a validated program into facts, adding the computed ones."""
    facts = FactSet()
    _flatten(program.model_dump(mode="python", exclude_none=True), "", facts)
    facts.scalars["program.as_of"] = as_of.isoformat()
    if "program.regions" not in facts.lists:
        facts.lists["program.regions"] = ("us",)
    if facts.scalars.get("product.cell_source") == "none" and "product.regulated_solely_under_361" not in facts.scalars:
        # A product with no human cells or tissue is not an HCT/P (21 CFR 1271.3(d)), so it cannot be a 361 HCT/P:
        # an in vivo vector program is never asked about 21 CFR 1271.
        facts.scalars["product.regulated_solely_under_361"] = False
    stage = facts.scalars.get("clinical.stage")
    if stage == "preclinical" and "clinical.evidence.first_in_human_tolerability" not in facts.scalars:
        # A program that has not dosed anyone has no first-in-human data: a preclinical program is never asked for them.
        facts.scalars["clinical.evidence.first_in_human_tolerability"] = False
    equipment = facts.collections.get("supply_chain.equipment")
    if equipment:
        enriched: list[Item] = []
        for entry in equipment:
            item = dict(entry)
            need_by = item.get("need_by")
            if isinstance(need_by, str):
                weeks = (datetime.date.fromisoformat(need_by) - as_of).days // 7
                item["weeks_until_needed"] = weeks
                lead = item.get("lead_time_weeks")
                if isinstance(lead, int) and not isinstance(lead, bool):
                    item["order_slack_weeks"] = weeks - lead
            enriched.append(item)
        facts.collections["supply_chain.equipment"] = tuple(enriched)
    compute_scalars(facts.scalars)
    return facts


COMPUTED_SCALARS = tuple(info.name for info in COMPUTED if "[]" not in info.name)


def compute_scalars(scalars: dict[str, Value]) -> None:
    """(Re)compute, in place, the scalar facts derived from other scalars; drop those whose sources are gone.

    Called once per program by ``derive_facts`` and again by a what-if that changes one source fact,
    so that a changed stage moves its stage index too.
    """
    for name in COMPUTED_SCALARS:
        scalars.pop(name, None)
    stage = scalars.get("clinical.stage")
    if isinstance(stage, str) and stage in STAGES:
        scalars["clinical.stage_index"] = STAGES.index(stage)
    cogs = scalars.get("market_access.cogs_per_dose_usd")
    doses = scalars.get("indication.doses_per_patient")
    price = scalars.get("market_access.expected_price_usd")
    if _number(cogs) and _number(doses) and _number(price) and float(price) > 0:  # type: ignore[arg-type]
        scalars["market_access.cogs_share_of_price"] = round(float(cogs) * float(doses) / float(price), 6)  # type: ignore[arg-type]
    capacity = scalars.get("manufacturing.capacity_lots_per_year")
    patients = scalars.get("indication.patients_per_year_at_peak")
    if _number(capacity) and _number(patients) and _number(doses) and float(patients) * float(doses) > 0:  # type: ignore[arg-type]
        demand = float(patients) * float(doses)  # type: ignore[arg-type]
        scalars["manufacturing.capacity_to_demand_ratio"] = round(float(capacity) / demand, 6)  # type: ignore[arg-type]
    quality = scalars.get("organization.quality_headcount")
    cmc = scalars.get("organization.cmc_headcount")
    if _number(quality) and _number(cmc) and float(cmc) > 0:  # type: ignore[arg-type]
        scalars["organization.quality_to_cmc_ratio"] = round(float(quality) / float(cmc), 6)  # type: ignore[arg-type]


def dependents(fact: str) -> tuple[str, ...]:
    """The scalar facts computed from ``fact`` (a what-if on ``fact`` moves them too)."""
    return tuple(info.name for info in COMPUTED if info.name in COMPUTED_SCALARS and fact in info.computed_from)


def as_user_change(fact: str, value: Value) -> tuple[str, Value] | None:
    """The program-file change behind a change of ``fact``: a stage index becomes its stage.

    Other computed facts (ratios and shares) are kept as they are: a reader understands "cost of
    goods below 30 % of price" as a target, though several program facts produce it.
    """
    if fact == "clinical.stage_index":
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(STAGES):
            return "clinical.stage", STAGES[value]
        return None
    return fact, value


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
