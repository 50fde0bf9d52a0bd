"""The conventions of issue 15: pipes, every error at once, no silent clock, --fail-on's reason,
several outputs per run, standard input, the settings file, --quiet/--verbose/--no-color and
shell completion. Each point through click's runner and through the installed console script.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor import cliutil, outputs
from cmcadvisor.cli import cli
from cmcadvisor.errors import UsageError

CAR_T = ROOT / "examples" / "car-t-autologous.yaml"
SCRIPT = Path(sys.executable).parent / "cmcadvisor"
TODAY = datetime.date.today().isoformat()


def _script(*args: str, cwd: Path = ROOT, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, input=stdin, capture_output=True, env=env, timeout=300, check=False)


def _bad_program(tmp_path: Path) -> Path:
    """Four independent errors: an unknown key, a bad enum, a bad integer and a date that does not exist."""
    text = CAR_T.read_text(encoding="utf-8")
    text = text.replace("  as_of: 2026-11-25\n", "  as_of: 2029-13-01\n  colour: red\n", 1)
    text = text.replace("  cell_source: autologous\n", "  cell_source: autologus\n", 1)
    text = text.replace("  us_prevalence: 30000\n", "  us_prevalence: lots\n", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _without_as_of(tmp_path: Path) -> Path:
    path = tmp_path / "undated.yaml"
    path.write_text(CAR_T.read_text(encoding="utf-8").replace("  as_of: 2026-11-25\n", "", 1), encoding="utf-8")
    return path


# ------------------------------------------------------------------ pipes


@pytest.mark.parametrize("args", [["rules", "list"], ["rules", "facts"], ["assess", str(CAR_T)], ["schema"]])
def test_a_closed_stdout_ends_quietly_with_the_sigpipe_status(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails with EPIPE
    try:
        done = subprocess.run([str(SCRIPT), *args], cwd=ROOT, stdout=write, stderr=subprocess.PIPE, timeout=300, check=False)
    finally:
        os.close(write)
    assert done.returncode == cliutil.EXIT_PIPE == 141
    assert done.stderr == b""


def test_rules_list_into_head_prints_no_error() -> None:
    head = subprocess.run(
        f"'{SCRIPT}' rules list | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert head.returncode == 0
    assert len(head.stdout.decode().splitlines()) == 1
    assert head.stderr == b""


# ------------------------------------------------------------------ every error at once


def test_validate_prints_every_problem_at_once(tmp_path: Path, runner: CliRunner) -> None:
    bad = _bad_program(tmp_path)
    for stderr, code in (
        (runner.invoke(cli, ["validate", str(bad)]).stderr, runner.invoke(cli, ["validate", str(bad)]).exit_code),
        (_script("validate", str(bad)).stderr.decode(), _script("validate", str(bad)).returncode),
    ):
        lines = stderr.splitlines()
        assert code == 2
        assert len(lines) == 4, stderr
        fields = [re.match(rf"^error: {re.escape(str(bad))}:(\d+): ([\w.\[\]]+): ", line) for line in lines]
        assert all(fields), lines
        assert {m.group(2) for m in fields if m} == {
            "program.as_of",
            "program.colour",
            "product.cell_source",
            "indication.us_prevalence",
        }
        assert "month must be in 1..12" in stderr


def test_assess_reports_the_same_problems(tmp_path: Path, runner: CliRunner) -> None:
    bad = _bad_program(tmp_path)
    assessed = runner.invoke(cli, ["assess", str(bad)])
    validated = runner.invoke(cli, ["validate", str(bad)])
    assert assessed.exit_code == 2 and assessed.stderr == validated.stderr


def test_a_set_error_names_the_option_not_a_file_line(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["assess", str(CAR_T), "--set", "clinical.stag=pivotal", "--set", "clinical.stage=later"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "error: --set: clinical.stag: unknown key (did you mean 'stage'?)"
    assert lines[1].startswith("error: --set: clinical.stage: Input should be ")
    assert str(CAR_T) not in result.stderr


# ------------------------------------------------------------------ no silent clock


def test_a_program_without_as_of_says_which_date_was_used(tmp_path: Path, runner: CliRunner) -> None:
    undated = _without_as_of(tmp_path)
    for command in (["assess"], ["timeline"], ["risks"], ["brief", "--meeting", "type_d"]):
        result = runner.invoke(cli, [*command, str(undated), "--format", "json"])
        assert result.exit_code == 0, result.output
        assert result.stderr == (
            f"note: {undated} has no as_of date and no --as-of was given: assessed as of today, {TODAY}\n"
        ), command
        assert "note:" not in result.stdout
    assert runner.invoke(cli, ["assess", str(undated), "--as-of", "2026-11-25"]).stderr == ""
    assert runner.invoke(cli, ["assess", str(CAR_T)]).stderr == ""  # the program has as_of
    assert runner.invoke(cli, ["--quiet", "assess", str(undated)]).stderr == ""
    assert f"assessed as of today, {TODAY}" in _script("assess", str(undated)).stderr.decode()


def test_diff_says_which_date_it_used_for_a_program_without_as_of(tmp_path: Path, runner: CliRunner) -> None:
    undated = _without_as_of(tmp_path)
    result = runner.invoke(cli, ["diff", str(CAR_T), str(undated)])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"note: {undated} has no as_of date and no --as-of was given: assessed as of today, {TODAY}\n"
    assert runner.invoke(cli, ["diff", str(CAR_T), str(undated), "--as-of", "2026-11-25"]).stderr == ""
    assert runner.invoke(cli, ["--quiet", "diff", str(CAR_T), str(undated)]).stderr == ""
    assert runner.invoke(cli, ["diff", str(CAR_T), str(CAR_T)]).stderr == ""  # the program has as_of


def test_knowledge_status_notes_the_clock_unless_quiet(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["knowledge", "status"]).stderr == (
        f"note: ages counted as of today, {TODAY}; give --as-of to choose the date\n"
    )
    quiet = runner.invoke(cli, ["--quiet", "knowledge", "status"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout


def test_help_and_readme_agree_about_the_clock(runner: CliRunner) -> None:
    text = " ".join(runner.invoke(cli, ["assess", "--help"]).output.split())
    assert "with neither, today's date, and a note on stderr says so" in text
    top = " ".join(runner.invoke(cli, ["--help"]).output.split())
    assert "the date is today's, and a note on standard error says so" in top
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "Only when neither is given is today's date used, and the command then says so on standard error" in readme
    assert "never from the clock" not in readme


# ------------------------------------------------------------------ --fail-on


def test_fail_on_says_why_in_one_line(runner: CliRunner) -> None:
    data = json.loads(runner.invoke(cli, ["assess", str(CAR_T), "--format", "json"]).stdout)
    high = data["summary"]["open_findings_by_severity"]["high"]
    critical = data["summary"]["open_findings_by_severity"]["critical"]
    result = runner.invoke(cli, ["assess", str(CAR_T), "--fail-on", "high"])
    assert result.exit_code == 1
    parts = ", ".join(f"{n} {s}" for s, n in (("critical", critical), ("high", high)) if n)
    assert result.stderr == f"--fail-on high: {high + critical} open findings at high or above ({parts})\n"
    ok = runner.invoke(cli, ["assess", str(CAR_T), "--fail-on", "critical"]) if not critical else None
    if ok is not None:
        assert ok.exit_code == 0 and ok.stderr == ""
    done = _script("assess", str(CAR_T), "--fail-on", "high")
    assert done.returncode == 1 and done.stderr.decode().count("\n") == 1


def test_portfolio_fail_on_names_programs(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["portfolio", str(CAR_T), "--as-of", "2026-11-25", "--fail-on", "high"])
    assert result.exit_code == 1
    assert re.fullmatch(r"--fail-on high: \d+ open findings at high or above in 1 program \(.*\)\n", result.stderr)


# ------------------------------------------------------------------ several outputs


def test_one_assess_run_writes_json_html_and_sarif_identical_to_separate_runs(tmp_path: Path) -> None:
    first = _script(
        "assess",
        str(CAR_T),
        "-o",
        f"json:{tmp_path / 'a.json'}",
        "-o",
        f"html:{tmp_path / 'a.html'}",
        "-o",
        f"sarif:{tmp_path / 'a.sarif'}",
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(b"ACME-19")  # the terminal view stays on standard output
    for fmt, name in (("json", "a.json"), ("html", "a.html"), ("sarif", "a.sarif")):
        alone = _script("assess", str(CAR_T), "--format", fmt)
        assert alone.returncode == 0
        assert (tmp_path / name).read_bytes() == alone.stdout, fmt


def test_several_outputs_with_the_runner(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["assess", str(CAR_T), "--format", "json", "-o", f"markdown:{tmp_path / 'r.md'}", "-o", f"junit:{tmp_path / 'r.xml'}"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["program"]["id"] == "ACME-CD19"
    assert (tmp_path / "r.md").read_text(encoding="utf-8") == runner.invoke(
        cli, ["assess", str(CAR_T), "--format", "markdown"]
    ).stdout
    assert (tmp_path / "r.xml").read_text(encoding="utf-8") == runner.invoke(
        cli, ["assess", str(CAR_T), "--format", "junit"]
    ).stdout


@pytest.mark.parametrize(
    "command,formats",
    [(["risks"], ("csv", "json")), (["timeline"], ("csv", "mermaid")), (["brief", "--meeting", "type_d"], ("markdown", "json"))],
)
def test_other_commands_write_several_outputs(
    tmp_path: Path, runner: CliRunner, command: list[str], formats: tuple[str, str]
) -> None:
    args = [*command, str(CAR_T)] + [a for f in formats for a in ("-o", f"{f}:{tmp_path / ('out.' + f)}")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    for fmt in formats:
        alone = runner.invoke(cli, [*command, str(CAR_T), "--format", fmt])
        assert (tmp_path / f"out.{fmt}").read_text(encoding="utf-8") == alone.stdout


def test_the_older_output_path_still_works_and_dash_is_stdout(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "old.json"
    result = runner.invoke(cli, ["assess", str(CAR_T), "--format", "json", "-o", str(path)])
    assert result.exit_code == 0 and result.stdout == ""
    assert path.read_text(encoding="utf-8") == runner.invoke(cli, ["assess", str(CAR_T), "--format", "json"]).stdout
    dash = runner.invoke(cli, ["assess", str(CAR_T), "-o", "json:-", "-o", f"html:{tmp_path / 'x.html'}"])
    assert dash.exit_code == 0, dash.output
    assert json.loads(dash.stdout)["program"]["id"] == "ACME-CD19"  # "-" takes standard output from the table


def test_output_values_are_checked() -> None:
    formats = ("table", "json", "html")
    plan = outputs.plan(["json:a.json", "html:b.html"], "table", formats)
    assert plan.stdout == "table" and [(t.fmt, str(t.path)) for t in plan.files] == [("json", "a.json"), ("html", "b.html")]
    assert outputs.plan(["a.json"], "json", formats).stdout is None
    assert outputs.plan(["./json:odd"], "table", formats).files[0].path == Path("json:odd")
    for bad in (["json:"], ["a", "b"], ["json:-", "html:-"], ["json:x", "html:x"]):
        with pytest.raises(UsageError) as caught:
            outputs.plan(bad, "table", formats)
        assert caught.value.items[0].source == "--output"


# ------------------------------------------------------------------ standard input


def test_assess_from_stdin_equals_the_file_run() -> None:
    from_file = _script("assess", "examples/car-t-autologous.yaml", "--format", "json")
    piped = subprocess.run(
        f"cat examples/car-t-autologous.yaml | '{SCRIPT}' assess - --format json",
        shell=True,  # the acceptance command, as a user types it
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert piped.returncode == from_file.returncode == 0, piped.stderr
    assert piped.stdout == from_file.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["validate"],
        ["assess", "--format", "json"],
        ["risks", "--format", "json"],
        ["timeline", "--format", "json"],
        ["brief", "--meeting", "type_d", "--format", "json"],
    ],
)
def test_commands_read_stdin(runner: CliRunner, command: list[str]) -> None:
    text = CAR_T.read_text(encoding="utf-8")
    piped = runner.invoke(cli, [command[0], "-", *command[1:]], input=text)
    assert piped.exit_code == 0, piped.output
    if command[0] == "validate":
        assert piped.stdout == "ok: <stdin>\n"
    else:
        assert piped.stdout == runner.invoke(cli, [command[0], str(CAR_T), *command[1:]]).stdout


def test_explain_reads_stdin(runner: CliRunner) -> None:
    text = CAR_T.read_text(encoding="utf-8")
    piped = runner.invoke(cli, ["explain", "-", "CMC-CMP-001"], input=text)
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == runner.invoke(cli, ["explain", str(CAR_T), "CMC-CMP-001"]).stdout


def test_stdin_filename_names_the_input_in_messages(tmp_path: Path, runner: CliRunner) -> None:
    bad = _bad_program(tmp_path).read_text(encoding="utf-8")
    result = runner.invoke(cli, ["validate", "-", "--stdin-filename", "programs/x.yaml"], input=bad)
    assert result.exit_code == 2
    assert all(line.startswith("error: programs/x.yaml:") for line in result.stderr.splitlines())
    plain = runner.invoke(cli, ["assess", "-"], input=bad)
    assert plain.stderr.startswith("error: <stdin>:")
    sarif = runner.invoke(
        cli,
        ["assess", "-", "--stdin-filename", "programs/car t.yaml", "--format", "sarif"],
        input=CAR_T.read_text(encoding="utf-8"),
    )
    assert json.loads(sarif.stdout)["runs"][0]["artifacts"][0]["location"]["uri"] == "programs/car%20t.yaml"


# ------------------------------------------------------------------ settings file


def _settings_project(tmp_path: Path) -> Path:
    """A project with fail-on and an extra rule pack in its settings; returns a subfolder to run from."""
    pack = tmp_path / "org-rules"
    pack.mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.cmcadvisor]\nfail-on = "high"\nrules-dir = ["org-rules"]\n'
        '[tool.cmcadvisor.assess]\nformat = "json"\n',
        encoding="utf-8",
    )
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    return sub


def test_settings_file_sets_fail_on_and_rules_dir_and_the_command_line_wins(tmp_path: Path, runner: CliRunner) -> None:
    sub = _settings_project(tmp_path)
    os.chdir(sub)
    try:
        shown = runner.invoke(cli, ["config", "--format", "json"])
        assert shown.exit_code == 0, shown.output
        data = json.loads(shown.stdout)
        rows = {(r["command"], r["setting"]): r for r in data["settings"]}
        assert Path(data["file"]) == tmp_path / "pyproject.toml"
        assert rows[("", "fail-on")]["value"] == "high"
        assert rows[("", "fail-on")]["source"].endswith("pyproject.toml: tool.cmcadvisor.fail-on")
        assert rows[("", "rules-dir")]["value"] == [os.path.join("..", "..", "org-rules")]
        assert rows[("assess", "format")]["source"].endswith("tool.cmcadvisor.assess.format")

        both = json.loads(
            runner.invoke(
                cli, ["--rules-dir", str(tmp_path / "org-rules"), "config", "--fail-on", "critical", "--format", "json"]
            ).stdout
        )
        rows = {(r["command"], r["setting"]): r for r in both["settings"]}
        assert rows[("", "fail-on")] == {"command": "", "setting": "fail-on", "value": "critical", "source": "command line"}
        assert rows[("", "rules-dir")]["source"] == "command line"
        assert rows[("", "engine")]["source"] == "default"

        from_file = runner.invoke(cli, ["assess", str(CAR_T)])
        assert from_file.exit_code == 1 and from_file.stderr.startswith("--fail-on high: ")
        assert json.loads(from_file.stdout)["program"]["id"] == "ACME-CD19"  # format from the file
        overridden = runner.invoke(cli, ["assess", str(CAR_T), "--fail-on", "critical", "--format", "markdown"])
        assert overridden.stdout.startswith("#") and "--fail-on high" not in overridden.stderr
        assert runner.invoke(cli, ["--no-config", "assess", str(CAR_T)]).exit_code == 0
    finally:
        os.chdir(ROOT)
    table = _script("config", cwd=sub).stdout.decode()
    assert re.search(r"--fail-on\s+\"high\"\s+\S*pyproject.toml: tool.cmcadvisor.fail-on", table)
    assert re.search(
        r"--fail-on\s+\"critical\"\s+command line", _script("config", "--fail-on", "critical", cwd=sub).stdout.decode()
    )


def test_an_invalid_settings_file_is_exit_2_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / ".cmcadvisor.toml").write_text('fail-on = "hgh"\nfail-onn = 1\n[assess]\nformat = "pdf"\n', encoding="utf-8")
    done = _script("assess", str(CAR_T), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == [
        "error: .cmcadvisor.toml: fail-on: Invalid value for '--fail-on': "
        "'hgh' is not one of 'critical', 'high', 'medium', 'low'.",
        "error: .cmcadvisor.toml: fail-onn: unknown setting (did you mean 'fail-on'?)",
        "error: .cmcadvisor.toml: assess.format: Invalid value for '--format': 'pdf' is not one of "
        "'table', 'json', 'markdown', 'html', 'sarif', 'junit'.",
    ]
    (tmp_path / ".cmcadvisor.toml").write_text("fail-on = \n", encoding="utf-8")
    broken = _script("config", cwd=tmp_path)
    assert broken.returncode == 2 and broken.stderr.decode().startswith("error: .cmcadvisor.toml:1: invalid TOML")


# ------------------------------------------------------------------ quiet, verbose, colour


def test_quiet_and_verbose(tmp_path: Path, runner: CliRunner) -> None:
    assert runner.invoke(cli, ["--quiet", "validate", str(CAR_T)]).output == ""
    verbose = runner.invoke(cli, ["--verbose", "assess", str(CAR_T), "-o", f"json:{tmp_path / 'v.json'}"])
    assert "info: wrote " in verbose.stderr and "active rules; engine" in verbose.stderr
    assert runner.invoke(cli, ["--quiet", "--verbose", "assess", str(CAR_T)]).stderr == ""


def test_colour_follows_no_color_and_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)

    def ctx(*args: str) -> click.Context:
        context = cli.make_context("cmcadvisor", [*args, "rules", "list"])
        return context

    assert cliutil.use_color(ctx()) is True
    assert cliutil.use_color(ctx("--no-color")) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert cliutil.use_color(ctx()) is False


# ------------------------------------------------------------------ completion


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete --no-files")])
def test_completion_scripts(shell: str, marker: str) -> None:
    done = _script("completion", shell)
    assert done.returncode == 0 and marker in done.stdout.decode() and "_CMCADVISOR_COMPLETE" in done.stdout.decode()


def _complete(words: str) -> list[str]:
    env = {**os.environ, "_CMCADVISOR_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    done = subprocess.run([str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)
    return [line.split(",", 1)[1] for line in done.stdout.decode().splitlines() if "," in line]


def test_completion_of_commands_options_rules_pathways_and_meetings() -> None:
    assert "assess" in _complete("cmcadvisor as")
    assert "--fail-on" in _complete("cmcadvisor assess --fail")
    assert "CMC-CMP-001" in _complete("cmcadvisor rules show CMC-CMP")
    targets = _complete("cmcadvisor explain p.yaml us.")
    assert "us.rmat" in targets and all(t.startswith("us.") for t in targets)
    assert "pre_bla" in _complete("cmcadvisor explain p.yaml pre_")
    assert {"pre_ind", "pre_bla"} <= set(_complete("cmcadvisor brief p.yaml --meeting pre"))
    assert "sarif:" in _complete("cmcadvisor assess p.yaml -o sa")


def test_the_settings_rule_pack_is_used_and_the_command_line_replaces_it(tmp_path: Path, runner: CliRunner) -> None:
    from conftest import FIXTURE_PACK

    (tmp_path / ".cmcadvisor.toml").write_text(
        f'no-builtin-rules = true\nrules-dir = ["{FIXTURE_PACK / "rules"}"]\nknowledge-dir = "{FIXTURE_PACK / "knowledge"}"\n'
        'format = "json"\n',  # shared: every command whose --format takes json
        encoding="utf-8",
    )
    fixture_ids = {p.stem for p in (FIXTURE_PACK / "rules").rglob("*.yaml")}
    os.chdir(tmp_path)
    try:
        listed = runner.invoke(cli, ["rules", "list", "--format", "json"])
        assert listed.exit_code == 0, listed.output
        assert {r["id"] for r in json.loads(listed.stdout)} <= fixture_ids
        builtin = runner.invoke(cli, ["--no-config", "rules", "list", "--format", "json"])
        assert len(json.loads(builtin.stdout)) > len(json.loads(listed.stdout))
        shown = json.loads(runner.invoke(cli, ["config", "--format", "json"]).stdout)
        formats = {r["command"] for r in shown["settings"] if r["setting"] == "format"}
        assert {"assess", "timeline", "risks", "brief", "portfolio"} <= formats  # brief takes json too
    finally:
        os.chdir(ROOT)
    (tmp_path / ".cmcadvisor.toml").write_text('format = "table"\n', encoding="utf-8")
    os.chdir(tmp_path)
    try:
        shown = json.loads(runner.invoke(cli, ["config", "--format", "json"]).stdout)
    finally:
        os.chdir(ROOT)
    formats = {r["command"] for r in shown["settings"] if r["setting"] == "format"}
    assert "assess" in formats and "brief" not in formats  # brief has no table: the shared key skips it
