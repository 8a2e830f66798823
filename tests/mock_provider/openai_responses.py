"""OpenAI Responses protocol: `POST /v1/responses`.

Pure builders (`response_body`, `stream_events`) plus the aiohttp handler. Errors use the OpenAI
error shape of openai_chat. Output items come in a fixed order: reasoning, message, function calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import sse
from .common import request_seq
from .openai_chat import dumps, error_response, random_id, split_even
from .script import Script

# Script finish reasons that make the response "incomplete", with the reason Responses reports.
_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass(frozen=True)
class _Answer:
    """One scripted answer with its generated ids fixed, so stream and final object agree."""

    script: Script
    request_body: Mapping[str, Any]
    seq: int
    created_at: int
    reasoning_id: str
    message_id: str
    call_ids: tuple[tuple[str, str], ...]  # (item id, call_id) per tool call

    @classmethod
    def build(cls, script: Script, request_body: Mapping[str, Any], seq: int) -> _Answer:
        return cls(
            script=script,
            request_body=request_body,
            seq=seq,
            created_at=int(time.time()),
            reasoning_id=random_id("rs_"),
            message_id=random_id("msg_"),
            call_ids=tuple((random_id("fc_"), tc.id or random_id("call_")) for tc in script.tool_calls),
        )

    @property
    def incomplete_reason(self) -> str | None:
        return _INCOMPLETE_REASONS.get(self.script.finish_reason or "")

    def reasoning_item(self) -> dict[str, Any]:
        return {
            "id": self.reasoning_id,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": self.script.reasoning}],
            "encrypted_content": self.script.signature_for(self.seq),
        }

    def message_item(self, status: str | None = None) -> dict[str, Any]:
        content = [] if status == "in_progress" else [_text_part(self.script.text)]
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "status": status or ("incomplete" if self.incomplete_reason else "completed"),
            "content": content,
        }

    def call_items(self, status: str = "completed") -> list[dict[str, Any]]:
        return [
            {
                "id": item_id,
                "type": "function_call",
                "call_id": call_id,
                "name": tc.name,
                "arguments": "" if status == "in_progress" else tc.arguments,
                "status": status,
            }
            for tc, (item_id, call_id) in zip(self.script.tool_calls, self.call_ids, strict=True)
        ]

    def output(self) -> list[dict[str, Any]]:
        items = [self.reasoning_item()] if self.script.reasoning else []
        if self.script.text:
            items.append(self.message_item())
        items.extend(self.call_items())
        return items

    def usage(self) -> dict[str, Any]:
        tokens = self.script.tokens
        return {
            "input_tokens": tokens.prompt,
            "input_tokens_details": {"cached_tokens": tokens.cached},
            "output_tokens": tokens.completion,
            "output_tokens_details": {"reasoning_tokens": tokens.reasoning},
            "total_tokens": tokens.total,
        }

    def response(self, status: str | None = None, *, error: dict[str, Any] | None = None) -> dict[str, Any]:
        """The Response object; `status` None means the final (completed/incomplete) one."""
        reason = self.incomplete_reason
        final = status is None
        status = status or ("incomplete" if reason else "completed")
        body: dict[str, Any] = {
            "id": f"resp_mock_{self.seq}",
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.script.model or self.request_body.get("model") or "mock-model",
            "output": self.output() if final or status == "failed" else [],
            "usage": self.usage() if final else None,
            "error": error,
            "incomplete_details": {"reason": reason} if final and reason else None,
            "instructions": self.request_body.get("instructions"),
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "metadata": {},
            "temperature": None,
            "top_p": None,
        }
        body.update(self.script.extra_fields)
        return body


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def response_body(script: Script, request_body: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """The non-streaming Response object."""
    return _Answer.build(script, request_body, seq).response()


def stream_events(script: Script, request_body: Mapping[str, Any], seq: int) -> list[dict[str, Any]]:
    """Every stream event payload in order, with `sequence_number` from 0; `type` is the event name.

    Ends with response.completed, response.incomplete (finish_reason "length"/"content_filter")
    or, with `fail_midstream`, response.failed.
    """
    answer = _Answer.build(script, request_body, seq)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": answer.response("in_progress")},
        {"type": "response.in_progress", "response": answer.response("in_progress")},
    ]
    index = 0

    def item_events(added: dict[str, Any], inner: list[dict[str, Any]], done: dict[str, Any]) -> None:
        nonlocal index
        events.append({"type": "response.output_item.added", "output_index": index, "item": added})
        events.extend({**e, "item_id": added["id"], "output_index": index} for e in inner)
        events.append({"type": "response.output_item.done", "output_index": index, "item": done})
        index += 1

    if script.reasoning:
        item = answer.reasoning_item()
        summary = {"type": "summary_text", "text": script.reasoning}
        inner = [
            {
                "type": "response.reasoning_summary_part.added",
                "summary_index": 0,
                "part": {**summary, "text": ""},
            }
        ]
        inner.extend(
            {"type": "response.reasoning_summary_text.delta", "summary_index": 0, "delta": piece}
            for piece in split_even(script.reasoning, 2)
        )
        inner.append(
            {"type": "response.reasoning_summary_text.done", "summary_index": 0, "text": script.reasoning}
        )
        inner.append({"type": "response.reasoning_summary_part.done", "summary_index": 0, "part": summary})
        item_events({**item, "summary": [], "encrypted_content": None}, inner, item)
    if script.text:
        inner = [{"type": "response.content_part.added", "content_index": 0, "part": _text_part("")}]
        inner.extend(
            {"type": "response.output_text.delta", "content_index": 0, "delta": piece, "logprobs": []}
            for piece in split_even(script.text, script.chunks)
        )
        inner.append(
            {"type": "response.output_text.done", "content_index": 0, "text": script.text, "logprobs": []}
        )
        inner.append(
            {"type": "response.content_part.done", "content_index": 0, "part": _text_part(script.text)}
        )
        item_events(answer.message_item("in_progress"), inner, answer.message_item())
    for added, done in zip(answer.call_items("in_progress"), answer.call_items(), strict=True):
        inner = [
            {"type": "response.function_call_arguments.delta", "delta": piece}
            for piece in split_even(done["arguments"], 3)
        ]
        inner.append({"type": "response.function_call_arguments.done", "arguments": done["arguments"]})
        item_events(added, inner, done)

    if script.fail_midstream:
        error = {
            "code": script.error_code or "server_error",
            "message": script.error_message or "The mock provider failed mid-stream.",
        }
        events.append({"type": "response.failed", "response": answer.response("failed", error=error)})
    else:
        final = answer.response()
        events.append({"type": f"response.{final['status']}", "response": final})
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


async def handle(
    request: web.Request, body: Mapping[str, Any], script: Script, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Answer one POST /v1/responses according to `script`."""
    if script.is_error:
        return error_response(
            script.status,
            script.error_message,
            type_=script.error_type,
            code=script.error_code,
            raw_body=script.error_body,
            headers=headers,
        )
    seq = request_seq(request)
    if body.get("stream") is not True:
        response = web.Response(
            status=script.status,
            text=dumps(response_body(script, body, seq)),
            content_type="application/json",
        )
        response.headers.update(headers)
        return response
    events: list[tuple[str | None, str]] = [(e["type"], dumps(e)) for e in stream_events(script, body, seq)]
    return await sse.send_events(request, events, script, headers)
