from __future__ import annotations

import json

import numpy as np
import pytest
from onnx_edits import break_quantizers, damage

from xner.cli import main
from xner.datadir import DataDir
from xner.errors import XnerError
from xner.export.build import ParityError, export
from xner.export.exporter import optimum_available
from xner.export.parity import check
from xner.export.pipeline import NerPipeline, split_words
from xner.export.runtime import Runtime, choose_providers


@pytest.fixture(scope="module")
def eval_corpus(data_dir):
    return DataDir(data_dir).load("en", "test")


EXPORTERS = ["torch"] + (["optimum"] if optimum_available() else [])


@pytest.mark.parametrize("arch", ["bert", "xlmr"])
@pytest.mark.parametrize("exporter", EXPORTERS)
def test_export_fp32_and_int8_pass_gates(tmp_path, trained, eval_corpus, arch, exporter):
    r = export(trained[arch], tmp_path / "fp32", exporter, level="O2", eval_corpus=eval_corpus, threads=1)
    assert r["passed"] and r["steps"][0]["exporter"] == exporter
    assert all(g["max_abs_diff"] <= 1e-4 for g in r["gates"])
    q = export(trained[arch], tmp_path / "int8", exporter, quantize="int8", eval_corpus=eval_corpus, threads=1)
    assert q["passed"] and q["gates"][-1]["kind"] == "approximate"
    assert q["gates"][-1]["tag_agreement"] >= 0.99
    assert (tmp_path / "int8" / "model_int8.onnx").stat().st_size < (tmp_path / "fp32" / "model.onnx").stat().st_size
    report = json.loads((tmp_path / "int8" / "export_report.json").read_text())
    assert report["provenance"]["versions"]["onnx"] and report["eval"]["lang"] == "en"

    # both loaders agree with each other
    rt = Runtime(tmp_path / "fp32", provider="cpu", threads=1)
    assert rt.provider == "CPUExecutionProvider"
    ours = rt.logits(eval_corpus)
    if optimum_available():
        from optimum.onnxruntime import ORTModelForTokenClassification

        m = ORTModelForTokenClassification.from_pretrained(str(tmp_path / "fp32"))
        words = eval_corpus.sentences()[0]
        enc = rt.tokenizer(words, is_split_into_words=True, return_tensors="np")
        logits = m(**{k: v for k, v in enc.items()}).logits
        first = [enc.word_ids().index(i) for i in range(len(words))]
        assert np.allclose(np.asarray(logits)[0, first], ours[: len(words)], atol=1e-4)


def test_gate_fails_on_damaged_model(tmp_path, trained, eval_corpus, capsys):
    export(trained["bert"], tmp_path / "m", "torch", eval_corpus=eval_corpus)
    damage(tmp_path / "m")
    p = check(trained["bert"], str(tmp_path / "m"), eval_corpus)
    assert not p.passed and p.max_abs_diff > 1e-2
    rc = main(["verify", "--model", trained["bert"], "--onnx", str(tmp_path / "m")])
    assert rc == 3 and "FAIL" in capsys.readouterr().err  # exit 3: a gate failed


def test_export_gate_refuses_then_force(tmp_path, trained, eval_corpus, monkeypatch):

    break_quantizers(monkeypatch)
    with pytest.raises(ParityError, match="parity gate failed after quantize"):
        export(trained["bert"], tmp_path / "q", "torch", quantize="int8", eval_corpus=eval_corpus)
    r = export(trained["bert"], tmp_path / "q2", "torch", quantize="int8", eval_corpus=eval_corpus, force=True)
    assert not r["passed"] and r["forced"]


def test_sample_corpus_gate_without_eval_data(tmp_path, trained):
    r = export(trained["xlmr"], tmp_path / "m", "torch", quantize="int8")
    assert r["gates"][0]["against"] == "pytorch" and r["gates"][0]["sentences"] == 200


def test_providers():
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers("auto", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])[0] \
        == "TensorrtExecutionProvider"
    with pytest.raises(XnerError, match="not available"):
        choose_providers("cuda", ["CPUExecutionProvider"])


def _has_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.skipif(not _has_cuda(), reason="no CUDA provider in this onnxruntime build (CPU machine)")
def test_cuda_fp16_iobinding(tmp_path, trained, eval_corpus):  # runs where onnxruntime-gpu and a GPU exist
    export(trained["bert"], tmp_path / "fp16", "torch", fp16=True, eval_corpus=eval_corpus, provider="cuda")
    rt = Runtime(tmp_path / "fp16", provider="cuda")
    if rt.provider != "CUDAExecutionProvider":
        pytest.skip(f"CUDA listed but onnxruntime runs {rt.provider}")
    assert rt.predict(eval_corpus).shape == (eval_corpus.n_tokens,)


