"""Several outputs from one run: what ``--output`` asks for, and writing every file atomically.

``--output`` takes ``FORMAT:PATH`` (repeatable: one file per format) or a plain ``PATH`` (the
older form: the ``--format`` output goes there instead of to standard output). ``-`` as the
path means standard output. Standard output keeps the ``--format`` view unless a plain path
takes its place or one output is ``-``. All outputs are rendered before any file is written,
and each file is written atomically (:func:`cmcadvisor.writer.write_atomic`). This module does
not render, parse command lines (click) or print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cmcadvisor.errors import UsageError
from cmcadvisor.writer import write_atomic


@dataclass(frozen=True)
class Target:
    """One output: a format and where it goes (``path`` None: standard output)."""

    fmt: str
    path: Path | None


@dataclass(frozen=True)
class Plan:
    """Every output of one run: ``stdout`` (None: nothing on standard output) and the files."""

    stdout: str | None
    files: tuple[Target, ...]

    @property
    def targets(self) -> tuple[Target, ...]:
        """Standard output (when used) first, then the files in the order given."""
        return ((Target(self.stdout, None),) if self.stdout else ()) + self.files


def split(value: str, formats: Sequence[str]) -> tuple[str | None, str]:
    """``FORMAT:PATH`` as (FORMAT, PATH) when FORMAT is one of ``formats``; anything else is (None, a plain PATH)."""
    head, sep, tail = value.partition(":")
    return (head, tail) if sep and head in formats else (None, value)


def plan(values: Sequence[str], default_fmt: str, formats: Sequence[str]) -> Plan:
    """Read the ``--output`` values of a command whose formats are ``formats``.

    ``json:report.json`` writes JSON there; ``report.json`` writes the ``--format`` output there
    (and nothing to standard output); ``-`` or ``json:-`` sends that format to standard output
    in place of the ``--format`` view. A file whose name starts with a format and a colon is
    written as ``./json:name``.
    """
    files: list[Target] = []
    stdout: list[str] = []
    plain: list[str] = []
    for value in values:
        named, where = split(value, formats)
        if named is not None:
            fmt = named
            if not where:
                raise UsageError.single("--output", f"{value!r}: give a path after '{named}:' (or '-' for standard output)")
        else:
            fmt = default_fmt
            if not where:
                raise UsageError.single("--output", "an empty path; give FORMAT:PATH or PATH")
            plain.append(where)
        if where == "-":
            stdout.append(fmt)
        else:
            files.append(Target(fmt, Path(where)))
    if len(stdout) > 1:
        raise UsageError.single("--output", "standard output ('-') can take only one of the outputs")
    if len(plain) > 1:
        raise UsageError.single("--output", "only one plain PATH (for the --format output); give the others as FORMAT:PATH")
    seen: dict[Path, str] = {}
    for target in files:
        key = Path(str(target.path)).expanduser()
        if key in seen:
            raise UsageError.single("--output", f"{target.path} is named twice ({seen[key]} and {target.fmt})")
        seen[key] = target.fmt
    if stdout:
        out: str | None = stdout[0]
    elif plain:
        out = None  # a plain PATH takes the place of standard output (the older -o PATH)
    else:
        out = default_fmt
    return Plan(out, tuple(files))


def write_files(rendered: Sequence[tuple[Path, str | bytes]], inputs: Sequence[Path]) -> None:
    """Write every rendered output atomically (never over an input file)."""
    for path, data in rendered:
        write_atomic(path, data, inputs=list(inputs))
