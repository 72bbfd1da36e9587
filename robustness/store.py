"""The results store: an embedded SQLite file, one row per sweep cell keyed by its parameters.

Each cell is written in its own transaction (``INSERT OR IGNORE`` on the key), so a crash or a
kill loses at most the cells in flight, a rerun skips finished cells, and no row is ever
duplicated.  WAL mode lets a report read while a sweep writes, and with the busy timeout two sweeps
may write one store.

Artefact folders (models a sweep trains and exports) are built by :func:`build_once`: under an
inter-process lock per folder, in a staging folder moved into place only when finished, with a
``DONE`` marker that is read back before use (a missing or damaged marker means "not done").
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from xner.io import dumps
from xner.provenance import json_default

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


# -- artefact folders --------------------------------------------------------------------------------

DONE = "DONE"
OWNER = ".xner-artifact"  # in every folder build_once made: only such folders are ever deleted
STAGING = ".staging"  # where folders are built; everything in it was made by build_once


def read_done(d: Path) -> dict | None:
    """A finished artefact's info, or None when its ``DONE`` marker is missing or damaged (not done)."""
    try:
        info = json.loads((d / DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


@contextmanager
def folder_lock(root: Path, name: str) -> Iterator[None]:
    """An exclusive inter-process lock on ``root/name`` (``flock`` on ``root/.name.lock``)."""
    with open(root / f".{name}.lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def build_once(root: Path, name: str, build: Callable[[Path], dict], resumable: bool = False) -> dict:
    """The info of artefact folder ``root/name``, built by ``build(folder) -> info`` if not done yet.

    Concurrent callers (threads or processes, e.g. two sweeps on one store) build it once: the
    others wait for the lock, then reuse it.  The build runs in ``root/.staging``: a fresh folder, or
    for ``resumable`` builds (training) ``.staging/name``, which a killed build leaves for the next
    one to resume.  The finished folder gets its marker and is renamed into place; a damaged
    folder it replaces is deleted only if ``build_once`` made it, else it is kept beside as
    ``name.replaced-TIME``.
    """
    d = root / name
    info = read_done(d)
    if info is not None:
        return info
    root.mkdir(parents=True, exist_ok=True)
    with folder_lock(root, name):
        info = read_done(d)
        if info is not None:
            return info  # built by another sweep while this one waited
        staging = root / STAGING
        staging.mkdir(exist_ok=True)
        for old in staging.glob(f"{name}.*"):  # left by a killed build of this very folder
            shutil.rmtree(old, ignore_errors=True)
        tmp = None if resumable else Path(tempfile.mkdtemp(prefix=f"{name}.", dir=staging))
        work = staging / name if tmp is None else tmp / name
        try:
            info = build(work)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        work.mkdir(parents=True, exist_ok=True)
        _write_synced(work / OWNER, json.dumps({"artifact": name, "built": time.time()}))
        _write_synced(work / DONE, dumps(info, indent=2))
        aside = None
        if d.exists() or d.is_symlink():
            aside = root / f"{name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            os.rename(d, aside)
        os.rename(work, d)
        if aside is not None:
            if (aside / OWNER).is_file() and not aside.is_symlink():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                logging.getLogger("xner.sweep").warning("%s had a damaged DONE marker and was not made by a "
                                                        "sweep: kept as %s", d, aside)
        if tmp is not None:  # (what else a build left beside its folder, e.g. a rejected export)
            shutil.rmtree(tmp, ignore_errors=True)
        return json.loads(dumps(info))  # as a later reader of DONE sees it
