"""The request structure `_core.inspect_request` checks, restated as a test oracle.

The tables mirror rust/core/src/request_shapes.rs: per dialect, the JSON kinds each checked node
may have (`messages[].content[].text`: "[]" stands for any index) and the members an object must
have (unconditionally, or when its `type` is a given tag). `structure_ok` says whether a body
passes; the property tests hold the core to it.
"""

from __future__ import annotations

import re
from typing import Any

Path = tuple[str | int, ...]

# OpenAI Chat Completions

OPENAI_NODES = {
    "messages": "array",
    "messages[]": "object",
    "messages[].role": "string",
    "messages[].content": "string array",
    "messages[].content[]": "object",
    "messages[].content[].type": "string",
    "messages[].content[].text": "string",
    "messages[].content[].image_url": "string object",
    "messages[].name": "string",
    "messages[].tool_calls": "array",
    "messages[].tool_calls[]": "object",
    "messages[].tool_calls[].id": "string",
    "messages[].tool_calls[].type": "string",
    "messages[].tool_calls[].function": "object",
    "messages[].tool_calls[].function.name": "string",
    "messages[].tool_call_id": "string",
    "messages[].function_call": "object",
    "tools": "array",
    "tools[]": "object",
    "tools[].type": "string",
    "tools[].function": "object",
    "tools[].function.name": "string",
    "tools[].function.description": "string",
    "tools[].function.parameters": "object",
    "functions": "array",
    "functions[]": "object",
    "functions[].name": "string",
    "functions[].description": "string",
    "functions[].parameters": "object",
    "tool_choice": "string object",
    "stop": "string array",
    "stop[]": "string",
    "response_format": "object",
    "response_format.type": "string",
}
# Required nodes: None, or the `type` of the enclosing object that requires them.
OPENAI_REQUIRED: dict[str, str | None] = {
    "messages": None,
    "messages[].role": None,
    "messages[].content[].type": None,
    "messages[].content[].text": "text",
    "messages[].content[].image_url": "image_url",
    "messages[].tool_calls[].function": "function",
    "messages[].tool_calls[].function.name": None,
    "tools[].function": "function",
    "tools[].function.name": None,
    "functions[].name": None,
    "response_format.type": None,
}

# Anthropic Messages

ANTHROPIC_BLOCK_NODES = {
    "": "object",
    ".type": "string",
    ".text": "string",
    ".id": "string",
    ".name": "string",
    ".input": "object",
    ".tool_use_id": "string",
    ".thinking": "string",
    ".signature": "string",
    ".data": "string",
    ".cache_control": "object",
}
ANTHROPIC_NODES = {
    "messages": "array",
    "messages[]": "object",
    "messages[].role": "string",
    "messages[].content": "string array",
    **{f"messages[].content[]{k}": v for k, v in ANTHROPIC_BLOCK_NODES.items()},
    "messages[].content[].content": "string array object",
    "messages[].content[].content[]": "object",
    "messages[].content[].content[].type": "string",
    "messages[].content[].content[].text": "string",
    "messages[].content[].content[].cache_control": "object",
    "system": "string array",
    **{f"system[]{k}": v for k, v in ANTHROPIC_BLOCK_NODES.items()},
    "tools": "array",
    "tools[]": "object",
    "tools[].type": "string",
    "tools[].name": "string",
    "tools[].description": "string",
    "tools[].input_schema": "object",
    "tool_choice": "object",
    "tool_choice.type": "string",
    "stop_sequences": "array",
    "stop_sequences[]": "string",
    "metadata": "object",
    "thinking": "object",
    "thinking.type": "string",
}
ANTHROPIC_REQUIRED: dict[str, str | None] = {
    "messages": None,
    "messages[].role": None,
    "messages[].content": None,
    "messages[].content[].type": None,
    "messages[].content[].text": "text",
    "messages[].content[].source": "image",
    "messages[].content[].id": "tool_use",
    "messages[].content[].name": "tool_use",
    "messages[].content[].input": "tool_use",
    "messages[].content[].tool_use_id": "tool_result",
    "messages[].content[].thinking": "thinking",
    "messages[].content[].data": "redacted_thinking",
    "messages[].content[].content[].type": None,
    "messages[].content[].content[].text": "text",
    "system[].type": None,
    "system[].text": "text",
    "tool_choice.type": None,
    "thinking.type": None,
}

# Gemini generateContent. The API takes camelCase and snake_case member names; the core knows
# both at every level, and `pattern` writes Gemini paths in snake_case to look them up here.


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


