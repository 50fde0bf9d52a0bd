"""The risk register: categories, selection and scoring, and every output format (incl. hostile input)."""

from __future__ import annotations

import csv
import datetime
import io
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
import yaml
from conftest import ROOT
from hypothesis import given
from hypothesis import strategies as st

from cmcadvisor import api
from cmcadvisor.errors import KnowledgeError
from cmcadvisor.knowledge import load_knowledge
from cmcadvisor.models.result import AssessmentResult, DueRef, FindingResult, Risk, WaiverRef
from cmcadvisor.models.rule import TOPICS
from cmcadvisor.render.risk_formats import (
    COLUMNS,
    SHEET_COLUMNS,
    SHEET_HEADERS,
    heat_map,
    render_risks,
    risks_csv,
    risks_html,
    risks_json,
    risks_markdown,
    risks_table,
    risks_xlsx,
)
from cmcadvisor.risks import (
    RISK_CATEGORIES_FILE,
    WAIVED_MARK,
    build_risks,
    category_of,
    load_risk_categories,
    risk_level,
)

AS_OF = datetime.date(2026, 11, 25)
CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
CATEGORIES = load_risk_categories(None)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_MATERIAL = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def car_t() -> AssessmentResult:
    return api.assess_file(CAR_T, api.Options(as_of=AS_OF))


@pytest.fixture(scope="module")
def car_t_risks(car_t: AssessmentResult) -> list[Risk]:
    return build_risks(car_t.findings, CATEGORIES)


def _finding(
    fid: str = "F-0001",
    *,
    rule: str = "TST-RSK-001",
    kind: Any = "risk",
    severity: Any = "high",
    status: Any = "open",
    confidence: Any = "secondary",
    topics: tuple[str, ...] = ("raw_materials",),
    title: str = "A test finding",
    detail: str = "Something specific happened.",
    waiver: WaiverRef | None = None,
) -> FindingResult:
    return FindingResult(
        id=fid,
        rule=rule,
        kind=kind,
        severity=severity,
        title=title,
        detail=detail,
        topics=list(topics),
        due=DueRef(),
        status=status,
        citations=[],
        facts={},
        confidence=confidence,
        waiver=waiver,
    )


def _risk(rid: str, likelihood: int, impact: int, **changes: Any) -> Risk:
    score = likelihood * impact
    data: dict[str, Any] = {
        "id": rid,
        "title": "A risk",
        "category": "other",
        "cause": "A cause.",
        "effect": "An effect.",
        "likelihood": likelihood,
        "impact": impact,
        "score": score,
        "level": risk_level(score),
        "mitigation": "A mitigation.",
        "owner": "CMC lead",
        "trigger": "A trigger.",
        "rules": ["TST-RSK-001"],
        "topics": ["raw_materials"],
    }
    data.update(changes)
    return Risk(**data)


# ------------------------------------------------------------------------------- categories file


def test_every_contract_topic_maps_to_exactly_one_category() -> None:
    mapped = [topic for category in CATEGORIES.categories.values() for topic in category.topics]
    assert sorted(mapped) == sorted(TOPICS)
    assert CATEGORIES.config.fallback in CATEGORIES.categories


def test_categories_cite_known_sources_and_name_owners() -> None:
    kb = load_knowledge()
    checked = load_risk_categories(None, citations=kb.citations)
    required = {
        "talent",
        "raw_materials",
        "vendor_management",
        "long_lead_equipment",
        "storage_contingency",
        "capital",
        "capacity",
        "vector_supply",
        "comparability",
        "potency_assay",
        "regulatory",
        "reimbursement",
        "patient_access",
        "supply_chain",
        "process",
        "quality",
    }
    assert required <= set(checked.categories)
    for category in checked.categories.values():
        assert category.owner and category.effect and category.mitigation and category.trigger and category.basis
    assert "CIT-ICH-Q9-R1" in {c for category in checked.categories.values() for c in category.citations}
    basis = checked.config.scoring.basis
    assert "heuristic" in basis and "ICH Q9(R1)" in basis and "no scale" in basis


