"""The report's "Model against model" table: paired differences of clean F1 on the same sentences."""

from __future__ import annotations

import numpy as np

from xner.experiments.models import model_contrasts
from xner.experiments.uncertainty import pack_counts


def _row(model: str, target: str, seed: int, key: str) -> dict:
    return {"key": key, "params": {"model": model, "setting": "zero-shot", "sources_spec": "pair", "sources": ["en"],
                                   "target": target, "train_seed": seed, "perturbation": "clean",
                                   "identity": {"data": {"test": f"test-{target}"}}}}


def _counts(rng, n: int, hit: float) -> np.ndarray:
    gold = rng.integers(1, 3, n)
    tp = (rng.random(n) < hit) * gold
    return np.stack([tp, gold, gold], axis=-1)[:, None, :]  # [sentences, 1 type, (tp, predicted, gold)]


def test_paired_difference_and_pooled_rows():
    rng = np.random.default_rng(0)
    rows, blobs = [], {}
    for target in ("fa", "ms"):
        for seed in (0, 1, 2):
            for model, hit in (("random", 0.3), ("pretrained", 0.6)):
                key = f"{model}-{target}-{seed}"
                rows.append(_row(model, target, seed, key))
                blobs[key] = pack_counts(_counts(rng, 400, hit))
    sec, csv = model_contrasts(rows, blobs, 300, order=["random", "pretrained"])
    assert sec is not None and sec.key == "models"
    by = {(r[0], r[2]): r for r in csv[1:]}
    d = by[("zero-shot pair", "fa")]
    f1, f1_base, diff, lo, hi = d[6], d[9], d[12], d[13], d[14]
    assert abs(diff - (f1 - f1_base)) < 1e-9 and 0.2 < diff < 0.4 and 0 < lo < diff < hi  # real, paired numbers
    pooled = by[("zero-shot pair", "2 targets")]
    assert pooled[1] == "pooled" and pooled[13] > 0
    assert model_contrasts([r for r in rows if r["params"]["model"] == "random"], blobs, 100)[0] is None


def test_one_setting_over_targets_is_one_variant():
    """A budget or ensemble student's teachers follow the target (languages, sizes): the report must not
    split one setting into a variant per target (it did, so pooled rows had one target each)."""
    from xner.experiments.identity import variant

    def params(langs, n):
        return {"identity": {"train": {"preset": "scratch"}, "train_seed": 0, "data": {"source": "d", "test": langs[0]},
                             "teachers": [{"lang": x, "seed": i, "sentences": n} for i, x in enumerate(langs)]}}

    assert variant(params(["nl", "de", "en"], 666)) == variant(params(["es", "pt", "fr"], 700))
    assert variant(params(["nl", "de", "en"], 666)) != variant(params(["nl", "de"], 666))


def _student(model, seed, key, **extra):
    p = {"model": model, "setting": "student", "sources_spec": "related:3", "sources": ["nl", "de", "en"],
         "target": "sco", "weighting": "uniform", "train_seed": seed, "perturbation": "clean",
         "identity": {"data": {"test": "test-sco"}}, **extra}
    if "teachers" in extra:
        p["identity"] = {**p["identity"], "teachers": [{"lang": x, "seed": i} for i, x in enumerate("ab")]}
    return {"key": key, "params": p}


def test_students_differing_in_one_field_are_never_paired_across():
    """Two students of one model that share a sources spec (one teacher vs two teachers per language,
    or another weighting) are two conditions: model B's condition X is paired with model A's X only
    (before, they overwrote each other under one (setting, spec, sources, target) key: one row)."""
    rng = np.random.default_rng(1)
    rows, blobs = [], {}
    conds = {"one": {}, "two": {"label": "student seeds:2", "teachers": 2}, "langid": {"weighting": "langid"}}
    hits = {("a", "one"): 0.5, ("b", "one"): 0.4, ("a", "two"): 0.5, ("b", "two"): 0.3,
            ("a", "langid"): 0.5, ("b", "langid"): 0.45}
    for (model, cond), hit in hits.items():
        for seed in (0, 1, 2):
            key = f"{model}-{cond}-{seed}"
            rows.append(_student(model, seed, key, **conds[cond]))
            blobs[key] = pack_counts(_counts(rng, 600, hit))
    _, csv = model_contrasts(rows, blobs, 200, order=["a", "b"])
    diffs = {r[0]: r[12] for r in csv[1:]}
    assert len(diffs) == 3, diffs
    assert diffs["student seeds:2"] < diffs["student related:3 (uniform)"] < diffs["student related:3 (langid)"] < 0
