"""What changed between two assessments: facts first, then rules, pathways, findings, timeline, risks.

``cmcadvisor diff OLD NEW`` takes two program files (each assessed now) or two audit records
(compared as recorded: facts and firings). Findings and risks are matched by what they are
about (the rule and, for a rule over a list, the item: its name, its description or else its
fields), never by their positional ids (``F-0003``, ``R-007``), which renumber when a finding is
added; a list item's facts are named by the item's name or description, not its position. The
comparison is data; :func:`render_diff` formats it and writes ``(none)`` or ``(not given)``
where a side has no value, never Python's ``None``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmcadvisor import api
from cmcadvisor.audit import load_record
from cmcadvisor.facts import FactSet
from cmcadvisor.models.result import AssessmentResult, FindingResult

_ITEM_FACT = re.compile(r"^(?P<collection>[a-z0-9_.]+)\[(?P<index>\d+)\]\.")
NOT_GIVEN = "(not given)"
NONE = "(none)"


@dataclass(frozen=True)
class Entry:
    """A finding or risk as compared: what it is about, and the values that can change."""

    rule: str
    item: str | None
    title: str
    severity: str | None = None
    status: str | None = None
    score: int | None = None

    @property
    def label(self) -> str:
        """``RULE: title``, with ``[item]`` after the rule unless the title names the item already."""
        shown = f" [{self.item}]" if self.item and self.item not in self.title else ""
        return f"{self.rule}{shown}: {self.title}"


@dataclass
class Snapshot:
    """The comparable parts of one assessment."""

    facts: dict[str, Any]
    fired: set[str]
    pathways: dict[str, str] = field(default_factory=dict)
    findings: dict[tuple[str, str | None], Entry] = field(default_factory=dict)
    milestones: dict[str, str | None] = field(default_factory=dict)
    make_or_buy: str | None = None
    risks: dict[tuple[str, str | None], Entry] = field(default_factory=dict)
    undated: str | None = None  # the name of a program file with no as_of date of its own (for the clock note)


@dataclass
class Diff:
    """Every difference, grouped."""

    facts: list[tuple[str, Any, Any]]
    rules_gained: list[str]
    rules_lost: list[str]
    pathways: list[tuple[str, str | None, str | None]]
    findings_gained: list[Entry]
    findings_lost: list[Entry]
    findings_changed: list[tuple[Entry, Entry]]
    milestones: list[tuple[str, str | None, str | None]]
    make_or_buy: tuple[str | None, str | None] | None
    risks_gained: list[Entry] = field(default_factory=list)
    risks_lost: list[Entry] = field(default_factory=list)
    risks_changed: list[tuple[Entry, Entry]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """No difference at all."""
        return not any(
            (
                self.facts,
                self.rules_gained,
                self.rules_lost,
                self.pathways,
                self.findings_gained,
                self.findings_lost,
                self.findings_changed,
                self.milestones,
                self.make_or_buy,
                self.risks_gained,
                self.risks_lost,
                self.risks_changed,
            )
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (an absent value is null)."""

        def entry(e: Entry) -> dict[str, Any]:
            return {"rule": e.rule, "item": e.item, "title": e.title, "severity": e.severity, "status": e.status}

        def risk(e: Entry) -> dict[str, Any]:
            return {"rule": e.rule, "item": e.item, "title": e.title, "score": e.score}

        return {
            "facts": [{"fact": f, "old": o, "new": n} for f, o, n in self.facts],
            "rules": {"gained": self.rules_gained, "lost": self.rules_lost},
            "pathways": [{"id": p, "old": o, "new": n} for p, o, n in self.pathways],
            "findings": {
                "gained": [e.label for e in self.findings_gained],
                "lost": [e.label for e in self.findings_lost],
                "gained_detail": [entry(e) for e in self.findings_gained],
                "lost_detail": [entry(e) for e in self.findings_lost],
                "changed": [{"old": entry(o), "new": entry(n)} for o, n in self.findings_changed],
            },
            "milestones": [{"id": m, "old": o, "new": n} for m, o, n in self.milestones],
            "make_or_buy": None if self.make_or_buy is None else {"old": self.make_or_buy[0], "new": self.make_or_buy[1]},
            "risks": [
                {"rule": n.rule, "item": n.item, "title": n.title, "old_score": o.score, "new_score": n.score}
                for o, n in self.risks_changed
            ],
            "risks_gained": [risk(e) for e in self.risks_gained],
            "risks_lost": [risk(e) for e in self.risks_lost],
        }


def _item_label(item: Any) -> str | None:
    label = item.get("name") or item.get("description") if isinstance(item, dict) else None
    return label if isinstance(label, str) and label else None


def _flat_facts(scalars: dict[str, Any], lists: dict[str, Any], collections: dict[str, Any]) -> dict[str, Any]:
    """Facts by name; a list item's facts by the item's name or description (its position only when it has none)."""
    flat: dict[str, Any] = dict(scalars)
    flat.update({k: list(v) for k, v in lists.items()})
    for name, items in collections.items():
        labels = [_item_label(item) for item in items]
        for index, item in enumerate(items):
            label = labels[index]
            where = label if label is not None and labels.count(label) == 1 and "]" not in label else str(index)
            for key, value in item.items():
                flat[f"{name}[{where}].{key}"] = value
    return flat


