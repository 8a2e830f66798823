"""The plain-Python injection detector that `omniroute.security.detectors.find_injection` replaced
(moved here verbatim when the detector moved into the Rust core): the oracle the property tests
and `python -m bench core` compare `_core.find_injection` against. Do not "fix" it here: a
change of behaviour goes into the core, then here, with the tests that pin it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from omniroute.security.detectors import Hit

# Shared helpers -------------------------------------------------------------------------------

#: Characters that render as nothing; removed before injection matching (so "ig<ZWSP>nore" reads
#: as "ignore"), with spans mapped back onto the original text.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


_INVISIBLE_CHARS = tuple(map(chr, (0xAD, *range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF)))


def _strip_invisible(text: str) -> tuple[str, list[int]]:
    """`text` without invisible characters, and the clean offsets at which characters were removed."""
    if text.isascii() or not any(ch in text for ch in _INVISIBLE_CHARS):
        return text, []
    removed = [m.start() - i for i, m in enumerate(_INVISIBLE.finditer(text))]
    return _INVISIBLE.sub("", text), removed


def _map_back(hits: list[Hit], removed: list[int]) -> list[Hit]:
    """Hits on the clean text as spans of the original text."""
    if not removed:
        return hits
    return [
        Hit(h.kind, h.start + bisect_right(removed, h.start), h.end + bisect_left(removed, h.end))
        for h in hits
    ]


_MD_CODE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[ \t]*$|\Z)|`[^`\n]+`")


def _code_spans(text: str) -> list[tuple[int, int]]:
    if "`" not in text and "~~~" not in text:
        return []
    return [m.span() for m in _MD_CODE.finditer(text)]


def _inside(spans: list[tuple[int, int]], start: int) -> bool:
    return any(a <= start < b for a, b in spans)


# Injection ------------------------------------------------------------------------------------
# The phrase patterns run on the UTF-8 bytes of the lower-cased text: finding their first words
# with `bytes.find` and trying the pattern only there is an order of magnitude faster than a
# regex scan of a whole agent transcript. (`\w`, `\s`, `\b` are ASCII-only on bytes.)

_I = re.IGNORECASE
_ANY = r"(?:all\s+|any\s+|every\s+)?(?:of\s+)?(?:the\s+|your\s+|these\s+|those\s+|such\s+)?"
_BEFORE = r"(?:previous|prior|above|earlier|preceding|foregoing|initial|original)"
_RULES = (
    r"(?:instructions?|prompts?|rules|directives?|directions|guidelines|guardrails|constraints|programming)"
)
_RULES_STRICT = r"(?:instructions?|prompts?|directives?|guidelines|guardrails|programming)"
_YOU_ARE = r"you(?:\s+are|'re|\xe2\x80\x99re)"
_NO_RULES = r"(?:restrictions|rules|guidelines|filters|limits|limitations|content\s+polic(?:y|ies))"
_ADJ = r"(?:(?:full|entire|complete|original|hidden|secret|initial|exact|verbatim)\s+)*"
_SECRET_PROMPT = r"(?:system\s+(?:prompt|message|instructions?)|(?:hidden|secret|initial|original)\s+(?:instructions|prompt))"

#: (kind, pattern source, the words its alternatives start with). Patterns are matched on
#: lower-cased text, so literal upper case (`DAN`) is matched as lower case plus a check.
_PHRASE_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "ignore_instructions",
        rf"\b(?:ignore|disregard|forget)\s+{_ANY}(?:{_BEFORE}\s+){_RULES}\b"
        rf"|\b(?:override|bypass|abandon)\s+{_ANY}(?:{_BEFORE}\s+){_RULES_STRICT}\b"
        r"|\b(?:ignore|disregard|forget|bypass)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?"
        r"(?:system\s+(?:prompt|message|instructions?)|safety\s+(?:guidelines|rules|filters|policies)"
        r"|content\s+polic(?:y|ies)|guardrails)\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s*)?(?:everything|anything)\s+"
        r"(?:above|before|(?:you\s+were|you've\s+been|you\s+have\s+been)\s+(?:told|given))"
        r"|\bnew\s+instructions\s*:\s*(?:ignore|disregard|forget)\b"
        r"|\byour\s+(?:new|real|true)\s+instructions\s+(?:are|follow)\b",
        ("ignore", "disregard", "forget", "override", "bypass", "abandon", "new", "your"),
    ),
    (
        "role_hijack",
        rf"\b{_YOU_ARE}\s+(?:now\s+)?(?:(?P<dan>dan)\b|(?:in|entering)\s+(?:developer|dev|god|jailbreak"
        r"|jailbroken|unrestricted|dan)\s+mode\b|(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken)\b)"
        rf"|\b{_YOU_ARE}\s+no\s+longer\s+(?:bound|restricted|limited)\b"
        r"|\bdo\s+anything\s+now\b(?P<dan_name>)"
        r"|\b(?:enable|activate|enter|switch\s+to)\s+(?:dan|jailbreak|god)\s+mode\b"
        rf"|\b(?:pretend|imagine)\s+(?:that\s+)?you\s+(?:have|had|are\s+under)\s+no\s+{_NO_RULES}\b"
        r"|\b(?:act|behave|respond)\s+as\s+(?:(?P<dan_as>dan)\b|an?\s+(?:unrestricted|unfiltered|uncensored"
        r"|jailbroken)\b)",
        ("you", "do", "enable", "activate", "enter", "switch", "pretend", "imagine", "act", "behave", "respond"),
    ),
    (
        "prompt_leak",
        rf"\b(?:reveal|leak|disclose|repeat|divulge)\s+(?:to\s+me\s+)?(?:all\s+)?(?:of\s+)?(?:your|the)\s+{_ADJ}"
        rf"{_SECRET_PROMPT}"
        r"|\b(?:print|show|output|display|dump|give|tell|send|write\s+out|spell\s+out)\s+(?:me\s+|us\s+)?"
        rf"(?:all\s+)?(?:of\s+)?your\s+{_ADJ}(?:{_SECRET_PROMPT}|instructions\s+(?:verbatim|word\s+for\s+word))"
        r"|\brepeat\s+(?:all\s+)?(?:of\s+)?the\s+(?:text|words|content|instructions)\s+above\b"
        r"|\bwhat\s+(?:is|are|was|were)\s+your\s+(?:system\s+prompt|(?:initial|original|hidden|secret)"
        r"\s+instructions)",
        ("reveal", "leak", "disclose", "repeat", "divulge", "print", "show", "output", "display", "dump", "give",
         "tell", "send", "write", "spell", "what"),
    ),
)  # fmt: skip
_PHRASES: tuple[tuple[str, re.Pattern[bytes], tuple[bytes, ...]], ...] = tuple(
    (kind, re.compile(source.encode("latin-1")), tuple(w.encode() for w in words))
    for kind, source, words in _PHRASE_SOURCES
)
#: Groups that must be upper case in the original text ("DAN", "Do Anything Now").
_CASED = {"dan": "DAN", "dan_as": "DAN", "dan_name": ""}

_SPOOF_ANYWHERE = re.compile(
    r"<\|im_start\|>\s*system|<\|start_header_id\|>\s*system|<\|system\|>|<<SYS>>"
    r"|</(?:user|human|assistant)>\s*<system>",
    _I,
)
#: Matched at the start of a line.
_SPOOF_LINE = re.compile(r"[ \t>]*(?:</?system>|#{1,6}[ \t]*system(?:[ \t]+(?:prompt|message))?[ \t]*:)", _I)

#: Words just before a phrase that make it a description, not an instruction to the model:
#: negations ("never ignore previous instructions"), third-party subjects ("it should ignore
#: the system prompt") and conditions ("if the user asks you to reveal the system prompt").
_VETO = re.compile(
    rb"(?:\bnot|n't|\bnever|\bno\s+longer|\brefuse\s+to|\bwithout|\bnor)\s+(?:\w+\s+){0,2}$"
    rb"|\b(?:it|this|that|which|we|they|he|she|model|llm|proxy|gateway|server|code|function|parser"
    rb"|tool|client|agent|app|wrapper|script|flag|option|mode|users?)\s+(?:should|will|would|can|could|must"
    rb"|may|might|shall|does|did|to)\s+(?:\w+\s+)?$"
    rb"|\b(?:if|when|whenever|should|in\s+case)\s+(?:the\s+|a\s+|an\s+|any\s+|some\s+)?\w+\s+"
    rb"(?:asks?|tells?|instructs?|wants?|requests?|says?)\s+(?:you\s+)?(?:to\s+)?$"
    rb"|\b(?:designed|attempts?|attempting|tries|trying|tried|used|meant|intended|aims?|aiming|able|how|ways?)"
    rb"\s+to\s+$"
)
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")


def _vetoed(data: bytes, start: int) -> bool:
    line_start = data.rfind(b"\n", 0, start) + 1
    return _VETO.search(data, max(line_start, start - 48), start) is not None


def _word_starts(data: bytes, words: tuple[bytes, ...]) -> list[int]:
    found: list[int] = []
    for word in words:
        pos = data.find(word)
        while pos >= 0:
            if pos == 0 or data[pos - 1] not in _WORD_BYTES:
                found.append(pos)
            pos = data.find(word, pos + 1)
    found.sort()
    return found


def _cased(m: re.Match[bytes], text: str, to_char: Callable[[int], int]) -> bool:
    """Whether the groups that must be upper case ("DAN") are, in the original text."""
    for group, required in _CASED.items():
        if group not in m.re.groupindex:
            continue
        span = m.span(group)
        if span[0] < 0:
            continue
        if group == "dan_name":
            start, end = to_char(m.start()), to_char(m.end())
            return text[start:end].split() == ["Do", "Anything", "Now"]
        if text[to_char(span[0]) : to_char(span[1])] != required:
            return False
    return True


def _phrase_hits(text: str) -> list[Hit]:
    lower = text.lower()
    if len(lower) != len(text):  # lower() changed the length of some non-ASCII text
        lower = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)
    data = lower.encode("utf-8", "surrogatepass")
    if len(data) == len(text):

        def to_char(offset: int) -> int:
            return offset

    else:

        def to_char(offset: int) -> int:
            return len(data[:offset].decode("utf-8", "surrogatepass"))

    hits: list[Hit] = []
    for kind, pattern, words in _PHRASES:
        end = -1
        for pos in _word_starts(data, words):
            if pos < end:
                continue
            m = pattern.match(data, pos)
            if m is not None and not _vetoed(data, pos) and _cased(m, text, to_char):
                hits.append(Hit(kind, to_char(m.start()), to_char(m.end())))
                end = m.end()
    return hits


def find_injection(text: str, *, user_authored: bool = True) -> list[Hit]:
    """Injection hits in `text`; delimiter spoofing only counts in `user_authored` text."""
    clean, removed = _strip_invisible(text)
    hits = _phrase_hits(clean)
    if user_authored:
        spoofs = _spoof_matches(clean)
        code = _code_spans(clean) if spoofs else []
        hits.extend(
            Hit("delimiter_spoof", m.start(), m.end()) for m in spoofs if not _inside(code, m.start())
        )
    return _map_back(hits, removed)


def _spoof_matches(text: str) -> list[re.Match[str]]:
    """Delimiter matches, looked for only around the places that say "system" / "SYS"."""
    found: dict[int, re.Match[str]] = {}
    for needle in ("ystem", "YSTEM", "<<SYS>>"):
        pos = text.find(needle)
        while pos >= 0:
            line_start = text.rfind("\n", 0, pos) + 1
            m = _SPOOF_LINE.match(text, line_start)
            if m is not None:
                found[m.start()] = m
            for m in _SPOOF_ANYWHERE.finditer(text, max(line_start, pos - 40), pos + 16):
                found[m.start()] = m
            pos = text.find(needle, pos + 1)
    return [found[k] for k in sorted(found)]
