"""Sweeps on pretrained encoders: a ``pretrain`` model spec is built once (named by its inputs) and
every model starts from it; a setting's ``lapt`` adapts the model to its target first."""

from __future__ import annotations

import json
from pathlib import Path

from xner.cli import main

CFG = """
name = "pt"
targets = ["fa"]
perturbations = ["char_noise"]
seeds = [0]
test_max_sentences = 20
train_max_sentences = 60
bootstrap = 10

[models.enc]
pretrain = {{ init = "bert:hidden=32,layers=1,heads=2,vocab-size=300,positions=64", langs = "all", max_steps = {steps}, batch_size = 8, max_length = 32 }}

[train]
preset = "scratch"
max_steps = 3

[[settings]]
kind = "native"

[[settings]]
kind = "zero-shot"
sources = "en"
lapt = {{ max_steps = 2, batch_size = 8 }}
"""


def _sweep(tmp_path: Path, data_dir: Path, steps: int, capsys) -> tuple[dict, Path]:
    cfg = tmp_path / f"pt{steps}.toml"
    cfg.write_text(CFG.format(steps=steps), encoding="utf-8")
    store = tmp_path / "s" / "results.sqlite"
    assert main(["sweep", str(cfg), "--store", str(store), "--data-dir", str(data_dir), "--json", "-q"]) == 0
    return json.loads(capsys.readouterr().out), store.parent / "results-artifacts"


def test_pretrained_encoder_and_lapt_in_a_sweep(tmp_path, data_dir, capsys):
    cfg = tmp_path / "plan.toml"
    cfg.write_text(CFG.format(steps=4), encoding="utf-8")
    assert main(["sweep", str(cfg), "--plan", "--json", "--data-dir", str(data_dir),
                 "--artifacts", str(tmp_path / "none")]) == 0
    plan = json.loads(capsys.readouterr().out)
    kinds = [m["kind"] for m in plan["models"]]
    assert kinds.count("pretrain") == 2 and not (tmp_path / "none").exists()  # the encoder and its lapt; none built

    r, arts = _sweep(tmp_path, data_dir, 4, capsys)
    assert r["written"] == r["cells"] == 4
    built = sorted(p.name.split("-")[0] for p in arts.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert built.count("pretrain") == 1 and built.count("lapt") == 1 and built.count("train") == 2
    enc = next(p for p in arts.iterdir() if p.name.startswith("pretrain-"))
    card = json.loads((enc / "pretrain_card.json").read_text())
    assert card["steps"] == 4 and {d["lang"] for d in card["data"]["corpora"]} >= {"en", "fa", "ru"}
    assert all(d["split"] in ("train", "extra") for d in card["data"]["corpora"])  # never test or dev text
    lapt = next(p for p in arts.iterdir() if p.name.startswith("lapt-"))
    lcard = json.loads((lapt / "pretrain_card.json").read_text())
    assert lcard["steps"] == 2 and [d["lang"] for d in lcard["data"]["corpora"]] == ["fa"]
    assert lcard["model"] == str(enc)  # continued from the pretrained encoder

    # rerun: nothing to do; a different pretraining makes a new encoder, new models and new cells
    r2, _ = _sweep(tmp_path, data_dir, 4, capsys)
    assert r2["written"] == 0 and r2["skipped"] == 4
    r3, _ = _sweep(tmp_path, data_dir, 5, capsys)
    assert r3["written"] == 4
    assert sum(p.name.startswith("pretrain-") for p in arts.iterdir()) == 2
