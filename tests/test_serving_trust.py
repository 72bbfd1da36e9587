"""Serving that cannot be broken by its clients: the batch worker survives cancelled requests and
failing callbacks, /health tells when it is down, close() strands nobody, a large request runs
alone, the API key is checked before the body and is never empty, and bounds hold."""

from __future__ import annotations

import threading
import time

import pytest

from xner.errors import XnerError
from xner.export.batcher import Batcher, BatcherClosed


def _wait_empty(b: Batcher) -> None:
    for _ in range(500):
        if b.jobs.qsize() == 0:
            return
        time.sleep(0.01)


def test_a_cancelled_request_does_not_kill_the_worker():
    gate = threading.Event()
    b = Batcher(lambda s: (gate.wait(10), s)[1], max_wait_ms=0)
    first = b.submit([["a"]])
    _wait_empty(b)
    gone = b.submit([["b"]])
    assert gone.cancel()  # the client gave up while it waited
    gate.set()
    assert first.result(timeout=10) == [["a"]]
    assert b.submit([["c"]]).result(timeout=10) == [["c"]] and b.alive
    b.close()


def test_a_failing_metrics_callback_does_not_kill_the_worker():
    def boom(*_):
        raise RuntimeError("metrics broke")

    b = Batcher(lambda s: s, on_batch=boom, max_wait_ms=0)
    for k in range(3):
        assert b.submit([[str(k)]]).result(timeout=10) == [[str(k)]]
    assert b.alive and b.callback_errors == 3
    b.close()


def test_close_never_blocks_on_a_full_queue_and_fails_every_waiting_request():
    gate = threading.Event()
    b = Batcher(lambda s: (gate.wait(10), s)[1], max_wait_ms=0, max_queue=2)
    running = b.submit([["a"]])
    _wait_empty(b)
    waiting = [b.submit([["b"]]), b.submit([["c"]])]  # the queue is full now
    t0 = time.perf_counter()
    closer = threading.Thread(target=b.close, kwargs={"timeout": 5})
    closer.start()
    time.sleep(0.2)
    gate.set()
    closer.join(10)
    assert not closer.is_alive() and time.perf_counter() - t0 < 8
    assert running.result(timeout=1) == [["a"]]
    for f in waiting:
        with pytest.raises(BatcherClosed):
            f.result(timeout=1)
    assert not b.alive
    with pytest.raises(BatcherClosed):
        b.submit([["d"]])


def test_a_large_request_runs_alone():
    sizes, gate = [], threading.Event()

    def run(s):
        gate.wait(10)
        sizes.append(sum(len(w) for w in s))
        return s

    b = Batcher(run, max_tokens=10, max_wait_ms=200)
    first = b.submit([["x"] * 2])
    _wait_empty(b)
    small = [b.submit([["s"] * 2]) for _ in range(2)]
    big = b.submit([["w"] * 50])
    late = b.submit([["s"] * 2])
    gate.set()
    for f in (first, *small, big, late):
        f.result(timeout=10)
    b.close()
    assert 50 in sizes and max(s for s in sizes if s != 50) <= 10, sizes


@pytest.fixture(scope="module")
def client(onnx_dir):
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    app = create_app(str(onnx_dir), provider="cpu", threads=1, api_key="s3cret", max_chars=2000)
    with TestClient(app) as c:
        yield c, app


