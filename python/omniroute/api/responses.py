"""OpenAI Responses: `POST /v1/responses`, `GET /v1/responses/{id}`.

`previous_response_id` is served from stored responses: the stored input and output are put
in front of the new input before translation, so any upstream dialect can continue the
conversation. Answers are stored unless the client sends `store: false`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import msgspec

from omniroute.errors import GatewayError
from omniroute.gateway import CallSpec, Gateway
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.security.auth import authenticate
from omniroute.store.responses_store import ResponsesStore, StoredResponse

ROUTE = "/v1/responses"
ITEM_PREFIX = "/v1/responses/"


def _input_items(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return list(value)
    return []


class _Conversation:
    """One call's view of the stored conversation it continues."""

    def __init__(self, store: ResponsesStore) -> None:
        self.store = store
        self.keep = True
        self.input: list[Any] = []

    async def prepare(self, body: bytes) -> bytes:
        try:
            doc = msgspec.json.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return body  # the core reports the malformed body precisely
        if not isinstance(doc, dict):
            return body
        self.keep = doc.get("store", True) is not False
        items = _input_items(doc.get("input"))
        previous_id = doc.get("previous_response_id")
        if previous_id is None:
            self.input = items
            return body
        if not isinstance(previous_id, str):
            raise GatewayError(400, "'previous_response_id' must be a string", param="previous_response_id")
        previous = await self.store.get(previous_id)
        if previous is None:
            raise GatewayError(
                400,
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        output = previous.response.get("output")
        self.input = [*previous.input, *(output if isinstance(output, list) else []), *items]
        doc["input"] = self.input
        del doc["previous_response_id"]
        return msgspec.json.encode(doc)

    def complete(self, final: bytes) -> None:
        if not self.keep:
            return
        doc = msgspec.json.decode(final)
        if isinstance(doc, dict) and doc.get("type") in ("response.completed", "response.incomplete"):
            doc = doc.get("response")
        if isinstance(doc, dict) and isinstance(doc.get("id"), str):
            self.store.put(
                StoredResponse(id=doc["id"], created_at=time.time(), input=self.input, response=doc)
            )


def make_responses(gateway: Gateway, store: ResponsesStore) -> tuple[Handler, Handler]:
    async def create_response(req: Request) -> None:
        conversation = _Conversation(store)
        spec = CallSpec(
            "responses",
            ROUTE,
            response_id="resp_" + secrets.token_hex(16),
            prepare=conversation.prepare,
            on_complete=conversation.complete,
        )
        await gateway.handle(req, spec)

    async def get_response(req: Request) -> None:
        try:
            authenticate(req, gateway.rt, required=gateway.settings.require_api_key)
            response_id = req.path.removeprefix(ITEM_PREFIX)
            entry = await store.get(response_id) if response_id and "/" not in response_id else None
            if entry is None:
                raise GatewayError(404, f"No response found with id '{response_id}'.", code="not_found")
        except GatewayError as exc:
            gateway.answer_error(req, "responses", exc)
            return
        req.respond(200, msgspec.json.encode(entry.response))

    return create_response, get_response
