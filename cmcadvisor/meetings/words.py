"""Words for readers shared by the meeting modules: display labels, milestone names, fit labels, placeholders.

Everything a brief prints about a fact goes through the display vocabulary (``display.py``), so
no fact path or enum id reaches the agency-facing text. This module must not plan meetings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from cmcadvisor import display
from cmcadvisor.models.meetings import Term

MILESTONE_LABELS: dict[str, str] = {
    "ind_submission": "IND submission",
    "first_patient_dosed": "first patient dosed",
    "eop2_meeting": "end-of-phase 2 meeting",
    "pivotal_start": "pivotal study start",
    "pre_bla_meeting": "pre-BLA meeting",
    "bla_submission": "BLA submission",
    "bla_approval": "BLA approval",
    "commercial_launch": "commercial launch",
}
FIT_LABELS: dict[str, str] = {
    "fits": "fits the program",
    "check": "to be checked (see the reasons below)",
    "does_not_fit": "does not fit the program",
}
_PLACEHOLDER = re.compile(r"\{([a-z0-9_.]+)(\|raw)?\}")


def shown(fact: str, value: object) -> str:
    """A fact's value as a reader sees it: the display label of an enum value, never its id."""
    return display.label(fact, value)


def fact_label(fact: str) -> str:
    """A fact's name as a reader sees it, capitalised to start a line."""
    text = display.fact_label(fact)
    return text[:1].upper() + text[1:]


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 question``, ``3 questions``."""
    return display.plural(count, singular, plural_form)


def meeting_name(type_id: str) -> str:
    """A meeting type id as words (the meeting type ids of the contract, and earlier interactions)."""
    return display.term(type_id)


def stage_list(stages: Sequence[str]) -> str:
    """The stages a meeting type serves, as words."""
    return ", ".join(shown("clinical.stage", s) for s in stages)


def fill(text: str, values: Mapping[str, object]) -> str:
    """``text`` with each ``{fact}`` replaced by its display label (``{fact|raw}``: the value with spaces).

    Meeting facts (``meeting.*``) print as they are; an absent fact prints as "not given".
    """

    def one(match: re.Match[str]) -> str:
        name, raw = match.group(1), match.group(2)
        value = values.get(name)
        if raw:
            return str(value).replace("_", " ") if value is not None else "not given"
        if name.startswith("meeting.") and value is not None:
            return str(value)
        return shown(name, value)

    return " ".join(_PLACEHOLDER.sub(one, text).split())


@functools.lru_cache(maxsize=64)  # one entry per agency term
def _term_pattern(us: str) -> re.Pattern[str]:
    """``us`` as a whole term: not inside a longer word or a hyphenated one ("pre-BLA meeting" stays)."""
    return re.compile(rf"(?<![-\w]){re.escape(us)}(?![-\w])")


def in_agency_terms(point: str, terms: Sequence[Term]) -> str:
    """A point (a finding's title) with each US term named as the agency's questions name it.

    A point that already names the agency's own term (e.g. "the BLA or MAA") is left as it is.
    """
    for term in terms:
        if term.us in point and not any(other in point for other in term.unless):
            point = _term_pattern(term.us).sub(term.here, point)
    return point
