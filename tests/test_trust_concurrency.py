"""3. One encoder shared by threads gives exactly the sequential answers; the server's cache is bounded."""

from __future__ import annotations

import random
import threading

import pytest

from xner.export.pipeline import NerPipeline
from xner.export.runtime import Runtime

ALPHABETS = ["abcdefghijklmnopqrstuvwxyz", "абвгдежзийклмнопрст", "ابتثجحخدذرزسشصضطظعغفقك", "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह"]


def _random_sentences(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        alpha = rng.choice(ALPHABETS)
        out.append(["".join(rng.choice(alpha) for _ in range(rng.randint(2, 12))) for _ in range(rng.randint(3, 15))])
    return out


def test_sixteen_threads_share_one_pipeline(onnx_dir):
    inputs = [_random_sentences(1000 + k, 200) for k in range(16)]
    reference = [NerPipeline(Runtime(onnx_dir, provider="cpu", threads=1)).predict_words(x) for x in inputs]
    shared = NerPipeline(Runtime(onnx_dir, provider="cpu", threads=1))
    results: list = [None] * 16
    start = threading.Barrier(16)

    def work(k):
        start.wait()
        results[k] = shared.predict_words(inputs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wrong = [k for k in range(16) if results[k] != reference[k]]
    assert not wrong, f"{len(wrong)} of 16 threads got answers that differ from the sequential run"
    # and the encoder's inputs are exactly a fresh encoder's
    from xner.corpus import Corpus

    c = Corpus.from_lists(inputs[3], [["O"] * len(s) for s in inputs[3]])
    fresh = Runtime(onnx_dir, provider="cpu", threads=1).encoder.encode(c)
    again = shared.runtime.encoder.encode(c)
    assert (fresh.ids == again.ids).all() and (fresh.row_offsets == again.row_offsets).all()


def _serve(app):
    from xner.export.server import serve_in_thread

    return serve_in_thread(app)


def test_concurrent_http_clients_get_sequential_answers(onnx_dir):
    import httpx

    from xner.export.server import create_app

    bodies = [{"words": _random_sentences(5000 + k, 20)} for k in range(24)]
    server, t, base = _serve(create_app(str(onnx_dir), provider="cpu", threads=1))
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            expected = [c.post("/predict", json=b).json() for b in bodies]
        # a new server (empty cache), 8 clients at once
        server.should_exit = True
        t.join(timeout=10)
        server, t, base = _serve(create_app(str(onnx_dir), provider="cpu", threads=1))
        got: list = [None] * len(bodies)

        def client(ks):
            with httpx.Client(base_url=base, timeout=60) as c:
                for k in ks:
                    got[k] = c.post("/predict", json=bodies[k]).json()

        ths = [threading.Thread(target=client, args=(range(i, len(bodies), 8),)) for i in range(8)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        assert got == expected
        with httpx.Client(base_url=base, timeout=60) as c:
            assert c.get("/health").json()["requests"] == len(bodies)
    finally:
        server.should_exit = True
        t.join(timeout=10)


def test_server_word_cache_stays_bounded(onnx_dir):
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    app = create_app(str(onnx_dir), provider="cpu", threads=1, cache_words=500)
    encoder = app.app.state.pipeline.runtime.encoder
    reference = NerPipeline(Runtime(onnx_dir, provider="cpu", threads=1))
    sizes = []
    with TestClient(app) as c:
        for k in range(60):  # 60 requests of about 100 fresh words each: 6,000 distinct words
            words = _random_sentences(9000 + k, 10)
            r = c.post("/predict", json={"words": words})
            assert r.status_code == 200
            assert r.json()["entities"] == [[e.to_json() for e in ents] for ents in reference.words(words)]
            sizes.append((len(encoder), encoder.cache_pieces))
    assert max(n for n, _ in sizes) <= 500 + 150 and encoder.resets >= 5
    assert max(p for _, p in sizes) <= 20 * 650


def test_metadata_hides_local_paths_unless_asked(onnx_dir):
    from fastapi.testclient import TestClient

    from xner.export.server import create_app

    with TestClient(create_app(str(onnx_dir), provider="cpu", threads=1)) as c:
        text = c.get("/metadata").text
        meta = c.get("/metadata").json()
    assert str(onnx_dir) not in text and "provenance" not in text and "command" not in text
    assert "/" not in text.replace("</s>", "")  # no path of any kind
    assert meta["labels"][0] == "O" and meta["export"]["passed"] is True
    with TestClient(create_app(str(onnx_dir), provider="cpu", threads=1, full_metadata=True)) as c:
        assert str(onnx_dir) in c.get("/metadata").text


@pytest.mark.parametrize("bad", [0, -1])
def test_cache_words_must_be_positive(onnx_dir, bad):
    from xner.errors import XnerError

    with pytest.raises(XnerError):
        Runtime(onnx_dir, provider="cpu", cache_words=bad)
