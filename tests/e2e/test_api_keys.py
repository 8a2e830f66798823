"""Inbound API keys end to end, on a real two-worker gateway with REQUIRE_API_KEY: created through
`/api/keys` and through `omniroute keys` in another process, used with the openai, anthropic and
google-genai SDKs on every /v1 and /v1beta surface, listed without secrets, rotated and revoked
(refused on the very next request, whichever worker answers), allowed-model globs taken
literally, and never accepted by the management API."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.e2e.test_dialect_matrix import matrix_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

ADMIN_TOKEN = "admin-token-keys-e2e-0123456789abcdef"
CONFIG_KEY = "sk-config-free-form-0123456789abcdef"
KEY_SHAPE = re.compile(r"sk-omr-[a-z0-9]{12}-[A-Za-z0-9]{32}")
MESSAGES: Any = [{"role": "user", "content": "hello"}]
#: Requests in a row that must all be refused: with two workers, both answer some of them.
REPEATS = 6


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    extra = f"""
[server]
require_api_key = true

[[api_keys]]
name = "from-config"
key = "{CONFIG_KEY}"
"""
    base = tmp_path_factory.mktemp("keys")
    with GatewayProcess(
        base / "data",
        matrix_config(mock) + extra,
        extra_args=("--workers", "2"),
        env={"OMNIROUTE_ADMIN_TOKEN": ADMIN_TOKEN},
    ) as proc:
        yield proc


def admin(gw: GatewayProcess) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def create(gw: GatewayProcess, name: str, **fields: Any) -> dict[str, Any]:
    with admin(gw) as client:
        resp = client.post("/api/keys", json={"name": name, **fields})
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def keys_cli(gw: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`omniroute keys ...` in its own process, on the gateway's data directory."""
    return subprocess.run(
        [sys.executable, "-m", "omniroute.cli", "keys", *args, "--data-dir", str(gw.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def oai(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20)


def ant(gw: GatewayProcess, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=20)


def gem(gw: GatewayProcess, key: str) -> genai.Client:
    return genai.Client(
        api_key=key, http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta", timeout=20_000)
    )


def status_of(call: Callable[[], object]) -> int:
    """200 when the SDK call succeeds, else the HTTP status it raised."""
    try:
        call()
    except (openai.APIStatusError, anthropic.APIStatusError) as exc:
        return exc.status_code
    except genai_errors.APIError as exc:
        return exc.code
    return 200


def surfaces(gw: GatewayProcess, key: str) -> dict[str, Callable[[], object]]:
    """One call per /v1 and /v1beta route, each presenting `key` the way its client does."""

    def raw(method: str, path: str, **kwargs: Any) -> Callable[[], object]:
        def call() -> object:
            resp = httpx.request(method, f"{gw.url}{path}", timeout=20, **kwargs)
            if resp.status_code != 200:
                raise openai.APIStatusError("refused", response=resp, body=None)
            return resp

        return call

    gemini_body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    # Kept referenced: a google-genai client closes its connection pool when collected.
    o, a, g = oai(gw, key), ant(gw, key), gem(gw, key)
    return {
        "chat (bearer)": lambda: o.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES),
        "responses (bearer)": lambda: o.responses.create(model="resp/gpt-5-codex", input="hi"),
        "models (bearer)": lambda: o.models.list(),
        "messages (x-api-key)": lambda: a.messages.create(
            model="anthropic/claude-mock-1", max_tokens=16, messages=MESSAGES
        ),
        "count_tokens (x-api-key)": lambda: a.messages.count_tokens(
            model="anthropic/claude-mock-1", messages=MESSAGES
        ),
        "generateContent (x-goog-api-key)": lambda: g.models.generate_content(
            model="gemini/gemini-2.5-flash", contents="hi"
        ),
        "streamGenerateContent (x-goog-api-key)": lambda: list(
            g.models.generate_content_stream(model="gemini/gemini-2.5-flash", contents="hi")
        ),
        "v1beta models (?key=)": raw("GET", "/v1beta/models", params={"key": key}),
        "v1beta model (?key=)": raw("GET", "/v1beta/models/gemini-2.5-flash", params={"key": key}),
        "generateContent (?key=)": raw(
            "POST",
            "/v1beta/models/gemini/gemini-2.5-flash:generateContent",
            params={"key": key},
            json=gemini_body,
        ),
        "chat (x-api-key)": raw(
            "POST",
            "/v1/chat/completions",
            headers={"x-api-key": key},
            json={"model": "openai/gpt-4o", "messages": MESSAGES},
        ),
        "chat (x-goog-api-key)": raw(
            "POST",
            "/v1/chat/completions",
            headers={"x-goog-api-key": key},
            json={"model": "openai/gpt-4o", "messages": MESSAGES},
        ),
    }


def chat_status(gw: GatewayProcess, key: str) -> int:
    return status_of(lambda: oai(gw, key).chat.completions.create(model="openai/gpt-4o", messages=MESSAGES))


def refused_every_time(gw: GatewayProcess, key: str) -> bool:
    return all(chat_status(gw, key) == 401 for _ in range(REPEATS))


# create, use, list ---------------------------------------------------------------------------------


def test_key_created_through_the_api_works_on_every_surface(gw: GatewayProcess) -> None:
    created = create(gw, unique("sdk"))
    key = created["key"]
    assert KEY_SHAPE.fullmatch(key) and key.startswith(f"sk-omr-{created['public_id']}-")
    statuses = {name: status_of(call) for name, call in surfaces(gw, key).items()}
    assert statuses == dict.fromkeys(statuses, 200)


def test_config_file_key_of_any_format_works(gw: GatewayProcess) -> None:
    statuses = {name: status_of(call) for name, call in surfaces(gw, CONFIG_KEY).items()}
    assert statuses == dict.fromkeys(statuses, 200)


def test_missing_unknown_and_tampered_keys_are_refused_on_every_surface(gw: GatewayProcess) -> None:
    key = create(gw, unique("tamper"))["key"]
    last = key[-1]
    tampered = key[:-1] + ("A" if last != "A" else "B")
    forged = f"sk-omr-{key[7:19]}-" + "A" * 32  # a real public id with a made-up secret and check
    for bad in (tampered, forged, "sk-unknown-0123456789abcdef", CONFIG_KEY + "x"):
        statuses = {name: status_of(call) for name, call in surfaces(gw, bad).items()}
        assert statuses == dict.fromkeys(statuses, 401), bad
    resp = httpx.post(f"{gw.url}/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": MESSAGES})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "missing_api_key"


def test_list_and_get_show_no_secret(gw: GatewayProcess) -> None:
    created = create(gw, unique("listed"), allowed_models=["openai/*"], rpm=30, daily_budget=2.5)
    key = created["key"]
    with admin(gw) as client:
        listing = client.get("/api/keys")
        one = client.get(f"/api/keys/{created['id']}")
    assert listing.status_code == 200 and one.status_code == 200
    for text in (listing.text, one.text):
        assert key not in text and key[7:] not in text and key[-32:] not in text
        assert CONFIG_KEY not in text
        assert not re.search(r"[0-9a-f]{64}", text), "a key digest leaked"
    entry = next(k for k in listing.json()["keys"] if k["id"] == created["id"])
    assert "key" not in entry and "key_hash" not in entry
    assert entry == one.json() | {"last_used_at": entry["last_used_at"]}
    assert (entry["hint"], entry["allowed_models"], entry["rpm"], entry["daily_budget"]) == (
        "..." + key[-4:],
        ["openai/*"],
        30,
        2.5,
    )
    assert entry["active"] is True and entry["revoked_at"] is None and entry["source"] == "api"
    names = {k["name"]: k for k in listing.json()["keys"]}
    assert names["from-config"]["source"] == "config"


def test_last_used_at_follows_usage(gw: GatewayProcess) -> None:
    created = create(gw, unique("used"))
    assert chat_status(gw, created["key"]) == 200
    with admin(gw) as client:
        for _ in range(50):
            shown = client.get(f"/api/keys/{created['id']}").json()
            if shown["last_used_at"] is not None:
                break
            httpx.get(f"{gw.url}/health/live")  # the usage writer batches every 0.25 s
    assert shown["last_used_at"] >= shown["created_at"]


# rotate and revoke ---------------------------------------------------------------------------------


def test_rotate_stops_the_old_key_at_once_and_the_new_one_works(gw: GatewayProcess) -> None:
    created = create(gw, unique("rot"), rpm=99)
    old = created["key"]
    assert chat_status(gw, old) == 200
    with admin(gw) as client:
        resp = client.post(f"/api/keys/{created['id']}/rotate")
    assert resp.status_code == 200, resp.text
    rotated = resp.json()
    new = rotated["key"]
    assert new != old and KEY_SHAPE.fullmatch(new)
    assert (rotated["id"], rotated["name"], rotated["rpm"]) == (created["id"], created["name"], 99)
    assert refused_every_time(gw, old)
    assert all(chat_status(gw, new) == 200 for _ in range(REPEATS))
    assert (
        status_of(
            lambda: ant(gw, new).messages.count_tokens(model="anthropic/claude-mock-1", messages=MESSAGES)
        )
        == 200
    )


@pytest.mark.parametrize("how", ["DELETE", "POST revoke"])
def test_revoke_through_the_api_refuses_the_very_next_request(gw: GatewayProcess, how: str) -> None:
    created = create(gw, unique("rev"))
    key = created["key"]
    assert chat_status(gw, key) == 200
    with admin(gw) as client:
        if how == "DELETE":
            resp = client.delete(f"/api/keys/{created['id']}")
        else:
            resp = client.post(f"/api/keys/{created['id']}/revoke")
    assert resp.status_code == 200 and resp.json()["active"] is False
    assert refused_every_time(gw, key)
    statuses = {name: status_of(call) for name, call in surfaces(gw, key).items()}
    assert statuses == dict.fromkeys(statuses, 401)
    with admin(gw) as client:
        again = client.post(f"/api/keys/{created['id']}/rotate")
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_revoked"


def test_revoke_by_the_cli_in_another_process_refuses_the_very_next_request(gw: GatewayProcess) -> None:
    name = unique("cli-rev")
    key = create(gw, name)["key"]
    # Warm both workers' catalogs with the key first.
    assert all(chat_status(gw, key) == 200 for _ in range(REPEATS))
    done = keys_cli(gw, "revoke", name)
    assert done.returncode == 0, done.stderr
    assert refused_every_time(gw, key)


def test_key_created_and_rotated_by_the_cli_works_on_the_next_request(gw: GatewayProcess) -> None:
    name = unique("cli")
    made = keys_cli(gw, "create", "--name", name, "--allowed-model", "anthropic/*", "--rpm", "12")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert KEY_SHAPE.fullmatch(key) and "shown only now" in made.stderr
    ok = status_of(
        lambda: ant(gw, key).messages.create(model="anthropic/claude-mock-1", max_tokens=8, messages=MESSAGES)
    )
    assert ok == 200
    assert chat_status(gw, key) == 403  # openai/* is not allowed for this key
    rotated = keys_cli(gw, "rotate", name)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    assert (
        status_of(
            lambda: ant(gw, key).messages.create(
                model="anthropic/claude-mock-1", max_tokens=8, messages=MESSAGES
            )
        )
        == 401
    )
    assert (
        status_of(
            lambda: ant(gw, new).messages.create(
                model="anthropic/claude-mock-1", max_tokens=8, messages=MESSAGES
            )
        )
        == 200
    )
    listing = keys_cli(gw, "list", "--json")
    assert listing.returncode == 0 and key not in listing.stdout and new not in listing.stdout
    with admin(gw) as client:
        shown = next(k for k in client.get("/api/keys").json()["keys"] if k["name"] == name)
    assert (shown["source"], shown["rpm"], shown["allowed_models"]) == ("cli", 12, ["anthropic/*"])


# allowed models ------------------------------------------------------------------------------------


def test_allowed_model_globs_take_regex_metacharacters_literally(gw: GatewayProcess) -> None:
    # As regular expressions `gpt.4o`, `gpt-[45]o` and `gpt-4o|.*` would all admit openai/gpt-4o.
    created = create(
        gw, unique("globs"), allowed_models=["openai/gpt.4o", "openai/gpt-[45]o", "x|.*", "groq/*"]
    )
    key = created["key"]
    with pytest.raises(openai.PermissionDeniedError) as info:
        oai(gw, key).chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)
    assert "may not use model" in info.value.message
    gemini = gem(gw, key)
    denied = status_of(lambda: gemini.models.generate_content(model="gemini/gemini-2.5-flash", contents="hi"))
    assert denied == 403
    with admin(gw) as client:
        resp = client.patch(
            f"/api/keys/{created['id']}", json={"allowed_models": ["openai/gpt-4o*", "*-codex"]}
        )
    assert resp.status_code == 200 and resp.json()["allowed_models"] == ["openai/gpt-4o*", "*-codex"]
    assert chat_status(gw, key) == 200
    ok = status_of(
        lambda: oai(gw, key).chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    )
    assert ok == 200
    assert status_of(lambda: oai(gw, key).responses.create(model="resp/gpt-5-codex", input="hi")) == 200
    blocked = status_of(
        lambda: ant(gw, key).messages.create(model="anthropic/claude-mock-1", max_tokens=8, messages=MESSAGES)
    )
    assert blocked == 403


