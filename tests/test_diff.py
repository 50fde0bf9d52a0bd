"""``cmcadvisor diff``: findings and risks matched by rule and item, never by positional ids; no ``None`` printed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor.cli import cli
from cmcadvisor.diff import Entry, Snapshot, compare, render_diff

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
NEW_MATERIAL = """  materials:
    - name: Fetal bovine serum for the feeder step
      grade: research
      single_source: false
      lead_time_weeks: 4
      animal_origin: true
      qualified: true
"""


def _with_one_more_finding(tmp_path: Path) -> Path:
    """The CAR-T example with a research-grade material first in the list (so every later risk renumbers)."""
    text = CAR_T.read_text()
    assert text.count("  materials:\n") == 1
    changed = tmp_path / "car-t-plus.yaml"
    changed.write_text(text.replace("  materials:\n", NEW_MATERIAL, 1))
    return changed


def test_diff_of_one_added_finding_reports_it_and_no_other_change(runner: CliRunner, tmp_path: Path) -> None:
    changed = _with_one_more_finding(tmp_path)
    args = ["diff", str(CAR_T), str(changed), "--as-of", "2026-11-25"]
    result = runner.invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [f["rule"] for f in data["findings"]["gained_detail"]] == ["CMC-MAT-001", "CMC-MAT-004"]
    assert {f["item"] for f in data["findings"]["gained_detail"]} == {"Fetal bovine serum for the feeder step"}
    assert data["findings"]["lost"] == [] and data["findings"]["changed"] == []
    assert data["risks"] == [], "no score change for the risks that did not change"
    assert [r["rule"] for r in data["risks_gained"]] == ["CMC-MAT-001"] and data["risks_lost"] == []
    # the other materials moved down the list but did not change
    assert {f["fact"].split("]")[0] for f in data["facts"]} == {"supply_chain.materials[Fetal bovine serum for the feeder step"}
    text = runner.invoke(cli, args).output
    assert "New findings:" in text and "Risk scores" not in text and "Findings gone" not in text
    assert "None" not in text and "R-0" not in text


def test_diff_never_prints_none() -> None:
    old = Snapshot(facts={"a": None, "b": 1}, fired=set(), milestones={"bla_submission": None}, make_or_buy=None)
    new = Snapshot(
        facts={"a": 2},
        fired={"X"},
        milestones={"bla_submission": "2028-01-01"},
        make_or_buy="cdmo",
        pathways={"us.rmat": "eligible"},
    )
    new.risks[("CMC-X-001", None)] = Entry("CMC-X-001", None, "A risk", score=None)
    for fmt in ("table", "markdown"):
        text = render_diff(compare(old, new), fmt)
        assert "None" not in text
        assert "a: (not given) -> 2" in text and "b: 1 -> (not given)" in text
        assert (
            "bla_submission: (none) -> 2028-01-01" in text and "(none) -> cdmo" in text and "us.rmat: (none) -> eligible" in text
        )


def test_a_changed_score_is_matched_by_rule_and_item() -> None:
    key = ("CMC-EQP-001", "Freezer")
    old = Snapshot(facts={}, fired=set(), risks={key: Entry("CMC-EQP-001", "Freezer", "Late freezer", score=12)})
    new = Snapshot(
        facts={},
        fired=set(),
        risks={
            ("CMC-MAT-001", "Serum"): Entry("CMC-MAT-001", "Serum", "Research-grade serum", score=16),
            key: Entry("CMC-EQP-001", "Freezer", "Late freezer", score=16),
        },
    )
    diff = compare(old, new)
    assert [(o.score, n.score, n.rule) for o, n in diff.risks_changed] == [(12, 16, "CMC-EQP-001")]
    assert "CMC-EQP-001 [Freezer]: Late freezer: 12 -> 16" in render_diff(diff, "table")
