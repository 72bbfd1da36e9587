"""Artefact folders built once: named by the hash of their inputs, built under an inter-process lock
per folder in a staging folder moved into place only when finished, with a ``DONE`` marker read back
before use (a missing or damaged marker means "not done"); only folders this module made are ever
deleted.  :mod:`.artefacts` names the sweep's folders and builds them through :func:`build_once`."""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from xner.io import dumps

__all__ = ["DONE", "OWNER", "artifact_key", "build_once", "build_record", "folder_lock", "fresh_kwargs", "read_done"]

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


def build_record(d: Path) -> dict | None:
    """Who built a finished artefact and when: ``{"artifact", "started", "built", "host", "pid"}``
    (times in seconds since the epoch); None for a folder ``build_once`` did not make."""
    try:
        rec = json.loads((d / OWNER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


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
        started = time.time()
        try:
            info = build(work)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        work.mkdir(parents=True, exist_ok=True)
        _write_synced(work / OWNER, json.dumps({"artifact": name, "started": started, "built": time.time(),
                                                 "host": socket.gethostname(), "pid": os.getpid()}))
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


# -- the sweep's models -------------------------------------------------------------------------------


def artifact_key(obj) -> str:
    """A short hash of an artefact's inputs (its folder name's suffix)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def fresh_kwargs(fn) -> dict:  # a staging folder left by other inputs (a rebuilt base model) starts afresh
    return {"overwrite": True} if "overwrite" in inspect.signature(fn).parameters else {}


