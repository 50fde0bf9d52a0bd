"""Spreadsheet cells: the one place CSV and XLSX values are made safe.

Every CSV and XLSX writer passes its cells through :func:`neutralise_cell` (text that a
spreadsheet would read as a formula gets a leading apostrophe; numbers stay numbers) and
writes CSV with :func:`csv_text` (a field holding a line break of any kind is quoted, so a
bare carriage return cannot start a new row). This module only formats cell values.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

# What a spreadsheet may read as the start of a formula or a command, ASCII and full-width or small forms.
FORMULA_TRIGGERS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\u2212")
# What a spreadsheet may skip (or an XML writer drop) before the formula starts: controls and spaces.
_BLANKS = "".join(chr(code) for code in range(32)) + "\x7f\u00a0\u2000\u2001\u2002\u2003\u2007\u2009\u200b\u202f\u3000\ufeff"
# Characters XML 1.0 cannot hold (the same set openpyxl refuses).
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def needs_neutralising(text: str) -> bool:
    """Whether ``text`` could be read as a formula: a trigger first after blanks, or a tab or CR first."""
    if text[:1] in ("\t", "\r"):
        return True
    for char in text:
        if char not in _BLANKS and not char.isspace():
            return char in FORMULA_TRIGGERS
    return False


def xlsx_text(value: object) -> str:
    """A workbook text cell: characters XML cannot hold removed first, then neutralised."""
    return neutralise_cell(_XML_ILLEGAL.sub("", "" if value is None else str(value)))


def neutralise_cell(value: object) -> str:
    """A text cell that can never be read as a formula (``None`` is empty)."""
    text = "" if value is None else str(value)
    return "'" + text if needs_neutralising(text) else text


def cell_value(value: object) -> str | int | float:
    """A cell value: numbers (not booleans) kept as numbers, a negative one included; anything else neutralised text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return neutralise_cell(value)


class _QuoteLineBreaks(csv.Dialect):
    """Comma-separated rows ending in LF; a field with a quote, comma or any line break is quoted."""

    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\n"
    quoting = csv.QUOTE_MINIMAL


def _field(value: str | int | float) -> str:
    """One CSV field, quoted (as QUOTE_MINIMAL would, plus a bare CR) when it holds a comma, quote or line break."""
    text = str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """CSV of ``rows`` (the first is the header): every cell neutralised, every line break inside a field quoted.

    Python's ``csv`` quotes only the characters of its line terminator, so a bare CR would pass
    unquoted in rows ending in LF; fields are therefore quoted here, the way ``csv`` quotes the rest.
    """
    lines = []
    for row in rows:
        line = ",".join(_field(cell_value(cell)) for cell in row)
        lines.append((line or '""') + "\n" if len(row) == 1 else line + "\n")  # a lone empty field is not an empty row
    return "".join(lines)


def read_back(text: str) -> list[list[str]]:
    """The cells of a CSV text as a CSV reader sees them (used by tests and checks)."""
    return list(csv.reader(io.StringIO(text, newline=""), _QuoteLineBreaks))
