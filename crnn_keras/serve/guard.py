"""Keeps other web pages out of a local server: Host, Origin and (optionally) a token.

A page on any site can send requests to 127.0.0.1 from the user's browser, and a DNS name that
re-binds to 127.0.0.1 even reads the answers. So every request must name this server in its
`Host` header, a browser's cross-site request (an `Origin` header for another origin) is
refused, and where a token is set (the labelling page, as Jupyter does) it must come with the
request: `?token=` in the URL or an `X-Token` header.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


def new_token() -> str:
    return secrets.token_urlsafe(18)


class Guard:
    """Checks one request's headers; `refusal` gives (status, message) or None."""

    def __init__(self, host: str, port: int, token: str | None = None, extra_hosts: tuple[str, ...] = ()):
        # A wildcard bind address is no name a browser uses: name the host with extra_hosts.
        names = set(LOCAL_NAMES) | set(extra_hosts) | ({host} if host not in ("0.0.0.0", "::") else set())
        self.hosts = {f"{name}:{port}".lower() for name in names} | ({n.lower() for n in names} if port == 80 else set())
        self.token = token

    def refusal(self, method: str, headers, query: dict) -> tuple[int, str] | None:
        host = headers.get("host", "").lower()
        if host not in self.hosts:
            return 400, f"unexpected Host header {host!r}: open the address the server printed"
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host):
            return 403, "cross-origin requests are refused"
        if method not in ("GET", "HEAD", "OPTIONS") and headers.get("sec-fetch-site") == "cross-site":
            return 403, "cross-site requests are refused"
        if self.token is not None:
            given = headers.get("x-token") or query.get("token") or ""
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                return 403, "missing or wrong token: open the URL the server printed (it holds ?token=…)"
        return None


def middleware(guard: Guard):
    """A Starlette/FastAPI HTTP middleware that answers refused requests with {"error": …}."""
    from fastapi.responses import JSONResponse

    async def check(request, call_next):
        refused = guard.refusal(request.method, request.headers, dict(request.query_params))
        if refused:
            return JSONResponse({"error": refused[1]}, status_code=refused[0])
        return await call_next(request)

    return check
