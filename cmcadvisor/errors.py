"""One error hierarchy for cmcadvisor.

User errors (bad program, rule or knowledge files; bad options) carry where they happened and
map to exit code 2; everything else is an internal error (exit code 3). This module must not
import anything from the rest of the package or print anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Compiled at first use (by re's own cache), not at import: every command, --version too, imports this module.
_UNSAFE = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"


@dataclass(frozen=True)
class ErrorItem:
    """One located problem: ``file:line: location: message``."""

    source: str
    line: int | None
    location: str
    message: str
    hint: str | None = None

    def format(self) -> str:
        """Render as ``file:line: location: message`` (line and location when known).

        Always one line of inert text: control, bidirectional and line-separator characters
        (from a key, a value or a path the user gave) are shown as escapes, never sent raw.
        """
        head = self.source
        if self.line is not None:
            head += f":{self.line}"
        parts = [head]
        if self.location:
            parts.append(self.location)
        parts.append(self.message)
        text = ": ".join(parts)
        if self.hint:
            text += f" ({self.hint})"
        return re.sub(_UNSAFE, lambda found: found.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


class CmcAdvisorError(Exception):
    """Base of every error cmcadvisor raises on purpose."""


@dataclass
class UserInputError(CmcAdvisorError):
    """Bad input from the user: one or more located problems. Exit code 2."""

    items: list[ErrorItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Give the exception a readable message."""
        super().__init__("\n".join(item.format() for item in self.items))

    def __str__(self) -> str:
        """One line per problem."""
        return "\n".join(item.format() for item in self.items)

    @classmethod
    def single(
        cls, source: str, message: str, *, line: int | None = None, location: str = "", hint: str | None = None
    ) -> UserInputError:
        """Build an error holding one problem."""
        return cls([ErrorItem(source, line, location, message, hint)])


class ProgramFileError(UserInputError):
    """A program file that cannot be read or does not follow the input contract."""


class RuleFileError(UserInputError):
    """A rule file (built-in or an organisation's pack) that is malformed."""


class KnowledgeError(UserInputError):
    """A knowledge file that is malformed or has dangling references."""


class UsageError(UserInputError):
    """A command-line option or value that cannot be honoured."""


class TimelineCycleError(UserInputError):
    """Dependencies between activities form a cycle; names the rules that added the edges."""


class EngineError(CmcAdvisorError):
    """The rule engine failed (a swallowed action exception, a native error). Exit code 3."""
