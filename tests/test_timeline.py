"""The timeline: hand-computed schedules, CPM properties, and the acceptance scenarios."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from cmcadvisor import api
from cmcadvisor.cli import cli
from cmcadvisor.dates import add_months
from cmcadvisor.errors import TimelineCycleError
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.timeline import schedule

D0 = datetime.date(2027, 1, 1).toordinal()
CONTEXT = api.load_context(api.Options(engine="durable"))


def _graph(nodes: dict[str, int], edges: list[tuple[str, str, int]]) -> nx.DiGraph[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    for name, duration in nodes.items():
        graph.add_node(name, duration=duration)
    for a, b, lag in edges:
        graph.add_edge(a, b, lag=lag)
    return graph


def test_hand_computed_schedule() -> None:
    # A(3) -> B(2) -> D(4); A -> C(5) -> D; C -> E(1). Longest: A C D = 12.
    graph = _graph(
        {"A": 3, "B": 2, "C": 5, "D": 4, "E": 1}, [("A", "B", 0), ("A", "C", 0), ("B", "D", 0), ("C", "D", 0), ("C", "E", 0)]
    )
    s = schedule(graph, D0)
    rel = {n: (s.es[n] - D0, s.ef[n] - D0, s.ls[n] - D0, s.lf[n] - D0, s.slack(n)) for n in graph}
    assert rel == {
        "A": (0, 3, 0, 3, 0),
        "B": (3, 5, 6, 8, 3),
        "C": (3, 8, 3, 8, 0),
        "D": (8, 12, 8, 12, 0),
        "E": (8, 9, 11, 12, 3),
    }
    assert s.critical_path == ["A", "C", "D"]


def test_lags_and_start_no_earlier_than() -> None:
    graph = _graph({"build": 10, "qualify": 5, "M": 0}, [("build", "qualify", 2), ("qualify", "M", 0)])
    graph.nodes["M"]["not_before"] = D0 + 30
    s = schedule(graph, D0)
    assert (s.es["qualify"] - D0, s.ef["qualify"] - D0) == (12, 17)
    assert s.es["M"] - D0 == 30  # the target, not the CMC chain, sets the milestone
    assert s.slack("qualify") == 13


def test_deadlines_give_negative_slack() -> None:
    graph = _graph({"order": 30, "use": 10}, [("order", "use", 0)])
    graph.nodes["use"]["due"] = D0 + 35  # needs 40 days: 5 days late
    s = schedule(graph, D0)
    assert (s.slack("order"), s.slack("use")) == (-5, -5)
    assert s.critical_path == ["order", "use"]


def test_fixed_nodes_do_not_move() -> None:
    graph = _graph({"done": 0, "next": 4}, [("done", "next", 0)])
    graph.nodes["done"]["fixed"] = D0 - 100
    s = schedule(graph, D0)
    assert s.es["done"] == D0 - 100 and s.es["next"] == D0  # never before the as-of date


@st.composite
def dags(draw: st.DrawFn) -> nx.DiGraph[str]:
    n = draw(st.integers(min_value=1, max_value=25))
    graph: nx.DiGraph[str] = nx.DiGraph()
    for i in range(n):
        graph.add_node(f"n{i:02d}", duration=draw(st.integers(min_value=0, max_value=60)))
    for j in range(1, n):
        for i in draw(st.sets(st.integers(min_value=0, max_value=j - 1), max_size=3)):
            graph.add_edge(f"n{i:02d}", f"n{j:02d}", lag=draw(st.integers(min_value=0, max_value=10)))
    return graph


@settings(max_examples=150, deadline=None)
@given(dags())
def test_cpm_properties(graph: nx.DiGraph[str]) -> None:
    s = schedule(graph, D0)
    for a, b, data in graph.edges(data=True):
        assert s.es[b] >= s.ef[a] + data["lag"], "an activity started before its dependency finished"
        assert s.ls[b] >= s.lf[a] + data["lag"]
    for node in graph:
        assert s.slack(node) >= 0
        assert s.ef[node] - s.es[node] == graph.nodes[node]["duration"]
    for node in s.critical_path:
        assert s.slack(node) == 0
    end = max(s.ef.values())
    assert s.critical_path and s.ef[s.critical_path[-1]] == end
    for a, b in zip(s.critical_path, s.critical_path[1:], strict=False):
        assert graph.has_edge(a, b) and s.ef[a] + graph.edges[a, b]["lag"] == s.es[b]


def test_add_months_clamps() -> None:
    assert add_months(datetime.date(2027, 1, 31), 1) == datetime.date(2027, 2, 28)
    assert add_months(datetime.date(2027, 11, 15), 3) == datetime.date(2028, 2, 15)


def _program(**sections: object) -> ProgramFile:
    data = {"schema_version": 1, "program": {"id": "TL", "name": "Timeline test", "as_of": "2026-11-25"}, **sections}
    return ProgramFile.model_validate(data)


def test_late_freezer_is_in_late() -> None:
    program = _program(
        clinical={"stage": "phase2"},
        supply_chain={
            "equipment": [{"name": "Controlled-rate freezer", "lead_time_weeks": 26, "need_by": "2027-03-01", "ordered": False}]
        },
    )
    timeline = api.assess(program, CONTEXT).timeline
    freezer = next(a for a in timeline.activities if a.id.startswith("long_lead_equipment"))
    assert freezer.id in timeline.late
    assert freezer.due == "2027-03-01" and freezer.finish == "2027-05-26" and freezer.late_by_days == 86
    assert freezer.slack_days == -86 and freezer.critical and timeline.critical_path == [freezer.id]


def test_cdmo_program_schedules_tech_transfer() -> None:
    program = _program(clinical={"stage": "phase1"}, manufacturing={"strategy": "cdmo", "cdmo": {"tech_transfer": "not_started"}})
    timeline = api.assess(program, CONTEXT).timeline
    ids = {a.id for a in timeline.activities}
    assert {"cdmo_selection", "tech_transfer", "engineering_runs", "ppq"} <= ids
    transfer = next(a for a in timeline.activities if a.id == "tech_transfer")
    assert "cdmo_selection" in transfer.depends_on and transfer.duration_days == 365
    done = _program(clinical={"stage": "phase1"}, manufacturing={"strategy": "cdmo", "cdmo": {"tech_transfer": "complete"}})
    transfer = next(a for a in api.assess(done, CONTEXT).timeline.activities if a.id == "tech_transfer")
    assert transfer.status == "complete" and transfer.start is None  # completed work is not rescheduled


def test_site_change_schedules_comparability_before_its_milestone() -> None:
    program = _program(
        clinical={"stage": "phase2", "milestones": {"pivotal_start": "2027-09-01", "bla_submission": "2029-01-01"}},
        manufacturing={
            "planned_changes": [
                {"description": "Move to the commercial site", "kind": "site_transfer", "timing": "before_pivotal"}
            ]
        },
    )
    timeline = api.assess(program, CONTEXT).timeline
    study = next(a for a in timeline.activities if a.id.startswith("comparability_study"))
    assert study.due == "2027-09-01"
    assert study.finish is not None and study.finish <= "2027-09-01"
    pivotal = next(m for m in timeline.milestones if m.id == "pivotal_start")
    assert pivotal.forecast is not None and study.finish <= pivotal.forecast


def test_late_milestone_against_target() -> None:
    program = _program(
        clinical={"stage": "phase1", "milestones": {"bla_submission": "2027-06-01"}},
        manufacturing={"strategy": "in_house", "facility": {"status": "none", "build_months": 30}},
    )
    timeline = api.assess(program, CONTEXT).timeline
    bla = next(m for m in timeline.milestones if m.id == "bla_submission")
    assert bla.late_by_days and bla.late_by_days > 0 and "bla_submission" in timeline.late
    assert "facility_build" in timeline.critical_path


def test_priority_review_shortens_the_clock() -> None:
    """The fact sheet's worked example: received 15 Jan 2026, filed 16 Mar 2026."""
    base = {"clinical": {"stage": "bla_preparation", "milestones": {"bla_submission": "2026-01-15"}}}
    options = api.Options(as_of=datetime.date(2025, 12, 1))
    standard = api.assess(_program(**base, timeline={"review": "standard"}), CONTEXT, options).timeline
    priority = api.assess(_program(**base, timeline={"review": "priority"}), CONTEXT, options).timeline
    approval = {
        t: next(m for m in tl.milestones if m.id == "bla_approval").forecast for t, tl in (("s", standard), ("p", priority))
    }
    assert approval == {"s": "2027-01-16", "p": "2026-09-16"}