def _write_categories(folder: Path, **changes: Any) -> None:
    data = yaml.safe_load((ROOT / "knowledge" / RISK_CATEGORIES_FILE).read_text())
    for key, value in changes.items():
        if key == "extra_topic":
            data["categories"]["talent"]["topics"].append(value)
        elif key == "citation":
            data["categories"]["talent"]["citations"].append(value)
        else:
            data[key] = value
    (folder / RISK_CATEGORIES_FILE).write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extra_topic": "no_such_topic"}, "unknown topic no_such_topic"),
        ({"extra_topic": "capital"}, "topic capital is already in category talent"),
        ({"fallback": "nowhere"}, "unknown category nowhere"),
        ({"citation": "CIT-NO-SUCH-SOURCE"}, "unknown citation CIT-NO-SUCH-SOURCE"),
    ],
)
def test_bad_categories_file_is_refused(tmp_path: Path, changes: dict[str, str], message: str) -> None:
    _write_categories(tmp_path, **changes)
    with pytest.raises(KnowledgeError) as caught:
        load_risk_categories(tmp_path, citations=load_knowledge().citations)
    assert message in str(caught.value)
    assert all(item.line for item in caught.value.items)  # located in the file


def test_malformed_categories_file_is_a_knowledge_error(tmp_path: Path) -> None:
    (tmp_path / RISK_CATEGORIES_FILE).write_text("basis: too short\ncategories: {}\n")
    with pytest.raises(KnowledgeError):
        load_risk_categories(tmp_path)


def test_folder_without_the_file_uses_the_builtin_one(tmp_path: Path) -> None:
    loaded = load_risk_categories(tmp_path, citations=set())
    assert loaded.config == CATEGORIES.config
    assert loaded.source == f"knowledge/{RISK_CATEGORIES_FILE}"


# ------------------------------------------------------------------------- selection and scoring


def test_car_t_register_covers_several_categories(car_t: AssessmentResult, car_t_risks: list[Risk]) -> None:
    categories = {r.category for r in car_t_risks}
    assert {
        "capacity",
        "comparability",
        "long_lead_equipment",
        "storage_contingency",
        "raw_materials",
        "regulatory",
    } <= categories
    assert [r.id for r in car_t_risks] == [f"R-{n:03d}" for n in range(1, len(car_t_risks) + 1)]
    keys = [(-r.score, r.category, r.rules[0], r.finding or "") for r in car_t_risks]
    assert keys == sorted(keys)
    by_finding = {r.finding: r for r in car_t_risks}
    for f in car_t.findings:
        if f.status in ("open", "waived") and f.kind in ("risk", "gap", "inconsistency"):
            risk = by_finding[f.id]
            assert risk.rules == [f.rule] and risk.topics == f.topics
            assert risk.cause.startswith(f.title) and f.detail.split(".")[0] in risk.cause
    single_source = next(r for r in car_t_risks if r.rules == ["CMC-MAT-005"])
    assert single_source.category == "raw_materials" and single_source.owner == "Supply chain lead"
    assert "Anti-CD3/CD28 T-cell activation reagent" in single_source.cause


def test_register_is_deterministic(car_t: AssessmentResult, car_t_risks: list[Risk]) -> None:
    again = build_risks(list(reversed(car_t.findings)), CATEGORIES)
    assert again == car_t_risks


def test_score_and_level_arithmetic(car_t_risks: list[Risk]) -> None:
    for r in car_t_risks:
        assert 1 <= r.likelihood <= 5 and 1 <= r.impact <= 5
        assert r.score == r.likelihood * r.impact
        assert r.level == risk_level(r.score)
    assert [risk_level(s) for s in (1, 5, 6, 14, 15, 25)] == ["low", "low", "medium", "medium", "high", "high"]
    for bad in (0, 26):
        with pytest.raises(ValueError, match="outside"):
            risk_level(bad)


@given(st.integers(1, 5), st.integers(1, 5))
def test_levels_follow_the_contract_bands(likelihood: int, impact: int) -> None:
    score = likelihood * impact
    expected = "low" if score <= 5 else "medium" if score <= 14 else "high"
    assert risk_level(score) == expected


