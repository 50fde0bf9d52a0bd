"""The workspace folder: which program files it holds, reading one, checking a text, creating and saving.

Every path comes from :func:`cmcadvisor.workspace.safety.program_path` (a file directly in the
folder, no links, nothing outside). A text is checked with cmcadvisor's one validation (parse,
model, cross-field checks) before anything is written; writing goes through
:mod:`cmcadvisor.workspace.yamledit` (atomic, comments kept, the previous version kept). A failed
check or a refused name writes nothing. This module renders no page and knows no HTTP.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cmcadvisor import api
from cmcadvisor.errors import ErrorItem, UserInputError
from cmcadvisor.loader import Document, parse_text, read_bytes
from cmcadvisor.models.program import ProgramFile
from cmcadvisor.validation import apply_overrides, validate_program
from cmcadvisor.workspace.safety import PROGRAM_SUFFIXES, Refused, program_path

STARTER = Path(__file__).resolve().parent.parent / "starter.yaml"
MAX_PROGRAM_BYTES = 512 * 1024  # a program file the workspace reads or writes
_ID = re.compile(r"[^A-Za-z0-9._-]+")
_FILE = re.compile(r"[^a-z0-9_-]+")


def program_names(root: Path) -> list[str]:
    """The program files directly in ``root`` (YAML, not hidden, not links), sorted by name."""
    names: list[str] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.name.lower().endswith(PROGRAM_SUFFIXES):
            continue
        try:
            program_path(root, entry.name)
        except Refused:
            continue
        names.append(entry.name)
    return names


def read_text(root: Path, name: str) -> str:
    """The text of program file ``name`` (refused names raise :class:`Refused`)."""
    path = program_path(root, name)
    raw = read_bytes(path, limit=MAX_PROGRAM_BYTES)
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Checked:
    """A program text after validation: the program (None when invalid), its parsed data and the problems."""

    text: str
    program: ProgramFile | None
    doc: Document | None
    problems: tuple[ErrorItem, ...] = ()

    @property
    def data(self) -> object:
        """The parsed data (None when the text does not parse)."""
        return None if self.doc is None else self.doc.data


def check_text(text: str, source: str, context: api.Context, overrides: tuple[str, ...] = ()) -> Checked:
    """Validate a program text as the command line would (``source``: the file name shown in messages)."""
    doc: Document | None = None
    try:
        doc = parse_text(text, source, defer=True)
        checked_doc = apply_overrides(doc, overrides)
        program = validate_program(checked_doc, api.rule_lookup(context.pack))
    except UserInputError as exc:
        return Checked(text, None, doc, tuple(exc.items))
    except RecursionError:
        return Checked(text, None, doc, (ErrorItem(source, 1, "", "nesting too deep to read"),))
    return Checked(text, program, checked_doc, ())


def starter_text(program_id: str, name: str) -> str:
    """The commented starter program with its id and name filled in (comments kept)."""
    text = STARTER.read_text(encoding="utf-8")
    safe_id = _ID.sub("-", program_id).strip("-.") or "NEW"
    safe_name = " ".join(name.split()).replace('"', "'") or "New program"
    text = re.sub(r"(?m)^(  id: )STARTER(\s)", lambda m: f"{m.group(1)}{safe_id}{m.group(2)}", text, count=1)
    return re.sub(r"(?m)^(  name: )My CGT program( *)", lambda m: f'{m.group(1)}"{safe_name}"{m.group(2)}', text, count=1)


def new_file_name(root: Path, wanted: str) -> str:
    """A new, unused file name in ``root`` from what the user typed (``car-t.yaml``)."""
    stem = _FILE.sub("-", wanted.strip().lower().removesuffix(".yaml").removesuffix(".yml")).strip("-_") or "program"
    stem = stem[:60]
    name = f"{stem}.yaml"
    counter = 2
    while (root / name).exists() or (root / name).is_symlink():
        name = f"{stem}-{counter}.yaml"
        counter += 1
    return name


def save_text(root: Path, name: str, text: str, context: api.Context, *, create: bool = False) -> None:
    """Validate and write ``text`` as program file ``name``: atomically, the previous version kept (yamledit)."""
    from cmcadvisor.workspace import yamledit

    program_path(root, name, must_exist=not create)
    yamledit.save_text(root, name, text, rules=api.rule_lookup(context.pack), create=create)


def merged_text(original: str, data: dict[str, object], source: str) -> str:
    """The original text with the form's data put in, comments and key order kept where they still apply."""
    from cmcadvisor.workspace import yamledit

    return yamledit.merged_text(original, data, source)
