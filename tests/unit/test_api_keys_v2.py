"""Inbound keys: format and HMAC check part, tamper detection, hashing, the persisted check
secret, storage of limits, freshness across connections, the shared create/rotate/patch
operations, config import, and the `omniroute keys` CLI."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import re
import stat
import string
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import apsw
import msgspec
import pytest

from omniroute import cli, keys_cli
from omniroute.admin.keys import (
    KeyCreate,
    KeyExistsError,
    KeyPatch,
    KeyRequestError,
    KeyRevokedError,
    create_key,
    describe,
    patch_key,
    rotate_key,
)
from omniroute.config_file import parse_config
from omniroute.errors import ConfigError, GatewayError
from omniroute.http.request import Request
from omniroute.routing.catalog import Catalog, build_catalog
from omniroute.security import auth as auth_module
from omniroute.security.api_keys import (
    CHECK_LENGTH,
    KEY_PREFIX,
    SECRET_FILE,
    KeyLimits,
    api_key_secret,
    check_part,
    generate_key,
    hash_key,
    key_hint,
    load_or_create_secret,
    new_key,
    passes_check,
    public_id_of,
    validate_limits,
)
from omniroute.security.auth import KeyAuth, authenticate
from omniroute.security.vault import Vault
from omniroute.store.commit_signal import BACKSTOP, CommitSignal, commit_signal
from omniroute.store.config_sync import apply_config
from omniroute.store.db import DB_FILE, connect, open_database
from omniroute.store.repositories import Repositories

SECRET = b"k" * 32
OTHER_SECRET = b"o" * 32
SHAPE = re.compile(r"sk-omr-[a-z0-9]{12}-[A-Za-z0-9]{32}")


# format and check part ----------------------------------------------------------------------------


def test_new_key_has_prefix_public_id_and_check_part() -> None:
    made = new_key(SECRET)
    assert SHAPE.fullmatch(made.key), made.key
    assert made.key.startswith(f"{KEY_PREFIX}{made.public_id}-")
    assert public_id_of(made.key) == made.public_id
    body, check = made.key[:-CHECK_LENGTH], made.key[-CHECK_LENGTH:]
    assert check == check_part(SECRET, body)


def test_new_keys_are_unique() -> None:
    made = [new_key(SECRET) for _ in range(300)]
    assert len({m.key for m in made}) == 300
    assert len({m.public_id for m in made}) == 300


def test_check_part_is_deterministic_and_depends_on_secret_and_body() -> None:
    body = "sk-omr-abcdefghijkl-" + "A" * 24
    assert check_part(SECRET, body) == check_part(SECRET, body)
    assert check_part(SECRET, body) != check_part(OTHER_SECRET, body)
    assert check_part(SECRET, body) != check_part(SECRET, body[:-1] + "B")
    assert re.fullmatch(r"[A-Za-z0-9]{8}", check_part(SECRET, body))


def test_generated_key_passes_its_own_check() -> None:
    assert passes_check(new_key(SECRET).key, SECRET)


def test_key_of_another_secret_fails_the_check() -> None:
    assert not passes_check(new_key(OTHER_SECRET).key, SECRET)


def _swap(char: str) -> str:
    alphabet = (
        string.ascii_lowercase + string.digits if char.islower() or char.isdigit() else string.ascii_letters
    )
    return next(c for c in alphabet if c != char)


def test_every_single_character_tamper_is_detected() -> None:
    key = new_key(SECRET).key
    start = len(KEY_PREFIX)
    for index in range(start, len(key)):
        if key[index] == "-":
            continue
        tampered = key[:index] + _swap(key[index]) + key[index + 1 :]
        assert SHAPE.fullmatch(tampered)
        assert not passes_check(tampered, SECRET), (index, tampered)


@pytest.mark.parametrize(
    "key",
    [
        "sk-omr-inbound-explicit-P3R2",
        "sk-test-ci-key-0123456789abcdef",
        "0123456789abcdef",
        "sk-omr-" + "a" * 40,
        "sk-omr-ABCDEFGHIJKL-" + "A" * 32,  # upper-case id: not the generated shape
    ],
)
def test_keys_of_other_formats_are_left_to_the_digest_lookup(key: str) -> None:
    assert passes_check(key, SECRET)
    assert public_id_of(key) is None


def test_generate_key_without_secret_is_a_plain_random_key() -> None:
    key = generate_key()
    assert key.startswith(KEY_PREFIX) and public_id_of(key) is None
    assert passes_check(key, SECRET)
    assert SHAPE.fullmatch(generate_key(SECRET))


def test_stored_forms_are_sha256_and_a_short_hint() -> None:
    made = new_key(SECRET)
    assert made.key_hash == hashlib.sha256(made.key.encode()).hexdigest() == hash_key(made.key)
    assert made.hint == key_hint(made.key) == "..." + made.key[-4:]
    assert made.key not in made.hint


# the check secret ---------------------------------------------------------------------------------


def test_secret_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = load_or_create_secret(data)
    assert len(first) == 32
    path = data / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(data) == first
    assert [p.name for p in data.iterdir()] == [SECRET_FILE]  # no temporary file left


def test_secret_survives_a_restart_so_keys_keep_working(tmp_path: Path) -> None:
    key = new_key(load_or_create_secret(tmp_path)).key
    assert passes_check(key, api_key_secret(None, tmp_path))


def test_configured_secret_wins_over_the_file(tmp_path: Path) -> None:
    assert api_key_secret("from-env", tmp_path) == b"from-env"
    assert not (tmp_path / SECRET_FILE).exists()
    key = new_key(api_key_secret("from-env", tmp_path)).key
    assert not passes_check(key, api_key_secret("other", tmp_path))


def test_corrupt_secret_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(ConfigError, match="corrupt"):
        load_or_create_secret(tmp_path)


def _secret_in_child(path: str, queue: multiprocessing.Queue[bytes]) -> None:
    queue.put(load_or_create_secret(Path(path)))


def test_racing_processes_agree_on_one_secret(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[bytes] = ctx.Queue()
    procs = [ctx.Process(target=_secret_in_child, args=(str(tmp_path), queue)) for _ in range(4)]
    for proc in procs:
        proc.start()
    results = {queue.get(timeout=30) for _ in procs}
    for proc in procs:
        proc.join(30)
    assert results == {load_or_create_secret(tmp_path)}


# limits -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "problem"),
    [
        (KeyLimits(), None),
        (KeyLimits(daily_budget=0.0, rpm=0, tpm=1, max_concurrent=1, budget_warning=1.0), None),
        (KeyLimits(daily_budget=-1.0), "daily_budget"),
        (KeyLimits(monthly_budget=float("nan")), "monthly_budget"),
        (KeyLimits(weekly_budget=float("inf")), "weekly_budget"),
        (KeyLimits(budget_warning=0.0), "budget_warning"),
        (KeyLimits(budget_warning=1.5), "budget_warning"),
        (KeyLimits(rpm=-1), "rpm"),
        (KeyLimits(tpm=-5), "tpm"),
        (KeyLimits(max_concurrent=-2), "max_concurrent"),
    ],
)
def test_validate_limits(limits: KeyLimits, problem: str | None) -> None:
    found = validate_limits(limits)
    assert (found is None) if problem is None else (found is not None and problem in found)


# repository and operations ------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def repos(data_dir: Path) -> Iterator[Repositories]:
    conn = open_database(data_dir)
    try:
        yield Repositories(conn, Vault(bytes(range(32))))
    finally:
        conn.close()


def test_create_stores_hash_hint_public_id_and_limits_only(repos: Repositories) -> None:
    payload = KeyCreate(
        name="team-a",
        allowed_models=["openai/*", " openai/* ", "claude-?"],
        daily_budget=5.0,
        weekly_budget=20.0,
        monthly_budget=50.0,
        budget_warning=0.5,
        rpm=60,
        tpm=100_000,
        max_concurrent=4,
    )
    row, key = create_key(repos, SECRET, payload, source="api")
    assert passes_check(key, SECRET)
    assert (row.id, row.public_id, row.source) == (f"key_{public_id_of(key)}", public_id_of(key), "api")
    assert row.key_hash == hash_key(key) and row.key_hint == key_hint(key)
    assert row.allowed_models == ("openai/*", "claude-?")
    assert (row.daily_budget, row.weekly_budget, row.monthly_budget, row.budget_warning) == (
        5.0,
        20.0,
        50.0,
        0.5,
    )
    assert (row.rpm, row.tpm, row.max_concurrent) == (60, 100_000, 4)
    dump = json.dumps(repos.conn.execute("SELECT * FROM api_keys").fetchall())
    assert key not in dump and key[len(KEY_PREFIX) :] not in dump
    assert repos.list_api_keys() == [row]


def test_get_by_id_name_or_public_id(repos: Repositories) -> None:
    row, _ = create_key(repos, SECRET, KeyCreate(name="n1"), source="cli")
    assert row.public_id is not None
    for ref in (row.id, "n1", row.public_id):
        assert repos.get_api_key(ref) == row
    assert repos.get_api_key("nope") is None


def test_duplicate_name_is_refused(repos: Repositories) -> None:
    create_key(repos, SECRET, KeyCreate(name="dup"), source="api")
    with pytest.raises(KeyExistsError):
        create_key(repos, SECRET, KeyCreate(name="dup"), source="api")
    assert len(repos.list_api_keys()) == 1


@pytest.mark.parametrize(
    "payload",
    [
        KeyCreate(name="   "),
        KeyCreate(name="x" * 101),
        KeyCreate(name="tab\there"),
        KeyCreate(name="ok", allowed_models=[""]),
        KeyCreate(name="ok", allowed_models=["m"] * 201),
        KeyCreate(name="ok", rpm=-1),
        KeyCreate(name="ok", daily_budget=-0.01),
        KeyCreate(name="ok", budget_warning=2.0),
    ],
)
def test_invalid_create_is_refused_and_stores_nothing(repos: Repositories, payload: KeyCreate) -> None:
    with pytest.raises(KeyRequestError):
        create_key(repos, SECRET, payload, source="api")
    assert repos.list_api_keys() == []


def test_rotate_keeps_identity_and_replaces_secret(repos: Repositories) -> None:
    row, old = create_key(repos, SECRET, KeyCreate(name="r", rpm=7), source="api")
    rotated, new = rotate_key(repos, SECRET, row)
    assert new != old and passes_check(new, SECRET)
    assert (rotated.id, rotated.name, rotated.rpm, rotated.created_at) == (row.id, "r", 7, row.created_at)
    assert rotated.key_hash == hash_key(new) != hash_key(old)
    catalog = build_catalog([], [], repos.list_api_keys())
    assert hash_key(old) not in catalog.keys and hash_key(new) in catalog.keys


def test_revoke_is_kept_as_history_and_leaves_the_catalog(repos: Repositories) -> None:
    row, key = create_key(repos, SECRET, KeyCreate(name="gone"), source="api")
    assert repos.revoke_api_key(row.id) is True
    assert repos.revoke_api_key(row.id) is False  # already revoked
    revoked = repos.get_api_key(row.id)
    assert revoked is not None and revoked.revoked_at is not None
    assert hash_key(key) not in build_catalog([], [], repos.list_api_keys()).keys
    with pytest.raises(KeyRevokedError):
        rotate_key(repos, SECRET, revoked)


def test_patch_changes_only_given_fields_and_null_clears(repos: Repositories) -> None:
    row, key = create_key(repos, SECRET, KeyCreate(name="p", rpm=5, tpm=900, daily_budget=1.0), source="api")
    patch = msgspec.json.decode(
        b'{"rpm": 10, "daily_budget": null, "allowed_models": ["gpt-*"]}', type=KeyPatch
    )
    updated = patch_key(repos, row, patch)
    assert (updated.rpm, updated.tpm, updated.daily_budget, updated.allowed_models) == (
        10,
        900,
        None,
        ("gpt-*",),
    )
    assert updated.key_hash == hash_key(key)
    with pytest.raises(KeyRequestError):
        patch_key(repos, updated, KeyPatch(tpm=-1))
    assert repos.get_api_key(row.id) == updated


def test_patch_rename_to_a_taken_name_is_refused(repos: Repositories) -> None:
    create_key(repos, SECRET, KeyCreate(name="a"), source="api")
    row, _ = create_key(repos, SECRET, KeyCreate(name="b"), source="api")
    with pytest.raises(KeyExistsError):
        patch_key(repos, row, KeyPatch(name="a"))


def test_describe_never_shows_hash_or_key(repos: Repositories) -> None:
    row, key = create_key(repos, SECRET, KeyCreate(name="d"), source="api")
    shown = describe(row, 12.5)
    assert "key_hash" not in shown and "key" not in shown
    assert row.key_hash not in json.dumps(shown) and key not in json.dumps(shown)
    assert (shown["last_used_at"], shown["active"], shown["hint"]) == (12.5, True, key_hint(key))


def test_last_used_comes_from_usage_records(repos: Repositories) -> None:
    row, _ = create_key(repos, SECRET, KeyCreate(name="u"), source="api")
    assert repos.api_key_last_used(row.id) is None
    for ts in (100.0, 300.0, 200.0):
        repos.conn.execute(
            "INSERT INTO usage_records (ts, request_id, api_key_id, route, client_dialect, stream, status, "
            "outcome, latency_ms) VALUES (?, 'r', ?, '/v1/chat/completions', 'openai', 0, 200, 'success', 1)",
            (ts, row.id),
        )
    assert repos.api_key_last_used(row.id) == 300.0


# authentication and freshness ---------------------------------------------------------------------


def request(**hdrs: str) -> Request:
    scope = SimpleNamespace(
        method="POST",
        path="/v1/chat/completions",
        query_string="",
        headers={k.replace("_", "-"): v for k, v in hdrs.items()},
        client="127.0.0.1:5000",
    )
    return Request(scope, protocol=None)


class Source:
    """The runtime's part that authentication reads: a catalog and a KeyAuth."""

    def __init__(self, repos: Repositories, secret: bytes, commits: CommitSignal | None = None) -> None:
        self.repos = repos
        self.reloads = 0
        self.reads = 0
        self._catalog = self._build()
        self.key_auth = KeyAuth(repos.conn, secret, self.reload, commits)

    def _build(self) -> Catalog:
        return build_catalog([], [], self.repos.list_api_keys())

    def reload(self) -> None:
        self.reloads += 1
        self._catalog = self._build()

    @property
    def catalog(self) -> Catalog:
        self.reads += 1
        return self._catalog


