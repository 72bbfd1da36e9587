"""Fine-tuning in the study's settings (native, zero-shot, joint) with the HF Trainer.

Checkpoints are safetensors; an interrupted run resumes from its last checkpoint when started
again with the same output folder and the same inputs (see :mod:`runs`); a run card (``run.json``) records data, splits, seed,
hyperparameters, versions and scores.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import time
from pathlib import Path

from xner.console import say
from xner.corpus import Corpus, concat
from xner.errors import XnerError
from xner.io import write_json
from xner.provenance import provenance

from .progress import with_console

SETTINGS = ("native", "zero-shot", "joint")


def infer_setting(train_langs: list[str], eval_lang: str, setting: str | None) -> str:
    has = eval_lang in train_langs
    guess = ("native" if train_langs == [eval_lang] else "joint") if has else "zero-shot"
    if setting is None:
        return guess
    if setting not in SETTINGS:
        raise XnerError(f"unknown setting {setting!r}; choose native, zero-shot or joint")
    if setting == "native" and train_langs != [eval_lang]:
        raise XnerError("native: train on the evaluation language only (--train-langs L --eval-lang L)")
    if setting == "zero-shot" and has:
        raise XnerError("zero-shot: the evaluation language must not be among --train-langs")
    if setting == "joint" and (not has or len(train_langs) < 2):
        raise XnerError("joint: --train-langs must hold the evaluation language and at least one other")
    return setting


def last_checkpoint(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    cks = [p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)
           and (p / "trainer_state.json").exists()]
    return max(cks, key=lambda p: int(p.name.split("-")[1])) if cks else None


def training_args(out: Path, hp: dict, seed: int, n_items: int, save_steps: int | None, extra_cols: bool = False):
    import torch
    from transformers import TrainingArguments

    steps_per_epoch = max(1, math.ceil(n_items / hp["batch_size"]))
    total = hp.get("max_steps") or steps_per_epoch * hp["epochs"]
    kw = dict(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=hp["epochs"],
        max_steps=hp.get("max_steps") or -1,
        per_device_train_batch_size=hp["batch_size"],
        learning_rate=hp["lr"],
        lr_scheduler_type=hp["scheduler"],
        weight_decay=hp.get("weight_decay", 0.0),
        seed=seed,
        data_seed=seed,
        save_strategy="steps",
        save_steps=save_steps or max(20, total // 4),
        save_total_limit=2,
        logging_steps=max(1, min(50, total // 10)),
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        remove_unused_columns=not extra_cols,
        disable_tqdm=bool(os.environ.get("XNER_NO_PROGRESS")),
        eval_strategy="no",
        optim="adamw_torch",  # the same optimiser under transformers 4 and 5 (5 defaults to the fused one)
    )
    params = inspect.signature(TrainingArguments.__init__).parameters
    if "warmup_ratio" in params:  # transformers 4
        kw.update(warmup_ratio=hp["warmup_ratio"], save_safetensors=True)
    else:  # transformers 5: a float warmup_steps in [0, 1) is a ratio; checkpoints are always safetensors
        kw.update(warmup_steps=float(hp["warmup_ratio"]))
    return TrainingArguments(**kw)


def eval_card(model, encoder, corpus: Corpus) -> dict:
    """The run card's ``eval`` entry: the model's F1, precision, recall and per-type F1 on ``corpus``."""
    from xner.metrics import score
    from xner.torchinfer import predict_tags

    s = score(corpus, predict_tags(model, encoder, corpus))
    return {"lang": corpus.lang, "split": corpus.meta.get("split"), "sentences": len(corpus), "f1": s.f1,
            "precision": s.precision, "recall": s.recall, "per_type": {t: v.f1 for t, v in s.per_type.items()}}


def write_card(out: Path, card: dict) -> None:
    write_json(out / "run.json", card)


def finetune(model_name: str, train_parts: list[Corpus], eval_corpus: Corpus | None, out: str | os.PathLike,
             hp: dict, seed: int = 42, setting: str = "native", data: str = "", augment: str | None = None, augmenter=None,
             save_steps: int | None = None, label_all: bool = False, trust_remote_code: bool = False,
             callbacks: list | None = None, overwrite: bool = False, keep_checkpoints: bool = False) -> dict:
    """Train ``model_name`` on the concatenated corpora and evaluate on ``eval_corpus``.

    ``augment`` names a robust-training recipe (recorded in the run's identity and card) and
    ``augmenter(corpus) -> (corpus, stats)`` applies it (``xner train --augment`` passes the
    robustness package's; see :func:`xner.robustness.augment.augmenter`).
    """
    import torch
    from transformers import Trainer, set_seed

    from xner.encode import WordEncoder
    from xner.hf import load_model, load_tokenizer

    from .data import PadCollator, SegmentDataset
    from .runs import (
        corpus_identity,
        data_path,
        finish_run,
        finished_card,
        model_identity,
        prepare_run,
        text_record,
    )

    out = Path(out)
    identity = {"kind": "train", "model": model_identity(model_name), "train": [corpus_identity(c) for c in train_parts],
                "setting": setting, "seed": seed, "hyperparameters": hp, "augment": augment, "label_all": label_all}
    resume = prepare_run(out, identity, overwrite,  # never into the model, the data folder or a text file it reads
                         inputs=[model_name, data, *(c.source for c in train_parts),
                                 *((eval_corpus.source,) if eval_corpus is not None else ())])
    done = finished_card(out, "run.json")
    if done is not None:
        say(f"[train] {out} holds this run, finished: nothing to do (--overwrite to train afresh)")
        return done
    set_seed(seed)
    train = concat(train_parts)
    aug_stats: list[dict] = []
    if augment:  # the caller supplies the perturbations (training does not depend on robustness)
        if augmenter is None:
            raise XnerError("augment needs an augmenter: a function corpus -> (corpus with copies, statistics)")
        train, aug_stats = augmenter(train)
    tok = load_tokenizer(model_name, trust_remote_code)
    model = load_model(model_name, train.labels, trust_remote_code)
    from .distill import freeze

    frozen = freeze(model, int(hp.get("freeze_layers", 0) or 0))  # e.g. the wu-teacher preset: embeddings + 3
    encoder = WordEncoder(tok, hp["max_length"])
    enc = encoder.encode(train)
    ds = SegmentDataset(enc, enc.labels_for(train.tags, label_all))
    args = training_args(out, hp, seed, len(ds), save_steps)
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=PadCollator(encoder.pad_id),
                      callbacks=with_console(callbacks, "train"))
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    train_s = time.time() - t0
    model.save_pretrained(out, safe_serialization=True)
    from xner.hf import save_tokenizer

    save_tokenizer(tok, out)
    card = {
        "kind": "train", "model": model_name, "setting": setting, "seed": seed, "hyperparameters": hp,
        "data": data_path(data), "train": [text_record(c) for c in train_parts],
        "augment": augment, "augment_stats": aug_stats, "encoding": enc.stats.to_json(), "label_all": label_all,
        "frozen_layers": frozen,
        "resumed_from": str(resume) if resume else None, "steps": int(result.global_step),
        "train_loss": float(result.training_loss), "train_seconds": round(train_s, 1),
        "labels": train.labels.tags, "provenance": provenance(torch=torch.__version__),
    }
    if eval_corpus is not None:
        card["eval"] = eval_card(model, encoder, eval_corpus)
    card["checkpoints"] = finish_run(out, keep_checkpoints)
    write_card(out, card)
    return card
