"""Personal data under a key per member; forgetting destroys the key (crypto-shredding).

Events keep only ciphertext ("pd1:" + base64(nonce + AES-GCM ciphertext)),
so the immutable log stays immutable and a forgotten member's data is
unreadable everywhere it was copied (store, Kafka, projections, exports).
Keys live apart from the events: in a SQLite file of their own built for
deletion (embedded), or in a `member_keys` table (PostgreSQL).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pd1:"


class MemberForgotten(Exception):
    """A forgotten member's key is gone for good: no new one is made."""


class KeyStore(Protocol):
    def create(self, tenant_id: str, member_id: str) -> bytes: ...
    def get(self, tenant_id: str, member_id: str) -> bytes | None: ...
    def destroy(self, tenant_id: str, member_id: str) -> None: ...


class SQLiteKeyStore:
    """Member keys in a file of their own, built for deletion.

    Rollback journal (not WAL): a changed page's old image goes to a journal that is
    deleted at commit, so a destroyed key is in no file afterwards; `secure_delete`
    zeroes the freed bytes in the database itself. A forgotten member keeps a row with
    no key (a tombstone), so nothing can silently create a new key for them.
    """

    def __init__(self, path: str, legacy_path: str | None = None) -> None:
        self._local = threading.local()
        self.path = path
        if path != ":memory:":
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS member_keys (tenant_id TEXT NOT NULL, "
                "member_id TEXT NOT NULL, key BLOB, PRIMARY KEY (tenant_id, member_id))"
            )
        if legacy_path:
            self._move_from(legacy_path)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def _move_from(self, legacy_path: str) -> None:
        """Keys that older versions kept beside the events move here, and are erased there."""
        old = sqlite3.connect(legacy_path, timeout=30)
        try:
            exists = old.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'member_keys'"
            ).fetchone()
            if not exists:
                return
            rows = old.execute("SELECT tenant_id, member_id, key FROM member_keys").fetchall()
            with self._conn() as conn:
                conn.executemany("INSERT OR IGNORE INTO member_keys VALUES (?, ?, ?)", rows)
            old.execute("PRAGMA secure_delete=ON")
            with old:
                old.execute("DELETE FROM member_keys")
                old.execute("DROP TABLE member_keys")
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            old.close()

    def create(self, tenant_id: str, member_id: str) -> bytes:
        with self._conn() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO member_keys VALUES (?, ?, ?)",
                (tenant_id, member_id, AESGCM.generate_key(bit_length=256)),
            )
        key = self.get(tenant_id, member_id)
        if key is None:
            raise MemberForgotten(member_id)
        return key

    def get(self, tenant_id: str, member_id: str) -> bytes | None:
        row = (
            self._conn()
            .execute(
                "SELECT key FROM member_keys WHERE tenant_id = ? AND member_id = ?",
                (tenant_id, member_id),
            )
            .fetchone()
        )
        return bytes(row[0]) if row and row[0] is not None else None

    def destroy(self, tenant_id: str, member_id: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO member_keys VALUES (?, ?, NULL)", (tenant_id, member_id)
            )

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class PostgresKeyStore:
    def __init__(self, dsn: str, schema: str = "public") -> None:
        from psycopg_pool import ConnectionPool

        # Checked on checkout (a restarted server leaves only dead connections behind),
        # and a short wait: an unavailable key store is a 503, not a hung request.
        self.pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=4,
            open=True,
            timeout=5.0,
            reconnect_timeout=5.0,
            check=ConnectionPool.check_connection,
            kwargs={"options": f"-csearch_path={schema}"},
        )
        from ledger.persistence import postgres_schema_lock

        # Under the store's lock: processes starting together create it one at a time.
        with self.pool.connection() as conn, postgres_schema_lock(conn, schema):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS member_keys (tenant_id TEXT NOT NULL, "
                "member_id TEXT NOT NULL, key BYTEA, PRIMARY KEY (tenant_id, member_id))"
            )
            conn.execute("ALTER TABLE member_keys ALTER COLUMN key DROP NOT NULL")
            conn.commit()  # before the lock is let go: the next process finds it all

    def create(self, tenant_id: str, member_id: str) -> bytes:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO member_keys VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (tenant_id, member_id, AESGCM.generate_key(bit_length=256)),
            )
        key = self.get(tenant_id, member_id)
        if key is None:
            raise MemberForgotten(member_id)
        return key

    def get(self, tenant_id: str, member_id: str) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT key FROM member_keys WHERE tenant_id = %s AND member_id = %s",
                (tenant_id, member_id),
            ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def destroy(self, tenant_id: str, member_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO member_keys VALUES (%s, %s, NULL) ON CONFLICT (tenant_id, member_id) "
                "DO UPDATE SET key = NULL",
                (tenant_id, member_id),
            )
        with self.pool.connection() as conn:
            # Rewrite the (small) table so the dead row's bytes leave the data files; the
            # server's WAL and backups keep them until they are recycled (docs/security.md).
            conn.autocommit = True
            conn.execute("VACUUM FULL member_keys")

    def close(self) -> None:
        self.pool.close()


def keys_path(events_path: str) -> str:
    """The key file beside an embedded event store (`member-keys.sqlite`)."""
    if events_path == ":memory:":
        return ":memory:"
    return str(Path(events_path).with_name("member-keys.sqlite"))


class PersonalData:
    """Encrypts and decrypts a member's personal fields with that member's key."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def encrypt(self, tenant_id: str, member_id: str, text: str | None) -> str | None:
        """Ciphertext under the member's key (made on first use); MemberForgotten after a forget."""
        if text is None:
            return None
        key = self.keys.get(tenant_id, member_id) or self.keys.create(tenant_id, member_id)
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, text.encode(), _aad(tenant_id, member_id))
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, tenant_id: str, member_id: str, token: str | None) -> str | None:
        """The plain text, or None when there is none or the key was destroyed."""
        if not token or not token.startswith(PREFIX):
            return None
        key = self.keys.get(tenant_id, member_id)
        if key is None:
            return None
        raw = base64.b64decode(token[len(PREFIX) :])
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], _aad(tenant_id, member_id)).decode()
        except (InvalidTag, ValueError):
            return None

    def forget(self, tenant_id: str, member_id: str) -> None:
        self.keys.destroy(tenant_id, member_id)


def _aad(tenant_id: str, member_id: str) -> bytes:
    # Binding ciphertext to its owner stops a token being replayed under another member.
    return f"{tenant_id}/{member_id}".encode()
