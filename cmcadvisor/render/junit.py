"""JUnit XML output of ``assess`` and ``portfolio``, for CI test-report views.

One test suite per program and one test case per active rule: the case fails when the rule
raised an open finding at or above ``--fail-on`` (any open finding when no threshold is set),
is skipped when its findings were waived or the program lacks the facts to decide it, and
passes otherwise (open findings below the threshold are listed in its output). A program that
could not be assessed is one suite with one errored case. Deterministic (no times or host
names). This module only builds text: it reads no files and must not print.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - used to build XML, never to parse it
from collections.abc import Sequence

from cmcadvisor.models.result import AssessmentResult, FindingResult
from cmcadvisor.registry import RulePack
from cmcadvisor.render.ci_common import ProgramReport, counts_against, finding_line, sentence


def _describe(finding: FindingResult, shown: str, line: int) -> str:
    return f"{shown}:{line}: {finding.severity}: {sentence(finding.title, finding.detail)}"


def _case(
    suite: ET.Element, rule_id: str, title: str, report: ProgramReport, result: AssessmentResult, fail_on: str | None
) -> str:
    """Add one rule's test case; return its outcome (passed, failed or skipped)."""
    case = ET.SubElement(suite, "testcase", {"name": f"{rule_id} {title}", "classname": f"cmcadvisor.{result.program.id}"})
    findings = [f for f in result.findings if f.rule == rule_id]
    failing = [f for f in findings if counts_against(f, fail_on)]
    if failing:
        worst = failing[0]
        line = finding_line(worst, report.doc)
        case.set("file", report.shown)
        case.set("line", str(line))
        failure = ET.SubElement(case, "failure", {"type": worst.severity, "message": sentence(worst.title, "")})
        failure.text = "\n".join(_describe(f, report.shown, finding_line(f, report.doc)) for f in failing)
        return "failed"
    waived = [f for f in findings if f.status == "waived"]
    undetermined = rule_id in result.audit.undetermined or (findings and all(f.kind == "undetermined" for f in findings))
    open_below = [f for f in findings if f.status == "open" and f.kind != "undetermined"]
    if waived and not open_below:
        waiver = waived[0].waiver
        reason = f"waived by {waiver.approved_by} until {waiver.expires}: {waiver.justification}" if waiver else "waived"
        ET.SubElement(case, "skipped", {"message": reason})
        return "skipped"
    if undetermined and not open_below:
        missing = sorted(set(result.audit.undetermined_facts.get(rule_id, [])) | {m for f in findings for m in f.missing_facts})
        text = "not decided: the program does not give " + (", ".join(missing) if missing else "the facts it needs")
        ET.SubElement(case, "skipped", {"message": text})
        return "skipped"
    if open_below:
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(
            "below the --fail-on threshold: " + _describe(f, report.shown, finding_line(f, report.doc)) for f in open_below
        )
    return "passed"


def junit_xml(reports: Sequence[ProgramReport], pack: RulePack, fail_on: str | None = None) -> str:
    """The JUnit XML report (``<testsuites>``) of one or more assessed programs."""
    root = ET.Element("testsuites", {"name": "cmcadvisor"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in reports:
        result = report.result
        name = f"{result.program.id} ({report.shown})" if result is not None else report.shown
        suite = ET.SubElement(root, "testsuite", {"name": name})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if result is None:
            case = ET.SubElement(suite, "testcase", {"name": "program file", "classname": "cmcadvisor", "file": report.shown})
            error = ET.SubElement(case, "error", {"type": "input", "message": "the program file could not be assessed"})
            error.text = "\n".join(report.errors)
            counts["tests"], counts["errors"] = 1, 1
        else:
            properties = ET.SubElement(suite, "properties")
            ET.SubElement(properties, "property", {"name": "as_of", "value": result.as_of})
            ET.SubElement(properties, "property", {"name": "fail_on", "value": fail_on or "any open finding"})
            ET.SubElement(properties, "property", {"name": "program_file", "value": report.shown})
            for rule in pack.active:
                outcome = _case(suite, rule.id, rule.spec.title, report, result, fail_on)
                counts["tests"] += 1
                if outcome == "failed":
                    counts["failures"] += 1
                elif outcome == "skipped":
                    counts["skipped"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