# management API ------------------------------------------------------------------------------------


def test_patch_changes_limits_and_validates(gw: GatewayProcess) -> None:
    created = create(gw, unique("patch"), tpm=1000, weekly_budget=3.0)
    with admin(gw) as client:
        ok = client.patch(
            f"/api/keys/{created['id']}",
            json={
                "rpm": 5,
                "max_concurrent": 2,
                "weekly_budget": None,
                "monthly_budget": 9.5,
                "budget_warning": 0.5,
            },
        )
        assert ok.status_code == 200, ok.text
        shown = ok.json()
        assert (shown["rpm"], shown["tpm"], shown["max_concurrent"]) == (5, 1000, 2)
        assert (shown["weekly_budget"], shown["monthly_budget"], shown["budget_warning"]) == (None, 9.5, 0.5)
        for body in (
            {"rpm": -1},
            {"budget_warning": 3},
            {"daily_budget": -1},
            {"secret": "x"},
            {"rpm": "fast"},
        ):
            bad = client.patch(f"/api/keys/{created['id']}", json=body)
            assert bad.status_code == 400, (body, bad.text)
        assert client.get(f"/api/keys/{created['id']}").json()["rpm"] == 5
        assert client.patch("/api/keys/key_nosuchkey", json={"rpm": 1}).status_code == 404
        assert client.post("/api/keys", json={"name": created["name"]}).status_code == 409
        assert client.post("/api/keys", json={"name": ""}).status_code == 400
        assert client.post("/api/keys", content=b"{not json").status_code == 400
        assert client.put(f"/api/keys/{created['id']}", json={}).status_code == 405
        assert client.post(f"/api/keys/{created['id']}/explode").status_code == 404
    assert chat_status(gw, created["key"]) == 200  # editing limits keeps the secret


def test_an_inference_key_never_opens_the_management_api(gw: GatewayProcess) -> None:
    key = create(gw, unique("not-admin"))["key"]
    for presented in (key, CONFIG_KEY):
        for headers, params in (
            ({"authorization": f"Bearer {presented}"}, {}),
            ({"x-api-key": presented}, {}),
            ({"x-goog-api-key": presented}, {}),
            ({}, {"key": presented}),
        ):
            for method, path in (("GET", "/api/keys"), ("POST", "/api/keys"), ("GET", "/api/combos")):
                body = {"name": unique("sneaky")} if method == "POST" else None
                resp = httpx.request(method, f"{gw.url}{path}", headers=headers, params=params, json=body)
                assert resp.status_code in (401, 403), (presented, headers, params, path, resp.text)
    with admin(gw) as client:
        assert not any(k["name"].startswith("sneaky") for k in client.get("/api/keys").json()["keys"])


def test_check_secret_is_persisted_with_mode_0600(gw: GatewayProcess) -> None:
    secret_file = gw.data_dir / "api_key.secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_bytes()) == 32
