"""Prompt guard: injection and PII detectors (security/detectors.py) over what the user sent.

Settings `[guard]`: `injection` and `pii`, each `off | warn | block | redact` (default `warn`).

What is scanned: the text of user messages and of tool results, per client dialect:
  * `openai` (Chat Completions): `messages[]` with role `user` (string or `text` parts) and role
    `tool` / `function` (tool results);
  * `anthropic` (Messages): `messages[]` with role `user`: string content, `text` blocks, and
    `tool_result` blocks (their string or `text` content, tool results);
  * `gemini`: `contents[]` except role `model`: `text` parts, and every string inside
    `functionResponse.response` (tool results);
  * `responses`: `input` (a string, or user `message` items with `input_text` parts) and
    `*_output` items such as `function_call_output` (tool results).
System prompts (`system`, `developer`, `systemInstruction`, `instructions`) are the operator's
and assistant turns are the model's: neither is scanned. Delimiter spoofing is only looked for in
user-authored text, not in tool results (see detectors.py).

Modes per category:
  * `warn`: one structured warning per request (request id, dialect, counts per detector; the
    matched text is never logged) and the body passes unchanged;
  * `block`: GatewayError 400 `prompt_rejected` naming the detectors that fired, in the client's
    error format (also logged);
  * `redact`: each match becomes `[REDACTED:<kind>]` in the forwarded body; the JSON is
    re-serialised only when something matched (everything else is kept as parsed).
Bodies that are not JSON objects pass unchanged (the surfaces reject them themselves). A body
the guard cannot read although the core accepted it (nested deeper than the JSON parser allows,
say) is refused with 400 `prompt_unreadable` in `block` and `redact` modes, so it cannot carry
text past the guard; in `warn` mode it passes with a warning.
Detector results of long texts are cached by digest (re-sent history is not re-scanned); the
modes can change at run time (`reconfigure`, driven by `/api/security`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from omniroute import _core
from omniroute.errors import GatewayError
from omniroute.security.detectors import INJECTION, PII, PII_KINDS, Hit, find_injection
from omniroute.security.pii import find_pii, redact
from omniroute.settings import GuardMode, GuardSettings, Settings

log = logging.getLogger("omniroute.guard")

#: Texts at least this long have their detector results cached (by BLAKE2 digest), at most
#: CACHE_ENTRIES of them (least recently used dropped).
CACHE_MIN_CHARS = 512
CACHE_ENTRIES = 4096

#: Where a scanned string lives (so redaction can replace it), and whether the user wrote it.
Segment = tuple[dict[str, Any] | list[Any], str | int, str, bool]


class GuardResult(msgspec.Struct, frozen=True, kw_only=True):
    """What the detectors found in one body: counts per detector, per category."""

    injection: dict[str, int]
    pii: dict[str, int]

    @property
    def empty(self) -> bool:
        return not self.injection and not self.pii


def _list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else nothing to scan (the translator refuses other shapes,
    or the upstream does on a same-dialect passthrough)."""
    return value if isinstance(value, list) else []


def _text_parts(content: Any, kinds: tuple[str, ...], user: bool) -> Iterator[Segment]:
    """Segments of a string content or a list of `{"type": kind, "text": ...}` parts."""
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in kinds and isinstance(part.get("text"), str):
                yield part, "text", part["text"], user


def _strings(node: Any, user: bool, depth: int = 0) -> Iterator[Segment]:
    """Every string value nested in `node` (dict values and list items)."""
    if depth > 32:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield node, key, value, user
            elif isinstance(value, dict | list):
                yield from _strings(value, user, depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, str):
                yield node, i, value, user
            elif isinstance(value, dict | list):
                yield from _strings(value, user, depth + 1)


def _content(holder: dict[str, Any], key: str, kinds: tuple[str, ...], user: bool) -> Iterator[Segment]:
    value = holder.get(key)
    if isinstance(value, str):
        yield holder, key, value, user
    else:
        yield from _text_parts(value, kinds, user)


