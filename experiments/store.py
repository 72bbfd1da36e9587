"""The results store: an embedded SQLite file, one row per sweep cell keyed by its parameters.

Each cell is written in its own transaction (``INSERT OR IGNORE`` on the key), so a crash or a
kill loses at most the cells in flight, a rerun skips finished cells, and no row is ever
duplicated.  WAL mode lets a report read while a sweep writes, and with the busy timeout two sweeps
may write one store.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
import time
from pathlib import Path

from xner.provenance import json_default

__all__ = ["Store", "cell_key"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    params TEXT NOT NULL,
    row TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    config TEXT NOT NULL,
    provenance TEXT NOT NULL,
    started REAL NOT NULL
);
"""


def cell_key(params: dict) -> str:
    """A stable key for a cell's parameters."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=json_default).encode()).hexdigest()[:32]


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # switching a new database to WAL answers "database is locked" at once, without waiting, when a
        # second process opens it at the same moment: opening is serialised by a lock file beside it
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def done_keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM cells")}

    def put(self, params: dict, row: dict) -> bool:
        """Write one finished cell atomically; False if it was already there."""
        cur = self.db.execute("INSERT OR IGNORE INTO cells (key, params, row, created) VALUES (?, ?, ?, ?)",
                              (cell_key(params), json.dumps(params, sort_keys=True, default=json_default),
                               json.dumps(row, default=json_default), time.time()))
        return cur.rowcount == 1

    def log_run(self, config: dict, provenance: dict) -> None:
        self.db.execute("INSERT INTO runs (config, provenance, started) VALUES (?, ?, ?)",
                        (json.dumps(config, default=str), json.dumps(provenance, default=str), time.time()))

    def rows(self) -> list[dict]:
        out = []
        for key, params, row in self.db.execute("SELECT key, params, row FROM cells ORDER BY key"):
            out.append({"key": key, "params": json.loads(params), **json.loads(row)})
        return out

    def runs(self) -> list[dict]:
        return [{"config": json.loads(c), "provenance": json.loads(p), "started": s}
                for c, p, s in self.db.execute("SELECT config, provenance, started FROM runs ORDER BY id")]
