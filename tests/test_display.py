"""The display vocabulary (issue 12, points 1, 2 and 10): labels, units, plurals, caveats, lint.

The output scan holds every human output of every example and of generated programs to the
rule that fact paths, enum ids, rule ids, finding ids and the knowledge base's source codes
appear only in the JSON, the auditor view and traceability appendices.
"""

from __future__ import annotations

import datetime
import html
import io
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT
from programgen import random_program

from cmcadvisor import api, display
from cmcadvisor.cli import cli
from cmcadvisor.facts import FactSet, vocabulary
from cmcadvisor.knowledge import load_knowledge
from cmcadvisor.models.knowledge import ACTIVITY_IDS, MILESTONE_IDS, DisplayFile
from cmcadvisor.models.result import CitationRef
from cmcadvisor.models.rule import TOPICS
from cmcadvisor.outcomes import fill_message
from cmcadvisor.render import render
from cmcadvisor.rulelint import _enum_ids, lint_display

AS_OF = "2026-11-25"
RULE_ID = re.compile(r"\b[A-Z]{2,4}(?:-[A-Z0-9]+)+-\d{3}\b")
FINDING_ID = re.compile(r"\bF-\d{4}\b")
UNDERSCORE_IDS = frozenset(i for i in _enum_ids() | set(ACTIVITY_IDS) | set(MILESTONE_IDS) | set(TOPICS) if "_" in i)
FACT_PATHS = frozenset(k for k in vocabulary() if "." in k)


# ---------------------------------------------------------------- the functions


def test_labels_of_enum_values_and_facts() -> None:
    assert display.label("product.vector", "aav") == "AAV"
    assert display.label("product.genetic_modification", "viral_vector") == "viral vector"
    assert display.label("organization.funding_stage", "series_a") == "Series A"
    assert display.label("manufacturing.potency_assay.status", "in_development") == "in development"
    assert display.label("clinical.stage", "phase1") == "phase 1"
    assert display.label("manufacturing.planned_changes[0].kind", "site_transfer") == "site transfer"
    assert display.label("manufacturing.planned_changes[3].timing", "before_pivotal") == "before the pivotal study"
    assert display.term("long_lead_equipment") == "long-lead equipment"
    assert display.term("bla_submission") == "BLA submission"
    assert display.term("pre_bla") == "pre-BLA meeting"
    # a field may read a shared value differently
    assert display.label("product.cell_source", "none") == "not a cell product"
    assert display.label("designations.rmat", "none") == "none"
    assert display.fact_label("clinical.stage_index") == "clinical stage"
    assert display.fact_line("clinical.stage_index", 1) == "clinical stage: phase 1"
    assert display.fact_label("manufacturing.planned_changes[0].timing") == "timing of the change"
    assert display.label("clinical.single_arm_pivotal", True) == "yes"
    assert display.label("program.regions", ("eu", "us")) == "EU, US"
    assert display.label("product.route", "intrathecal") == "intrathecal"  # free text unchanged


def test_amounts_units_dates_and_plurals() -> None:
    assert display.money(8_000_000) == "US$ 8.0 million"
    assert display.money(1_250_000_000) == "US$ 1.2 billion"
    assert display.money(450_000) == "US$ 450,000"
    assert display.label("organization.capex_available_usd", 8000000) == "US$ 8.0 million"
    assert display.label("market_access.cogs_share_of_price", 0.33) == "33 %"
    assert display.label("manufacturing.vector_supply.lead_time_weeks", 26) == "26 weeks"
    assert display.label("manufacturing.vector_supply.lead_time_weeks", 1) == "1 week"
    assert display.quantity(3, "site") == "3 sites"
    assert display.percent(0.045) == "4.5 %"
    assert display.human_date("2027-07-07") == "7 July 2027"
    assert display.human_date(datetime.date(2026, 12, 4)) == "4 December 2026"
    assert display.label("clinical.milestones.bla_submission", "2028-09-01") == "1 September 2028"
    assert display.plural(1, "open question") == "1 open question"
    assert display.plural(2, "open question") == "2 open questions"
    assert display.plural(16, "further open finding") == "16 further open findings"
    assert display.plural(2, "activity") == "2 activities"
    assert display.plural(3, "criterion") == "3 criteria"
    assert display.plural(0, "finding") == "0 findings"


