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
from cmcadvisor.errors import TimelineCycleError, UserInputError
from cmcadvisor.models.knowledge import MILESTONE_IDS
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


@settings(max_examples=150, deadline=None)
@given(dags())
def test_critical_path_to_a_terminal_is_the_least_slack_chain(graph: nx.DiGraph[str]) -> None:
    """Against brute force: of all chains from the as-of date to the terminal, the one whose largest slack is least."""
    nodes = sorted(graph)
    if len(nodes) > 12:
        graph = graph.subgraph(nodes[:12]).copy()
        nodes = nodes[:12]
    terminal = nodes[-1]
    s = schedule(graph, D0, terminal=terminal)
    path = s.critical_path
    assert path[-1] == terminal and s.slack(terminal) == 0
    for a, b in zip(path, path[1:], strict=False):
        assert graph.has_edge(a, b)
    starts = [n for n in graph if s.es[n] == D0]
    chains = [p for n in starts for p in nx.all_simple_paths(graph, n, terminal)] + ([[terminal]] if terminal in starts else [])
    if chains:
        assert path[0] in starts
        assert max(s.slack(n) for n in path) == min(max(s.slack(n) for n in chain) for chain in chains)


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
    assert [i.id for i in timeline.late_items] == [freezer.id] and timeline.late_items[0].late_by_days == 86
    assert timeline.critical_path[-1] == "bla_approval"  # the path ends at the last BLA milestone, not at the item


def _freezer_program(weeks: int, ordered: bool = False, **manufacturing: object) -> ProgramFile:
    return _program(
        clinical={"stage": "phase1"},
        manufacturing={"strategy": "in_house", "facility": {"status": "planned", "build_months": 12}, **manufacturing},
        supply_chain={
            "equipment": [
                {
                    "name": "LN2 vapour-phase storage freezer",
                    "lead_time_weeks": weeks,
                    "ordered": ordered,
                    "needed_for": ["facility_qualification"],
                }
            ]
        },
    )


def _dates(timeline: object) -> dict[str, str]:
    out = {a.id: a.start or "" for a in timeline.activities}  # type: ignore[attr-defined]
    out |= {m.id: m.forecast or "" for m in timeline.milestones}  # type: ignore[attr-defined]
    return out


def test_late_freezer_moves_qualification_runs_ppq_and_the_bla() -> None:
    """The acceptance story: a freezer needed for facility qualification, 80 weeks away, holds up everything after it."""
    on_hand = api.assess(_freezer_program(80, ordered=True), CONTEXT).timeline
    late = api.assess(_freezer_program(80), CONTEXT).timeline
    delay = 80 * 7 - 365  # the freezer arrives 195 days after the 12-month build ends
    before, after = _dates(on_hand), _dates(late)
    for moved in ("facility_qualification", "engineering_runs", "ppq", "bla_submission"):
        shift = (datetime.date.fromisoformat(after[moved]) - datetime.date.fromisoformat(before[moved])).days
        assert shift == delay, moved
    item = late.late_items[0]
    assert item.id == "long_lead_equipment" and item.bla_delay_days == delay
    assert item.needed_for == ["facility_qualification"] and item.delays["ppq"] == delay
    assert late.critical_path[0] == "long_lead_equipment"
    longer = api.assess(_freezer_program(90), CONTEXT).timeline
    assert _dates(longer)["bla_submission"] > after["bla_submission"]
    assert longer.late_items[0].bla_delay_days == delay + 70


def test_long_lead_default_follows_the_strategy() -> None:
    """Without needed_for, equipment waits before facility qualification in-house and before engineering runs at a CDMO."""
    program = _program(
        clinical={"stage": "phase1"},
        manufacturing={"strategy": "cdmo"},
        supply_chain={"equipment": [{"name": "Freezer", "lead_time_weeks": 200, "ordered": False}]},
    )
    timeline = api.assess(program, CONTEXT).timeline
    runs = next(a for a in timeline.activities if a.id == "engineering_runs")
    assert "long_lead_equipment" in runs.depends_on
    assert timeline.late_items and timeline.late_items[0].needed_for == ["engineering_runs"]


