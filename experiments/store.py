"""The results store: an embedded SQLite file, one row per sweep cell keyed by everything that
determines its numbers (:mod:`.identity`).

Tables: ``cells`` (key, parameters with the full identity, the row, when, and the run that wrote
it), ``counts`` (the cell's per-sentence x type counts, a compressed ``.npy`` blob: what the
report's intervals are recomputed from, see :mod:`.uncertainty`), ``runs`` (each sweep started on
the store: its config and provenance) and ``run_cells`` (every cell each run planned, also those
it found done, so a report can show exactly one run's cells).

Each cell is written with its counts in one transaction (``INSERT OR IGNORE`` on the key), so a
crash or a kill loses at most the cells in flight, a rerun skips finished cells, and no row is ever
duplicated.  WAL mode lets a report read while a sweep writes, and with the busy timeout two sweeps
may write one store.  Stores written before run ids and counts existed are upgraded in place (their
rows have no counts: the report shows them without intervals).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
import time
from pathlib import Path

from xner.outputs import STORE_APP_ID
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
CREATE TABLE IF NOT EXISTS counts (
    key TEXT PRIMARY KEY,
    npy BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS run_cells (
    run INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (run, key)
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
            self.db.execute(f"PRAGMA application_id={STORE_APP_ID}")  # xner's marker (xner.outputs)
            self.db.executescript(SCHEMA)
            if "run" not in {r[1] for r in self.db.execute("PRAGMA table_info(cells)")}:
                self.db.execute("ALTER TABLE cells ADD COLUMN run INTEGER")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def done_keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM cells")}

    def put(self, params: dict, row: dict, counts: bytes | None = None, run: int | None = None) -> bool:
        """Write one finished cell (and its packed counts) atomically; False if it was already there."""
        key = cell_key(params)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute("INSERT OR IGNORE INTO cells (key, params, row, created, run) VALUES (?, ?, ?, ?, ?)",
                                  (key, json.dumps(params, sort_keys=True, default=json_default),
                                   json.dumps(row, default=json_default), time.time(), run))
            if cur.rowcount == 1 and counts is not None:
                self.db.execute("INSERT OR REPLACE INTO counts (key, npy) VALUES (?, ?)", (key, counts))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return cur.rowcount == 1

    def log_run(self, config: dict, provenance: dict, keys: list[str] | None = None) -> int:
        """Record a run and the cells it planned; returns its id."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute("INSERT INTO runs (config, provenance, started) VALUES (?, ?, ?)",
                                  (json.dumps(config, default=str), json.dumps(provenance, default=str), time.time()))
            run = int(cur.lastrowid)
            self.db.executemany("INSERT OR IGNORE INTO run_cells (run, key) VALUES (?, ?)", [(run, k) for k in keys or []])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return run

    def rows(self, run: int | None = None) -> list[dict]:
        """Every cell (or those run ``run`` planned), with ``key``, ``params``, ``run`` (the run that
        wrote it) and ``config`` (that run's config name)."""
        names = {i: json.loads(c).get("name", "") for i, c in self.db.execute("SELECT id, config FROM runs")}
        sql = "SELECT key, params, row, run FROM cells"
        args: tuple = ()
        if run is not None:
            sql += " WHERE key IN (SELECT key FROM run_cells WHERE run = ?)"
            args = (run,)
        out = []
        for key, params, row, r in self.db.execute(sql + " ORDER BY key", args):
            out.append({"key": key, "params": json.loads(params), **json.loads(row), "run": r,
                        "config": names.get(r, "")})
        return out

    def counts(self, keys: list[str] | None = None) -> dict[str, bytes]:
        """Packed counts by cell key (:func:`.uncertainty.unpack_counts`)."""
        if keys is None:
            return dict(self.db.execute("SELECT key, npy FROM counts"))
        out = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT key, npy FROM counts WHERE key IN ({','.join('?' * len(part))})"
            out.update(self.db.execute(q, part))
        return out

    def runs(self) -> list[dict]:
        out = []
        for i, c, p, s in self.db.execute("SELECT id, config, provenance, started FROM runs ORDER BY id"):
            n = self.db.execute("SELECT COUNT(*) FROM run_cells WHERE run = ?", (i,)).fetchone()[0]
            out.append({"id": i, "config": json.loads(c), "provenance": json.loads(p), "started": s, "cells": n})
        return out

    def latest_run(self) -> int | None:
        """The last run that planned cells (None for a store without such runs)."""
        r = self.db.execute("SELECT MAX(run) FROM run_cells").fetchone()
        return None if r is None or r[0] is None else int(r[0])
