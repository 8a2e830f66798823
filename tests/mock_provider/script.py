"""Script: the parsed, validated description of what the mock's next response does.

Owns field names, defaults and validation; protocol handlers only read a Script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_TEXT = "Hello from the mock provider."
USAGE_KEYS = frozenset({"prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens"})


@dataclass(frozen=True)
class ToolCallSpec:
    """One tool call the mock should emit; `id` is generated when None."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True)
class Tokens:
    """Usage in OpenAI terms: `prompt` includes `cached`, `completion` includes `reasoning`."""

    prompt: int
    completion: int
    cached: int
    reasoning: int

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(frozen=True)
class Script:
    """What one response looks like. Every field is optional in the dict form.

    Cross-dialect fields: `reasoning` (non-empty -> the answer opens with reasoning/thinking
    content, two deltas when streamed), `signature` (the opaque token attached to that
    reasoning; None -> "sig-mock-<n>" where n is the request's sequence number) and
    `fail_midstream` (streams end with the dialect's in-band error instead of finishing).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_ms: float = 0.0
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_body: str | None = None
    text: str = DEFAULT_TEXT
    chunks: int = 4
    chunk_delay_ms: float = 0.0
    first_byte_delay_ms: float = 0.0
    tool_calls: tuple[ToolCallSpec, ...] = ()
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    extra_fields: dict[str, Any] = field(default_factory=dict)
    extra_choice_fields: dict[str, Any] = field(default_factory=dict)
    cut_after: int | None = None
    omit_done: bool = False
    crlf: bool = False
    split_bytes: int | None = None
    model: str | None = None
    reasoning: str = ""
    signature: str | None = None
    fail_midstream: bool = False

    @property
    def is_error(self) -> bool:
        return not 200 <= self.status < 300

    @property
    def tokens(self) -> Tokens:
        """Token counts in OpenAI terms; each dialect maps them to its own usage fields."""
        reasoning = self.usage.get("reasoning_tokens", len(self.reasoning.split()))
        default_completion = (len(self.text.split()) or 5) + len(self.reasoning.split())
        return Tokens(
            prompt=self.usage.get("prompt_tokens", 11),
            completion=self.usage.get("completion_tokens", default_completion),
            cached=self.usage.get("cached_tokens", 0),
            reasoning=reasoning,
        )

    def signature_for(self, seq: int) -> str:
        """The reasoning signature: the scripted one, else `sig-mock-<seq>`."""
        return self.signature if self.signature is not None else f"sig-mock-{seq}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Script:
        """Build a Script from its JSON form; raises TypeError/ValueError on bad fields."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise TypeError(f"mock script must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown mock script field(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = dict(data)
        if "headers" in kwargs:
            kwargs["headers"] = {str(k): str(v) for k, v in _mapping(data, "headers").items()}
        if "tool_calls" in kwargs:
            kwargs["tool_calls"] = tuple(_tool_call(tc) for tc in data["tool_calls"] or ())
        if "usage" in kwargs:
            kwargs["usage"] = {str(k): int(v) for k, v in _mapping(data, "usage").items()}
        for name in ("extra_fields", "extra_choice_fields"):
            if name in kwargs:
                kwargs[name] = dict(_mapping(data, name))
        script = cls(**kwargs)
        script._validate()
        return script

    def _validate(self) -> None:
        if not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise ValueError(f"mock script status must be an int in 100..599: {self.status!r}")
        if not isinstance(self.text, str):
            raise TypeError("mock script text must be a string")
        if not isinstance(self.reasoning, str):
            raise TypeError("mock script reasoning must be a string")
        if self.signature is not None and not isinstance(self.signature, str):
            raise TypeError("mock script signature must be a string")
        if not isinstance(self.fail_midstream, bool):
            raise TypeError("mock script fail_midstream must be a boolean")
        if not isinstance(self.chunks, int) or self.chunks < 1:
            raise ValueError("mock script chunks must be an int >= 1")
        if self.cut_after is not None and (not isinstance(self.cut_after, int) or self.cut_after < 0):
            raise ValueError("mock script cut_after must be an int >= 0")
        if self.split_bytes is not None and (not isinstance(self.split_bytes, int) or self.split_bytes < 1):
            raise ValueError("mock script split_bytes must be an int >= 1")
        bad_usage = sorted(set(self.usage) - USAGE_KEYS)
        if bad_usage:
            raise ValueError(f"unknown mock usage field(s): {', '.join(bad_usage)}")
        for name in ("delay_ms", "chunk_delay_ms", "first_byte_delay_ms"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"mock script {name} must be a number >= 0")


def _mapping(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data[name]
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"mock script {name} must be an object")
    return value


def _tool_call(raw: Any) -> ToolCallSpec:
    if isinstance(raw, ToolCallSpec):
        return raw
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise TypeError("each mock tool call needs at least a string 'name'")
    extra = set(raw) - {"name", "arguments", "id"}
    if extra:
        raise ValueError(f"unknown mock tool call field(s): {', '.join(sorted(extra))}")
    arguments = raw.get("arguments", "{}")
    if not isinstance(arguments, str):
        raise TypeError("mock tool call 'arguments' must be JSON text (a string)")
    call_id = raw.get("id")
    return ToolCallSpec(name=raw["name"], arguments=arguments, id=None if call_id is None else str(call_id))
