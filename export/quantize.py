"""Static int8 quantisation (QDQ) of an exported model, calibrated on the model's own training text.

Dynamic int8 (:func:`.optimize.quantize_int8`) computes each activation's scale from the batch it is
in, so a sentence's logits, and sometimes its tags, change with the other sentences of its batch:
with cross-request batching in the server, or incremental evaluation, an answer would depend on the
neighbours.  Static int8 fixes every activation scale once, from calibration text, so every row of a
batch is computed on its own: a sentence gets the same logits alone or among any others.

Calibration text is the model's own training text: given by the caller (a sweep passes its material),
else read back from its run card (``run.json``: the absolute data folder and, for each text the model
was trained or distilled on, its language, split and text fingerprint; a part whose text no longer
matches its fingerprint is not used), :data:`CALIBRATION_SENTENCES` sentences in equal shares from
the start of each part; when that text cannot be found (a hub model, a moved or changed data folder)
a seeded sample of vocabulary words stands in, and the step's record says which and why.  Only the MatMul/Gemm projections with constant weights are quantised
(weights int8 per channel, activations uint8 asymmetric with MinMax ranges, QDQ format); attention
products, the classification head, LayerNorm, GELU and Softmax stay float32.

Recipe 2 (:data:`RECIPE`): only the projections read quantised activations.  onnxruntime's quantiser
quantises a projection's output too (requantised to uint8 and back before its bias) and hands the one
quantised copy of a tensor to every reader of it, so the residual connection around each attention and
feed-forward block added a uint8-rounded copy of the layer's input.  Here the projections' outputs stay
float32 (onnxruntime runs each as one ``MatMulIntegerToFloat``) and every other reader (the residual
``Add``, ``Shape``) reads the float32 tensor.  On a bert-base-sized model the export's parity gate
went from failing (tag agreement 0.9912, F1 change -0.0114, max |logit diff| 0.134) to passing (0.9950,
-0.0057, 0.058), and the peer suite's inference ran 1.30x faster (docs/results/bench-2026-12-05.md).
Recipe 1 (before it) is kept for the benchmark that measures the step (``bench/peer_steps.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from xner.corpus import Corpus

__all__ = ["CALIBRATION_SENTENCES", "RECIPE", "calibration_corpus", "float_readers", "quantize_static_int8",
           "weight_matmuls"]

#: sentences of training text the activation ranges are calibrated on
CALIBRATION_SENTENCES = 256
#: the static int8 recipe (part of a sweep's export identity: a graph made by another recipe is not reused)
RECIPE = 2


def calibration_corpus(model_dir: str | Path, tokenizer, n: int = CALIBRATION_SENTENCES,
                       given: Corpus | None = None) -> tuple[Corpus, dict]:
    """(corpus, record): ``given`` when the caller has the model's training text (a sweep), else the
    text the model's run card names, found again in its data folder and checked against the card's
    fingerprint, else a seeded vocabulary sample (:func:`.parity.sample_corpus`); the record says which
    and why."""
    if given is not None and len(given):
        c = given.subset(np.arange(min(n, len(given))))
        return c, {"calibration": "training text (given by the caller)", "langs": [given.lang],
                   "sentences": len(c)}
    found, why = _card_text(Path(model_dir), n)
    if found is not None:
        return found
    from .parity import sample_corpus

    c = sample_corpus(tokenizer, n)
    return c, {"calibration": f"vocabulary sample ({why})", "sentences": len(c)}


def _card_text(model_dir: Path, n: int) -> tuple[tuple[Corpus, dict] | None, str]:
    """The run card's training (or distillation) text, each part checked by its fingerprint."""
    from xner.corpus import concat
    from xner.fingerprint import text_sha256

    try:
        card = json.loads((model_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, "no run card in the model folder"
    parts = card.get("train") if card.get("kind") == "train" else \
        [card["distilled_on"]] if card.get("kind") == "distill" and card.get("distilled_on") else []
    data = card.get("data")
    if not parts or not all(isinstance(p, dict) and p.get("text_sha256") for p in parts):
        return None, "the run card records no fingerprint of the training text"
    if not data or not Path(str(data)).is_absolute() or not Path(str(data)).is_dir():
        return None, f"the run card's data folder {data!r} is not an absolute path to a folder here"
    from xner.datadir import DataDir
    from xner.splits import load_split

    corpora = []
    try:
        src = DataDir(str(data))
        for p in parts:
            c = load_split(src, p["lang"], p.get("split") or "train", p.get("scheme") or "standard",
                           int(p["split_seed"]) if p.get("split_seed") is not None else 42)
            if text_sha256(c) != p["text_sha256"]:
                return None, f"{data}: the {p['lang']} text no longer matches the run card's fingerprint"
            corpora.append(c)
    except Exception as e:  # the folder cannot be read as the card describes it
        return None, f"{data}: {str(e).splitlines()[0][:120]}"
    per = max(1, n // len(corpora))
    picked = [c.subset(np.arange(min(per, len(c)))) for c in corpora]
    c = picked[0] if len(picked) == 1 else concat(picked)
    return (c, {"calibration": "training text (checked against the run card)", "data": str(data),
                "langs": [x.lang for x in corpora], "sentences": len(c)}), ""


class _Reader:
    """onnxruntime's CalibrationDataReader over one sentence at a time (its own shape each)."""

    def __init__(self, runtime, corpus: Corpus):
        enc = runtime.encoder.encode(corpus)
        self._feeds = [runtime._feeds(ids, mask) for _, ids, mask in enc.batches(1, 1, sort=False)]
        self._i = 0

    def get_next(self):
        if self._i >= len(self._feeds):
            return None
        self._i += 1
        return self._feeds[self._i - 1]

    def rewind(self) -> None:
        self._i = 0


def quantize_static_int8(src: Path, dst: Path, model_dir: str | Path, calibration: Corpus | None = None,
                         recipe: int = RECIPE) -> dict:
    """Write the static QDQ int8 graph of ``src`` to ``dst``; returns the step's record.  ``calibration``:
    the model's training text when the caller has it (else the run card's, else a vocabulary sample).
    ``recipe``: 2 (float32 outputs and residual paths), or 1, the earlier graph, for benchmarks."""
    if recipe not in (1, 2):
        raise ValueError(f"unknown static int8 recipe {recipe}")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from .optimize import publish_graph, staging_path
    from .runtime import Runtime

    rt = Runtime(src.parent, provider="cpu", threads=1, file_name=src.name, allow_failed=True)
    corpus, record = calibration_corpus(model_dir, rt.fast_tokenizer, given=calibration)
    reader = _Reader(rt, corpus)
    nodes, head = weight_matmuls(src)
    quantize_static(str(src), str(staging_path(dst)), reader, quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["MatMul", "Gemm"], nodes_to_quantize=nodes, per_channel=True,
                    reduce_range=False,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True,
                                   **({"OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"],
                                       "DedicatedQDQPair": True} if recipe == 2 else {})})
    rewired = float_readers(staging_path(dst), nodes) if recipe == 2 else 0
    publish_graph(staging_path(dst), dst)
    return {"type": "static", "format": "QDQ", "recipe": recipe, "weights": "int8", "activations": "uint8",
            "ops": ["MatMul", "Gemm"], "outputs": "float32" if recipe == 2 else "uint8",
            "float_readers": rewired, "per_channel": True, "calibrate": "minmax", "quantized_nodes": len(nodes),
            "kept_float": head, "batch_independent": True, **record}


def float_readers(path: Path, quantized: list[str]) -> int:
    """Give every reader of a quantised activation that is not one of the ``quantized`` projections the
    float32 tensor instead of its quantise-dequantise copy (in place; returns how many inputs moved).
    Weights (dequantised initialisers) are left alone: only a ``DequantizeLinear`` fed by a
    ``QuantizeLinear`` of a computed tensor is an activation's copy."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    g = m.graph
    q_src = {n.output[0]: n.input[0] for n in g.node if n.op_type == "QuantizeLinear"}
    copies = {n.output[0]: q_src[n.input[0]] for n in g.node
              if n.op_type == "DequantizeLinear" and n.input[0] in q_src}
    keep = set(quantized)
    moved = 0
    for n in g.node:
        if n.name in keep:
            continue
        for i, name in enumerate(n.input):
            if name in copies:
                n.input[i] = copies[name]
                moved += 1
    out = {o.name for o in g.output}
    if out & set(copies):
        raise ValueError(f"{path}: a graph output is a quantised copy ({sorted(out & set(copies))})")
    # drop the quantise-dequantise nodes nobody reads any more (a dequantise first, then its quantise)
    for _ in range(2):
        read = {i for n in g.node for i in n.input} | out
        for n in [n for n in g.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")
                  and not any(o in read for o in n.output)]:
            g.node.remove(n)
    onnx.save(m, str(path))
    return moved


def weight_matmuls(src: Path) -> tuple[list[str], list[str]]:
    """(MatMul/Gemm nodes with a constant weight, but the last one; the last one): the projections
    of every layer are quantised, activation x activation products (attention scores) and the
    token-classification head stay float32.  On a 2-layer WikiANN model this kept tag agreement with
    PyTorch at 0.996 (as dynamic int8), against 0.992 when every MatMul was quantised."""
    import onnx

    g = onnx.load(str(src), load_external_data=False).graph
    consts = {i.name for i in g.initializer} | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    names = [n.name for n in g.node if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1 and n.input[1] in consts]
    return names[:-1], names[-1:]
