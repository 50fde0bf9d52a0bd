"""Bounded memos for what the stages keep from one program to the next.

Two kinds of derived data outlive a single assessment: what a stage prepares once for a loaded
object (a display vocabulary, the meeting knowledge), and results keyed on the exact values they
depend on (a filled message, a what-if's firings). Both must stay bounded, as ``cmcadvisor serve``
runs for days and reloads its pack: :func:`remember` stores into a plain dict emptied when it is
full, and :class:`PerObject` keeps what it made for the last few objects still alive. This module
knows nothing of what is stored in it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def remember(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` under ``key`` and return it; a memo that has ``limit`` entries is emptied first."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


class PerObject(Generic[T, V]):
    """What ``make`` derives from an object, made at first use and kept while the object lives.

    Only the last ``keep`` objects are kept, each held weakly, so neither a reload nor a long run
    makes it grow. The entries are replaced whole, so a reader never sees them half made.
    """

    def __init__(self, make: Callable[[T], V], keep: int = 4) -> None:
        self._make = make
        self._keep = keep
        self._entries: tuple[tuple[weakref.ref[T], V], ...] = ()

    def __call__(self, obj: T) -> V:
        """The value made for ``obj``, made now if it is new."""
        for ref, value in self._entries:
            if ref() is obj:
                return value
        value = self._make(obj)
        alive = tuple(entry for entry in self._entries if entry[0]() is not None)
        self._entries = (*alive[max(0, len(alive) - self._keep + 1) :], (weakref.ref(obj), value))
        return value
