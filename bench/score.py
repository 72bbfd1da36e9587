"""Scorer suite: xner's numba scorer vs seqeval 1.2.2, both modes, on ~1M tokens of WikiANN tags."""

from __future__ import annotations

import warnings

import numpy as np

from xner.corpus import Corpus

from .data import bench_corpus
from .harness import SuiteResult, measure


def _corrupt(tags: np.ndarray, offsets: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = tags.copy()
    flip = rng.random(tags.size) < 0.08
    out[flip] = rng.integers(0, 7, int(flip.sum()))
    return out


def run(quick: bool = False, data_dir: str | None = None) -> SuiteResult:
    from seqeval.metrics import classification_report, f1_score
    from seqeval.scheme import IOB2

    from xner.metrics import score, score_lists

    n_tokens = 100_000 if quick else 1_000_000
    base = bench_corpus(data_dir, n_tokens)
    gold: Corpus = base
    pred = gold.with_tags(_corrupt(gold.tags, gold.offsets, 0))
    gl, pl = gold.tag_lists(), pred.tag_lists()
    res = SuiteResult("score", settings={"tokens": gold.n_tokens, "sentences": len(gold), "source": gold.source,
                                         "seqeval": "1.2.2"})
    reps = 3 if quick else 5
    work = float(gold.n_tokens)
    for mode in ("default", "strict"):
        kw = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
        ours = res.add(measure(f"xner score ({mode}, micro + per type)", lambda m=mode: score(gold, pred, m),
                               repeats=reps, work=work, unit="tokens"))

        strs = res.add(measure(f"xner score_lists ({mode}, from tag strings)",
                               lambda m=mode: score_lists(gl, pl, m),
                               repeats=max(1, reps - 2), work=work, unit="tokens"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f1 = res.add(measure(f"seqeval f1_score ({mode}, micro only)", lambda kw=kw: f1_score(gl, pl, **kw),
                                 repeats=max(1, reps - 2), warmup=0, work=work, unit="tokens"))
            rep = res.add(measure(f"seqeval classification_report ({mode}, micro + per type)",
                                  lambda kw=kw: classification_report(gl, pl, output_dict=True, **kw),
                                  repeats=1, warmup=0, work=work, unit="tokens"))
        res.ratio(f"{mode}: same output", ours, rep, required=20.0)
        res.ratio(f"{mode}: vs micro-only f1_score", ours, f1, required=20.0)
        res.ratio(f"{mode}: from strings vs micro f1_score", strs, f1)
        # the numbers must be identical, or the speed means nothing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert abs(score(gold, pred, mode).f1 - f1_score(gl, pl, **kw)) == 0.0
    res.notes.append("Identical F1 checked in the same run. seqeval works on lists of tag strings; xner on the "
                     "int8 tag arrays of a corpus; score_lists takes the same string lists as seqeval.")
    return res

