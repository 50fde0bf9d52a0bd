"""Project settings for the command line: ``.cmcadvisor.toml`` or ``[tool.cmcadvisor]`` in ``pyproject.toml``.

The nearest folder, from the working directory upward, holding a ``.cmcadvisor.toml`` (its
keys at the top level) or a ``pyproject.toml`` with a ``[tool.cmcadvisor]`` table gives the
settings; ``.cmcadvisor.toml`` wins in the same folder. Keys are the long option names of the
commands, checked against the click command tree (so a setting can never drift from its
option): top-level keys are the global options (``engine``, ``rules-dir``, ...) or options
several commands share (``fail-on``, ``as-of``: every command that has the option takes it);
a table per command (``[tool.cmcadvisor.assess]``) holds that command's options (``format``,
``output``, ...). Paths are relative to the settings file. The result is a click
``default_map``, so an option given on the command line always wins. A bad file, key or value
is a :class:`~cmcadvisor.errors.UsageError` naming the file and key. This module reads only the
settings file and never runs a command.

The top command looks for the settings file on every run, ``--help`` and ``--version`` included:
the search uses :mod:`os.path`, and ``pathlib``, ``tomllib`` and the error module (with
``dataclasses``) are imported only to read a settings file that was found or named.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # at run time, imported where a settings file is read (see the module docstring)
    from pathlib import Path

    from cmcadvisor.errors import ErrorItem

CONFIG_NAME = ".cmcadvisor.toml"
META_KEY = "cmcadvisor.config"
NOT_SETTINGS = frozenset({"config_file", "no_config", "debug", "help", "version"})  # never taken from a file
ALIASES = {"outputs": "output", "rules-dirs": "rules-dir", "formats": "format"}


class Config:
    """The settings found: where, the click ``default_map``, and the file key behind each setting.

    Not a dataclass: every run builds one, and ``--help`` and ``--version`` need not import ``dataclasses``.
    """

    __slots__ = ("default_map", "origins", "path")

    def __init__(
        self,
        path: Path | None = None,
        default_map: dict[str, Any] | None = None,
        origins: dict[tuple[str, ...], str] | None = None,
    ) -> None:
        self.path = path
        self.default_map: dict[str, Any] = {} if default_map is None else default_map
        self.origins: dict[tuple[str, ...], str] = {} if origins is None else origins  # (command..., param name) -> "file: key"


def find(start: str) -> str | None:
    """The settings file nearest the folder ``start`` going upward (None when there is none)."""
    folder = os.path.abspath(start)
    while True:
        candidate = os.path.join(folder, CONFIG_NAME)
        if os.path.isfile(candidate):
            return candidate
        pyproject = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(pyproject) and _has_tool_table(pyproject):
            return pyproject
        parent = os.path.dirname(folder)
        if parent == folder:  # the root
            return None
        folder = parent


def _has_tool_table(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError:
        return False
    if "cmcadvisor" not in text:  # the usual pyproject.toml: no need to compile the pattern
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*cmcadvisor\s*[\].]", text, re.MULTILINE) is not None


def _table(path: Path, shown: str) -> tuple[dict[str, Any], str]:
    """The settings table of ``path`` and the prefix its keys are shown with."""
    import tomllib

    from cmcadvisor.errors import UsageError
    from cmcadvisor.loader import read_bytes

    try:
        data = tomllib.loads(read_bytes(path, limit=1024 * 1024).decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError.single(shown, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(found.group(1)) if found else None
        raise UsageError.single(shown, f"invalid TOML: {message}", line=line) from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("cmcadvisor", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise UsageError.single(shown, "must be a table", location="tool.cmcadvisor")
        return table, "tool.cmcadvisor."
    return data, ""


def _by_name(command: click.Command) -> dict[str, click.Parameter]:
    """A command's options by their long name without dashes (``fail-on``), and by parameter name."""
    found: dict[str, click.Parameter] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name is None or param.name in NOT_SETTINGS:
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                found[opt[2:]] = param
        found.setdefault(param.name.replace("_", "-"), param)
    return found


def _format_choices(command: click.Command) -> tuple[str, ...]:
    for param in command.params:
        if param.name == "fmt" and isinstance(param.type, click.Choice):
            return tuple(str(c) for c in param.type.choices)
    return ()


