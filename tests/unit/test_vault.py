"""The AES-256-GCM credential vault and its key sources."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from omniroute.errors import ConfigError
from omniroute.security.vault import KEY_FILE, Vault, derive_key, load_or_create_key_file

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
AAD = "connections:openai:main:api_key"


def test_seal_open_round_trip_returns_plaintext() -> None:
    vault = Vault(KEY_A)
    for plaintext in ("sk-abc", "", "ключ-🔑-with unicode", "x" * 10_000):
        assert vault.open(vault.seal(plaintext, AAD), AAD) == plaintext


def test_sealed_value_has_version_nonce_and_tag() -> None:
    sealed = Vault(KEY_A).seal("secret", AAD)
    assert sealed[:1] == b"\x01"
    assert len(sealed) == 1 + 12 + len(b"secret") + 16
    assert b"secret" not in sealed


def test_seal_twice_gives_different_nonces_and_ciphertexts() -> None:
    vault = Vault(KEY_A)
    first, second = vault.seal("same", AAD), vault.seal("same", AAD)
    assert first != second
    assert first[1:13] != second[1:13]


def test_open_fails_under_different_associated_data() -> None:
    vault = Vault(KEY_A)
    sealed = vault.seal("secret", AAD)
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        vault.open(sealed, "connections:openai:other:api_key")


def test_open_fails_under_another_key() -> None:
    sealed = Vault(KEY_A).seal("secret", AAD)
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        Vault(KEY_B).open(sealed, AAD)


def test_open_fails_when_ciphertext_tampered() -> None:
    vault = Vault(KEY_A)
    sealed = bytearray(vault.seal("secret", AAD))
    sealed[-1] ^= 0x01
    with pytest.raises(ConfigError):
        vault.open(bytes(sealed), AAD)


@pytest.mark.parametrize("sealed", [b"", b"\x01", b"\x02" + bytes(40), b"\x01" + bytes(27)])
def test_open_fails_on_unknown_format(sealed: bytes) -> None:
    with pytest.raises(ConfigError, match="unknown format"):
        Vault(KEY_A).open(sealed, AAD)


@pytest.mark.parametrize("key", [b"", b"short", bytes(31), bytes(33)])
def test_vault_rejects_key_of_wrong_length(key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Vault(key)


# key sources --------------------------------------------------------------------------------------


def test_key_file_created_with_mode_0600(tmp_path: Path) -> None:
    key = load_or_create_key_file(tmp_path)
    path = tmp_path / KEY_FILE
    assert len(key) == 32
    assert path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_reused_when_present(tmp_path: Path) -> None:
    first = load_or_create_key_file(tmp_path)
    second = load_or_create_key_file(tmp_path)
    assert first == second


def test_vault_from_key_file_opens_after_restart(tmp_path: Path) -> None:
    sealed = Vault.from_settings(None, tmp_path).seal("sk-persisted", AAD)
    assert Vault.from_settings(None, tmp_path).open(sealed, AAD) == "sk-persisted"


def test_distinct_data_dirs_get_distinct_keys(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert load_or_create_key_file(tmp_path / "a") != load_or_create_key_file(tmp_path / "b")


@pytest.mark.parametrize("content", [b"", b"too short", bytes(33)])
def test_corrupt_key_file_raises_config_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / KEY_FILE).write_bytes(content)
    with pytest.raises(ConfigError, match="corrupt") as info:
        Vault.from_settings(None, tmp_path)
    assert KEY_FILE in str(info.value)


def test_derive_key_stable_and_32_bytes() -> None:
    assert derive_key("correct horse battery staple") == derive_key("correct horse battery staple")
    assert len(derive_key("x")) == 32


def test_derive_key_differs_per_passphrase() -> None:
    assert derive_key("passphrase-one") != derive_key("passphrase-two")


def test_passphrase_vault_opens_across_instances_without_key_file(tmp_path: Path) -> None:
    sealed = Vault.from_settings("my passphrase", tmp_path).seal("sk-value", AAD)
    assert Vault.from_settings("my passphrase", tmp_path).open(sealed, AAD) == "sk-value"
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(ConfigError):
        Vault.from_settings("other passphrase", tmp_path).open(sealed, AAD)


def test_passphrase_vault_does_not_open_key_file_values(tmp_path: Path) -> None:
    sealed = Vault.from_settings(None, tmp_path).seal("sk-value", AAD)
    with pytest.raises(ConfigError):
        Vault.from_settings("my passphrase", tmp_path).open(sealed, AAD)
