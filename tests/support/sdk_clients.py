"""The official SDK clients pointed at a gateway process, as the e2e tests use them: no SDK
retries (a retry would hide what the gateway answered) and a bounded timeout."""

from __future__ import annotations

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from tests.support.gateway_process import GatewayProcess

TIMEOUT = 20


def openai_client(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=TIMEOUT)


def anthropic_client(gw: GatewayProcess, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=TIMEOUT)


def gemini_client(gw: GatewayProcess, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta"))
