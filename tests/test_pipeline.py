"""``evaluate`` perturbs the next cell while a worker thread infers the current one: every row equals
the sequential loop's, and each stage's seconds are charged to the thread that spent them."""

from __future__ import annotations

import pytest

from xner.datadir import DataDir
from xner.export.runtime import Runtime
from xner.robustness import Context, evaluate


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def both(onnx_dir, data_dir):
    src = DataDir(data_dir)
    corpus = src.load("en", "test")
    # context_swap with the model's own word vectors: it runs the model while perturbing
    perts = ["char_noise", "name_swap", ("context_swap", {"vectors": "model"}), "random_token", "lowercase",
             "entity_resample"]
    out = {}
    for pipeline in (True, False):
        rt = Runtime(onnx_dir, provider="cpu", threads=1)
        ctx = Context(train=src.load("ru", "train"), source=src, lang="en", runtime=rt)
        out[pipeline] = list(evaluate(rt, corpus, perts, [0.3, 0.6], [0, 1], ctx, bootstrap=30,
                                      pipeline=pipeline))
    return out


def test_pipelined_rows_equal_the_sequential_loop(both):
    a, b = both[True], both[False]
    assert len(a) == len(b) == 1 + 6 * 2 * 2
    assert a[0]["f1"] > 0.05  # the model learnt something: the comparison compares real numbers
    assert _strip(a) == _strip(b)
    assert sum(r.get("sentences_inferred", 0) for r in a) == sum(r.get("sentences_inferred", 0) for r in b)


def test_word_vectors_are_charged_only_to_the_cell_that_asked(both):
    """context_swap may ask the model for word vectors while perturbing; with the worker inferring
    other cells at the same time, a shared clock would charge their inference to the perturbing stage."""
    for rows in both.values():
        for r in rows[1:]:
            if r["perturbation"] != "context_swap":
                assert r["seconds"]["vectors"] == 0.0, (r["perturbation"], r["seconds"])


def test_the_inference_clock_is_per_thread(onnx_dir):
    import threading

    import numpy as np

    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    ids = np.full((4, 12), 5, dtype=np.int64)
    mask = np.ones_like(ids)
    rt.run_batch(ids, mask)
    mine, total = rt.thread_infer_seconds, rt.infer_seconds
    assert mine > 0 and total == mine
    t = threading.Thread(target=rt.run_batch, args=(ids, mask))
    t.start()
    t.join()
    assert rt.infer_seconds > total  # the other thread's inference counts in the total ...
    assert rt.thread_infer_seconds == mine  # ... not in this thread's clock
    assert "0x" not in repr(rt)  # a stable name: rows that record the model's vectors repeat across runs


