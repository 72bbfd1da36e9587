"""Trust defects of training: resume only the same run (5); reproducible tokenizers (6)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from xner.cli import main
from xner.datadir import DataDir
from xner.errors import XnerError
from xner.training.distill import distill
from xner.training.finetune import finetune
from xner.training.presets import resolve

FAST = {"max_steps": 8, "batch_size": 8, "lr": 5e-3}


class _Crash(Exception):
    pass


def _crash_at(step: int):
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == step:
                raise _Crash

    return Crash()


def test_resume_only_the_same_run(tmp_path, data_dir, tiny_bert, capsys):
    src = DataDir(data_dir)
    en, ru = [src.load("en", "train")], [src.load("ru", "train")]
    out = tmp_path / "run"
    with pytest.raises(_Crash):
        finetune(str(tiny_bert), en, None, out, resolve("scratch", **FAST), seed=3, save_steps=4,
                 callbacks=[_crash_at(5)])
    assert (out / "checkpoints" / "checkpoint-4").is_dir()
    # another seed, other data, other hyperparameters: refused, with what differs, nothing touched
    for kw, what in ((dict(seed=4), "seed"), (dict(parts=ru), "train"), (dict(lr=1e-3), "hyperparameters.lr")):
        hp = resolve("scratch", **{**FAST, "lr": kw.get("lr", FAST["lr"])})
        with pytest.raises(XnerError, match=f"differs in: .*{what}"):
            finetune(str(tiny_bert), kw.get("parts", en), None, out, hp, seed=kw.get("seed", 3), save_steps=4)
        assert (out / "checkpoints" / "checkpoint-4").is_dir()
    # the same run resumes
    card = finetune(str(tiny_bert), en, None, out, resolve("scratch", **FAST), seed=3, save_steps=4)
    assert card["resumed_from"].endswith("checkpoint-4")
    # --overwrite starts afresh
    card = finetune(str(tiny_bert), ru, None, out, resolve("scratch", **FAST), seed=3, save_steps=4, overwrite=True)
    assert card["resumed_from"] is None and card["steps"] == 8
    # from the command line: exit 2 and the reason
    rc = main(["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en",
               "--eval-lang", "en", "--preset", "scratch", "--max-steps", "8", "--out", str(out)])
    assert rc == 2 and "differs in" in capsys.readouterr().err


def test_train_refuses_a_foreign_folder(tmp_path, data_dir, tiny_bert):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    with pytest.raises(XnerError, match="holds no xner training run"):
        finetune(str(tiny_bert), [DataDir(data_dir).load("en", "train")], None, out, resolve("scratch", **FAST))
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_distill_resumes_only_the_same_run(tmp_path, data_dir, tiny_bert):
    src = DataDir(data_dir)
    teacher = tmp_path / "t"
    finetune(str(tiny_bert), [src.load("en", "train")], None, teacher, resolve("scratch", **FAST), seed=0)
    fa = src.load("fa", "train")
    unl = fa.with_tags(np.zeros_like(fa.tags))
    hp = resolve("student-scratch", **FAST)
    out = tmp_path / "s"
    with pytest.raises(_Crash):
        distill([str(teacher)], unl, str(tiny_bert), out, hp, seed=1, save_steps=4, callbacks=[_crash_at(5)])
    ar = src.load("ar", "train")
    with pytest.raises(XnerError, match="differs in: .*target"):
        distill([str(teacher)], ar.with_tags(np.zeros_like(ar.tags)), str(tiny_bert), out, hp, seed=1, save_steps=4)
    with pytest.raises(XnerError, match="differs in: .*weighting"):
        distill([str(teacher)], unl, str(tiny_bert), out, hp, seed=1, save_steps=4, weighting="langid")
    card = distill([str(teacher)], unl, str(tiny_bert), out, hp, seed=1, save_steps=4)
    assert card["resumed_from"].endswith("checkpoint-4") and card["steps"] == 8


_BUILD = """
import sys
from xner.cli import main
files = sys.argv[2:]
for arch in ("bert", "xlmr"):
    assert main(["init-model", "--arch", arch, "--train-tokenizer-on", *files, "--vocab-size", "600", "--hidden", "32",
                 "--layers", "1", "--heads", "2", "--max-length", "64", "--out", sys.argv[1] + "/" + arch]) == 0
"""


def test_init_model_tokenizer_is_reproducible(tmp_path, data_dir):
    """Two processes (two hash seeds) on the same files write byte-identical tokenizer files."""
    files = [str(data_dir / lang / "train.tsv") for lang in ("en", "ru", "ar", "hi", "fa")]
    for run in ("a", "b"):
        subprocess.run([sys.executable, "-c", _BUILD, str(tmp_path / run), *files], check=True, capture_output=True)
    for arch in ("bert", "xlmr"):
        a, b = tmp_path / "a" / arch, tmp_path / "b" / arch
        names = sorted(p.name for p in a.iterdir() if p.name.startswith(("tokenizer", "vocab", "special")))
        assert "tokenizer.json" in names
        for n in names:
            assert (a / n).read_bytes() == (b / n).read_bytes(), f"{arch}: {n} differs between two runs"
        ca, cb = (json.loads((d / "xner_model.json").read_text()) for d in (a, b))
        assert ca["vocab_sha256"] == cb["vocab_sha256"] and len(ca["vocab_sha256"]) == 64
        assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()


def test_trained_wordpiece_tokenizes_every_script(tiny_bert):
    from xner.hf import load_tokenizer

    tok = load_tokenizer(str(tiny_bert))
    for word in ("Москва", "Boston", "تهران", "दिल्ली"):
        pieces = tok.tokenize(word)
        assert pieces and "[UNK]" not in pieces and all(p.startswith("##") for p in pieces[1:])
        assert "".join(p.removeprefix("##") for p in pieces) == word


def test_finished_train_keeps_no_checkpoints_and_its_card(tiny_bert, data_dir, tmp_path, capsys):
    """A finished run keeps the model, not the optimizer checkpoints (unless --keep-checkpoints), and a
    rerun returns its card unchanged instead of rewriting it (train_loss and provenance were lost)."""
    import json

    from xner.cli import main

    def run(out, *extra):
        return main(["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en",
                     "--lang", "en", "--max-steps", "4", "--save-steps", "2", "--out", str(out), *extra])

    out = tmp_path / "t"
    assert run(out) == 0 and not (out / "checkpoints").exists()
    card = (out / "run.json").read_bytes()
    assert json.loads(card)["checkpoints"] == {"kept": False, "folder": None}
    assert run(out) == 0 and (out / "run.json").read_bytes() == card
    kept = tmp_path / "k"
    assert run(kept, "--keep-checkpoints") == 0 and any((kept / "checkpoints").iterdir())
    assert json.loads((kept / "run.json").read_text())["checkpoints"]["kept"] is True


def test_a_rerun_of_a_finished_run_adds_nothing_to_its_folder(tmp_path, tiny_bert, data_dir):
    """Review of 29, round 2: rerunning a finished train left an empty checkpoints/ marker folder."""
    from xner.cli import main

    out = tmp_path / "t"
    argv = ["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en", "--lang", "en",
            "--max-steps", "2", "--out", str(out)]
    assert main(argv) == 0
    before = sorted(p.name for p in out.iterdir())
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == before and "checkpoints" not in before
