"""Scriptable mock upstream LLM provider for OmniRoute tests and benchmarks.

    with MockProvider() as mock:                  # real HTTP server on 127.0.0.1:<random>
        mock.enqueue({"status": 429, "headers": {"retry-after": "1"}})
        ...  # point the gateway at mock.base_url ("http://127.0.0.1:<port>/v1")
        assert mock.requests[-1].json["model"] == "gpt-4o-mini"

A request body may carry its own script in a top-level "mock" field (takes precedence over
the FIFO). See script.Script for the fields. The same script drives every wire protocol:
OpenAI Chat Completions (/v1/chat/completions), OpenAI Responses (/v1/responses), Anthropic
Messages (/v1/messages, base URL without /v1) and Gemini (/v1beta/models/{model}:generateContent,
base URL without /v1beta); server.py lists every route.
"""

from .script import Script, ToolCallSpec
from .server import MockProvider, RecordedRequest

__all__ = ["MockProvider", "RecordedRequest", "Script", "ToolCallSpec"]
