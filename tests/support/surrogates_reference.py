"""The lone-surrogate check as regular expressions over the whole body: the plain-Python
reference the core's scan (`_core.has_lone_surrogate`) is tested against (it was the gateway's
own check before the core took it over)."""

from __future__ import annotations

import re

_SURROGATE_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def has_lone_surrogate(body: bytes) -> bool:
    if b"\\u" not in body:
        return False
    unescaped = body.replace(b"\\\\", b"")  # escaped backslashes, left to right like a JSON parser
    return _SURROGATE.search(_SURROGATE_PAIR.sub(b"", unescaped)) is not None
