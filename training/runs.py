"""A training run's identity, and when an output folder may be resumed.

``train`` and ``distill`` write ``run_identity.json`` into ``--out`` before the first step: the
model (with a hash of its files), the data (a content hash of every corpus), languages, seed and
hyperparameters.  A later run into the same folder resumes from its last checkpoint only when its
identity is the same; otherwise it stops (exit 2) and names what differs, unless ``--overwrite``
(then the old checkpoints are removed and training starts afresh).  A non-empty folder that holds
no xner run is never written into without ``--overwrite``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from xner.corpus import Corpus
from xner.errors import XnerError
from xner.fingerprint import corpus_sha256, model_sha256
from xner.io import json_default, write_json

IDENTITY = "run_identity.json"


def data_path(data: str | None) -> str | None:
    """A run card's data source: an existing folder as an absolute path (a relative one would be read
    against whatever folder a later command runs in), else as given (``hub``, a name)."""
    if data and Path(str(data)).is_dir():
        return str(Path(str(data)).resolve())
    return data


def text_record(c: Corpus) -> dict:
    """What a run card says of a text the model was trained or distilled on: where it came from (language,
    split, scheme and seed) and its fingerprint, so that it can be found again and checked."""
    from xner.fingerprint import text_sha256

    return {"lang": c.lang, "split": c.meta.get("split"), "scheme": c.meta.get("scheme", "standard"),
            "split_seed": c.meta.get("seed"), "sentences": len(c), "text_sha256": text_sha256(c)}


def corpus_identity(c: Corpus) -> dict:
    return {"lang": c.lang, "split": c.meta.get("split"), "sentences": len(c), "sha256": corpus_sha256(c)}


def model_identity(name: str) -> dict:
    return {"name": str(name), "sha256": model_sha256(name)}


def _canonical(d: dict) -> dict:
    return json.loads(json.dumps(d, sort_keys=True, default=json_default))


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k} ({_short(a)} -> {_short(b)})")
    return out


def _short(v) -> str:
    s = json.dumps(v, ensure_ascii=False, default=json_default)
    return s if len(s) <= 60 else s[:57] + "..."


#: the cards a finished train/distill/pretrain run writes last: present (after prepare_run) = finished
CARDS = ("run.json", "pretrain_card.json")


def finished_card(out: Path, card: str) -> dict | None:
    """The card of a finished run of this identity in ``out`` (call after :func:`prepare_run`), or None:
    a rerun of a finished run returns it as it is, never retraining or rewriting it."""
    try:
        data = json.loads((Path(out) / card).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def finish_run(out: Path, keep_checkpoints: bool = False) -> dict:
    """After the model is saved: remove the optimizer checkpoints (4-7x the model's size) unless
    ``keep_checkpoints``; returns the card's ``checkpoints`` entry."""
    ck = Path(out) / "checkpoints"
    if keep_checkpoints or not ck.is_dir():
        return {"kept": bool(keep_checkpoints and ck.is_dir()), "folder": "checkpoints" if ck.is_dir() else None}
    shutil.rmtree(ck, ignore_errors=True)
    return {"kept": False, "folder": None}


def prepare_run(out: Path, identity: dict, overwrite: bool = False, inputs: tuple | list = ()) -> Path | None:
    """Check ``out`` against this run's identity; returns the checkpoint to resume from, or None.
    ``inputs`` (the model folders the run starts from) are never written into."""
    from xner.outputs import claim_dir

    from .finetune import last_checkpoint

    claim_dir(out, inputs=[i for i in inputs if i and isinstance(i, str | os.PathLike) and Path(i).exists()],
              overwrite=True)  # inputs, a file
    identity = _canonical(identity)
    if out.exists() and not out.is_dir():
        raise XnerError(f"--out {out} is a file, not a folder")
    path = out / IDENTITY
    ours = path.is_file()  # a folder of an xner run: its checkpoints are xner's
    fresh = False
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {"damaged": True}
        diff = _differences(old, identity)
        if diff:
            if not overwrite:
                raise XnerError(f"--out {out} holds a different run; differs in: {'; '.join(diff)}. Nothing was "
                                "touched: choose another folder, or --overwrite to start afresh there")
            fresh = True
    elif out.is_dir() and any(out.iterdir()):
        claim_dir(out, overwrite=overwrite, what="training run")  # the one guard: refused unless --overwrite (no run identity here)
        fresh = True
    if fresh:
        ck = out / "checkpoints"
        if ck.exists() and not ours:
            raise XnerError(f"{ck} was not written by xner: a run there would write into it and remove it when "
                            "it finishes; nothing was touched (move it, or choose another --out)")
        shutil.rmtree(ck, ignore_errors=True)  # never resume another run's state
        for card in CARDS:  # nor report another run's card as this one's
            (out / card).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, identity)
    return None if fresh else last_checkpoint(out / "checkpoints")
