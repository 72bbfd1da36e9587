"""Serve suite: a bert-base-sized int8 model behind ``xner serve``, 32 concurrent clients sending one
sentence per request; throughput and latency with cross-request batching against one model call per
request (the same server with ``--batch-tokens 1``), in one run, the two servers taking turns."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from .data import bench_corpus
from .harness import SuiteResult, Timing


def _load(base: str, sentences: list[list[str]], clients: int, per_client: int) -> tuple[float, list[float]]:
    """``clients`` threads, each sending ``per_client`` one-sentence requests; (wall seconds, latencies)."""
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as c:
            start.wait()
            for j in range(per_client):
                t0 = time.perf_counter()
                r = c.post("/predict", json={"words": [sentences[(k * per_client + j) % len(sentences)]]})
                dt = time.perf_counter() - t0
                r.raise_for_status()
                with lock:
                    latencies.append(dt)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies


def _q(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def run(quick: bool = False, data_dir: str | None = None) -> SuiteResult:
    from xner.export.build import export
    from xner.export.server import create_app, serve_in_thread

    from .inference import build

    size = "tiny" if quick else "bert-base"
    clients, per_client, rounds = (8, 5, 2) if quick else (32, 8, 3)
    work = Path(tempfile.mkdtemp(prefix="xner-bench-serve-"))
    mdir = build(size, work, data_dir)
    export(str(mdir), work / "onnx", "auto", level="O2", quantize="int8", force=True)
    sentences = [s[:40] for s in bench_corpus(data_dir, 2000).sentences()]
    res = SuiteResult("serve", settings={"model": f"{size} int8 (O2)", "clients": clients,
                                         "requests_per_client": per_client, "rounds": rounds,
                                         "sentence_words_mean": round(statistics.mean(map(len, sentences)), 1)})
    modes = {"batched (cross-request, 5 ms)": {"batch_wait_ms": 5.0},
             "one model call per request": {"batch_tokens": 1, "batch_wait_ms": 0.0}}
    runs: dict[str, list[tuple[float, list[float]]]] = {m: [] for m in modes}
    servers = {m: serve_in_thread(create_app(str(work / "onnx"), provider="cpu", **kw)) for m, kw in modes.items()}
    try:
        for m in modes:  # warm-up
            _load(servers[m][2], sentences, 4, 2)
        for r in range(rounds):  # the two servers take turns, so drift hits both
            for m in (list(modes) if r % 2 == 0 else list(modes)[::-1]):
                runs[m].append(_load(servers[m][2], sentences, clients, per_client))
    finally:
        for server, t, _ in servers.values():
            server.should_exit = True
            t.join(timeout=10)
    timings = {}
    n = clients * per_client
    for m, rs in runs.items():
        walls = sorted(w for w, _ in rs)
        lat = [x for _, ls in rs for x in ls]
        timings[m] = res.add(Timing(m, statistics.median(walls), walls[0], walls[-1], len(walls), float(n),
                                    "requests"), p50_ms=1000 * _q(lat, 0.5), p99_ms=1000 * _q(lat, 0.99))
    batched, single = timings.values()
    res.ratio("throughput", batched, single, required=None if quick else 2.0)
    res.notes.append("latency p50 / p99: " + "; ".join(
        f"{r['name']}: {r['p50_ms']:.1f} / {r['p99_ms']:.1f} ms" for r in res.rows))
    return res
