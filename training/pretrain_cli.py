"""Subcommand ``pretrain``: language-adaptive masked-LM pretraining (LAPT) and vocabulary augmentation (TVA)."""

from __future__ import annotations

import argparse

from xner.cli import add_data_dir, command, emit, logs_to, set_torch_threads
from xner.options import add_console

from .pretrain_data import INIT_HELP

__all__ = ["run_pretrain"]


@command
def _pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="masked-LM pretraining on unlabelled text (LAPT, vocabulary augmentation)",
                       description="Language-adaptive pretraining (Chau & Smith 2021): continue an encoder "
                       "(--model) or a new one (--init) as a masked LM on the train and extra splits of languages "
                       "of a data folder (never dev or test) or on plain text files (one sentence per line, "
                       "whitespace tokenised). Writes a masked-LM folder (safetensors, tokenizer, "
                       "pretrain_card.json) that train, distill --student, perturb --mlm and --vectors accept. "
                       "Rerun with the same --out to resume.")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="encoder to continue (LAPT): hub id or folder with a masked-LM or "
                   "token-classification model (the encoder is kept, a missing masked-LM head is built)")
    g.add_argument("--init", metavar="SPEC", help="build a random encoder as init-model does: " + INIT_HELP)
    add_data_dir(p)
    t = p.add_mutually_exclusive_group(required=True)
    t.add_argument("--langs", help="comma-separated languages of --data-dir: their train split and extra split "
                   "(if present), without any sentence whose text is a dev or test sentence of these languages")
    t.add_argument("--text", nargs="+", metavar="FILE", help="plain text files, one sentence per line")
    p.add_argument("--heldout-langs", default="",
                   help="with --langs: also drop every sentence whose text is a dev or test sentence of these "
                   "languages (the targets the encoder will be tested on; comma-separated or a named set)")
    p.add_argument("--out", required=True, help="masked-LM folder to write (rerun with the same --out to resume)")
    p.add_argument("--max-steps", type=int, help="optimiser steps (default: one pass over the text; 0: build and "
                   "augment only, no training)")
    p.add_argument("--mlm-probability", type=float, default=0.15, help="share of tokens masked (default 0.15)")
    p.add_argument("--whole-word-mask", action="store_true", help="mask every piece of a chosen word (always "
                   "with the mask token)")
    p.add_argument("--vocab-augment", type=int, metavar="N", help="TVA: first add up to N word pieces trained on "
                   "the same text that the tokenizer lacks, most frequent first; each new embedding is the mean "
                   "of the pieces the old tokenizer split it into (WordPiece models only)")
    p.add_argument("--seed", type=int, default=42, help="seed of initialisation, masking and data order")
    p.add_argument("--batch-size", type=int, help="default 32")
    p.add_argument("--lr", type=float, help="learning rate (default 5e-5)")
    p.add_argument("--max-length", type=int, help="pieces per sentence, longer ones are truncated (default 128)")
    p.add_argument("--save-steps", type=int, help="checkpoint every N steps (default: a quarter of the run)")
    p.add_argument("--overwrite", action="store_true",
                   help="pretrain into --out even if it holds a different run or other files (old checkpoints "
                   "are removed); without it a matching run is resumed and anything else is refused")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep the optimizer checkpoints (OUT/checkpoints, 4-7x the model's size) once the run "
                   "finished; by default they are removed and only the model stays")
    p.add_argument("--threads", type=int, help="torch threads (default: $OMP_NUM_THREADS, else every core)")
    add_console(p)  # --json: the run card on stdout; --quiet, --verbose
    p.set_defaults(func=run_pretrain, **logs_to(lambda a: a.out))


def run_pretrain(args: argparse.Namespace) -> int:
    from .pretrain import pretrain
    from .pretrain_data import read_text, text_from_source

    langs, data_dir = None, args.data_dir
    if args.text:
        corpora = [read_text(f) for f in args.text]
    else:
        from xner.datadir import open_source
        from xner.langs import parse_langs

        langs = parse_langs(args.langs)
        src = open_source(args.data_dir, args.repair)
        corpora = text_from_source(src, langs, parse_langs(args.heldout_langs) if args.heldout_langs else ())
        data_dir = src.name  # a local folder's path (mBERT's vocabulary is looked for beside it), or hub:NAME
    set_torch_threads(args.threads)
    hp = {"batch_size": args.batch_size, "lr": args.lr, "max_length": args.max_length, "max_steps": args.max_steps}
    card = pretrain(args.out, corpora, args.model, args.init, hp, args.seed, args.mlm_probability,
                    args.whole_word_mask, args.vocab_augment, args.save_steps, args.overwrite,
                    data_dir, langs, keep_checkpoints=args.keep_checkpoints)
    loss = card["final_loss"]
    tva = card["vocab_augment"]
    emit(args, card, f"pretrain: {card['steps']} steps in {card['train_seconds']} s"
         + (f", final loss {loss:.4f}" if loss is not None else "")
         + (f", {tva['added']} pieces added" if tva else "") + f" -> {args.out}")
    return 0