def _openai(body: dict[str, Any]) -> Iterator[Segment]:
    for msg in _list(body.get("messages")):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "user":
            yield from _content(msg, "content", ("text",), True)
        elif role in ("tool", "function"):
            yield from _content(msg, "content", ("text",), False)


def _anthropic(body: dict[str, Any]) -> Iterator[Segment]:
    for msg in _list(body.get("messages")):
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            yield msg, "content", content, True
            continue
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                yield block, "text", block["text"], True
            elif kind == "tool_result":
                yield from _content(block, "content", ("text",), False)


def _gemini(body: dict[str, Any]) -> Iterator[Segment]:
    for item in _list(body.get("contents")):
        if not isinstance(item, dict) or item.get("role") == "model":
            continue
        for part in _list(item.get("parts")):
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str) and not part.get("thought"):
                yield part, "text", part["text"], True
            response = part.get("functionResponse")
            if isinstance(response, dict) and isinstance(response.get("response"), dict | list):
                yield from _strings(response["response"], False)


def _responses(body: dict[str, Any]) -> Iterator[Segment]:
    items = body.get("input")
    if isinstance(items, str):
        yield body, "input", items, True
        return
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if item.get("role") == "user" and kind in (None, "message"):
            yield from _content(item, "content", ("input_text", "text"), True)
        elif isinstance(kind, str) and kind.endswith("_output"):
            output = item.get("output")
            if isinstance(output, str):
                yield item, "output", output, False
            else:
                yield from _text_parts(output, ("input_text", "output_text", "text"), False)


_EXTRACTORS: dict[str, Callable[[dict[str, Any]], Iterator[Segment]]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "responses": _responses,
}


def segments(body: dict[str, Any], dialect: str) -> list[Segment]:
    """The user-visible strings of a parsed request body of `dialect`."""
    extract = _EXTRACTORS.get(dialect)
    return list(extract(body)) if extract is not None else []


