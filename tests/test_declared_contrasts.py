"""Declared contrasts, computed directly and adjusted for multiplicity, beside clean F1, relative drop,
MDE and floor flags; report.md, contrasts.csv and `xner results --table contrasts` say the same."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from xner.cli import main
from xner.errors import XnerError
from xner.experiments import Store, load_config, pack_counts
from xner.experiments.analysis import Analysis
from xner.experiments.tables import compute

M = 300
CONFIG = {"name": "declared", "targets": ["af", "ast", "ms"],
          "endpoint": {"perturbations": ["char_noise", "name_swap"], "rate": 0.3, "measure": "relative_drop"},
          "contrasts": [{"a": "mixed K=2", "b": "related K=2", "primary": True},
                        {"a": "related K=2", "b": "pair K=1", "primary": True},
                        {"a": "mixed K=2", "b": "pair K=1", "primary": False}]}
#: how many more entities each condition loses under perturbation (out of ~600 gold entities)
LOSS = {"pair K=1": 60, "related K=2": 55, "mixed K=2": 20}
SOURCES = {"pair K=1": ["nl"], "related K=2": ["nl", "de"], "mixed K=2": ["nl", "id"]}


def _store(path, floor_target: str | None = None, seeds=(0, 1, 2), targets=None, steps: dict | None = None,
           skip: tuple | None = None, achieved: float = 0.3, collapse: tuple | None = None,
           config: dict | None = None) -> None:
    """A store of LOSS's conditions; ``steps`` {label: training steps} (another value: another run's
    settings), ``skip`` (label, perturbation) cells left out, ``achieved`` edit rate, ``collapse``
    (label, seed) whose clean F1 is near 0."""
    rng = np.random.default_rng(0)
    with Store(path) as st:
        run = st.log_run(config or CONFIG, {})
        for target in targets or CONFIG["targets"]:
            gold = rng.integers(1, 3, size=(M, 1))
            for label, loss in LOSS.items():
                for seed in seeds:
                    ident = {"data": {"test": target * 20, "split": {}}, "train_seed": seed, "distill": {"x": 1},
                             "train": {"steps": (steps or {}).get(label, 5)}}
                    base = {"model": "tiny", "model_id": "init", "substituted_for": None, "setting": "student",
                            "sources_spec": label.split()[0] + ":" + label[-1], "sources": SOURCES[label],
                            "target": target, "weighting": "uniform", "label": f"student {label}", "train_seed": seed,
                            "identity": ident}
                    hit = 0.05 if target == floor_target else 0.8
                    if collapse == (label, seed):
                        hit = 0.004
                    tp = (rng.random((M, 1)) < hit) * gold
                    clean = np.stack([tp, gold, gold], axis=-1)
                    cp = {**base, "perturbation": "clean", "rate": None, "seed": None, "perturbation_params": None}
                    f0 = 2 * tp.sum() / (2 * gold.sum())
                    st.put(cp, {"f1": f0}, pack_counts(clean), run=run)
                    for pert in ("char_noise", "name_swap"):
                        if skip == (label, pert):
                            continue
                        lost = np.zeros_like(tp)
                        hits = np.flatnonzero(tp[:, 0] > 0)
                        n = min(int(rng.integers(loss - 10, loss + 10)) if hit > 0.5 else 1, hits.size)
                        lost[rng.choice(hits, n, replace=False), 0] = 1
                        pt = tp - lost
                        f1 = 2 * pt.sum() / (2 * gold.sum())
                        st.put({**base, "perturbation": pert, "rate": 0.3, "seed": 0,
                                "perturbation_params": {"rate": 0.3}},
                               {"f1": f1, "delta_f1": f1 - f0, "edit_rate": {"unit": "token", "requested": 0.3,
                                                                              "achieved": achieved}},
                               pack_counts(np.stack([pt, gold, gold], axis=-1)), run=run)


def _tables(store):
    with Store(store) as st:
        rows, blobs, runs = st.rows(), st.counts(), st.runs()
    an = Analysis(rows, blobs, 500)
    return an, compute(an, runs[-1]["config"])


def test_declared_contrast_is_the_paired_difference_with_holm_and_bh(tmp_path):
    store = tmp_path / "s.sqlite"
    _store(store)
    an, t = _tables(store)
    dec = {(r["a"], r["b"], r["where"]): r for r in t["declared"]}
    prim = dec[("mixed K=2", "related K=2", "endpoint")]
    assert prim["primary"] and prim["targets"] == ["af", "ast", "ms"] and prim["measure"] == "relative_drop"
    # computed directly: per target and seed, the mean over the endpoint's perturbations of the relative drop
    by = {}
    for c in an.conds:
        for s, r in c.clean.items():
            rel = np.mean([c.pert[(p, "0.3")][s][0]["delta_f1"] / r["f1"] for p in ("char_noise", "name_swap")])
            by[(c.target, c.label, s)] = rel
    expect = {t_: np.mean([by[(t_, "student mixed K=2", s)] - by[(t_, "student related K=2", s)] for s in (0, 1, 2)])
              for t_ in ("af", "ast", "ms")}
    for target, pe in prim["per_target"].items():
        assert pe["value"] == pytest.approx(expect[target]) and len(pe["per_seed"]) == 3
    e = prim["estimate"]
    assert e["lo"] > 0 and e["p_holm"] is not None and e["p_holm"] >= e["p"] and e["mde"] > 0
    assert e["extra"]["signs"] == {"positive": 3, "negative": 0, "zero": 0} and "i2" in e["extra"]
    assert prim["verdict"] == "a keeps more F1"
    # Holm over the two primary contrasts at the endpoint; everything else has a BH q-value
    fam = [r for r in t["declared"] if r["primary"]]
    assert len(fam) == 2 and all(r["estimate"]["family_size"] == 2 for r in fam)
    sec = [r for r in t["declared"] if not r["primary"]]
    assert sec and all(r["estimate"].get("q") is not None and r["estimate"].get("p_holm") is None for r in sec)
    weak = dec[("related K=2", "pair K=1", "endpoint")]
    assert weak["verdict"].startswith("no evidence") or weak["verdict"].startswith("a keeps")


def test_floor_rows_carry_no_verdict(tmp_path):
    store = tmp_path / "s.sqlite"
    _store(store, floor_target="ms")
    _, t = _tables(store)
    prim = next(r for r in t["declared"] if r["where"] == "endpoint" and r["a"] == "mixed K=2" and r["b"] == "related K=2")
    assert "ms" in prim["floor"] and "clean F1" in prim["floor"]["ms"] and prim["verdict"] == "floor: no verdict"
    row = next(r for r in t["pooled"] if r["setting"][1] == "student mixed K=2")
    assert "ms" in row["delta"]["floor"]


def test_report_csv_and_results_carry_the_same_numbers(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    _store(store)
    out = tmp_path / "report"
    assert main(["report", str(store), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    rq = md.split("## Research question")[1].split("## Declared contrasts")[0]
    for col in ("clean F1", "ΔF1 [95% CI]", "relative drop [95% CI]", "I² · signs", "floor"):
        assert col in rq
    dec = md.split("## Declared contrasts")[1].split("## ΔF1 per perturbation")[0]
    for col in ("a − b [95% CI]", "adjusted p", "MDE", "τ² · I² · signs", "verdict", "Holm", "mixed K=2 − related K=2 (primary)"):
        assert col in dec
    rows = list(csv.DictReader(open(out / "contrasts.csv", encoding="utf-8")))
    capsys.readouterr()
    assert main(["results", str(store), "--table", "contrasts", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert len(js) == len(rows) > 0
    for a, b in zip(rows, js, strict=True):
        for k in ("value", "lo", "hi", "p", "p_holm", "q", "mde"):
            if b.get(k) is None:
                assert a[k] == ""
            else:
                assert float(a[k]) == pytest.approx(b[k], rel=1e-9), k
    pert = list(csv.DictReader(open(out / "perturbations.csv", encoding="utf-8")))
    assert main(["results", str(store), "--table", "perturbations", "--json"]) == 0
    pj = json.loads(capsys.readouterr().out)
    assert [float(r["delta_f1_lo"]) for r in pert] == pytest.approx([r["delta_f1_lo"] for r in pj])
    assert all(r["delta_f1_per_seed"].count(" ") == 2 for r in pert)  # three training seeds shown


def test_config_declarations_are_checked():
    base = load_config("diversity-legacy")
    assert any(c["primary"] for c in base["contrasts"]) and base["endpoint"]["rate"] == 0.3
    for bad in ({"contrasts": [{"a": "nope", "b": "pair K=1"}]},
                {"contrasts": [{"a": "pair K=1", "b": "pair K=1"}]},
                {"contrasts": [{"a": "mixed K=2", "b": "pair K=1", "primary": "yes"}]},
                {"endpoint": {"measure": "f2"}},
                {"endpoint": {}, "contrasts": [{"a": "mixed K=2", "b": "pair K=1", "primary": True}]}):
        cfg = {k: v for k, v in base.items() if k not in ("contrasts", "endpoint")}
        with pytest.raises(XnerError):
            load_config({**cfg, **bad})


def test_plan_power_projects_mde_from_a_pilot(tmp_path, capsys):
    store = tmp_path / "pilot.sqlite"
    _store(store)
    cfg = tmp_path / "cfg.toml"
    base = load_config("diversity-legacy")
    lines = ['name = "pw"', 'targets = ["af", "ast", "ms", "fa"]', "test_max_sentences = 600",
             '[models.tiny]', 'init = { arch = "bert", hidden = 32, layers = 1, heads = 2 }',
             "[endpoint]", 'perturbations = ["char_noise", "name_swap"]', "rate = 0.3", 'measure = "relative_drop"']
    for s in base["settings"]:
        if s.get("label") in LOSS:
            lines += ["[[settings]]", f'kind = "{s["kind"]}"', f'label = "{s["label"]}"', f'sources = "{s["sources"]}"']
    for c in CONFIG["contrasts"]:
        lines += ["[[contrasts]]", f'a = "{c["a"]}"', f'b = "{c["b"]}"', f'primary = {str(c["primary"]).lower()}']
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["sweep", str(cfg), "--plan", "--power", str(store), "--json"]) == 0
    p = json.loads(capsys.readouterr().out)
    assert p["targets"] == 4 and p["test_sentences"] == 600 and p["pilot_test_sentences"] == M
    prim = [r for r in p["contrasts"] if r["primary"]]
    assert len(prim) == 2 and all(r["alpha"] == pytest.approx(0.025) for r in prim)
    for r in p["contrasts"]:
        m = [r["mde"][k] for k in ("3", "5", "10")]
        assert all(x is not None and x > 0 for x in m) and m[0] > m[1] > m[2]  # more seeds, smaller MDE
    assert main(["sweep", str(cfg), "--plan", "--power", str(store)]) == 0
    text = capsys.readouterr().out
    assert "MDE 3 seeds" in text and "MDE 10 seeds" in text and "mixed K=2 − related K=2 (primary)" in text
    assert main(["sweep", str(cfg), "--power", str(store)]) == 2  # --power needs --plan
    assert main(["sweep", str(cfg), "--plan", "--power", str(tmp_path / "none.sqlite")]) == 2
