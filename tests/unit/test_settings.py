"""Settings: source precedence, environment coercion, validation, JSON hand-off to workers."""

from __future__ import annotations

import socket
from pathlib import Path

import msgspec
import pytest

from omniroute.errors import ConfigError
from omniroute.settings import SETTINGS_ENV, Settings, build_settings, settings_from_worker_env, validate

# precedence -----------------------------------------------------------------------------------


def test_build_settings_defaults_when_no_source() -> None:
    settings = build_settings(flags={}, environ={})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 20128
    assert settings.require_api_key is False


def test_build_settings_server_section_overrides_defaults() -> None:
    settings = build_settings(flags={}, environ={}, server_section={"port": 1000, "workers": 3})
    assert settings.port == 1000
    assert settings.workers == 3


def test_build_settings_env_overrides_server_section() -> None:
    settings = build_settings(flags={}, environ={"PORT": "2000"}, server_section={"port": 1000, "workers": 3})
    assert settings.port == 2000
    assert settings.workers == 3


def test_build_settings_flags_override_env_and_server_section() -> None:
    settings = build_settings(
        flags={"port": 3000, "host": "::1"},
        environ={"PORT": "2000", "HOSTNAME": "127.0.0.2"},
        server_section={"port": 1000, "host": "127.0.0.3"},
    )
    assert settings.port == 3000
    assert settings.host == "::1"


def test_build_settings_none_flag_does_not_override_env() -> None:
    settings = build_settings(flags={"port": None, "workers": None}, environ={"PORT": "2000"})
    assert settings.port == 2000
    assert settings.workers == 1


@pytest.mark.parametrize(
    ("env_name", "field", "raw", "expected"),
    [
        ("HOSTNAME", "host", "10.1.2.3", "10.1.2.3"),
        ("PORT", "port", "8080", 8080),
        ("DATA_DIR", "data_dir", "/srv/omni", "/srv/omni"),
        ("OMNIROUTE_CONFIG", "config_path", "/etc/omni.toml", "/etc/omni.toml"),
        ("REQUIRE_API_KEY", "require_api_key", "true", True),
        ("STORAGE_ENCRYPTION_KEY", "encryption_key", "12345", "12345"),
        ("OMNIROUTE_WORKERS", "workers", "4", 4),
        ("LOG_LEVEL", "log_level", "debug", "debug"),
        ("OMNIROUTE_ALLOW_OPEN_BIND", "allow_open_bind", "yes", True),
    ],
)
def test_build_settings_env_variable_maps_to_field(
    env_name: str, field: str, raw: str, expected: object
) -> None:
    settings = build_settings(flags={}, environ={env_name: raw})
    assert getattr(settings, field) == expected


def test_build_settings_hostname_env_ignored_when_machine_name() -> None:
    settings = build_settings(flags={}, environ={"HOSTNAME": socket.gethostname()})
    assert settings.host == "127.0.0.1"


def test_build_settings_numeric_encryption_key_stays_string() -> None:
    settings = build_settings(flags={}, environ={"STORAGE_ENCRYPTION_KEY": "0042"})
    assert settings.encryption_key == "0042"


def test_build_settings_unrelated_env_ignored() -> None:
    settings = build_settings(flags={}, environ={"HOME": "/root", "PATH": "/bin", "port": "1"})
    assert settings == Settings()


# environment coercion -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " true "])
def test_env_boolean_true_when_truthy_spelling(raw: str) -> None:
    assert build_settings(flags={}, environ={"REQUIRE_API_KEY": raw}).require_api_key is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "OFF", ""])
def test_env_boolean_false_when_falsy_spelling(raw: str) -> None:
    settings = build_settings(flags={}, environ={"REQUIRE_API_KEY": raw, "OMNIROUTE_ALLOW_OPEN_BIND": raw})
    assert settings.require_api_key is False
    assert settings.allow_open_bind is False


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled", "y e s"])
def test_env_boolean_config_error_when_unrecognised(raw: str) -> None:
    with pytest.raises(ConfigError, match="REQUIRE_API_KEY") as info:
        build_settings(flags={}, environ={"REQUIRE_API_KEY": raw})
    assert "boolean" in str(info.value)


def test_env_integer_accepts_surrounding_whitespace() -> None:
    assert build_settings(flags={}, environ={"PORT": " 8081 "}).port == 8081