def test_caveats_replace_source_codes_with_plain_sentences() -> None:
    draft = CitationRef(id="CIT-X", title="t", issuer="FDA", year=2025, status="draft", confidence="secondary")
    final = CitationRef(id="CIT-Y", title="t", issuer="FDA", year=2020, status="final", confidence="verified")
    note = (
        "The phase-1 expectation is recorded as recalled (R) in the fact sheet. "
        "The threshold depends on the sponsor's commercial model. Documented practice (V-sec). See D14."
    )
    shown = display.caveats("unverified", [draft, final], note)
    assert shown[0] == "Draft guidance (2025): may change."
    assert "This point rests on industry practice, not a published requirement" in shown[1]
    assert shown[-1] == "The threshold depends on the sponsor's commercial model."
    joined = " ".join(shown)
    for code in ("(R)", "V-sec", "D14", "fact sheet", "recalled"):
        assert code not in joined
    assert display.caveats("verified", [final], None) == []
    # abbreviations do not end a sentence (so no fragment such as "6604 was not read." is left)
    assert display.plain_note("The text of sec. 6604 was not read (fact sheet: RNV). It is final.") == "It is final."


def test_short_labels_stay_distinct() -> None:
    names = [
        "Comparability study for a planned process change: Scale up from a 200 L to a 2,000 L process",
        "Comparability study for a planned process change: Move manufacturing from the pilot plant",
        "Comparability study for a planned process change: Move manufacturing from the pilot plant",
        "Lock the commercial-intent process",
    ]
    labels = display.short_labels(names, 48)
    assert len(set(labels)) == len(labels)
    assert all(len(label) <= 48 for label in labels)
    assert labels[3] == "Lock the commercial-intent process"
    assert "Scale up" in labels[0] and "Move manufacturing" in labels[1]


def test_messages_interpolate_labels_not_raw_values() -> None:
    facts = FactSet(
        scalars={"organization.funding_stage": "series_a", "organization.capex_available_usd": 8_000_000.0},
        collections={"manufacturing.planned_changes": ({"kind": "site_transfer", "timing": "before_pivotal"},)},
    )
    item = facts.collections["manufacturing.planned_changes"][0]
    text = fill_message(
        "At funding stage {organization.funding_stage}, only {organization.capex_available_usd} ({item.kind}, {item.timing}).",
        facts,
        item,
        "manufacturing.planned_changes",
    )
    assert text == "At funding stage Series A, only US$ 8.0 million (site transfer, before the pivotal study)."


# ---------------------------------------------------------------- the vocabulary and its lint


def test_shipped_vocabulary_is_complete_and_lint_clean(runner: CliRunner) -> None:
    issues = lint_display(display.builtin(), "knowledge/display.yaml", vocabulary())
    assert issues == []
    result = runner.invoke(cli, ["rules", "lint"])
    assert result.exit_code == 0, result.output
    assert load_knowledge().display == display.builtin()


def test_lint_reports_missing_unknown_and_ambiguous_labels() -> None:
    shipped = display.builtin()
    values = {k: v for k, v in shipped.values.items() if k != "series_a"}
    values["series_c"] = "Series B"  # two funding stages would read the same
    facts = {k: v for k, v in shipped.facts.items() if k != "clinical.stage"}
    facts["clinical.no_such_fact"] = shipped.facts["product.vector"].model_copy(update={"label": "no such fact"})
    broken = shipped.model_copy(update={"values": values, "facts": facts})
    messages = [i.format() for i in lint_display(broken, "display.yaml", vocabulary())]
    assert any("no label for series_a" in m for m in messages)
    assert any("no label for fact clinical.stage" in m for m in messages)
    assert any("clinical.no_such_fact: not a fact of the vocabulary" in m for m in messages)
    assert any("organization.funding_stage" in m and "both read 'Series B'" in m for m in messages)
    assert all(m.startswith("error:") for m in messages)


