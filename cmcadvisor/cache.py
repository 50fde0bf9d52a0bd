"""A small on-disk cache of validated rule packs, keyed by their content hash.

Parsing a few hundred YAML rule files dominates a cold start; a pack whose files hash the same
as last time is read back from one JSON file instead and validated again by the models (so a
damaged or edited cache can never smuggle in an invalid rule). The cache lives in
``$CMCADVISOR_CACHE_DIR``, else ``$XDG_CACHE_HOME/cmcadvisor``, else ``~/.cache/cmcadvisor``;
``CMCADVISOR_NO_CACHE=1`` turns it off. Failures to read or write are ignored: the cache only
ever saves time. This module must not know what a rule is.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

FORMAT = 1


def cache_dir() -> Path | None:
    """Where cached packs live, or None when caching is off."""
    if os.environ.get("CMCADVISOR_NO_CACHE"):
        return None
    explicit = os.environ.get("CMCADVISOR_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cmcadvisor"


def read(key: str) -> object | None:
    """The cached JSON value for ``key``, or None."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with (folder / f"{key}.json").open("r", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    return data.get("value")


def write(key: str, value: object) -> None:
    """Store ``value`` under ``key`` atomically; never raises."""
    folder = cache_dir()
    if folder is None:
        return
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": FORMAT, "value": value}, handle, separators=(",", ":"))
        os.replace(tmp, folder / f"{key}.json")
        tmp = None
    except (OSError, TypeError, ValueError):
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
