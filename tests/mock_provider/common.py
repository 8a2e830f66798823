"""Helpers shared by the protocol handlers that are not tied to one wire protocol."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

#: The request's sequence number n (the mock's ids, e.g. `req_mock_<n>`, share it).
SEQ_KEY: web.RequestKey[int] = web.RequestKey("mock_seq", int)

# Keys whose string values count as request text for the count-tokens endpoints.
_TEXT_KEYS = frozenset({"text", "content", "system", "thinking", "input", "instructions"})


def request_seq(request: web.Request) -> int:
    return request[SEQ_KEY]


def word_count(body: Any) -> int:
    """Deterministic token estimate: whitespace-separated words of the request's text, min 1.

    Text is every string value (or string item of a list value) of a key named text, content,
    system, thinking, input or instructions, at any depth; the top-level `mock` is ignored.
    """
    if isinstance(body, Mapping):
        body = {k: v for k, v in body.items() if k != "mock"}
    return max(1, _words(body, in_text=False))


def _words(value: Any, *, in_text: bool) -> int:
    if isinstance(value, str):
        return len(value.split()) if in_text else 0
    if isinstance(value, Mapping):
        return sum(_words(v, in_text=k in _TEXT_KEYS) for k, v in value.items())
    if isinstance(value, list):
        return sum(_words(v, in_text=in_text) for v in value)
    return 0


def parse_arguments(arguments: str) -> Any:
    """Tool-call arguments as JSON; text that does not parse is passed on as the raw string."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments
