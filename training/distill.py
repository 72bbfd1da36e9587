"""Teacher-student distillation on unlabelled target text (Wu et al., ACL 2020).

Teachers (models fine-tuned on source languages) label the target's train split with its tags
dropped; the student learns the teachers' per-word distributions at first sub-tokens (MSE on
softmax outputs, or KL with a temperature).  With several teachers the target distribution is
their weighted average: uniform, or weights from a small language-identification model over
sentence embeddings (:mod:`langid`; averaged over the target set: ``langid``; per sentence:
``langid-sentence``).
A student may be smaller than its teachers (fewer layers, initialised from teacher layers).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from xner.console import say
from xner.corpus import Corpus
from xner.errors import XnerError
from xner.families import family_of
from xner.provenance import provenance

from .progress import with_console

WEIGHTINGS = ("uniform", "langid", "langid-sentence")
LANGID_ENCODERS = ("student", "teacher")
LOSSES = ("mse", "kl")


def softmax(x: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = x / t
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def mix_weights(weighting: str, k: int, n: int, sent_p: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """The teacher weights per target sentence ``[n, k]`` that the soft targets average with, and
    what the card records of them: ``weights_mean`` (per teacher) and ``weights_sd``, the spread over
    target sentences of the language-ID probabilities ``sent_p`` *before* any averaging (``langid``
    applies their set-level mean to every sentence, so the spread of the weights applied,
    ``applied_sd``, is 0 by construction; ``langid-sentence`` applies them as they are); uniform: 1/k
    everywhere, spread 0."""
    if weighting == "uniform" or k == 1 or sent_p is None:
        w = np.full((n, k), 1.0 / k, dtype=np.float32)
        spread = w.std(0)
    else:
        sent_p = np.asarray(sent_p, dtype=np.float64)
        w = sent_p if weighting == "langid-sentence" else np.broadcast_to(sent_p.mean(0), sent_p.shape).copy()
        spread = sent_p.std(0)
    w64 = w.astype(np.float64)
    return w, {"weights_mean": w64.mean(0).round(4).tolist(), "weights_sd": np.asarray(spread, np.float64).round(4)
               .tolist(), "applied_sd": w64.std(0).round(4).tolist()}


def teacher_langs(teachers: list[str]) -> list[str]:
    """Source languages of teachers, from their run cards."""
    out = []
    for t in teachers:
        card = Path(t) / "run.json"
        if not card.exists():
            raise XnerError(f"{t}: no run.json; give the teachers' source languages with --teacher-langs")
        d = json.loads(card.read_text())
        out.append("+".join(x["lang"] for x in d.get("train", [])))
    return out


def _path(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def compress(model, layers: int):
    """A copy of ``model`` with ``layers`` encoder layers taken evenly from the teacher's."""
    import copy

    fam = family_of(model)
    base = getattr(model, model.base_model_prefix)
    n = len(_path(base, fam.layers))
    if not 1 <= layers <= n:
        raise XnerError(f"--student-layers must be between 1 and {n}")
    keep = sorted({int(round(i)) for i in np.linspace(0, n - 1, layers)})
    student = copy.deepcopy(model)
    sbase = getattr(student, student.base_model_prefix)
    import torch

    parent, _, name = fam.layers.rpartition(".")
    holder = _path(sbase, parent) if parent else sbase
    setattr(holder, name, torch.nn.ModuleList([_path(sbase, fam.layers)[i] for i in keep]))
    student.config.num_hidden_layers = len(keep)
    return student, keep


def freeze(model, n_layers: int) -> int:
    """Freeze the embeddings and the bottom ``n_layers`` encoder layers; returns layers frozen."""
    if n_layers <= 0:
        return 0
    fam = family_of(model)
    base = getattr(model, model.base_model_prefix)
    for p in _path(base, fam.embeddings).parameters():
        p.requires_grad = False
    layers = _path(base, fam.layers)
    k = min(n_layers, len(layers))
    for layer in layers[:k]:
        for p in layer.parameters():
            p.requires_grad = False
    return k