def _rule(message: str, rule_id: str = "CMC-DSP-001") -> str:
    return (
        f"id: {rule_id}\ntitle: A display test rule\nkind: gap\nseverity: low\ntopics: [capital]\nversion: 1\n"
        "status: active\nconfidence: unverified\n"
        "when: {all: [{fact: organization.funding_stage, op: eq, value: series_a}]}\n"
        f"then: {{message: '{message}'}}\ncitations: [CIT-ICH-Q5C]\nrationale: r\n"
        "examples:\n  - {name: a, facts: {organization.funding_stage: series_a}, expect: fires}\n"
        "  - {name: b, facts: {organization.funding_stage: seed}, expect: silent}\n"
    )


def test_rules_lint_fails_on_a_message_that_prints_a_raw_enum(runner: CliRunner, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "CMC-DSP-001.yaml").write_text(_rule("At funding stage {organization.funding_stage}, raise money."))
    clean = runner.invoke(cli, ["--rules-dir", str(pack), "rules", "lint"])
    assert "CMC-DSP-001" not in clean.output, clean.output
    (pack / "CMC-DSP-001.yaml").write_text(_rule("A series_a company should set organization.funding_stage."))
    result = runner.invoke(cli, ["--rules-dir", str(pack), "rules", "lint"])
    assert result.exit_code == 2, result.output
    assert "CMC-DSP-001.yaml: then.message: 'series_a' is a raw id; write its label (Series A)" in result.output
    assert "'organization.funding_stage' is a raw id; write its label (funding stage)" in result.output


def test_rules_lint_fails_on_a_placeholder_whose_value_has_no_label(runner: CliRunner, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    text = (knowledge / "display.yaml").read_text()
    (knowledge / "display.yaml").write_text(text.replace("  series_a: Series A\n", ""))
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "CMC-DSP-001.yaml").write_text(_rule("At funding stage {organization.funding_stage}, raise money."))
    result = runner.invoke(cli, ["--knowledge-dir", str(knowledge), "--rules-dir", str(pack), "rules", "lint"])
    assert result.exit_code == 2, result.output
    assert "placeholder {organization.funding_stage} would print the raw value series_a" in result.output
    assert "display.yaml: values: no label for series_a" in result.output


