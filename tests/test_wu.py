"""Teacher-student as Wu et al. (ACL 2020): the wu-teacher preset (frozen bottom layers) and the
language-identification weights' temperature 1/Var(scores)."""

from __future__ import annotations

import numpy as np
import pytest

from xner.datadir import DataDir
from xner.errors import XnerError
from xner.training.presets import resolve


def test_wu_teacher_preset_freezes_bottom_layers(tmp_path, data_dir, tiny_bert):
    from safetensors.numpy import load_file

    from xner.training.finetune import finetune

    hp = resolve("wu-teacher")
    assert {k: hp[k] for k in ("lr", "batch_size", "epochs", "freeze_layers")} == \
        {"lr": 5e-5, "batch_size": 32, "epochs": 3, "freeze_layers": 3}
    card = finetune(str(tiny_bert), [DataDir(data_dir).load("en", "train")], None, tmp_path / "t",
                    resolve("wu-teacher", max_steps=2, batch_size=8, lr=1e-2), seed=0)
    assert card["frozen_layers"] == 2  # the tiny model has two layers: both frozen, and the embeddings
    before, after = load_file(str(tiny_bert / "model.safetensors")), load_file(str(tmp_path / "t" / "model.safetensors"))
    frozen = [k for k in after if "embeddings" in k or ".layer.0." in k or ".layer.1." in k]
    assert frozen and all(np.array_equal(before[k], after[k]) for k in frozen if k in before)


def test_langid_temperature(data_dir, tiny_bert):
    from xner.encode import WordEncoder
    from xner.hf import load_model, load_tokenizer
    from xner.training.langid import langid_weights

    src = DataDir(data_dir)
    model, enc = load_model(str(tiny_bert)), WordEncoder(load_tokenizer(str(tiny_bert)), 64)
    sources, target = [src.load("en", "train"), src.load("ru", "train")], src.load("fa", "test")
    raw, info_raw = langid_weights(model, enc, sources, target, epochs=30, temperature="none")
    wu, info = langid_weights(model, enc, sources, target, epochs=30)
    assert info["temperature"] == "var" and info_raw["tau"] == 1.0 and info["tau"] > 0 and info["tau"] != 1.0
    assert np.allclose(wu.sum(1), 1, atol=1e-5) and not np.allclose(wu, raw)
    with pytest.raises(XnerError, match="temperature"):
        langid_weights(model, enc, sources, target, epochs=1, temperature="hot")