def _trainer_class():
    import torch
    from transformers import Trainer

    class DistillTrainer(Trainer):
        loss_name = "mse"
        temperature = 1.0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            soft = inputs.pop("soft")
            # -100 off first sub-tokens; at first sub-tokens -1, or the teachers' agreed tag (--hard-labels agree)
            labels = inputs.pop("labels")
            logits = model(**inputs).logits
            sel = labels != -100
            z = logits[sel] / self.temperature
            target = soft[sel]
            if self.loss_name == "mse":
                loss = torch.nn.functional.mse_loss(torch.softmax(z, -1), target)
            else:
                loss = torch.nn.functional.kl_div(torch.log_softmax(z, -1), target, reduction="batchmean") \
                    * self.temperature ** 2
            hard = labels[sel]
            agree = hard >= 0
            if agree.any():
                loss = loss + torch.nn.functional.cross_entropy(logits[sel][agree], hard[agree])
            return (loss, logits) if return_outputs else loss

    return DistillTrainer


def distill(teachers: list[str], target_unlabelled: Corpus, student_name: str, out: str | Path, hp: dict,
            seed: int = 42, weighting: str = "uniform", source_corpora: list[Corpus] | None = None,
            eval_corpus: Corpus | None = None, student_layers: int | None = None, hard_labels: str = "none",
            data: str = "", save_steps: int | None = None, callbacks: list | None = None,
            overwrite: bool = False, augment: str | None = None, augmenter=None, langid_temperature: str = "var",
            langid_encoder: str = "student", keep_checkpoints: bool = False) -> dict:
    """Distil ``teachers`` into a student on ``target_unlabelled`` (tags ignored); ``augment`` names
    perturbed copies of the target text that ``augmenter(corpus) -> (corpus, stats)`` adds.

    ``langid_temperature`` scales the language identifier's scores as Wu et al. (``var``: 1/Var, the
    default; ``std``; ``none``: raw softmax, xner's former); ``langid_encoder`` embeds sentences with the
    student's starting model (``student``, default: Wu's pre-trained base when the student starts from
    it) or the first teacher (``teacher``, xner's former)."""
    import torch
    from transformers import set_seed

    from xner.encode import WordEncoder
    from xner.hf import labels_of, load_model, load_tokenizer
    from xner.torchinfer import word_logits

    from .data import PadCollator, SegmentDataset
    from .finetune import eval_card, training_args, write_card
    from .langid import langid_weights

    if weighting not in WEIGHTINGS:
        raise XnerError(f"unknown weighting {weighting!r}; choose {', '.join(WEIGHTINGS)}")
    if hp.get("loss", "mse") not in LOSSES:
        raise XnerError("--loss must be mse or kl")
    if hard_labels not in ("none", "agree"):
        raise XnerError("--hard-labels must be none or agree")
    if not teachers:
        raise XnerError("no teachers given")
    if langid_encoder not in LANGID_ENCODERS:
        raise XnerError(f"--langid-encoder must be one of {', '.join(LANGID_ENCODERS)}")
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
    identity = {"kind": "distill", "teachers": [model_identity(t) for t in teachers],
                "student": model_identity(student_name), "target": corpus_identity(target_unlabelled),
                "sources": [corpus_identity(c) for c in source_corpora or []], "seed": seed, "hyperparameters": hp,
                "weighting": weighting, "student_layers": student_layers, "hard_labels": hard_labels,
                "augment": augment}
    if weighting != "uniform" and len(teachers) > 1:  # runs identified before these options keep their identity
        identity.update(langid_temperature=langid_temperature, langid_encoder=langid_encoder)
    resume = prepare_run(out, identity, overwrite, inputs=[*teachers, student_name, data, target_unlabelled.source,
                                                          *((eval_corpus.source,) if eval_corpus is not None else ())])
    done = finished_card(out, "run.json")
    if done is not None:
        say(f"[distill] {out} holds this run, finished: nothing to do (--overwrite to distil afresh)")
        return done
    aug_stats: list[dict] = []
    if augment:
        if augmenter is None:
            raise XnerError("augment needs an augmenter: a function corpus -> (corpus with copies, statistics)")
        target_unlabelled, aug_stats = augmenter(target_unlabelled)
    set_seed(seed)
    T = float(hp.get("temperature", 1.0))

    # 1. teachers label the unlabelled target text
    t0 = time.time()
    probs, labelsets, first_teacher = [], [], None
    for path in teachers:
        model = load_model(path)
        labelsets.append(labels_of(model))
        enc = WordEncoder(load_tokenizer(path), hp["max_length"])
        probs.append(softmax(word_logits(model, enc, target_unlabelled), T))
        if first_teacher is None:
            first_teacher = (model, enc)
    if any(ls != labelsets[0] for ls in labelsets):
        raise XnerError(f"teachers disagree on labels: {[ls.tags for ls in labelsets]}")
    P = np.stack(probs)  # [K, n_tokens, C]
    K = len(teachers)

    # 2. weights
    info: dict = {"weighting": weighting}
    sent_p = None
    if weighting != "uniform" and K > 1:
        if source_corpora is None or len(source_corpora) != K:
            raise XnerError("langid weighting needs the teachers' source corpora")
        if langid_encoder == "student":
            embed = (load_model(student_name), WordEncoder(load_tokenizer(student_name), hp["max_length"]))
        else:
            embed = first_teacher
        sent_p, info["langid"] = langid_weights(embed[0], embed[1], source_corpora, target_unlabelled, seed,
                                                temperature=langid_temperature)
        info["langid"]["encoder"] = langid_encoder
    w_sent, stats = mix_weights(weighting, K, len(target_unlabelled), sent_p)
    info.update(stats)  # weights_sd: the language-ID probabilities' spread over sentences, before averaging
    tok_sent = np.repeat(np.arange(len(target_unlabelled)), target_unlabelled.lengths)
    w_tok = w_sent[tok_sent]  # [n_tokens, K]
    soft = np.einsum("tk,ktc->tc", w_tok, P).astype(np.float32)
    teacher_s = time.time() - t0

    # 3. student
    ls = labelsets[0]
    if student_layers:
        student, kept = compress(load_model(student_name, ls), student_layers)
        info["student_layers_from_teacher"] = kept
    else:
        student = load_model(student_name, ls)
    stok = load_tokenizer(student_name)
    frozen = freeze(student, int(hp.get("freeze_layers", 0)))
    senc = WordEncoder(stok, hp["max_length"])
    enc = senc.encode(target_unlabelled)
    first = enc.labels_for(np.full(target_unlabelled.n_tokens, -1, dtype=np.int64))  # -1 at first pieces
    piece_soft = np.zeros((enc.ids.size, ls.num_tags), dtype=np.float32)
    pos = np.flatnonzero(first != -100)
    piece_soft[pos] = soft[enc.piece_word[pos]]
    if hard_labels == "agree":
        arg = P.argmax(-1)  # [K, n_tokens]
        agree_tok = (arg == arg[0]).all(0)
        first[pos] = np.where(agree_tok, arg[0], -1)[enc.piece_word[pos]]
        info["hard_label_tokens"] = int(agree_tok.sum())
    ds = SegmentDataset(enc, first, piece_soft)
    args = training_args(out, hp, seed, len(ds), save_steps, extra_cols=True)
    Trainer = _trainer_class()
    Trainer.loss_name = hp.get("loss", "mse")
    Trainer.temperature = T
    trainer = Trainer(model=student, args=args, train_dataset=ds, data_collator=PadCollator(senc.pad_id),
                      callbacks=with_console(callbacks, "distill"))
    t1 = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    student.save_pretrained(out, safe_serialization=True)
    from xner.hf import save_tokenizer

    save_tokenizer(stok, out)
    card = {
        "kind": "distill", "teachers": teachers, "teacher_langs": _safe_langs(teachers),
        "target": target_unlabelled.lang, "student": student_name, "student_layers": student_layers,
        "frozen_layers": frozen, "hyperparameters": hp, "seed": seed, "data": data_path(data),
        "distilled_on": text_record(target_unlabelled), "hard_labels": hard_labels,
        "weights": info, "unlabelled_sentences": len(target_unlabelled), "augment": augment,
        "augment_stats": aug_stats, "encoding": enc.stats.to_json(),
        "resumed_from": str(resume) if resume else None, "steps": int(result.global_step),
        "train_loss": float(result.training_loss), "teacher_seconds": round(teacher_s, 1),
        "train_seconds": round(time.time() - t1, 1), "labels": ls.tags,
        "provenance": provenance(torch=torch.__version__),
    }
    if eval_corpus is not None:
        card["eval"] = eval_card(student, senc, eval_corpus)
    card["checkpoints"] = finish_run(out, keep_checkpoints)
    write_card(out, card)
    return card


def _safe_langs(teachers: list[str]) -> list[str] | None:
    try:
        return teacher_langs(teachers)
    except XnerError:
        return None
