"""No test or dev sentence reaches pretraining, LAPT, distillation or training text, proved by content
(sentence hashes), not by split names, under both split schemes (Trust III item 6: under the study
split, the whole extra.tsv was added to the pretraining text although the study split pools it, so
115 of the 500 ast test sentences were in the encoder's pretraining text)."""

from __future__ import annotations

import shutil

import pytest
from conftest import WIKIANN, needs_shared

from xner.datadir import DataDir
from xner.experiments.material import Material
from xner.fingerprint import sentence_hashes
from xner.splits import load_split


def _leaks(mat: Material, lang: str) -> int:
    held = set(sentence_hashes(load_split(mat.source, lang, "test", mat.scheme, mat.split_seed)))
    if mat.scheme != "study" and mat.source.has(lang, "dev"):
        held |= set(sentence_hashes(mat.source.load(lang, "dev")))
    texts = [*mat.unlabelled(lang), mat.train(lang)]  # pretraining/LAPT text; training and distillation text
    return sum(h in held for c in texts for h in sentence_hashes(c))


@pytest.mark.parametrize("scheme", ["standard", "study"])
def test_planted_duplicates_never_reach_training_text(data_dir, tmp_path, scheme):
    d = tmp_path / "data"
    shutil.copytree(data_dir, d)
    test = (d / "en" / "test.tsv").read_text(encoding="utf-8").split("\n\n")
    dev = (d / "en" / "dev.tsv").read_text(encoding="utf-8").split("\n\n") if (d / "en" / "dev.tsv").exists() else []
    planted = "\n\n".join(s for s in test[:5] + dev[:5] if s.strip())  # test/dev sentences copied into train, extra
    for split in ("train", "extra"):
        f = d / "en" / f"{split}.tsv"
        old = f.read_text(encoding="utf-8").strip() if f.exists() else ""
        f.write_text((old + "\n\n" if old else "") + planted + "\n", encoding="utf-8")
    mat = Material(DataDir(d), scheme)
    assert _leaks(mat, "en") == 0
    if scheme == "standard":  # the study split pools train, dev and extra and holds out its own 20%
        assert mat.train("en").meta.get("heldout_dropped", 0) > 0  # the planted copies were there, and dropped


@needs_shared
@pytest.mark.parametrize("scheme", ["standard", "study"])
@pytest.mark.parametrize("lang", ["ast", "oc", "sco", "scn", "af", "ms", "fa"])
def test_wikiann_targets_keep_test_text_out(lang, scheme):
    assert _leaks(Material(DataDir(WIKIANN), scheme), lang) == 0


@pytest.mark.parametrize("scheme", ["standard", "study"])
def test_a_targets_test_text_never_reaches_another_languages_text(data_dir, tmp_path, scheme):
    """Review of Trust III: only a language's own held-out text was checked, so an ast test sentence
    that also is an it/fr/pt training sentence (entity-only lines) reached the pretraining text."""
    d = tmp_path / "data"
    shutil.copytree(data_dir, d)
    target_test = [s for s in (d / "fa" / "test.tsv").read_text(encoding="utf-8").split("\n\n") if s.strip()][:6]
    f = d / "en" / "train.tsv"
    f.write_text(f.read_text(encoding="utf-8").strip() + "\n\n" + "\n\n".join(target_test) + "\n", encoding="utf-8")
    mat = Material(DataDir(d), scheme, tested=("fa",))
    held = set(sentence_hashes(load_split(mat.source, "fa", "test", scheme, mat.split_seed)))
    texts = [*mat.unlabelled("en"), mat.train("en")]
    assert sum(h in held for c in texts for h in sentence_hashes(c)) == 0
    assert Material(DataDir(d), scheme).train("en") is not None  # without targets nothing else is held out


def test_pretrain_cli_text_leaves_out_dev_and_test_text(data_dir, tmp_path):
    """`xner pretrain --langs ast` read 328 of the 1,000 ast test sentences (split names only)."""
    from xner.training.pretrain_data import text_from_source

    d = tmp_path / "data"
    shutil.copytree(data_dir, d)
    test = [s for s in (d / "en" / "test.tsv").read_text(encoding="utf-8").split("\n\n") if s.strip()]
    other = [s for s in (d / "fa" / "test.tsv").read_text(encoding="utf-8").split("\n\n") if s.strip()]
    f = d / "en" / "train.tsv"
    f.write_text(f.read_text(encoding="utf-8").strip() + "\n\n" + "\n\n".join(test[:4] + other[:3]) + "\n",
                 encoding="utf-8")
    src = DataDir(d)
    held = {h for lang in ("en", "fa") for sp in ("dev", "test") if src.has(lang, sp)
            for h in sentence_hashes(src.load(lang, sp))}
    (c,) = text_from_source(src, ["en"], heldout_langs=["fa"])
    assert not held & set(sentence_hashes(c)) and c.meta["heldout_dropped"] >= 7
    (own,) = text_from_source(src, ["en"])
    assert own.meta["heldout_dropped"] >= 4


@needs_shared
@pytest.mark.parametrize("config", ["diversity", "diversity-legacy", "pretrain-value"])
def test_sweep_pretraining_text_holds_no_target_test_sentence(config):
    from xner.experiments.config import load_config

    cfg = load_config(config)
    cfg["targets"] = [t for t in cfg["targets"] if DataDir(WIKIANN).has(t, "test")]  # fa-latn: built by a script
    mat = Material.of(DataDir(WIKIANN), cfg)
    held = set()
    for t in cfg["targets"]:
        held |= mat.heldout(t)
    langs = DataDir(WIKIANN).languages()  # their encoders pretrain on every offline language (langs = "all")
    leaks = {x: sum(h in held for c in mat.unlabelled(x) for h in sentence_hashes(c)) for x in langs}
    assert not any(leaks.values()), leaks