@pytest.mark.parametrize(
    ("kind", "severity", "confidence", "likelihood", "impact", "level"),
    [
        ("risk", "critical", "verified", 4, 5, "high"),
        ("gap", "medium", "secondary", 4, 3, "medium"),
        ("inconsistency", "low", "secondary", 3, 2, "medium"),
        ("requirement", "high", "verified", 3, 4, "medium"),
        ("recommendation", "high", "unverified", 1, 4, "low"),
        ("risk", "info", "unverified", 3, 1, "low"),
    ],
)
def test_scoring_block(kind: str, severity: str, confidence: str, likelihood: int, impact: int, level: str) -> None:
    (risk,) = build_risks([_finding(kind=kind, severity=severity, confidence=confidence)], CATEGORIES)
    assert (risk.likelihood, risk.impact, risk.score, risk.level) == (likelihood, impact, likelihood * impact, level)


def test_selection_by_kind_status_and_severity() -> None:
    findings = [
        _finding("F-0001", kind="requirement", severity="medium"),
        _finding("F-0002", kind="recommendation", severity="low"),
        _finding("F-0003", kind="risk", status="met"),
        _finding("F-0004", kind="undetermined"),
        _finding("F-0005", kind="recommendation", severity="critical"),
        _finding("F-0006", kind="gap", severity="info"),
    ]
    assert sorted(r.finding or "" for r in build_risks(findings, CATEGORIES)) == ["F-0005", "F-0006"]


def test_waived_findings_stay_as_accepted_risks() -> None:
    waiver = WaiverRef(
        approved_by="J. Doe",
        approved_on="2026-10-01",
        expires="2027-10-01",
        justification="A second assay is coming",
        honoured=True,
    )
    (risk,) = build_risks([_finding(status="waived", waiver=waiver)], CATEGORIES)
    assert risk.status == "waived" and risk.title.endswith(WAIVED_MARK)
    assert "J. Doe" in risk.mitigation and "A second assay is coming." in risk.mitigation


def test_category_is_the_first_topic_that_maps() -> None:
    assert category_of(_finding(topics=("talent", "capital")), CATEGORIES) == "talent"
    assert category_of(_finding(topics=("capital", "talent")), CATEGORIES) == "capital"
    assert category_of(_finding(topics=("an_organisation_topic", "vector_supply")), CATEGORIES) == "vector_supply"
    assert category_of(_finding(topics=("an_organisation_topic",)), CATEGORIES) == CATEGORIES.config.fallback


# ---------------------------------------------------------------------------------------- formats


