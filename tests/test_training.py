from __future__ import annotations

import json

import numpy as np
import pytest

from xner.cli import main
from xner.datadir import DataDir
from xner.errors import XnerError
from xner.training.distill import distill
from xner.training.finetune import finetune, infer_setting
from xner.training.presets import presets, resolve

FAST = {"max_steps": 6, "batch_size": 8, "lr": 5e-3}


def hp(preset="scratch", **kw):
    return resolve(preset, **{**FAST, **kw})


def test_presets_are_data():
    p = presets()
    assert p["study"] == {"epochs": 1, "batch_size": 8, "lr": 4e-5, "max_length": 128, "warmup_ratio": 0.06,
                          "scheduler": "linear", "weight_decay": 0.0}
    assert p["student"]["freeze_layers"] == 3 and p["student"]["lr"] == 1e-4
    assert resolve("study", lr=1e-3)["lr"] == 1e-3
    with pytest.raises(XnerError):
        resolve("nope")


def test_settings_checked():
    assert infer_setting(["fa"], "fa", None) == "native"
    assert infer_setting(["ar"], "fa", None) == "zero-shot"
    assert infer_setting(["ar", "fa"], "fa", None) == "joint"
    with pytest.raises(XnerError):
        infer_setting(["ar"], "fa", "native")
    with pytest.raises(XnerError):
        infer_setting(["fa"], "fa", "zero-shot")


@pytest.mark.parametrize("setting,langs", [("native", ["fa"]), ("zero-shot", ["ar"]), ("joint", ["ar", "fa"])])
def test_finetune_settings(tmp_path, data_dir, tiny_bert, setting, langs):
    src = DataDir(data_dir)
    card = finetune(str(tiny_bert), [src.load(x, "train") for x in langs], src.load("fa", "test"), tmp_path, hp(),
                    seed=1, setting=setting)
    assert card["steps"] == 6 and card["setting"] == setting
    assert 0.0 <= card["eval"]["f1"] <= 1.0 and card["eval"]["sentences"] == 40
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["train"][0]["lang"] == langs[0] and "versions" in saved["provenance"]
    assert saved["hyperparameters"]["preset"] == "scratch"


LEARN = {"epochs": 30, "batch_size": 16, "lr": 3e-3}


def test_finetune_learns(tmp_path, data_dir, tiny_bert):
    """The training loop really optimises: the tiny model fits its training sentences."""
    src = DataDir(data_dir)
    train = src.load("en", "train")
    card = finetune(str(tiny_bert), [train], train, tmp_path, resolve("scratch", **LEARN), seed=0)
    assert card["eval"]["f1"] > 0.6, card["eval"]


def test_xlmr_train(tmp_path, data_dir, tiny_xlmr):
    src = DataDir(data_dir)
    card = finetune(str(tiny_xlmr), [src.load("ru", "train")], src.load("ru", "test"), tmp_path, hp(), seed=1)
    assert card["steps"] == 6


def test_resume_after_interruption(tmp_path, data_dir, tiny_bert):
    from transformers import TrainerCallback

    src = DataDir(data_dir)
    train, ev = [src.load("en", "train")], src.load("en", "test")

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune(str(tiny_bert), train, ev, tmp_path / "a", hp(max_steps=8), seed=3, save_steps=4, callbacks=[Crash()])
    assert (tmp_path / "a" / "checkpoints" / "checkpoint-4").is_dir()
    card = finetune(str(tiny_bert), train, ev, tmp_path / "a", hp(max_steps=8), seed=3, save_steps=4)
    assert card["resumed_from"].endswith("checkpoint-4") and card["steps"] == 8
    ref = finetune(str(tiny_bert), train, ev, tmp_path / "b", hp(max_steps=8), seed=3, save_steps=4)
    assert ref["resumed_from"] is None
    from safetensors.numpy import load_file

    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(np.allclose(a[k], b[k], atol=1e-6) for k in a)  # resumed == uninterrupted


