"""Keeping the knowledge current: the lint checks on source age and ``cmcadvisor knowledge status``."""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cmcadvisor.cli import cli
from cmcadvisor.knowledge import load_knowledge
from cmcadvisor.models.knowledge import Citation
from cmcadvisor.registry import load_rulepack
from cmcadvisor.rulelint import citation_attention, lint, months_between

ROOT = Path(__file__).resolve().parents[1]
DAY = datetime.date(2026, 12, 4)


def _citation(**changes: Any) -> Citation:
    base: dict[str, Any] = {
        "id": "CIT-TEST-SOURCE",
        "title": "A test source",
        "issuer": "FDA",
        "year": 2024,
        "kind": "guidance",
        "status": "final",
        "confidence": "verified",
        "last_checked": DAY,
    }
    return Citation.model_validate({**base, **changes})


def _messages(citation: Citation, today: datetime.date = DAY) -> list[str]:
    return [a.message for a in citation_attention(citation, today)]


# ---------------------------------------------------------------------------------- lint checks


def test_months_between_counts_whole_calendar_months() -> None:
    assert months_between(datetime.date(2025, 12, 1), DAY) == 12
    assert months_between(datetime.date(2025, 12, 5), DAY) == 11
    assert months_between(datetime.date(2024, 1, 31), datetime.date(2024, 2, 29)) == 1
    assert months_between(DAY, DAY) == 0


def test_a_draft_issued_more_than_12_months_ago_is_flagged_with_its_age() -> None:
    draft = _citation(status="draft", issued="2025-10")
    assert _messages(draft) == ["draft for 14 months (issued 2025-10): check whether it was finalised"]
    assert _messages(_citation(status="draft", issued="2023-07-13")) == [
        "draft for 40 months (issued 2023-07-13): check whether it was finalised"
    ]


def test_a_draft_of_12_months_or_less_is_not_flagged() -> None:
    assert _messages(_citation(status="draft", issued="2025-12-04")) == []  # exactly 12 months
    assert _messages(_citation(status="draft", issued="2026-04")) == []
    assert _messages(_citation(status="draft", issued="2025-12-03")) == [
        "draft for 12 months (issued 2025-12-03): check whether it was finalised"
    ]


def test_a_draft_known_only_by_its_year_never_overstates_its_age() -> None:
    by_year = _citation(status="draft", year=2024)
    assert _messages(by_year) == ["draft for at least 23 months (issued in 2024): check whether it was finalised"]
    assert _messages(_citation(status="draft", year=2025, issued="2025")) == []  # 31 Dec 2025 is under 12 months ago


def test_an_old_final_source_is_not_treated_as_a_draft() -> None:
    assert _messages(_citation(status="final", issued="2011-01")) == []


def test_a_recheck_date_in_the_past_is_flagged() -> None:
    due = _citation(status="draft", issued="2026-06", recheck_by=datetime.date(2026, 11, 30))
    assert _messages(due) == [
        "re-check date 2026-11-30 passed 4 days ago: check the source again, "
        "then set a new recheck_by (or remove it once the source is final)"
    ]
    assert _messages(_citation(status="draft", issued="2026-06", recheck_by=DAY)) == []  # due today, not yet passed


def test_a_source_not_checked_for_more_than_12_months_is_stale() -> None:
    stale = _citation(last_checked=datetime.date(2025, 12, 3))
    assert _messages(stale) == [
        "last checked 2025-12-03, 366 days ago (more than 12 months): check the source again and update last_checked"
    ]
    assert _messages(_citation(last_checked=datetime.date(2025, 12, 4))) == []


def test_lint_reports_the_checks_with_their_file_and_citation() -> None:
    kb = load_knowledge()
    pack = load_rulepack(())
    old = kb.citations["CIT-FDA-AA-DRAFT-2024"]
    changed = {
        **kb.citations,
        old.id: old.model_copy(update={"recheck_by": None}),
        "CIT-ICH-Q5C": kb.citations["CIT-ICH-Q5C"].model_copy(
            update={"last_checked": datetime.date(2025, 1, 10), "recheck_by": datetime.date(2026, 6, 1)}
        ),
    }
    issues = lint(pack, dataclasses.replace(kb, citations=changed), today=DAY)
    found = {(i.location, i.message) for i in issues if i.level == "warning"}
    source = kb.citation_sources[old.id]
    assert ("citation CIT-FDA-AA-DRAFT-2024", "draft for 24 months (issued 2024-12): check whether it was finalised") in found
    no_date = "is a draft with no re-check date: set recheck_by to when to look again for a final version"
    assert ("citation CIT-FDA-AA-DRAFT-2024", no_date) in found
    assert any(i.source == source and i.location == f"citation {old.id}" for i in issues)
    q5c = {message for where, message in found if where == "citation CIT-ICH-Q5C"}
    assert any(m.startswith("last checked 2025-01-10, 693 days ago (more than 12 months)") for m in q5c), q5c
    assert any(m.startswith("re-check date 2026-06-01 passed 186 days ago") for m in q5c), q5c