class PromptGuard:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: OrderedDict[tuple[bytes, bool], tuple[list[Hit], list[Hit]]] = OrderedDict()
        self.guard = settings.guard
        self.reconfigure(settings.guard)

    def reconfigure(self, guard: GuardSettings) -> None:
        """Applies new `[guard]` modes (the detector cache is dropped)."""
        self.guard = guard
        self.injection_mode: GuardMode = guard.injection
        self.pii_mode: GuardMode = guard.pii
        self._cache.clear()

    @property
    def enabled(self) -> bool:
        return self.injection_mode != "off" or self.pii_mode != "off"

    def scan(self, body: bytes, dialect: str) -> GuardResult:
        """Counts per detector (with the current modes' categories), without acting on them."""
        texts = self._texts(body, dialect)
        if texts is None:
            try:
                parsed = _decode(body)
            except _UnreadableError:
                parsed = None
            if parsed is None:
                return GuardResult(injection={}, pii={})
            texts = [(segment[2], segment[3]) for segment in segments(parsed, dialect)]
        return self._count(texts)[0]

    @staticmethod
    def _texts(body: bytes, dialect: str) -> list[tuple[str, bool]] | None:
        """The texts to scan, read by the core (one pass, nothing but the texts decoded: an
        image's base64 is stepped over); None when the core cannot read the body as an object."""
        if dialect not in _EXTRACTORS:
            return []
        return _core.prompt_texts(body, dialect)

    def _count(self, texts: Iterable[tuple[str, bool]]) -> tuple[GuardResult, list[list[Hit]]]:
        """Counts per detector over `texts`, and the hits of each text (in order)."""
        hits: list[list[Hit]] = []
        injection: Counter[str] | None = None
        pii: Counter[str] | None = None
        for text, user in texts:
            inj, personal = self._detect(text, user)
            hits.append([*inj, *personal])
            if inj or personal:
                if injection is None or pii is None:
                    injection, pii = Counter(), Counter()
                injection.update(h.kind for h in inj)
                pii.update(h.kind for h in personal)
        if injection is None or pii is None:  # the common case: nothing found
            return GuardResult(injection={}, pii={}), hits
        return GuardResult(injection=dict(injection), pii=dict(pii)), hits

    def _detect(self, text: str, user: bool) -> tuple[list[Hit], list[Hit]]:
        """Injection and PII hits of one text (per the modes), cached for long texts: agents
        send the whole conversation again on every turn."""
        key = None
        if len(text) >= CACHE_MIN_CHARS:
            digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            key = (digest, user)
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        inj = find_injection(text, user_authored=user) if self.injection_mode != "off" else []
        personal = find_pii(text) if self.pii_mode != "off" else []
        if key is not None:
            self._cache[key] = (inj, personal)
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return inj, personal

    def apply(self, body: bytes, dialect: str, *, request_id: str) -> bytes:
        """The body to forward (redacted when so configured); raises GatewayError to block."""
        if not self.enabled:
            return body
        parsed: dict[str, Any] | None = None
        texts = self._texts(body, dialect)
        if texts is None:  # not an object the core reads: the Python reader decides
            try:
                parsed = _decode(body)
            except _UnreadableError:
                return self._unreadable(body, request_id)
            if parsed is None:
                return body
            texts = [(segment[2], segment[3]) for segment in segments(parsed, dialect)]
        result, hits = self._count(texts)
        if result.empty:
            return body
        modes = {INJECTION: self.injection_mode, PII: self.pii_mode}
        counts = {INJECTION: result.injection, PII: result.pii}
        fired = {cat: counts[cat] for cat in (INJECTION, PII) if counts[cat]}
        blocking = [cat for cat in fired if modes[cat] == "block"]
        log.warning(
            "prompt guard: %s",
            "blocked" if blocking else "detected",
            extra={
                "fields": {
                    "request_id": request_id,
                    "dialect": dialect,
                    "guard": {cat: {"mode": modes[cat], "detectors": fired[cat]} for cat in fired},
                }
            },
        )
        if blocking:
            named = "; ".join(f"{cat}: {', '.join(sorted(fired[cat]))}" for cat in blocking)
            raise GatewayError(
                400,
                f"Request rejected by the prompt guard ({named})",
                code="prompt_rejected",
                error_type="invalid_request_error",
            )
        redacting = {cat for cat in fired if modes[cat] == "redact"}
        if not redacting:
            return body
        # Redaction edits the parsed body: the Python walk finds the texts again with the places
        # that hold them (long texts' detector results come from the cache).
        if parsed is None:
            parsed = _decode(body)
            assert parsed is not None
        places = segments(parsed, dialect)
        _, hits = self._count((place[2], place[3]) for place in places)
        changed = False
        for (holder, key, text, _user), text_hits in zip(places, hits, strict=True):
            chosen = [h for h in text_hits if _category(h.kind) in redacting]
            if chosen:
                holder[key] = redact(text, chosen)  # type: ignore[index]
                changed = True
        return _encode(parsed) if changed else body

    def _unreadable(self, body: bytes, request_id: str) -> bytes:
        strict = bool({"block", "redact"} & {self.injection_mode, self.pii_mode})
        log.warning(
            "prompt guard: unreadable body %s",
            "refused" if strict else "passed",
            extra={"fields": {"request_id": request_id}},
        )
        if strict:
            raise GatewayError(
                400,
                "Request rejected: the body is nested too deeply for the prompt guard to read it",
                code="prompt_unreadable",
                error_type="invalid_request_error",
            )
        return body


def _category(kind: str) -> str:
    return PII if kind in PII_KINDS else INJECTION


class _UnreadableError(Exception):
    """The body is JSON nested too deeply for the guard to parse."""


def _decode(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # msgspec refuses lone surrogate escapes ("\ud800") that the core and upstreams accept.
        try:
            parsed = json.loads(body)
        except ValueError:
            return None  # not JSON: the core reports it
        except RecursionError:
            raise _UnreadableError from None
    return parsed if isinstance(parsed, dict) else None


def _encode(parsed: dict[str, Any]) -> bytes:
    try:
        return msgspec.json.encode(parsed)
    except UnicodeEncodeError:  # lone surrogates: written back as \u escapes
        return json.dumps(parsed, separators=(",", ":")).encode()
