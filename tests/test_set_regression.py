"""The set-level regression of the source-diversity experiment (experiments/setregression.py) and its
report section (experiments/report_sets.py): identification, which sets enter, floors, Holm's family,
units; and the plan's fallback note, the pool's languages and the langid weights' spread."""

from __future__ import annotations

import numpy as np
import pytest

from xner.experiments import setregression as sr
from xner.experiments.analysis import Analysis, Cond
from xner.experiments.sourcesets import POOLS, draw_sets, set_properties

EP = {"perturbations": ["char_noise"], "rate": 0.3, "measure": "relative_drop"}


class FakeAnalysis:
    """What set_records reads of an Analysis: conditions, the pair baseline, the floor."""

    floor_f1 = 0.2
    floor = Analysis.floor

    def __init__(self):
        self.conds, self.values, self.pairs = [], {}, {}

    def add(self, model, target, label, sources, per_seed, clean_f1=0.5, weighting="uniform", props=None,
            source_set=True):
        c = Cond(model, "student", "", tuple(sources), target, weighting, "", label)
        params = {"source_set": {"index": len(self.conds)}} if source_set else {}
        c.clean = {s: {"f1": clean_f1, "params": params, **({"set_properties": props} if props else {})}
                   for s in per_seed}
        self.conds.append(c)
        self.values[id(c)] = per_seed
        if not source_set:
            self.pairs[(model, target)] = c
        return c

    def baseline(self, c, which):
        return self.pairs.get((c.model, c.target))


@pytest.fixture
def units(monkeypatch):
    monkeypatch.setattr(sr, "endpoint_units", lambda an, c, ep: {s: (v, None) for s, v in an.values[id(c)].items()})


def _shipped(target: str, slope_k: float = 0.03, seed: int = 0, noise: float = 0.004) -> list[dict]:
    """Records of every K=2 and 8 K=3 sets of the shipped pool for a target, with their real properties
    and a planted effect of K (none of diversity)."""
    rng = np.random.default_rng(seed)
    recs = []
    for k in (2, 3):
        for s in draw_sets(target, k, 8, POOLS["offline-hrl"], True, 2027):
            p = set_properties(s, target)
            recs.append({"target": target, **p, "clean_f1": rng.uniform(0.3, 0.6),
                         "y": slope_k * k + rng.normal(0, noise), "y_seeds": [0.0], "seeds": 1})
    return recs


def test_an_aliased_regressor_is_left_out_by_name_and_k_is_recovered():
    """fa: every set holds ar (Arabic script) and the rest are Latin, so the script share is 1/K; ms:
    the genetic distance to Malay is (K-1)/K (id is at 0, the rest at 1)."""
    for target, aliased in (("fa", "script_share"), ("fa-latn", "script_share"), ("ms", "distance")):
        fit = sr._fit_block(_shipped(target), False, 300, 300, 0)
        why = fit["dropped"][aliased]
        assert why.startswith("aliased") and "K" in why and target in why, (target, fit["dropped"])
        assert aliased not in fit["slopes"]
        k = fit["slopes"]["k"]
        assert k["lo"] < 0.03 < k["hi"] and k["p"] < 0.05  # the planted effect of K, found
        assert k["df"] == fit["sets"] - fit["rank"] and fit["rank"] == 1 + len(sr.REGRESSORS) - 1
        d = fit["slopes"]["diversity"]
        assert d["value"] is not None and d["lo"] < 0 < d["hi"]  # none of diversity, none claimed


def test_a_primary_that_is_not_identified_keeps_its_row_not_computed():
    rng = np.random.default_rng(1)
    recs = [{"target": "af", "k": k, "diversity": 0.3 + 0.05 * k, "distance": rng.uniform(0.4, 0.9),
             "script_share": rng.uniform(0.3, 1), "clean_f1": rng.uniform(0.3, 0.6), "y": rng.normal(0, 0.01)}
            for k in (2, 3) * 8]
    fit = sr._fit_block(recs, False, 50, 50, 0)
    assert fit["dropped"]["diversity"].startswith("not identified") and "K" in fit["dropped"]["diversity"]
    d = fit["slopes"]["diversity"]
    assert d["value"] is None and d["p"] is None and d["not_computed"]  # no p-value without its fit
    assert fit["slopes"]["k"]["p"] is not None


def test_langid_students_stay_out_of_the_regression(units):
    an = FakeAnalysis()
    an.add("m", "af", "pair K=1", ["nl"], {0: 0.0}, source_set=False)
    for i, s in enumerate(draw_sets("af", 3, 4, POOLS["offline-hrl"], True, 1)):
        an.add("m", "af", f"random K=3 #{i + 1}", s, {0: 0.01 * i})
    for i, s in enumerate(draw_sets("af", 3, 2, POOLS["offline-hrl"], True, 1)):
        an.add("m", "af", f"random K=3 langid #{i + 1}", s, {0: 0.5}, weighting="langid")
    labels = [r["label"] for r in sr.set_records(an, {"endpoint": EP})]
    assert labels == [f"random K=3 #{i}" for i in (1, 2, 3, 4)]


