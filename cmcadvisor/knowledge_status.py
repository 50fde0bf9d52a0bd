"""The state of every source in the knowledge base, for the quarterly review (``cmcadvisor knowledge status``).

For each citation of the loaded knowledge base (built-in or ``--knowledge-dir``) it gathers its
status, confidence, issued date, when it was last checked and how long ago, its re-check date,
what needs attention (the same checks as ``rules lint``) and everything that depends on it: rules
(built-in and ``--rules-dir`` packs), pathways, timeline activities, FDA meeting types, the risk
register and the other knowledge files that cite it. Ages are counted from an injected date.

It only reads the loaded context and builds rows in a fixed order; it must not read the clock,
read files or format output (that is :mod:`cmcadvisor.render.knowledge_formats`).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from cmcadvisor.api import Context
from cmcadvisor.models.knowledge import Citation
from cmcadvisor.rulelint import Attention, citation_attention

STATUS_ORDER: tuple[str, ...] = ("final", "current", "draft", "superseded", "withdrawn")
SortKey = Literal["status", "age", "id"]

# What can depend on a citation, in the order shown; "other" holds the knowledge entries with no id of their own.
DEPENDANT_KINDS: tuple[str, ...] = ("rules", "pathways", "activities", "meeting_types", "risk_categories", "other")


@dataclass(frozen=True)
class Dependant:
    """One thing that cites a source: its id (for JSON and CSV) and its name (for people)."""

    id: str
    name: str


@dataclass(frozen=True)
class SourceStatus:
    """One citation as the review sees it."""

    citation: Citation
    file: str
    age_days: int  # days since last_checked, as of the report date (negative if checked after it)
    attention: tuple[Attention, ...]
    dependants: dict[str, tuple[Dependant, ...]] = field(default_factory=dict)

    @property
    def due(self) -> bool:
        """Whether the source needs looking at now (stale, an old draft, a re-check due, ended, superseded yet cited)."""
        return bool(self.attention)

    @property
    def dependant_count(self) -> int:
        """How many things cite it."""
        return sum(len(items) for items in self.dependants.values())


@dataclass(frozen=True)
class StatusReport:
    """Every source (or only those due), in a fixed order, as of one date."""

    as_of: datetime.date
    sources: tuple[SourceStatus, ...]
    total: int  # citations in the knowledge base, before any --due filter
    due_only: bool
    sort: SortKey


def cited_ids(value: object) -> list[str]:
    """Every citation id held anywhere in a knowledge entry: fields named ``citations`` or ``*_citations``, at any depth."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            item = getattr(value, name)
            if (name == "citations" or name.endswith("_citations")) and isinstance(item, list | tuple):
                found.extend(c for c in item if isinstance(c, str))
            else:
                found.extend(cited_ids(item))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(cited_ids(item))
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(cited_ids(item))
    return found


# Meeting settings that cite sources outside any meeting type, and how they read.
_MEETING_SETTINGS = {"cdrp": "CMC development and readiness pilot note (FDA briefs)"}


def dependants(context: Context) -> dict[str, dict[str, list[Dependant]]]:
    """Citation id -> kind -> the things that cite it, each list sorted by id."""
    found: dict[str, dict[str, list[Dependant]]] = defaultdict(lambda: defaultdict(list))

    def add(cids: Iterable[str], kind: str, item_id: str, name: str) -> None:
        for cid in dict.fromkeys(cids):
            found[cid][kind].append(Dependant(item_id, name))

    kb = context.kb
    for rule in context.pack.rules:
        add(cited_ids(rule.spec), "rules", rule.id, rule.spec.title)
    for pathway in kb.pathways.values():
        add(cited_ids(pathway), "pathways", pathway.id, pathway.name)
    for activity in kb.activities.values():
        add(cited_ids(activity), "activities", activity.id, activity.name)
    add(cited_ids(kb.review), "other", "review_clock", "BLA review clock (timeline)")
    meetings = context.meeting_types
    for mtype in meetings.types.values():
        add(cited_ids(mtype), "meeting_types", mtype.id, mtype.name)
    for agency in meetings.agencies.values():
        add(cited_ids(agency), "other", f"meetings_{agency.id}", f"{agency.name}: meeting request and package outline")
    for name in sorted(type(meetings.settings).model_fields):
        if name not in ("types", "agencies"):
            label = _MEETING_SETTINGS.get(name, f"meeting knowledge: {name.replace('_', ' ')}")
            add(cited_ids(getattr(meetings.settings, name)), "other", f"meetings_{name}", label)
    add(meetings.ctd_citations, "other", "ctd_sections", "CTD Module 3 sections (briefs)")
    for cid, category in context.risk_categories.categories.items():
        add(cited_ids(category), "risk_categories", cid, category.name)
    return {cid: {kind: sorted(items, key=lambda d: d.id) for kind, items in kinds.items()} for cid, kinds in found.items()}


def _sort_key(sort: SortKey) -> Callable[[SourceStatus], tuple[int, str]]:
    """status: final, current, draft, superseded, withdrawn, then id; age: longest unchecked first; id."""

    def key(row: SourceStatus) -> tuple[int, str]:
        c = row.citation
        if sort == "age":
            return (-row.age_days, c.id)
        if sort == "id":
            return (0, c.id)
        return (STATUS_ORDER.index(c.status), c.id)

    return key


def _still_cited(citation: Citation, count: int) -> list[Attention]:
    """A superseded or withdrawn source that something still cites (the lint warns too)."""
    if citation.status not in ("superseded", "withdrawn") or count == 0:
        return []
    successor = f" by {citation.superseded_by}" if citation.superseded_by else ""
    return [
        Attention(
            "still_cited",
            f"{citation.status} but still cited",
            f"{citation.status}{successor}, yet {count} rules or knowledge entries still cite it: "
            "move them to the current source",
        )
    ]


def build_status(context: Context, as_of: datetime.date, *, due_only: bool = False, sort: SortKey = "status") -> StatusReport:
    """Every citation of ``context`` as of ``as_of``; ``due_only`` keeps those that need attention."""
    used = dependants(context)
    rows: list[SourceStatus] = []
    for cid, citation in context.kb.citations.items():
        cited_by = {kind: tuple(used.get(cid, {}).get(kind, ())) for kind in DEPENDANT_KINDS}
        count = sum(len(items) for items in cited_by.values())
        rows.append(
            SourceStatus(
                citation=citation,
                file=context.kb.citation_sources.get(cid, context.kb.root),
                age_days=(as_of - citation.last_checked).days,
                attention=(*citation_attention(citation, as_of), *_still_cited(citation, count)),
                dependants=cited_by,
            )
        )
    chosen = [row for row in rows if row.due] if due_only else rows
    chosen.sort(key=_sort_key(sort))
    return StatusReport(as_of=as_of, sources=tuple(chosen), total=len(rows), due_only=due_only, sort=sort)
