"""A portfolio run as a table, CSV, JSON, JSON Lines or one HTML page. Only formats.

JSON, JSON Lines and CSV stream: :class:`PortfolioStream` gives the bytes to write before the
first program, for each program as it arrives, and after the last, so a run of any size holds
one program at a time. A program's JSON is made by pydantic's native serializer from the full
result, inside the worker that assessed it (:func:`program_renderer`); the JSON document is
``{"schema_version", "programs": [...], "count", "failed"}`` with two-space indentation, and
each JSON Lines line is one entry of ``programs``, compact. The table and the HTML page need
every row before they can lay out the first one, so they keep the summaries (never the results)
and render at the end. CSV cells are neutralised against spreadsheet formulas; HTML is
autoescaped. This module never assesses anything.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import pydantic_core

from cmcadvisor import display
from cmcadvisor.portfolio import ProgramOutcome, Render, Tally
from cmcadvisor.render.cells import csv_text

SEVERITIES = ("critical", "high", "medium", "low")
FORMATS = ("table", "json", "jsonl", "csv", "html")
STREAMED = frozenset({"json", "jsonl", "csv"})  # formats written program by program
_NEEDS_RESULT = frozenset({"json", "jsonl"})  # formats made from the full result, in the worker
_CSV_HEADER = ["file", "ok", "program", "name", *SEVERITIES, "make_or_buy", "late", "pathways", "errors"]
_JSON_OPEN, _JSON_CLOSE = b'{\n  "programs": [\n', b"\n  ]\n}"  # around an entry of "programs", two levels deep


def _pathways(summary: Mapping[str, object]) -> str:
    pathways = summary.get("pathways")
    assert isinstance(pathways, dict)
    granted = sorted(p for p, s in pathways.items() if s == "granted")
    eligible = sorted(p for p, s in pathways.items() if s == "eligible")
    return f"granted: {', '.join(granted) or '-'}; eligible: {', '.join(eligible) or '-'}"


def _pathway_labels(summary: Mapping[str, object]) -> str:
    """Granted and eligible pathways in words, for the table."""
    pathways = summary.get("pathways")
    assert isinstance(pathways, dict)
    granted = [display.term(p) for p, s in sorted(pathways.items()) if s == "granted"]
    eligible = [display.term(p) for p, s in sorted(pathways.items()) if s == "eligible"]
    return f"granted: {', '.join(granted) or '-'}; eligible: {', '.join(eligible) or '-'}"


# ------------------------------------------------------------------ one program's bytes


def _entry(outcome: ProgramOutcome) -> dict[str, Any]:
    return {
        "file": outcome.file,
        "ok": outcome.ok,
        "errors": list(outcome.errors),
        "summary": outcome.summary,
        "result": outcome.result,  # the model itself: pydantic serialises it natively
    }


def json_entry(outcome: ProgramOutcome) -> bytes:
    """One program as an entry of the JSON document's ``programs`` list (indented to sit there)."""
    # Serialised where it sits, inside {"programs": [...]}, then cut out: the serializer indents
    # every line itself, with no second pass over the (large) bytes to shift each line.
    nested = pydantic_core.to_json({"programs": [_entry(outcome)]}, indent=2)
    assert nested.startswith(_JSON_OPEN) and nested.endswith(_JSON_CLOSE)
    return nested[len(_JSON_OPEN) : -len(_JSON_CLOSE)]


def jsonl_line(outcome: ProgramOutcome) -> bytes:
    """One program as a line of JSON Lines."""
    return pydantic_core.to_json(_entry(outcome)) + b"\n"


_PROGRAM_BYTES: dict[str, Callable[[ProgramOutcome], bytes]] = {"json": json_entry, "jsonl": jsonl_line}


def _render_program(formats: tuple[str, ...], outcome: ProgramOutcome) -> dict[str, bytes]:
    return {fmt: _PROGRAM_BYTES[fmt](outcome) for fmt in formats}


def program_renderer(formats: Iterable[str]) -> Render | None:
    """What a worker makes from each full result for these output formats (None when no format needs the result)."""
    chosen = tuple(sorted(set(formats) & _NEEDS_RESULT))
    return functools.partial(_render_program, chosen) if chosen else None


def _program_bytes(fmt: str, outcome: ProgramOutcome) -> bytes:
    """This program's bytes in ``fmt``: as the worker made them, or made here (a failed file, a kept result)."""
    made = outcome.rendered.get(fmt)
    return made if made is not None else _PROGRAM_BYTES[fmt](outcome)