def test_a_broken_display_file_is_a_located_error(runner: CliRunner, tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    text = (knowledge / "display.yaml").read_text()
    (knowledge / "display.yaml").write_text(text.replace("  aav: AAV\n", "  aav: 7\n"))
    result = runner.invoke(cli, ["--knowledge-dir", str(knowledge), "rules", "list"])
    assert result.exit_code == 2, result.output
    assert re.search(r"display\.yaml:\d+: values\.aav: ", result.output), result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- the outputs


def _html_text(page: str) -> str:
    page = re.sub(r"<style.*?</style>|<script.*?</script>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _docx_body(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts: list[str] = []
    for block in document.element.body.iter():
        if block.tag.endswith("}p"):
            parts.append("".join(t.text or "" for t in block.iter() if t.tag.endswith("}t")))
    return "\n".join(parts)


def _xlsx_cells(data: bytes) -> str:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    sheets = [sheet for sheet in book.worksheets if not sheet.title.startswith("Trace")]  # the traceability sheet may hold ids
    assert sheets and len(sheets) < len(book.worksheets)
    return "\n".join(str(c.value) for sheet in sheets for row in sheet.iter_rows() for c in row if c.value is not None)


def _reader_part(text: str) -> str:
    """The text before a traceability appendix (where ids are allowed)."""
    cut = [m.start() for m in re.finditer(r"Traceability", text)]
    return text[: cut[0]] if cut else text


def problems(text: str) -> list[str]:
    """Ids, fact paths and source codes a reader must not see (Markdown escapes removed)."""
    text = text.replace("\\", "")
    found = [f"enum id {w}" for w in sorted(UNDERSCORE_IDS & set(re.findall(r"[a-z0-9_]+", text)))]
    flat = re.sub(r"\[\d+\]", "[]", text)
    found += [f"fact path {p}" for p in sorted(FACT_PATHS) if re.search(rf"(?<![\w./-]){re.escape(p)}(?![\w/])", flat)]
    found += [f"rule id {r}" for r in sorted(set(RULE_ID.findall(text)))]
    found += [f"finding id {f}" for f in sorted(set(FINDING_ID.findall(text)))]
    found += [f"source code in: {s[:80]}" for s in display.sentences(text) if display.has_source_code(s)]
    found += [
        f"unformatted plural: {m}" for m in re.findall(r"\b1 (?:[a-z]+ )?(?:questions|findings|rules)\b|[a-z]{2,}\(s\)", text)
    ]
    found += [f"raw amount: {m}" for m in re.findall(r"US\$ ?\d{7,}", text)]
    return found


def _outputs(result: api.AssessmentResult, program: object, context: api.Context) -> dict[str, str]:
    from cmcadvisor.meetings import build_brief, plan_meeting
    from cmcadvisor.render.brief_formats import render_brief
    from cmcadvisor.render.risk_formats import render_risks
    from cmcadvisor.render.timeline_formats import timeline_table

    out = {
        "html": _html_text(render(result, "html")),
        "markdown": _reader_part(render(result, "markdown")),
        "table": render(result, "table", width=200),
    }
    xlsx = render_risks(result, "xlsx")
    assert isinstance(xlsx, bytes)
    out["xlsx"] = _xlsx_cells(xlsx)
    out["risks.markdown"] = _reader_part(str(render_risks(result, "markdown")))
    out["risks.html"] = _reader_part(_html_text(str(render_risks(result, "html"))))
    out["risks.table"] = str(render_risks(result, "table", width=200))
    meeting = plan_meeting(result, program, "eop2", None, context.meeting_types, gates=context.pack.region_gates)  # type: ignore[arg-type]
    brief = build_brief(result, program, meeting, context.meeting_types)  # type: ignore[arg-type]
    data = render_brief(brief, "docx")
    assert isinstance(data, bytes)
    out["docx"] = _reader_part(_docx_body(data))
    out["brief.markdown"] = _reader_part(str(render_brief(brief, "markdown")))
    out["brief.html"] = _reader_part(_html_text(str(render_brief(brief, "html"))))
    out["timeline.table"] = timeline_table(result, width=200)
    return out


@pytest.fixture(scope="module")
def context() -> api.Context:
    return api.load_context(api.Options(engine="python"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_outputs_carry_no_ids_paths_or_source_codes(example: Path, context: api.Context) -> None:
    from cmcadvisor.validation import read_program

    options = api.Options(engine="python", as_of=datetime.date.fromisoformat(AS_OF))
    program, doc = read_program(example)
    result = api.assess(program, context, options, doc)
    for name, text in _outputs(result, program, context).items():
        assert problems(text) == [], f"{example.stem} {name}"


@pytest.mark.parametrize("seed", range(12))
def test_generated_program_outputs_carry_no_ids_paths_or_source_codes(seed: int, context: api.Context) -> None:
    program = random_program(seed)
    result = api.assess(program, context, api.Options(engine="python"))
    for name, text in _outputs(result, program, context).items():
        assert problems(text) == [], f"seed {seed} {name}"


def test_the_scan_finds_what_it_looks_for() -> None:
    """The output scan is not vacuous: each kind of leak is caught."""
    leaky = (
        "At funding stage series_a. Facts: clinical.stage_index = 1; manufacturing.planned_changes[0].timing. "
        "Traced to rule CMC-POT-001, finding F-0009. Documented practice (V-sec). 1 open questions. "
        "16 further open finding(s). Only US$ 8000000."
    )
    found = " | ".join(problems(leaky))
    for expected in (
        "enum id series_a",
        "fact path clinical.stage_index",
        "fact path manufacturing.planned_changes[].timing",
        "rule id CMC-POT-001",
        "finding id F-0009",
        "source code",
        "unformatted plural: 1 open questions",
        "unformatted plural: finding(s)",
        "raw amount",
    ):
        assert expected in found


def test_auditor_view_keeps_the_ids(context: api.Context) -> None:
    example = next(p for p in EXAMPLES if p.stem == "aav-in-vivo")
    result = api.assess_file(example, api.Options(engine="python"), context)
    page = render(result, "html", auditor=True)
    assert FINDING_ID.search(page) and RULE_ID.search(page) and "Unsettled:" in page
    assert FINDING_ID.search(render(result, "markdown").split("Traceability (internal)")[1])


# ---------------------------------------------------------------- point 10: smaller items


def test_gantt_paints_only_the_printed_critical_path(context: api.Context) -> None:
    from cmcadvisor.render.gantt import gantt
    from cmcadvisor.render.timeline_formats import timeline_mermaid

    example = next(p for p in EXAMPLES if p.stem == "allogeneic-nk")
    result = api.assess_file(example, api.Options(engine="python"), context)
    on_path = set(result.timeline.critical_path)
    # the case of the issue: an activity with no slack that is not on the printed path
    marked = [a.model_copy(update={"critical": True}) for a in result.timeline.activities]
    assert any(a.id not in on_path and a.start for a in marked)
    timeline = result.timeline.model_copy(update={"activities": marked})
    result = result.model_copy(update={"timeline": timeline})
    crit = {line.split(":")[-1].split(",")[-3].strip() for line in timeline_mermaid(result).splitlines() if ":crit" in line}
    assert crit == {re.sub(r"[^A-Za-z0-9_]", "_", a) for a in on_path if any(x.id == a and x.start for x in marked)}
    svg = gantt(result, "svg").decode()
    red = len(re.findall(r'<g id="patch_\d+">\s*<path d="[^"]*"[^>]*style="fill: #c62828', svg))
    drawn = [a for a in marked if a.start and a.finish and a.status != "complete" and a.id != "bla_submission"]
    assert red == sum(1 for a in drawn if a.id in on_path)


def test_gantt_labels_are_human_and_distinct(context: api.Context) -> None:
    from cmcadvisor.render.gantt import gantt

    example = next(p for p in EXAMPLES if p.stem == "aav-in-vivo")
    result = api.assess_file(example, api.Options(engine="python"), context)
    svg = gantt(result, "svg").decode()
    labels = re.findall(r"<!-- (.*?) -->", svg)
    assert "BLA submission" in labels and "Pre-BLA meeting" in labels
    assert not any("_" in label for label in labels)
    ticks = [label for label in labels if not re.fullmatch(r"\d{4}-\d{2}", label) and not label.startswith(("as of", "CMC"))]
    comparability = [label for label in ticks if label.startswith("Comparability")]
    assert len(comparability) >= 2 and len(set(comparability)) == len(comparability)


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_gantt_of_a_name_the_font_cannot_draw_warns_no_one(context: api.Context, fmt: str) -> None:
    """A character the chart's font lacks is drawn as a box; matplotlib's warning does not reach the user."""
    import warnings

    from cmcadvisor.render.gantt import gantt

    example = next(p for p in EXAMPLES if p.stem == "aav-in-vivo")
    result = api.assess_file(example, api.Options(engine="python"), context)
    program = result.program.model_copy(update={"name": "EXG-209 \U000efed5 \u2fd5 gene therapy"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = gantt(result.model_copy(update={"program": program}), fmt)
    assert data and not [str(w.message) for w in caught]


@pytest.mark.parametrize("columns", [60, 80, 100])
def test_help_never_breaks_a_word(runner: CliRunner, columns: int) -> None:
    import click

    for name, command in [("assess", cli.commands["assess"]), ("brief", cli.commands["brief"])]:
        assert isinstance(command, click.Command)
        shown = runner.invoke(cli, [name, "--help"], terminal_width=columns, env={"COLUMNS": str(columns)}).output
        words = set(shown.split())
        for param in command.params:
            for word in (getattr(param, "help", None) or "").split():
                assert word in words, f"{name} {param.name}: '{word}' is broken at {columns} columns"


def test_vocabulary_model_refuses_an_empty_label() -> None:
    data = display.builtin().model_dump()
    data["values"]["aav"] = ""
    with pytest.raises(ValueError, match="at least 1 character"):
        DisplayFile.model_validate(data)


def test_percent_of_a_non_finite_ratio_is_words_not_a_crash() -> None:
    from cmcadvisor import display

    assert display.percent(float("inf")) == "over 1,000,000,000 %"
    assert display.percent(float("-inf")) == "under -1,000,000,000 %"
    assert display.percent(float("nan")) == "not computable"


def test_a_denormal_price_assesses(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cmcadvisor.cli import cli

    program = tmp_path / "p.yaml"
    program.write_text(
        "schema_version: 1\nprogram: {id: p, name: n, as_of: 2026-11-25}\nindication: {doses_per_patient: 2}\n"
        "market_access: {expected_price_usd: 5.0e-324, cogs_per_dose_usd: 3597}\n"
    )
    for args in (["assess", str(program), "--format", "json"], ["timeline", str(program), "--format", "mermaid"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
