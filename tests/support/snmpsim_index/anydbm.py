"""An SQLite key-value store that snmpsim picks up as its index database.

snmpsim imports a module named ``anydbm`` when one is on the path and falls back to the
stdlib ``dbm`` otherwise.  This Python has neither ``_gdbm`` nor ``_dbm``, so the fallback
is ``dbm.dumb``, which opens two files for every key it writes: indexing the test bed's
two million walk lines took over two minutes of every cold test run.  SQLite does the
same job in one transaction.  Only the test helpers put this folder on snmpsim's path.
"""

from __future__ import annotations

import os
import sqlite3

error = (sqlite3.Error, OSError)


class _Index:
    """The slice of the dbm interface snmpsim uses: get, set, contains, close."""

    def __init__(self, path: str, flag: str) -> None:
        if "n" in flag and os.path.exists(path):
            os.remove(path)
        if "r" in flag and "c" not in flag and not os.path.exists(path):
            raise sqlite3.OperationalError(f"no index database at {path}")
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        self._writing = False

    @staticmethod
    def _key(key: str | bytes) -> bytes:
        return key.encode() if isinstance(key, str) else key

    def __setitem__(self, key: str | bytes, value: str | bytes) -> None:
        if not self._writing:
            self._conn.execute("BEGIN")
            self._writing = True
        self._conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (self._key(key), self._key(value)))

    def __getitem__(self, key: str | bytes) -> bytes:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (self._key(key),)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0]

    def __contains__(self, key: str | bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def get(self, key: str | bytes, default: bytes | None = None) -> bytes | None:
        try:
            return self[key]
        except KeyError:
            return default

    def sync(self) -> None:
        if self._writing:
            self._conn.execute("COMMIT")
            self._writing = False

    def close(self) -> None:
        self.sync()
        self._conn.close()


def open(path: str, flag: str = "r", mode: int = 0o666) -> _Index:  # noqa: A001 - dbm's name
    return _Index(path, flag)
