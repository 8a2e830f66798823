"""One adapter per client SDK, so the dialect matrix drives all four the same way.

Each adapter speaks to the gateway only through its official SDK (openai chat, openai
responses, anthropic, google-genai) and returns what the SDK parsed, normalised into `Answer`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}


@dataclass
class Call:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Answer:
    text: str = ""
    reasoning: str = ""
    calls: list[Call] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None


class ClientAdapter(Protocol):
    dialect: str

    def ask(
        self, model: str, prompt: str, *, stream: bool, tools: bool = False, think: bool = False
    ) -> Answer: ...

    def follow_up(self, model: str, prompt: str, call: Call, result: str, *, stream: bool) -> Answer: ...


# OpenAI Chat Completions -------------------------------------------------------------------
class ChatAdapter:
    dialect = "openai"

    def __init__(self, base_url: str, key: str) -> None:
        self.client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=20)

    def _tools(self) -> list[Any]:
        return [{"type": "function", "function": WEATHER_TOOL}]

    def _run(self, model: str, messages: list[Any], *, stream: bool, tools: bool, think: bool) -> Answer:
        kwargs: dict[str, Any] = {"model": model, "messages": messages}
        if tools:
            kwargs["tools"] = self._tools()
        if think:
            kwargs["reasoning_effort"] = "low"
        answer = Answer()
        if not stream:
            resp = self.client.chat.completions.create(**kwargs)
            msg = resp.choices[0].message
            answer.text = msg.content or ""
            answer.reasoning = (msg.model_extra or {}).get("reasoning_content") or ""
            for tc in msg.tool_calls or []:
                answer.calls.append(Call(tc.id, tc.function.name, json.loads(tc.function.arguments or "{}")))
            if resp.usage:
                answer.input_tokens, answer.output_tokens = (
                    resp.usage.prompt_tokens,
                    resp.usage.completion_tokens,
                )
            return answer
        calls: dict[int, dict[str, str]] = {}
        for chunk in self.client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        ):
            if chunk.usage:
                answer.input_tokens = chunk.usage.prompt_tokens
                answer.output_tokens = chunk.usage.completion_tokens
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            answer.text += delta.content or ""
            answer.reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
            for tc in delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                if tc.function:
                    slot["name"] = tc.function.name or slot["name"]
                    slot["arguments"] += tc.function.arguments or ""
        answer.calls = [
            Call(c["id"], c["name"], json.loads(c["arguments"] or "{}")) for _, c in sorted(calls.items())
        ]
        return answer

    def ask(
        self, model: str, prompt: str, *, stream: bool, tools: bool = False, think: bool = False
    ) -> Answer:
        return self._run(
            model, [{"role": "user", "content": prompt}], stream=stream, tools=tools, think=think
        )

    def follow_up(self, model: str, prompt: str, call: Call, result: str, *, stream: bool) -> Answer:
        messages = [
            {"role": "user", "content": prompt},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": result},
        ]
        return self._run(model, messages, stream=stream, tools=True, think=False)


# OpenAI Responses ----------------------------------------------------------------------------
class ResponsesAdapter:
    dialect = "responses"

    def __init__(self, base_url: str, key: str) -> None:
        self.client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=20)
        self.last_response_id: str | None = None

    @staticmethod
    def _answer(resp: Any) -> Answer:
        answer = Answer()
        for item in resp.output:
            if item.type == "message":
                answer.text += "".join(c.text for c in item.content if c.type == "output_text")
            elif item.type == "reasoning":
                answer.reasoning += "".join(s.text for s in item.summary)
            elif item.type == "function_call":
                answer.calls.append(Call(item.call_id, item.name, json.loads(item.arguments or "{}")))
        if resp.usage:
            answer.input_tokens, answer.output_tokens = resp.usage.input_tokens, resp.usage.output_tokens
        return answer

    def _run(
        self, model: str, input_items: Any, *, stream: bool, tools: bool, think: bool, **extra: Any
    ) -> Answer:
        kwargs: dict[str, Any] = {"model": model, "input": input_items, **extra}
        if tools:
            kwargs["tools"] = [{"type": "function", **WEATHER_TOOL}]
        if think:
            kwargs["reasoning"] = {"effort": "low", "summary": "auto"}
        if not stream:
            resp = self.client.responses.create(**kwargs)
            self.last_response_id = resp.id
            return self._answer(resp)
        final = None
        streamed_text = ""
        for event in self.client.responses.create(**kwargs, stream=True):
            if event.type == "response.output_text.delta":
                streamed_text += event.delta
            elif event.type in ("response.completed", "response.incomplete"):
                final = event.response
            elif event.type in ("response.failed", "error"):
                raise openai.APIError(f"stream failed: {event}", request=None, body=None)  # type: ignore[arg-type]
        assert final is not None, "stream ended without response.completed"
        self.last_response_id = final.id
        answer = self._answer(final)
        assert answer.text == streamed_text, (answer.text, streamed_text)
        return answer

    def ask(
        self, model: str, prompt: str, *, stream: bool, tools: bool = False, think: bool = False
    ) -> Answer:
        return self._run(model, prompt, stream=stream, tools=tools, think=think)

    def follow_up(self, model: str, prompt: str, call: Call, result: str, *, stream: bool) -> Answer:
        items = [
            {"role": "user", "content": prompt},
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            },
            {"type": "function_call_output", "call_id": call.id, "output": result},
        ]
        return self._run(model, items, stream=stream, tools=True, think=False)


# Anthropic Messages --------------------------------------------------------------------------
class AnthropicAdapter:
    dialect = "anthropic"

    def __init__(self, base_url: str, key: str) -> None:
        self.client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0, timeout=20)

    def _run(self, model: str, messages: list[Any], *, stream: bool, tools: bool, think: bool) -> Answer:
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": 512}
        if tools:
            kwargs["tools"] = [
                {
                    "name": WEATHER_TOOL["name"],
                    "description": WEATHER_TOOL["description"],
                    "input_schema": WEATHER_TOOL["parameters"],
                }
            ]
        if think:
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": 1024}
            kwargs["max_tokens"] = 2048
        if stream:
            with self.client.messages.stream(**kwargs) as s:
                message = s.get_final_message()
        else:
            message = self.client.messages.create(**kwargs)
        answer = Answer(input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens)
        for block in message.content:
            if block.type == "text":
                answer.text += block.text
            elif block.type == "thinking":
                answer.reasoning += block.thinking
            elif block.type == "tool_use":
                answer.calls.append(Call(block.id, block.name, dict(block.input)))  # type: ignore[arg-type]
        return answer

    def ask(
        self, model: str, prompt: str, *, stream: bool, tools: bool = False, think: bool = False
    ) -> Answer:
        return self._run(
            model, [{"role": "user", "content": prompt}], stream=stream, tools=tools, think=think
        )

    def follow_up(self, model: str, prompt: str, call: Call, result: str, *, stream: bool) -> Answer:
        messages = [
            {"role": "user", "content": prompt},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": result}]},
        ]
        return self._run(model, messages, stream=stream, tools=True, think=False)


# Google Gemini -------------------------------------------------------------------------------
class GeminiAdapter:
    dialect = "gemini"

    def __init__(self, base_url: str, key: str) -> None:
        self.client = genai.Client(
            api_key=key,
            http_options=gtypes.HttpOptions(base_url=base_url, api_version="v1beta", timeout=20_000),
        )

    def _config(self, *, tools: bool, think: bool) -> gtypes.GenerateContentConfig:
        config = gtypes.GenerateContentConfig(
            automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True)
        )
        if tools:
            config.tools = [
                gtypes.Tool(
                    function_declarations=[
                        gtypes.FunctionDeclaration(
                            name=WEATHER_TOOL["name"],
                            description=WEATHER_TOOL["description"],
                            parameters_json_schema=WEATHER_TOOL["parameters"],
                        )
                    ]
                )
            ]
        if think:
            config.thinking_config = gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
        return config

    def _run(self, model: str, contents: Any, *, stream: bool, tools: bool, think: bool) -> Answer:
        config = self._config(tools=tools, think=think)
        responses = (
            list(self.client.models.generate_content_stream(model=model, contents=contents, config=config))
            if stream
            else [self.client.models.generate_content(model=model, contents=contents, config=config)]
        )
        answer = Answer()
        for resp in responses:
            for cand in resp.candidates or []:
                for part in (cand.content.parts if cand.content else None) or []:
                    if part.thought and part.text:
                        answer.reasoning += part.text
                    elif part.text:
                        answer.text += part.text
                    elif part.function_call:
                        fc = part.function_call
                        answer.calls.append(Call(fc.id or fc.name or "", fc.name or "", dict(fc.args or {})))
            if resp.usage_metadata and resp.usage_metadata.prompt_token_count is not None:
                meta = resp.usage_metadata
                answer.input_tokens = meta.prompt_token_count
                answer.output_tokens = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
        return answer

    def ask(
        self, model: str, prompt: str, *, stream: bool, tools: bool = False, think: bool = False
    ) -> Answer:
        return self._run(model, prompt, stream=stream, tools=tools, think=think)

    def follow_up(self, model: str, prompt: str, call: Call, result: str, *, stream: bool) -> Answer:
        contents = [
            gtypes.Content(role="user", parts=[gtypes.Part(text=prompt)]),
            gtypes.Content(
                role="model",
                parts=[gtypes.Part(function_call=gtypes.FunctionCall(name=call.name, args=call.arguments))],
            ),
            gtypes.Content(
                role="user",
                parts=[
                    gtypes.Part(
                        function_response=gtypes.FunctionResponse(name=call.name, response={"result": result})
                    )
                ],
            ),
        ]
        return self._run(model, contents, stream=stream, tools=True, think=False)


ADAPTERS: dict[str, type[ChatAdapter | ResponsesAdapter | AnthropicAdapter | GeminiAdapter]] = {
    "openai": ChatAdapter,
    "responses": ResponsesAdapter,
    "anthropic": AnthropicAdapter,
    "gemini": GeminiAdapter,
}