def _item_of(finding: FindingResult, facts: FactSet) -> str | None:
    """Which item of a list a finding is about: its name or description, else its fields (None: no item)."""
    for name in sorted(finding.facts):
        match = _ITEM_FACT.match(name)
        if match is None:
            continue
        items = facts.collections.get(match["collection"], ())
        index = int(match["index"])
        if index >= len(items):
            return f"{match['collection']} item {index}"
        item = items[index]
        return _item_label(item) or json.dumps(dict(sorted(item.items())), sort_keys=True, default=str)
    return None


def snapshot_of(result: AssessmentResult, facts: FactSet) -> Snapshot:
    """The comparable parts of an assessment (``facts``: the program's facts, to name list items)."""
    findings: dict[tuple[str, str | None], Entry] = {}
    by_id: dict[str, tuple[str, str | None]] = {}
    for finding in result.findings:
        if finding.kind == "undetermined":
            continue
        key = (finding.rule, _item_of(finding, facts))
        by_id[finding.id] = key
        findings[key] = Entry(key[0], key[1], finding.title, finding.severity, finding.status)
    risks: dict[tuple[str, str | None], Entry] = {}
    for risk in result.risks:
        key = by_id.get(risk.finding or "") or (",".join(risk.rules), risk.title)
        risks[key] = Entry(",".join(risk.rules), key[1], risk.title, score=risk.score, status=risk.status)
    return Snapshot(
        facts=_flat_facts(dict(facts.scalars), dict(facts.lists), {k: list(v) for k, v in facts.collections.items()}),
        fired={f.rule for f in result.audit.fired},
        pathways={p.id: p.status for p in result.pathways},
        findings=findings,
        milestones={m.id: m.forecast for m in result.timeline.milestones},
        make_or_buy=result.make_or_buy.recommendation,
        risks=risks,
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
    evaluated = api.evaluate(program, context, options, doc)
    taken = snapshot_of(api.result_of(evaluated), evaluated.facts)
    taken.undated = doc.source if program.program.as_of is None else None
    return taken


def _changed(
    old: dict[tuple[str, str | None], Entry], new: dict[tuple[str, str | None], Entry], fields: tuple[str, ...]
) -> tuple[list[Entry], list[Entry], list[tuple[Entry, Entry]]]:
    gained = [new[k] for k in sorted(set(new) - set(old), key=str)]
    lost = [old[k] for k in sorted(set(old) - set(new), key=str)]
    changed = [
        (old[k], new[k])
        for k in sorted(set(old) & set(new), key=str)
        if any(getattr(old[k], f) != getattr(new[k], f) for f in fields)
    ]
    return gained, lost, changed


def compare(old: Snapshot, new: Snapshot) -> Diff:
    """The differences between two snapshots, sorted."""
    keys = sorted(set(old.facts) | set(new.facts))
    findings = _changed(old.findings, new.findings, ("severity", "status"))
    risks = _changed(old.risks, new.risks, ("score",))
    return Diff(
        facts=[(k, old.facts.get(k), new.facts.get(k)) for k in keys if old.facts.get(k) != new.facts.get(k)],
        rules_gained=sorted(new.fired - old.fired),
        rules_lost=sorted(old.fired - new.fired),
        pathways=[
            (p, old.pathways.get(p), new.pathways.get(p))
            for p in sorted(set(old.pathways) | set(new.pathways))
            if old.pathways.get(p) != new.pathways.get(p)
        ],
        findings_gained=findings[0],
        findings_lost=findings[1],
        findings_changed=findings[2],
        milestones=[
            (m, old.milestones.get(m), new.milestones.get(m))
            for m in sorted(set(old.milestones) | set(new.milestones))
            if old.milestones.get(m) != new.milestones.get(m)
        ],
        make_or_buy=None if old.make_or_buy == new.make_or_buy else (old.make_or_buy, new.make_or_buy),
        risks_gained=risks[0],
        risks_lost=risks[1],
        risks_changed=risks[2],
    )


def _value(value: object) -> str:
    """A fact value as text: JSON for given values, ``(not given)`` for an absent one."""
    return NOT_GIVEN if value is None else json.dumps(value, default=str)


def _text(value: object) -> str:
    return NONE if value is None else str(value)


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

    def finding_change(old: Entry, new: Entry) -> str:
        parts = [
            f"{name} {_text(getattr(old, name))} -> {_text(getattr(new, name))}"
            for name in ("severity", "status")
            if getattr(old, name) != getattr(new, name)
        ]
        return f"{new.label} ({'; '.join(parts)})"

    section("Facts changed", [f"{f}: {_value(o)} -> {_value(n)}" for f, o, n in diff.facts])
    section("Rules now firing", diff.rules_gained)
    section("Rules no longer firing", diff.rules_lost)
    section("Pathway statuses", [f"{p}: {_text(o)} -> {_text(n)}" for p, o, n in diff.pathways])
    section("New findings", [e.label for e in diff.findings_gained])
    section("Findings gone", [e.label for e in diff.findings_lost])
    section("Findings changed", [finding_change(o, n) for o, n in diff.findings_changed])
    section("Milestone forecasts", [f"{m}: {_text(o)} -> {_text(n)}" for m, o, n in diff.milestones])
    if diff.make_or_buy:
        section("Make or buy", [f"{_text(diff.make_or_buy[0])} -> {_text(diff.make_or_buy[1])}"])
    section("New risks", [f"{e.label} (score {_text(e.score)})" for e in diff.risks_gained])
    section("Risks gone", [f"{e.label} (score {_text(e.score)})" for e in diff.risks_lost])
    section("Risk scores", [f"{n.label}: {_text(o.score)} -> {_text(n.score)}" for o, n in diff.risks_changed])
    if diff.empty:
        lines.append("No differences.")
    return "\n".join(lines).rstrip() + "\n"
