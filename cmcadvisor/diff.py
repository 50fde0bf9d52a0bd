"""What changed between two assessments: facts first, then rules, pathways, findings, timeline.

``cmcadvisor diff OLD NEW`` takes two program files (each assessed now) or two audit records
(compared as recorded). The comparison is data; formatting lives in the CLI-facing renderers
below, which escape nothing because they print only ids, dates and fact values as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmcadvisor import api
from cmcadvisor.audit import load_record
from cmcadvisor.facts import derive_facts
from cmcadvisor.models.result import AssessmentResult


@dataclass
class Snapshot:
    """The comparable parts of one assessment."""

    facts: dict[str, Any]
    fired: set[str]
    pathways: dict[str, str] = field(default_factory=dict)
    findings: dict[str, str] = field(default_factory=dict)
    milestones: dict[str, str | None] = field(default_factory=dict)
    make_or_buy: str | None = None
    risks: dict[str, int] = field(default_factory=dict)


@dataclass
class Diff:
    """Every difference, grouped."""

    facts: list[tuple[str, Any, Any]]
    rules_gained: list[str]
    rules_lost: list[str]
    pathways: list[tuple[str, str | None, str | None]]
    findings_gained: list[str]
    findings_lost: list[str]
    milestones: list[tuple[str, str | None, str | None]]
    make_or_buy: tuple[str | None, str | None] | None
    risks: list[tuple[str, int | None, int | None]]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "facts": [{"fact": f, "old": o, "new": n} for f, o, n in self.facts],
            "rules": {"gained": self.rules_gained, "lost": self.rules_lost},
            "pathways": [{"id": p, "old": o, "new": n} for p, o, n in self.pathways],
            "findings": {"gained": self.findings_gained, "lost": self.findings_lost},
            "milestones": [{"id": m, "old": o, "new": n} for m, o, n in self.milestones],
            "make_or_buy": None if self.make_or_buy is None else {"old": self.make_or_buy[0], "new": self.make_or_buy[1]},
            "risks": [{"id": r, "old_score": o, "new_score": n} for r, o, n in self.risks],
        }


def _flat_facts(scalars: dict[str, Any], lists: dict[str, Any], collections: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = dict(scalars)
    flat.update({k: list(v) for k, v in lists.items()})
    for name, items in collections.items():
        for index, item in enumerate(items):
            for key, value in item.items():
                flat[f"{name}[{index}].{key}"] = value
    return flat


def _from_result(result: AssessmentResult, facts: dict[str, Any]) -> Snapshot:
    return Snapshot(
        facts=facts,
        fired={f.rule for f in result.audit.fired},
        pathways={p.id: p.status for p in result.pathways},
        findings={f"{f.rule}: {f.title}": f.severity for f in result.findings if f.kind != "undetermined"},
        milestones={m.id: m.forecast for m in result.timeline.milestones},
        make_or_buy=result.make_or_buy.recommendation,
        risks={r.id: r.score for r in result.risks},
    )


def snapshot(path: Path, options: api.Options, context: api.Context) -> Snapshot:
    """Assess a program file, or read an audit record, into a snapshot."""
    if path.suffix == ".json":
        try:
            record = load_record(path)
        except Exception:  # noqa: BLE001 - a .json program file is not a record
            record = None
        if record is not None:
            facts = record.get("facts", {})
            return Snapshot(
                facts=_flat_facts(facts.get("scalars", {}), facts.get("lists", {}), facts.get("collections", {})),
                fired={f["rule"] for f in record.get("firings", [])},
            )
    program, doc = api.read_validated(path, options, context)
    result = api.assess(program, context, options, doc)
    import datetime

    facts = derive_facts(program, datetime.date.fromisoformat(result.as_of))
    return _from_result(result, _flat_facts(facts.scalars, facts.lists, {k: list(v) for k, v in facts.collections.items()}))


def compare(old: Snapshot, new: Snapshot) -> Diff:
    """The differences between two snapshots, sorted."""
    keys = sorted(set(old.facts) | set(new.facts))
    return Diff(
        facts=[(k, old.facts.get(k), new.facts.get(k)) for k in keys if old.facts.get(k) != new.facts.get(k)],
        rules_gained=sorted(new.fired - old.fired),
        rules_lost=sorted(old.fired - new.fired),
        pathways=[
            (p, old.pathways.get(p), new.pathways.get(p))
            for p in sorted(set(old.pathways) | set(new.pathways))
            if old.pathways.get(p) != new.pathways.get(p)
        ],
        findings_gained=sorted(set(new.findings) - set(old.findings)),
        findings_lost=sorted(set(old.findings) - set(new.findings)),
        milestones=[
            (m, old.milestones.get(m), new.milestones.get(m))
            for m in sorted(set(old.milestones) | set(new.milestones))
            if old.milestones.get(m) != new.milestones.get(m)
        ],
        make_or_buy=None if old.make_or_buy == new.make_or_buy else (old.make_or_buy, new.make_or_buy),
        risks=[
            (r, old.risks.get(r), new.risks.get(r))
            for r in sorted(set(old.risks) | set(new.risks))
            if old.risks.get(r) != new.risks.get(r)
        ],
    )


def render_diff(diff: Diff, fmt: str) -> str:
    """The diff as ``table`` (plain text), ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(diff.as_dict(), indent=2, sort_keys=True, default=str) + "\n"
    md = fmt == "markdown"
    lines: list[str] = ["# Assessment diff", ""] if md else []

    def section(title: str, rows: list[str]) -> None:
        if not rows:
            return
        lines.append(f"## {title}" if md else f"{title}:")
        if md:
            lines.append("")
        lines.extend(f"- {row}" if md else f"  {row}" for row in rows)
        lines.append("")

    section("Facts changed", [f"{f}: {json.dumps(o)} -> {json.dumps(n)}" for f, o, n in diff.facts])
    section("Rules now firing", diff.rules_gained)
    section("Rules no longer firing", diff.rules_lost)
    section("Pathway statuses", [f"{p}: {o} -> {n}" for p, o, n in diff.pathways])
    section("New findings", diff.findings_gained)
    section("Findings gone", diff.findings_lost)
    section("Milestone forecasts", [f"{m}: {o} -> {n}" for m, o, n in diff.milestones])
    if diff.make_or_buy:
        section("Make or buy", [f"{diff.make_or_buy[0]} -> {diff.make_or_buy[1]}"])
    section("Risk scores", [f"{r}: {o} -> {n}" for r, o, n in diff.risks])
    if not any((diff.facts, diff.rules_gained, diff.rules_lost, diff.pathways, diff.milestones, diff.make_or_buy)):
        lines.append("No differences.")
    return "\n".join(lines).rstrip() + "\n"