def _rows_until_stage_two_fails(onnx_dir, data_dir, monkeypatch, stage: str, pipeline: bool) -> list[str]:
    """The perturbations of the rows ``evaluate`` yields before ``stage`` fails on the second cell."""
    import importlib

    ev_mod = importlib.import_module("xner.robustness.evaluate")
    src = DataDir(data_dir)
    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    ctx = Context(source=src, lang="en", runtime=rt)
    real, calls = getattr(ev_mod, stage), []

    def boom(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError(f"{stage} of cell two failed")
        return real(*a, **k)

    monkeypatch.setattr(ev_mod, stage, boom)
    got = []
    with pytest.raises(RuntimeError, match="cell two failed"):
        for row in evaluate(rt, src.load("en", "test"), ["char_noise", "random_token", "lowercase"], [0.3], [0], ctx,
                            bootstrap=0, pipeline=pipeline):
            got.append(row["perturbation"])
    return got


@pytest.mark.parametrize("stage", ["finish_stage", "perturb_stage"])
@pytest.mark.parametrize("pipeline", [True, False])
def test_a_failing_cell_comes_after_the_rows_before_it(onnx_dir, data_dir, monkeypatch, stage, pipeline):
    """As in the sequential loop: the cells before a failing one are yielded, in order, then its error,
    and nothing after it (a perturbing failure used to hide the row of the cell before it)."""
    assert _rows_until_stage_two_fails(onnx_dir, data_dir, monkeypatch, stage, pipeline) == ["clean", "char_noise"]


def test_word_vectors_leave_the_evaluated_encoder_alone(onnx_dir):
    """The vectors a context swap asks for (in the perturbing thread) use an encoder of their own:
    the evaluated encoder's word cache and counts belong to the thread that infers."""
    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    before = (rt.encoder.tokenized, rt.encoder.resets)
    v = rt.word_vectors(["London", "Paris", "river"])
    assert v.shape[0] == 3 and float(abs(v).sum()) > 0
    assert (rt.encoder.tokenized, rt.encoder.resets) == before


def test_a_config_that_is_not_an_object_is_a_clear_error(onnx_dir, tmp_path):
    import shutil

    from xner.errors import XnerError

    d = tmp_path / "e"
    shutil.copytree(onnx_dir, d)
    (d / "config.json").write_text("[1]", encoding="utf-8")
    with pytest.raises(XnerError, match="config.json"):
        Runtime(d, provider="cpu", threads=1)


def test_vectors_model_gives_context_swap_the_evaluated_model(onnx_dir, data_dir, capsys):
    import json

    from xner.cli import main

    rc = main(["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en", "--train-langs", "ru",
               "--vectors", "model", "--perturbations", "context_swap,char_noise", "--bootstrap", "0", "--json", "-q"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    swap = next(r for r in rows if r["perturbation"] == "context_swap")
    assert "skipped" not in swap and swap["params"]["vectors"] == "model"
    assert "vectors" not in next(r for r in rows if r["perturbation"] == "char_noise")["params"]


def test_cpu_batches_stay_small_and_give_the_same_tags(onnx_dir, int8_dir, data_dir):
    """The CPU default token budget (1,024 padded tokens) changes the batches, not the answers, of the
    float and static int8 graphs (on a corpus large enough for the batches to differ)."""
    import numpy as np

    from xner.corpus import concat
    from xner.errors import XnerError
    from xner.export.runtime import CPU_TOKEN_BUDGET

    one = DataDir(data_dir).load("en", "test")
    corpus = concat([one] * 12)
    for model in (onnx_dir, int8_dir):
        small = Runtime(model, provider="cpu", threads=1)
        big = Runtime(model, provider="cpu", threads=1, token_budget=8192)
        assert small.token_budget == CPU_TOKEN_BUDGET == 1024 and big.token_budget == 8192
        enc = small.encoder.encode(corpus)
        shapes = [ids.shape for _, ids, _ in enc.batches(small.token_budget, small.max_batch)]
        assert shapes != [ids.shape for _, ids, _ in enc.batches(8192, big.max_batch)]
        assert max(a * b for a, b in shapes) <= 1024
        assert np.array_equal(small.predict(corpus), big.predict(corpus))
        assert small.describe()["token_budget"] == 1024
    with pytest.raises(XnerError, match="token budget"):
        Runtime(onnx_dir, provider="cpu", threads=1, token_budget=0)


def test_a_broken_graph_is_reported_before_a_broken_config(onnx_dir, tmp_path):
    """The session is built in a thread while the config is read: the graph's error keeps its place."""
    import shutil

    from xner.errors import XnerError

    d = tmp_path / "e"
    shutil.copytree(onnx_dir, d)
    graph = Runtime(onnx_dir, provider="cpu", threads=1).variant
    (d / graph).write_bytes(b"not a graph")
    (d / "config.json").write_text("[1", encoding="utf-8")
    with pytest.raises(XnerError, match="cannot load"):
        Runtime(d, provider="cpu", threads=1)
    shutil.copy(onnx_dir / graph, d / graph)
    with pytest.raises(XnerError, match="not JSON"):
        Runtime(d, provider="cpu", threads=1)