def test_cycle_names_the_rules(tmp_path: Path) -> None:
    """An inspection required before the pivotal start loops back through the BLA."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "CYC-AA-001.yaml").write_text(
        """id: CYC-AA-001
title: Inspection before pivotal (contradicts the standard order)
kind: schedule
severity: info
topics: [pli_readiness]
version: 1
status: active
confidence: unverified
when: {all: [{fact: clinical.stage, op: eq, value: phase1}]}
then: {message: x, requires: [pre_license_inspection, bla_submission], before: [pivotal_start]}
citations: [CIT-CFR-21-600-680]
rationale: Test.
examples:
  - {name: f, facts: {clinical.stage: phase1}, expect: fires}
  - {name: s, facts: {clinical.stage: phase2}, expect: silent}
"""
    )
    context = api.load_context(api.Options(rules_dirs=(rules,)))
    program = _program(clinical={"stage": "phase1", "milestones": {"pivotal_start": "2027-06-01"}})
    with pytest.raises(TimelineCycleError) as caught:
        api.assess(program, context)
    message = str(caught.value)
    assert "cycle" in message and "edge added by CYC-AA-001" in message
    program_file = tmp_path / "p.yaml"
    program_file.write_text(
        "schema_version: 1\nprogram: {id: C, name: c, as_of: 2026-11-25}\n"
        "clinical: {stage: phase1, milestones: {pivotal_start: 2027-06-01}}\n"
    )
    result = CliRunner().invoke(cli, ["--rules-dir", str(rules), "timeline", str(program_file)])
    assert result.exit_code == 2 and "CYC-AA-001" in result.output and "Traceback" not in result.output


def test_set_changes_a_fact_for_one_run(runner: CliRunner) -> None:
    example = str(ROOT / "examples" / "car-t-autologous.yaml")
    base = json.loads(runner.invoke(cli, ["timeline", example, "--format", "json", "--as-of", "2026-11-25"]).output)
    changed = runner.invoke(
        cli,
        [
            "timeline",
            example,
            "--format",
            "json",
            "--as-of",
            "2026-11-25",
            "--set",
            "manufacturing.vector_supply.lead_time_weeks=10",
        ],
    )
    assert changed.exit_code == 0, changed.output
    vector = {a["id"]: a for a in json.loads(changed.output)["activities"]}.get("vector_supply")
    before = {a["id"]: a for a in base["activities"]}.get("vector_supply")
    assert vector and before and vector["duration_days"] == 70 and before["duration_days"] != 70
    bad = runner.invoke(cli, ["timeline", example, "--set", "manufacturing.vector_suply.lead_time_weeks=10"])
    assert bad.exit_code == 2 and "vector_suply" in bad.output and "did you mean 'vector_supply'" in bad.output
    assert runner.invoke(cli, ["timeline", example, "--set", "novalue"]).exit_code == 2


@pytest.mark.parametrize("fmt", ["table", "json", "mermaid", "csv", "png", "svg"])
def test_every_format(runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"t.{fmt}"
    example = str(ROOT / "examples" / "car-t-autologous.yaml")
    result = runner.invoke(cli, ["timeline", example, "--format", fmt, "--as-of", "2026-11-25", "--output", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    elif fmt == "svg":
        assert b"<svg" in data and b"long" in data.lower()
    elif fmt == "json":
        assert set(json.loads(data)) >= {"activities", "milestones", "critical_path", "late"}
    elif fmt == "mermaid":
        assert data.startswith(b"gantt\n") and b":milestone," in data
    elif fmt == "csv":
        assert data.startswith(b"kind,id,name,status,start,finish")
    again = tmp_path / f"again.{fmt}"
    runner.invoke(cli, ["timeline", example, "--format", fmt, "--as-of", "2026-11-25", "--output", str(again)])
    assert again.read_bytes() == data, "same input must give byte-identical output"


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=14),
    st.lists(st.tuples(st.integers(0, 13), st.integers(0, 13)), max_size=40),
    st.lists(st.integers(0, 5), min_size=14, max_size=14),
    st.randoms(use_true_random=False),
)
def test_topological_order_is_networkx_lexicographic_order(
    count: int, pairs: list[tuple[int, int]], weights: list[int], rng: object
) -> None:
    """The schedule's own sort gives networkx's lexicographical order, and refuses cycles as it does."""
    from cmcadvisor.timeline import _topological

    names = [f"n{i:02d}" for i in range(count)]
    rng.shuffle(names)  # type: ignore[attr-defined]  # insertion order is the tie-break
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(names)
    for a, b in pairs:
        if a < count and b < count and a != b:
            graph.add_edge(f"n{a:02d}", f"n{b:02d}")

    def key(node: str) -> int:
        return weights[int(node[1:])]  # ties on purpose

    if nx.is_directed_acyclic_graph(graph):
        assert _topological(graph) == list(nx.lexicographical_topological_sort(graph))
        assert _topological(graph, key) == list(nx.lexicographical_topological_sort(graph, key=key))
    else:
        with pytest.raises(nx.NetworkXUnfeasible):
            _topological(graph)
