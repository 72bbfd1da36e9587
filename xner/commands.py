"""Core subcommands: ``langs``, ``data stats|overlap|convert|split``, ``score``.

Stage packages register their own subcommands in their ``cli`` modules, imported at the end.
Heavy libraries (torch, onnxruntime) are imported inside handlers only, so ``xner --help`` is fast.
"""

from __future__ import annotations

import argparse
import sys

from .cli import command, emit
from .errors import XnerError
from .options import (
    add_console,
    add_data,
    add_lang,
    add_out,
    add_overwrite,
    add_split,
    add_train_langs,
    alias,
)
from .scorefiles import load_aligned, render_scores


# -- langs ----------------------------------------------------------------------------------------
@command
def _langs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("langs", help="languages, study pairs, multi-source groups, named sets",
                       description="Print the language registry: the study's 21-language pool, its 13 "
                       "HRL->LRL pairs, related/unrelated source groups per LRL and the named sets.")
    add_console(p)
    p.set_defaults(func=run_langs)


def run_langs(args: argparse.Namespace) -> int:
    from .langs import registry_json, render_table

    emit(args, registry_json(), None if args.json else render_table())
    return 0


# -- data -----------------------------------------------------------------------------------------
@command
def _data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="corpus statistics, overlap, conversion and splits",
                       description="Inspect and convert NER corpora.")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True

    s = dsub.add_parser("stats", help="sentences, tokens and entities per type, per split",
                        description="Sentences, tokens and entities per type for each split of a language.")
    add_data(s)
    add_lang(s)
    add_split(s)
    alias(s, "--seed", dest="split_seed", type=int)
    add_console(s)
    s.set_defaults(func=run_stats)

    o = dsub.add_parser("overlap", help="overlap measures between a train and a test corpus",
                        description="Overlap between the training split of one language and the test split of "
                        "another: the reference study's measures as it computed them (entity token-and-tag overlap, "
                        "shared share of distinct test chunks, context overlap = O tokens its P2 may replace) and "
                        "xner's beside them (word-only entity overlap, mention share, O-word and vocabulary overlap). "
                        "README, 'Overlap measures', maps each to the study's column.")
    add_data(o)
    add_train_langs(o, help="the training language")
    o.add_argument("--train-split", default="train", help="its split (default train)")
    add_lang(o, help="the test language")
    add_split(o, "test")
    alias(o, "--seed", dest="split_seed", type=int)
    add_console(o)
    o.set_defaults(func=run_overlap)

    c = dsub.add_parser("convert", help="convert between corpus formats",
                        description="Read a corpus in any supported format and write it in another.")
    c.add_argument("input", help="file (tsv, rahimi, conll, jsonl, parquet) or datasets save_to_disk folder")
    c.add_argument("output", help="output file; format from --to or the extension")
    c.add_argument("--from", dest="fmt_in", default="auto",
                   choices=["auto", "tsv", "rahimi", "conll", "jsonl", "parquet", "hf"])
    c.add_argument("--to", dest="fmt_out", default="auto", choices=["auto", "tsv", "rahimi", "conll", "jsonl", "parquet"])
    c.add_argument("--lang", default="", help="language code (needed to write the Rahimi format)")
    c.add_argument("--split", default=None, help="split of a DatasetDict folder")
    c.add_argument("--types", default=None, help="entity types, comma separated (default PER,ORG,LOC)")
    c.add_argument("--repair", default="keep", choices=["conlleval", "drop", "error", "keep"])
    add_overwrite(c, "output")
    add_console(c)
    c.set_defaults(func=run_convert)

    sp = dsub.add_parser("split", help="write the study split (pooled, capped at 17,003, seeded 80/20)",
                         description="Write the reference study's split of a language as train.tsv and test.tsv.")
    add_data(sp)
    add_lang(sp)
    sp.add_argument("--split-seed", type=int, default=42, help="seed of the study split (default 42)")
    alias(sp, "--seed", dest="split_seed", type=int)
    add_out(sp, help="output folder; files go to OUT/{lang}/{train,test}.tsv (never the data folder itself)")
    add_overwrite(sp)
    add_console(sp)
    sp.set_defaults(func=run_split)

    t = dsub.add_parser("transliterate", help="write a romanized copy of a language's splits (tags unchanged)",
                        description="Romanize every word of a language's splits (uroman by default) and write "
                        "OUT/{lang}/{split}.tsv with the tags unchanged, plus OUT/{lang}/transliterate.json (romanizer "
                        "and version, the source corpora's sha256): a data folder `xner train --data-dir OUT` reads. "
                        "Refuses an OUT that holds anything this command did not write; an earlier output for the "
                        "same language is replaced whole.")
    t.add_argument("--data-dir", help="data folder laid out as {lang}/{train,dev,test}.tsv (default: $XNER_DATA_DIR, "
                   "else the 'wikiann' hub dataset)")
    t.add_argument("--repair", default="keep", choices=["conlleval", "drop", "error", "keep"],
                   help="IOB2 repair policy for a stray I- tag (default: keep, the tags are copied as they are)")
    t.add_argument("--lang", required=True, help="language code, e.g. hi")
    t.add_argument("--out", required=True, help="output data folder; files go to OUT/{lang}/{split}.tsv")
    t.add_argument("--splits", default=None, help="splits, comma separated (default: every split of the language)")
    t.add_argument("--romanizer", default="uroman", choices=["uroman", "anyascii"],
                   help="uroman (default) or anyascii (when installed)")
    add_console(t)
    t.set_defaults(func=run_transliterate)


