"""The one output guard: every file and folder a command writes goes through it.

Rules, the same for every command:

* a path that resolves to one of the command's inputs (the file it reads, a folder it reads from,
  or a folder holding one) is always refused, ``--overwrite`` or not;
* an existing path that xner did not write is refused unless the user gives ``--overwrite``;
* only xner's own marker says "written by xner": for a file, an entry in the ledger
  ``.xner-written.json`` of its folder whose content hash still matches the file (a file the user
  edited since is the user's); for a folder, the marker file ``.xner-output`` inside it (or the
  marker an older xner left: an export's report, a report's ``.xner-report``, an artefact's
  ``.xner-artifact``, a training run's ``run_identity.json``, a transliteration's record).
  A file named like xner's output (``report.md``, ``train.tsv``) is not a marker.

A command claims its outputs (:func:`claim_file`, :func:`claim_dir`) before it computes anything, so
a refusal costs nothing and touches nothing, and records them (:func:`record_file`,
:func:`mark_dir`) once written.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from .errors import XnerError

__all__ = ["DIR_MARK", "LEDGER", "claim_dir", "claim_file", "claim_tree", "mark_dir", "record_file",
           "written_by_xner"]

LEDGER = ".xner-written.json"
DIR_MARK = ".xner-output"
#: markers that earlier versions of xner's commands left in the folders they wrote
LEGACY_DIR_MARKS = (".xner-report", ".xner-artifact", "xner_model.json", "run_identity.json")
#: SQLite ``application_id`` of an xner results store (``xner sweep --store``): its marker
STORE_APP_ID = 0x784E4552  # "xNER"
_lock = threading.Lock()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _ledger(folder: Path) -> dict:
    try:
        data = json.loads((folder / LEDGER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("tool") == "xner" else {}


def _legacy_dir_owner(p: Path) -> bool:
    if any((p / m).is_file() for m in LEGACY_DIR_MARKS):
        return True
    for name, field, value in (("export_report.json", "tool", "xner export"),
                               ("transliterate.json", "tool", "xner data transliterate")):
        try:
            if json.loads((p / name).read_text(encoding="utf-8")).get(field) == value:
                return True
        except (OSError, ValueError, AttributeError):
            pass
    return False


def is_xner_store(path: str | os.PathLike) -> bool:
    """A results store xner made: an SQLite file whose application id is xner's (or, from before the
    id was set, that holds xner's four tables)."""
    import sqlite3

    p = Path(path)
    try:
        with open(p, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return False
        db = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            if db.execute("PRAGMA application_id").fetchone()[0] == STORE_APP_ID:
                return True
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            return {"cells", "runs", "counts", "run_cells"} <= tables
        finally:
            db.close()
    except (OSError, sqlite3.Error):
        return False


def written_by_xner(path: str | os.PathLike) -> bool:
    """True when xner's own marker says xner wrote ``path`` (and, for a file, it is unchanged since)."""
    p = Path(path)
    if p.is_symlink():
        return False
    if p.is_dir():
        return (p / DIR_MARK).is_file() or _legacy_dir_owner(p)
    if p.is_file():
        if is_xner_store(p):
            return True
        entry = (_ledger(p.parent).get("files") or {}).get(p.name)
        return isinstance(entry, dict) and entry.get("sha256") == _sha256(p)
    return False


def _inside(a: Path, b: Path) -> bool:
    """a is b or lies inside b."""
    return a == b or b in a.parents


def _check_inputs(target: Path, inputs: Iterable, flag: str, folder: bool) -> None:
    for i in inputs:
        if i is None:
            continue
        src = Path(i).resolve()
        clash = target == src or (folder and (_inside(src, target) or _inside(target, src)))
        if not folder and src.is_dir():
            clash = clash or _inside(target, src) and target.exists()
        if clash:
            raise XnerError(f"{flag} {target} is (or overlaps) one of this command's inputs ({i}); nothing was "
                            "written: choose another path (--overwrite does not change this)")


def claim_file(path: str | os.PathLike, *, inputs: Iterable = (), overwrite: bool = False,
               flag: str = "--out") -> Path:
    """Check that the command may write file ``path``; returns it resolved.  Refuses a folder, one of
    the inputs, and an existing file (or a symlink, a pipe) xner did not write unless ``overwrite``."""
    p = Path(path)
    target = p.resolve()
    _check_inputs(target, inputs, flag, folder=False)
    if target.is_dir():
        raise XnerError(f"{flag} {path} is a folder; give a file name")
    if (p.exists() or p.is_symlink()) and not overwrite and not written_by_xner(p):
        kind = "a symlink" if p.is_symlink() else "a file" if p.is_file() else "not a regular file"
        raise XnerError(f"{flag} {path} exists ({kind} xner did not write); nothing was written: choose another "
                        "path, or --overwrite to replace it")
    return target


def claim_dir(path: str | os.PathLike, *, inputs: Iterable = (), overwrite: bool = False,
              flag: str = "--out", what: str = "") -> Path:
    """Check that the command may write into folder ``path``: new, empty, or marked as xner's (else
    only with ``overwrite``), and never one of the inputs, inside one or holding one."""
    p = Path(path)
    target = p.resolve()
    _check_inputs(target, inputs, flag, folder=True)
    if _inside(Path.cwd().resolve(), target):
        raise XnerError(f"{flag} {path} would hold the working directory; choose a new folder")
    if target.exists() and not target.is_dir():
        raise XnerError(f"{flag} {path} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not written_by_xner(target) and not overwrite:
        holds = f" (it holds no xner {what})" if what else ""
        raise XnerError(f"{flag} {path} is not empty and was not written by xner{holds}; nothing was touched "
                        "(choose a new folder, or --overwrite to write there)")
    return target


def claim_tree(path: str | os.PathLike, *, inputs: Iterable = (), flag: str = "--out") -> Path:
    """A folder a command writes claimed files into (each through :func:`claim_file`): it may hold
    other things, but it never overlaps an input (is, holds or lies inside one)."""
    target = Path(path).resolve()
    _check_inputs(target, inputs, flag, folder=True)
    if target.exists() and not target.is_dir():
        raise XnerError(f"{flag} {path} is a file, not a folder")
    return target


def record_file(path: str | os.PathLike, command: str) -> None:
    """Enter the file ``path`` (just written) in its folder's ledger, with its content hash."""
    p = Path(path)
    folder = p.parent
    with _lock:
        data = _ledger(folder) or {"tool": "xner", "files": {}}
        data.setdefault("files", {})[p.name] = {"sha256": _sha256(p), "command": command}
        tmp = folder / f"{LEDGER}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, folder / LEDGER)


def mark_dir(path: str | os.PathLike, command: str) -> None:
    """Mark folder ``path`` as written by xner's ``command``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    (p / DIR_MARK).write_text(json.dumps({"tool": "xner", "command": command}) + "\n", encoding="utf-8")
