"""Assessment records (``assess --audit``) and their verification (``audit verify``).

A record holds everything needed to reproduce and check one assessment: content hashes of the
canonical program, the rule pack, the knowledge and the templates actually used (an
organisation's ``--templates`` and ``--knowledge-dir`` with the built-in files they fall back
on, file by file, so verification names the file that changed); tool, engine and library
versions; the date and options; the facts asserted; the knowledge-held policy applied
(make-or-buy vote cap, thresholds and confidence band; the review clock and the pathway status
that chose it); the firings in engine order with the facts they matched; what did not fire,
what was undetermined and what was waived; hashes of the outputs; and a hash of the record
itself. Only the start and finish times vary between runs. Verification re-runs the assessment
and names the first difference. This module does not render reports.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from cmcadvisor import __version__, api
from cmcadvisor.errors import UserInputError
from cmcadvisor.facts import derive_facts
from cmcadvisor.knowledge import SourceFile, combined_sha256, source_file
from cmcadvisor.loader import data_dir, files_under, read_bytes
from cmcadvisor.makeorbuy import judged_band
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.result import AssessmentResult
from cmcadvisor.validation import read_program

RECORD_SCHEMA = 1
LIBRARIES = ("durable-rules", "pydantic", "click", "jinja2", "networkx", "pyyaml", "rich", "matplotlib")


def _canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_bytes(data: bytes) -> str:
    """SHA-256 of bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def template_files(override: Path | None = None) -> tuple[SourceFile, ...]:
    """The templates a render can use: an organisation's ``--templates`` folder, then the packaged ones.

    The packaged templates stay reachable under an override (a template the folder lacks, and
    ``default:`` names), so both are listed.
    """
    packaged = data_dir("templates")
    found = [source_file(packaged, p, "templates", True) for p in files_under(packaged, "*.j2")] if packaged.is_dir() else []
    if override is not None and override.is_dir():
        found.extend(source_file(override, p, None, False) for p in files_under(override, "*.j2"))
    return tuple(sorted(found, key=lambda f: f.shown))


def templates_sha256(override: Path | None = None) -> str:
    """One content hash over the templates a render can use (see :func:`template_files`)."""
    return combined_sha256(template_files(override), "templates")


def _file_hashes(files: tuple[SourceFile, ...]) -> dict[str, str]:
    return {f.shown: f.sha256 for f in files}


def _files_changed(what: str, old: dict[str, Any], new: dict[str, str]) -> str | None:
    """``knowledge base changed: knowledge/meetings.yaml changed, ...`` (None when the files agree)."""
    if old == new:
        return None
    parts = [
        f"{name} {'added' if name not in old else 'removed' if name not in new else 'changed'}"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]
    return f"{what} changed: " + ", ".join(parts[:8]) + (f" and {len(parts) - 8} more" if len(parts) > 8 else "")


def _versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def _options_record(options: api.Options, templates: Path | None) -> dict[str, Any]:
    return {
        "templates": str(templates) if templates else None,
        "as_of": options.as_of.isoformat() if options.as_of else None,
        "engine": options.engine,
        "overrides": list(options.overrides),
        "rules_dirs": [str(p) for p in options.rules_dirs],
        "builtin_rules": options.builtin_rules,
        "knowledge_dir": str(options.knowledge_dir) if options.knowledge_dir else None,
    }


def build_record(
    program_path: Path,
    program: ProgramFile,
    result: AssessmentResult,
    context: api.Context,
    options: api.Options,
    outputs: dict[str, str],
    started: datetime.datetime,
    finished: datetime.datetime,
    templates: Path | None = None,
) -> dict[str, Any]:
    """The audit record of one assessment (a plain JSON-ready mapping); ``templates``: the ``--templates`` folder."""
    as_of = datetime.date.fromisoformat(result.as_of)
    facts = derive_facts(program, as_of)
    audit = result.audit
    record: dict[str, Any] = {
        "record_schema": RECORD_SCHEMA,
        "tool": {"name": "cmcadvisor", "version": __version__},
        "engine": audit.engine,
        "libraries": _versions(),
        "program": {
            "path": str(program_path),
            "sha256": audit.input_sha256,
            "file_sha256": sha256_bytes(read_bytes(program_path)),
            "id": result.program.id,
        },
        "rules_sha256": audit.rules_sha256,
        "rules": [{"id": r.id, "version": r.spec.version, "status": r.spec.status} for r in context.pack.rules],
        "knowledge_sha256": audit.knowledge_sha256,
        "knowledge_files": _file_hashes(context.kb.files),
        "templates_sha256": templates_sha256(templates),
        "template_files": _file_hashes(template_files(templates)),
        "as_of": result.as_of,
        "policy": policy_record(program, result, context),
        "options": _options_record(options, templates),
        "facts": {
            "scalars": dict(sorted(facts.scalars.items())),
            "lists": {k: list(v) for k, v in sorted(facts.lists.items())},
            "collections": {k: [dict(sorted(i.items())) for i in v] for k, v in sorted(facts.collections.items())},
        },
        "firings": [f.model_dump() for f in audit.fired],
        "derived": list(audit.derived),
        "not_fired": list(audit.not_fired),
        "undetermined": dict(sorted(audit.undetermined_facts.items())),
        "waived": list(audit.waived),
        "waivers_unused": list(audit.waivers_unused),
        "outputs": dict(sorted(outputs.items())),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
    }
    record["record_sha256"] = record_hash(record)
    return record