@pytest.mark.parametrize(
    ("name", "raw"), [("PORT", "abc"), ("PORT", ""), ("PORT", "80.5"), ("OMNIROUTE_WORKERS", "2.5")]
)
def test_env_integer_config_error_when_not_integer(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name) as info:
        build_settings(flags={}, environ={name: raw})
    assert "not an integer" in str(info.value)


def test_build_settings_config_error_when_server_section_has_wrong_type() -> None:
    with pytest.raises(ConfigError, match="port"):
        build_settings(flags={}, environ={}, server_section={"port": "eighty"})


def test_build_settings_config_error_when_bool_given_for_int() -> None:
    with pytest.raises(ConfigError, match="workers"):
        build_settings(flags={}, environ={}, server_section={"workers": True})


def test_build_settings_int_accepted_for_float_timeout() -> None:
    assert build_settings(flags={}, environ={}, server_section={"connect_timeout": 5}).connect_timeout == 5.0


# validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_validate_port_rejected_when_out_of_range(port: int) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        build_settings(flags={"port": port}, environ={})


@pytest.mark.parametrize("port", [1, 65535])
def test_validate_port_accepted_at_range_bounds(port: int) -> None:
    assert build_settings(flags={"port": port}, environ={}).port == port


@pytest.mark.parametrize("workers", [0, -3])
def test_validate_workers_rejected_when_below_one(workers: int) -> None:
    with pytest.raises(ConfigError, match="workers"):
        build_settings(flags={"workers": workers}, environ={})


def test_validate_log_level_rejected_when_unknown() -> None:
    with pytest.raises(ConfigError, match="verbose"):
        build_settings(flags={}, environ={"LOG_LEVEL": "verbose"})


def test_validate_log_level_lowercased_when_uppercase() -> None:
    assert build_settings(flags={}, environ={"LOG_LEVEL": "WARNING"}).log_level == "warning"


@pytest.mark.parametrize(
    "name", ["connect_timeout", "first_byte_timeout", "stream_idle_timeout", "request_timeout"]
)
@pytest.mark.parametrize("value", [0, 0.0, -1.5])
def test_validate_timeout_rejected_when_not_positive(name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=name):
        build_settings(flags={}, environ={}, server_section={name: value})


def test_validate_returns_new_settings_with_lowercase_level() -> None:
    original = Settings(log_level="ERROR")
    validated = validate(original)
    assert validated.log_level == "error"
    assert original.log_level == "ERROR"


# JSON hand-off ---------------------------------------------------------------------------------


def test_settings_json_round_trip_preserves_every_field() -> None:
    settings = Settings(
        host="0.0.0.0",
        port=9999,
        data_dir="/tmp/omni-data",
        config_path="/etc/omni.toml",
        workers=4,
        log_level="debug",
        require_api_key=True,
        allow_open_bind=True,
        encryption_key="secret passphrase",
        connect_timeout=1.5,
        first_byte_timeout=2.5,
        stream_idle_timeout=3.5,
        request_timeout=4.5,
        shutdown_timeout=5.5,
        max_body_bytes=1234,
    )
    raw = settings.to_json()
    assert isinstance(raw, bytes)
    assert Settings.from_json(raw) == settings
    assert Settings.from_json(raw.decode()) == settings


def test_settings_from_json_rejects_wrong_type() -> None:
    with pytest.raises(msgspec.ValidationError):
        Settings.from_json(b'{"port": "x"}')


def test_settings_frozen_when_assigned() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_settings_data_path_expands_home() -> None:
    assert Settings(data_dir="~/omni-test-dir").data_path == Path.home() / "omni-test-dir"


def test_settings_from_worker_env_uses_json_when_present() -> None:
    handed = Settings(port=4321, workers=2, require_api_key=True)
    environ = {SETTINGS_ENV: handed.to_json().decode(), "PORT": "1111"}
    assert settings_from_worker_env(environ) == handed


def test_settings_from_worker_env_builds_from_env_when_json_absent() -> None:
    settings = settings_from_worker_env({"PORT": "1111", "LOG_LEVEL": "ERROR"})
    assert settings.port == 1111
    assert settings.log_level == "error"


def test_settings_from_worker_env_validates_env_when_json_absent() -> None:
    with pytest.raises(ConfigError):
        settings_from_worker_env({"PORT": "0"})


def test_settings_from_worker_env_reads_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SETTINGS_ENV, Settings(port=7777).to_json().decode())
    assert settings_from_worker_env().port == 7777
