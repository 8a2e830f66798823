"""AES-256-GCM credential vault: provider secrets are sealed at rest.

Each value gets a random 96-bit nonce; the associated data names the row and column, so a
sealed value copied into another row does not open. The key comes from
`STORAGE_ENCRYPTION_KEY` (stretched with HKDF-SHA256) or from a 32-byte key file created
in the data directory with mode 0600.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from omniroute.errors import ConfigError
from omniroute.security.secret_files import load_or_create_secret_file

KEY_FILE = "storage.key"
_VERSION = b"\x01"
_NONCE_BYTES = 12


def derive_key(passphrase: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"omniroute-vault-v1", info=b"credentials")
    return hkdf.derive(passphrase.encode("utf-8"))


def load_or_create_key_file(data_dir: Path) -> bytes:
    return load_or_create_secret_file(data_dir / KEY_FILE, what="storage key")


class Vault:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("vault key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, encryption_key: str | None, data_dir: Path) -> Vault:
        if encryption_key:
            return cls(derive_key(encryption_key))
        return cls(load_or_create_key_file(data_dir))

    def seal(self, plaintext: str, associated: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return (
            _VERSION
            + nonce
            + self._aead.encrypt(nonce, plaintext.encode("utf-8"), associated.encode("utf-8"))
        )

    def open(self, sealed: bytes, associated: str) -> str:
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise ConfigError("stored credential has an unknown format")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, associated.encode("utf-8")).decode("utf-8")
        except InvalidTag:
            raise ConfigError(
                "a stored credential cannot be decrypted: STORAGE_ENCRYPTION_KEY or the key file changed"
            ) from None