def test_split_words_keeps_scripts():
    assert [w for w, _, _ in split_words("नमस्ते दुनिया, Paris!")] == ["नमस्ते", "दुनिया", ",", "Paris", "!"]
    t = "Marie  Curie."
    assert [(t[a:b], a, b) for _, a, b in split_words(t)] == [("Marie", 0, 5), ("Curie", 7, 12), (".", 12, 13)]


def test_pipeline_offsets(onnx_dir, eval_corpus):
    pipe = NerPipeline(str(onnx_dir), provider="cpu", threads=1)
    text = " ".join(eval_corpus.sentences()[0])
    ents = pipe(text)
    for e in ents:
        assert text[e.start:e.end] == e.text and 0 < e.score <= 1 and e.type in ("PER", "ORG", "LOC")
    # words in, same tags as the runtime on the corpus
    rt_tags = pipe.runtime.predict(eval_corpus)
    tagged = pipe.predict_words(eval_corpus.sentences())
    flat = [t for s in tagged for t, _ in s]
    assert flat == eval_corpus.labels.decode_array(rt_tags)
    long_text = " ".join(["word"] * 600)  # longer than the model limit: windows, nothing lost
    assert len(pipe.predict_words([long_text.split()])[0]) == 600
    with pytest.raises(XnerError):
        pipe("   ")


def test_predict_cli(onnx_dir, data_dir, tmp_path, capsys):
    assert main(["predict", "--model", str(onnx_dir), "--text", "Anna Smith lives in Boston ."]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["text"].startswith("Anna") and isinstance(d["entities"], list)
    f = tmp_path / "in.txt"
    f.write_text("Anna Smith lives in Boston .\n\nBob went home .\n", encoding="utf-8")
    assert main(["predict", "--model", str(onnx_dir), "--input", str(f), "--format", "conll"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n\n") == 2 and "Boston\t" in out
    assert main(["predict", "--model", str(onnx_dir), "--input", str(data_dir / "en" / "test.tsv"),
                 "--format", "conll"]) == 0
    assert capsys.readouterr().out.count("\n\n") == 40
    assert main(["predict", "--model", str(tmp_path / "none"), "--text", "x"]) == 2


def test_server_over_loopback(onnx_dir):
    import socket
    import subprocess
    import sys
    import time

    import httpx

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "-m", "xner", "serve", "--model", str(onnx_dir), "--port", str(port),
                             "--threads", "1", "--max-body", "20000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        else:
            raise AssertionError(proc.stdout.read().decode() if proc.poll() is not None else "server did not start")
        with httpx.Client(base_url=base, timeout=30) as c:
            assert c.get("/health").json()["provider"] == "CPUExecutionProvider"
            meta = c.get("/metadata").json()
            assert meta["labels"][0] == "O" and meta["export"]["passed"] is True
            r = c.post("/predict", json={"text": "Anna Smith lives in Boston ."})
            assert r.status_code == 200 and isinstance(r.json()["entities"], list)
            r = c.post("/predict", json={"texts": ["Anna Smith .", "Boston is big ."]})
            assert r.status_code == 200 and len(r.json()["entities"]) == 2
            r = c.post("/predict", json={"words": [["Anna", "Smith"], ["Boston"]]})
            assert r.status_code == 200 and len(r.json()["entities"]) == 2
            bad = [
                ({"text": ""}, 400), ({"text": "   "}, 400), ({"texts": []}, 400), ({"text": 5}, 422),
                ({"texts": "not a list"}, 422), ({"words": [["a", 3]]}, 422), ({}, 400), ({"txt": "x"}, 422),
                ({"text": "a", "texts": ["b"]}, 400), ({"words": [[]]}, 400),
            ]
            for body, status in bad:
                r = c.post("/predict", json=body)
                assert r.status_code == status, (body, r.status_code, r.text)
                assert r.json()["error"], body
            r = c.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == 422 and r.json()["error"]
            r = c.post("/predict", json={"text": "x" * 30000})
            assert r.status_code == 413 and "bytes" in r.json()["error"]

            def chunks():
                for _ in range(30):
                    yield b"x" * 1000

            r = c.post("/predict", content=chunks(), headers={"content-type": "application/json"})
            assert r.status_code == 413
            assert c.get("/health").json()["requests"] == 3  # still serving
    finally:
        proc.terminate()
        proc.wait(timeout=10)
