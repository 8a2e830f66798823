"""Upstream failure classification: one explicit decision table for what the gateway does next.

`classify()` reduces an upstream failure (HTTP status, headers, body, or no answer at all) to a
`FailureKind`, then reads that kind's row of `TABLE` and computes the cooldown. `n` is the number of
consecutive failures of this (account, model) before this one.

    kind         upstream says                              same next next   cooldown (s)            scope   breaker
                                                                acct acct target
    RATE_LIMIT   429, 529; 5xx or "other 4xx" whose body    no   yes  yes    hint, else 1·2^n <= 120 model   5xx only
                 says rate limit, too many requests,
                 capacity, overloaded; Gemini
                 RESOURCE_EXHAUSTED (see below)
    QUOTA        402; 429, 401/403 or "other 4xx" whose     no   yes  yes    hint, else 3600         account no
                 body says insufficient_quota, quota,
                 billing, spend limit, credit balance
    AUTH         401/403 not matched above; "other 4xx"     no   yes  yes    120 (hints ignored)     account no
                 saying invalid API key.  Also sets
                 refresh_credentials (refresh once, retry once)
    TRANSIENT    408; 5xx not matched above; no answer      yes  yes  yes    hint, else 3·2^n <= 60  model   yes
                 (timeout, connect, protocol); status
                 < 400 or > 599
    NOT_FOUND    404; "other 4xx" saying the model does     no   no   yes    none                    -       no
                 not exist / is not found / not supported
    TOO_LARGE    413; "other 4xx" saying the prompt /       no   no   no     none                    -       no
                 context / request is too long or large
    BAD_REQUEST  400 and every other 4xx not matched above  no   no   no     none                    -       no

"Other 4xx" is any 4xx but 402/404/408/413/429; its body is tried in the order quota, rate limit, auth,
not found, too large.  401/403 bodies are tried for quota, then rate limit, else AUTH.

Choices made where the brief leaves room:

* Transient backoff uses 3 s·2^n (PARITY allows 3–5 s).
* Upstream hints (`retry_after_seconds`) set the cooldown of RATE_LIMIT, QUOTA and TRANSIENT
  (`hinted=True`); AUTH is always 120 s.  Retry-After is never replaced by a fixed delay, and rate-limit
  cooldowns are scoped to (account, model) - the inverse of the original's defect 5.
* Structured codes beat free text: OpenAI's `rate_limit_exceeded` message links to the billing page, so
  the word "billing" there must not turn a rate limit into a quota.  When free text alone hints both
  a rate limit and a quota, the rate limit wins (the cheaper, shorter mistake).
* Gemini uses RESOURCE_EXHAUSTED for both.  A `QuotaFailure` whose quota id is per day means QUOTA;
  a `RetryInfo` or a per-minute quota id means RATE_LIMIT; otherwise billing / "check your plan" in the
  message means QUOTA and anything else ("check quota") RATE_LIMIT.  A QUOTA whose quota id is per
  model is scoped to the model, since the account's other models keep their own quota.
* `refresh_credentials` is set for every AUTH; the gateway acts on it only for providers whose
  credentials can be refreshed (OAuth), and only once per request.
* `counts_for_breaker`: TRANSIENT always (408 included: the upstream timed out), RATE_LIMIT only when it
  came as a 5xx (529, 503 "overloaded"); 4xx answers never count.
"""

from __future__ import annotations

import enum
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Any, Final, Literal

import msgspec

__all__ = [
    "MAX_HINT_SECONDS",
    "TABLE",
    "Decision",
    "FailureKind",
    "Policy",
    "classify",
    "retry_after_seconds",
]

Scope = Literal["model", "account"]
TransportError = Literal["timeout", "connect", "protocol"]