def test_every_built_in_draft_has_a_recheck_date() -> None:
    kb = load_knowledge()
    drafts = [c for c in kb.citations.values() if c.status == "draft"]
    assert drafts
    assert [c.id for c in drafts if c.recheck_by is None] == []


def test_rules_lint_judges_ages_as_of_the_given_date(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "lint", "--as-of", "2028-06-01"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output  # errors elsewhere exit 2
    assert "citation CIT-ICH-Q5C: last checked" in result.output
    assert "(more than 12 months): check the source again" in result.output
    assert "re-check date 2027-03-04 passed" in result.output


# ---------------------------------------------------------------------------------- knowledge status


def test_status_lists_every_built_in_citation_in_every_format(runner: CliRunner) -> None:
    ids = set(load_knowledge().citations)
    for fmt in ("table", "json", "csv", "markdown"):
        result = runner.invoke(cli, ["knowledge", "status", "--as-of", "2026-12-04", "--format", fmt], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        missing = sorted(cid for cid in ids if cid not in result.stdout)
        assert missing == [], (fmt, missing)


def test_status_json_parses_and_holds_every_field(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["knowledge", "status", "--as-of", "2026-12-04", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    kb = load_knowledge()
    assert data["as_of"] == "2026-12-04"
    assert data["total"] == data["count"] == len(kb.citations)
    rows = {row["id"]: row for row in data["sources"]}
    assert set(rows) == set(kb.citations)
    draft = rows["CIT-FDA-AA-DRAFT-2024"]
    assert draft["status"] == "draft"
    assert draft["issued"] == "2024-12"
    assert draft["last_checked"] == kb.citations["CIT-FDA-AA-DRAFT-2024"].last_checked.isoformat()
    assert draft["age_days"] == (DAY - kb.citations["CIT-FDA-AA-DRAFT-2024"].last_checked).days
    assert draft["recheck_by"] == "2027-03-04"
    assert draft["due"] is True
    assert [a["reason"] for a in draft["needs_attention"]] == ["old_draft"]
    assert "PW-AA-003" in draft["dependants"]["rules"]
    assert draft["dependants"]["pathways"] == ["us.accelerated_approval"]
    statuses = [row["status"] for row in data["sources"]]
    order = ["final", "current", "draft", "superseded", "withdrawn"]
    assert statuses == sorted(statuses, key=order.index)  # grouped by status in the review's order
    for status in set(statuses):
        group = [row["id"] for row in data["sources"] if row["status"] == status]
        assert group == sorted(group)


def _knowledge_with_test_sources(tmp_path: Path) -> Path:
    """The built-in knowledge plus five uncited sources with known ages, as of 2026-12-04."""
    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    common = "issuer: FDA\n    kind: guidance\n    confidence: secondary\n"
    entries = {
        "CIT-ZZ-FRESH-FINAL": "year: 2020\n    status: final\n    last_checked: 2026-10-01",
        "CIT-ZZ-STALE-FINAL": "year: 2020\n    status: final\n    last_checked: 2025-10-01",
        "CIT-ZZ-NEW-DRAFT": "year: 2026\n    issued: 2026-05\n    status: draft\n    last_checked: 2026-11-01\n"
        "    recheck_by: 2027-03-04",
        "CIT-ZZ-OLD-DRAFT": "year: 2024\n    issued: 2024-06\n    status: draft\n    last_checked: 2026-11-01\n"
        "    recheck_by: 2027-03-04",
        "CIT-ZZ-RECHECK-DUE": "year: 2026\n    status: current\n    last_checked: 2026-06-01\n    recheck_by: 2026-09-01",
    }
    text = "citations:\n" + "".join(
        f"  - id: {cid}\n    title: Test source {cid}\n    {common}    {body}\n" for cid, body in entries.items()
    )
    (folder / "citations-zz-test.yaml").write_text(text)
    return folder


def test_due_shows_only_sources_needing_attention(runner: CliRunner, tmp_path: Path) -> None:
    folder = _knowledge_with_test_sources(tmp_path)
    args = ["--knowledge-dir", str(folder), "knowledge", "status", "--as-of", "2026-12-04", "--format", "json"]
    everything = json.loads(runner.invoke(cli, args).stdout)
    due = json.loads(runner.invoke(cli, [*args, "--due"]).stdout)
    tests = {row["id"] for row in due["sources"] if row["id"].startswith("CIT-ZZ-")}
    assert tests == {"CIT-ZZ-STALE-FINAL", "CIT-ZZ-OLD-DRAFT", "CIT-ZZ-RECHECK-DUE"}
    assert all(row["due"] and row["needs_attention"] for row in due["sources"])
    assert due["count"] == everything["due"] < everything["count"] == due["total"]
    reasons = {row["id"]: [a["reason"] for a in row["needs_attention"]] for row in due["sources"]}
    assert reasons["CIT-ZZ-STALE-FINAL"] == ["stale"]
    assert reasons["CIT-ZZ-OLD-DRAFT"] == ["old_draft"]
    assert reasons["CIT-ZZ-RECHECK-DUE"] == ["recheck_due"]
    # A year on, everything checked before December 2025 is stale: the filter follows --as-of.
    later = json.loads(runner.invoke(cli, [*args[:-4], "--as-of", "2027-12-04", "--format", "json", "--due"]).stdout)
    assert "CIT-ZZ-FRESH-FINAL" in {row["id"] for row in later["sources"]}


def test_status_names_dependants_from_extra_rule_packs_and_says_when_there_are_none(runner: CliRunner, tmp_path: Path) -> None:
    folder = _knowledge_with_test_sources(tmp_path)
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "CMC-ZZT-001.yaml").write_text(
        "id: CMC-ZZT-001\ntitle: A rule citing a test source\nkind: gap\nseverity: low\ntopics: [capital]\nversion: 1\n"
        "status: active\nconfidence: unverified\n"
        "when: {all: [{fact: organization.funding_stage, op: eq, value: series_a}]}\n"
        "then: {message: 'Raise money.'}\ncitations: [CIT-ZZ-OLD-DRAFT]\nrationale: r\n"
        "examples:\n  - {name: a, facts: {organization.funding_stage: series_a}, expect: fires}\n"
        "  - {name: b, facts: {organization.funding_stage: seed}, expect: silent}\n"
    )
    base = ["--knowledge-dir", str(folder), "--rules-dir", str(pack), "knowledge", "status", "--as-of", "2026-12-04"]
    data = json.loads(runner.invoke(cli, [*base, "--format", "json"]).stdout)
    rows = {row["id"]: row for row in data["sources"]}
    assert rows["CIT-ZZ-OLD-DRAFT"]["dependants"]["rules"] == ["CMC-ZZT-001"]
    assert rows["CIT-ZZ-FRESH-FINAL"]["dependant_count"] == 0
    markdown = runner.invoke(cli, [*base, "--format", "markdown"]).stdout
    line = next(li for li in markdown.splitlines() if "CIT-ZZ-FRESH-FINAL" in li)
    assert line.endswith("| no dependants |")
    assert "Rules: CMC-ZZT-001" in next(li for li in markdown.splitlines() if "CIT-ZZ-OLD-DRAFT" in li)
    table = runner.invoke(cli, [*base], env={"COLUMNS": "200"}).stdout
    assert "no dependants" in table


def test_status_table_fits_80_columns_and_groups_by_status(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["knowledge", "status", "--as-of", "2026-12-04"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    headings = [line.split(" (")[0] for line in lines if line.split(" (")[0] in ("Final", "Current", "Draft")]
    assert headings == ["Final", "Current", "Draft"]
    assert "! draft for 24 months" in result.stdout


def test_status_says_which_date_it_uses(runner: CliRunner) -> None:
    defaulted = runner.invoke(cli, ["knowledge", "status", "--format", "json"])
    assert defaulted.exit_code == 0, defaulted.output
    today = json.loads(defaulted.stdout)["as_of"]
    assert f"note: ages counted as of today, {today}; give --as-of to choose the date" in defaulted.stderr
    given = runner.invoke(cli, ["knowledge", "status", "--format", "json", "--as-of", "2026-12-04"])
    assert given.stderr == ""
    bad = runner.invoke(cli, ["knowledge", "status", "--as-of", "2026-13-01"])
    assert bad.exit_code == 2
    assert "not a date" in bad.output


@pytest.mark.parametrize("sort", ["status", "age", "id"])
def test_status_output_is_deterministic(runner: CliRunner, sort: str) -> None:
    args = ["knowledge", "status", "--as-of", "2026-12-04", "--sort", sort, "--format", "csv"]
    first, second = runner.invoke(cli, args), runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    rows = [line.split(",")[0] for line in first.stdout.splitlines()[1:]]
    if sort == "id":
        assert rows == sorted(rows)
    assert len(rows) == len(load_knowledge().citations)


def test_status_by_age_puts_the_longest_unchecked_first(runner: CliRunner, tmp_path: Path) -> None:
    folder = _knowledge_with_test_sources(tmp_path)
    args = ["--knowledge-dir", str(folder), "knowledge", "status", "--as-of", "2026-12-04", "--sort", "age", "--format", "json"]
    data = json.loads(runner.invoke(cli, args).stdout)
    ages = [row["age_days"] for row in data["sources"]]
    assert ages == sorted(ages, reverse=True)
    assert data["sources"][0]["id"] == "CIT-ZZ-STALE-FINAL"
