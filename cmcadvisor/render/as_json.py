"""The assessment as the contract's JSON document (stable keys, sorted content, indent 2)."""

from __future__ import annotations

from cmcadvisor.models.result import AssessmentResult


def render_json(result: AssessmentResult) -> str:
    """Pretty JSON with a trailing newline; byte-identical for identical results."""
    return result.model_dump_json(indent=2) + "\n"
