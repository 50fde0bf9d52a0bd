"""``cmcadvisor serve [DIR]``: start the local workspace (:mod:`cmcadvisor.workspace`) on uvicorn.

Binds 127.0.0.1 unless ``--host`` says otherwise; then a random access token is required and
printed in the address. Prints the address, optionally opens the browser, and serves until
interrupted. The web stack is the optional ``serve`` extra: without it the command says how to
install it (exit 2). This module only wires options to the app; it serves no page itself.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import click

from cmcadvisor import cliutil

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def served_hosts(host: str) -> frozenset[str] | None:
    """The Host header names the app answers to: the loopback names, plus ``host`` (all: None for a wildcard bind)."""
    if host in ("0.0.0.0", "::", "[::]"):  # noqa: S104 - listening everywhere is what --host asked for; the token guards it
        return None
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return frozenset({"localhost", "127.0.0.1", "[::1]", shown.lower()})


@click.command("serve")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="The port to listen on.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="The address to listen on; beyond this machine a token is required."
)
@click.option("--open", "open_browser", is_flag=True, help="Open the workspace in the web browser.")
@click.pass_context
def serve(ctx: click.Context, folder: Path, port: int, host: str, open_browser: bool) -> None:
    """Start the local workspace over FOLDER (default: here): programs, forms, assessments, what-if, downloads.

    A local tool for one person: no accounts. Program files are read and written only inside FOLDER.
    """
    try:
        import uvicorn

        from cmcadvisor.workspace.app import create_app
    except ImportError as exc:
        raise click.UsageError(
            f"the workspace needs the web extra: pip install 'cmcadvisor[serve]' ({exc.name} is missing)"
        ) from None
    with cliutil.user_errors(ctx.find_root().params["debug"]):
        options = cliutil.make_options(ctx)
        token = None if is_loopback(host) else secrets.token_urlsafe(24)
        app = create_app(folder, options=options, hosts=served_hosts(host), token=token)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"  # noqa: S104
    if token is not None:
        url += f"?token={token}"
        click.echo(
            f"note: listening on {host}, reachable from other machines; the access token is in the address below", err=True
        )
    click.echo(f"cmcadvisor workspace for {folder.resolve().name} at {url}")
    click.echo("Press Ctrl+C to stop.")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning", server_header=False)
