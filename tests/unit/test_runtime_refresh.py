"""A worker rebuilds its configuration when another connection changed it, and only then:
every commit moves SQLite's `data_version` (this worker's own usage and log writers included),
so the configuration tables carry their own revision (migration 0010)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniroute.runtime import Runtime
from omniroute.settings import build_settings
from omniroute.store.db import DB_FILE, connect


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = build_settings(flags={"data_dir": str(tmp_path / "data")}, environ={})
    return Runtime(settings)


def test_usage_and_log_writes_do_not_rebuild_the_configuration(runtime: Runtime) -> None:
    before = runtime.catalog
    other = connect(runtime.settings.data_path / DB_FILE)
    try:
        other.execute(
            "INSERT INTO usage_records (ts, request_id, route, client_dialect, stream, status, outcome,"
            " latency_ms) VALUES (1.0, 'r1', '/v1/chat/completions', 'openai', 0, 200, 'success', 1.0)"
        )
        assert runtime.refresh_if_changed() is False
        assert runtime.catalog is before
    finally:
        other.close()


@pytest.mark.parametrize(
    "change",
    [
        "INSERT INTO aliases (alias, target) VALUES ('fast', 'openai/gpt-4o-mini')",
        "INSERT INTO wildcard_aliases (pattern, target) VALUES ('gpt-*', 'openai/gpt-4o')",
        "INSERT INTO pricing (provider, model, input, output, updated_at) VALUES ('openai', 'x', 1, 2, 0)",
    ],
)
def test_a_configuration_change_by_another_connection_is_picked_up(runtime: Runtime, change: str) -> None:
    before = runtime.catalog
    other = connect(runtime.settings.data_path / DB_FILE)
    try:
        other.execute(change)
        assert runtime.refresh_if_changed() is True
        assert runtime.catalog is not before
        assert runtime.refresh_if_changed() is False  # once
    finally:
        other.close()
