"""The workspace's guards, as ASGI middleware and one path check: what a request may do before a page sees it.

* :class:`Guard` refuses a request whose ``Host`` is not one the server answers to (DNS
  rebinding), asks for the access token when the server listens beyond this machine (query
  ``token=`` once, then a cookie), refuses a POST whose ``Origin`` (or, without one, ``Referer``)
  is not this server (403), and a body larger than the limit (413), before any handler runs;
  it adds security headers (a content policy allowing no script or style from elsewhere) to
  every answer.
* :func:`program_path` turns a name from a URL into a file directly inside the workspace folder,
  or refuses it: no folder parts, no ``..``, no hidden file, no link, nothing that resolves
  outside the folder.

This module reads no program and writes nothing; it must not import the rest of the workspace.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 1_000_000  # bytes of one request body (a program file is far smaller)
TOKEN_COOKIE = "cmcadvisor_token"  # noqa: S105 - the cookie's name, not a secret
PROGRAM_SUFFIXES = (".yaml", ".yml")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,120}$")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class Refused(Exception):
    """A name that does not lead to a program file inside the workspace folder."""


def program_path(root: Path, name: str, *, must_exist: bool = True) -> Path:
    """The program file ``name`` directly inside ``root``, or :class:`Refused`.

    Refused: a name with a folder part or ``..``, a hidden or oddly spelled name, a suffix other
    than YAML, a link (even one pointing inside), anything that is not a regular file, and
    (with ``must_exist``) a file that is not there.
    """
    if not _NAME.fullmatch(name) or ".." in name or not name.lower().endswith(PROGRAM_SUFFIXES):
        raise Refused(name)
    base = root.resolve()
    path = base / name
    if path.parent != base or path.is_symlink():
        raise Refused(name)
    if not path.exists():
        if must_exist:
            raise Refused(name)
        return path
    if not path.is_file() or not path.resolve().is_relative_to(base):
        raise Refused(name)
    return path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class Guard:
    """Host, token, same-origin and body-size checks in front of the app; security headers on every answer."""

    def __init__(self, app: ASGIApp, *, hosts: frozenset[str] | None, token: str | None, max_body: int = MAX_BODY) -> None:
        """Guard ``app``; ``hosts``: the host names served (None: any); ``token``: required when set."""
        self.app = app
        self.hosts = hosts
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on (with its body read and bounded) or answer with the refusal."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or ""
        if self.hosts is not None and host.rsplit(":", 1)[0].lower() not in self.hosts:
            await _plain(send, 400, "Unknown host. Open the address the server printed.")
            return
        set_cookie = False
        if self.token is not None:
            given = self._token(scope)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                await _plain(send, 403, "This workspace needs its access token: open the address the server printed.")
                return
            set_cookie = _cookie(scope) != self.token
        method = scope.get("method", "GET")
        if method not in _SAFE_METHODS and not self._same_origin(scope, host):
            await _plain(send, 403, "Refused: the request did not come from this workspace's own pages.")
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _plain(send, 413, f"Refused: the request is larger than {self.max_body} bytes.")
            return
        body = bytearray()
        more = True
        while more and method not in _SAFE_METHODS:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _plain(send, 413, f"Refused: the request is larger than {self.max_body} bytes.")
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed and method not in _SAFE_METHODS:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        token = self.token

        async def decorate(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *_HEADERS]
                if set_cookie and token is not None:
                    headers.append((b"set-cookie", f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, replay if method not in _SAFE_METHODS else receive, decorate)

    def _token(self, scope: Scope) -> str | None:
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        given = query.get("token")
        if given:
            return str(given[0])
        return _cookie(scope)

    @staticmethod
    def _same_origin(scope: Scope, host: str) -> bool:
        """The Origin (else the Referer) names this server: the scheme and the Host header the browser used."""
        own = f"{scope.get('scheme', 'http')}://{host}".lower()
        origin = _header(scope, b"origin")
        if origin is not None:
            return origin.lower() == own
        referer = _header(scope, b"referer")
        return referer is not None and _origin_of(referer) == own


def _cookie(scope: Scope) -> str | None:
    for part in (_header(scope, b"cookie") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == TOKEN_COOKIE:
            return value
    return None


async def _plain(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()), *_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
