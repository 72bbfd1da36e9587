"""Subcommands ``init-model``, ``train`` and ``distill``."""

from __future__ import annotations

import argparse

from xner.cli import command, emit, logs_to, set_torch_threads
from xner.console import say
from xner.families import archs
from xner.options import (
    add_console,
    add_data,
    add_lang,
    add_out,
    add_runtime,
    add_seed,
    add_split,
    add_train_langs,
)


@command
def _init_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init-model", help="build a randomly initialised encoder with a real tokenizer (offline)",
                       description="Build a random-init BERT or XLM-R token-classification model of a chosen "
                       "size with a real tokenizer: an existing WordPiece vocabulary (e.g. mBERT's) or one "
                       "trained on corpus files. Saved as safetensors.")
    p.add_argument("--arch", required=True, choices=archs(), help="a registered model family")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--vocab", help="WordPiece vocab.txt (cased, no accent stripping)")
    g.add_argument("--train-tokenizer-on", nargs="+", metavar="DATA", help="corpus files to train a tokenizer on")
    p.add_argument("--vocab-size", type=int, default=8000, help="size of a trained tokenizer (default 8000)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=None, help="feed-forward size (default 4 x hidden)")
    p.add_argument("--max-length", type=int, default=512, help="position embeddings (default 512)")
    add_seed(p, 0, "seed of the random initialisation")
    add_out(p, help="model folder to write")
    add_console(p)
    p.set_defaults(func=run_init_model, **logs_to(lambda a: a.out))


def run_init_model(args: argparse.Namespace) -> int:
    from .models import init_model

    out = init_model(args.arch, args.out, args.vocab, args.train_tokenizer_on, args.hidden, args.layers, args.heads,
                     args.intermediate, args.max_length, args.vocab_size, seed=args.seed)
    emit(args, {"model": str(out), "arch": args.arch, "hidden": args.hidden, "layers": args.layers,
                "heads": args.heads, "seed": args.seed}, f"model written to {out}")
    return 0


def add_hparams(p: argparse.ArgumentParser, default_preset: str) -> None:
    p.add_argument("--preset", default=default_preset,
                   help=f"named hyperparameters from presets.toml (default {default_preset}; see --list-presets)")
    p.add_argument("--epochs", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--max-length", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--save-steps", type=int, help="checkpoint every N steps (default: a quarter of the run)")
    add_seed(p, 42, "training seed")
    p.add_argument("--overwrite", action="store_true",
                   help="train into --out even if it holds a different run or other files (old checkpoints are "
                   "removed); without it a matching run is resumed and anything else is refused")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep the optimizer checkpoints (OUT/checkpoints, 4-7x the model's size) once the run "
                   "finished; by default they are removed and only the model stays")


@command
def _train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune a token-classification model (native, zero-shot, joint)",
                       description="Fine-tune on the train split of one or more languages and evaluate on the "
                       "test split of --lang with xner's scorer. Rerun with the same --out to resume.")
    p.add_argument("--model", required=True, help="PyTorch model: hub id or folder (from init-model or pretrain)")
    add_data(p)
    add_train_langs(p)
    add_lang(p, help="the language evaluated after training (its --split)")
    add_split(p, "test")
    p.add_argument("--setting", choices=["native", "zero-shot", "joint"], help="checked against the languages")
    p.add_argument("--freeze-layers", type=int, help="freeze embeddings and the bottom N layers (wu-teacher: 3)")
    p.add_argument("--label-all", action="store_true", help="label every sub-token, not just the first")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--augment", help="robust training: NAME:RATE[,NAME:RATE] perturbed copies of the training "
                   "sentences are added (e.g. name_swap:0.3,char_noise:0.2)")
    add_out(p, help="model folder to write (rerun with the same --out to resume)")
    add_hparams(p, "study")
    add_runtime(p, provider=False, help_threads="torch threads (default: $OMP_NUM_THREADS, else every core)")
    add_console(p)
    p.set_defaults(func=run_train, **logs_to(lambda a: a.out))


def run_train(args: argparse.Namespace) -> int:
    from xner.datadir import open_source
    from xner.langs import parse_langs

    from .jobs import train_from_source

    src = open_source(args.data_dir, args.repair)
    set_torch_threads(args.threads)
    card = train_from_source(args.model, src, parse_langs(args.train_langs), args.lang, args.out, _hp(args),
                             args.seed, args.setting, args.split, args.split_scheme, args.split_seed,
                             args.augment, _augmenter(args, src), args.save_steps, args.label_all,
                             args.trust_remote_code, overwrite=args.overwrite, keep_checkpoints=args.keep_checkpoints)
    _report(args, card)
    return 0


