"""Atomic output files that never replace the user's input.

Output is written to a temporary file in the target folder and moved into place, so a failure
leaves either the old file or the complete new one, never a partial file. Writing over any of
the input files of the run is refused. This module must not render or decide anything.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cmcadvisor.errors import UsageError


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def write_atomic(path: Path, data: str | bytes, *, inputs: Iterable[Path] = (), overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically; refuse to touch an input or, unless allowed, an existing file."""
    for source in inputs:
        if _same(path, source):
            raise UsageError.single(str(path), "refusing to overwrite an input file; choose another --output")
    if not overwrite and path.exists():
        raise UsageError.single(str(path), "already exists; not overwritten (remove it or choose another path)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError.single(str(path), f"folder {folder} does not exist")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        # mkstemp creates 0600 files: give the output the mode a normal write would (or keep the old file's)
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the path appeared meanwhile: never clobber
            except FileExistsError:
                raise UsageError.single(str(path), "already exists; not overwritten") from None
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
