"""Every registered model family is built tiny and taken through export, the gates, the runtime and
compression; a family that cannot be built offline fails the catalogue test."""

from __future__ import annotations

import json

import pytest

from xner.datadir import DataDir
from xner.families import REGISTRY, by_arch, family

#: the tiny-model catalogue: one small model per registered family, built by init-model from the
#: family's spec (so registering a family is all it takes to have it tested)
CATALOGUE = {mt: {"arch": f.arch} for mt, f in REGISTRY.items() if f.arch}


def test_every_registered_family_is_in_the_catalogue():
    missing = sorted(set(REGISTRY) - set(CATALOGUE))
    assert not missing, f"registered families with no tiny model (give them arch/config_class/model_class): {missing}"
    for mt, spec in CATALOGUE.items():
        assert by_arch(spec["arch"]).model_type == mt


@pytest.fixture(scope="module")
def built(tmp_path_factory, data_dir):
    from xner.training.finetune import finetune
    from xner.training.models import init_model
    from xner.training.presets import resolve

    files = [str(data_dir / lang / "train.tsv") for lang in ("en", "ru")]
    src = DataDir(data_dir)
    out = {}
    for mt, spec in CATALOGUE.items():
        m = init_model(spec["arch"], tmp_path_factory.mktemp(f"init_{mt}"), train_tokenizer_on=files, hidden=32,
                       layers=2, heads=2, max_length=64, vocab_size=400)
        t = tmp_path_factory.mktemp(f"trained_{mt}")
        finetune(str(m), [src.load("en", "train")], None, t, resolve("scratch", max_steps=40, batch_size=16, lr=3e-3))
        out[mt] = str(t)
    return out


@pytest.mark.parametrize("model_type", sorted(CATALOGUE))
def test_family_through_export_runtime_and_compression(tmp_path, built, data_dir, model_type):
    import numpy as np

    from xner.export.build import export
    from xner.export.runtime import Runtime
    from xner.hf import load_model
    from xner.training.distill import compress, freeze

    fam = family(model_type)
    ev = DataDir(data_dir).load("en", "test")
    r = export(built[model_type], tmp_path / "o", "torch", level="O2", eval_corpus=ev, threads=1)
    assert r["passed"] and all(g["max_abs_diff"] <= fam.fp32_tolerance for g in r["gates"])
    fused = r["steps"][1]["fused_operators"]
    assert fused.get("Attention", 0) + fused.get("MultiHeadAttention", 0) >= 1, fused  # the optimiser knew the family
    rt = Runtime(tmp_path / "o", provider="cpu", threads=1)
    assert rt.family is fam and rt.input_names == list(fam.inputs)
    cfg = json.loads((tmp_path / "o" / "config.json").read_text())
    assert rt.encoder.max_length == cfg["max_position_embeddings"] - fam.position_offset
    enc = rt.encoder.encode(ev)
    assert enc.row(0)[0] == getattr(rt.tokenizer, fam.cls_token + "_id")
    assert enc.row(0)[-1] == getattr(rt.tokenizer, fam.sep_token + "_id")
    tags = rt.predict(ev)
    assert tags.shape == (ev.n_tokens,) and np.isfinite(rt.logits(ev)).all()
    model = load_model(built[model_type])
    small, kept = compress(model, 1)
    assert kept == [0] and small.config.num_hidden_layers == 1
    assert freeze(small, 1) == 1