def test_needed_for_refuses_unknown_ids(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "schema_version: 1\nprogram: {id: X, name: x, as_of: 2026-11-25}\nsupply_chain:\n  equipment:\n"
        "    - name: Freezer\n      needed_for: [facility_qualifcation]\n"
    )
    result = runner.invoke(cli, ["timeline", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "p.yaml:6" in result.output and "needed_for" in result.output


def test_pivotal_slip_moves_the_bla_and_ppq_is_not_before_pivotal() -> None:
    """CMC-TL-003 v2: an undecided strategy puts the decision before pivotal, not PPQ; the planned intervals hold."""
    milestones = {"pivotal_start": "2027-03-01", "bla_submission": "2028-09-01"}
    program = _program(clinical={"stage": "phase1", "milestones": milestones}, manufacturing={"strategy": "undecided"})
    timeline = api.assess(program, CONTEXT).timeline
    ppq = next(a for a in timeline.activities if a.id == "ppq")
    assert "pivotal_start" not in {s for a in timeline.activities for s in a.depends_on if a.id == "ppq"}
    transfer = next(a for a in timeline.activities if a.id == "tech_transfer")
    decision = next(a for a in timeline.activities if a.id == "make_or_buy_decision")
    assert transfer.start is not None and decision.finish is not None and transfer.start >= decision.finish
    forecasts = {m.id: m for m in timeline.milestones}
    pivotal_slip = forecasts["pivotal_start"].late_by_days or 0
    assert (forecasts["bla_submission"].late_by_days or 0) >= pivotal_slip
    assert ppq.finish is not None


def test_declaring_a_strategy_is_never_less_late_without_a_reason() -> None:
    """Deciding for a CDMO only removes the decision itself; deciding in-house adds the build."""
    late = {}
    for strategy in ("undecided", "cdmo", "in_house"):
        program = _program(
            clinical={"stage": "phase1", "milestones": {"bla_submission": "2028-01-01"}},
            manufacturing={"strategy": strategy, "cdmo": {"name": "Example CDMO"}},
        )
        bla = next(m for m in api.assess(program, CONTEXT).timeline.milestones if m.id == "bla_submission")
        late[strategy] = bla.late_by_days or 0
    decision_days = CONTEXT.kb.activities["make_or_buy_decision"].duration_days
    assert late["undecided"] == late["cdmo"] + decision_days
    assert late["in_house"] > late["undecided"]


def _check_plan(timeline: object) -> None:
    """The critical-path and precedence properties every timeline must have."""
    activities = {a.id: a for a in timeline.activities}  # type: ignore[attr-defined]
    milestones = {m.id: m for m in timeline.milestones}  # type: ignore[attr-defined]
    finish = {i: a.finish for i, a in activities.items() if a.finish} | {i: m.forecast for i, m in milestones.items()}
    for a in activities.values():
        if a.start is None:
            continue
        for dep in a.depends_on:
            if dep in finish and (dep not in milestones or milestones[dep].status != "achieved"):
                assert a.start >= finish[dep], f"{a.id} starts before {dep} finishes"
    ahead = [m for m in ("bla_approval", "bla_submission") if m in milestones and milestones[m].status != "achieved"]
    path = timeline.critical_path  # type: ignore[attr-defined]
    if not ahead:
        return
    assert path and path[-1] == ahead[0], path
    on_path = [activities[i] for i in path if i in activities]
    assert len(path) >= 2 and on_path, path
    upstream = {d for a in activities.values() for d in a.depends_on}
    work = [a for a in activities.values() if a.status != "complete" and a.id in upstream and a.id != "bla_submission"]
    if milestones["bla_submission"].status == "planned" and work:
        assert len(on_path) >= 2, path  # CMC work and the submission, at least
    slacks = [a.slack_days for a in activities.values() if a.slack_days is not None]
    path_slacks = [a.slack_days for a in on_path if a.slack_days is not None]
    if path_slacks:
        assert min(path_slacks) == min(slacks)
    for a, b in zip(path, path[1:], strict=False):
        if b in activities:
            assert a in activities[b].depends_on, (a, b)


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_critical_path_of_every_example(example: Path) -> None:
    timeline = api.assess_file(example, api.Options(as_of=datetime.date(2026, 11, 25)), CONTEXT).timeline
    _check_plan(timeline)
    assert "bla_submission" in timeline.critical_path


def test_critical_path_of_generated_programs() -> None:
    """Property over generated programs: a path ending at the BLA, of least slack, with precedence kept."""
    from programgen import random_program

    for seed in range(150):
        _check_plan(api.assess(random_program(seed), CONTEXT).timeline)


def test_explain_activity_names_edges_rules_and_the_smallest_change() -> None:
    from cmcadvisor.timeline.explain import explain_activity

    program = _freezer_program(80)
    ev = api.evaluate(program, CONTEXT)
    args = (ev.program, ev.facts, ev.pack, ev.kb, ev.run.firings, ev.as_of)
    qualification = explain_activity(*args, "facility_qualification", priority_review=False)
    setter = next(e for e in qualification.predecessors if e.sets_start)
    assert setter.id == "long_lead_equipment" and any("needed for" in o for o in setter.added_by)
    assert "CMC-TL-002" in qualification.rules and qualification.completion
    dated = _program(
        clinical={"stage": "phase1", "milestones": {"bla_submission": "2029-06-01"}},
        manufacturing={"strategy": "in_house", "facility": {"status": "planned", "build_months": 12}},
        supply_chain={"equipment": [{"name": "Freezer", "lead_time_weeks": 130, "ordered": False, "needed_for": ["ppq"]}]},
    )
    ev = api.evaluate(dated, CONTEXT)
    bla = explain_activity(
        ev.program, ev.facts, ev.pack, ev.kb, ev.run.firings, ev.as_of, "bla_submission", priority_review=False
    )
    assert bla.late_by_days and bla.smallest_change is not None and bla.smallest_change.kind == "shorten"
    change = bla.smallest_change
    assert change.from_days is not None and change.to_days is not None
    assert change.id == "long_lead_equipment" and change.fact == "supply_chain.equipment[].lead_time_weeks"
    assert change.from_days - change.to_days == bla.late_by_days  # the freezer alone holds it up
    assert bla.other_changes[-1].kind == "move_target"
    with pytest.raises(UserInputError):
        explain_activity(ev.program, ev.facts, ev.pack, ev.kb, ev.run.firings, ev.as_of, "no_such", priority_review=False)


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


FREEZER_YAML = """schema_version: 1
program: {id: F, name: Freezer story, as_of: 2026-11-25}
clinical: {stage: phase1}
manufacturing: {strategy: in_house, facility: {status: planned, build_months: 12}}
supply_chain:
  equipment:
    - {name: LN2 vapour-phase storage freezer, lead_time_weeks: 80, ordered: false, needed_for: [facility_qualification]}
"""


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_report_names_the_freezer_and_the_bla_delay(runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "freezer.yaml"
    path.write_text(FREEZER_YAML)
    result = runner.invoke(cli, ["assess", str(path), "--format", fmt])
    assert result.exit_code in (0, 1), result.output
    assert "LN2 vapour-phase storage freezer" in result.output
    assert "moves the BLA submission forecast by 195 days" in result.output
    table = runner.invoke(cli, ["timeline", str(path)])
    assert "Late long-lead items:\n- LN2 vapour-phase storage freezer: " in table.output and "195 days" in table.output


def test_unqualified_material_holds_up_engineering_runs() -> None:
    program = _program(
        clinical={"stage": "phase2"},
        manufacturing={"strategy": "cdmo", "cdmo": {"tech_transfer": "complete"}},
        supply_chain={"materials": [{"name": "Activation reagent", "qualified": False, "lead_time_weeks": 40}]},
    )
    timeline = api.assess(program, CONTEXT).timeline
    material = next(a for a in timeline.activities if a.id == "material_supply")
    runs = next(a for a in timeline.activities if a.id == "engineering_runs")
    assert material.duration_days == 280 and "material_supply" in runs.depends_on
    assert runs.start is not None and material.finish is not None and runs.start >= material.finish


def test_activity_knowledge_refuses_unknown_facts(tmp_path: Path) -> None:
    from cmcadvisor.errors import KnowledgeError
    from cmcadvisor.knowledge import load_knowledge

    folder = tmp_path / "knowledge"
    folder.mkdir()
    for source in (ROOT / "knowledge").glob("*.yaml"):
        (folder / source.name).write_bytes(source.read_bytes())
    text = (folder / "activities.yaml").read_text()
    (folder / "activities.yaml").write_text(
        text.replace("{fact: manufacturing.analytical_methods, op: eq", "{fact: manufacturing.analytical_method, op: eq")
    )
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder)
    assert "complete_when.fact: unknown fact manufacturing.analytical_method" in str(caught.value)


def test_completion_is_read_from_knowledge() -> None:
    """Work the program file shows done is not rescheduled; the condition is the knowledge base's."""
    condition = CONTEXT.kb.activities["ppq"].complete_when
    assert condition is not None
    done = _program(clinical={"stage": "phase2"}, manufacturing={"strategy": "cdmo", "process_status": "validated"})
    ppq = next(a for a in api.assess(done, CONTEXT).timeline.activities if a.id == "ppq")
    assert ppq.status == "complete" and ppq.start is None
    assert {m.id for m in CONTEXT.kb.milestones.values()} == set(MILESTONE_IDS)


def test_rule_schedule_lists_the_edges_a_rule_adds() -> None:
    from cmcadvisor.timeline import build
    from cmcadvisor.timeline.explain import rule_schedule

    program = _program(clinical={"stage": "phase1"}, manufacturing={"strategy": "undecided"})
    ev = api.evaluate(program, CONTEXT)
    built = build(ev.program, ev.facts, ev.pack, ev.kb, ev.run.firings, ev.as_of, priority_review=False)
    tl003 = rule_schedule(built, "CMC-TL-003", fired="CMC-TL-003" in ev.fired)
    assert tl003.fired and tl003.activities == ["make_or_buy_decision"]
    assert [(e.before, e.after) for e in tl003.edges] == [("make_or_buy_decision", "pivotal_start")]
