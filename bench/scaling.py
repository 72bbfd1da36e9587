"""Scaling suite: time and peak memory of perturb -> encode -> infer -> score from 1k to 100k
sentences.  Time should grow linearly; memory per sentence should stay flat."""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from .data import bench_corpus
from .harness import SuiteResult, Timing


def run(quick: bool = False, data_dir: str | None = None) -> SuiteResult:
    from xner.export.build import export
    from xner.export.runtime import Runtime
    from xner.metrics import score
    from xner.robustness.perturbations import Context, make

    from .inference import build

    work = Path(tempfile.mkdtemp(prefix="xner-bench-scale-"))
    mdir = build("tiny", work, data_dir)
    export(str(mdir), work / "onnx", "auto", quantize="int8", force=True, threads=1)  # gated; see the report
    rt = Runtime(work / "onnx", provider="cpu", threads=1)
    sizes = [1_000, 3_000] if quick else [1_000, 3_000, 10_000, 30_000, 100_000]
    base = bench_corpus(data_dir, 7 * sizes[-1])
    res = SuiteResult("scaling", settings={"sizes": sizes, "source": base.source, "threads": 1})
    pert = make("name_swap+char_noise", rate=0.3)
    times, mems = [], []
    for n in sizes:
        c = base.subset(np.arange(min(n, len(base))))
        c.lang = "en"
        rt.encoder = type(rt.encoder)(rt.fast_tokenizer, rt.encoder.max_length, family=rt.family)  # a cold cache each size
        tracemalloc.start()
        t0 = time.perf_counter()
        r = pert.apply(c, 0, Context(lang="en"))
        pred = rt.predict(r.corpus)
        s = score(r.corpus, pred)
        dt = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        times.append(dt)
        mems.append(peak)
        res.add(Timing(f"{len(c)} sentences: perturb + encode + infer + score", dt, dt, dt, 1, float(len(c)),
                       "sentences"), peak_mb=peak / 2**20, bytes_per_sentence=peak / len(c), f1=s.f1)
    per_sent = [t / n for t, n in zip(times, sizes, strict=True)]
    res.notes.append("seconds per 1k sentences: " + ", ".join(f"{1000 * x:.3f}" for x in per_sent)
                     + " (flat = linear time)")
    res.notes.append("peak traced memory per sentence (KiB): " + ", ".join(f"{m / n / 1024:.1f}" for m, n in
                                                                          zip(mems, sizes, strict=True)))
    return res