GEMINI_NODES = {
    snake(path): kinds
    for path, kinds in {
        "contents": "array",
        "contents[]": "object",
        "contents[].role": "string",
        "contents[].parts": "array",
        "contents[].parts[]": "object",
        "contents[].parts[].text": "string",
        "contents[].parts[].thought": "boolean",
        "contents[].parts[].thoughtSignature": "string",
        "contents[].parts[].inlineData": "object",
        "contents[].parts[].inlineData.mimeType": "string",
        "contents[].parts[].inlineData.data": "string",
        "contents[].parts[].fileData": "object",
        "contents[].parts[].fileData.mimeType": "string",
        "contents[].parts[].fileData.fileUri": "string",
        "contents[].parts[].functionCall": "object",
        "contents[].parts[].functionCall.name": "string",
        "contents[].parts[].functionCall.args": "object",
        "contents[].parts[].functionCall.id": "string",
        "contents[].parts[].functionResponse": "object",
        "contents[].parts[].functionResponse.name": "string",
        "contents[].parts[].functionResponse.response": "object",
        "contents[].parts[].functionResponse.id": "string",
        "systemInstruction": "object",
        "systemInstruction.parts": "array",
        "systemInstruction.parts[]": "object",
        "systemInstruction.parts[].text": "string",
        "tools": "array",
        "tools[]": "object",
        "tools[].functionDeclarations": "array",
        "tools[].functionDeclarations[]": "object",
        "tools[].functionDeclarations[].name": "string",
        "tools[].functionDeclarations[].parameters": "object",
        "generationConfig": "object",
        "safetySettings": "array",
        "safetySettings[]": "object",
    }.items()
}
GEMINI_REQUIRED: dict[str, str | None] = {
    "contents": None,
    "contents[].parts": None,
    "tools[].function_declarations[].name": None,
}


TABLES: dict[str, tuple[dict[str, str], dict[str, str | None]]] = {
    "openai": (OPENAI_NODES, OPENAI_REQUIRED),
    "anthropic": (ANTHROPIC_NODES, ANTHROPIC_REQUIRED),
    "gemini": (GEMINI_NODES, GEMINI_REQUIRED),
    "responses": ({"input": "string array", "input[]": "object", "tools": "array", "tools[]": "object"}, {}),
}


KINDS = ("null", "boolean", "number", "string", "array", "object")


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def pattern(path: Path, dialect: str = "") -> str:
    """`messages[].content[].text` for ("messages", 0, "content", 1, "text") (Gemini member names
    in snake_case)."""
    names = snake if dialect == "gemini" else str
    return "".join(
        "[]" if isinstance(p, int) else (f".{names(p)}" if i else names(p)) for i, p in enumerate(path)
    )


def kinds_at(dialect: str, path: Path) -> list[str] | None:
    """The JSON kinds the node at `path` may have; None where the core does not look."""
    kinds = TABLES[dialect][0].get(pattern(path, dialect))
    return kinds.split() if kinds is not None and path else None


def required_at(dialect: str, body: Any, path: Path) -> bool:
    """Whether the member at `path` (an object member) must be present and not null."""
    if not path or not isinstance(path[-1], str):
        return False
    tag = TABLES[dialect][1].get(pattern(path, dialect), "")
    if tag == "":
        return False
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    return tag is None or parent.get("type") == tag


def param(path: Path) -> str:
    """`messages[0].content[1].text`: how the core names a node in its errors."""
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


def structure_ok(body: Any, dialect: str) -> bool:
    """Whether `body` has the structure the core checks for `dialect` (nothing else is judged)."""
    nodes, required = TABLES[dialect]

    def ok(value: Any, path: Path) -> bool:
        at = pattern(path, dialect)
        if path:
            if at not in nodes:
                return True  # not checked, nor anything under it
            if value is None and isinstance(path[-1], str):
                return True  # a null member reads as absent; its parent judges whether it may be
            if kind(value) not in nodes[at].split():
                return False
        if isinstance(value, dict):
            for needed, tag in required.items():
                parent, _, key = needed.rpartition(".")
                if parent == at and (tag is None or value.get("type") == tag) and value.get(key) is None:
                    return False
            return all(ok(v, (*path, k)) for k, v in value.items())
        if isinstance(value, list):
            return all(ok(v, (*path, i)) for i, v in enumerate(value))
        return True

    return isinstance(body, dict) and ok(body, ())
