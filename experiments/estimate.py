"""What a sweep will cost, estimated without running it: training steps from the presets and the
material's sizes, times seconds per step from the model's size; exports and cells from the model's
size and the test set's.  It is an estimate (the machine's load, sentence lengths and caches move
it), used by ``xner sweep CONFIG --plan``.

The figures are calibrated on this project's development machine (2 CPU cores): ``xner demo``'s
2-layer, 128-wide model with mBERT's 119,547-word vocabulary (15.7 M parameters, 0.4 M of them
outside the embeddings) trained 120 steps of batch 16 in 9.1 s (median of 24 trainings: 0.076
s/step), distilled in 10.6 s, exported (with its int8 gate on 1,000 sentences) in about 4 s, and
evaluated a cell in 0.2-0.4 s after about 3 s of setup per model; a 8,000-word vocabulary trained
at 0.55x that time.  A step costs ``STEP_OVERHEAD + PARAM_SECONDS x parameters`` (the optimiser
updates every parameter) ``+ 6 x body parameters x tokens / (CPU_FLOPS x cores)`` (forward and
backward through the layers above the embeddings), with ``TOKENS`` sub-words per padded sentence.
On a GPU, models of mBERT's size train tens of times faster than this CPU estimate.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["COSTS", "HOW", "HUB_SIZES", "cell_seconds", "export_seconds", "group_seconds", "model_size",
           "step_seconds", "training_steps"]

#: the calibration constants (see the module's docstring)
COSTS = {"STEP_OVERHEAD": 0.01, "PARAM_SECONDS": 2.7e-9, "CPU_FLOPS": 30e9, "TOKENS": 40, "ARTEFACT_SECONDS": 3.0,
         "EXPORT_SECONDS": 2.0, "EXPORT_PARAM_SECONDS": 1.3e-7, "GROUP_SECONDS": 3.0, "CELL_SECONDS": 0.1,
         "CHANGED_SHARE": 0.5}
HOW = ("estimate, not a measurement: training and distillation steps (max_steps, else ceil(sentences / batch) x "
       "epochs) x seconds per step (0.01 + 2.7e-9 x parameters + 6 x non-embedding parameters x batch x 40 tokens / "
       "(30e9 FLOP/s x cores)) + 3 s per model; exports 2 s + 1.3e-7 s per parameter + the gate's inference; cells 3 s "
       "per model + 0.1 s + inference of the test set (all of it for the clean cell, half for a perturbed one, one "
       "thread). Calibrated on 2 CPU cores with xner demo's tiny model (0.076 s per step of batch 16); GPUs train "
       "large models tens of times faster.")

#: (vocabulary, hidden size, layers, intermediate size) of hub models, known without downloading them
HUB_SIZES = {"bert-base-multilingual-cased": (119547, 768, 12, 3072),
             "bert-base-multilingual-uncased": (105879, 768, 12, 3072),
             "xlm-roberta-base": (250002, 768, 12, 3072), "xlm-roberta-large": (250002, 1024, 24, 4096),
             "distilbert-base-multilingual-cased": (119547, 768, 6, 3072)}
_MBERT_VOCAB = 119547


def _size(vocab: int, hidden: int, layers: int, inter: int | None) -> tuple[int, int]:
    inter = inter or 4 * hidden
    body = layers * (4 * hidden * hidden + 2 * hidden * inter + 9 * hidden + inter)
    return body + (vocab + 514) * hidden, body


def model_size(spec: dict, models: dict | None = None) -> tuple[int, int]:
    """(parameters, parameters outside the embeddings) of a resolved model spec, without loading it:
    an ``init`` spec's shape, a local folder's ``config.json``, or a known hub model (an unknown one
    counts as mBERT's size)."""
    if "pretrain" in spec and "init" in spec["pretrain"]:  # an xner pretrain --init SPEC
        from xner.training.pretrain_data import parse_init_spec

        i = parse_init_spec(str(spec["pretrain"]["init"]))
        v = _MBERT_VOCAB if i["vocab"] == "mbert" else int(i.get("vocab-size") or 8000)
        return _size(v, int(i["hidden"]), int(i["layers"]), i.get("intermediate"))
    if "pretrain" in spec and str(spec["pretrain"]["model"]).startswith("@"):  # lapt: the size of the model it adapts
        return model_size(models.get(str(spec["pretrain"]["model"])[1:], {}) if models else {})
    if "pretrain" in spec:
        return model_size({"hub": spec["pretrain"]["model"]} if not Path(str(spec["pretrain"]["model"])).is_dir()
                          else {"path": spec["pretrain"]["model"]})
    if "init" in spec:
        init = spec["init"]
        vocab = init.get("vocab")
        if vocab == "mbert":
            v = _MBERT_VOCAB
        elif isinstance(vocab, str) and Path(vocab).is_file():
            v = sum(1 for _ in open(vocab, encoding="utf-8"))
        else:
            v = int(init.get("vocab_size", 8000))
        return _size(v, int(init.get("hidden", 128)), int(init.get("layers", 2)), init.get("intermediate"))
    if "path" in spec and (Path(spec["path"]) / "config.json").is_file():
        c = json.loads((Path(spec["path"]) / "config.json").read_text(encoding="utf-8"))
        return _size(int(c.get("vocab_size", _MBERT_VOCAB)), int(c.get("hidden_size", 768)),
                     int(c.get("num_hidden_layers", 12)), c.get("intermediate_size"))
    return _size(*HUB_SIZES.get(spec.get("hub", ""), HUB_SIZES["bert-base-multilingual-cased"]))


def training_steps(hp: dict, sentences: int) -> int:
    """Optimisation steps of a training or distillation on ``sentences`` items (the Trainer's count)."""
    if hp.get("max_steps"):
        return int(hp["max_steps"])
    return max(1, math.ceil(sentences / int(hp["batch_size"]))) * int(hp.get("epochs", 1))


def step_seconds(size: tuple[int, int], batch: int, cores: int) -> float:
    params, body = size
    c = COSTS
    return c["STEP_OVERHEAD"] + c["PARAM_SECONDS"] * params + 6 * body * batch * c["TOKENS"] / (c["CPU_FLOPS"] * cores)


def _infer(size: tuple[int, int], sentences: int, cores: int = 1) -> float:
    return 2 * size[1] * sentences * COSTS["TOKENS"] / (COSTS["CPU_FLOPS"] * cores)


def export_seconds(size: tuple[int, int], gate_sentences: int) -> float:
    """An export with its parity gate on the target's test set."""
    return COSTS["EXPORT_SECONDS"] + COSTS["EXPORT_PARAM_SECONDS"] * size[0] + 2 * _infer(size, gate_sentences)


def cell_seconds(size: tuple[int, int], test_sentences: int, clean: bool) -> float:
    """One cell: the clean cell infers the whole test set, a perturbed one about half of it (incremental)."""
    share = 1.0 if clean else COSTS["CHANGED_SHARE"]
    return COSTS["CELL_SECONDS"] + share * _infer(size, test_sentences)


def group_seconds(size: tuple[int, int], teachers: int, unlabelled: int, cores: int) -> float:
    """Fixed costs of a trained model (loading, encoding, saving) and, for a student, its teachers
    labelling the unlabelled target text."""
    return COSTS["ARTEFACT_SECONDS"] + teachers * _infer(size, unlabelled, cores)
