"""Evaluating a group's cells: one exported model, its target's test set, the clean cell and every
perturbed cell, scored as :mod:`xner.robustness.evaluate` scores them."""

from __future__ import annotations

import numpy as np

from .plan import Group

__all__ = ["evaluate_group", "test_corpus"]


def test_corpus(source, target: str, cap: int):
    """A target's test set, its first ``cap`` sentences when ``cap`` is set."""
    c = source.load(target, "test")
    return c.subset(np.arange(min(cap, len(c)))) if cap else c


def evaluate_group(onnx_dir: str, data: str, repair: str, g: Group, cells: list[dict], test_cap: int,
                   bootstrap: int) -> list[tuple[dict, dict]]:
    """(params, row) for each cell; a pure function of its inputs (also run as a Ray task)."""
    from xner.corpus import concat
    from xner.datadir import open_source
    from xner.export.runtime import Runtime
    from xner.overlap import overlap
    from xner.robustness.evaluate import clean_cell, perturbation, run_cell
    from xner.robustness.perturbations import Context, parse_rate

    src = open_source(data, repair)
    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    corpus = test_corpus(src, g.target, test_cap)
    train = concat([src.load(s, "train") for s in (g.sources if g.setting != "joint" else g.sources[:-1])]) \
        if g.setting != "native" else src.load(g.target, "train")
    ov = overlap(train, corpus)
    ctx = Context(train=train, runtime=rt, source=src, lang=g.target)
    clean, clean_row = clean_cell(rt, corpus, bootstrap)
    out = []
    for p in cells:
        if p["perturbation"] == "clean":
            row = {**clean_row, "clean_f1": clean_row["f1"], "delta_f1": 0.0}
        else:
            pert = perturbation(p["perturbation"], parse_rate(p["rate"]))
            row = run_cell(rt, corpus, pert, int(p["seed"]), ctx, clean, bootstrap)
            row["params_resolved"] = pert.params
        row["overlap"] = {k: v for k, v in ov.items() if isinstance(v, float | int)}
        row["test_sentences"] = len(corpus)
        out.append((p, row))
    return out
