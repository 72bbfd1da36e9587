"""Answers must not depend on who else is in the batch (Trust III item 11): ``--quantize int8`` makes a
static QDQ graph calibrated on the model's training text, whose logits for a sentence are the same
alone or among any others; the dynamic kind (``int8-dynamic``) computes scales per batch, and the
server and incremental evaluation refuse it unless asked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xner.datadir import DataDir
from xner.errors import XnerError
from xner.export.build import export
from xner.export.runtime import Runtime


@pytest.fixture(scope="module")
def exports(tmp_path_factory, trained, data_dir):
    ev = DataDir(data_dir).load("en", "test")
    out = {}
    for kind in ("int8", "int8-dynamic", "O2+int8"):
        d = tmp_path_factory.mktemp(kind.replace("+", "-"))
        level, q = kind.split("+") if "+" in kind else (None, kind)
        export(trained["bert"], d, "torch", level=level, quantize=q, eval_corpus=ev, overwrite=True)
        out[kind] = d
    return out


def _alone_vs_batched(rt: Runtime, corpus, rng) -> float:
    """Largest |logit difference| of each probe sentence alone vs inside batches of random others."""
    worst = 0.0
    for s in range(0, 12):
        alone = rt.logits(corpus.subset([s]))
        for _ in range(3):
            others = rng.choice(len(corpus), size=int(rng.integers(3, 20)), replace=False)
            idx = np.concatenate([[s], others[others != s]])
            rng.shuffle(idx)
            batch = corpus.subset(idx)
            got = rt.logits(batch)
            pos = int(np.flatnonzero(idx == s)[0])
            mine = got[batch.offsets[pos]:batch.offsets[pos + 1]]
            assert np.array_equal(mine.argmax(-1), alone.argmax(-1)) or rt.batch_dependent
            worst = max(worst, float(np.abs(mine - alone).max()))
    return worst


def test_static_int8_is_the_default_kind_and_passes_its_gate(exports):
    rep = json.loads((exports["int8"] / "export_report.json").read_text())
    step = rep["steps"][-1]
    # the fixture's run card names no data folder: the vocabulary sample stood in, and the record says so
    assert step["type"] == "static" and step["format"] == "QDQ" and step["calibration"].startswith("vocabulary")
    assert step["sentences"] > 0 and rep["passed"] and rep["default"] == "model_int8.onnx"
    o2 = json.loads((exports["O2+int8"] / "export_report.json").read_text())  # quantised first, then fused
    assert [st["step"] for st in o2["steps"]] == ["export", "quantize", "optimize"] and o2["default"] == "model_int8_O2.onnx"
    dyn = json.loads((exports["int8-dynamic"] / "export_report.json").read_text())
    assert dyn["steps"][-1]["type"] == "dynamic" and dyn["default"] == "model_int8-dynamic.onnx" and dyn["passed"]


@pytest.mark.parametrize("variant", ["fp32", "int8", "O2+int8"])
def test_default_variants_answer_the_same_alone_and_batched(exports, onnx_dir, data_dir, variant):
    corpus = DataDir(data_dir).load("en", "test")
    folder = onnx_dir if variant == "fp32" else exports[variant]
    rt = Runtime(folder, provider="cpu", threads=1)
    assert not rt.batch_dependent
    assert _alone_vs_batched(rt, corpus, np.random.default_rng(0)) <= 1e-5


def test_dynamic_int8_is_flagged_and_really_batch_dependent(exports, data_dir):
    rt = Runtime(exports["int8-dynamic"], provider="cpu", threads=1)
    # its answers depend on its batches: it keeps the budget it was gated with, not the CPU default
    assert rt.token_budget == 8192 and Runtime(exports["int8"], provider="cpu", threads=1).token_budget == 1024
    assert rt.batch_dependent and rt.describe()["batch_dependent"]
    corpus = DataDir(data_dir).load("en", "test")
    assert _alone_vs_batched(rt, corpus, np.random.default_rng(0)) > 1e-5  # the test can fail: scales move


def test_server_and_incremental_evaluation_refuse_a_batch_dependent_variant(exports, data_dir):
    from xner.export.server import create_app
    from xner.robustness import Context, evaluate

    with pytest.raises(XnerError, match="dynamically quantised"):
        create_app(str(exports["int8-dynamic"]), provider="cpu", threads=1)
    app = create_app(str(exports["int8-dynamic"]), provider="cpu", threads=1, allow_batch_dependent=True)
    app.app.state.batcher.close()
    rt = Runtime(exports["int8-dynamic"], provider="cpu", threads=1)
    corpus = DataDir(data_dir).load("en", "test")
    with pytest.raises(XnerError, match="dynamically quantised"):
        list(evaluate(rt, corpus, ["char_noise"], [0.3], [0], Context(lang="en"), bootstrap=0))
    rows = list(evaluate(rt, corpus, ["char_noise"], [0.3], [0], Context(lang="en"), bootstrap=0, incremental=False))
    assert len(rows) == 2


def test_static_int8_incremental_equals_full_reinference(exports, data_dir):
    from xner.robustness import Context, evaluate, names

    src = DataDir(data_dir)
    corpus = src.load("en", "test")
    perts = [n for n in names() if n not in ("context_swap", "entity_and_context")]
    out = {}
    for inc in (True, False):
        rt = Runtime(exports["int8"], provider="cpu", threads=1)
        ctx = Context(train=src.load("ru", "train"), source=src, lang="en", runtime=rt)
        out[inc] = list(evaluate(rt, corpus, perts, [0.3], [0], ctx, bootstrap=0, incremental=inc))
    for a, b in zip(out[True], out[False], strict=True):
        assert (a["perturbation"], a.get("f1")) == (b["perturbation"], b.get("f1"))


def test_calibration_reads_the_models_training_text(tmp_path, data_dir, exports):
    from xner.export.quantize import CALIBRATION_SENTENCES, calibration_corpus
    from xner.fingerprint import text_sha256
    from xner.training.runs import text_record

    src = DataDir(data_dir)
    en, ru = src.load("en", "train"), src.load("ru", "train")
    (tmp_path / "run.json").write_text(json.dumps({"kind": "train", "data": str(data_dir.resolve()),
                                                   "train": [text_record(en), text_record(ru)]}))
    rt = Runtime(exports["int8"], provider="cpu", threads=1)
    c, rec = calibration_corpus(tmp_path, rt.fast_tokenizer)
    assert rec["calibration"].startswith("training text") and rec["langs"] == ["en", "ru"]
    assert 0 < len(c) <= CALIBRATION_SENTENCES
    assert c.sentence(0) == en.sentence(0)
    assert text_sha256(en) == text_record(en)["text_sha256"]


def test_calibration_never_reads_a_decoy_folder(tmp_path, data_dir, exports, monkeypatch):
    """The card held the data folder as typed (relative): an export run elsewhere calibrated on whatever
    folder of that name it found there, and recorded it as the training text."""
    from xner.export.quantize import calibration_corpus
    from xner.training.runs import text_record

    en = DataDir(data_dir).load("en", "train")
    rt = Runtime(exports["int8"], provider="cpu", threads=1)
    decoy = tmp_path / "D" / "en"
    decoy.mkdir(parents=True)
    (decoy / "train.tsv").write_text((data_dir / "ar" / "train.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for data in ("D", str(tmp_path / "D")):  # relative as typed; absolute, but another text than the card's
        (tmp_path / "run.json").write_text(json.dumps({"kind": "train", "data": data, "train": [text_record(en)]}))
        _, rec = calibration_corpus(tmp_path, rt.fast_tokenizer)
        assert rec["calibration"].startswith("vocabulary sample"), rec
    assert "no longer matches" in rec["calibration"]


def test_export_and_train_never_write_over_their_data_folder(tmp_path, trained, data_dir):
    """export --overwrite deleted the data folder its run card names (and calibrated on); train
    --overwrite wrote its model into the data folder it read."""
    import shutil

    from xner.cli import main

    d = tmp_path / "D"
    shutil.copytree(data_dir, d)
    model = tmp_path / "T"
    shutil.copytree(trained["bert"], model)
    card = json.loads((model / "run.json").read_text()) if (model / "run.json").exists() else {"kind": "train"}
    card["data"] = str(d.resolve())
    (model / "run.json").write_text(json.dumps(card))
    before = sorted(p.name for p in d.iterdir())
    assert main(["export", "--model", str(model), "--out", str(d), "--exporter", "torch", "--overwrite"]) == 2
    assert main(["export", "--model", str(model), "--out", str(d / "en"), "--exporter", "torch", "--overwrite",
                 "--data-dir", str(d), "--lang", "en"]) == 2
    assert main(["train", "--model", str(model), "--data-dir", str(d), "--train-langs", "en", "--lang", "en",
                 "--max-steps", "1", "--out", str(d), "--overwrite"]) == 2
    assert sorted(p.name for p in d.iterdir()) == before and (d / "en" / "train.tsv").exists()


def test_a_renamed_or_outside_graph_is_not_taken_on_trust(exports, tmp_path, data_dir):
    """Review of 29, F2: a dynamic graph copied to another name passed as batch-independent (its
    incremental numbers differed from full re-inference), and --variant took a path to a graph of
    another folder (one whose own folder refused it) without any parity gate."""
    import shutil

    from xner.errors import XnerError

    dyn = tmp_path / "dyn"
    shutil.copytree(exports["int8-dynamic"], dyn)
    shutil.copy(dyn / "model_int8-dynamic.onnx", dyn / "mygraph.onnx")
    rt = Runtime(dyn, provider="cpu", threads=1, file_name="mygraph.onnx", allow_failed=True)
    assert rt.batch_dependent  # read from the graph's operators, not its name
    assert not Runtime(exports["int8"], provider="cpu", threads=1).batch_dependent
    with pytest.raises(XnerError, match="knows no such variant"):
        Runtime(dyn, provider="cpu", threads=1, file_name="mygraph.onnx")
    with pytest.raises(XnerError, match="without a folder"):
        Runtime(exports["int8"], provider="cpu", threads=1, file_name=f"../{dyn.name}/mygraph.onnx")


def test_only_the_projections_read_quantised_activations(exports):
    """Recipe 2: the residual connections (and Shape) read the float32 tensor, not its uint8-rounded
    copy, and no projection's output is requantised (it stays float32 for its bias); recipe 1, kept for
    the benchmark, did both."""
    readers, requantised = _readers_of_copies(exports["int8"] / "model_int8.onnx")
    assert readers and set(readers) == {"MatMul"} and requantised == []
    step = json.loads((exports["int8"] / "export_report.json").read_text())["steps"][-1]
    assert step["recipe"] == 2 and step["outputs"] == "float32" and step["float_readers"] > 0


def _readers_of_copies(path) -> tuple[list[str], list[str]]:
    """(op type of every reader of a quantise-dequantise copy of an activation, names of the quantisers
    that read a MatMul's output)."""
    import onnx

    g = onnx.load(str(path), load_external_data=False).graph
    q = {n.output[0] for n in g.node if n.op_type == "QuantizeLinear"}
    copies = {n.output[0] for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] in q}
    readers = [n.op_type for n in g.node for i in n.input if i in copies]
    outs = {n.output[0] for n in g.node if n.op_type == "MatMul"}
    requantised = [n.name for n in g.node if n.op_type == "QuantizeLinear" and n.input[0] in outs]
    return readers, requantised


def test_recipe_1_is_the_earlier_graph(exports, tmp_path):
    from xner.export.quantize import quantize_static_int8

    src = exports["int8"] / "model.onnx"
    rec = quantize_static_int8(src, tmp_path / "r1.onnx", exports["int8"], recipe=1)
    readers, _ = _readers_of_copies(tmp_path / "r1.onnx")
    assert rec["recipe"] == 1 and set(readers) > {"MatMul"}
    with pytest.raises(ValueError, match="recipe"):
        quantize_static_int8(src, tmp_path / "r3.onnx", exports["int8"], recipe=3)