@pytest.fixture(scope="module")
def teachers(tmp_path_factory, data_dir, tiny_bert):
    src = DataDir(data_dir)
    out = {}
    for lang in ("en", "ru"):
        d = tmp_path_factory.mktemp(f"teacher_{lang}")
        finetune(str(tiny_bert), [src.load(lang, "train")], None, d, hp(max_steps=10), seed=0)
        out[lang] = str(d)
    return out


@pytest.mark.parametrize("weighting", ["uniform", "langid", "langid-sentence"])
def test_distill_multi_source(tmp_path, data_dir, teachers, weighting):
    src = DataDir(data_dir)
    target = src.load("fa", "train")
    unl = target.with_tags(np.zeros_like(target.tags))
    card = distill([teachers["en"], teachers["ru"]], unl, teachers["en"], tmp_path,
                   resolve("student-scratch", **FAST), seed=0, weighting=weighting,
                   source_corpora=[src.load("en", "train"), src.load("ru", "train")], eval_corpus=src.load("fa", "test"))
    w = card["weights"]["weights_mean"]
    assert len(w) == 2 and abs(sum(w) - 1) < 1e-3
    if weighting == "uniform":
        assert w == [0.5, 0.5]
    else:
        assert card["weights"]["langid"]["train_accuracy"] > 0.9  # Latin vs Cyrillic is easy
    assert card["teacher_langs"] == ["en", "ru"] and 0 <= card["eval"]["f1"] <= 1
    assert (tmp_path / "model.safetensors").exists()


def test_distill_single_source_kl_hard_labels_and_compression(tmp_path, data_dir, teachers):
    src = DataDir(data_dir)
    target = src.load("ar", "train")
    unl = target.with_tags(np.zeros_like(target.tags))
    card = distill([teachers["en"]], unl, teachers["en"], tmp_path, resolve("student-scratch", loss="kl",
                   temperature=2.0, freeze_layers=1, **FAST), student_layers=1, hard_labels="agree",
                   eval_corpus=src.load("ar", "test"))
    assert card["frozen_layers"] == 1 and card["weights"]["student_layers_from_teacher"] == [0]
    assert card["weights"]["hard_label_tokens"] == unl.n_tokens  # one teacher always agrees with itself
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["num_hidden_layers"] == 1


def test_distill_learns_from_teacher(tmp_path, data_dir, tiny_bert):
    """A student that learns the teacher's outputs on unlabelled text reaches a useful F1."""
    src = DataDir(data_dir)
    teacher = tmp_path / "t"
    train = src.load("en", "train")
    t = finetune(str(tiny_bert), [train], train, teacher, resolve("scratch", **LEARN), seed=0)
    card = distill([str(teacher)], train.with_tags(np.zeros_like(train.tags)), str(tiny_bert), tmp_path / "s",
                   resolve("student-scratch", **LEARN), eval_corpus=train)
    # scored against the gold tags the student never saw
    assert card["eval"]["f1"] > 0.7 * t["eval"]["f1"], (card["eval"]["f1"], t["eval"]["f1"])


def test_cli_train_and_distill(tmp_path, data_dir, tiny_bert, capsys):
    rc = main(["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en",
               "--eval-lang", "ru", "--preset", "scratch", "--max-steps", "3", "--out", str(tmp_path / "t")])
    assert rc == 0
    assert json.loads((tmp_path / "t" / "run.json").read_text())["setting"] == "zero-shot"
    rc = main(["distill", "--teachers", str(tmp_path / "t"), "--data-dir", str(data_dir), "--target-lang", "ru",
               "--student", str(tmp_path / "t"), "--student-layers", "1", "--preset", "student-scratch",
               "--max-steps", "3", "--out", str(tmp_path / "s")])
    assert rc == 0
    assert "teacher weights" in capsys.readouterr().err  # a message: stderr (the result line is on stdout)
    assert main(["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en",
                 "--eval-lang", "en", "--setting", "zero-shot", "--out", str(tmp_path / "x")]) == 2
