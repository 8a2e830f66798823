"""The routing table: exact (method, path) pairs plus a few prefix patterns, and path rewrites."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from omniroute.http.request import Request

Handler = Callable[[Request], Awaitable[None]]


def normalise_path(path: str) -> str:
    """Rewrites that reach the /v1 handlers: `/v1/v1/*` and the unversioned OpenAI paths."""
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    while path.startswith("/v1/v1/"):
        path = path[3:]
    if path in ("/chat/completions", "/models", "/responses", "/embeddings"):
        return "/v1" + path
    if path.startswith("/codex/"):
        return "/v1/" + path.removeprefix("/codex/")
    return path


class Router:
    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Handler] = {}
        self._paths: set[str] = set()
        self._prefixes: list[tuple[str, str, Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._exact[(method, path)] = handler
        self._paths.add(path)

    def add_prefix(self, method: str, prefix: str, handler: Handler) -> None:
        self._prefixes.append((method, prefix, handler))

    def match(self, method: str, path: str) -> tuple[Handler | None, bool]:
        """(handler, path_known): a known path with the wrong method gives (None, True)."""
        handler = self._exact.get((method, path))
        if handler is not None:
            return handler, True
        known = path in self._paths
        for m, prefix, h in self._prefixes:
            if path.startswith(prefix):
                if m == method:
                    return h, True
                known = True
        return None, known
