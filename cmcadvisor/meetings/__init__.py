"""Meetings with the agencies (FDA, EMA, PMDA): which meeting fits, when it can be held, and what to ask.

A small package, one concern per module: ``knowledge`` (load and cross-check meetings.yaml and
ctd_sections.yaml), ``schedule`` (dates), ``fit`` (the generic evaluator of the fit tests and
next-meeting suggestions in meetings.yaml), ``questions`` (questions from the open findings),
``plan`` (one :class:`~cmcadvisor.models.result.Meeting`), ``brief`` (the request and package
outline the renderers print) and ``explain`` (why a type fits, its dates, the rules behind its
questions). The models live in ``cmcadvisor/models/meetings.py``. Everything is pure: dates come
from the assessment date and the program, never from the clock; nothing here formats output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cmcadvisor.dates import add_months
from cmcadvisor.meetings.fit import evaluate_fit, suggest_types
from cmcadvisor.meetings.knowledge import PACKAGE_ITEM_IDS, REQUEST_ITEM_IDS, MeetingKnowledge, load_meeting_types
from cmcadvisor.meetings.plan import meetings_for, plan, plan_meeting, recommend_meetings
from cmcadvisor.meetings.words import MILESTONE_LABELS
from cmcadvisor.models.meetings import (
    BRIEF_MEETING_TYPE_IDS,
    Brief,
    KeyDate,
    MeetingExplanation,
    OutlineItem,
    QuestionGroup,
    TraceEntry,
)

if TYPE_CHECKING:
    from cmcadvisor.meetings.brief import build_brief
    from cmcadvisor.meetings.explain import explain_meeting

# Drafting a brief and explaining a meeting are imported at first use: an assessment plans
# meetings but neither drafts nor explains one, and start-up should not pay for them.
_LAZY = {"build_brief": "cmcadvisor.meetings.brief", "explain_meeting": "cmcadvisor.meetings.explain"}


def __getattr__(name: str) -> Any:
    """``build_brief`` and ``explain_meeting``, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "BRIEF_MEETING_TYPE_IDS",
    "MILESTONE_LABELS",
    "PACKAGE_ITEM_IDS",
    "REQUEST_ITEM_IDS",
    "Brief",
    "KeyDate",
    "MeetingExplanation",
    "MeetingKnowledge",
    "OutlineItem",
    "QuestionGroup",
    "TraceEntry",
    "add_months",
    "build_brief",
    "evaluate_fit",
    "explain_meeting",
    "load_meeting_types",
    "meetings_for",
    "plan",
    "plan_meeting",
    "recommend_meetings",
    "suggest_types",
]