class FailureKind(enum.StrEnum):
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    AUTH = "auth"
    TRANSIENT = "transient"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the gateway does after one failed attempt."""

    kind: FailureKind
    retry_same_account: bool
    next_account: bool
    next_target: bool
    cooldown: float | None
    cooldown_scope: Scope | None
    refresh_credentials: bool
    counts_for_breaker: bool
    hinted: bool


@dataclass(frozen=True, slots=True)
class Policy:
    """One row of the decision table.

    Cooldown: the upstream's hint when `honours_hint` and one is given; else `base·2^n` capped at `cap`
    when `cap` is set; else `base` (None: no cooldown).
    """

    retry_same_account: bool
    next_account: bool
    next_target: bool
    refresh_credentials: bool
    scope: Scope | None
    base: float | None
    cap: float | None
    honours_hint: bool


TABLE: Final[Mapping[FailureKind, Policy]] = MappingProxyType(
    {
        FailureKind.RATE_LIMIT: Policy(False, True, True, False, "model", 1.0, 120.0, True),
        FailureKind.QUOTA: Policy(False, True, True, False, "account", 3600.0, None, True),
        FailureKind.AUTH: Policy(False, True, True, True, "account", 120.0, None, False),
        FailureKind.TRANSIENT: Policy(True, True, True, False, "model", 3.0, 60.0, True),
        FailureKind.NOT_FOUND: Policy(False, False, True, False, None, None, None, False),
        FailureKind.TOO_LARGE: Policy(False, False, False, False, None, None, None, False),
        FailureKind.BAD_REQUEST: Policy(False, False, False, False, None, None, None, False),
    }
)

#: Hints longer than this are treated as garbage (an epoch timestamp, a unit mix-up).
MAX_HINT_SECONDS: Final = 86_400.0
#: Error messages and plain-text bodies (proxy error pages) are only scanned this far.
_TEXT_LIMIT = 4096
#: 2**_MAX_EXPONENT already exceeds every cap; keeps huge `n` from overflowing.
_MAX_EXPONENT = 32


# --------------------------------------------------------------------------------------------------
# Reading the body


@dataclass(frozen=True, slots=True)
class _Body:
    codes: frozenset[str]  # lower-cased error type / code / Gemini status / ErrorInfo reasons
    text: str  # lower-cased message, or the plain-text body
    details: tuple[Mapping[str, Any], ...]  # Gemini `error.details`

    @property
    def quota_ids(self) -> list[str]:
        ids: list[str] = []
        for detail in self.details:
            if str(detail.get("@type", "")).endswith("google.rpc.QuotaFailure"):
                violations = detail.get("violations")
                for violation in violations if isinstance(violations, list) else ():
                    if isinstance(violation, dict) and isinstance(violation.get("quotaId"), str):
                        ids.append(violation["quotaId"].lower())
        return ids

    def has_detail(self, suffix: str) -> bool:
        return any(str(detail.get("@type", "")).endswith(suffix) for detail in self.details)


_EMPTY_BODY = _Body(frozenset(), "", ())


def _read_body(body: bytes) -> _Body:
    if not body:
        return _EMPTY_BODY
    try:
        doc: Any = msgspec.json.decode(body)
    except (msgspec.MsgspecError, RecursionError, ValueError, TypeError):
        try:
            text = bytes(body[:_TEXT_LIMIT]).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return _EMPTY_BODY
        return _Body(frozenset(), text.lower(), ())
    if isinstance(doc, list):  # Gemini streaming endpoints wrap the error in an array
        doc = doc[0] if doc else None
    if isinstance(doc, str):
        return _Body(frozenset(), doc[:_TEXT_LIMIT].lower(), ())
    if not isinstance(doc, dict):
        return _EMPTY_BODY
    err = doc.get("error")
    obj: dict[str, Any] = err if isinstance(err, dict) else doc
    messages = [obj.get("message"), err, doc.get("message"), doc.get("detail")]
    text = " ".join(dict.fromkeys(m for m in messages if isinstance(m, str)))[:_TEXT_LIMIT]
    codes = {v.lower() for v in (obj.get("type"), obj.get("code"), obj.get("status")) if isinstance(v, str)}
    raw_details = obj.get("details")
    details = tuple(d for d in raw_details if isinstance(d, dict)) if isinstance(raw_details, list) else ()
    for detail in details:
        if isinstance(detail.get("reason"), str):
            codes.add(detail["reason"].lower())
    return _Body(frozenset(codes), text.lower(), details)


# --------------------------------------------------------------------------------------------------
# What the body says

_RATE_CODES = frozenset(
    {
        "rate_limit_exceeded",
        "rate_limit_error",
        "overloaded_error",
        "rate_limited",
        "too_many_requests",
        "throttlingexception",
        "rate_limit_reached",
    }
)
_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "billing_error",
        "billing_hard_limit_reached",
        "billing_not_active",
        "billing_disabled",
        "quota_exceeded",
        "insufficient_balance",
        "insufficient_credits",
        "payment_required",
    }
)
_AUTH_CODES = frozenset(
    {
        "authentication_error",
        "permission_error",
        "invalid_api_key",
        "invalid_authentication",
        "unauthenticated",
        "permission_denied",
        "api_key_invalid",
    }
)
_NOT_FOUND_CODES = frozenset({"not_found_error", "model_not_found", "not_found"})
_TOO_LARGE_CODES = frozenset({"request_too_large", "context_length_exceeded"})

_RATE_TEXT = re.compile(
    r"too many requests|rate[ _-]?limit|overloaded|capacity|resources? (?:has been |have been )?exhausted"
    r"|throttl|high demand|concurrency limit"
)
_QUOTA_TEXT = re.compile(
    r"quota|spend(?:ing)? limit|billing|credit balance|insufficient (?:credits?|funds|balance)"
    r"|out of credits|payment required|check your plan"
)
_GEMINI_BILLING_TEXT = re.compile(r"billing|check your plan|credit|prepa(?:y|id)|payment")
_AUTH_TEXT = re.compile(
    r"api[ _-]?key (?:is )?(?:not valid|invalid|expired|revoked)|invalid[ _-](?:api[ _-]?key|x-api-key|token"
    r"|credentials?|authentication)|incorrect api key|unauthori[sz]ed|unauthenticated"
    r"|(?:token|credentials?) (?:has |have )?expired|authentication (?:failed|required)"
)
#: Up to n characters within one sentence (a dot inside a name such as `gpt-4.1` does not end it).
_SAME_SENTENCE = r"(?:[^.\n]|\.(?=\S))"
_NOT_FOUND_TEXT = re.compile(
    rf"\bmodels?\b{_SAME_SENTENCE}{{0,80}}?(?:does not exist|doesn't exist|not found|not supported|not available"
    r"|unavailable|unsupported)|(?:unknown|invalid|unsupported|no such) model\b"
)
_TOO_LARGE_TEXT = re.compile(
    r"prompt is too long|input is too long|maximum context length|context[ _-]length|context window"
    r"|request[ _]too[ _]large|payload too large|request entity too large"
    rf"|exceeds? the (?:maximum|max|limit){_SAME_SENTENCE}{{0,40}}tokens|token count{_SAME_SENTENCE}{{0,40}}exceeds"
)


@dataclass(frozen=True, slots=True)
class _Evidence:
    rate: bool
    quota: bool
    auth: bool
    not_found: bool
    too_large: bool
    per_model_quota: bool


def _evidence(body: _Body) -> _Evidence:
    codes, text = body.codes, body.text
    rate = bool(codes & _RATE_CODES)
    quota = bool(codes & _QUOTA_CODES)
    quota_ids = body.quota_ids
    if "resource_exhausted" in codes and not (rate or quota):
        # Gemini: one status for per-minute limits and exhausted quotas alike.
        if any("perday" in q for q in quota_ids):
            quota = True
        elif body.has_detail("google.rpc.RetryInfo") or any("perminute" in q for q in quota_ids):
            rate = True
        elif _GEMINI_BILLING_TEXT.search(text):
            quota = True
        else:
            rate = True
    if not (rate or quota):  # free text only when nothing structured decided it
        rate = bool(_RATE_TEXT.search(text))
        quota = not rate and bool(_QUOTA_TEXT.search(text))
    return _Evidence(
        rate=rate,
        quota=quota,
        auth=bool(codes & _AUTH_CODES) or bool(_AUTH_TEXT.search(text)),
        not_found=bool(codes & _NOT_FOUND_CODES) or bool(_NOT_FOUND_TEXT.search(text)),
        too_large=bool(codes & _TOO_LARGE_CODES) or bool(_TOO_LARGE_TEXT.search(text)),
        per_model_quota=quota and any("permodel" in q for q in quota_ids),
    )


def _kind(status: int | None, ev: _Evidence) -> FailureKind:
    if status is None or status < 400 or status > 599:
        return FailureKind.TRANSIENT  # no answer, or not an error answer we understand
    if status == 529:
        return FailureKind.RATE_LIMIT
    if status == 402:
        return FailureKind.QUOTA
    if status == 429:
        return FailureKind.QUOTA if ev.quota else FailureKind.RATE_LIMIT
    if status >= 500:
        return FailureKind.RATE_LIMIT if ev.rate else FailureKind.TRANSIENT
    if status == 404:
        return FailureKind.NOT_FOUND
    if status == 413:
        return FailureKind.TOO_LARGE
    if status == 408:
        return FailureKind.TRANSIENT
    if ev.quota:
        return FailureKind.QUOTA
    if ev.rate:
        return FailureKind.RATE_LIMIT
    if status in (401, 403) or ev.auth:
        return FailureKind.AUTH
    if ev.not_found:
        return FailureKind.NOT_FOUND
    if ev.too_large:
        return FailureKind.TOO_LARGE
    return FailureKind.BAD_REQUEST


# --------------------------------------------------------------------------------------------------
# The decision


def classify(
    status: int | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    failures_so_far: int,
    error: TransportError | None = None,
    now: float | None = None,
) -> Decision:
    """Decide what follows a failed upstream attempt.

    `status` None means no HTTP answer arrived (`error` says why; all such failures are transient).
    `failures_so_far` is `n` of the backoff: consecutive failures of this account/model before this one.
    """
    parsed = _read_body(body)
    ev = _evidence(parsed)
    kind = _kind(status, ev)
    row = TABLE[kind]

    cooldown: float | None = None
    hinted = False
    if row.honours_hint:
        moment = time.time() if now is None else now
        cooldown = _retry_after(_lower_headers(headers), parsed, moment)
        hinted = cooldown is not None
    if cooldown is None and row.base is not None:
        if row.cap is None:
            cooldown = row.base
        else:
            exponent = min(max(failures_so_far, 0), _MAX_EXPONENT)
            cooldown = min(row.base * 2.0**exponent, row.cap)

    scope = row.scope
    if kind is FailureKind.QUOTA and ev.per_model_quota:
        scope = "model"

    if kind is FailureKind.TRANSIENT:
        breaker = True
    elif kind is FailureKind.RATE_LIMIT:
        breaker = status is not None and status >= 500
    else:
        breaker = False

    return Decision(
        kind=kind,
        retry_same_account=row.retry_same_account,
        next_account=row.next_account,
        next_target=row.next_target,
        cooldown=cooldown,
        cooldown_scope=scope if cooldown is not None else None,
        refresh_credentials=row.refresh_credentials,
        counts_for_breaker=breaker,
        hinted=hinted,
    )


# --------------------------------------------------------------------------------------------------
# The upstream's own retry hint


def retry_after_seconds(headers: Mapping[str, str], body: bytes, *, now: float) -> float | None:
    """Seconds the upstream asks us to wait, or None.

    First usable source wins: `retry-after-ms`; `retry-after` (seconds or HTTP date);
    `x-ratelimit-reset-{requests,tokens}` (Go durations); `anthropic-ratelimit-*-reset` (RFC 3339);
    Gemini `RetryInfo.retryDelay`; "try again in 20s"-style phrases in the message. Within a rate-limit
    header family only limits whose `remaining` is 0 or absent count, and the longest reset among them
    wins (all of them must have reset). Negative, non-finite or > 1 day values are skipped.
    """
    return _retry_after(_lower_headers(headers), _read_body(body), now)


def _retry_after(headers: Mapping[str, str], body: _Body, now: float) -> float | None:
    for value in (
        _sane(_number(headers.get("retry-after-ms"), 0.001)),
        _retry_after_header(headers.get("retry-after"), now),
        _family(headers, "x-ratelimit-reset-{}", "x-ratelimit-remaining-{}", ("requests", "tokens"), None),
        _family(
            headers,
            "anthropic-ratelimit-{}-reset",
            "anthropic-ratelimit-{}-remaining",
            ("requests", "tokens", "input-tokens", "output-tokens"),
            now,
        ),
        _retry_info(body),
        _message_hint(body.text),
    ):
        if value is not None:
            return value
    return None


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        items: Iterable[tuple[object, object]] = list(headers.items())
    except (AttributeError, TypeError, ValueError):
        return out
    for name, value in items:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(name, str) and isinstance(value, str):
            out.setdefault(name.strip().lower(), value.strip())
    return out


def _sane(seconds: float | None) -> float | None:
    if seconds is None or not math.isfinite(seconds) or seconds < 0 or seconds > MAX_HINT_SECONDS:
        return None
    return seconds


def _number(value: str | None, scale: float = 1.0) -> float | None:
    if not value:
        return None
    try:
        return float(value) * scale
    except (ValueError, OverflowError):
        return None


def _retry_after_header(value: str | None, now: float) -> float | None:
    if not value:
        return None
    seconds = _number(value)
    if seconds is None:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = _since(when, now)
    return _sane(seconds)


def _since(when: datetime, now: float) -> float | None:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp() - now
    except (OverflowError, OSError, ValueError):
        return None


def _rfc3339(value: str, now: float) -> float | None:
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        return _since(datetime.fromisoformat(text), now)
    except ValueError:
        return None


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(h|ms|us|µs|ns|m|s)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern}\s*)+")
_UNIT_SECONDS: Final[Mapping[str, float]] = MappingProxyType(
    {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
)


def _duration(value: object) -> float | None:
    """Go-style durations (`1s`, `6m0s`, `20ms`, `1h2m3.5s`); a bare number means seconds."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if _DURATION.fullmatch(text):
        return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    return _number(text)


