"""A small on-disk cache of validated data (rule packs, knowledge files), keyed by content hash.

Parsing and validating a few hundred YAML rule files dominates a cold start. Data whose source
files hash the same as last time is read back from one file instead: the objects the tool
built from them after full validation, pickled, so a cold start neither parses YAML nor runs
pydantic's validators again (nor builds the validators of models it only reads back).

Why unpickling an entry is as trustworthy as the bytecode Python loads from ``__pycache__``:
an entry is written only by this tool, only after the data passed full validation, atomically
(a temporary file renamed into place, readable and writable by its owner only), into the cache
folder of the user running the tool. An entry another user owns, or that others may write, is
never read, so a cache folder shared with others cannot run their code; anyone able to write
the user's own entries can already run code as that user (their ``site-packages``, their shell
start-up files), exactly as with bytecode. Hostile input (a program, a rule or knowledge pack)
cannot make an entry run code either: what is pickled is the validated data itself, plain
values inside the tool's own model classes, never an object the input chose. Like bytecode, an
entry is checked against what produced it: its name holds the caller's key (the hash of the
source files and the tool version), and the file records the Python and pydantic versions and
a fingerprint of the tool's own modules (size and modification time of each, as Python checks
its bytecode), so an entry never outlives the code or libraries that built it. An entry that
is stale, damaged, unreadable or not the user's own is ignored, and the caller rebuilds it from
the sources. Audit hashes are always computed from the source files, never from the cache.

The cache lives in ``$CMCADVISOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/cmcadvisor``, else
``~/.cache/cmcadvisor``; ``CMCADVISOR_NO_CACHE=1`` turns it off. Failures to read or write are
ignored: the cache only ever saves time. It stays bounded: each edit of a rule or knowledge file
makes a new entry, so writing one removes the least recently used entries beyond
:data:`MAX_BYTES`, and entries of the earlier JSON format. Only the user's own files that are
named as entries are (``<name>-<32 hex digits>.pickle`` or ``.json``) and begin as entries begin
are ever removed. This module must not know what a rule is.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import re
import sys
import tempfile
import time
from pathlib import Path

FORMAT = 2  # 1: JSON values validated again on reading; 2: pickled validated objects
SUFFIX = ".pickle"
MAX_BYTES = 64 * 1024 * 1024  # a rule pack's entry is under 1 MB, a knowledge file's a few KB
_USED_EVERY = 24 * 3600  # a read marks its entry as used (its modification time) at most once a day
# What an entry's file is named: its key (a name, then the hex digest of its sources) and suffix.
# Format 1 wrote the same names with ".json". Pruning removes a file only if its name and its first
# bytes are an entry's (format 2: a pickled code tag first; format 1: {"format":1,...}), so a
# user's own file in a folder named by CMCADVISOR_CACHE_DIR is never removed.
_ENTRY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._+-]*-[0-9a-f]{32}\.(?:pickle|json)")
_ENTRY_HEAD = {
    SUFFIX: re.compile(rb"\x80[\x04\x05]\x95.{8}\x8c@[0-9a-f]{64}", re.DOTALL),
    ".json": re.compile(rb'\{"format":1,'),
}


def _entry_file(path: str) -> bool:
    """Whether the file's first bytes are those of an entry this module (or its format 1) wrote."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(96)
    except OSError:
        return False
    return bool(_ENTRY_HEAD[os.path.splitext(path)[1]].match(head))


def cache_dir() -> Path | None:
    """Where cached entries live, or None when caching is off."""
    if os.environ.get("CMCADVISOR_NO_CACHE"):
        return None
    explicit = os.environ.get("CMCADVISOR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cmcadvisor"


@functools.cache
def code_tag() -> str:
    """What an entry must have been written by: cache format, Python, pydantic and the tool's own modules.

    The tool's modules are fingerprinted by relative path, size and modification time (the
    check Python makes of its bytecode); the packaged data folder and bytecode are skipped.
    """
    from pydantic.version import VERSION as pydantic_version

    digest = hashlib.sha256(f"{FORMAT}\0{sys.version}\0{pydantic_version}\0{pickle.HIGHEST_PROTOCOL}".encode())

    def walk(folder: str, relative: str) -> None:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir() and entry.name not in ("_data", "__pycache__") and not entry.name.startswith("."):
                    walk(entry.path, f"{relative}{entry.name}/")
                elif entry.name.endswith(".py"):
                    stat = entry.stat()
                    digest.update(f"\0{relative}{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())

    walk(os.path.dirname(os.path.abspath(__file__)), "")
    return digest.hexdigest()


def _own(stat: os.stat_result) -> bool:
    """Whether an entry is the running user's own and no one else may write it (as this module writes them)."""
    getuid = getattr(os, "getuid", None)  # POSIX; elsewhere the cache folder's own permissions apply
    return getuid is None or (stat.st_uid == getuid() and not stat.st_mode & 0o022)


def read(key: str) -> object | None:
    """The object stored under ``key`` by this very code, or None (absent, stale, damaged or off)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with (folder / f"{key}{SUFFIX}").open("rb") as handle:
            stat = os.fstat(handle.fileno())
            if not _own(stat):
                return None
            # Written by this tool after validation, in the user's own folder: see the module docstring.
            if pickle.load(handle) != code_tag():  # noqa: S301
                return None  # written by other code: its objects are not even unpickled
            value: object = pickle.load(handle)  # noqa: S301
            if time.time() - stat.st_mtime > _USED_EVERY and os.utime in os.supports_fd:
                with contextlib.suppress(OSError):
                    os.utime(handle.fileno())  # used now: pruning removes the least recently used first
    except Exception:  # noqa: BLE001 - any damage (truncated, unreadable, a class gone) just means "rebuild"
        return None
    return value


def write(key: str, value: object) -> None:
    """Store ``value`` (validated data, picklable) under ``key`` atomically; never raises."""
    folder = cache_dir()
    if folder is None:
        return
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(code_tag(), handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{key}{SUFFIX}")
        tmp = None
        prune(folder, keep=f"{key}{SUFFIX}")
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def prune(folder: Path, keep: str = "", limit: int | None = None) -> list[str]:
    """Remove the format 1 entries, then the least recently used entries beyond ``limit`` bytes; the names removed.

    Only the user's own files named as entries are looked at (never ``keep``, the entry just
    written, nor a temporary file of a write in progress); a file that cannot be removed is left.
    """
    limit = MAX_BYTES if limit is None else limit
    removed: list[str] = []
    entries: list[tuple[float, str, int]] = []
    with os.scandir(folder) as found:
        for item in found:
            if not _ENTRY_NAME.fullmatch(item.name) or not item.is_file(follow_symlinks=False):
                continue
            stat = item.stat(follow_symlinks=False)
            if not _own(stat) or not _entry_file(item.path):
                continue
            if item.name.endswith(".json"):  # format 1: never read by this code
                with contextlib.suppress(OSError):
                    os.unlink(item.path)
                    removed.append(item.name)
            else:
                entries.append((stat.st_mtime, item.name, stat.st_size))
    total = sum(size for _, _, size in entries)
    for _, name, size in sorted(entries):  # least recently used first
        if total <= limit:
            break
        if name == keep:
            continue
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
            removed.append(name)
            total -= size
    return removed