def test_the_key_is_checked_before_the_body(client):
    c, _ = client
    r = c.post("/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401
    assert c.post("/predict", json={"nonsense": 1}).status_code == 401
    assert c.post("/predict", json={"nonsense": 1}, headers={"X-API-Key": "s3cret"}).status_code == 422


def test_metadata_is_guarded_when_a_key_is_set(client):
    c, _ = client
    assert c.get("/metadata").status_code == 401
    assert c.get("/metadata", headers={"X-API-Key": "s3cret"}).json()["auth"] is True
    assert c.get("/health").status_code == 200


@pytest.mark.parametrize("words", [[[""] * 200_000], [["Anna", ""]], [["Anna", "   "]], [[]]])
def test_empty_words_and_word_floods_are_refused(client, words):
    c, _ = client
    r = c.post("/predict", json={"words": words}, headers={"X-API-Key": "s3cret"})
    assert r.status_code in (400, 413) and "error" in r.json(), r.text


def test_health_reports_a_dead_worker(onnx_dir):
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    app = create_app(str(onnx_dir), provider="cpu", threads=1)
    with TestClient(app) as c:
        assert c.get("/health").json()["status"] == "ok"
        app.app.state.batcher.close()
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "down"
        assert c.post("/predict", json={"text": "Anna Smith ."}).status_code == 503


def test_the_app_closes_its_batcher_when_the_server_stops(onnx_dir):
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    app = create_app(str(onnx_dir), provider="cpu", threads=1)
    with TestClient(app) as c:
        assert c.post("/predict", json={"text": "Anna Smith ."}).status_code == 200
    assert not app.app.state.batcher._worker.is_alive()


@pytest.mark.parametrize("key", ["", "  "])
def test_an_empty_key_is_refused(onnx_dir, key):
    from xner.export.server import create_app

    with pytest.raises(XnerError, match="empty"):
        create_app(str(onnx_dir), provider="cpu", threads=1, api_key=key)


@pytest.mark.parametrize("argv,env", [(["--api-key", ""], {}), ([], {"XNER_API_KEY": ""}), (["--max-body", "0"], {}),
                                      (["--max-body", "-5"], {})])
def test_serve_cli_refuses_empty_keys_and_bad_bounds(onnx_dir, argv, env):
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "xner", "serve", "--model", str(onnx_dir), "--port", "0", *argv],
                       capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert r.returncode == 2, r.stderr


def test_a_request_past_its_timeout_gets_504_and_the_server_stays_up(onnx_dir):
    """Trust III item 12: each request has a timeout; a stuck batch answers 504, not a hang."""
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    app = create_app(str(onnx_dir), provider="cpu", threads=1, request_timeout_s=0.3)
    with TestClient(app) as c:
        batcher = app.app.state.batcher
        fast = batcher.run
        batcher.run = lambda sents: (time.sleep(1.5), fast(sents))[1]
        t0 = time.perf_counter()
        r = c.post("/predict", json={"text": "Anna Smith ."})
        assert r.status_code == 504 and "no answer within 0.3 s" in r.json()["error"]
        assert time.perf_counter() - t0 < 1.4
        batcher.run = fast
        time.sleep(1.5)  # the stuck batch finishes; the worker lives on
        assert c.get("/health").json()["status"] == "ok"
        assert c.post("/predict", json={"text": "Anna Smith ."}).status_code == 200


def test_served_int8_answers_do_not_depend_on_concurrent_requests(int8_dir, data_dir):
    """Trust III item 11 through the server: one sentence sent alone and among 15 concurrent clients
    (cross-request batching) gets the same entities and the same scores from the default int8."""
    import json
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from xner.datadir import DataDir
    from xner.export.server import create_app, serve_in_thread

    sents = DataDir(data_dir).load("en", "test").sentences()[:64]
    app = create_app(str(int8_dir), provider="cpu", threads=1, batch_wait_ms=50)
    batcher, sizes = app.app.state.batcher, []
    record = batcher.on_batch
    batcher.on_batch = lambda n, requests, s: (sizes.append(requests), record(n, requests, s))
    server, thread, url = serve_in_thread(app)

    def ask(words):
        req = urllib.request.Request(f"{url}/predict", data=json.dumps({"words": [words]}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    try:
        alone = [ask(s) for s in sents[:16]]
        with ThreadPoolExecutor(16) as pool:  # each probe sentence among 15 others at once, twice over
            together = list(pool.map(ask, sents[:16] + sents[16:64]))[:16]
        assert max(sizes) > 1  # requests really were batched together
    finally:
        server.should_exit = True
        thread.join()
    assert any(a["entities"][0] for a in alone)  # the model finds entities
    assert alone == together
