"""Text that fits the product, and a next step on every pathway row.

Knowledge texts (risk-register sentences, rule notes) and citations carry ``applies_when``
conditions: an in vivo AAV program never reads autologous, donor-eligibility, patient's-cells,
CAR-T or 21 CFR 1271 text, and an autologous CAR-T never reads AAV text. Every pathway row has a
next step, dated where the knowledge base's request timing and the program's milestones or
recommended meetings fix one.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT
from programgen import random_program

from cmcadvisor import api
from cmcadvisor.cli import cli
from cmcadvisor.errors import KnowledgeError
from cmcadvisor.facts import derive_facts, vocabulary
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.models.rule import Leaf, TextPart
from cmcadvisor.reference_eval import ruled_out
from cmcadvisor.render import render
from cmcadvisor.render.risk_formats import risks_csv, risks_xlsx
from cmcadvisor.risks import load_risk_categories, text_for
from cmcadvisor.rulelint import lint_applicability, lint_knowledge_texts
from cmcadvisor.validation import read_program

AS_OF = datetime.date(2026, 11, 25)
AAV_EXAMPLE = ROOT / "examples" / "aav-in-vivo.yaml"
CART_EXAMPLE = ROOT / "examples" / "car-t-autologous.yaml"
# Cell-therapy text an in vivo AAV program must never read.
NOT_FOR_AAV = re.compile(
    r"autologous|donor eligibility|patient's cells|patient&#39;s cells|patient&apos;s cells|CAR-T|1271", re.I
)
# AAV-specific text an autologous CAR-T must never read. (ICH Q5A(R2)'s scope, which names AAV
# among the vectors it covers, is a cross-modality citation and legitimately cited for a CAR-T.)
NOT_FOR_CART = re.compile(r"capsid|adeno-associated|AAV9|empty/full|in vivo product|in vivo gene therapy", re.I)
AAV_PRODUCT = {
    "cell_source": "none",
    "cell_type": "none",
    "engineered_receptor": "none",
    "genetic_modification": "viral_vector",
    "delivery": "in_vivo",
    "vector": "aav",
    "editing": "none",
    "replication_competent": False,
    "tissue_engineered": False,
    "regulated_solely_under_361": False,
}
CONTEXT = api.load_context(api.Options(engine="python"))


def _with_product(program: ProgramFile, product: dict[str, object]) -> ProgramFile:
    data = program.model_dump(mode="json", exclude_none=True)
    data["product"] = {**data.get("product", {}), **product}
    return ProgramFile.model_validate(data)


def _texts(value: Any) -> list[str]:
    """Every string in a JSON-like value."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return [value] if isinstance(value, str) else []


def _leaks(pattern: re.Pattern[str], texts: list[str]) -> list[str]:
    """Matches with some context; drawings (the Gantt chart's SVG coordinates) are not text."""
    texts = [re.sub(r"<svg.*?</svg>", "", t, flags=re.S) for t in texts]
    return [t[max(0, m.start() - 60) : m.end() + 30] for t in texts if (m := pattern.search(t))]


def _zip_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return " ".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist() if n.endswith(".xml"))


def _cli_outputs(runner: CliRunner, example: Path, tmp_path: Path) -> dict[str, str]:
    """Every output a reader gets for one program: report, register, brief."""
    runs = {
        "json": ["assess", "--format", "json"],
        "markdown": ["assess", "--format", "markdown"],
        "html": ["assess", "--format", "html"],
        "table": ["assess", "--format", "table"],
        "risks.csv": ["risks", "--format", "csv"],
        "risks.markdown": ["risks", "--format", "markdown"],
        "brief.markdown": ["brief", "--meeting", "eop2", "--format", "markdown"],
        "brief.html": ["brief", "--meeting", "eop2", "--format", "html"],
    }
    out: dict[str, str] = {}
    for name, (command, *options) in runs.items():
        result = runner.invoke(cli, [command, str(example), *options, "--as-of", AS_OF.isoformat()])
        assert result.exit_code == 0, (name, result.output)
        out[name] = result.output
    for name, (command, *options) in {
        "risks.xlsx": ["risks", "--format", "xlsx"],
        "brief.docx": ["brief", "--meeting", "eop2", "--format", "docx"],
    }.items():
        path = tmp_path / name
        result = runner.invoke(cli, [command, str(example), *options, "--as-of", AS_OF.isoformat(), "--output", str(path)])
        assert result.exit_code == 0, (name, result.output)
        out[name] = _zip_text(path.read_bytes())
    return out