def _labels(types: str | None):
    from .scorefiles import declared_labels

    return declared_labels(types)


def run_stats(args: argparse.Namespace) -> int:
    from .datadir import open_source
    from .splits import load_split
    from .stats import corpus_stats, render

    src = open_source(args.data_dir, args.repair)
    splits = ["train", "test"] if args.split_scheme == "study" else src.splits(args.lang)
    stats = {s: corpus_stats(load_split(src, args.lang, s, args.split_scheme, args.split_seed)) for s in splits}
    emit(args, {"lang": args.lang, "data": src.name, "split_scheme": args.split_scheme, "splits": stats},
         None if args.json else render(args.lang, stats))
    return 0


def run_overlap(args: argparse.Namespace) -> int:
    from .datadir import open_source
    from .overlap import overlap, render
    from .splits import load_split

    src = open_source(args.data_dir, args.repair)
    if "," in args.train_langs:
        raise XnerError("xner data overlap compares one training language with the test language: give one "
                        "code to --train-langs")
    train = load_split(src, args.train_langs, args.train_split, args.split_scheme, args.split_seed)
    test = load_split(src, args.lang, args.split, args.split_scheme, args.split_seed)
    ov = overlap(train, test)
    emit(args, ov, None if args.json else render(ov))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from .formats import read_corpus, write_corpus
    from .outputs import claim_file, record_file

    claim_file(args.output, inputs=[args.input], overwrite=args.overwrite, flag="output")
    c = read_corpus(args.input, args.fmt_in, _labels(args.types), args.lang, args.repair, args.split)
    if args.lang:
        c.lang = args.lang
    write_corpus(c, args.output, args.fmt_out)
    record_file(args.output, "xner data convert")
    msg = f"wrote {len(c)} sentences, {c.n_tokens} tokens to {args.output}"
    if args.json:
        emit(args, {"output": args.output, "sentences": len(c), "tokens": c.n_tokens, "lang": c.lang}, msg)
    else:
        print(msg, file=sys.stderr)
    return 0


def run_split(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .datadir import open_source
    from .formats import write_corpus
    from .io import write_json
    from .outputs import claim_file, claim_tree, record_file
    from .provenance import provenance
    from .splits import load_split

    src = open_source(args.data_dir, args.repair)
    from .console import say

    root = getattr(src, "root", None)
    # the output folder never overlaps the data folder (a split written into it would be read back,
    # pooled with the dev set it keeps); each file is claimed before anything is computed
    claim_tree(args.out, inputs=[root])
    out = Path(args.out) / args.lang
    files = [out / "train.tsv", out / "test.tsv", out / "split.json"]
    for f in files:
        claim_file(f, inputs=[root], overwrite=args.overwrite)
    written = {}
    parts = {split: load_split(src, args.lang, split, "study", args.split_seed) for split in ("train", "test")}
    out.mkdir(parents=True, exist_ok=True)
    for split, c in parts.items():
        write_corpus(c, out / f"{split}.tsv", "tsv")
        record_file(out / f"{split}.tsv", "xner data split")
        written[split] = {"file": str(out / f"{split}.tsv"), "sentences": len(c)}
        say(f"{split}: {len(c)} sentences -> {out / f'{split}.tsv'}")
    write_json(out / "split.json", provenance(data=src.name, lang=args.lang, scheme="study", seed=args.split_seed))
    record_file(out / "split.json", "xner data split")
    emit(args, {"lang": args.lang, "split_seed": args.split_seed, "splits": written})
    return 0


def run_transliterate(args: argparse.Namespace) -> int:
    from .cli import print_json
    from .datadir import open_source
    from .translit import transliterate_data

    src = open_source(args.data_dir, args.repair)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()] if args.splits else None
    quiet = getattr(args, "quiet", False)
    summary = transliterate_data(src, args.lang, args.out, splits, args.romanizer,
                                 say=lambda m: None if quiet else print(m, file=sys.stderr))
    if args.json:
        print_json(summary)
    return 0