def _two_targets(an: FakeAnalysis, model: str = "m", floor_set: bool = False) -> None:
    """af and ms with stored properties whose diversity is constant within a target; y = 0.03 per source."""
    rng = np.random.default_rng(2)
    for t, pair, div in (("af", "nl", 0.4), ("ms", "id", 0.5)):
        an.add(model, t, "pair K=1", [pair], {0: 0.0}, source_set=False)
        for i in range(10):
            k = 2 + i % 2
            props = {"k": k, "diversity": div, "distance": rng.uniform(0.4, 0.9), "script_share": 1.0,
                     "genetic_diversity": rng.uniform(0.5, 1.0)}
            f1 = 0.1 if floor_set and t == "af" and i == 0 else 0.5
            an.add(model, t, f"random #{i}", [pair, "x"], {0: 0.03 * k + rng.normal(0, 0.001)}, clean_f1=f1,
                   props=props)


def test_holm_counts_a_primary_that_cannot_be_computed(units):
    an = FakeAnalysis()
    _two_targets(an)
    reg = sr.regression(an, {"endpoint": EP}, 200, 200)
    pooled = reg["models"]["m"]["pooled"]
    d, k = pooled["slopes"]["diversity"], pooled["slopes"]["k"]
    assert d["value"] is None and "does not vary" in d["not_computed"] and d["family"] == "primary (Holm)"
    assert k["p_holm"] == pytest.approx(min(1.0, 2 * k["p"])) and k["family_size"] == 2
    # one target: its own K and diversity slopes are the primaries
    one = FakeAnalysis()
    one.add("m", "af", "pair K=1", ["nl"], {0: 0.0}, source_set=False)
    rng = np.random.default_rng(5)
    for i, s in enumerate(draw_sets("af", 2, 8, POOLS["offline-hrl"], True, 1)
                          + draw_sets("af", 3, 8, POOLS["offline-hrl"], True, 1)):
        one.add("m", "af", f"random #{i}", s, {0: 0.03 * len(s) + rng.normal(0, 0.003)},
                clean_f1=rng.uniform(0.3, 0.6))
    block = sr.regression(one, {"endpoint": EP}, 100, 100)["models"]["m"]["per_target"]["af"]
    assert block["primary"] and block["slopes"]["k"].get("p_holm") is not None
    assert block["slopes"]["distance"].get("q") is not None and "p_holm" not in block["slopes"]["distance"]


def test_a_set_missing_a_value_is_dropped_not_the_regressor():
    recs = _shipped("af")
    recs[0]["distance"] = None
    fit = sr._fit_block(recs, False, 50, 50, 0)
    assert "distance" not in fit["dropped"] and "distance" in fit["slopes"]
    assert fit["missing_value_sets"] == 1 and fit["sets"] == len(recs) - 1


def test_floored_sets_are_flagged_and_left_out_of_the_fit(units):
    an = FakeAnalysis()
    _two_targets(an, floor_set=True)
    reg = sr.regression(an, {"endpoint": EP}, 50, 50)
    recs = reg["records"]
    assert sum(bool(r["floor"]) for r in recs) == 1 and "clean F1 10.0 < 20" in next(r["floor"] for r in recs
                                                                                    if r["floor"])
    per = reg["models"]["m"]["per_target"]
    assert per["af"]["floored"] == 1 and per["af"]["sets"] == 9 and per["ms"]["floored"] == 0
    assert reg["models"]["m"]["pooled"]["floored"] == 1
    # a pair student at the floor takes every set of its target out
    an2 = FakeAnalysis()
    _two_targets(an2)
    an2.pairs[("m", "ms")].clean[0]["f1"] = 0.05
    per2 = sr.regression(an2, {"endpoint": EP}, 50, 50)["models"]["m"]["per_target"]
    assert per2["ms"]["floored"] == 10 and per2["ms"]["slopes"]["k"]["value"] is None


def test_diversity_slope_is_per_tenth_with_a_genetic_sensitivity_row():
    rng = np.random.default_rng(3)
    recs = []
    for t in ("af", "ms", "fa"):
        for _ in range(12):
            div = rng.uniform(0.3, 0.7)
            recs.append({"target": t, "k": int(rng.integers(2, 4)), "diversity": div, "distance": rng.uniform(0.4, 0.9),
                         "script_share": 1.0, "clean_f1": rng.uniform(0.3, 0.6), "genetic_diversity": rng.uniform(0.5, 1),
                         "y": 0.2 * div + rng.normal(0, 0.005)})
    b = sr._block(recs, True, 200, 200, 0)
    d = b["slopes"]["diversity"]
    assert d["per"] == 0.1 and d["lo"] < 0.02 < d["hi"]  # 0.2 per unit = 0.02 per 0.1 of the index
    g = b["slopes"]["genetic_diversity"]
    assert g["sensitivity"] == "in place of diversity" and g["value"] is not None