# ---------------------------------------------------------------- modality-true text


def test_aav_example_outputs_have_no_cell_therapy_text(runner: CliRunner, tmp_path: Path) -> None:
    outputs = _cli_outputs(runner, AAV_EXAMPLE, tmp_path)
    leaks = {name: _leaks(NOT_FOR_AAV, [text]) for name, text in outputs.items()}
    assert not any(leaks.values()), leaks


def test_car_t_example_outputs_have_no_aav_text(runner: CliRunner, tmp_path: Path) -> None:
    outputs = _cli_outputs(runner, CART_EXAMPLE, tmp_path)
    leaks = {name: _leaks(NOT_FOR_CART, [text]) for name, text in outputs.items()}
    assert not any(leaks.values()), leaks


def test_car_t_still_reads_its_own_modality_text() -> None:
    """The conditions are not simply dropping text: a CAR-T keeps its CAR-T guidance and autologous advice."""
    program, _ = read_program(CART_EXAMPLE)
    result = api.assess(program, CONTEXT, api.Options(as_of=AS_OF))
    cited = {c.id for f in result.findings for c in f.citations} | {c for r in result.risks for c in r.citations}
    assert {"CIT-FDA-CART-2024", "CIT-CFR-21-1271"} <= cited
    mitigations = " ".join(r.mitigation for r in result.risks if r.category == "comparability")
    assert "split-source studies" in mitigations


def test_generated_aav_programs_read_no_cell_therapy_text() -> None:
    """Random programs made in vivo AAV: no cell-therapy text in any human text field, report or register."""
    for seed in range(40):
        program = _with_product(random_program(seed), AAV_PRODUCT)
        result = api.assess(program, CONTEXT, api.Options(as_of=AS_OF))
        data = result.model_dump(mode="json")
        texts = _texts(
            {k: data[k] for k in ("pathways", "findings", "make_or_buy", "timeline", "meetings", "risks", "questions")}
        )
        texts += [render(result, "markdown"), risks_csv(result.risks), _zip_text(risks_xlsx(result.risks, "x", as_of=AS_OF))]
        if seed % 4 == 0:
            texts.append(render(result, "html"))
        assert not _leaks(NOT_FOR_AAV, texts), (seed, _leaks(NOT_FOR_AAV, texts))
        uncited = [f.rule for f in result.findings if f.kind != "undetermined" and not f.citations]
        assert not uncited, (seed, uncited)  # leaving out another modality's source never leaves a finding unsourced


def test_generated_car_t_programs_read_no_aav_text() -> None:
    cart = {**AAV_PRODUCT, "cell_source": "autologous", "cell_type": "t_cell", "engineered_receptor": "car"}
    cart |= {"delivery": "ex_vivo", "vector": "lentiviral"}
    for seed in range(40):
        result = api.assess(_with_product(random_program(seed), cart), CONTEXT, api.Options(as_of=AS_OF))
        data = result.model_dump(mode="json")
        texts = _texts({k: data[k] for k in ("pathways", "findings", "make_or_buy", "meetings", "risks")})
        assert not _leaks(NOT_FOR_CART, texts), (seed, _leaks(NOT_FOR_CART, texts))


def test_rule_notes_follow_the_modality() -> None:
    """A 21 CFR 1271 note of a licensing rule is added for a cell product only."""
    for path, expected in ((CART_EXAMPLE, True), (AAV_EXAMPLE, False)):
        program, _ = read_program(path)
        data = program.model_dump(mode="json", exclude_none=True)
        data["clinical"]["stage"] = "bla_preparation"
        result = api.assess(ProgramFile.model_validate(data), CONTEXT, api.Options(as_of=AS_OF))
        (finding,) = [f for f in result.findings if f.rule == "CMC-GMP-003"]
        assert ("21 CFR part 1271" in finding.detail) is expected
        assert ("CIT-CFR-21-1271" in {c.id for c in finding.citations}) is expected


