"""Commands whose module is imported at their first use, so that ``--help`` and ``--version`` stay light.

A command registered with :meth:`LazyGroup.add_lazy` is listed by the top command's ``--help``
from the summary given at registration (the first paragraph of the command's docstring, which
``--help`` shortens exactly as click shortens the real one), and its module is imported only
when the command is looked up: to run it, complete it, show its own help or read its settings.
``tests/test_startup.py`` checks that every summary matches its command. This module must not
import any command module itself, nor anything but click and the standard library.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from gettext import gettext
from typing import Any

import click


class LazyCommands(dict[str, click.Command]):
    """Commands by name; a registered one is a stand-in until its first lookup imports the real command."""

    def __init__(self, commands: Iterable[tuple[str, click.Command]] = ()) -> None:
        """Start from the commands already added (imported)."""
        super().__init__(commands)
        self.registered: dict[str, tuple[str, click.Command]] = {}  # name -> ("module:attribute", stand-in)
        self.targets: dict[str, str] = {}  # name -> "module:attribute", until imported

    def register(self, name: str, target: str, summary: str) -> None:
        """Name a command imported from ``target`` (``module:attribute``) at its first lookup."""
        stand_in = click.Command(name, help=summary)
        self.registered[name] = (target, stand_in)
        self.targets[name] = target
        super().__setitem__(name, stand_in)

    def stand_in(self, name: str) -> click.Command:
        """The command if imported, else its stand-in (for the list of ``--help``); imports nothing."""
        return super().__getitem__(name)

    def __setitem__(self, name: str, command: click.Command) -> None:
        """Add an imported command (``add_command``), replacing any registration of the name."""
        self.targets.pop(name, None)
        super().__setitem__(name, command)

    def __getitem__(self, name: str) -> click.Command:
        """The command, importing its module on first lookup."""
        target = self.targets.get(name)
        if target is not None:
            module, _, attribute = target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):  # pragma: no cover - a registration error
                raise TypeError(f"{target} is not a click command")
            self[name] = command
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The command, importing its module on first lookup; ``default`` for an unknown name."""
        return self[name] if name in self else default  # noqa: SIM401 - dict.get would not import

    def items(self) -> list[tuple[str, click.Command]]:  # type: ignore[override]
        """Every command with its name, importing those not imported yet."""
        return [(name, self[name]) for name in self]

    def values(self) -> list[click.Command]:  # type: ignore[override]
        """Every command, importing those not imported yet."""
        return [self[name] for name in self]


class LazyGroup(click.Group):
    """A click group whose commands may be registered lazily (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As ``click.Group``, with commands kept in a :class:`LazyCommands`."""
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.commands.items())

    def add_lazy(self, name: str, target: str, summary: str) -> None:
        """Register command ``name`` from ``target`` (``module:attribute``); ``summary``: its docstring's first paragraph."""
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        commands.register(name, target, summary)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands as click writes it, from stand-ins for commands not imported yet."""
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        shown = [(name, commands.stand_in(name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in shown if not command.hidden]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section(gettext("Commands")):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in shown])
