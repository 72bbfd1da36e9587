"""The server batches across clients, answers 503 when its queue is full, exposes Prometheus metrics
and can require an API key."""

from __future__ import annotations

import threading

import pytest

from xner.export.batcher import Batcher, QueueFull


def test_batcher_splits_rows_back_in_order():
    calls = []

    def run(sentences):
        calls.append(len(sentences))
        return [[w.upper() for w in s] for s in sentences]

    b = Batcher(run, max_tokens=10_000, max_wait_ms=50)
    futures = [b.submit([[f"w{k}", "x"], [f"v{k}"]]) for k in range(20)]
    got = [f.result(timeout=10) for f in futures]
    b.close()
    assert got == [[[f"W{k}", "X"], [f"V{k}"]] for k in range(20)]
    assert sum(calls) == 40 and len(calls) < 20  # requests shared model calls


def test_batcher_refuses_when_full_and_reports_failures():
    gate = threading.Event()

    def slow(sentences):
        gate.wait(10)
        if any(s == ["boom"] for s in sentences):
            raise RuntimeError("model failed")
        return sentences

    b = Batcher(slow, max_wait_ms=0, max_queue=2)
    first = b.submit([["a"]])  # taken by the worker, which waits on the gate
    for _ in range(50):
        if b.jobs.qsize() == 0:
            break
        threading.Event().wait(0.01)
    queued = [b.submit([["b"]]), b.submit([["boom"]])]
    with pytest.raises(QueueFull):
        b.submit([["c"]])
    gate.set()
    assert first.result(timeout=10) == [["a"]]
    for f in queued:  # batched together: both learn of the failure
        with pytest.raises(RuntimeError, match="model failed"):
            f.result(timeout=10)
    b.close()


def test_metrics_api_key_and_cross_client_batches(onnx_dir):
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    app = create_app(str(onnx_dir), provider="cpu", threads=1, api_key="s3cret", batch_wait_ms=100)
    with TestClient(app) as c:
        assert c.post("/predict", json={"text": "Anna Smith ."}).status_code == 401
        assert c.post("/predict", json={"text": "Anna Smith ."}, headers={"X-API-Key": "nope"}).status_code == 401
        ok = c.post("/predict", json={"text": "Anna Smith ."}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and isinstance(ok.json()["entities"], list)
        assert c.get("/health").status_code == 200  # only /predict is guarded
        results = [None] * 12
        start = threading.Barrier(12)

        def client(k):
            start.wait()
            results[k] = c.post("/predict", json={"words": [["Anna", "Smith", str(k)]]},
                                headers={"X-API-Key": "s3cret"}).status_code

        threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 12
        text = c.get("/metrics").text
    assert 'xner_requests_total{status="200"} 13.0' in text and 'xner_requests_total{status="401"} 2.0' in text
    count = float(next(ln.split()[-1] for ln in text.splitlines() if ln.startswith("xner_batch_requests_count")))
    total = float(next(ln.split()[-1] for ln in text.splitlines() if ln.startswith("xner_batch_requests_sum")))
    assert total == 13 and count < 13  # some model calls served several clients


def test_full_queue_answers_503(onnx_dir):
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    app = create_app(str(onnx_dir), provider="cpu", threads=1, max_queue=1, batch_wait_ms=0)
    batcher = app.app.state.batcher
    gate, entered = threading.Event(), threading.Event()
    real = batcher.run
    batcher.run = lambda s: (entered.set(), gate.wait(10), real(s))[2]
    with TestClient(app) as c:
        busy = batcher.submit([["Anna"]])  # the worker takes it and waits on the gate
        assert entered.wait(10)
        queued = batcher.submit([["Smith"]])  # fills the one place in the queue
        r = c.post("/predict", json={"text": "Anna Smith ."})
        assert r.status_code == 503 and "queue is full" in r.json()["error"]
        gate.set()
        assert busy.result(timeout=10) and queued.result(timeout=10)
        assert c.post("/predict", json={"text": "Anna Smith ."}).status_code == 200  # serving again
        assert 'xner_requests_total{status="503"} 1.0' in c.get("/metrics").text