def test_report_prints_slopes_and_mde_in_points(units, tmp_path):
    from xner.experiments.report_sets import sets_section
    from xner.experiments.reportdoc import Image, Para, Table, num

    an = FakeAnalysis()
    _two_targets(an)
    for c in an.conds:  # a second training seed: replicates inside each set
        v = an.values[id(c)][0]
        an.values[id(c)] = {0: v, 1: v + (0.004 if c.title != "pair K=1" else 0.0)}
        c.clean[1] = c.clean[0]
    sec = sets_section(an, {"endpoint": EP}, tmp_path, 200)
    table = next(b for b in sec.blocks if isinstance(b, Table))
    row = next(r for r in table.rows if r[1].text.startswith("pooled") and r[4].text.startswith("K (sources)"))
    assert row[5].text == "+3.0" and row[5].ci.startswith("[+")  # +0.03 per source, in points
    reg = sr.regression(an, {"endpoint": EP}, 200, 200)
    mde = reg["models"]["m"]["pooled"]["slopes"]["k"]["mde"]
    assert row[8].text == num(mde) and float(row[8].text) > 0.05  # points, not a fraction
    assert row[3].text == "2 (SD 0.3)"  # two seeds per set, averaged; their spread in points
    text = " ".join(b.text for b in sec.blocks if isinstance(b, Para))
    assert "conditional on these teachers" in text and "averaged over the seeds" in text and "per 0.1" in text
    img = next(b for b in sec.blocks if isinstance(b, Image))
    assert "marginal fit" in img.alt and "not the adjusted slope" in img.alt
    assert (tmp_path / "slopes.csv").exists() and (tmp_path / "sets_vs_diversity.png").exists()
    # a primary that is not computed keeps a row in the table
    assert any(r[1].text.startswith("pooled") and r[4].text.startswith("diversity index (per 0.1) (primary)")
               and r[5].text.startswith("not computed") for r in table.rows)


def test_unknown_pool_languages_are_refused():
    from xner.errors import XnerError
    from xner.experiments import load_config

    cfg = {"name": "x", "targets": ["fa"], "perturbations": ["char_noise"], "models": {"tiny": {"init": {
        "arch": "bert", "hidden": 32, "layers": 1, "heads": 2, "max_length": 64, "vocab_size": 400}}},
        "settings": [{"kind": "student", "sources": "pair"},
                     {"kind": "student", "label": "r", "sources": "random:2", "sets": 2,
                      "pool": ["en", "xx", "qq"]}]}
    with pytest.raises(XnerError, match="unknown language code.*'xx', 'qq'"):
        load_config(cfg)


def test_plan_says_when_a_fallback_stands_in_for_a_hub_model(data_dir, monkeypatch):
    from xner.experiments.planview import render_plan, sweep_plan

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    init = {"arch": "bert", "hidden": 32, "layers": 1, "heads": 2, "max_length": 64, "vocab_size": 400}
    cfg = {"name": "fb", "targets": ["fa"], "perturbations": ["char_noise"], "test_max_sentences": 20,
           "train_max_sentences": 60, "models": {"mb": {"hub": "bert-base-multilingual-cased",
                                                        "fallback": {"init": init}}},
           "train": {"preset": "scratch", "max_steps": 3}, "distill": {"preset": "student-scratch", "max_steps": 3},
           "settings": [{"kind": "student", "sources": "pair"}]}
    p = sweep_plan(cfg, str(data_dir))
    assert p["fallback"] is True and p["resolved_models"]["mb"] == {
        "fallback": True, "substitutes": "bert-base-multilingual-cased", "kind": "init"}
    text = render_plan(p)
    assert "NOTE: the hub is not reachable: mb's offline fallback (for bert-base-multilingual-cased)" in text
    assert "for the fallback model(s), not the hub model(s)" in text


def test_langid_weights_keep_their_spread_over_sentences():
    from xner.training.distill import mix_weights

    p = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0.7, 0.3]])
    w, info = mix_weights("langid", 2, 4, p)
    assert np.allclose(w, p.mean(0)) and info["applied_sd"] == [0.0, 0.0]  # set level: one weight per teacher
    assert info["weights_sd"] == pytest.approx(p.std(0).round(4).tolist()) and info["weights_sd"][0] > 0.2
    w2, info2 = mix_weights("langid-sentence", 2, 4, p)
    assert np.allclose(w2, p) and info2["weights_sd"] == info2["applied_sd"]
    _, u = mix_weights("uniform", 3, 4)
    assert u["weights_mean"] == [0.3333] * 3 and u["weights_sd"] == [0.0] * 3
