"""One batch per thread (``parallel="batches"``, what ``xner evaluate`` uses on a CPU) must give every
number the one-batch-across-the-threads session gives, charge the calling thread's clock once with
the wall time, and refuse a mode it does not know; a CPU session leaves out the SkipLayerNormalization
fusion (its CPU kernel was the slowest operator of a bert-base int8 graph)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xner.corpus import concat
from xner.datadir import DataDir
from xner.errors import XnerError
from xner.export.runtime import CPU_BATCHES_TOKEN_BUDGET, CPU_TOKEN_BUDGET, Runtime


@pytest.fixture(scope="module")
def corpus(data_dir):
    return concat([DataDir(data_dir).load("en", "test")] * 6)


@pytest.mark.parametrize("model", ["onnx_dir", "int8_dir"])
def test_batches_in_parallel_give_the_same_logits(request, model, corpus):
    d = request.getfixturevalue(model)
    ops = Runtime(d, provider="cpu", threads=2, token_budget=CPU_BATCHES_TOKEN_BUDGET)
    par = Runtime(d, provider="cpu", threads=2, parallel="batches")
    assert (ops.parallel, ops.workers, par.parallel, par.workers) == ("ops", 1, "batches", 2)
    assert par.token_budget == CPU_BATCHES_TOKEN_BUDGET and ops.token_budget == CPU_BATCHES_TOKEN_BUDGET
    assert Runtime(d, provider="cpu", threads=2).token_budget == CPU_TOKEN_BUDGET
    enc = par.encoder.encode(corpus)
    assert len(list(enc.batches(par.token_budget, par.max_batch))) > 4  # several batches really ran at once
    a, b = ops.logits(corpus), par.logits(corpus)
    assert np.abs(a).max() > 0 and np.array_equal(a, b)  # bit for bit
    assert par.describe()["parallel"] == "batches" and par.describe()["workers"] == 2
    words = sorted({w for s in corpus.sentences()[:200] for w in s})
    assert len(words) > 150  # the word vectors (context_swap) take several batches too
    va, vb = ops.word_vectors(words), par.word_vectors(words)
    assert np.abs(va).max() > 0 and np.array_equal(va, vb)


def test_one_thread_means_one_batch_at_a_time(onnx_dir, monkeypatch):
    rt = Runtime(onnx_dir, provider="cpu", threads=1, parallel="batches")
    # what really happens is recorded: one worker is the one-batch mode
    assert (rt.workers, rt.parallel, rt.token_budget) == (1, "ops", CPU_TOKEN_BUDGET)
    def intra(rt) -> int:
        return rt.session.get_session_options().intra_op_num_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the documented default of --threads
    one = Runtime(onnx_dir, provider="cpu", parallel="batches")
    assert (one.workers, intra(one)) == (1, 1)  # one thread in all, not onnxruntime's every core
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    three = Runtime(onnx_dir, provider="cpu", parallel="batches")
    assert (three.workers, intra(three)) == (3, 1)
    ops = Runtime(onnx_dir, provider="cpu")
    assert (ops.workers, intra(ops)) == (1, 3) and ops.describe()["intra_op_threads"] == 3
    assert intra(Runtime(onnx_dir, provider="cpu", threads=2)) == 2  # --threads before the variable


def test_a_gpu_that_does_not_load_gets_the_cpu_settings(onnx_dir, monkeypatch):
    """onnxruntime runs the CPU when a listed GPU provider cannot load: the session must then be the
    CPU's (fusions left out, one batch per thread), not the one planned for the GPU."""
    import onnxruntime as ort

    import xner.export.runtime as runtime

    calls = []
    real = ort.InferenceSession

    def spy(*a, **kw):
        calls.append(kw)
        return real(*a, **kw)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    monkeypatch.setattr(runtime, "choose_providers", lambda *a: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    rt = Runtime(onnx_dir, provider="auto", threads=2, parallel="batches")
    assert rt.provider == "CPUExecutionProvider"
    assert (rt.workers, rt.parallel, rt.token_budget) == (2, "batches", CPU_BATCHES_TOKEN_BUDGET)
    assert rt.fusions_left_out == ["SkipLayerNormFusion"] == calls[-1]["disabled_optimizers"]
    assert rt.describe()["fusions_left_out"] == ["SkipLayerNormFusion"]


def test_the_cpu_rebuild_frees_the_first_session_and_fails_clearly(onnx_dir, monkeypatch):
    import weakref

    import onnxruntime as ort

    import xner.export.runtime as runtime

    real = ort.InferenceSession
    first: list = []

    def flaky(*a, **kw):
        if first:  # the rebuild on the CPU: the first session must be gone by now
            assert first[0]() is None
            raise RuntimeError("Failed to allocate memory (simulated)")
        s = real(*a, **kw)
        first.append(weakref.ref(s))
        return s

    monkeypatch.setattr(ort, "InferenceSession", flaky)
    monkeypatch.setattr(runtime, "choose_providers", lambda *a: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(XnerError, match="cannot load .*Failed to allocate memory"):
        Runtime(onnx_dir, provider="auto", threads=2)
    assert len(first) == 1


def test_an_export_as_the_vector_model_carries_the_numerics(onnx_dir, tmp_path):
    """context_swap's vectors from an ONNX export run in a CPU session: the fusions it leaves out are
    part of every such cell's identity; a hub or torch folder's are not xner's to change."""
    from types import SimpleNamespace

    from xner.experiments.artefacts import Artifacts, numerics

    ident = Artifacts.vectors_identity(SimpleNamespace(cfg={"vectors": str(onnx_dir)}), "m")
    assert ident["numerics"] == numerics({}) and ident["numerics"]["cpu_fusions_left_out"]
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"0")
    (tmp_path / "stray.onnx").write_bytes(b"0")  # not an export: the vector loader runs it with torch
    assert "numerics" not in Artifacts.vectors_identity(SimpleNamespace(cfg={"vectors": str(tmp_path)}), "m")


def test_the_calling_thread_is_charged_once_with_the_wall_time(onnx_dir, corpus):
    import threading
    import time

    rt = Runtime(onnx_dir, provider="cpu", threads=2, parallel="batches")
    t0 = time.perf_counter()
    rt.logits(corpus)
    wall = time.perf_counter() - t0
    mine, total = rt.thread_infer_seconds, rt.infer_seconds
    assert 0 < mine <= wall and total == pytest.approx(mine)  # not each worker's seconds summed on top
    seen = []
    t = threading.Thread(target=lambda: seen.append(rt.thread_infer_seconds))
    t.start()
    t.join()
    assert seen == [0.0]


def test_a_failing_batch_stops_the_call(onnx_dir, corpus, monkeypatch):
    rt = Runtime(onnx_dir, provider="cpu", threads=2, parallel="batches")
    calls = []

    def broken(ids, mask, output=None):
        calls.append(ids.shape)
        raise XnerError("boom")

    monkeypatch.setattr(rt, "_run", broken)
    with pytest.raises(XnerError, match="boom"):
        rt.logits(corpus)
    assert rt.thread_infer_seconds > 0


def test_an_unknown_mode_is_refused(onnx_dir):
    with pytest.raises(XnerError, match="parallel must be one of ops, batches"):
        Runtime(onnx_dir, provider="cpu", parallel="rows")


def test_a_cpu_session_leaves_out_skip_layer_norm_fusion(onnx_dir, monkeypatch):
    import onnxruntime as ort

    seen = {}
    real = ort.InferenceSession

    def spy(*a, **kw):
        seen.update(kw)
        return real(*a, **kw)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    Runtime(onnx_dir, provider="cpu", threads=1)
    assert "SkipLayerNormFusion" in seen["disabled_optimizers"]
    Runtime(onnx_dir, provider="cpu", threads=1, disabled_fusions=())
    assert seen["disabled_optimizers"] == []


def test_evaluate_rows_are_the_same_either_way(onnx_dir, data_dir, tmp_path, capsys):
    from xner.cli import main

    rows = {}
    for mode in ("batches", "ops"):
        out = tmp_path / f"{mode}.jsonl"
        assert main(["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en",
                     "--perturbations", "char_noise,lowercase", "--bootstrap", "50", "--threads", "2",
                     "--parallel", mode, "--out", str(out), "-q"]) == 0
        got = [json.loads(x) for x in out.read_text().splitlines()][1:]
        assert got[0]["parallel"] == mode
        rows[mode] = [{k: v for k, v in r.items()
                        if k not in ("seconds", "parallel", "workers", "token_budget")} for r in got]
    capsys.readouterr()
    assert rows["batches"] == rows["ops"] and rows["ops"][0]["f1"] > 0


def test_an_empty_data_folder_in_a_run_card_is_no_input(tmp_path, monkeypatch):
    """A run card with "data": "" (an in-process fine-tune without a data folder) named the working
    directory as an input, and export refused every --out inside it."""
    from xner.export.folders import card_inputs

    (tmp_path / "run.json").write_text('{"data": ""}')
    monkeypatch.chdir(tmp_path)
    assert card_inputs(tmp_path) == []


def test_a_load_error_without_a_message_is_still_the_graphs_error(onnx_dir, tmp_path, monkeypatch):
    """onnxruntime failing with a bare MemoryError() (no message) used to crash the message's own
    formatting (IndexError): the graph's error, before a broken config's, must survive it."""
    import shutil

    import onnxruntime as ort

    d = tmp_path / "m"
    shutil.copytree(onnx_dir, d)
    (d / "config.json").write_text("[1")

    def no_memory(*a, **kw):
        raise MemoryError()

    monkeypatch.setattr(ort, "InferenceSession", no_memory)
    with pytest.raises(XnerError, match="cannot load .*: MemoryError"):
        Runtime(d, provider="cpu", threads=1)
