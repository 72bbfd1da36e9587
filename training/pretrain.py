"""Language-adaptive pretraining (LAPT, Chau & Smith 2021): masked-LM training on unlabelled text.

``xner pretrain`` continues an existing encoder (``--model``) or a random one built as ``init-model``
does (``--init SPEC``) with the Hugging Face Trainer, on the train split and ``extra`` split of
languages of a data folder (never dev or test) or on plain text files.  With ``--vocab-augment N``
the vocabulary first gets up to N target pieces (:mod:`vocab_augment`, TVA).  The loss is computed
at the masked positions only: their hidden states are gathered before the vocabulary projection,
so a large vocabulary costs (masked tokens x vocabulary), not (all tokens x vocabulary).

The output folder is an ``AutoModelForMaskedLM`` folder (safetensors, tokenizer) with
``pretrain_card.json``; reruns follow :mod:`runs` (same inputs resume, others are refused).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from xner.console import say
from xner.corpus import Corpus
from xner.errors import XnerError
from xner.families import token_limit
from xner.fingerprint import corpus_sha256
from xner.io import write_json
from xner.provenance import provenance

from .pretrain_data import encode_sentences, parse_init_spec, write_tsv
from .tokenizers_train import vocab_hash

__all__ = ["CARD", "DEFAULTS", "lm_head", "masked_lm_loss", "mlm_collator", "pretrain"]

CARD = "pretrain_card.json"
#: hyperparameters of ``xner pretrain`` unless flags say otherwise (one pass over the text)
DEFAULTS = {"preset": "pretrain", "epochs": 1, "batch_size": 32, "lr": 5e-5, "max_length": 128, "max_steps": None,
            "scheduler": "linear", "warmup_ratio": 0.01, "weight_decay": 0.01}
#: the masked-LM head of each family, applied in order to the encoder's last hidden states
_HEADS = {"bert": ("cls",), "roberta": ("lm_head",), "xlm-roberta": ("lm_head",),
          "electra": ("generator_predictions", "generator_lm_head")}


def lm_head(model) -> list | None:
    """The modules that turn hidden states into vocabulary logits, or None for an unknown family."""
    names = _HEADS.get(getattr(model.config, "model_type", None))
    if names is None or not all(hasattr(model, n) for n in names):
        return None
    return [getattr(model, n) for n in names]


def masked_lm_loss(model, inputs: dict, labels, num_items_in_batch=None):
    """Cross-entropy at the masked positions (labels != -100) only: the same number as the model's
    own masked-LM loss, but the vocabulary projection runs on the masked hidden states alone.
    ``num_items_in_batch`` (the Trainer's count over accumulated batches) replaces the mean."""
    import torch.nn.functional as F

    head = lm_head(model)
    if head is None:  # an unregistered family: the model's own (full) loss
        return model(**inputs, labels=labels).loss
    hidden = model.base_model(**inputs)[0]
    sel = labels != -100
    if not bool(sel.any()):
        return hidden.sum() * 0.0  # nothing masked in this batch: no signal, but a graph
    h = hidden[sel]
    for m in head:
        h = m(h)
    loss = F.cross_entropy(h.float(), labels[sel], reduction="sum")
    return loss / (num_items_in_batch if num_items_in_batch is not None else sel.sum())


def _trainer_class():
    from transformers import Trainer

    class MaskedOnlyTrainer(Trainer):
        """The Trainer with :func:`masked_lm_loss`."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs = dict(inputs)
            labels = inputs.pop("labels")
            loss = masked_lm_loss(model, inputs, labels, num_items_in_batch)
            return (loss, None) if return_outputs else loss

    return MaskedOnlyTrainer


class _Collate:
    """DataCollatorForLanguageModeling with a generator seeded per batch from the run's seed and the
    batch's example numbers, so a resumed run masks exactly as an uninterrupted one (the Trainer skips
    the batches it has seen without collating them).  transformers' collator pads ids and masks but not
    the word offsets whole-word masking reads: those are padded here (as special positions) first."""

    def __init__(self, tok, kw: dict, seed: int):
        from transformers import DataCollatorForLanguageModeling

        self.cls, self.tok, self.kw, self.seed = DataCollatorForLanguageModeling, tok, kw, seed
        self.cls(tok, seed=seed, **kw)  # bad settings fail here, not in the first batch

    def batch_seed(self, examples: list[dict]) -> int:
        h = hashlib.sha256(str(self.seed).encode())
        for e in examples:
            h.update(b"|" + (str(e["idx"]).encode() if "idx" in e else repr(list(e["input_ids"])).encode()))
        return int.from_bytes(h.digest()[:8], "little") >> 1

    def __call__(self, examples: list[dict]) -> dict:
        seed = self.batch_seed(examples)
        examples = [{k: v for k, v in e.items() if k != "idx"} for e in examples]
        if examples and "offset_mapping" in examples[0]:
            n = max(len(e["input_ids"]) for e in examples)
            examples = [{**e, "offset_mapping": list(e["offset_mapping"]) + [(0, 0)] * (n - len(e["input_ids"]))}
                        for e in examples]
        return self.cls(self.tok, seed=seed, **self.kw)(examples)


def mlm_collator(tok, mlm_probability: float = 0.15, whole_word_mask: bool = False, seed: int = 0):
    """Masked-LM batches from transformers' DataCollatorForLanguageModeling (seeded, see
    :class:`_Collate`); whole-word masking (transformers 5's ``whole_word_mask=True``) masks every
    piece of a chosen word and always with the mask token."""
    if not 0 < mlm_probability < 1:
        raise XnerError(f"--mlm-probability must be between 0 and 1 (got {mlm_probability})")
    if tok.mask_token is None:
        raise XnerError("the tokenizer has no mask token; it cannot be trained as a masked LM")
    kw: dict = {"mlm_probability": mlm_probability}
    if whole_word_mask:
        kw.update(whole_word_mask=True, mask_replace_prob=1.0, random_replace_prob=0.0)
    try:
        return _Collate(tok, kw, seed)
    except TypeError:  # transformers 4 has a separate class and no generator seed
        raise XnerError("xner pretrain needs transformers >= 5 (seeded masking, whole_word_mask)") from None


def _sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _describe(corpora: list[Corpus]) -> tuple[list[dict], str]:
    """Per-corpus entries (language, split or file, sentences, corpus_sha256) and their joint hash."""
    entries = []
    for c in corpora:
        e = {"lang": c.lang or None, "split": c.meta.get("split"), "file": c.meta.get("file") or c.source or None,
             "sentences": len(c), "corpus_sha256": corpus_sha256(c)}
        entries.append(e)
    joint = hashlib.sha256("\n".join(e["corpus_sha256"] for e in entries).encode()).hexdigest()
    return entries, joint


def _init_vocab(spec: dict, data_dir: str | None) -> str | None:
    """The vocabulary file an ``--init`` spec names (None: a tokenizer trained on the text)."""
    vocab = spec["vocab"]
    if vocab == "train":
        return None
    if vocab == "mbert":
        from xner.hub import mbert_vocab

        vocab = mbert_vocab(data_dir)
    if not Path(vocab).is_file():
        raise XnerError(f"--init: vocabulary file not found: {vocab}")
    return str(vocab)


def _label(e: dict) -> str:
    return f"{e['lang']}/{e['split']}" if e["lang"] else Path(e["file"] or "?").name


def _start_model(model_name: str | None, init: str | None, tsv: Path, tmp: Path, seed: int,
                 data_dir: str | None) -> tuple[object, object, dict]:
    """(masked LM, tokenizer, what it is) from ``--model`` or ``--init``."""
    from transformers import AutoModelForMaskedLM, set_seed

    from xner.hf import from_pretrained_quietly, load_tokenizer

    set_seed(seed)  # a new head (and an --init model) is drawn from the run's seed
    info: dict = {}
    if init is not None:
        from .models import init_model

        spec = parse_init_spec(init)
        vfile = _init_vocab(spec, data_dir)
        src = init_model(spec["arch"], tmp / "init", vfile, None if vfile else [str(tsv)], spec["hidden"],
                         spec["layers"], spec["heads"], spec["intermediate"], spec["positions"], spec["vocab-size"],
                         seed=seed)
        what = {"init": spec, "vocab_file_sha256": _sha256_file(vfile) if vfile else None}
        name = str(src)
    else:
        name = str(model_name)
        what = {"model": name}
    tok = load_tokenizer(name)
    try:
        model = from_pretrained_quietly(AutoModelForMaskedLM, name, info=info, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise XnerError(f"cannot load a masked LM from {name!r}: {str(e).splitlines()[0]}") from None
    what["mlm_head"] = "new" if info.get("new_head") else "loaded"
    return model, tok, what


def _identity(model_name: str | None, init: str | None, corpora: list[Corpus], hp: dict, seed: int,
              mlm_probability: float, whole_word_mask: bool, vocab_augment: int | None,
              data_dir: str | None) -> dict:
    from .runs import model_identity

    if model_name:
        start: dict = {"model": model_identity(model_name)}
    else:
        spec = parse_init_spec(init or "")
        vfile = _init_vocab(spec, data_dir)
        start = {"init": spec, "vocab_file_sha256": _sha256_file(vfile) if vfile else None}
    return {"kind": "pretrain", **start,
            "data": [{"lang": c.lang or None, "split": c.meta.get("split"), "sentences": len(c),
                      "sha256": corpus_sha256(c)} for c in corpora],
            "seed": seed, "hyperparameters": hp, "mlm_probability": mlm_probability,
            "whole_word_mask": whole_word_mask, "vocab_augment": vocab_augment}


class _TiedKeysFilter(logging.Filter):
    """The Trainer warns that a checkpoint lacks the tied output weights (saved once, as the
    embeddings): drop that warning when every key it names is tied to a saved one."""

    def __init__(self, model):
        super().__init__()
        by_ptr: dict[int, list[str]] = {}
        for name, t in model.named_parameters(remove_duplicate=False):
            by_ptr.setdefault(t.data_ptr(), []).append(name)
        self.tied = {n for names in by_ptr.values() if len(names) > 1 for n in names}

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "missing keys in the checkpoint" not in msg or "[" not in msg:
            return True
        try:
            keys = ast.literal_eval(msg[msg.index("["):msg.rindex("]") + 1])
        except (ValueError, SyntaxError):
            return True
        return not set(keys) <= self.tied


def _finished(resume: Path | None) -> dict | None:
    """The trainer state of a checkpoint that ends its run (the Trainer would take one step too many
    when resumed there in mid-epoch), else None."""
    if resume is None:
        return None
    try:
        state = json.loads((resume / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if state.get("max_steps") and state.get("global_step", 0) >= state["max_steps"] else None


def _train(net, examples: list[dict], collator, out: Path, hp: dict, seed: int, save_steps: int | None,
           resume: Path | None) -> tuple[int, list, float | None, float]:
    """(steps, [[step, loss], ...], mean training loss, seconds) of the Trainer's run."""
    from .finetune import training_args

    done = _finished(resume)
    if done is not None and hp["max_steps"] and done["max_steps"] == hp["max_steps"]:
        from safetensors.torch import load_file

        assert resume is not None
        missing, unexpected = net.load_state_dict(load_file(str(resume / "model.safetensors")), strict=False)
        if unexpected or not set(missing) <= _TiedKeysFilter(net).tied:
            raise XnerError(f"{resume}: the checkpoint does not match the model; rerun with --overwrite")
        history = [[int(h["step"]), float(h["loss"])] for h in done.get("log_history", []) if "loss" in h]
        say(f"[pretrain] {resume.name} already ends the run: nothing left to train")
        return int(done["global_step"]), history, None, 0.0
    args = training_args(out, hp, seed, len(examples), save_steps, extra_cols=True)
    from .progress import with_console

    trainer = _trainer_class()(model=net, args=args, train_dataset=examples, data_collator=collator,
                               callbacks=with_console(None, "pretrain"))
    quiet = _TiedKeysFilter(net)
    log = logging.getLogger("transformers.trainer")
    log.addFilter(quiet)
    t0 = time.time()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the Trainer's log lines are human text
            result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    finally:
        log.removeFilter(quiet)
    history = [[int(h["step"]), float(h["loss"])] for h in trainer.state.log_history if "loss" in h]
    return int(result.global_step), history, float(result.training_loss), time.time() - t0


def _check(hp: dict, mlm_probability: float, vocab_augment: int | None, save_steps: int | None) -> None:
    for flag, value, least in (("--batch-size", hp["batch_size"], 1), ("--max-length", hp["max_length"], 4),
                               ("--max-steps", hp["max_steps"], 0), ("--vocab-augment", vocab_augment, 1),
                               ("--save-steps", save_steps, 1)):
        if value is not None and value < least:
            raise XnerError(f"{flag} must be at least {least} (got {value})")
    if not hp["lr"] > 0:
        raise XnerError(f"--lr must be positive (got {hp['lr']})")
    if not 0 < mlm_probability < 1:
        raise XnerError(f"--mlm-probability must be between 0 and 1 (got {mlm_probability})")


def pretrain(out: str | os.PathLike, corpora: list[Corpus], model: str | None = None, init: str | None = None,
             hp: dict | None = None, seed: int = 42, mlm_probability: float = 0.15, whole_word_mask: bool = False,
             vocab_augment: int | None = None, save_steps: int | None = None, overwrite: bool = False,
             data_dir: str | None = None, langs: list[str] | None = None, keep_checkpoints: bool = False) -> dict:
    """Masked-LM pretraining of ``model`` (a folder or hub id: LAPT) or of a model built from the
    ``init`` spec, on ``corpora`` (unlabelled: their tags are never read); writes a masked-LM folder
    with ``pretrain_card.json`` into ``out`` and returns the card.  ``hp``: :data:`DEFAULTS` keys;
    ``max_steps`` 0 builds (and augments) the model without training it."""
    import torch

    from .runs import finish_run, finished_card, prepare_run

    if (model is None) == (init is None):
        raise XnerError("give exactly one of --model M or --init SPEC")
    if init is not None:
        parse_init_spec(init)  # a bad spec fails before anything is written
    if not corpora or not any(len(c) for c in corpora):
        raise XnerError("no text to pretrain on")
    hp = {**DEFAULTS, **{k: v for k, v in (hp or {}).items() if v is not None}}
    _check(hp, mlm_probability, vocab_augment, save_steps)
    out = Path(out)
    if model is not None and Path(model).exists() and Path(model).resolve() == out.resolve():
        raise XnerError("--out must not be the --model folder")
    identity = _identity(model, init, corpora, hp, seed, mlm_probability, whole_word_mask, vocab_augment, data_dir)
    resume = prepare_run(out, identity, overwrite, inputs=[model, data_dir, *(c.source for c in corpora)])
    done = finished_card(out, CARD)
    if done is not None:  # a finished run: its card and model stay as they are
        say(f"[pretrain] {out} holds this run, finished: nothing to do (--overwrite to pretrain afresh)")
        return done
    entries, joint = _describe(corpora)
    sentences = [s for c in corpora for s in c.sentences() if s]
    say(f"[pretrain] {model or init} on {len(sentences)} sentences ({', '.join(_label(e) for e in entries)})")
    with tempfile.TemporaryDirectory(prefix="xner-pretrain-") as tmpdir:
        tmp = Path(tmpdir)
        tsv = write_tsv(tmp / "text.tsv", sentences)
        net, tok, start = _start_model(model, init, tsv, tmp, seed, data_dir)
        augmented = None
        if vocab_augment:
            from .vocab_augment import augment_vocabulary

            tok, augmented = augment_vocabulary(net, tok, sentences, [str(tsv)], vocab_augment)
            say(f"[pretrain] vocabulary augmented with {augmented['added']} pieces (of {vocab_augment} asked)")
    collator = mlm_collator(tok, mlm_probability, whole_word_mask, seed)
    max_length = min(int(hp["max_length"]), token_limit(net.config))  # never past the position table
    examples, truncated = encode_sentences(tok, sentences, max_length, whole_word_mask)
    steps, history, train_loss, train_s = 0, [], None, 0.0
    if hp["max_steps"] != 0:
        steps, history, train_loss, train_s = _train(net, examples, collator, out, hp, seed, save_steps, resume)
    net.save_pretrained(out, safe_serialization=True)
    from xner.hf import save_tokenizer

    save_tokenizer(tok, out)
    card = {
        "kind": "pretrain", "model": model, "init": start.get("init"),
        "vocab_file_sha256": start.get("vocab_file_sha256"), "mlm_head": start["mlm_head"],
        "model_type": net.config.model_type,
        "data": {"source": data_dir, "langs": langs, "files": [e["file"] for e in entries], "corpora": entries,
                 "corpus_sha256": joint, "sentences": len(sentences), "max_length": max_length, "truncated": truncated},
        "seed": seed, "hyperparameters": hp, "mlm_probability": mlm_probability,
        "whole_word_mask": whole_word_mask, "loss": "masked positions only" if lm_head(net) else "model (full)",
        "vocab_augment": augmented, "vocab_size": len(tok), "vocab_sha256": vocab_hash(tok),
        "steps": steps, "final_loss": history[-1][1] if history else None, "train_loss": train_loss,
        "loss_history": history, "resumed_from": str(resume) if resume else None,
        "train_seconds": round(train_s, 1), "provenance": provenance(torch=torch.__version__),
    }
    card["checkpoints"] = finish_run(out, keep_checkpoints)
    write_json(out / CARD, card)
    return card