def policy_record(program: ProgramFile, result: AssessmentResult, context: api.Context) -> dict[str, Any]:
    """The knowledge-held policy the assessment applied: make-or-buy cap, thresholds and band; the review clock."""
    config = context.kb.make_or_buy
    mob = result.make_or_buy
    known, band = judged_band(mob, config)
    choice = api.clock_for(program, context.kb, result.pathways)
    return {
        "make_or_buy": {
            "vote_cap": config.vote_cap,
            "decide": config.thresholds.decide,
            "min_known_factors": config.thresholds.min_known_factors,
            "confidence_bands": [b.model_dump(mode="json") for b in config.confidence],
            "known_factors": known,
            "confidence_band": band.confidence if band else None,
        },
        "review_clock": {"clock": choice.clock, "pathway": choice.pathway, "status": choice.status},
    }


def record_hash(record: dict[str, Any]) -> str:
    """The hash of a record's content, excluding its own hash field."""
    return sha256_bytes(_canonical({k: v for k, v in record.items() if k != "record_sha256"}))


def outputs_for(result: AssessmentResult, rendered: dict[str, str]) -> dict[str, str]:
    """Hashes of the outputs: the JSON result always, plus each rendered format."""
    from cmcadvisor.render import render

    hashes = {"json": sha256_bytes(render(result, "json").encode())}
    hashes.update({fmt: sha256_bytes(text.encode()) for fmt, text in rendered.items()})
    return hashes


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying a record: identical, or the differences found, first first."""

    identical: bool
    differences: list[str]
    notes: list[str]


def load_record(path: Path) -> dict[str, Any]:
    """Read a record; refuse anything that is not one."""
    raw = read_bytes(path)
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserInputError.single(
            str(path), f"not a JSON audit record: {exc.msg} at column {exc.colno}", line=exc.lineno
        ) from None
    except UnicodeDecodeError as exc:
        raise UserInputError.single(str(path), f"not a JSON audit record: not UTF-8 (byte {exc.start})", line=1) from None
    if not isinstance(record, dict) or record.get("record_schema") != RECORD_SCHEMA or "record_sha256" not in record:
        raise UserInputError.single(str(path), "not a cmcadvisor audit record (record_schema 1)", line=1)
    program = record.get("program")
    missing = [
        name
        for name, ok in (
            ("program.path", isinstance(program, dict) and isinstance(program.get("path"), str)),
            ("program.sha256", isinstance(program, dict) and isinstance(program.get("sha256"), str)),
            ("as_of", isinstance(record.get("as_of"), str) and _is_date(record["as_of"])),
            ("rules_sha256", isinstance(record.get("rules_sha256"), str)),
            ("knowledge_sha256", isinstance(record.get("knowledge_sha256"), str)),
            ("options", isinstance(record.get("options", {}), dict)),
            (
                "firings",
                isinstance(record.get("firings", []), list) and all(isinstance(f, dict) for f in record.get("firings", [])),
            ),
        )
        if not ok
    ]
    if missing:
        raise UserInputError.single(str(path), f"damaged audit record: {', '.join(missing)} missing or malformed", line=1)
    return record


def _is_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _options_from(record: dict[str, Any]) -> api.Options:
    saved = record.get("options") or {}
    return api.Options(
        as_of=datetime.date.fromisoformat(record["as_of"]),
        engine=str(saved.get("engine") or "auto"),
        overrides=tuple(saved.get("overrides") or ()),
        rules_dirs=tuple(Path(p) for p in saved.get("rules_dirs") or ()),
        builtin_rules=bool(saved.get("builtin_rules", True)),
        knowledge_dir=Path(saved["knowledge_dir"]) if saved.get("knowledge_dir") else None,
    )


def _dict_diff(label: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            changes.append(f"{label} {key}: {json.dumps(old.get(key))} -> {json.dumps(new.get(key))}")
    return changes


def verify(record_path: Path, program_path: Path | None = None) -> Verdict:
    """Re-run the recorded assessment and compare, most telling difference first."""
    record = load_record(record_path)
    differences: list[str] = []
    notes: list[str] = []
    if record_hash(record) != record.get("record_sha256"):
        differences.append("record edited: its content no longer matches its own hash (record_sha256)")
    if record.get("tool", {}).get("version") != __version__:
        notes.append(
            f"record made by cmcadvisor {record.get('tool', {}).get('version')}; this is {__version__}: "
            "rule and output differences may come from the tool itself"
        )
    source = program_path or Path(record["program"]["path"])
    options = _options_from(record)
    program, doc = read_program(source, overrides=options.overrides)
    current = api.canonical_sha256(program)
    if current != record["program"]["sha256"]:
        facts = derive_facts(program, options.as_of or datetime.date.fromisoformat(record["as_of"]))
        now = dict(facts.scalars)
        then = record.get("facts", {}).get("scalars", {})
        changed = _dict_diff("fact", then, now)
        differences.append("program changed: " + ("; ".join(changed[:5]) if changed else "lists or collections differ"))
    context = api.load_context(options)
    if context.pack.sha256 != record["rules_sha256"]:
        old = {r["id"]: r["version"] for r in record.get("rules", [])}
        new = {r.id: r.spec.version for r in context.pack.rules}
        moved = [
            f"{rid} v{old.get(rid)} -> v{new.get(rid)}" for rid in sorted(set(old) | set(new)) if old.get(rid) != new.get(rid)
        ]
        detail = ", ".join(moved[:8]) if moved else "rule text changed without a version bump"
        differences.append(f"rule pack drifted: {detail}")
    if context.kb.sha256 != record["knowledge_sha256"]:
        named = _files_changed("knowledge base", record.get("knowledge_files") or {}, _file_hashes(context.kb.files))
        differences.append(named or "knowledge base changed (knowledge_sha256 differs)")
    saved_templates = (record.get("options") or {}).get("templates")
    templates_now = template_files(Path(saved_templates) if saved_templates else None)
    if combined_sha256(templates_now, "templates") != record.get("templates_sha256"):
        named = _files_changed("templates", record.get("template_files") or {}, _file_hashes(templates_now))
        differences.append(named or "templates changed (templates_sha256 differs)")
    result = api.assess(program, context, options, doc)
    fired_now = [f.model_dump() for f in result.audit.fired]
    if result.audit.engine != record.get("engine"):
        notes.append(f"engine now {result.audit.engine}; recorded {record.get('engine')}")
    if sorted((f["rule"], f["item"] if f["item"] is not None else -1) for f in fired_now) != sorted(
        (f["rule"], f["item"] if f["item"] is not None else -1) for f in record.get("firings", [])
    ):
        gained = sorted({f["rule"] for f in fired_now} - {f["rule"] for f in record.get("firings", [])})
        lost = sorted({f["rule"] for f in record.get("firings", [])} - {f["rule"] for f in fired_now})
        differences.append(f"firings differ: now also {gained or 'none'}; no longer {lost or 'none'}")
    recorded_outputs = record.get("outputs", {})
    json_now = outputs_for(result, {})["json"]
    if recorded_outputs.get("json") != json_now:
        differences.append("the JSON result differs from the recorded one (outputs.json)")
    return Verdict(identical=not differences, differences=differences, notes=notes)


def write_record(path: Path, record: dict[str, Any], inputs: list[Path]) -> None:
    """Write a record atomically."""
    import pydantic_core

    from cmcadvisor.writer import write_atomic

    # pydantic's native serializer; keys sorted first, so the bytes are those of json.dumps(sort_keys=True, indent=2)
    write_atomic(path, pydantic_core.to_json(_sorted_keys(record), indent=2) + b"\n", inputs=inputs)


def _sorted_keys(data: object) -> object:
    """``data`` with the keys of every mapping in it sorted (lists keep their order)."""
    if isinstance(data, dict):
        return {key: _sorted_keys(data[key]) for key in sorted(data)}
    if isinstance(data, list | tuple):
        return [_sorted_keys(item) for item in data]
    return data
