"""Per-key allowed-model globs: only `*` and `?` are wildcards; everything else is literal."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def glob_to_regex(glob: str) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob]
    return re.compile("".join(parts), re.DOTALL)


def model_allowed(globs: Iterable[str], candidates: Iterable[str]) -> bool:
    """True when any candidate name (e.g. `openai/gpt-4o`, `gpt-4o`) matches any glob."""
    names = tuple(candidates)
    return any(glob_to_regex(g).fullmatch(name) for g in globs for name in names)
