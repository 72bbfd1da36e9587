"""optimum interop, run in its own environment (`.[optimum]`: optimum-onnx 0.1.0 still pins
transformers < 4.58): exporting through optimum, and loading xner's exports in
``ORTModelForTokenClassification``.  `.ci/run` runs these with ``-m optimum`` in `.venv-optimum`."""

from __future__ import annotations

import os

import numpy as np
import pytest

from xner.datadir import DataDir
from xner.export.exporter import optimum_available

pytestmark = pytest.mark.optimum

if not optimum_available():
    if os.environ.get("XNER_REQUIRE_OPTIMUM"):
        raise RuntimeError("XNER_REQUIRE_OPTIMUM is set but optimum-onnx cannot be imported here")
    pytest.skip("optimum-onnx is not installed in this environment (pip install '.[optimum]')",
                allow_module_level=True)


@pytest.fixture(scope="module")
def eval_corpus(data_dir):
    return DataDir(data_dir).load("en", "test")


@pytest.mark.parametrize("arch", ["bert", "xlmr"])
def test_optimum_exporter_passes_gates(tmp_path, trained, eval_corpus, arch):
    from xner.export import export

    r = export(trained[arch], tmp_path / "o", "optimum", level="O2", quantize="int8-dynamic", eval_corpus=eval_corpus,
               threads=1)
    assert r["passed"] and r["steps"][0]["exporter"] == "optimum"
    assert r["variants"]["model.onnx"]["passed"] and r["default"] == "model_O2_int8-dynamic.onnx"
    assert r["steps"][1]["fused_operators"].get("Attention", 0) >= 1
    # static int8 (the default kind) is quantised first, then optimised
    s = export(trained[arch], tmp_path / "s", "optimum", level="O2", quantize="int8", eval_corpus=eval_corpus,
               threads=1)
    assert s["passed"] and s["default"] == "model_int8_O2.onnx" and [x["step"] for x in s["steps"]][1:] == [
        "quantize", "optimize"]


@pytest.mark.parametrize("arch", ["bert", "xlmr"])
def test_ort_model_loads_xner_exports(tmp_path, trained, eval_corpus, arch):
    from optimum.onnxruntime import ORTModelForTokenClassification

    from xner.export import Runtime, export

    export(trained[arch], tmp_path / "x", "torch", quantize="int8", eval_corpus=eval_corpus, threads=1)
    one = eval_corpus.subset([0])  # one sentence, one batch: int8 activation scales are per batch
    words = one.sentences()[0]
    for variant in ("model.onnx", "model_int8.onnx"):
        rt = Runtime(tmp_path / "x", provider="cpu", threads=1, file_name=variant)
        ours = rt.logits(one)
        m = ORTModelForTokenClassification.from_pretrained(str(tmp_path / "x"), file_name=variant)
        enc = rt.tokenizer(words, is_split_into_words=True, return_tensors="np")
        logits = np.asarray(m(**dict(enc.items())).logits)
        first = [enc.word_ids().index(i) for i in range(len(words))]
        assert np.allclose(logits[0, first], ours[: len(words)], atol=1e-4), variant
