"""The workspace's program form (schema -> form -> data) and its round-trip YAML saving."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from cmcadvisor import writer
from cmcadvisor.errors import ErrorItem, ProgramFileError, UsageError
from cmcadvisor.loader import load_document, parse_text
from cmcadvisor.workspace import forms, yamledit

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_goes_through_the_form_unchanged(path: Path) -> None:
    data = load_document(path).data
    form = forms.build_form(data)
    assert form.unrepresented == []
    pairs = forms.form_pairs(form)
    assert any(value == "" for _, value in pairs)  # blank rows and empty fields are submitted too
    assert forms.parse_form(pairs) == data
    # and the merged YAML of unchanged data is the user's text, byte for byte
    text = path.read_text(encoding="utf-8")
    assert yamledit.merged_text(text, forms.parse_form(pairs)) == text


def test_form_shape_labels_help_and_kinds() -> None:
    form = forms.build_form(load_document(ROOT / "examples" / "car-t-autologous.yaml").data)
    names = [s.name for s in form.sections]
    assert names[:3] == ["program", "product", "indication"]
    strategy = form.field("manufacturing.strategy")
    assert strategy is not None and strategy.kind == "choice"
    assert strategy.help == "Is manufacturing in-house, at a CDMO, hybrid, or undecided?"
    assert [c.value for c in strategy.choices][:2] == ["", "in_house"]
    assert any(c.label == "CDMO" for c in strategy.choices)  # the display vocabulary's label, not the id
    flag = form.field("product.replication_competent")
    assert flag is not None and flag.kind == "boolean"
    assert [(c.value, c.label) for c in flag.choices] == [("", "not known"), ("true", "yes"), ("false", "no")]
    as_of = form.field("program.as_of")
    assert as_of is not None and as_of.kind == "date" and as_of.value == "2026-11-25"
    changes = form.field("manufacturing.planned_changes")
    assert changes is not None and changes.kind == "list"
    assert changes.children[-1].blank and not changes.children[0].blank
    assert form.field("manufacturing.potency_assay.status") is not None  # nested groups
    assert form.field("timeline.durations_days.ppq") is not None  # a mapping of allowed keys
    regions = form.field("program.regions")
    assert regions is not None and regions.kind == "multichoice"
    assert [c.value for c in regions.choices if c.selected] == ["us", "eu"]


def test_new_program_form_and_empty_fields_are_absent() -> None:
    form = forms.build_form(None)
    assert forms.parse_form(forms.form_pairs(form)) == {"schema_version": 1}
    data = forms.parse_form(
        {
            "schema_version": "1",
            "program.id": "X-1",
            "program.name": "X",
            "program.as_of": "2027-02-03",
            "program.regions": ["eu", "us"],
            "indication.us_prevalence": "1200",
            "indication.serious_condition": "false",
            "market_access.cogs_per_dose_usd": "250000.5",
            "organization.cmc_headcount": "",
            "manufacturing.planned_changes[0].kind": "",
            "manufacturing.planned_changes[1].kind": "other",
            "manufacturing.planned_changes[1].description": "line one\r\nline two",
            "manufacturing.planned_changes[2].kind": "scale_up",
            "manufacturing.planned_changes[2]._remove": "1",
            "manufacturing.planned_changes[10].kind": "equipment",
            "timeline.durations_days.ppq": "90",
        }
    )
    assert data == {
        "schema_version": 1,
        "program": {"id": "X-1", "name": "X", "as_of": datetime.date(2027, 2, 3), "regions": ["eu", "us"]},
        "indication": {"serious_condition": False, "us_prevalence": 1200},
        "manufacturing": {
            "planned_changes": [{"description": "line one\nline two", "kind": "other"}, {"kind": "equipment"}],
        },
        "market_access": {"cogs_per_dose_usd": 250000.5},
        "timeline": {"durations_days": {"ppq": 90}},
    }


def test_text_that_does_not_convert_is_kept_for_validation_to_name() -> None:
    data = forms.parse_form({"schema_version": "1", "program.id": "A", "program.name": "A", "indication.us_prevalence": "lots"})
    assert data["indication"] == {"us_prevalence": "lots"}
    _, errors = yamledit.check_text(yamledit.merged_text("", data), "new.yaml")
    assert [e.location for e in errors] == ["indication.us_prevalence"]
    form = forms.build_form(data, errors=errors)
    field = form.field("indication.us_prevalence")
    assert field is not None and field.errors and "valid integer" in field.errors[0]
    assert 'aria-invalid="true"' in forms.render(form)


def test_errors_go_to_the_nearest_field_or_the_form() -> None:
    form = forms.build_form({"schema_version": 1, "program": {"id": "A", "name": "B"}})
    forms.attach_errors(
        form,
        [
            ErrorItem("p.yaml", 3, "program.name", "too long"),
            ErrorItem("p.yaml", 9, "manufacturing.planned_changes[0].bogus", "unknown key", "did you mean 'kind'?"),
            ErrorItem("p.yaml", 1, "", "expected a mapping"),
        ],
    )
    assert form.field("program.name").errors == ["too long"]  # type: ignore[union-attr]
    assert form.field("manufacturing.planned_changes[0]").errors == ["unknown key (did you mean 'kind'?)"]  # type: ignore[union-attr]
    assert form.errors == ["line 1: expected a mapping"]


def test_hostile_text_is_escaped_and_unknown_data_flagged() -> None:
    data = {"schema_version": 1, "program": {"id": "A", "name": '<script>alert("x")</script>'}, "product": {"bogus": 1}}
    form = forms.build_form(data)
    html = str(forms.render(form))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert form.unrepresented == ["product.bogus"]
    assert 'id="form-unrepresented"' in html


def test_add_item_button_asks_for_blank_rows() -> None:
    rows = forms.requested_rows([("_add", "supply_chain.materials"), ("program.id", "A")])
    assert rows == {"supply_chain.materials": 2}
    form = forms.build_form({"schema_version": 1}, blank_rows=rows)
    materials = form.field("supply_chain.materials")
    assert materials is not None and len(materials.children) == 2 and all(i.blank for i in materials.children)
    assert 'name="_add" value="supply_chain.materials"' in str(forms.render(form))


# --------------------------------------------------------------------------- saving


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    for path in EXAMPLES:
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


def _edit(data: object, section: str, key: str, value: object) -> dict[str, object]:
    assert isinstance(data, dict)
    changed = dict(data)
    changed[section] = {**changed[section], key: value}
    return changed


def test_save_changes_one_value_and_keeps_comments_order_and_history(workspace: Path) -> None:
    name = "car-t-autologous.yaml"
    before = (workspace / name).read_text(encoding="utf-8")
    data = load_document(workspace / name).data
    path, text = yamledit.save_data(workspace, name, _edit(data, "manufacturing", "strategy", "in_house"))
    after = path.read_text(encoding="utf-8")
    assert after == text
    old_lines, new_lines = before.splitlines(), after.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0].replace("cdmo", "in_house") == changed[0][1]
    kept = yamledit.versions(path)
    assert [p.name for p in kept] == [f"{name}.1.yaml"] and kept[0].read_text(encoding="utf-8") == before
    assert kept[0].parent.name == ".cmcadvisor-history"


def test_new_keys_go_in_schema_order_and_cleared_keys_go(workspace: Path) -> None:
    name = "allogeneic-nk.yaml"
    text = "schema_version: 1\n# who we are\nprogram:\n  id: A  # short\n  # the long name\n  name: B\n  sponsor: C\n"
    (workspace / name).write_text(text, encoding="utf-8")
    data = {"schema_version": 1, "program": {"name": "B", "sponsor": "C", "as_of": datetime.date(2027, 1, 2)}}
    merged = yamledit.merged_text(text, data)
    assert (
        merged == "schema_version: 1\n# who we are\nprogram:\n  # the long name\n  name: B\n  sponsor: C\n  as_of: 2027-01-02\n"
    )
    data = {"schema_version": 1, "program": {"id": "A", "name": "B"}, "product": {"cell_source": "autologous"}}
    merged = yamledit.merged_text(text, data)
    assert merged.index("product:") > merged.index("name: B") and "sponsor" not in merged
    assert "# short" in merged and "# the long name" in merged


def test_history_keeps_the_newest_versions_and_never_overwrites(workspace: Path) -> None:
    name = "aav-in-vivo.yaml"
    data = load_document(workspace / name).data
    for days in range(1, 6):
        changed = _edit(data, "program", "as_of", datetime.date(2026, 12, days))
        yamledit.save_data(workspace, name, changed, keep=3)
    kept = yamledit.versions(workspace / name)
    assert [p.name for p in kept] == [f"{name}.{n}.yaml" for n in (3, 4, 5)]
    assert "as_of: 2026-12-04" in kept[-1].read_text(encoding="utf-8")
    assert "as_of: 2026-12-05" in (workspace / name).read_text(encoding="utf-8")


def test_a_failure_mid_write_leaves_the_file_whole(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "car-t-autologous.yaml"
    before = (workspace / name).read_bytes()
    real = writer._write_all
    calls = []

    def half_then_fail(handle, payload):  # type: ignore[no-untyped-def]
        calls.append(len(payload))
        if payload.startswith(b"# Example"):  # the program file, not its history copy
            real(handle, payload[: len(payload) // 2])
            raise OSError(28, "No space left on device")
        real(handle, payload)

    monkeypatch.setattr(writer, "_write_all", half_then_fail)
    data = load_document(workspace / name).data
    with pytest.raises(UsageError, match="No space left on device"):
        yamledit.save_data(workspace, name, _edit(data, "manufacturing", "strategy", "in_house"))
    assert (workspace / name).read_bytes() == before
    assert calls
    assert not [p for p in workspace.iterdir() if p.name.endswith(".tmp")]


def test_invalid_raw_yaml_is_never_written(workspace: Path) -> None:
    name = "allogeneic-nk.yaml"
    before = (workspace / name).read_text(encoding="utf-8")
    bad = before.replace("schema_version: 1", "schema_version: 1\nbogus_section: 1", 1)
    with pytest.raises(ProgramFileError) as caught:
        yamledit.save_text(workspace, name, bad)
    assert caught.value.items[0].source == name and caught.value.items[0].location == "bogus_section"
    assert caught.value.items[0].line == bad.splitlines().index("bogus_section: 1") + 1
    with pytest.raises(ProgramFileError) as syntax:
        yamledit.save_text(workspace, name, "schema_version: 1\nprogram: [\n")
    assert "invalid YAML" in syntax.value.items[0].message and syntax.value.items[0].line is not None
    assert (workspace / name).read_text(encoding="utf-8") == before
    assert yamledit.versions(workspace / name) == []
    # a valid raw save is written, previous version kept
    good = before.replace("# ", "#  ", 1)
    yamledit.save_text(workspace, name, good)
    assert (workspace / name).read_text(encoding="utf-8") == good and len(yamledit.versions(workspace / name)) == 1


def test_create_refuses_an_existing_file(workspace: Path) -> None:
    text = "schema_version: 1\nprogram:\n  id: N\n  name: New\n"
    yamledit.save_text(workspace, "new.yaml", text, create=True)
    assert parse_text((workspace / "new.yaml").read_text(encoding="utf-8"), "new.yaml").data == parse_text(text, "x").data
    with pytest.raises(UsageError, match="already exists"):
        yamledit.save_text(workspace, "new.yaml", text, create=True)


@pytest.mark.parametrize("name", ["../x.yaml", "/etc/x.yaml", "a/../../x.yaml", ".hidden.yaml", "notes.txt", ""])
def test_paths_outside_the_workspace_are_refused(workspace: Path, name: str) -> None:
    with pytest.raises(UsageError):
        yamledit.resolve_in(workspace, name)


def test_symbolic_links_are_refused(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "t.yaml").write_text("schema_version: 1\n", encoding="utf-8")
    os.symlink(outside / "t.yaml", workspace / "link.yaml")
    os.symlink(outside, workspace / "sub")
    for name in ("link.yaml", "sub/t.yaml"):
        with pytest.raises(UsageError, match="symbolic link"):
            yamledit.save_text(workspace, name, "schema_version: 1\nprogram:\n  id: A\n  name: B\n")
    assert (outside / "t.yaml").read_text(encoding="utf-8") == "schema_version: 1\n"


def test_the_starter_keeps_its_commented_out_guidance_through_the_form() -> None:
    starter = ROOT / "cmcadvisor" / "starter.yaml"
    text = starter.read_text(encoding="utf-8")
    data = forms.parse_form(forms.form_pairs(forms.build_form(load_document(starter).data)))
    assert yamledit.merged_text(text, data) == text  # null sections are absent already: kept as written
    data["manufacturing"] = {"strategy": "cdmo"}
    merged = yamledit.merged_text(text, data)
    added = [line for line in merged.splitlines() if line not in text.splitlines()]
    assert added == ["  strategy: cdmo"]
    assert len(merged.splitlines()) == len(text.splitlines()) + 1
    assert yamledit.check_text(merged, "starter.yaml")[1] == []


STYLES = {
    "four-space mappings": "schema_version: 1\nprogram:\n    id: A\n    name: B\nsupply_chain:\n    materials:\n"
    "        - name: x\n",
    "flush list items": "schema_version: 1\nprogram:\n  id: A\n  name: B\nsupply_chain:\n  materials:\n"
    "  - name: x\n    grade: gmp\n",
    "document start": "# head\n---\nschema_version: 1\nprogram:\n  id: A  # short\n  name: B\n",
    "CRLF line ends": "# head\r\nschema_version: 1\r\nprogram:\r\n  id: A  # c\r\n  name: B\r\n",
    "byte order mark": "\ufeffschema_version: 1\nprogram:\n  id: A\n  name: 'B'\n",
    "flow list": "schema_version: 1\nprogram: {id: A, name: B, regions: [us, eu]}\n",
}


@pytest.mark.parametrize("text", STYLES.values(), ids=list(STYLES))
def test_the_users_style_is_kept(text: str) -> None:
    data = parse_text(text.lstrip("\ufeff"), "x.yaml").data
    assert isinstance(data, dict)
    assert yamledit.merged_text(text, data) == text
    data["program"]["name"] = "C"
    expected = text.replace("name: B", "name: C").replace("name: 'B'", "name: 'C'").replace("name: B,", "name: C,")
    assert yamledit.merged_text(text, data) == expected


def test_values_a_date_or_number_input_would_blank_are_shown_as_text() -> None:
    data = {
        "schema_version": 1,
        "program": {"id": "A", "name": "B", "as_of": "2029-13-01"},
        "indication": {"us_prevalence": "many"},
    }
    html = str(forms.render(forms.build_form(data)))
    assert 'type="text" aria-describedby="f-program-as_of-help"' in html and 'value="2029-13-01"' in html
    assert 'value="many"' in html
    assert forms.parse_form(forms.form_pairs(forms.build_form(data))) == data
    good = str(forms.render(forms.build_form({"program": {"as_of": datetime.date(2027, 1, 2)}})))
    assert 'type="date" aria-describedby="f-program-as_of-help"' in good


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        # A section removed: the comment after it introduces the next key and stays above it.
        (
            "a: 1\nb:\n  c: 2\n  d: 3\n# about e\ne: 4\n",
            {"a": 1, "e": 4},
            "a: 1\n# about e\ne: 4\n",
        ),
        # The last section removed: the closing comment stays at the end.
        ("a: 1\nb:\n  c: 2\n  d: 3   # eol d\n# closing\n", {"a": 1}, "a: 1\n# closing\n"),
        # The last key of a section removed: its own comment goes with it, the closing one stays.
        ("a: 1\nb:\n  c: 2\n  d: 3   # eol d\n# closing\n", {"a": 1, "b": {"c": 2}}, "a: 1\nb:\n  c: 2\n# closing\n"),
        # A list section removed: the comment after its last item stays above the next key.
        ("a: 1\nb:\n  - x\n  - y\n# about e\ne: 4\n", {"a": 1, "e": 4}, "a: 1\n# about e\ne: 4\n"),
        # The section before the removed one is nested: the closing comment follows its last leaf.
        ("a:\n  x: 1  # eol x\nb:\n  c: 2\n# closing\n", {"a": {"x": 1}}, "a:\n  x: 1  # eol x\n# closing\n"),
    ],
)
def test_removing_a_section_keeps_the_comments_that_follow_it(text: str, data: dict[str, object], expected: str) -> None:
    """Comment lines after a nested block belong to what follows it: removing the block must not lose them."""
    assert yamledit.merged_text(text, data) == expected