def test_unknown_modality_rules_nothing_out() -> None:
    """A program that does not say what its product is keeps every text and citation."""
    cell = Leaf(fact="product.cell_source", op="eq", value="autologous")
    unknown = derive_facts(ProgramFile.model_validate({"schema_version": 1, "program": {"id": "X", "name": "X"}}), AS_OF)
    aav = derive_facts(_with_product(random_program(1), AAV_PRODUCT), AS_OF)
    assert not ruled_out(cell, unknown)
    assert ruled_out(cell, aav)
    assert not ruled_out(None, aav)
    parts = [TextPart(text="Always shown."), TextPart(text="Only for autologous.", applies_when=cell)]
    assert text_for(parts, unknown) == "Always shown. Only for autologous."
    assert text_for(parts, aav) == "Always shown."
    assert text_for(parts, None) == "Always shown. Only for autologous."


def test_lint_checks_applicability_conditions() -> None:
    vocab = vocabulary()
    ok = Leaf(fact="product.cell_source", op="eq", value="autologous")
    assert lint_applicability("f", "here", ok, vocab) == []
    bad_fact = Leaf(fact="product.cell_sauce", op="eq", value="autologous")
    bad_value = Leaf(fact="product.cell_source", op="eq", value="autologus")
    item = Leaf(fact="manufacturing.planned_changes[].kind", op="eq", value="scale_up")
    derived = Leaf(fact="derived.late_lock", op="eq", value=True)
    for condition, words in (
        (bad_fact, "unknown fact"),
        (bad_value, "does not fit"),
        (item, "only program facts"),
        (derived, "only program facts"),
    ):
        (issue,) = lint_applicability("f", "here", condition, vocab)
        assert issue.level == "error" and words in issue.message, issue
    categories = load_risk_categories().config
    assert lint_knowledge_texts(CONTEXT.kb, categories, "knowledge/risk_categories.yaml", vocab) == []
    broken = categories.categories["storage_contingency"].model_copy(
        update={"effect": [TextPart(text="Always."), TextPart(text="Never.", applies_when=bad_fact)]}
    )
    issues = lint_knowledge_texts(
        CONTEXT.kb, categories.model_copy(update={"categories": {"storage_contingency": broken}}), "rc.yaml", vocab
    )
    assert [(i.source, i.location) for i in issues] == [("rc.yaml", "categories.storage_contingency.effect[1].applies_when")]


def test_a_text_whose_every_part_is_conditional_is_refused(tmp_path: Path) -> None:
    shutil.copy(ROOT / "knowledge" / "risk_categories.yaml", tmp_path / "risk_categories.yaml")
    path = tmp_path / "risk_categories.yaml"
    text = path.read_text()
    old = "      - text: Material is lost, delayed or damaged in transit, so a dose is lost.\n"
    assert old in text
    path.write_text(text.replace(old, old + "        applies_when: {fact: product.cell_source, op: eq, value: autologous}\n"))
    with pytest.raises(KnowledgeError, match="at least one part without applies_when"):
        load_risk_categories(tmp_path)


# ---------------------------------------------------------------- pathway next steps


def _programs() -> list[tuple[str, ProgramFile]]:
    found = [(path.stem, read_program(path)[0]) for path in [*EXAMPLES, ROOT / "tests" / "programs" / "kitchen_sink.yaml"]]
    return found + [(f"generated-{seed}", random_program(seed)) for seed in range(30)]


def test_every_pathway_row_has_a_next_step() -> None:
    for name, program in _programs():
        for program_regions in (None, ["us", "eu", "jp"]):
            if program_regions:
                data = program.model_dump(mode="json", exclude_none=True)
                data["program"]["regions"] = program_regions
                program = ProgramFile.model_validate(data)
            result = api.assess(program, CONTEXT, api.Options(as_of=AS_OF))
            empty = [p.id for p in result.pathways if not (p.next_step or "").strip()]
            assert not empty, (name, empty)


