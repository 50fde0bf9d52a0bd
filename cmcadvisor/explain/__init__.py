"""``cmcadvisor explain``: why any conclusion of an assessment is what it is, traced to rules.

:func:`explain_target` answers for a rule id, a pathway id, an activity or milestone id, a
meeting type or ``make-or-buy`` (:mod:`.targets`); :func:`explain` keeps the rule-only entry
point (:mod:`.rule`). Answers are pydantic models (:mod:`.models`); :func:`render_text` and
:func:`render_json` format them (:mod:`.text`). The package returns data and text; it does not
print, and it never re-implements a stage of the assessment (it reads the evaluated program).
"""

from __future__ import annotations

from cmcadvisor.explain.models import Answer, RuleExplanation
from cmcadvisor.explain.rule import explain, explain_rule, rule_state
from cmcadvisor.explain.targets import explain_target, kind_of, target_names
from cmcadvisor.explain.text import render_json, render_text

Explanation = RuleExplanation  # the rule answer's former name

__all__ = [
    "Answer",
    "Explanation",
    "RuleExplanation",
    "explain",
    "explain_rule",
    "explain_target",
    "kind_of",
    "render_json",
    "render_text",
    "rule_state",
    "target_names",
]