# -- score ----------------------------------------------------------------------------------------
@command
def _score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="entity-level P/R/F1 of a prediction file (identical to seqeval)",
                       description="Score predicted tags against gold tags: micro and per-type precision, "
                       "recall and F1, identical to seqeval 1.2.2. default mode = seqeval's default "
                       "(conlleval chunking of B-/I-/E-/S- tags); strict = seqeval's strict mode with "
                       "--scheme IOB2 (default), IOBES or BILOU. Integer tag ids are WikiANN's "
                       "(O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC) unless --types declares others.")
    p.add_argument("--gold", required=True, help="gold file (tsv/conll/jsonl; token first, tag last)")
    p.add_argument("--pred", required=True, help="prediction file over the same tokens")
    p.add_argument("--mode", default="default", choices=["default", "strict"])
    p.add_argument("--scheme", default=None, choices=["IOB2", "IOBES", "BILOU"],
                   help="tagging scheme of strict mode (default IOB2); default mode reads B-/I-/E-/S- as seqeval")
    p.add_argument("--format", default="auto", choices=["auto", "tsv", "rahimi", "conll", "jsonl", "parquet"])
    p.add_argument("--types", default=None,
                   help="allowed entity types, comma separated (default: any type, as seqeval); integer tag "
                   "ids then mean O, B-T1, I-T1, B-T2, ... in this order")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N",
                   help="N bootstrap resamples of sentences for confidence intervals (e.g. 1000)")
    p.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
    p.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap resamples (default 0)")
    alias(p, "--seed", dest="bootstrap_seed", type=int)
    add_console(p)
    p.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    from .metrics import score
    from .provenance import provenance

    if args.bootstrap < 0:
        raise XnerError("--bootstrap must be >= 0")
    if not 0 < args.alpha < 1:
        raise XnerError("--alpha must be between 0 and 1")
    gold, pred = load_aligned(args.gold, args.pred, args.format, args.types, args.mode, args.scheme)
    s = score(gold, pred, args.mode, args.bootstrap, args.bootstrap_seed, args.alpha)
    emit(args, {**s.to_json(), "gold": args.gold, "pred": args.pred,
                "provenance": provenance(bootstrap=args.bootstrap, seed=args.bootstrap_seed)},
         None if args.json else render_scores(s))
    return 0


@command
def _env(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("env", help="versions, onnxruntime build and the provider that runs, CPU, CUDA, data, hub",
                       description="What this installation runs on: xner and its stack, the onnxruntime build, its "
                       "providers and the one a session really runs, threads, the CPU features int8 depends on "
                       "(AVX2, AVX-512, VNNI, AMX), CUDA devices, the data folder found and whether the hub answers. "
                       "The first thing to paste into a bug report.")
    p.add_argument("--data-dir", default=None, help="a data folder to check beside $XNER_DATA_DIR and the usual places")
    p.add_argument("--no-hub", dest="hub", action="store_false", help="do not try to reach the Hugging Face hub")
    add_console(p)
    p.set_defaults(func=run_env)


def run_env(args: argparse.Namespace) -> int:
    from .envinfo import collect, render

    d = collect(args.data_dir, args.hub)
    emit(args, d, None if args.json else render(d))
    return 0


def _register_stages() -> None:
    """Stage packages add their subcommands; a stage that is missing is simply not offered."""
    import importlib

    for mod in ("xner.training.cli", "xner.training.pretrain_cli", "xner.export.cli", "xner.robustness.cli", "xner.experiments.cli",
                "xner.bench.cli"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


_register_stages()
