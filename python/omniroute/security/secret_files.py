"""32-byte secrets kept in files of the data directory (vault key, API-key check secret,
session key): mode 0600, created atomically so that concurrent processes agree on one value."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from omniroute.errors import ConfigError

SECRET_BYTES = 32


def load_or_create_secret_file(path: Path, *, what: str) -> bytes:
    """The secret in `path`, created on first use. `what` names it in error messages."""
    for _ in range(3):
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secrets.token_bytes(SECRET_BYTES))
                    handle.flush()
                    os.fsync(handle.fileno())
                # link() publishes the complete file, never replaces one: when processes race,
                # the first file wins and every process reads it.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            continue
        if len(secret) != SECRET_BYTES:
            raise ConfigError(f"{path}: {what} file is corrupt (expected {SECRET_BYTES} bytes)")
        return secret
    raise ConfigError(f"{path}: {what} file could not be created")
