"""Word vectors for the study's P2 (``context_swap``): one fixed encoder per experiment.

The study took, for every (lower-cased) test word alone, the pre-trained encoder's last hidden state
at the first position ([CLS] / ``<s>``) and replaced a shared O-word by its nearest test word by
cosine.  Using one fixed encoder (by default the pre-trained base model of the evaluated model)
gives every model evaluated on a target the same perturbed test set; ``vectors="model"`` on
``context_swap`` uses the evaluated model instead (xner's former behaviour, a named option).

``--vectors`` takes a Hugging Face model folder or hub id (PyTorch) or an xner ONNX export folder.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from xner.corpus import Corpus
from xner.errors import XnerError

__all__ = ["POOLINGS", "EncoderVectors", "base_model_of", "encoder_vectors", "resolve_vectors"]

POOLINGS = ("cls", "first")  # the first position (the study's), or the word's first sub-token
_CACHE: dict[tuple[str, str], EncoderVectors] = {}
_LOCK = threading.Lock()


class EncoderVectors:
    """``word_vectors(words)``: the encoder's last hidden state for each word alone, at the first
    position (``pooling="cls"``, the study's) or at the word's first sub-token (``"first"``)."""

    def __init__(self, model: str, pooling: str = "cls"):
        if pooling not in POOLINGS:
            raise XnerError(f"unknown pooling {pooling!r}; choose {', '.join(POOLINGS)}")
        self.model, self.pooling = str(model), pooling
        self._lock = threading.Lock()
        p = Path(model)
        self.onnx = p.is_dir() and (p / "export_report.json").exists()
        if self.onnx:
            from xner.export.runtime import Runtime

            self._rt = Runtime(str(p), provider="cpu", threads=1)
            self.encoder = self._rt.encoder
        else:
            from transformers import AutoModel

            from xner.encode import WordEncoder
            from xner.families import token_limit
            from xner.hf import from_pretrained_quietly, load_tokenizer

            try:  # the encoder alone (a task head in the folder is not used: no load report about it)
                try:  # no pooler (it is not used, and a token-classification or masked-LM folder has none)
                    self._net = from_pretrained_quietly(AutoModel, str(model), add_pooling_layer=False).eval()
                except TypeError:
                    self._net = from_pretrained_quietly(AutoModel, str(model)).eval()
            except (OSError, ValueError) as e:
                raise XnerError(f"cannot load a vector encoder from {model!r}: {str(e).splitlines()[0]}") from None
            self.encoder = WordEncoder(load_tokenizer(str(model)), token_limit(self._net.config))

    def __repr__(self) -> str:
        return f"{self.model} ({'ONNX' if self.onnx else 'PyTorch'}, {self.pooling} vector of the word alone)"

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.onnx:
            if self._rt.hidden_name is None:
                raise XnerError(f"{self.model}: the ONNX model has no last_hidden_state output; re-export it")
            return self._rt.run_batch(ids, mask, self._rt.hidden_name).astype(np.float32, copy=False)
        import torch

        with torch.inference_mode():
            return self._net(input_ids=torch.from_numpy(ids),
                             attention_mask=torch.from_numpy(mask)).last_hidden_state.float().numpy()

    def word_vectors(self, words: list[str]) -> np.ndarray:
        c = Corpus.from_lists([[w] for w in words], [["O"] for _ in words])
        with self._lock:
            enc = self.encoder.encode(c)
            out = None
            for idx, ids, mask in enc.batches(8192, 256):
                h = self._hidden(ids, mask)
                if out is None:
                    out = np.zeros((len(words), h.shape[-1]), dtype=np.float32)
                rows = np.arange(idx.size)
                pos = 0 if self.pooling == "cls" else enc.first_pos[enc.seg_tok[idx]]
                out[enc.seg_sent[idx]] = h[rows, pos]
        return out if out is not None else np.zeros((0, 0), np.float32)


def encoder_vectors(model: str, pooling: str = "cls") -> EncoderVectors:
    """One :class:`EncoderVectors` per (model, pooling) in a process."""
    key = (str(model), pooling)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = EncoderVectors(model, pooling)
        return _CACHE[key]


def _card(folder: Path) -> dict | None:
    f = folder / "run.json"
    try:
        return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
    except (OSError, ValueError):
        return None


def base_model_of(model: str | Path, depth: int = 4) -> str | None:
    """The pre-trained model an xner model started from: an ONNX export's source model, then the
    ``model`` of a training run card or the ``student`` of a distillation card, followed through
    teachers; None when no run card says."""
    p = Path(model)
    rep = p / "export_report.json"
    if rep.is_file():
        try:
            p = Path(json.loads(rep.read_text(encoding="utf-8"))["source_model"])
        except (OSError, ValueError, KeyError):
            return None
    start = None
    for _ in range(depth):
        card = _card(p)
        if card is None:
            return start
        start = card.get("model") if card.get("kind") == "train" else card.get("student")
        if not start:
            return None
        p = Path(start)
        if not p.is_dir():
            return start  # a hub id
    return start


def resolve_vectors(vectors: str | None, model: str | None, pooling: str = "cls"):
    """(vector provider or None, description) for ``--vectors``: ``base`` (default) the pre-trained base
    model of ``model`` (an evaluated ONNX export), falling back, with the reason in the description, to
    ``model`` itself when there is no loadable base (e.g. without torch); ``model`` none (then
    ``context_swap`` takes ``vectors="model"``); anything else a model folder, hub id or ONNX export."""
    if vectors in (None, "base"):
        base = base_model_of(model) if model else None
        why = "no base model recorded"
        if base is not None:
            try:
                return encoder_vectors(base, pooling), f"base model {base}"
            except (XnerError, ImportError) as e:
                why = f"base model {base} cannot be loaded: {str(e).splitlines()[0]}"
        if model and (Path(model) / "export_report.json").exists():
            return encoder_vectors(model, pooling), f"the evaluated model {model} ({why}; give --vectors MODEL)"
        return None, f"{why}; give --vectors MODEL"
    if vectors == "model":
        return None, "the evaluated model"
    return encoder_vectors(vectors, pooling), f"{vectors}"
