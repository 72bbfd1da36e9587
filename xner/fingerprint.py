"""Content fingerprints: what a result's identity is made of (data, model files)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .corpus import Corpus

#: files of a model folder that determine the model (weights, configuration, tokenizer)
MODEL_FILES = (".safetensors", ".json", ".txt", ".model", ".onnx", ".data")
#: xner's own cards in a model folder: how it was made, not what it is (they hold times)
CARDS = ("run.json", "run_identity.json", "xner_model.json", "export_report.json", "pretrain_card.json", "DONE")


def sentence_hashes(c: Corpus) -> list[bytes]:
    """One content hash per sentence: its words in order (tags ignored), so the same text in two
    splits has the same hash whatever its tags."""
    strings = c.vocab.strings
    words = [strings[i] for i in c.words.tolist()]
    off = c.offsets.tolist()
    return [hashlib.blake2b("\x1f".join(words[a:b]).encode("utf-8", "surrogatepass"), digest_size=16).digest()
            for a, b in zip(off[:-1], off[1:], strict=True)]


def text_sha256(c: Corpus) -> str:
    """sha256 of a corpus's text alone (its sentences' words in order; tags ignored): what a run card
    records so that the text can be found again and checked (static int8 calibration)."""
    h = hashlib.sha256()
    for d in sentence_hashes(c):
        h.update(d)
    return h.hexdigest()


def corpus_sha256(c: Corpus) -> str:
    """sha256 of a corpus's words, tags and sentence boundaries, independent of its vocabulary's id order."""
    h = hashlib.sha256()
    used, inverse = np.unique(c.words, return_inverse=True)
    strings = c.vocab.strings
    surface = [strings[i] for i in used]
    order = sorted(range(len(surface)), key=surface.__getitem__)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    h.update("\x1f".join(surface[i] for i in order).encode("utf-8", "surrogatepass"))
    h.update(rank[inverse.reshape(-1)].astype("<i8").tobytes())
    h.update(np.ascontiguousarray(c.offsets, dtype="<i8").tobytes())
    h.update("\x1f".join(c.labels.tags).encode())
    h.update(np.ascontiguousarray(c.tags, dtype="<i8").tobytes())
    return h.hexdigest()


def model_sha256(name_or_path: str | os.PathLike) -> str | None:
    """sha256 over a local model folder's files (names and bytes); None for a hub id (not on disk)."""
    p = Path(name_or_path)
    if not p.exists():
        return None
    files = [p] if p.is_file() else sorted(f for f in p.iterdir() if f.is_file() and f.suffix in MODEL_FILES
                                           and not f.name.startswith(".") and f.name not in CARDS)
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
