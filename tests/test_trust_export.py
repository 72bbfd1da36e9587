"""Trust defects of export, the runtime and the server: each test failed on the code before its fix."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx_edits import break_quantizers, set_classifier_bias

from xner.cli import main
from xner.datadir import DataDir
from xner.errors import XnerError
from xner.export.build import ParityError, export
from xner.export.parity import check
from xner.export.runtime import Runtime


@pytest.fixture(scope="module")
def eval_corpus(data_dir):
    return DataDir(data_dir).load("en", "test")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# -- 1. export never destroys a folder it did not make ---------------------------------------------

def test_export_refuses_foreign_folder_and_keeps_its_files(tmp_path, trained, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    rc = main(["export", "--model", trained["bert"], "--out", str(out), "--exporter", "torch"])
    assert rc == 2 and "not an xner export" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine" and sorted(os.listdir(out)) == ["notes.txt"]
    # --out equal to --model, or holding it, would delete the source model: refused even with --overwrite
    before = _sha(Path(trained["bert"]) / "model.safetensors")
    for target in (trained["bert"], str(Path(trained["bert"]).parent)):
        assert main(["export", "--model", trained["bert"], "--out", target, "--overwrite"]) == 2
    assert _sha(Path(trained["bert"]) / "model.safetensors") == before
    # --out . would replace the working directory
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("x")
    cwd = os.getcwd()
    try:
        os.chdir(work)
        assert main(["export", "--model", trained["bert"], "--out", ".", "--overwrite"]) == 2
    finally:
        os.chdir(cwd)
    assert (work / "keep.txt").exists()
    # asked for explicitly, the folder is replaced
    assert main(["export", "--model", trained["bert"], "--out", str(out), "--exporter", "torch", "--overwrite"]) == 0
    assert (out / "model.onnx").exists() and not (out / "notes.txt").exists()
    # an earlier xner export is replaced without --overwrite; no temporary folders are left behind
    assert main(["export", "--model", trained["bert"], "--out", str(out), "--exporter", "torch"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "work"]


def test_failed_gate_keeps_earlier_export_and_runtime_refuses_candidate(tmp_path, trained, eval_corpus,
                                                                        monkeypatch):

    out = tmp_path / "m"
    export(trained["bert"], out, "torch", quantize="int8", eval_corpus=eval_corpus)
    good = _sha(out / "model_int8.onnx")
    break_quantizers(monkeypatch)
    with pytest.raises(ParityError, match="rejected candidate"):
        export(trained["bert"], out, "torch", quantize="int8", eval_corpus=eval_corpus)
    assert _sha(out / "model_int8.onnx") == good  # the earlier export is untouched
    rejected = tmp_path / "m.rejected"
    assert json.loads((rejected / "export_report.json").read_text())["passed"] is False
    with pytest.raises(XnerError, match="failed its parity gate"):
        Runtime(rejected, provider="cpu")
    assert main(["predict", "--model", str(rejected), "--text", "Anna Smith"]) == 2
    Runtime(out, provider="cpu")  # the good one still loads
    # forced: kept in place, recorded, and loadable
    r = export(trained["bert"], tmp_path / "forced", "torch", quantize="int8", eval_corpus=eval_corpus, force=True)
    assert r["forced"] and json.loads((tmp_path / "forced" / "export_report.json").read_text())["forced"]
    Runtime(tmp_path / "forced", provider="cpu")


# -- 4. the parity gate cannot pass a broken export -------------------------------------------------

def _edit_classifier(src: str, dst: Path, fn) -> str:
    from safetensors.numpy import load_file, save_file

    shutil.copytree(src, dst)
    w = load_file(str(dst / "model.safetensors"))
    fn(w)
    save_file(w, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return str(dst)


@pytest.mark.parametrize("kind", ["exact", "approximate"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_logits_fail_every_gate(tmp_path, trained, eval_corpus, kind, value):
    d = tmp_path / "m"
    export(trained["bert"], d, "torch", eval_corpus=eval_corpus)
    set_classifier_bias(d, value)
    p = check(trained["bert"], str(d), eval_corpus, kind)
    assert not p.passed and "non-finite" in p.reason


def test_approximate_gate_needs_entities(tmp_path, trained):
    """A reference that predicts no entity makes tag agreement and F1 vacuous: the gate must say so."""
    def all_o(w):
        w["classifier.bias"] = np.array([50, 0, 0, 0, 0, 0, 0], np.float32)

    quiet = _edit_classifier(trained["bert"], tmp_path / "quiet", all_o)
    with pytest.raises(ParityError, match="predicts no entity"):
        export(quiet, tmp_path / "q", "torch", quantize="int8")
    assert not (tmp_path / "q").exists()
    rep = json.loads((tmp_path / "q.rejected" / "export_report.json").read_text())
    assert rep["gates"][-1]["reference_entities"] == 0 and not rep["passed"]


def test_gate_checks_output_names_and_shapes(tmp_path, trained, eval_corpus):
    import onnx

    d = tmp_path / "m"
    export(trained["bert"], d, "torch", eval_corpus=eval_corpus)
    m = onnx.load(str(d / "model.onnx"))
    out = next(o for o in m.graph.output if o.name == "logits")
    hidden = next(o for o in m.graph.output if o.name == "last_hidden_state")
    producer = next(n for n in m.graph.node if "logits" in n.output)
    producer.output[list(producer.output).index("logits")] = "old_logits"
    m.graph.node.append(onnx.helper.make_node("Identity", [hidden.name], ["logits"]))  # hidden states as "logits"
    onnx.save(m, str(d / "model.onnx"))
    assert out.name == "logits"
    with pytest.raises(XnerError, match="shape"):
        check(trained["bert"], str(d), eval_corpus)


def test_fp16_on_cpu_is_marked_unverified_and_warned_on_cuda(tmp_path, trained, eval_corpus, monkeypatch, caplog):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a CUDA build gates fp16 on the GPU")
    r = export(trained["bert"], tmp_path / "h", "torch", fp16=True, eval_corpus=eval_corpus, force=True)
    assert r["gpu_verified"] is False and "not verified on GPU" in r["note"]
    monkeypatch.setattr(Runtime, "on_cuda", property(lambda self: True))
    with caplog.at_level(logging.WARNING, logger="xner.runtime"):
        Runtime(tmp_path / "h", provider="cpu")
    assert "not verified on a GPU" in caplog.text


# -- 2. predict streams to standard output -----------------------------------------------------------

def _world_readable_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _predict_through_pipe(model: Path, inp: Path, fmt: str, prefix: list[str], env: dict) -> str:
    cmd = [*prefix, sys.executable, "-m", "xner", "predict", "--model", str(model), "--input", str(inp),
           "--format", fmt]
    p1 = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    p2 = subprocess.run(["cat"], stdin=p1.stdout, capture_output=True, timeout=300)
    p1.stdout.close()
    err = p1.stderr.read().decode()
    assert p1.wait(timeout=300) == 0, err
    assert "Traceback" not in err
    return p2.stdout.decode()


def _check_outputs(model, inp, prefix, env, n_sentences):
    out = _predict_through_pipe(model, inp, "json", prefix, env)
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == n_sentences and all(len(r["tokens"]) == len(r["ner_tags"]) for r in rows)
    conll = _predict_through_pipe(model, inp, "conll", prefix, env)
    assert conll.count("\n\n") == n_sentences
    assert os.path.islink("/dev/stdout") or not os.path.exists("/dev/stdout") or \
        not Path("/dev/stdout").is_file()


@pytest.fixture
def shared_dir(tmp_path_factory):
    d = Path(__import__("tempfile").mkdtemp(prefix="xner-pipe-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_predict_input_streams_through_a_pipe(onnx_dir, data_dir, shared_dir):
    was_link = os.path.islink("/dev/stdout")
    model = _world_readable_copy(onnx_dir, shared_dir / "model")
    inp = shared_dir / "test.tsv"
    shutil.copy(data_dir / "en" / "test.tsv", inp)
    inp.chmod(0o644)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    _check_outputs(model, inp, [], env, 40)
    assert os.path.islink("/dev/stdout") == was_link


def test_predict_input_streams_as_unprivileged_user(onnx_dir, data_dir, shared_dir):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as an unprivileged user")
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    home = shared_dir / "home"
    home.mkdir()
    home.chmod(0o777)
    env = {**os.environ, "HOME": str(home), "NUMBA_CACHE_DIR": str(home / "numba"), "PYTHONUNBUFFERED": "1"}
    probe = subprocess.run([*drop, sys.executable, "-c", "import xner.export.cli"], capture_output=True, env=env)
    if probe.returncode != 0:
        pytest.skip("this checkout's virtual environment is not readable by an unprivileged user")
    model = _world_readable_copy(onnx_dir, shared_dir / "model")
    inp = shared_dir / "test.tsv"
    shutil.copy(data_dir / "en" / "test.tsv", inp)
    inp.chmod(0o644)
    _check_outputs(model, inp, drop, env, 40)