def _hp(args: argparse.Namespace) -> dict:
    from .presets import resolve

    return resolve(args.preset, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                   max_length=args.max_length, max_steps=args.max_steps, loss=getattr(args, "loss", None),
                   temperature=getattr(args, "temperature", None), freeze_layers=getattr(args, "freeze_layers", None))


def _augmenter(args: argparse.Namespace, src):
    """Robust training draws on the robustness package; the command line composes the two."""
    if not args.augment:
        return None
    from xner.robustness.augment import augmenter

    return augmenter(args.augment, args.seed, src)


def _report(args: argparse.Namespace, card: dict) -> None:
    ev = card.get("eval")
    text = f"{card['kind']}: {card.get('steps')} steps in {card.get('train_seconds')} s -> {args.out}"
    if ev:
        text = (f"{card['kind']}: F1 {ev['f1']:.4f} (P {ev['precision']:.4f} R {ev['recall']:.4f}) on "
                f"{ev['lang']}/{ev['split']}, {card['steps']} steps in {card['train_seconds']} s -> {args.out}")
    emit(args, {k: card[k] for k in ("kind", "setting", "steps", "train_seconds", "weights") if k in card}
         | {"model": str(args.out), "eval": ev}, text)


@command
def _distill(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("distill", help="teacher-student distillation on unlabelled target text (1..K teachers)",
                       description="Teachers label the target's train split with its tags dropped; the student "
                       "learns their (weighted) per-word distributions. Evaluated on the target's test split.")
    p.add_argument("--teachers", required=True, help="comma-separated teacher model folders")
    add_train_langs(p, required=False, help="the teachers' source languages, in order (default: from each "
                    "teacher's run.json)")
    add_data(p)
    add_lang(p, help="the target language: its train split (tags dropped) is the unlabelled text, its test "
             "split evaluates the student")
    p.add_argument("--student", required=True, help="student model: hub id or folder (a teacher, to compress it)")
    p.add_argument("--student-layers", type=int, help="keep N encoder layers, taken evenly from --student")
    p.add_argument("--weighting", default="uniform", choices=["uniform", "langid", "langid-sentence"])
    p.add_argument("--loss", choices=["mse", "kl"])
    p.add_argument("--temperature", type=float)
    p.add_argument("--freeze-layers", type=int, help="freeze embeddings and the bottom N layers")
    p.add_argument("--langid-temperature", default="var", choices=["var", "std", "none"],
                   help="langid weights: scores x 1/Var(scores) before the softmax as Wu et al. (var, default), "
                   "1/Std, or the raw softmax (none)")
    p.add_argument("--langid-encoder", default="student", choices=["student", "teacher"],
                   help="sentence embeddings of the language identifier: the student's starting model (default; "
                   "Wu's pre-trained base) or the first teacher")
    add_split(p)
    p.add_argument("--hard-labels", default="none", choices=["none", "agree"],
                   help="agree: add cross-entropy on words where all teachers agree")
    p.add_argument("--augment", help="NAME:RATE[,...]: perturbed copies of the unlabelled target text are added")
    add_out(p, help="student folder to write (rerun with the same --out to resume)")
    add_hparams(p, "student")
    add_runtime(p, provider=False, help_threads="torch threads (default: $OMP_NUM_THREADS, else every core)")
    add_console(p)
    p.set_defaults(func=run_distill, **logs_to(lambda a: a.out))


def run_distill(args: argparse.Namespace) -> int:
    from xner.datadir import open_source

    from .jobs import distill_from_source

    src = open_source(args.data_dir, args.repair)
    set_torch_threads(args.threads)
    card = distill_from_source([t for t in args.teachers.split(",") if t], src, args.lang, args.student,
                               args.out, _hp(args), args.seed, args.weighting,
                               args.train_langs.split(",") if args.train_langs else None, args.student_layers,
                               args.hard_labels, args.augment, _augmenter(args, src), args.save_steps, args.overwrite,
                               args.split_scheme, args.split_seed, args.langid_temperature, args.langid_encoder,
                               keep_checkpoints=args.keep_checkpoints)
    say(f"teacher weights (mean over target sentences): {card['weights']['weights_mean']}")
    _report(args, card)
    return 0
