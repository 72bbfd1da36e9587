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
