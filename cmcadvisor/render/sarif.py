"""SARIF 2.1.0 output of ``assess`` and ``portfolio``, for code-scanning dashboards in CI.

One run: the active rule pack is the tool's rules (title, rationale as help text, citation
links), each open finding is a result whose level comes from its severity and whose location
is the line of the program file holding the fact that triggered it; waived findings are kept
as results with an in-source suppression carrying the waiver's justification. A finding the
program does not give enough facts to decide is a result of kind ``open``. Output is
deterministic (no times, no absolute paths unless the user gave one). This module only
builds text: it reads no files and must not print.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from cmcadvisor import __version__
from cmcadvisor.knowledge import KnowledgeBase
from cmcadvisor.models.result import FindingResult
from cmcadvisor.registry import LoadedRule, RulePack
from cmcadvisor.render.ci_common import ProgramReport, artifact_uri, finding_line, sentence, waiver_line

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning orders results by this 0-10 score when it is present.
SCORES = {"critical": "9.0", "high": "7.0", "medium": "5.0", "low": "3.0", "info": "1.0"}


def _rule_descriptor(rule: LoadedRule, kb: KnowledgeBase) -> dict[str, Any]:
    spec = rule.spec
    sources = [kb.citations[cid] for cid in spec.citations if cid in kb.citations]
    lines = [spec.rationale.strip(), "", "Sources:"]
    markdown = [spec.rationale.strip(), "", "**Sources**", ""]
    for c in sources:
        where = f", {c.section}" if c.section else ""
        lines.append(f"- {c.title} ({c.issuer}, {c.year}{where})" + (f" {c.url}" if c.url else ""))
        label = c.title.replace("[", "(").replace("]", ")")
        markdown.append(
            f"- [{label}]({c.url}) ({c.issuer}, {c.year}{where})" if c.url else f"- {label} ({c.issuer}, {c.year}{where})"
        )
    if spec.unsettled:
        lines += ["", f"Unsettled: {spec.unsettled.strip()}"]
        markdown += ["", f"*Unsettled:* {spec.unsettled.strip()}"]
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": rule.id.replace("-", ""),
        "shortDescription": {"text": spec.title},
        "fullDescription": {"text": spec.rationale.strip()},
        "help": {"text": "\n".join(lines), "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": LEVELS[spec.severity]},
        "properties": {
            "tags": sorted({"cmc", *spec.topics}),
            "kind": spec.kind,
            "severity": spec.severity,
            "confidence": spec.confidence,
            "version": spec.version,
            "security-severity": SCORES[spec.severity],
            "citations": [{"id": c.id, "title": c.title, **({"url": c.url} if c.url else {})} for c in sources],
        },
    }
    first_link = next((c.url for c in sources if c.url), None)
    if first_link:
        descriptor["helpUri"] = first_link
    return descriptor


def _fingerprint(program_id: str, finding: FindingResult) -> str:
    """Stable across runs and unrelated edits: the program, the rule and which facts it matched."""
    key = json.dumps([program_id, finding.rule, sorted(finding.facts)], separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _result(report: ProgramReport, finding: FindingResult, rule_index: int, artifact_index: int) -> dict[str, Any]:
    assert report.result is not None  # noqa: S101 - only called for assessed programs
    uri = artifact_uri(report.shown)
    location = {
        "physicalLocation": {
            "artifactLocation": {"uri": uri, "index": artifact_index},
            "region": {"startLine": finding_line(finding, report.doc)},
        }
    }
    undetermined = finding.kind == "undetermined"
    out: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "kind": "open" if undetermined else "fail",
        "level": "none" if undetermined else LEVELS[finding.severity],
        "message": {"text": sentence(finding.title, finding.detail)},
        "locations": [location],
        "partialFingerprints": {"cmcadvisorFinding/v1": _fingerprint(report.result.program.id, finding)},
        "properties": {
            "finding": finding.id,
            "program": report.result.program.id,
            "asOf": report.result.as_of,
            "severity": finding.severity,
            "confidence": finding.confidence,
            "facts": {name: finding.facts[name] for name in sorted(finding.facts)},
            "citations": [c.id for c in finding.citations],
            **({"missingFacts": list(finding.missing_facts)} if finding.missing_facts else {}),
            **({"due": finding.due.model_dump(exclude_none=True)} if finding.due.stage or finding.due.date else {}),
        },
    }
    if finding.waiver is not None:
        waiver = finding.waiver
        suppression: dict[str, Any] = {
            "kind": "inSource",  # the waiver is written in the program file itself
            "status": "accepted" if waiver.honoured and finding.status == "waived" else "rejected",
            "justification": waiver.justification,
            "properties": {
                "approvedBy": waiver.approved_by,
                "approvedOn": waiver.approved_on,
                "expires": waiver.expires,
                **({"reason": waiver.reason} if waiver.reason else {}),
            },
        }
        line = waiver_line(finding.rule, report.doc)
        if line is not None:
            suppression["location"] = {
                "physicalLocation": {"artifactLocation": {"uri": uri, "index": artifact_index}, "region": {"startLine": line}}
            }
        out["suppressions"] = [suppression]
    return out


def sarif_log(reports: Sequence[ProgramReport], pack: RulePack, kb: KnowledgeBase) -> str:
    """The SARIF 2.1.0 log (JSON text) of one or more assessed programs."""
    rules = list(pack.active)
    index = {rule.id: position for position, rule in enumerate(rules)}
    artifacts: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for report in reports:
        artifact_index = len(artifacts)
        artifacts.append({"location": {"uri": artifact_uri(report.shown)}, "roles": ["analysisTarget"]})
        if report.result is None:
            for error in report.errors:
                notifications.append(
                    {
                        "level": "error",
                        "message": {"text": error},
                        "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(report.shown)}}}],
                    }
                )
            continue
        for finding in report.result.findings:
            if finding.status == "met" or finding.rule not in index:
                continue  # met: nothing to report; a rule outside the active pack cannot be described
            results.append(_result(report, finding, index[finding.rule], artifact_index))
    invocation: dict[str, Any] = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cmcadvisor",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule_descriptor(rule, kb) for rule in rules],
                    }
                },
                "artifacts": artifacts,
                "invocations": [invocation],
                "results": results,
                "columnKind": "unicodeCodePoints",
                "properties": {"rulesSha256": pack.sha256, "knowledgeSha256": kb.sha256},
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
