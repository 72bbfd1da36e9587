"""--split-scheme/--split-seed on every command that reads a split: a model trained and evaluated with the
study scheme never sees a test sentence in training."""

from __future__ import annotations

from pathlib import Path

import pytest

from xner.cli import main
from xner.datadir import DataDir
from xner.formats import read_corpus
from xner.splits import load_split


def _unique_data(root: Path) -> Path:
    """Every sentence unique (its first word names it), in three splits of two languages."""
    for lang in ("aa", "bb"):
        for split, n in (("train", 40), ("dev", 15), ("test", 15)):
            d = root / lang
            d.mkdir(parents=True, exist_ok=True)
            lines = []
            for i in range(n):
                lines += [f"{lang}-{split}-{i}\tO", "Paris\tB-LOC", "Marie\tB-PER", "Curie\tI-PER", ""]
            (d / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _names(corpus) -> set[str]:
    return {s[0] for s in corpus.sentences()}


@pytest.fixture
def captured(monkeypatch):
    got: dict = {}

    def fake_finetune(model, parts, ev, out, hp, *a, **k):
        got["train"], got["train_eval"] = parts, ev
        return {"kind": "train", "steps": 0}

    def fake_distill(teachers, unl, student, out, hp, seed, weighting, sources, ev, *a, **k):
        got["distill"], got["distill_eval"] = unl, ev
        return {"kind": "distill", "steps": 0, "weights": {"weights_mean": [1.0]}}

    def fake_export(model, out, exporter, level, quantize, fp16, eval_corpus, *a, **k):
        got["export_eval"] = eval_corpus
        return {"gates": [], "steps": [{"exporter": "fake"}], "onnx_bytes": 0, "forced": False}

    import xner.export.build
    import xner.training.jobs

    monkeypatch.setattr(xner.training.jobs, "finetune", fake_finetune)
    monkeypatch.setattr(xner.training.jobs, "distill", fake_distill)
    monkeypatch.setattr(xner.export.build, "export", fake_export)
    return got


def test_study_scheme_everywhere_keeps_test_out_of_training(tmp_path, captured):
    data = str(_unique_data(tmp_path / "data"))
    src = DataDir(data)
    flags = ["--split-scheme", "study", "--split-seed", "7"]
    study_train = _names(load_split(src, "aa", "train", "study", 7))
    study_test = _names(load_split(src, "aa", "test", "study", 7))
    assert study_train and study_test and not study_train & study_test
    assert len(study_train | study_test) == 70  # the pool: train, dev and test files
    assert any("-test-" in n for n in study_train)  # the study split mixes the standard files

    assert main(["train", "--model", "m", "--data-dir", data, "--train-langs", "aa", "--eval-lang", "aa",
                 "--out", str(tmp_path / "t"), *flags]) == 0
    assert set().union(*(_names(c) for c in captured["train"])) == study_train
    assert _names(captured["train_eval"]) == study_test

    assert main(["distill", "--teachers", "t1", "--teacher-langs", "bb", "--data-dir", data, "--target-lang", "aa",
                 "--student", "s", "--out", str(tmp_path / "s"), *flags]) == 0
    assert _names(captured["distill"]) == study_train and _names(captured["distill_eval"]) == study_test

    out = tmp_path / "p.tsv"
    assert main(["perturb", "--data-dir", data, "--lang", "aa", "--perturbation", "char_noise", "--rate", "0",
                 "--out", str(out), *flags]) == 0
    assert _names(read_corpus(out)) == study_test  # what evaluate scores too (same reader)

    assert main(["export", "--model", "m", "--out", str(tmp_path / "o"), "--eval-data", data, "--eval-lang", "aa",
                 *flags]) == 0
    assert _names(captured["export_eval"]) == study_test
    # the standard scheme reads the files as they are
    assert main(["perturb", "--data-dir", data, "--lang", "aa", "--perturbation", "char_noise", "--rate", "0",
                 "--out", str(out)]) == 0
    assert _names(read_corpus(out)) == {f"aa-test-{i}" for i in range(15)}
