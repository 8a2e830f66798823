"""Guard settings changed through the API (`/api/security`), stored in `security_settings`.

A stored section (`network` or `guard`) replaces the configuration file's `[network]` /
`[guard]` for every worker until it is deleted; the file's values come back then. Each worker
re-reads the table when the database changes (the runtime's refresh) and applies what changed
to its NetworkGuard and PromptGuard. A stored value that no longer validates is logged and
ignored (the file's section stays in effect).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal, cast

import apsw
import msgspec

from omniroute.errors import ConfigError
from omniroute.security.network import NetworkGuard, validate_network_settings
from omniroute.security.prompt_guard import PromptGuard
from omniroute.settings import GuardSettings, NetworkSettings, Settings

log = logging.getLogger("omniroute.security")

Section = Literal["network", "guard"]
SECTIONS: tuple[Section, ...] = ("network", "guard")


def decode_section(section: Section, raw: bytes | str) -> NetworkSettings | GuardSettings:
    """A stored or submitted section, validated; ConfigError when it is not valid."""
    try:
        if section == "network":
            network = msgspec.json.decode(raw, type=NetworkSettings)
            validate_network_settings(network)
            return network
        return msgspec.json.decode(raw, type=GuardSettings)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(f"{section}: {exc}") from None


def merge_section(
    section: Section, current: NetworkSettings | GuardSettings, changes: dict[str, Any]
) -> NetworkSettings | GuardSettings:
    """`current` with the fields in `changes` replaced, validated (ConfigError otherwise)."""
    merged = msgspec.to_builtins(current)
    merged.update(changes)
    return decode_section(section, msgspec.json.encode(merged))


def load_rows(conn: apsw.Connection) -> dict[str, tuple[str, float]]:
    """section -> (stored JSON, updated_at)."""
    rows = conn.execute("SELECT section, value, updated_at FROM security_settings").fetchall()
    return {str(row[0]): (str(row[1]), float(cast(float, row[2]))) for row in rows}


def save_section(conn: apsw.Connection, section: Section, value: NetworkSettings | GuardSettings) -> None:
    conn.execute(
        "INSERT INTO security_settings (section, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (section) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (section, msgspec.json.encode(value).decode(), time.time()),
    )


def delete_section(conn: apsw.Connection, section: Section) -> bool:
    conn.execute("DELETE FROM security_settings WHERE section = ?", (section,))
    return conn.changes() > 0


class SecurityOverrides:
    """Keeps one worker's guards in step with the stored sections."""

    def __init__(
        self, conn: apsw.Connection, network: NetworkGuard, prompt_guard: PromptGuard, base: Settings
    ) -> None:
        self.conn = conn
        self.network = network
        self.prompt_guard = prompt_guard
        self.base = base
        #: The stored JSON each section currently runs with (None: the file's values).
        self._applied: dict[str, str | None] = dict.fromkeys(SECTIONS)

    def overridden(self) -> list[str]:
        return [section for section in SECTIONS if self._applied[section] is not None]

    def effective(self) -> dict[str, Any]:
        return {"network": self.network.network, "guard": self.prompt_guard.guard}

    def refresh(self) -> None:
        """Applies the stored sections that changed since the last call."""
        try:
            rows = load_rows(self.conn)
        except apsw.SQLError:
            log.exception("cannot read security_settings; keeping the current guard settings")
            return
        for section in SECTIONS:
            raw = rows[section][0] if section in rows else None
            if raw == self._applied[section]:
                continue
            self._applied[section] = raw
            value: NetworkSettings | GuardSettings
            if raw is None:
                value = self.base.network if section == "network" else self.base.guard
            else:
                try:
                    value = decode_section(section, raw)
                except ConfigError as exc:
                    log.error("ignoring the stored %s settings: %s", section, exc)
                    value = self.base.network if section == "network" else self.base.guard
                else:
                    log.info("%s settings set through the API are in effect (not the config file's)", section)
            self._apply(value)

    def _apply(self, value: NetworkSettings | GuardSettings) -> None:
        if isinstance(value, NetworkSettings):
            self.network.reconfigure(value)
        else:
            self.prompt_guard.reconfigure(value)
