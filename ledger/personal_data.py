"""Personal data under a key per member; forgetting destroys the key (crypto-shredding).

Events keep only ciphertext ("pd1:" + base64(nonce + AES-GCM ciphertext)),
so the immutable log stays immutable and a forgotten member's data is
unreadable everywhere it was copied (store, Kafka, projections, exports).
Keys live apart from the events, in a `member_keys` table of the same
database (SQLite with secure_delete, or PostgreSQL).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pd1:"


class KeyStore(Protocol):
    def create(self, tenant_id: str, member_id: str) -> bytes: ...
    def get(self, tenant_id: str, member_id: str) -> bytes | None: ...
    def destroy(self, tenant_id: str, member_id: str) -> None: ...


class SQLiteKeyStore:
    def __init__(self, path: str) -> None:
        self._local = threading.local()
        self.path = path
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS member_keys (tenant_id TEXT NOT NULL, "
                "member_id TEXT NOT NULL, key BLOB NOT NULL, PRIMARY KEY (tenant_id, member_id))"
            )

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            # Overwrite deleted keys on disk so a destroyed key cannot be carved back.
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
        return conn

    def create(self, tenant_id: str, member_id: str) -> bytes:
        with self._conn() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO member_keys VALUES (?, ?, ?)",
                (tenant_id, member_id, AESGCM.generate_key(bit_length=256)),
            )
        key = self.get(tenant_id, member_id)
        assert key is not None
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
        return bytes(row[0]) if row else None

    def destroy(self, tenant_id: str, member_id: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "DELETE FROM member_keys WHERE tenant_id = ? AND member_id = ?",
                (tenant_id, member_id),
            )


class PostgresKeyStore:
    def __init__(self, dsn: str, schema: str = "public") -> None:
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(
            dsn, min_size=1, max_size=4, open=True, kwargs={"options": f"-csearch_path={schema}"}
        )
        with self.pool.connection() as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(
                "CREATE TABLE IF NOT EXISTS member_keys (tenant_id TEXT NOT NULL, "
                "member_id TEXT NOT NULL, key BYTEA NOT NULL, PRIMARY KEY (tenant_id, member_id))"
            )

    def create(self, tenant_id: str, member_id: str) -> bytes:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO member_keys VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (tenant_id, member_id, AESGCM.generate_key(bit_length=256)),
            )
        key = self.get(tenant_id, member_id)
        assert key is not None
        return key

    def get(self, tenant_id: str, member_id: str) -> bytes | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT key FROM member_keys WHERE tenant_id = %s AND member_id = %s",
                (tenant_id, member_id),
            ).fetchone()
        return bytes(row[0]) if row else None

    def destroy(self, tenant_id: str, member_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM member_keys WHERE tenant_id = %s AND member_id = %s",
                (tenant_id, member_id),
            )

    def close(self) -> None:
        self.pool.close()


class PersonalData:
    """Encrypts and decrypts a member's personal fields with that member's key."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def encrypt(self, tenant_id: str, member_id: str, text: str | None) -> str | None:
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
