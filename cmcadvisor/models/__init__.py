"""Pydantic models: the program file (input), rules, knowledge and the assessment (output)."""

# Severity order, most severe first. Here (not in models.rule) so the command line can use it
# without building the rule models; models.rule re-exports it.
SEVERITY_RANK: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
