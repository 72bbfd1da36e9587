"""Timing harness shared by every suite: warm-up, repeats, medians and spread, machine record."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xner.io import dumps
from xner.provenance import provenance


@dataclass
class Timing:
    name: str
    median_s: float
    p5_s: float
    p95_s: float
    repeats: int
    work: float = 0.0  # units processed per call (tokens, sentences)
    unit: str = ""

    @property
    def rate(self) -> float:
        return self.work / self.median_s if self.median_s > 0 else float("inf")


def measure(name: str, fn: Callable[[], object], repeats: int = 5, warmup: int = 1, work: float = 0.0,
            unit: str = "", min_time: float = 0.0) -> Timing:
    """Median wall time of ``fn`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < repeats or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return _timing(name, times, work, unit)


def measure_interleaved(cases: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1,
                        work: float = 0.0, unit: str = "") -> dict[str, Timing]:
    """Time several engines in rounds, each engine once per round (A B C, B C A, C A B, ...).

    On a shared or throttled machine the speed drifts by 10-30% over minutes; measuring engine after
    engine puts that drift into the ratio.  Interleaving gives every engine the same conditions, so a
    ratio of medians compares the engines, not the moments they ran at.
    """
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate: no engine always goes first
            t0 = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: _timing(name, t, work, unit) for name, t in times.items()}


def _timing(name: str, times: list[float], work: float, unit: str) -> Timing:
    times = sorted(times)

    def q(p: float) -> float:
        return times[min(len(times) - 1, int(round(p * (len(times) - 1))))]

    return Timing(name, statistics.median(times), q(0.05), q(0.95), len(times), work, unit)


@dataclass
class SuiteResult:
    suite: str
    rows: list[dict] = field(default_factory=list)
    ratios: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def add(self, t: Timing, **extra) -> Timing:
        self.rows.append({**asdict(t), "rate": t.rate, **extra})
        return t

    def ratio(self, name: str, fast: Timing, baseline: Timing, required: float | None = None) -> float:
        r = baseline.median_s / fast.median_s if fast.median_s > 0 else float("inf")
        self.ratios.append({"name": name, "fast": fast.name, "baseline": baseline.name, "speedup": r,
                            "required": required, "ok": None if required is None else r >= required})
        return r


def thread_settings() -> dict:
    return {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS")}


def markdown(results: list[SuiteResult]) -> str:
    out = []
    for r in results:
        out.append(f"### {r.suite}\n")
        if r.settings:
            out.append("settings: " + ", ".join(f"{k}={v}" for k, v in r.settings.items()) + "\n")
        out.append("| case | median | p5 | p95 | runs | throughput |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for row in r.rows:
            rate = f"{row['rate']:,.0f} {row['unit']}/s" if row["work"] else ""
            out.append(f"| {row['name']} | {_fmt(row['median_s'])} | {_fmt(row['p5_s'])} | {_fmt(row['p95_s'])} "
                       f"| {row['repeats']} | {rate} |")
        if r.ratios:
            out.append("\n| speed-up | vs | ratio | required |")
            out.append("|---|---|---:|---:|")
            for x in r.ratios:
                req = f">= {x['required']}x {'ok' if x['ok'] else 'NOT MET'}" if x["required"] else ""
                out.append(f"| {x['fast']} | {x['baseline']} | {x['speedup']:.2f}x | {req} |")
        for n in r.notes:
            out.append(f"\n{n}")
        out.append("")
    return "\n".join(out)


def _fmt(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def write_results(results: list[SuiteResult], out: str | os.PathLike) -> tuple[Path, Path]:
    from xner.outputs import claim_dir, mark_dir

    out = Path(out)
    claim_dir(out)
    mark_dir(out, "xner bench")
    meta = provenance(threads=thread_settings())
    js = out / "bench.json"
    js.write_text(dumps({"provenance": meta, "suites": [asdict(r) for r in results]}, indent=2))
    md = out / "bench.md"
    head = (f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores; "
            f"threads: {meta['threads']}; versions: "
            + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + "\n\n")
    md.write_text(head + markdown(results))
    return js, md
