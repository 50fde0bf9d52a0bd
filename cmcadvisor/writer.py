"""Output files that never replace the user's input, a device, a pipe or a link.

A regular file is written to a temporary file in its folder and moved into place, so a failure
leaves either the old file or the complete new one, never a partial file. A symbolic link is
written through: its target is replaced and the link kept. A character device or a FIFO
(``-o /dev/stdout``, ``-o /dev/null``, a named pipe) is written directly, never replaced; any
other kind of file (a folder, a socket, a block device) is refused. Writing over any of the input
files of the run is refused, and every operating-system failure becomes a usage error naming the
path and the reason. This module must not render or decide anything.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from cmcadvisor.errors import UsageError, UserInputError


def _same(a: Path, b: Path) -> bool:
    """Whether two paths lead to the same file (through links, hard links included)."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _is_descriptor(path: Path) -> bool:
    """Whether ``path`` leads, through its links, to an open file descriptor (/dev/stdout, /dev/fd/N)."""
    hop = str(path)
    for _ in range(40):
        if re.fullmatch(r"/proc/[^/]+/fd", os.path.realpath(os.path.dirname(os.path.abspath(hop)))):
            return True
        if not os.path.islink(hop):
            return False
        hop = os.path.join(os.path.dirname(hop), os.readlink(hop))
    return False


def _names(target: Path, found: os.stat_result) -> bool:
    """Whether ``target`` is a path to the file ``found`` (not so for /dev/stdout opened on a deleted file)."""
    try:
        info = os.stat(target)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (found.st_dev, found.st_ino)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _cannot_write(path: Path, exc: OSError) -> UserInputError:
    return UsageError.single(str(path), f"cannot write: {exc.strerror or exc}")


