"""The `omniroute` command. `serve` is the default action.

Start-up order: settings (flags > environment > config file > defaults), bind safety check,
database migrations and configuration import (once, in this process), then Granian workers.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omniroute import __version__, keys_cli
from omniroute.config_file import ConfigFile, load_config
from omniroute.errors import ConfigError
from omniroute.settings import LOG_LEVELS, SETTINGS_ENV, Settings, build_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omniroute",
        description="OmniRoute AI gateway: one endpoint in front of every LLM provider.",
    )
    parser.add_argument("--version", action="version", version=f"omniroute {__version__}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the gateway (the default)")
    for target in (parser, serve):
        _add_serve_flags(target)
    _add_admin_commands(sub)
    keys_cli.add_parser(sub)
    return parser


def _add_serve_flags(parser: argparse.ArgumentParser) -> None:
    default = argparse.SUPPRESS
    parser.add_argument("--host", default=default, help="bind address (env HOSTNAME; default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default, help="port (env PORT; default 20128)")
    parser.add_argument(
        "--data-dir", default=default, help="data directory (env DATA_DIR; default ~/.omniroute)"
    )
    parser.add_argument("--config", default=default, help="TOML configuration file (env OMNIROUTE_CONFIG)")
    parser.add_argument("--workers", type=int, default=default, help="worker processes (default 1)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=default, help="log level (env LOG_LEVEL)")
    parser.add_argument(
        "--allow-open-bind",
        action="store_true",
        default=default,
        help="allow a non-loopback bind while API keys are not required (not recommended)",
    )


_FLAG_TO_SETTING = {
    "host": "host",
    "port": "port",
    "data_dir": "data_dir",
    "config": "config_path",
    "workers": "workers",
    "log_level": "log_level",
    "allow_open_bind": "allow_open_bind",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[Settings, ConfigFile | None]:
    flags: dict[str, Any] = {
        setting: getattr(args, flag) for flag, setting in _FLAG_TO_SETTING.items() if hasattr(args, flag)
    }
    config_path = flags.get("config_path") or environ.get("OMNIROUTE_CONFIG")
    config = load_config(config_path) if config_path else None
    if config_path:
        flags["config_path"] = str(Path(config_path).expanduser().resolve())
    settings = build_settings(
        flags=flags,
        environ=environ,
        server_section=config.server.as_settings() if config else None,
        sections=config.settings_sections() if config else None,
    )
    if not settings.require_api_key and not is_loopback(settings.host) and not settings.allow_open_bind:
        raise ConfigError(
            f"refusing to bind {settings.host}: API keys are not required, so anyone who can reach this "
            "address could spend your provider credits. Set REQUIRE_API_KEY=true (and create keys), bind "
            "127.0.0.1, or pass --allow-open-bind to accept the risk."
        )
    from omniroute.security.network import validate_network_settings

    validate_network_settings(settings.network)
    return settings, config


def _add_admin_commands(sub: Any) -> None:
    admin = sub.add_parser("admin", help="admin account maintenance")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    reset = admin_sub.add_parser(
        "reset-password", help="set a new admin password (ends every admin session, clears login locks)"
    )
    reset.add_argument(
        "--data-dir", default=argparse.SUPPRESS, help="data directory (env DATA_DIR; default ~/.omniroute)"
    )
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the new password from the first line of stdin"
    )


def admin_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`omniroute admin reset-password`: works on the database in --data-dir (the gateway may run)."""
    import getpass

    import apsw

    from omniroute.security.admin_auth import PasswordPolicyError, reset_password
    from omniroute.store.db import open_database

    data_dir = Path(getattr(args, "data_dir", None) or environ.get("DATA_DIR") or Settings().data_dir)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass("New admin password: ")
            again = getpass.getpass("Repeat the new admin password: ")
        except (EOFError, KeyboardInterrupt):
            print("\nomniroute: aborted", file=sys.stderr)
            return 1
        if again != password:
            print("omniroute: error: the passwords do not match", file=sys.stderr)
            return 1
    try:
        conn = open_database(data_dir.expanduser())
        try:
            reset_password(conn, password, actor="cli")
        finally:
            conn.close()
    except PasswordPolicyError as exc:
        print(f"omniroute: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, apsw.Error) as exc:
        print(f"omniroute: error: cannot update the database in {data_dir}: {exc}", file=sys.stderr)
        return 2
    print("omniroute: admin password updated; every admin session was ended", file=sys.stderr)
    return 0


def prepare_storage(settings: Settings, config: ConfigFile | None, environ: Mapping[str, str]) -> None:
    """Migrates the database and imports the configuration file; prints generated keys once."""
    from omniroute.security.api_keys import api_key_secret
    from omniroute.security.vault import Vault
    from omniroute.store.config_sync import apply_config
    from omniroute.store.db import open_database
    from omniroute.store.repositories import Repositories

    conn = open_database(settings.data_path)
    try:
        # Creates the key file now, before several workers could race to create it.
        vault = Vault.from_settings(settings.encryption_key, settings.data_path)
        # Likewise the API key check secret (when API_KEY_SECRET is not set).
        key_secret = api_key_secret(settings.api_key_secret, settings.data_path)
        _prepare_admin(conn, settings)
        if config is not None:
            for name, key in apply_config(Repositories(conn, vault), config, environ, key_secret=key_secret):
                print(
                    f"omniroute: generated API key '{name}' (shown once, store it now): {key}",
                    file=sys.stderr,
                )
    finally:
        conn.close()


def _prepare_admin(conn: Any, settings: Settings) -> None:
    """Session key file and INITIAL_PASSWORD, once, before the workers start."""
    from omniroute.security.admin_auth import PasswordPolicyError, bootstrap_password, session_secret

    session_secret(settings)
    try:
        if bootstrap_password(conn, settings.initial_password):
            print("omniroute: admin password set from INITIAL_PASSWORD", file=sys.stderr)
    except PasswordPolicyError as exc:
        raise ConfigError(f"INITIAL_PASSWORD: {exc}") from None


def serve(settings: Settings) -> None:
    """Replaces this process with the Granian server (`omniroute.serve`)."""
    if not settings.require_api_key and not is_loopback(settings.host):
        print(
            f"omniroute: WARNING: serving {settings.host} without API keys (--allow-open-bind)",
            file=sys.stderr,
        )
    os.environ[SETTINGS_ENV] = settings.to_json().decode()
    print(
        f"omniroute {__version__} listening on http://{settings.host}:{settings.port}/v1 "
        f"(data: {settings.data_path}, workers: {settings.workers})",
        file=sys.stderr,
        flush=True,
    )
    sys.stdout.flush()
    # The CLI's own arguments ride along (ignored) so `ps` still shows how it was started.
    os.execv(sys.executable, [sys.executable, "-m", "omniroute.serve", *sys.argv[1:]])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    environ = os.environ
    if getattr(args, "command", None) == "admin":
        return admin_command(args, environ)
    if getattr(args, "command", None) == "keys":
        try:
            return keys_cli.run(args, environ)
        except ConfigError as exc:
            print(f"omniroute: error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"omniroute: error: cannot open the data directory: {exc}", file=sys.stderr)
            return 2
    try:
        settings, config = resolve(args, environ)
        prepare_storage(settings, config, environ)
        # Before Granian forks the workers: a wiped directory for multiprocess metrics (or none).
        from omniroute.observability.metrics_multiproc import prepare_multiproc_dir

        prepare_multiproc_dir(settings)
    except ConfigError as exc:
        print(f"omniroute: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"omniroute: error: cannot prepare the data directory: {exc}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
