"""`omniroute keys create|list|revoke|rotate`: inbound API keys, straight on the database.

Works on the data directory the server would use (`--data-dir`, else `DATA_DIR`, else the
default) with the same check secret (`API_KEY_SECRET`, else the persisted one), so it can run
while the server does: a running gateway refuses a revoked or rotated key on its next request.
A created or rotated key is printed once on stdout (details on stderr); `--json` prints one
JSON document instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import apsw
import msgspec

from omniroute.admin.keys import (
    KeyCreate,
    KeyPatch,
    KeyRequestError,
    create_key,
    describe,
    patch_key,
    rotate_key,
)
from omniroute.config_file import load_config
from omniroute.settings import Settings, build_settings


def add_parser(sub: Any) -> None:
    """Adds `keys` and its actions to the top-level subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir", default=argparse.SUPPRESS, help="data directory (env DATA_DIR; default ~/.omniroute)"
    )
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="TOML configuration file (env OMNIROUTE_CONFIG)"
    )
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    keys = sub.add_parser("keys", parents=[common], help="manage inbound API keys")
    actions = keys.add_subparsers(dest="keys_action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="create a key (printed once)")
    create.add_argument("--name", required=True, help="a unique name for the key")
    _add_limit_flags(create, allowed_help="allowed model glob (`*`, `?`); repeat for more (default: any)")

    actions.add_parser("list", parents=[common], help="list keys (never their secrets)")

    for name, help_text in (
        ("revoke", "revoke a key (refused from the next request on)"),
        ("rotate", "give a key a new secret (printed once; the old one stops working)"),
    ):
        action = actions.add_parser(name, parents=[common], help=help_text)
        action.add_argument("key", metavar="ID_OR_NAME")

    update = actions.add_parser("update", parents=[common], help="change a key's models, budgets or limits")
    update.add_argument("key", metavar="ID_OR_NAME")
    update.add_argument("--rename", metavar="NAME", help="new name")
    update.add_argument(
        "--clear",
        action="append",
        default=[],
        metavar="FIELD",
        help="remove a budget or limit, or allowed models",
    )
    _add_limit_flags(update, allowed_help="replace the allowed model globs; repeat for more")


def _add_limit_flags(parser: argparse.ArgumentParser, *, allowed_help: str) -> None:
    parser.add_argument("--allowed-model", action="append", metavar="GLOB", help=allowed_help)
    parser.add_argument("--rpm", type=int, help="requests per minute")
    parser.add_argument("--tpm", type=int, help="tokens per minute")
    parser.add_argument("--max-concurrent", type=int, help="calls in flight")
    parser.add_argument("--daily-budget", type=float, metavar="USD")
    parser.add_argument("--weekly-budget", type=float, metavar="USD")
    parser.add_argument("--monthly-budget", type=float, metavar="USD")
    parser.add_argument(
        "--budget-warning", type=float, metavar="SHARE", help="warn at this share (default 0.8)"
    )


_LIMIT_FLAGS = (
    "daily_budget",
    "weekly_budget",
    "monthly_budget",
    "budget_warning",
    "rpm",
    "tpm",
    "max_concurrent",
)


def settings_for(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The data directory and secrets as `serve` would resolve them (flags > environment > file)."""
    flags: dict[str, Any] = {}
    if hasattr(args, "data_dir"):
        flags["data_dir"] = args.data_dir
    config_path = getattr(args, "config", None) or environ.get("OMNIROUTE_CONFIG")
    config = load_config(config_path) if config_path else None
    if config_path:
        flags["config_path"] = str(Path(config_path).expanduser().resolve())
    return build_settings(
        flags=flags,
        environ=environ,
        server_section=config.server.as_settings() if config else None,
        sections=config.settings_sections() if config else None,
    )


def run(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO | None = None) -> int:
    from omniroute.security.api_keys import api_key_secret
    from omniroute.security.vault import Vault
    from omniroute.store.db import open_database
    from omniroute.store.repositories import Repositories

    out = sys.stdout if out is None else out
    settings = settings_for(args, environ)
    as_json = bool(getattr(args, "json", False))
    conn = open_database(settings.data_path)
    try:
        repos = Repositories(conn, Vault.from_settings(settings.encryption_key, settings.data_path))
        action = args.keys_action
        if action == "list":
            rows = [describe(r, repos.api_key_last_used(r.id)) for r in repos.list_api_keys()]
            out.write(_json(rows) if as_json else _table(rows))
            return 0
        if action == "create":
            limits = {f: getattr(args, f) for f in _LIMIT_FLAGS if getattr(args, f) is not None}
            payload = KeyCreate(name=args.name, allowed_models=args.allowed_model or [], **limits)
            secret = api_key_secret(settings.api_key_secret, settings.data_path)
            row, key = create_key(repos, secret, payload, source="cli")
            return _print_key(out, describe(row), key, as_json, "created")
        found = repos.get_api_key(args.key)
        if found is None:
            print(f"omniroute: error: no API key '{args.key}'", file=sys.stderr)
            return 1
        if action == "rotate":
            secret = api_key_secret(settings.api_key_secret, settings.data_path)
            rotated, key = rotate_key(repos, secret, found)
            return _print_key(out, describe(rotated), key, as_json, "rotated")
        if action == "revoke":
            with conn:
                repos.revoke_api_key(found.id)
            revoked = repos.get_api_key(found.id)
            assert revoked is not None
            out.write(_json(describe(revoked)) if as_json else f"revoked {revoked.id} ({revoked.name})\n")
            return 0
        updated = patch_key(repos, found, _patch_from(args))
        out.write(_json(describe(updated)) if as_json else f"updated {updated.id} ({updated.name})\n")
        return 0
    except KeyRequestError as exc:
        print(f"omniroute: error: {exc}", file=sys.stderr)
        return 1
    except apsw.Error as exc:
        print(f"omniroute: error: cannot update the database in {settings.data_path}: {exc}", file=sys.stderr)
        return 2
    finally:
        conn.close()


def _patch_from(args: argparse.Namespace) -> KeyPatch:
    changes: dict[str, Any] = {}
    for field in args.clear:
        name = field.replace("-", "_")
        if name == "allowed_models":
            changes[name] = []
        elif name in _LIMIT_FLAGS and name != "budget_warning":
            changes[name] = None
        else:
            raise KeyRequestError(
                f"--clear takes allowed_models or one of {', '.join(_LIMIT_FLAGS[:3] + _LIMIT_FLAGS[4:])}"
            )
    for name in _LIMIT_FLAGS:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.allowed_model:
        changes["allowed_models"] = args.allowed_model
    if args.rename is not None:
        changes["name"] = args.rename
    return msgspec.convert(changes, KeyPatch)


def _print_key(out: TextIO, described: dict[str, Any], key: str, as_json: bool, verb: str) -> int:
    if as_json:
        out.write(_json({**described, "key": key}))
    else:
        print(
            f"omniroute: {verb} API key {described['id']} ({described['name']}); "
            "it is shown only now, store it safely:",
            file=sys.stderr,
        )
        out.write(key + "\n")
    return 0


def _json(value: Any) -> str:
    return msgspec.json.format(msgspec.json.encode(value)).decode() + "\n"


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _table(rows: list[dict[str, Any]]) -> str:
    header = ("ID", "NAME", "HINT", "STATUS", "MODELS", "LIMITS", "CREATED", "LAST USED")
    lines = [header]
    for r in rows:
        limits = ", ".join(f"{f}={r[f]}" for f in _LIMIT_FLAGS if r[f] is not None and f != "budget_warning")
        lines.append(
            (
                r["id"],
                r["name"],
                r["hint"],
                "active" if r["active"] else f"revoked {_when(r['revoked_at'])}",
                ",".join(r["allowed_models"]) or "*",
                limits or "-",
                _when(r["created_at"]),
                _when(r["last_used_at"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines
    )
