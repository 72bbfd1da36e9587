"""Incremental evaluation: only changed sentences are inferred, and for a float32 graph every cell's
numbers equal full re-inference exactly."""

from __future__ import annotations

import numpy as np
import pytest

from xner.datadir import DataDir
from xner.export.runtime import Runtime
from xner.robustness import Context, evaluate, names


@pytest.fixture(scope="module")
def rows(onnx_dir, data_dir):
    src = DataDir(data_dir)
    corpus = src.load("en", "test")
    ctx = Context(train=src.load("ru", "train"), source=src, lang="en")
    out = {}
    for inc in (True, False):
        rt = Runtime(onnx_dir, provider="cpu", threads=1)
        ctx.runtime = rt
        perts = [n for n in names() if n not in ("context_swap", "entity_and_context")]  # those need vectors
        out[inc] = list(evaluate(rt, corpus, perts, [0.1, 0.5], [0, 1], ctx, bootstrap=50, incremental=inc))
    return out


def test_clean_model_scores_above_zero(rows):
    assert rows[True][0]["perturbation"] == "clean" and rows[True][0]["f1"] > 0.05


def test_incremental_equals_full_reinference(rows):
    inc, full = rows[True], rows[False]
    assert len(inc) == len(full) > 10
    for a, b in zip(inc, full, strict=True):
        assert a["perturbation"] == b["perturbation"] and a.get("rate") == b.get("rate")
        if "skipped" in a:
            continue
        assert a["f1"] == b["f1"] and a["precision"] == b["precision"] and a["recall"] == b["recall"], a["perturbation"]
        assert a.get("ci") == b.get("ci")


def test_only_changed_sentences_are_inferred(rows):
    inc = [r for r in rows[True][1:] if "skipped" not in r]
    full = [r for r in rows[False][1:] if "skipped" not in r]
    n = rows[True][0]["sentences_inferred"]
    assert all(r["sentences_inferred"] == n for r in full)
    assert all(r["sentences_inferred"] <= n for r in inc)
    assert sum(r["sentences_inferred"] for r in inc) < 0.7 * sum(r["sentences_inferred"] for r in full)
    # the same perturbation at the same rate and seed again: everything comes from the cache
    low = [r for r in inc if r["rate"] == 0.1]
    assert any(r["sentences_inferred"] < n / 2 for r in low)


def test_changed_sentences_follow_the_edit_mask(data_dir):
    from xner.robustness import make
    from xner.robustness.incremental import changed_sentences

    c = DataDir(data_dir).load("en", "test")
    r = make("char_noise", rate=0.2).apply(c, 0)
    changed = changed_sentences(r.corpus, c, r.edit)
    same = [s for s in range(len(c)) if r.corpus.sentence(s) == c.sentence(s)]
    assert np.array_equal(np.flatnonzero(~changed), same)
