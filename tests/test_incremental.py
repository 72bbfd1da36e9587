"""Incremental evaluation: only changed sentences are inferred, and for a float32 graph every cell's
numbers equal full re-inference exactly."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import WIKIANN, needs_shared

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


def _colliding(corpus, n: int = 40):
    """``corpus`` plus pairs of sentences with the same pieces but other word boundaries: a word with a
    full stop glued on (``Kiev.``, one word) and the same with the stop as its own word (``Kiev`` ``.``)."""
    from xner.corpus import Corpus, concat

    sents, tags = [], []
    for s in range(min(n, len(corpus))):
        w, t = corpus.sentence(s)
        sents += [[*w[:-1], w[-1] + "."], [*w, "."]]
        tags += [list(t), [*t, "O"]]
    extra = Corpus.from_lists(sents, tags, labels=corpus.labels, lang=corpus.lang)
    return concat([corpus, extra], lang=corpus.lang)


def _rows(rt, corpus, ctx, rates, seeds, incremental):
    return list(evaluate(rt, corpus, names(), rates, seeds, ctx, bootstrap=20, incremental=incremental))


def _assert_same(inc, full):
    assert len(inc) == len(full) == 1 + len(names()) * (len(inc) - 1) // len(names())
    for a, b in zip(inc, full, strict=True):
        assert "skipped" not in a, a
        assert (a["perturbation"], a["f1"], a["precision"], a["recall"]) == \
               (b["perturbation"], b["f1"], b["precision"], b["recall"]), a["perturbation"]


def test_word_boundaries_are_part_of_the_cache_key(onnx_dir, data_dir):
    """``Kiev.`` and ``Kiev`` ``.`` tokenize to the same ids: keyed by ids alone they shared one
    cached answer (tags broadcast or misaligned, or a ValueError)."""
    from xner.robustness.incremental import PredictionCache

    c = _colliding(DataDir(data_dir).load("en", "test"), 10)
    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    keys = PredictionCache(rt)._keys(c.subset(np.arange(len(c) - 20, len(c))))
    enc = rt.encoder.encode(c.subset([len(c) - 2, len(c) - 1]))
    assert np.array_equal(enc.row(0), enc.row(1))  # the collision is real: same pieces
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_colliding_sentences_every_perturbation_synthetic(onnx_dir, int8_dir, data_dir, trained, variant):
    from xner.robustness.vectors import encoder_vectors

    src = DataDir(data_dir)
    corpus = _colliding(src.load("en", "test"))
    model = onnx_dir if variant == "fp32" else int8_dir
    out = {}
    for inc in (True, False):
        rt = Runtime(model, provider="cpu", threads=1)
        ctx = Context(train=src.load("ru", "train"), source=src, lang="en", runtime=rt,
                      vectors=encoder_vectors(trained["bert"]))
        out[inc] = _rows(rt, corpus, ctx, [0.3], [0, 1], inc)
    assert out[True][0]["f1"] > 0.05
    _assert_same(out[True], out[False])
    assert sum(r["sentences_inferred"] for r in out[True]) < sum(r["sentences_inferred"] for r in out[False])


@needs_shared
@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_colliding_sentences_every_perturbation_wikiann(onnx_dir, int8_dir, trained, variant):
    """Real WikiANN (en test, de train for the study's pools), collisions included, every registered
    perturbation: incremental equals full re-inference exactly for float32 and for the default int8
    (static, so a sentence's answer does not depend on the batch it is inferred in)."""
    from xner.robustness.vectors import encoder_vectors

    src = DataDir(WIKIANN)
    corpus = _colliding(src.load("en", "test").subset(np.arange(300)))
    model = onnx_dir if variant == "fp32" else int8_dir
    out = {}
    for inc in (True, False):
        rt = Runtime(model, provider="cpu", threads=1)
        ctx = Context(train=src.load("de", "train").subset(np.arange(2000)), source=src, lang="en", runtime=rt,
                      vectors=encoder_vectors(trained["bert"]))
        out[inc] = _rows(rt, corpus, ctx, [0.3], [0], inc)
    _assert_same(out[True], out[False])


def test_run_cell_refuses_a_cache_of_another_runtime_or_test_set(onnx_dir, data_dir):
    from xner.robustness import make
    from xner.robustness.evaluate import clean_cell, run_cell
    from xner.robustness.incremental import PredictionCache

    src = DataDir(data_dir)
    a, b = src.load("en", "test"), src.load("ru", "test")
    rt, other = Runtime(onnx_dir, provider="cpu", threads=1), Runtime(onnx_dir, provider="cpu", threads=1)
    cache = PredictionCache(rt)
    counts, _ = clean_cell(rt, a, 0, cache)
    pert, ctx = make("char_noise", rate=0.3), Context(lang="en")
    with pytest.raises(ValueError, match="another test set"):
        run_cell(rt, b, pert, 0, ctx, counts, 0, cache)
    with pytest.raises(ValueError, match="another runtime"):
        run_cell(other, a, pert, 0, ctx, counts, 0, cache)
    assert run_cell(rt, a, pert, 0, ctx, counts, 0, cache)["f1"] >= 0
