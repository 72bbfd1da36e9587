"""``xner train`` and ``xner distill`` as library calls: read the splits a run needs from a data
source, then fine-tune or distil.  Robust-training augmentation is passed in as an ``augmenter``
(``corpus -> (corpus with perturbed copies, statistics)``), so training never imports robustness."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from xner.console import say
from xner.errors import XnerError

from .distill import distill, teacher_langs
from .finetune import finetune, infer_setting

__all__ = ["distill_from_source", "train_from_source"]
Augmenter = Callable


def train_from_source(model: str, src, train_langs: list[str], eval_lang: str, out: str | os.PathLike, hp: dict,
                      seed: int = 42, setting: str | None = None, eval_split: str = "test",
                      split_scheme: str = "standard", split_seed: int = 42, augment: str | None = None,
                      augmenter: Augmenter | None = None, save_steps: int | None = None, label_all: bool = False,
                      trust_remote_code: bool = False, overwrite: bool = False, keep_checkpoints: bool = False) -> dict:
    from xner.splits import load_split

    setting = infer_setting(train_langs, eval_lang, setting)
    parts = [load_split(src, lang, "train", split_scheme, split_seed) for lang in train_langs]
    ev = load_split(src, eval_lang, eval_split, split_scheme, split_seed)
    say(f"[train] {setting}: {'+'.join(train_langs)} -> {eval_lang}  ({sum(len(c) for c in parts)} sentences, "
          f"preset {hp['preset']})")
    return finetune(model, parts, ev, out, hp, seed, setting, src.name, augment, augmenter, save_steps, label_all,
                    trust_remote_code, overwrite=overwrite, keep_checkpoints=keep_checkpoints)


def distill_from_source(teachers: list[str], src, target_lang: str, student: str, out: str | os.PathLike, hp: dict,
                        seed: int = 42, weighting: str = "uniform", langs: list[str] | None = None,
                        student_layers: int | None = None, hard_labels: str = "none", augment: str | None = None,
                        augmenter: Augmenter | None = None, save_steps: int | None = None,
                        overwrite: bool = False, split_scheme: str = "standard", split_seed: int = 42,
                        langid_temperature: str = "var", langid_encoder: str = "student",
                        keep_checkpoints: bool = False) -> dict:
    """Distil on the target's train split (tags dropped) and evaluate on its test split, both under
    ``split_scheme`` (the study's split keeps every test sentence out of the unlabelled text)."""
    from xner.splits import load_split

    if langs is not None and len(langs) != len(teachers):
        raise XnerError("--teacher-langs must name one language per teacher")
    target = load_split(src, target_lang, "train", split_scheme, split_seed)
    unlabelled = target.with_tags(np.zeros_like(target.tags))  # the student never sees target tags
    sources = None
    if weighting != "uniform" and len(teachers) > 1:
        langs = langs or teacher_langs(teachers)
        sources = [load_split(src, lang.split("+")[0], "train", split_scheme, split_seed) for lang in langs]
    say(f"[distill] {len(teachers)} teacher(s) -> {target_lang} ({len(unlabelled)} unlabelled sentences, "
          f"weighting {weighting}, preset {hp['preset']}, {split_scheme} split)")
    return distill(teachers, unlabelled, student, out, hp, seed, weighting, sources,
                   load_split(src, target_lang, "test", split_scheme, split_seed), student_layers, hard_labels,
                   src.name, save_steps, overwrite=overwrite, augment=augment, augmenter=augmenter,
                   langid_temperature=langid_temperature, langid_encoder=langid_encoder,
                   keep_checkpoints=keep_checkpoints)