def _xlsx(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def _heat_counts(sheet: Any) -> dict[tuple[int, int], int]:
    header = next(row for row in range(1, 20) if sheet.cell(row=row, column=1).value == "Likelihood \\ Impact")
    impacts = [sheet.cell(row=header, column=col).value for col in range(2, 7)]
    assert impacts == [1, 2, 3, 4, 5]
    counts: dict[tuple[int, int], int] = {}
    for offset in range(1, 6):
        likelihood = sheet.cell(row=header + offset, column=1).value
        for col, impact in enumerate(impacts, 2):
            value = sheet.cell(row=header + offset, column=col).value
            counts[likelihood, impact] = int(str(value).split("\n")[0]) if value is not None else 0  # blank: none
    assert [sheet.cell(row=header + offset, column=1).value for offset in range(1, 6)] == [5, 4, 3, 2, 1]
    return counts


def test_xlsx_has_register_and_heat_map(car_t: AssessmentResult, car_t_risks: list[Risk]) -> None:
    data = risks_xlsx(car_t_risks, car_t.program.name, as_of=car_t.as_of)
    workbook = _xlsx(data)
    assert workbook.sheetnames == ["Register", "Heat map", "Trace"]
    register = workbook["Register"]
    assert [c.value for c in register[1]] == [SHEET_HEADERS[c] for c in SHEET_COLUMNS]
    assert all(c.font.bold for c in register[1])
    assert register.freeze_panes == "C2"
    assert register.auto_filter.ref == f"A1:M{len(car_t_risks) + 1}"
    assert register.max_row == len(car_t_risks) + 1
    assert register.cell(row=2, column=1).value == "R-001"
    level = SHEET_COLUMNS.index("level") + 1
    assert register.cell(row=2, column=level).fill.fgColor.rgb.endswith("FFC7CE")  # high
    assert register.cell(row=2, column=SHEET_COLUMNS.index("score") + 1).value == car_t_risks[0].score
    assert register.cell(row=2, column=SHEET_COLUMNS.index("cause") + 1).alignment.wrap_text
    trace = workbook["Trace"]
    assert [c.value for c in trace[2]] == ["Id", "Rules", "Finding", "Topics", "Citations"]
    assert trace.cell(row=3, column=2).value == " ".join(car_t_risks[0].rules)
    expected = Counter((r.likelihood, r.impact) for r in car_t_risks)
    counts = _heat_counts(workbook["Heat map"])
    assert counts == {(lik, imp): expected.get((lik, imp), 0) for lik in range(1, 6) for imp in range(1, 6)}
    grid = heat_map(car_t_risks)
    assert sum(len(ids) for ids in grid.values()) == len(car_t_risks)
    assert workbook.properties.created == datetime.datetime(2026, 11, 25)


def test_xlsx_prints_landscape_one_page_wide_with_titles(car_t: AssessmentResult, car_t_risks: list[Risk]) -> None:
    workbook = _xlsx(risks_xlsx(car_t_risks, car_t.program.name, as_of=car_t.as_of))
    for sheet in workbook.worksheets:
        setup = sheet.page_setup
        assert setup.orientation == "landscape" and setup.fitToWidth == 1, sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert sheet.oddHeader.left.text == car_t.program.name and "2026-11-25" in (sheet.oddHeader.right.text or "")
        assert sheet.oddFooter.right.text == "Page &P of &N"
    register, heat = workbook["Register"], workbook["Heat map"]
    assert register.page_setup.fitToHeight == 0  # as many pages tall as needed
    assert register.print_title_rows == "$1:$1"  # the header row on every page
    assert heat.page_setup.fitToHeight == 1  # the heat map on one page
    assert "B2:F2" in {str(r) for r in heat.merged_cells.ranges}  # the program name is never cut
    # Row heights follow the wrapped text: the longest cause gets the tallest row, every row at least two lines.
    cause = SHEET_COLUMNS.index("cause") + 1
    heights = {row: register.row_dimensions[row].height for row in range(2, len(car_t_risks) + 2)}
    longest = max(heights, key=lambda row: len(register.cell(row=row, column=cause).value or ""))
    assert all(h is not None and h >= 23 for h in heights.values())
    assert heights[longest] >= max(len(register.cell(row=r, column=cause).value) for r in heights) / 48 * 11.5
    # Empty values stay empty: no 0 and no empty string anywhere.
    blank = car_t_risks[0].model_copy(update={"finding": None, "trigger": "", "citations": []})
    workbook = _xlsx(risks_xlsx([blank], "P", as_of=AS_OF))
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.value not in ("", "0", 0), (sheet.title, cell.coordinate)
    assert workbook["Register"].cell(row=2, column=SHEET_COLUMNS.index("trigger") + 1).value is None
    assert workbook["Heat map"].cell(row=7, column=2).value is None  # likelihood 5, impact 1: no risk, blank


def test_xlsx_bytes_are_deterministic(car_t: AssessmentResult, car_t_risks: list[Risk]) -> None:
    first = risks_xlsx(car_t_risks, car_t.program.name, as_of=car_t.as_of)
    assert risks_xlsx(car_t_risks, car_t.program.name, as_of=AS_OF) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 11, 25, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert "2026-11-25T00:00:00Z" in core


def test_csv_json_markdown_html_and_table(car_t: AssessmentResult, car_t_risks: list[Risk]) -> None:
    rows = list(csv.reader(io.StringIO(risks_csv(car_t_risks))))
    assert rows[0] == list(COLUMNS) and len(rows) == len(car_t_risks) + 1
    assert rows[1][COLUMNS.index("score")] == str(car_t_risks[0].score)
    assert json.loads(risks_json(car_t_risks)) == [r.model_dump(mode="json") for r in car_t_risks]
    assert risks_json(car_t_risks) == risks_json(list(car_t_risks))
    markdown = risks_markdown(car_t_risks, car_t.program.name, as_of=car_t.as_of)
    assert markdown.startswith("# Risk register: ACME-19") and "## Heat map" in markdown and "### R-001" in markdown
    html = risks_html(car_t_risks, car_t.program.name, as_of=car_t.as_of)
    assert html.startswith("<!DOCTYPE html>") and 'id="R-001"' in html and "band-high" in html
    assert "<script" not in html and "http" not in html  # self-contained, nothing fetched
    table = risks_table(car_t_risks, car_t.program.name, as_of=car_t.as_of)
    assert "R-001" in table and "Heat map" in table


def test_every_format_handles_an_empty_register() -> None:
    assert risks_csv([]).splitlines() == [",".join(COLUMNS)]
    assert json.loads(risks_json([])) == []
    assert "No risks recorded." in risks_markdown([], "P")
    assert "No risks recorded." in risks_html([], "P")
    assert "0 risks" in risks_table([], "P")
    workbook = _xlsx(risks_xlsx([], "P"))
    assert workbook["Register"].max_row == 1
    assert set(_heat_counts(workbook["Heat map"]).values()) == {0}


def test_render_risks_dispatches_every_format(car_t: AssessmentResult, car_t_risks: list[Risk]) -> None:
    result = car_t.model_copy(update={"risks": car_t_risks})
    for fmt in ("table", "csv", "markdown", "json", "html"):
        assert isinstance(render_risks(result, fmt), str)
    assert render_risks(result, "xlsx") == risks_xlsx(car_t_risks, car_t.program.name, as_of=car_t.as_of)


# ------------------------------------------------------------------------------ hostile strings


def _formula_cells_are_neutralised(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(FORMULA_START), cell


def test_hostile_program_yields_inert_html_csv_and_xlsx(tmp_path: Path) -> None:
    data = yaml.safe_load(CAR_T.read_text())
    data["program"]["name"] = HOSTILE_NAME
    data["supply_chain"]["materials"][0]["name"] = HOSTILE_MATERIAL
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = api.assess_file(path, api.Options(as_of=AS_OF))
    risks = build_risks(result.findings, CATEGORIES)
    assert any(HOSTILE_MATERIAL in r.cause for r in risks)  # the hostile text reaches the register

    html = risks_html(risks, result.program.name, as_of=result.as_of)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;)" in html
    markdown = risks_markdown(risks, result.program.name)
    assert "<script>" not in markdown and "\\<script\\>" in markdown

    rows = list(csv.reader(io.StringIO(risks_csv(risks))))
    _formula_cells_are_neutralised([cell for row in rows for cell in row])
    assert any(HOSTILE_MATERIAL in cell for row in rows for cell in row)

    workbook = _xlsx(risks_xlsx(risks, result.program.name, as_of=result.as_of))
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if isinstance(cell.value, str):
                    _formula_cells_are_neutralised([cell.value])
    assert workbook["Heat map"]["B2"].value == HOSTILE_NAME

    table = risks_table(risks, result.program.name)
    assert HOSTILE_NAME in table


def test_cells_starting_with_a_formula_get_an_apostrophe() -> None:
    hostile = _risk("R-001", 4, 4, title=HOSTILE_MATERIAL, owner="@SUM(A1)", cause="+1", effect="-1", trigger="\tx")
    rows = list(csv.reader(io.StringIO(risks_csv([hostile]))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["title"] == "'" + HOSTILE_MATERIAL
    assert (row["owner"], row["cause"], row["effect"], row["trigger"]) == ("'@SUM(A1)", "'+1", "'-1", "'\tx")

    workbook = _xlsx(risks_xlsx([hostile], '=HYPERLINK("http://x","program")\x07', as_of=AS_OF))
    register = workbook["Register"]
    title = register.cell(row=2, column=SHEET_COLUMNS.index("title") + 1)
    assert title.value == "'" + HOSTILE_MATERIAL and title.data_type == "s"
    assert register.cell(row=2, column=SHEET_COLUMNS.index("owner") + 1).value == "'@SUM(A1)"
    program = workbook["Heat map"]["B2"]
    assert program.value == '\'=HYPERLINK("http://x","program")' and program.data_type == "s"


def test_markdown_and_table_keep_markup_literal() -> None:
    risk = _risk("R-001", 2, 2, title="[click](http://x) | *bold* <b>")
    markdown = risks_markdown([risk], "[bold]P[/bold]")
    assert "\\[click\\](http://x) \\| \\*bold\\* \\<b\\>" in markdown
    assert "[bold]P[/bold]" in risks_table([risk], "[bold]P[/bold]")