def _family(
    headers: Mapping[str, str],
    reset_name: str,
    remaining_name: str,
    limits: tuple[str, ...],
    now: float | None,
) -> float | None:
    """Longest reset among the family's limits that are spent (remaining 0) or unreported."""
    found: list[float] = []
    for limit in limits:
        reset = headers.get(reset_name.format(limit))
        if not reset:
            continue
        remaining = _number(headers.get(remaining_name.format(limit)))
        if remaining is not None and remaining > 0:
            continue
        seconds = _sane(_duration(reset) if now is None else _rfc3339(reset, now))
        if seconds is not None:
            found.append(seconds)
    return max(found) if found else None


def _retry_info(body: _Body) -> float | None:
    for detail in body.details:
        if not str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, dict):  # the protobuf object form {"seconds": 30, "nanos": 0}
            seconds = _number(str(delay.get("seconds", 0)))
            nanos = _number(str(delay.get("nanos", 0)))
            value = None if seconds is None or nanos is None else seconds + nanos * 1e-9
        else:
            value = _duration(delay)
        if (value := _sane(value)) is not None:
            return value
    return None


_UNIT_WORDS = (
    r"milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h"  # longest alternatives first
)
_MESSAGE_HINT = re.compile(
    rf"(?:try again|retry|reset)\s+(?:in|after)\s+((?:\d+(?:\.\d+)?\s*(?:{_UNIT_WORDS})(?![a-z])\s*(?:and\s+|,\s*)?)+)"
)
_MESSAGE_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT_WORDS})(?![a-z])")


def _unit_seconds(unit: str) -> float:
    if unit.startswith(("ms", "msec", "milli")):
        return 1e-3
    if unit.startswith("h"):
        return 3600.0
    if unit.startswith("m"):
        return 60.0
    return 1.0


def _message_hint(text: str) -> float | None:
    for match in _MESSAGE_HINT.finditer(text):
        parts = _MESSAGE_PART.findall(match.group(1))
        value = _sane(sum(float(n) * _unit_seconds(u) for n, u in parts))
        if value is not None:
            return value
    return None