def test_tampered_key_is_refused_before_any_lookup(repos: Repositories) -> None:
    _, key = create_key(repos, SECRET, KeyCreate(name="t"), source="api")
    source = Source(repos, SECRET)
    assert authenticate(request(x_api_key=key), source, required=True) is not None
    reads = source.reads
    tampered = key[:-1] + _swap(key[-1])
    with pytest.raises(GatewayError) as info:
        authenticate(request(authorization=f"Bearer {tampered}"), source, required=True)
    assert (info.value.status, info.value.code) == (401, "invalid_api_key")
    assert source.reads == reads
    assert authenticate(request(x_api_key=tampered), source, required=False) is None


def test_config_format_key_is_accepted_by_digest(repos: Repositories) -> None:
    repos.upsert_api_key(
        name="cfg", key_hash=hash_key("free-form-key-0123456789"), key_hint="...6789", allowed_models=[]
    )
    source = Source(repos, SECRET)
    row = authenticate(request(x_goog_api_key="free-form-key-0123456789"), source, required=True)
    assert row is not None and row.name == "cfg"


@pytest.mark.parametrize("counter", [False, True], ids=["data-version", "commit-counter"])
def test_revoke_by_another_connection_is_seen_on_the_next_request(
    repos: Repositories, data_dir: Path, counter: bool
) -> None:
    row, key = create_key(repos, SECRET, KeyCreate(name="x"), source="api")
    source = Source(repos, SECRET, commit_signal(data_dir / DB_FILE) if counter else None)
    assert authenticate(request(x_api_key=key), source, required=True) == row
    other = connect(data_dir / DB_FILE)
    try:
        with other:
            Repositories(other, repos.vault).revoke_api_key(row.id)
    finally:
        other.close()
    with pytest.raises(GatewayError):
        authenticate(request(x_api_key=key), source, required=True)
    assert source.reloads == 1