def csv_row(outcome: ProgramOutcome) -> list[object]:
    """One CSV row (cells not yet neutralised)."""
    s = outcome.summary or {}
    counts = s.get("open_findings") or {}
    assert isinstance(counts, dict)
    return [
        outcome.file,
        "yes" if outcome.ok else "no",
        s.get("program", ""),
        s.get("name", ""),
        *(counts.get(sev, "") for sev in SEVERITIES),
        s.get("make_or_buy", ""),
        " ".join(s.get("late", []) or []),
        _pathways(s) if s else "",
        " | ".join(outcome.errors),
    ]


# ------------------------------------------------------------------ streams


class PortfolioStream:
    """One output format of a portfolio run, written piece by piece: :meth:`head`, :meth:`add` per program, :meth:`tail`."""

    def __init__(self, fmt: str, *, color: bool = False, width: int = 120, templates: str | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown portfolio format {fmt!r}")
        self.fmt, self.color, self.width, self.templates = fmt, color, width, templates
        self._count = 0
        self._kept: list[ProgramOutcome] = []  # the HTML page: what it shows of each summary, never results
        self._rows: list[tuple[tuple[str, ...], bool]] = []  # the table: each row's cells, and whether it failed

    def head(self) -> bytes:
        """What comes before the first program."""
        if self.fmt == "json":
            return b'{\n  "schema_version": 1,\n  "programs": ['
        if self.fmt == "csv":
            return csv_text([_CSV_HEADER]).encode("utf-8")
        return b""

    def add(self, outcome: ProgramOutcome) -> bytes:
        """This program's bytes (nothing yet for the table and the HTML page, which lay out all rows at the end)."""
        self._count += 1
        if self.fmt == "json":
            return (b"\n" if self._count == 1 else b",\n") + _program_bytes("json", outcome)
        if self.fmt == "jsonl":
            return _program_bytes("jsonl", outcome)
        if self.fmt == "csv":
            return csv_text([csv_row(outcome)]).encode("utf-8")
        if self.fmt == "table":
            self._rows.append(_table_row(outcome))
        else:
            self._kept.append(ProgramOutcome(outcome.file, outcome.ok, outcome.errors, _page_summary(outcome.summary)))
        return b""

    def tail(self, tally: Tally) -> bytes:
        """What comes after the last program."""
        if self.fmt == "json":
            close = b"\n  ]" if self._count else b"]"
            return close + f',\n  "count": {tally.count},\n  "failed": {tally.failed}\n}}\n'.encode()
        if self.fmt in ("table", "html"):
            return b"".join(self.tail_pieces(tally))
        return b""

    def tail_pieces(self, tally: Tally) -> Iterator[bytes]:
        """:meth:`tail` in pieces: the table and the page are laid out and written a block of rows at a time."""
        if self.fmt == "table":
            for text in _table_pieces(self._rows, color=self.color, width=self.width):
                yield text.encode("utf-8")
        elif self.fmt == "html":
            yield from _html_pieces(self._kept, self.templates)
        else:
            yield self.tail(tally)


def _page_summary(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the HTML page shows of a summary (pathways granted or eligible only): less to keep until the end."""
    if summary is None:
        return None
    shown = {key: summary[key] for key in ("program", "name", "open_findings", "make_or_buy", "late")}
    shown["pathways"] = {p: st for p, st in summary["pathways"].items() if st in ("granted", "eligible")}
    return shown


def _html_pieces(outcomes: Sequence[ProgramOutcome], templates: str | None) -> Iterator[bytes]:
    """The page, in blocks of about 64 KB (the packaged template streams; a --templates one is rendered whole)."""
    if templates is not None:
        yield portfolio_html(outcomes, templates).encode("utf-8")
        return
    from cmcadvisor.render.templating import html_environment

    template = html_environment(None).get_template("portfolio.html.j2")
    block: list[str] = []
    size = 0
    for piece in template.generate(outcomes=outcomes, severities=SEVERITIES):
        block.append(piece)
        size += len(piece)
        if size >= 65536:
            yield "".join(block).encode("utf-8")
            block, size = [], 0
    yield "".join(block).encode("utf-8")


def write_streams(outcomes: Iterable[ProgramOutcome], sinks: Sequence[tuple[PortfolioStream, Callable[[bytes], None]]]) -> Tally:
    """Write every outcome to every (stream, writer) pair as it arrives; the tally of the run."""
    tally = Tally()
    for stream, write in sinks:
        write(stream.head())
    for outcome in tally.watch(outcomes):
        for stream, write in sinks:
            piece = stream.add(outcome)
            if piece:
                write(piece)
            del piece
        del outcome  # neither is kept while the next program is assessed (see portfolio.run)
    for stream, write in sinks:
        for piece in stream.tail_pieces(tally):
            write(piece)
    return tally


def _whole(fmt: str, outcomes: Sequence[ProgramOutcome], **options: Any) -> str:
    chunks: list[bytes] = []
    write_streams(outcomes, [(PortfolioStream(fmt, **options), chunks.append)])
    return b"".join(chunks).decode("utf-8")


# ------------------------------------------------------------------ whole documents


def portfolio_json(outcomes: Sequence[ProgramOutcome]) -> str:
    """Every program: file, ok, errors, summary and (when kept) the full result."""
    return _whole("json", outcomes)


def portfolio_jsonl(outcomes: Sequence[ProgramOutcome]) -> str:
    """One JSON line per program."""
    return _whole("jsonl", outcomes)


def portfolio_csv(outcomes: Sequence[ProgramOutcome]) -> str:
    """One row per program."""
    return csv_text([_CSV_HEADER, *(csv_row(o) for o in outcomes)])


def portfolio_table(outcomes: Sequence[ProgramOutcome], *, color: bool = False, width: int = 120) -> str:
    """A terminal summary table."""
    return "".join(_table_pieces([_table_row(o) for o in outcomes], color=color, width=width))


_TABLE_COLUMNS = ("program", "crit", "high", "med", "low", "make/buy", "late", "pathways")
_TABLE_BLOCK = 200  # rows laid out at a time: rich holds every line of a table it lays out


def _table_row(outcome: ProgramOutcome) -> tuple[tuple[str, ...], bool]:
    """The cells of one row, and whether the file failed."""
    s = outcome.summary
    if not outcome.ok or s is None:
        return (outcome.file, "error", "", "", "", "", "", " | ".join(outcome.errors)), True
    counts = s["open_findings"]
    return (
        f"{s['program']} ({outcome.file})",
        *(str(counts[sev]) for sev in SEVERITIES),
        display.term(str(s["make_or_buy"])),
        str(len(s["late"])),
        _pathway_labels(s),
    ), False


def _table_pieces(rows: Sequence[tuple[tuple[str, ...], bool]], *, color: bool, width: int) -> Iterator[str]:
    """The table a block of rows at a time, every block with the same column widths, then the failure line.

    The columns between the two wide ones get the width of their longest cell over all rows, so
    the wide columns (which share what is left) come out the same in every block, and the blocks
    read as one table.
    """
    from rich import box
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    fixed = {
        index: max([cell_len(_TABLE_COLUMNS[index]), *(cell_len(cells[index]) for cells, _ in rows)])
        for index in range(1, len(_TABLE_COLUMNS) - 1)
    }
    starts = range(0, max(len(rows), 1), _TABLE_BLOCK)
    for number, start in enumerate(starts):
        buffer = io.StringIO()
        console = Console(
            file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False
        )
        first, last = number == 0, number == len(starts) - 1
        title = f"Portfolio: {display.plural(len(rows), 'program')}" if first else None
        table = Table(title=title, box=box.SIMPLE, expand=True, show_header=first)
        for index, column in enumerate(_TABLE_COLUMNS):
            table.add_column(column, ratio=2 if index not in fixed else None, width=fixed.get(index))
        for cells, failed in rows[start : start + _TABLE_BLOCK]:
            styled = [Text(cell) for cell in cells]
            if failed:
                styled[1] = Text(cells[1], style="bold red")
            table.add_row(*styled)
        console.print(table)
        lines = buffer.getvalue().splitlines(keepends=True)
        if not first and lines and not lines[0].strip():
            lines = lines[1:]  # the blank top edge: this block continues the one before
        if not last and lines and not lines[-1].strip():
            lines = lines[:-1]  # the blank bottom edge: the next block continues it
        yield "".join(lines)
    failed_files = sum(1 for _, failed_row in rows if failed_row)
    if failed_files:
        buffer = io.StringIO()
        console = Console(
            file=buffer, width=width, color_system="standard" if color else None, force_terminal=color, highlight=False
        )
        failures = display.plural(failed_files, "file")
        console.print(Text(f"{failures} failed; their errors are listed above.", style="bold red" if color else ""))
        yield buffer.getvalue()


def portfolio_html(outcomes: Sequence[ProgramOutcome], templates: str | None = None) -> str:
    """One self-contained page."""
    from cmcadvisor.render.templating import render_html_template

    return render_html_template("portfolio.html.j2", templates, outcomes=outcomes, severities=SEVERITIES)