class _Reader:
    """Turns one settings table into a ``default_map``, collecting every problem."""

    def __init__(self, path: Path, prefix: str, cwd: Path) -> None:
        self.shown = shown_path(path, cwd)
        self.prefix = prefix
        self.base = path.parent
        self.cwd = cwd
        self.problems: list[ErrorItem] = []
        self.origins: dict[tuple[str, ...], str] = {}

    def fail(self, key: str, message: str, hint: str | None = None) -> None:
        from cmcadvisor.errors import ErrorItem

        self.problems.append(ErrorItem(self.shown, None, self.prefix + key, message, hint))

    def relative(self, value: str) -> str:
        """A path from the settings file, as seen from the working directory."""
        from pathlib import Path

        path = Path(value).expanduser()
        if path.is_absolute():
            return str(path)
        return os.path.normpath(os.path.join(os.path.relpath(self.base, self.cwd), path))

    def convert(self, command: click.Command, param: click.Parameter, key: str, value: Any) -> Any:
        """Check ``value`` the way the option would be checked on the command line."""
        if isinstance(param, click.Option) and param.is_flag:
            if not isinstance(value, bool):
                self.fail(key, f"expected true or false, got {value!r}")
                return None
            return value
        values = value if isinstance(value, list) else [value]
        if not param.multiple and isinstance(value, list):
            self.fail(key, "expected one value, not a list")
            return None
        formats = _format_choices(command)
        checked: list[Any] = []
        ctx = click.Context(command, resilient_parsing=True)
        for item in values:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                self.fail(key, f"expected text, got {item!r}")
                return None
            text = str(item)
            if param.name == "output":
                from cmcadvisor.outputs import split

                named, where = split(text, formats)
                where = where if where == "-" else self.relative(where)
                text = where if named is None else f"{named}:{where}"
            elif isinstance(param.type, click.Path):
                text = self.relative(text)
            try:
                param.type.convert(text, param, ctx)
                if param.callback is not None and param.expose_value:
                    param.callback(ctx, param, text)
            except click.BadParameter as exc:
                self.fail(key, exc.format_message())
                return None
            checked.append(text)
        return checked if param.multiple else checked[0]

    def command_table(self, command: click.Command, table: dict[str, Any], path: tuple[str, ...], into: dict[str, Any]) -> None:
        options = _by_name(command)
        subcommands = command.commands if isinstance(command, click.Group) else {}
        for raw_key, value in table.items():
            key = ALIASES.get(raw_key, raw_key)
            where = ".".join((*path, raw_key))
            if isinstance(value, dict) and key in subcommands:
                sub = subcommands[key]
                into.setdefault(key, {})
                self.command_table(sub, value, (*path, key), into[key])
                continue
            param = options.get(key)
            if param is None:
                # top level only: the commands directly under the group share it (not ``rules lint``)
                shared = [c for c in _walk(command) if len(c[0]) == 1 and key in _by_name(c[1])] if not path else []
                if shared:  # a top-level key that commands share (fail-on, as-of): each that accepts the value takes it
                    refused: list[ErrorItem] = []
                    accepted = False
                    for names, sub in shared:
                        before = len(self.problems)
                        converted = self.convert(sub, _by_name(sub)[key], where, value)
                        if converted is None:  # e.g. format = "table" for brief, which has no table
                            refused = refused or self.problems[before:]
                            del self.problems[before:]
                            continue
                        accepted = True
                        slot = into
                        for name in names:
                            slot = slot.setdefault(name, {})
                        param_name = _by_name(sub)[key].name
                        assert param_name is not None
                        slot.setdefault(param_name, converted)
                        self.origins[(*names, param_name)] = f"{self.shown}: {self.prefix}{where}"
                    if not accepted:  # no command accepts the value: say why for the first
                        self.problems.extend(refused)
                    continue
                import difflib  # only for a mistyped key

                allowed = sorted({*options, *subcommands} - {"help"})
                if not path:
                    allowed = sorted({*allowed, *(k for names, c in _walk(command) if len(names) == 1 for k in _by_name(c))})
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = (
                    f"did you mean '{close[0]}'?"
                    if close
                    else "settings are option names: see 'cmcadvisor config' and the README"
                )
                self.fail(where, "unknown setting", hint)
                continue
            converted = self.convert(command, param, where, value)
            if converted is not None and param.name is not None:
                into[param.name] = converted  # an explicit command table beats a shared top-level key
                self.origins[(*path, param.name)] = f"{self.shown}: {self.prefix}{where}"


def shown_path(path: Path, cwd: Path) -> str:
    """The settings file as messages name it: relative to the working folder (``../pyproject.toml``)."""
    try:
        return os.path.relpath(path, cwd)
    except ValueError:  # another drive (Windows)
        return str(path)


def _walk(group: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command below ``group`` with its path of names."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    if isinstance(group, click.Group):
        for name, command in sorted(group.commands.items()):
            found.append(((*path, name), command))
            found.extend(_walk(command, (*path, name)))
    return found


def load(path: Path, group: click.Group, cwd: Path | None = None) -> Config:
    """Read one settings file against the command tree of ``group``."""
    from pathlib import Path

    from cmcadvisor.errors import UsageError

    cwd = cwd or Path.cwd()
    table, prefix = _table(path, shown_path(path, cwd))
    reader = _Reader(path, prefix, cwd)
    default_map: dict[str, Any] = {}
    reader.command_table(group, table, (), default_map)
    if reader.problems:
        raise UsageError(reader.problems)
    return Config(path, default_map, reader.origins)


def explicit_choice(args: Sequence[str], commands: Sequence[str]) -> tuple[bool, str | None]:
    """``--no-config`` and ``--config PATH`` among the global options (before the command name)."""
    skip = False
    chosen: str | None = None
    for index, arg in enumerate(args):
        if arg in commands:
            break
        if arg == "--no-config":
            skip = True
        elif arg == "--config" and index + 1 < len(args):
            chosen = args[index + 1]
        elif arg.startswith("--config="):
            chosen = arg.partition("=")[2]
    return skip, chosen


def discover(args: Sequence[str], group: click.Group, cwd: Path | None = None) -> Config:
    """The settings for a run with ``args``: ``--config``, else the nearest file, none with ``--no-config``."""
    skip, chosen = explicit_choice(args, list(group.commands))
    if skip:
        return Config()
    if chosen is None:
        chosen = find(os.fspath(cwd) if cwd is not None else os.getcwd())
        if chosen is None:
            return Config()
    elif not os.path.isfile(chosen):
        from cmcadvisor.errors import UsageError

        raise UsageError.single(chosen, "no such settings file", location="--config")
    from pathlib import Path

    return load(Path(chosen), group, cwd)
