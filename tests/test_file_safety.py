"""File safety: outputs never replace what is not a regular file, generators never delete what they
did not write, template packs never leak a file nor exhaust the machine, and spreadsheet cells are
never formulas (issue 11, points 1, 2, 3, 7, 8 and 9)."""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
import threading
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner
from conftest import ROOT

from cmcadvisor import api, writer
from cmcadvisor.cli import cli
from cmcadvisor.errors import UserInputError
from cmcadvisor.portfolio import ProgramOutcome
from cmcadvisor.render import cells, templating
from cmcadvisor.render.portfolio_formats import portfolio_csv
from cmcadvisor.render.risk_formats import risks_csv, risks_xlsx
from cmcadvisor.render.timeline_formats import timeline_csv

AAV = ROOT / "examples" / "aav-in-vivo.yaml"
TRIGGERS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
BLANKS = " \t\r\n\u3000\u00a0"


def _assess(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(cli, ["assess", str(AAV), "--format", "json", "--as-of", "2026-11-25", *args])


# ------------------------------------------------------------------------------ output writing


def test_output_through_a_symlink_updates_the_target_and_keeps_the_link(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "real" / "report.json"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    result = _assess(runner, "-o", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("{") and link.read_text() == target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]  # no temporary file left


def test_output_through_a_dangling_symlink_creates_its_target(runner: CliRunner, tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "new.json")
    assert _assess(runner, "-o", str(link)).exit_code == 0
    assert link.is_symlink() and (tmp_path / "new.json").read_text().startswith("{")


def test_output_to_a_fifo_is_written_not_replaced(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:  # noqa: PTH123
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    result = _assess(runner, "-o", str(fifo))
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0].startswith(b"{")


def test_output_to_a_character_device_is_written_in_place(runner: CliRunner, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root could replace /dev/null; as another user the old code failed safely too")
    result = _assess(runner, "-o", "/dev/null")
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_writer_writes_devices_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # /dev/null as any user: a character device must be opened and written, never renamed over
    monkeypatch.setattr(writer.os, "replace", _refuse("os.replace"))
    monkeypatch.setattr(writer.tempfile, "mkstemp", _refuse("tempfile.mkstemp"))
    writer.write_atomic(Path("/dev/null"), "data")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def _refuse(name: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{name} must not be used for a device")

    return refuse


def test_stdout_as_a_pipe_is_written_not_replaced() -> None:
    # `-o /dev/stdout | less`: the path is a link to a pipe; the bytes must go down the pipe
    read_end, write_end = os.pipe()
    path = Path(f"/dev/fd/{write_end}")
    try:
        if not path.exists():
            pytest.skip("no /dev/fd on this system")
        before = os.lstat(path)
        writer.write_atomic(path, "printed\n")
        assert os.read(read_end, 100) == b"printed\n"
        assert stat.S_ISLNK(before.st_mode) == stat.S_ISLNK(os.lstat(path).st_mode)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_stdout_appending_to_a_log_keeps_the_log(tmp_path: Path) -> None:
    # `-o /dev/stdout >> run.log`: the log the shell opened is appended to, never replaced
    log = tmp_path / "run.log"
    log.write_text("earlier runs\n")
    with log.open("ab") as handle:
        path = Path(f"/dev/fd/{handle.fileno()}")
        if not path.exists():
            pytest.skip("no /dev/fd on this system")
        inode = log.stat().st_ino
        writer.write_atomic(path, "this run\n")
    assert log.read_text() == "earlier runs\nthis run\n" and log.stat().st_ino == inode


def test_stdout_as_a_deleted_file_is_written_in_place(tmp_path: Path) -> None:
    # `-o /dev/stdout > file` where the file cannot be named (deleted): written in place, nothing created
    out = tmp_path / "captured.txt"
    with out.open("w+b") as handle:
        out.unlink()
        path = Path(f"/dev/fd/{handle.fileno()}")
        if not path.exists():
            pytest.skip("no /dev/fd on this system")
        writer.write_atomic(path, "printed\n")
        handle.seek(0)
        assert handle.read() == b"printed\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["folder", "socket"])
def test_output_onto_a_folder_or_socket_is_refused(runner: CliRunner, tmp_path: Path, kind: str) -> None:
    import socket

    path = tmp_path / "thing"
    sock = None
    if kind == "folder":
        path.mkdir()
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
    try:
        with pytest.raises(UserInputError, match=f"is a {kind}"):
            writer.write_atomic(path, "x")
    finally:
        if sock is not None:
            sock.close()
    assert path.is_dir() if kind == "folder" else stat.S_ISSOCK(os.lstat(path).st_mode)


def test_output_onto_the_input_is_refused_through_a_link(runner: CliRunner, tmp_path: Path) -> None:
    program = tmp_path / "program.yaml"
    program.write_bytes(AAV.read_bytes())
    link = tmp_path / "out.json"
    link.symlink_to(program)
    hard = tmp_path / "hard.json"
    os.link(program, hard)
    for out in (program, link, hard):
        result = runner.invoke(cli, ["assess", str(program), "--format", "json", "-o", str(out)])
        assert result.exit_code == 2 and "refusing to overwrite an input file" in result.output
    assert program.read_bytes() == AAV.read_bytes() and link.is_symlink()


def test_read_only_folder_is_exit_2_naming_the_path(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permissions do not apply (see the simulated cases)")
        result = _assess(runner, "-o", str(folder / "x.json"))
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 2, result.output
    assert f"{folder / 'x.json'}: cannot write: Permission denied" in result.output


def test_path_under_a_file_is_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = _assess(runner, "-o", str(tmp_path / "file" / "x.json"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{tmp_path / 'file' / 'x.json'}: cannot write: Not a directory" in result.output


@pytest.mark.parametrize("failing", ["mkstemp", "replace"])
def test_read_only_file_system_is_exit_2_naming_the_path(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    def erofs(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    if failing == "mkstemp":
        monkeypatch.setattr(writer.tempfile, "mkstemp", erofs)
    else:
        monkeypatch.setattr(writer.os, "replace", erofs)
    out = tmp_path / "x.html"
    result = _assess(runner, "-o", str(out))
    assert result.exit_code == 2, result.output
    assert f"{out}: cannot write: Read-only file system" in result.output
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


# ------------------------------------------------------------------------------ generated docs


def test_rules_docs_never_deletes_a_users_file(runner: CliRunner, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "meeting-minutes.md").write_text("# Minutes\n")
    result = runner.invoke(cli, ["rules", "docs", "--output", str(notes)])
    assert result.exit_code == 2
    assert str(notes) in result.output and "meeting-minutes.md" in result.output
    assert [p.name for p in notes.iterdir()] == ["meeting-minutes.md"]
    assert (notes / "meeting-minutes.md").read_text() == "# Minutes\n"


def test_rules_docs_removes_only_what_its_manifest_lists(runner: CliRunner, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    assert runner.invoke(cli, ["rules", "docs", "--output", str(docs)]).exit_code == 0
    manifest = (docs / writer.MANIFEST).read_text().splitlines()
    assert "index.md" in manifest and len([p for p in docs.iterdir() if p.suffix == ".md"]) == len(manifest) - 1
    # a page that the manifest lists but no rule produces any more is stale and removed;
    # the user's own page, added later and not listed, stays
    (docs / "OLD-RULE-001.md").write_text("gone\n")
    (docs / writer.MANIFEST).write_text((docs / writer.MANIFEST).read_text() + "OLD-RULE-001.md\n../escape.md\n")
    (docs / "my-notes.md").write_text("mine\n")
    (tmp_path / "escape.md").write_text("outside\n")
    check = runner.invoke(cli, ["rules", "docs", "--check", "--output", str(docs)])
    assert check.exit_code == 1 and "OLD-RULE-001.md" in check.output and "my-notes.md" not in check.output
    result = runner.invoke(cli, ["rules", "docs", "--output", str(docs)])
    assert result.exit_code == 0, result.output
    assert not (docs / "OLD-RULE-001.md").exists()
    assert (docs / "my-notes.md").read_text() == "mine\n" and (tmp_path / "escape.md").exists()
    assert runner.invoke(cli, ["rules", "docs", "--check", "--output", str(docs)]).exit_code == 0


def test_rules_docs_adopts_a_folder_holding_only_its_own_pages(runner: CliRunner, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("an old index\n")
    assert runner.invoke(cli, ["rules", "docs", "--output", str(docs)]).exit_code == 0
    assert (docs / writer.MANIFEST).is_file() and (docs / "index.md").read_text() != "an old index\n"


def test_the_repository_docs_folder_has_its_manifest() -> None:
    assert writer.read_manifest(ROOT / "docs" / "rules")


# ------------------------------------------------------------------------------ template packs


def _pack(tmp_path: Path, template: str, name: str = "assessment.md.j2") -> Path:
    pack = tmp_path / "pack"
    pack.mkdir(exist_ok=True)
    (pack / name).write_text(template)
    return pack


def _render_pack(runner: CliRunner, pack: Path, fmt: str = "markdown") -> Any:
    return runner.invoke(
        cli, ["assess", str(AAV), "--format", fmt, "--as-of", "2026-11-25", "--templates", str(pack)], catch_exceptions=False
    )


def test_template_pack_link_out_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET\n")
    pack = _pack(tmp_path, "Report\n{% include 'leak.txt' %}\n")
    (pack / "leak.txt").symlink_to(secret)
    result = _render_pack(runner, pack)
    assert result.exit_code == 2 and "SECRET" not in result.output
    assert f"{pack / 'assessment.md.j2'}:2:" in result.output and "leak.txt" in result.output
    assert "outside the template folder" in result.output


def test_template_pack_linked_folder_and_top_template_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "assessment.md.j2").write_text("SECRET {{ result.program.name }}\n")
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "sub").symlink_to(outside)
    (pack / "assessment.md.j2").write_text("{% include 'sub/assessment.md.j2' %}\n")
    result = _render_pack(runner, pack)
    assert result.exit_code == 2 and "SECRET" not in result.output
    (pack / "assessment.md.j2").unlink()
    (pack / "assessment.md.j2").symlink_to(outside / "assessment.md.j2")
    result = _render_pack(runner, pack)
    assert result.exit_code == 2 and "SECRET" not in result.output and "assessment.md.j2" in result.output


def test_template_pack_fifo_is_refused_without_blocking(runner: CliRunner, tmp_path: Path) -> None:
    pack = _pack(tmp_path, "{% include 'pipe.j2' %}\n")
    os.mkfifo(pack / "pipe.j2")
    result = _render_pack(runner, pack)
    assert result.exit_code == 2 and "not a regular file" in result.output


def test_template_pack_link_inside_the_pack_is_allowed(runner: CliRunner, tmp_path: Path) -> None:
    pack = _pack(tmp_path, "Name: {{ result.program.name }}\n", name="real.j2")
    (pack / "assessment.md.j2").symlink_to(pack / "real.j2")
    result = _render_pack(runner, pack)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Name: ")


BOMBS = {
    "range": "{{ range(10**9) | length }}",
    "repeat": "{{ 'x' * 10**10 }}",
    "repeat list": "{{ ([1] * 10**9) | length }}",
    "center": "{{ 'x' | center(3*10**9) }}",
    "method": "{{ 'x'.ljust(10**9) }}",
    "percent": "{{ '%999999999s' % 'x' }}",
    "format filter": "{{ '%0999999999d' | format(1) }}",
    "str.format": "{{ '{:>999999999}'.format('x') }}",
    "indent": "{{ ('x\\n' * 100000) | indent(5000) }}",
    "power": "{{ 7 ** 999999 }}",
    "nested loops": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "loops over a string": "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "macro recursion": "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "include recursion": "{% include 'assessment.md.j2' %}",
    "doubling concat": "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "shared lists": "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
    "macro output": "{% macro m() %}{% for i in range(99999) %}{{ 'y' * 999 }}{% endfor %}{% endmacro %}{% set x = m() %}",
    "join": "{{ range(100000) | join('x' * 1000) }}",
    "join method": "{{ ('x' * 1000).join(range(100000)) }}",
    "replace": "{{ ('x' * 900000) | replace('x', 'yyyyyyyyyy') }}",
    "lipsum": "{{ lipsum(10**7) }}",
    "growing list": "{% set l = [0] %}{% for i in range(40) %}{% set _ = l.extend(l) %}{% endfor %}",
    "nested appends": "{% set ns = namespace(l=[]) %}{% for i in range(64) %}{% set new = [] %}"
    "{% set _ = new.append(ns.l) %}{% set _ = new.append(ns.l) %}{% set ns.l = new %}{% endfor %}{{ ns.l ~ '' }}",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_template_resource_bombs_stop_with_file_and_line(runner: CliRunner, tmp_path: Path, name: str) -> None:
    pack = _pack(tmp_path, "# Report\n" + BOMBS[name] + "\n")
    result = _render_pack(runner, pack)
    assert result.exit_code == 2, result.output
    assert f"{pack / 'assessment.md.j2'}:" in result.output and "template stopped" in result.output, result.output
    assert "internal error" not in result.output


def test_wall_clock_budget_stops_a_render(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templating, "MAX_SECONDS", -1.0)
    pack = _pack(tmp_path, "# Report\n{% for i in range(5000) %}{{ i }}{% endfor %}\n")
    result = _render_pack(runner, pack)
    assert result.exit_code == 2 and "took longer than" in result.output and ":2:" in result.output


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("line one\n{% for %}\n", "template error"),
        ("line one\n{{ no_such_value }}\n", "'no_such_value' is undefined"),
        ("line one\n{{ result.program.__class__ }}\n", "template error"),
        ("line one\n{{ result.model_dump() }}\n", "unsafe"),
        ("line one\n{{ result.parse_file('/etc/passwd') }}\n", "unsafe"),
        ("line one\n{{ 1 / 0 }}\n", "ZeroDivisionError"),
    ],
)
def test_template_errors_are_exit_2_with_file_and_line(runner: CliRunner, tmp_path: Path, template: str, message: str) -> None:
    pack = _pack(tmp_path, template)
    result = _render_pack(runner, pack)
    assert result.exit_code == 2, result.output
    assert f"{pack / 'assessment.md.j2'}:2:" in result.output and message in result.output, result.output


def test_an_ordinary_pack_template_still_renders(runner: CliRunner, tmp_path: Path) -> None:
    template = (
        "# {{ result.program.name }}\n"
        "{% for f in result.findings[:3] %}- {{ f.title | truncate(60) }} {{ '%-5s' | format(f.severity) }}\n{% endfor %}"
        "{% set ns = namespace(n=0) %}{% for f in result.findings %}{% set ns.n = ns.n + 1 %}{% endfor %}"
        "{{ ns.n }} findings; {{ ['a', 'b'] | join('-') }}; {{ 'x' * 3 }}; {{ '{:>4}'.format(7) }}\n"
    )
    result = _render_pack(runner, _pack(tmp_path, template))
    assert result.exit_code == 0, result.output
    assert " findings; a-b; xxx;    7" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["assess", "--format", "markdown"],
        ["assess", "--format", "html"],
        ["risks", "--format", "html"],
        ["brief", "--meeting", "eop2", "--format", "markdown"],
        ["brief", "--meeting", "eop2", "--format", "html"],
    ],
)
def test_packaged_templates_render_the_same_through_the_bounded_sandbox(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    """The bounds change nothing for a real report: packaged templates rendered as if from a pack are byte-identical."""
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [command[0], str(ROOT / "examples" / "car-t-autologous.yaml"), *command[1:], "--as-of", "2026-11-25"]
    plain = runner.invoke(cli, args)
    bounded = runner.invoke(cli, [*args, "--templates", str(empty)])
    assert plain.exit_code == 0, plain.output
    assert bounded.exit_code == 0, bounded.output
    assert bounded.output == plain.output


# ------------------------------------------------------------------------------ spreadsheet cells

HOSTILE = [
    "Acme\r=cmd|' /C calc'!A0",
    " =1+1",
    "\n=cmd",
    "\t=cmd",
    "\r+1",
    "\uff1dcmd|' /C calc'!A0",
    "  \uff0b1",
    "\u3000\uff20SUM(A1)",
    "\uff0d2",
    "@SUM(A1)",
    "-2+3",
    "\x00=cmd",
    " \x00\u2003=cmd",
    "a,b\r\nc",
]


def _first_non_blank(text: str) -> str:
    return next((c for c in text if not (c.isspace() or ord(c) < 32 or c in BLANKS or c == "\ufeff")), "")


def _assert_inert(rows: list[list[str]], numeric: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    for row in rows:
        for cell in row:
            if cell in numeric:
                continue
            assert _first_non_blank(cell) not in TRIGGERS, f"formula cell {cell!r} in {row!r}"
            assert not cell.startswith(("\t", "\r")), cell


def test_csv_quotes_every_line_break_and_neutralises_every_trigger() -> None:
    text = cells.csv_text([["name", "n"], *([value, -5] for value in HOSTILE)])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == len(HOSTILE) + 1 and all(len(row) == 2 for row in rows)
    _assert_inert(rows, numeric={"-5"})
    assert [row[1] for row in rows[1:]] == ["-5"] * len(HOSTILE)  # numbers stay numbers
    assert rows[1][0] == "Acme\r=cmd|' /C calc'!A0"  # quoted, so one cell, one row
    assert '"Acme\r=cmd' in text


def test_every_csv_writer_uses_the_shared_helper() -> None:
    result = api.assess_file(ROOT / "examples" / "car-t-autologous.yaml", api.Options())
    risk = result.risks[0].model_copy(update={"title": HOSTILE[0], "cause": HOSTILE[5], "mitigation": HOSTILE[1]})
    activity = result.timeline.activities[0].model_copy(update={"name": HOSTILE[2]})
    timeline = result.timeline.model_copy(update={"activities": [activity, *result.timeline.activities[1:]]})
    outcome = ProgramOutcome(file=HOSTILE[6], ok=False, errors=(HOSTILE[0], HOSTILE[7]))
    for text in (risks_csv([risk]), timeline_csv(timeline), portfolio_csv([outcome])):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len({len(row) for row in rows}) == 1, "a line break split a row"
        numeric = {cell for row in rows for cell in row if cell.lstrip("-").isdigit()}
        _assert_inert(rows, numeric)


def test_xlsx_cells_are_neutralised_and_numbers_stay_numbers() -> None:
    result = api.assess_file(ROOT / "examples" / "car-t-autologous.yaml", api.Options())
    risks = [result.risks[0].model_copy(update={"title": value, "cause": value, "owner": value}) for value in HOSTILE]
    workbook = openpyxl.load_workbook(io.BytesIO(risks_xlsx(risks, HOSTILE[5], as_of=result.as_of)))
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert cell.data_type != "f" and _first_non_blank(cell.value) not in TRIGGERS, cell.value
    register = workbook["Register"]
    numbers = [c.value for c in next(register.iter_cols(min_row=2)) if c.value is not None]
    assert numbers  # the register has rows
    assert any(isinstance(c.value, int) for row in register.iter_rows(min_row=2) for c in row)


def test_only_the_cell_helper_writes_csv() -> None:
    """One helper for every CSV: no other module may import the csv module (its writer lets a bare CR through)."""
    import ast

    for path in (ROOT / "cmcadvisor").rglob("*.py"):
        if path.name == "cells.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert "csv" not in names, f"{path}:{node.lineno}: write CSV with cmcadvisor.render.cells.csv_text"


def test_cell_helpers_keep_numbers_and_neutralise_text() -> None:
    assert cells.cell_value(-5) == -5 and cells.cell_value(-2.5) == -2.5
    assert cells.cell_value("-5") == "'-5"  # text that looks like a formula start stays text
    assert cells.cell_value(True) == "True"
    assert cells.xlsx_text("\x00=cmd") == "'=cmd"  # removing XML-illegal characters cannot expose a formula
    assert cells.neutralise_cell(None) == "" and cells.neutralise_cell("plain") == "plain"


def test_a_full_stdout_is_exit_2_not_a_crash(tmp_path: Path) -> None:
    import subprocess
    import sys

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:  # noqa: PTH123
        done = subprocess.run(
            [sys.executable, "-m", "cmcadvisor", "assess", str(AAV), "--format", "json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
    assert done.returncode == 2, done.stderr
    assert "<stdout>: cannot write: No space left on device" in done.stderr