def test_key_created_by_another_connection_works_at_once(repos: Repositories, data_dir: Path) -> None:
    source = Source(repos, SECRET)
    other = connect(data_dir / DB_FILE)
    try:
        row, key = create_key(Repositories(other, repos.vault), SECRET, KeyCreate(name="new"), source="cli")
    finally:
        other.close()
    assert authenticate(request(x_api_key=key), source, required=True) == row


def test_writes_to_other_tables_do_not_reload_keys(repos: Repositories, data_dir: Path) -> None:
    source = Source(repos, SECRET)
    other = connect(data_dir / DB_FILE)
    try:
        other.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")
    finally:
        other.close()
    assert source.key_auth.ensure_fresh() is False
    assert source.reloads == 0


def test_sqlite_is_not_asked_while_the_commit_counter_stands_still(
    repos: Repositories, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    row, key = create_key(repos, SECRET, KeyCreate(name="x"), source="api")
    source = Source(repos, SECRET, commit_signal(data_dir / DB_FILE))
    asked: list[int] = []
    real = source.key_auth._read_data_version
    monkeypatch.setattr(source.key_auth, "_read_data_version", lambda: asked.append(1) or real())
    for _ in range(50):
        assert authenticate(request(x_api_key=key), source, required=True) == row
    assert asked == []
    other = connect(data_dir / DB_FILE)
    try:
        other.execute("INSERT INTO settings (key, value) VALUES ('x', 'y')")
    finally:
        other.close()
    assert authenticate(request(x_api_key=key), source, required=True) == row
    assert asked == [1]  # one look after the commit, then quiet again
    assert authenticate(request(x_api_key=key), source, required=True) == row
    assert asked == [1] and source.reloads == 0


def test_a_revoke_made_outside_omniroute_is_seen_within_the_backstop(
    repos: Repositories, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    row, key = create_key(repos, SECRET, KeyCreate(name="x"), source="api")
    source = Source(repos, SECRET, commit_signal(data_dir / DB_FILE))
    shell = apsw.Connection(str(data_dir / DB_FILE))  # like the sqlite3 shell: no commit hook
    try:
        shell.execute("UPDATE api_keys SET revoked_at = 1 WHERE id = ?", (row.id,))
    finally:
        shell.close()
    assert authenticate(request(x_api_key=key), source, required=True) == row
    later = time.monotonic() + BACKSTOP
    monkeypatch.setattr(auth_module.time, "monotonic", lambda: later)
    with pytest.raises(GatewayError):
        authenticate(request(x_api_key=key), source, required=True)


def test_bare_catalog_still_authenticates(repos: Repositories) -> None:
    row, key = create_key(repos, SECRET, KeyCreate(name="c"), source="api")
    assert authenticate(request(x_api_key=key), build_catalog([], [], [row]), required=True) == row


# config import ------------------------------------------------------------------------------------

LIMITED = """
[[api_keys]]
name = "limited"
key = "sk-config-limited-0123456789"
allowed_models = ["openai/*"]
daily_budget = 2.5
monthly_budget = 40.0
budget_warning = 0.9
rpm = 30
tpm = 5000
max_concurrent = 2

[[api_keys]]
name = "generated"
rpm = 3
"""


def test_config_limits_are_stored_and_generated_keys_carry_a_check(repos: Repositories) -> None:
    config = parse_config(Path("c.toml"), LIMITED)
    ((name, key),) = apply_config(repos, config, {}, key_secret=SECRET)
    assert name == "generated" and SHAPE.fullmatch(key) and passes_check(key, SECRET)
    rows = {r.name: r for r in repos.list_api_keys()}
    limited, generated = rows["limited"], rows["generated"]
    assert (limited.daily_budget, limited.weekly_budget, limited.monthly_budget) == (2.5, None, 40.0)
    assert (limited.budget_warning, limited.rpm, limited.tpm, limited.max_concurrent) == (0.9, 30, 5000, 2)
    assert (limited.source, limited.public_id) == ("config", None)
    assert (generated.rpm, generated.public_id) == (3, public_id_of(key))
    assert apply_config(repos, config, {}, key_secret=SECRET) == []


def test_config_limit_change_keeps_a_generated_key(repos: Repositories) -> None:
    ((_, key),) = apply_config(repos, parse_config(Path("c.toml"), LIMITED), {}, key_secret=SECRET)
    edited = LIMITED.replace("rpm = 3", "rpm = 9")
    assert apply_config(repos, parse_config(Path("c.toml"), edited), {}, key_secret=SECRET) == []
    generated = next(r for r in repos.list_api_keys() if r.name == "generated")
    assert (generated.rpm, generated.key_hash) == (9, hash_key(key))


def test_config_key_in_generated_format_must_pass_the_check(repos: Repositories) -> None:
    foreign = new_key(OTHER_SECRET).key
    text = f'[[api_keys]]\nname = "copied"\nkey = "{foreign}"\n'
    with pytest.raises(ConfigError, match="check part"):
        apply_config(repos, parse_config(Path("c.toml"), text), {}, key_secret=SECRET)
    assert repos.list_api_keys() == []
    own = new_key(SECRET).key
    apply_config(repos, parse_config(Path("c.toml"), text.replace(foreign, own)), {}, key_secret=SECRET)
    (row,) = repos.list_api_keys()
    assert row.public_id == public_id_of(own)


def test_rows_from_before_limits_were_stored_get_them_once(repos: Repositories) -> None:
    """A database whose config fingerprints predate the limit columns applies them on upgrade."""
    config = parse_config(Path("c.toml"), LIMITED)
    apply_config(repos, config, {}, key_secret=SECRET)
    generated = next(r for r in repos.list_api_keys() if r.name == "generated")
    repos.conn.execute("UPDATE api_keys SET rpm = NULL, config_hash = 'old-fingerprint'")
    assert apply_config(repos, config, {}, key_secret=SECRET) == []
    rows = {r.name: r for r in repos.list_api_keys()}
    assert (rows["limited"].rpm, rows["generated"].rpm) == (30, 3)
    assert rows["generated"].key_hash == generated.key_hash


def test_revision_counter_moves_with_every_key_change(repos: Repositories) -> None:
    def revision() -> int:
        row = repos.conn.execute("SELECT revision FROM api_key_revision").fetchone()
        assert row is not None
        return int(row[0])

    start = revision()
    row, _ = create_key(repos, SECRET, KeyCreate(name="rev"), source="api")
    rotate_key(repos, SECRET, row)
    patch_key(repos, row, KeyPatch(rpm=3))
    repos.revoke_api_key(row.id)
    repos.conn.execute("DELETE FROM api_keys")
    assert revision() == start + 5


# CLI ----------------------------------------------------------------------------------------------


def run_cli(argv: list[str], environ: dict[str, str] | None = None) -> tuple[int, str]:
    args = cli.build_parser().parse_args(argv)
    out = io.StringIO()
    code = keys_cli.run(args, environ or {}, out)
    return code, out.getvalue()


def test_cli_create_list_rotate_revoke(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--data-dir", str(data_dir)]
    code, out = run_cli(
        [
            "keys",
            "create",
            *base,
            "--name",
            "ci",
            "--allowed-model",
            "openai/*",
            "--rpm",
            "5",
            "--daily-budget",
            "1.5",
        ]
    )
    key = out.strip()
    assert code == 0 and SHAPE.fullmatch(key)
    assert "shown only now" in capsys.readouterr().err
    assert passes_check(key, load_or_create_secret(data_dir))

    code, listing = run_cli(["keys", "list", *base])
    assert code == 0 and "ci" in listing and "rpm=5" in listing and "daily_budget=1.5" in listing
    assert key not in listing and key_hint(key) in listing

    code, out = run_cli(["keys", "rotate", "ci", *base, "--json"])
    rotated = json.loads(out)
    assert code == 0 and rotated["key"] != key and rotated["name"] == "ci" and rotated["rpm"] == 5

    code, out = run_cli(["keys", "update", "ci", *base, "--tpm", "700", "--clear", "daily_budget"])
    assert code == 0
    code, out = run_cli(["keys", "revoke", rotated["id"], *base])
    assert code == 0 and "revoked" in out
    code, out = run_cli(["keys", "list", *base, "--json"])
    (shown,) = json.loads(out)
    assert (shown["active"], shown["tpm"], shown["daily_budget"]) == (False, 700, None)
    assert "key" not in shown and rotated["key"] not in out


def test_cli_reports_unknown_key_and_bad_limits(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["keys", "revoke", "ghost", "--data-dir", str(data_dir)])[0] == 1
    assert "no API key 'ghost'" in capsys.readouterr().err
    assert run_cli(["keys", "create", "--name", "x", "--rpm=-1", "--data-dir", str(data_dir)])[0] == 1
    assert "rpm" in capsys.readouterr().err


def test_cli_uses_data_dir_and_secret_from_the_environment(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "envdata"), "API_KEY_SECRET": "shared-secret"}
    code, out = run_cli(["keys", "create", "--name", "e"], env)
    assert code == 0 and passes_check(out.strip(), b"shared-secret")
    assert (tmp_path / "envdata" / DB_FILE).exists()
    assert not (tmp_path / "envdata" / SECRET_FILE).exists()


def test_cli_main_dispatches_keys(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "create", "--name", "m", "--data-dir", str(data_dir)]) == 0
    key = capsys.readouterr().out.strip()
    conn = apsw.Connection(str(data_dir / DB_FILE))
    try:
        (stored,) = conn.execute("SELECT key_hash FROM api_keys").fetchall()
    finally:
        conn.close()
    assert stored[0] == hash_key(key)