def test_a_program_with_milestones_gets_dated_next_steps() -> None:
    program, _ = read_program(AAV_EXAMPLE)
    result = api.assess(program, CONTEXT, api.Options(as_of=AS_OF))
    rows = {p.id: p for p in result.pathways}
    eop2 = next(m for m in result.meetings if m.type == "eop2")
    rmat = rows["us.rmat"]
    assert rmat.status == "eligible" and rmat.next_step_due == "2027-06-15" == eop2.recommended_date
    assert rmat.next_step is not None and "15 June 2027" in rmat.next_step
    assert eop2.request_due == "2027-04-06" and "6 April 2027" in rmat.next_step  # the EOP2 request-due date
    assert "CIT-FDA-RMAT-2019" in rmat.citations and rmat.next_step_basis and "end-of-phase 2" in rmat.next_step_basis
    assert rows["us.priority_review"].next_step_due == "2029-06-01"  # with the BLA
    assert rows["eu.prime"].next_step_due == "2027-11-01"  # before the pivotal study starts
    assert rows["us.fast_track"].next_step_due is None  # granted: nothing to request
    assert rows["eu.accelerated_assessment"].next_step_due is None  # no MAA date in the program: no date invented


def test_no_milestones_no_date_and_a_passed_milestone_says_so() -> None:
    program, _ = read_program(AAV_EXAMPLE)
    data = program.model_dump(mode="json", exclude_none=True)
    del data["clinical"]["milestones"]
    bare = api.assess(ProgramFile.model_validate(data), CONTEXT, api.Options(as_of=AS_OF))
    rmat = next(p for p in bare.pathways if p.id == "us.rmat")
    eop2 = next((m for m in bare.meetings if m.type == "eop2"), None)
    # Without milestones the date can only come from a recommended EOP2 meeting.
    assert rmat.next_step_due == (eop2.recommended_date if eop2 else None)
    data = program.model_dump(mode="json", exclude_none=True)
    data["clinical"]["milestones"]["pivotal_start"] = "2026-10-01"
    late = api.assess(ProgramFile.model_validate(data), CONTEXT, api.Options(as_of=AS_OF))
    prime = next(p for p in late.pathways if p.id == "eu.prime")
    assert prime.next_step is not None and "before the assessment date" in prime.next_step
    data = program.model_dump(mode="json", exclude_none=True)
    data["designations"]["rmat"] = "requested"
    asked = api.assess(ProgramFile.model_validate(data), CONTEXT, api.Options(as_of=AS_OF))
    assert next(p for p in asked.pathways if p.id == "us.rmat").next_step_due is None  # already requested


def test_undetermined_pathways_say_what_to_answer() -> None:
    program = ProgramFile.model_validate(
        {"schema_version": 1, "program": {"id": "X", "name": "X", "as_of": "2026-11-25", "regions": ["us", "eu", "jp"]}}
    )
    result = api.assess(program, CONTEXT, api.Options(as_of=AS_OF))
    undetermined = [p for p in result.pathways if p.status == "undetermined"]
    assert undetermined
    for row in undetermined:
        assert row.next_step and row.next_step.startswith("Answer the open questions"), row
        assert not re.search(r"\b[a-z]+\.[a-z_]+\b", row.next_step.split(":", 1)[1].split("?")[0]), row.next_step  # no fact path


def test_a_timing_citation_must_exist(tmp_path: Path) -> None:
    from cmcadvisor.knowledge import load_knowledge

    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    path = folder / "pathways.yaml"
    text = path.read_text()
    old = "      citations: [CIT-FDA-RMAT-PAGE, CIT-FDA-RMAT-2019]\n"
    assert old in text
    path.write_text(text.replace(old, "      citations: [CIT-NO-SUCH-SOURCE]\n"))
    with pytest.raises(KnowledgeError, match="unknown citation CIT-NO-SUCH-SOURCE"):
        load_knowledge(folder)


def test_in_vivo_vector_program_is_never_asked_about_361_hcts(tmp_path: Path) -> None:
    import yaml

    example = ROOT / "examples" / "aav-in-vivo.yaml"
    data = yaml.safe_load(example.read_text())
    data["product"].pop("regulated_solely_under_361", None)
    assert data["product"].get("cell_source") == "none"
    program = tmp_path / "aav.yaml"
    program.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(cli, ["assess", str(program), "--format", "json", "--as-of", "2026-11-25"])
    assert result.exit_code in (0, 1), result.output
    assessment = json.loads(result.output)
    questions = " ".join(q["question"] for q in assessment["questions"])
    assert "1271" not in questions and "361" not in questions
