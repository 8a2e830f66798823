"""Model aliases: exact names (`fast` -> `groq/llama-3.3-70b-versatile`) and wildcard patterns
(`claude-sonnet-*` -> a target). Only `*` and `?` are wildcards; among matching patterns the
most specific wins: the most literal characters, then the fewest wildcards, then the pattern text.
"""

from __future__ import annotations

from collections.abc import Iterable

from omniroute.security.model_globs import glob_to_regex


def specificity(pattern: str) -> tuple[int, int, str]:
    literals = sum(1 for c in pattern if c not in "*?")
    wildcards = len(pattern) - literals
    return (-literals, wildcards, pattern)


class WildcardAliases:
    def __init__(self, patterns: Iterable[tuple[str, str]]) -> None:
        self._ordered = sorted(patterns, key=lambda item: specificity(item[0]))

    def match(self, model: str) -> str | None:
        for pattern, target in self._ordered:
            if glob_to_regex(pattern).fullmatch(model):
                return target
        return None

    def __len__(self) -> int:
        return len(self._ordered)

    def items(self) -> list[tuple[str, str]]:
        return list(self._ordered)