def _write_all(handle: BinaryIO, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = handle.write(view)
        view = view[written or 0 :]


def _stat(path: Path) -> os.stat_result | None:
    """The file ``path`` leads to (links followed), or None when there is none yet."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a link loop, a file used as a folder, no permission
        raise _cannot_write(path, exc) from None


def write_atomic(path: Path, data: str | bytes, *, inputs: Iterable[Path] = (), overwrite: bool = True) -> None:
    """Write ``data`` to ``path``: atomically for files, in place for devices and pipes, through links.

    Refuses to touch an input file of the run, a folder, a socket or a block device and, unless
    ``overwrite``, an existing regular file. Every failure is a :class:`UsageError` (exit 2).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with open_output(path, inputs=inputs, overwrite=overwrite) as write:
        write(payload)


@contextlib.contextmanager
def open_output(path: Path, *, inputs: Iterable[Path] = (), overwrite: bool = True) -> Iterator[Callable[[bytes], None]]:
    """Write to ``path`` piece by piece, as :func:`write_atomic` does at once: yields the function that writes a piece.

    A regular file appears complete when the block ends without an error, and not at all (the
    old file kept) when it ends with one; a device or a pipe receives each piece as it is written.
    """
    for source in inputs:
        if _same(path, source):
            raise UsageError.single(str(path), "refusing to overwrite an input file; choose another --output")
    found = _stat(path)
    in_place = False
    if found is not None and not stat.S_ISREG(found.st_mode):
        if not (stat.S_ISCHR(found.st_mode) or stat.S_ISFIFO(found.st_mode)):
            raise UsageError.single(str(path), f"is {_kind(found.st_mode)}; give a file path to write")
        in_place = True
    target = Path(os.path.realpath(path))  # through links: the link stays, its target is replaced
    if found is not None and (in_place or _is_descriptor(path) or not _names(target, found)):
        # a device, a FIFO, or /dev/stdout, /dev/fd/N: a file the shell opened (maybe with >>); write into it, never replace it
        # (appending never truncates what a shell redirection set up; opening a FIFO waits for its reader)
        try:
            with open(path, "ab", buffering=0) as handle:  # noqa: PTH123 - opened in place, never replaced
                yield functools.partial(_guarded_write, handle, path)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        return
    if not overwrite and found is not None:
        raise UsageError.single(str(path), "already exists; not overwritten (remove it or choose another path)")
    folder = target.parent
    if not folder.is_dir():
        raise UsageError.single(str(path), f"folder {path.parent if str(path.parent) else Path('.')} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        # mkstemp creates 0600 files: give the output the mode a normal write would (or keep the old file's)
        if found is not None:
            mode = found.st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            yield functools.partial(_guarded_write, handle, path)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the path appeared meanwhile: never clobber
            except FileExistsError:
                raise UsageError.single(str(path), "already exists; not overwritten") from None
            os.unlink(tmp)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _cannot_write(path, exc) from None
        raise


def _guarded_write(handle: BinaryIO, path: Path, payload: bytes) -> None:
    try:
        _write_all(handle, payload)
    except OSError as exc:
        raise _cannot_write(path, exc) from None


# ------------------------------------------------------------------------- generated folders

MANIFEST = ".cmcadvisor-docs-manifest"
_MANIFEST_HEAD = "# Files written by `cmcadvisor rules docs`; only these are ever updated or removed by it.\n"


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..", MANIFEST) and "/" not in name and "\\" not in name and "\0" not in name


def manifest_text(names: Iterable[str]) -> str:
    """The manifest of a generated folder: a comment line, then one file name per line, sorted."""
    return _MANIFEST_HEAD + "".join(f"{name}\n" for name in sorted(set(names)))


def read_manifest(folder: Path) -> frozenset[str] | None:
    """The file names a generator recorded in ``folder``, or None when the folder has no manifest."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError.single(str(path), f"cannot read the manifest: {exc}") from None
    return frozenset(line for line in lines if not line.startswith("#") and _plain_name(line))


def generated_changes(folder: Path, files: dict[str, str]) -> tuple[list[str], list[str]]:
    """What writing ``files`` into ``folder`` would change: (files to write, owned files to remove).

    The manifest itself is listed among the files to write when it is missing or differs.
    """
    owned = read_manifest(folder) if folder.is_dir() else None
    stale = sorted(name for name, text in files.items() if not _holds(folder / name, text))
    if not _holds(folder / MANIFEST, manifest_text(files)):
        stale.append(MANIFEST)
    extra = sorted(name for name in (owned or ()) if name not in files and (folder / name).is_file())
    return stale, extra


def _holds(path: Path, text: str) -> bool:
    try:
        return path.is_file() and path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def write_generated(folder: Path, files: dict[str, str]) -> tuple[int, int]:
    """Bring ``folder`` to exactly ``files``, removing only files its manifest says it wrote.

    A folder without a manifest is adopted only when it is empty or holds nothing but files
    that would be written; otherwise it is refused (exit 2), so a user's own files are never
    removed or overwritten. Returns (files written, files removed).
    """
    for name in files:
        if not _plain_name(name):
            raise UsageError.single(str(folder / name), "a generated file must be a plain file name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    if not folder.is_dir():
        raise UsageError.single(str(folder), "is not a folder")
    owned = read_manifest(folder)
    if owned is None:
        try:
            foreign = sorted(entry.name for entry in os.scandir(folder) if entry.name not in files)
        except OSError as exc:
            raise _cannot_write(folder, exc) from None
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise UsageError.single(
                str(folder),
                f"holds files cmcadvisor did not write ({shown}) and no {MANIFEST}; nothing was changed",
                hint="choose an empty or new folder for the generated pages",
            )
        owned = frozenset()
    stale, extra = generated_changes(folder, files)
    # the manifest first lists everything that may exist, so an interrupted run never orphans a file
    write_atomic(folder / MANIFEST, manifest_text(owned | set(files)))
    for name in stale:
        if name != MANIFEST:
            write_atomic(folder / name, files[name])
    removed = 0
    for name in extra:
        path = folder / name
        if path.is_symlink() or not path.is_file():
            continue  # replaced by the user since: not ours any more
        try:
            path.unlink()
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        removed += 1
    write_atomic(folder / MANIFEST, manifest_text(files))
    return len([n for n in stale if n != MANIFEST]), removed
