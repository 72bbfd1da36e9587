"""Core subcommands: ``langs``, ``data stats|overlap|convert|split``, ``score``.

Stage packages register their own subcommands in their ``cli`` modules, imported at the end.
Heavy libraries (torch, onnxruntime) are imported inside handlers only, so ``xner --help`` is fast.
"""

from __future__ import annotations

import argparse
import sys

from .cli import add_data_dir, add_split_scheme, command, print_json
from .errors import XnerError
from .scorefiles import load_aligned, render_scores


# -- langs ----------------------------------------------------------------------------------------
@command
def _langs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("langs", help="languages, study pairs, multi-source groups, named sets",
                       description="Print the language registry: the study's 21-language pool, its 13 "
                       "HRL->LRL pairs, related/unrelated source groups per LRL and the named sets.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_langs)


def run_langs(args: argparse.Namespace) -> int:
    from .langs import registry_json, render_table

    if args.json:
        print_json(registry_json())
    else:
        print(render_table())
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
    add_data_dir(s)
    s.add_argument("--lang", required=True, help="language code, e.g. fa")
    add_split_scheme(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_stats)

    o = dsub.add_parser("overlap", help="overlap measures between a train and a test corpus",
                        description="Overlap between the training split of one language and the test split of "
                        "another: the reference study's measures as it computed them (entity token-and-tag overlap, "
                        "shared share of distinct test chunks, context overlap = O tokens its P2 may replace) and "
                        "xner's beside them (word-only entity overlap, mention share, O-word and vocabulary overlap). "
                        "README, 'Overlap measures', maps each to the study's column.")
    add_data_dir(o)
    o.add_argument("--train", required=True, help="training language")
    o.add_argument("--test", required=True, help="test language")
    o.add_argument("--train-split", default="train")
    o.add_argument("--test-split", default="test")
    add_split_scheme(o)
    o.add_argument("--json", action="store_true")
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
    c.set_defaults(func=run_convert)

    sp = dsub.add_parser("split", help="write the study split (pooled, capped at 17,003, seeded 80/20)",
                         description="Write the reference study's split of a language as train.tsv and test.tsv.")
    add_data_dir(sp)
    sp.add_argument("--lang", required=True)
    sp.add_argument("--seed", type=int, default=42)
    sp.add_argument("--out", required=True, help="output folder; files go to OUT/{lang}/{train,test}.tsv")
    sp.set_defaults(func=run_split)


def _labels(types: str | None):
    from .scorefiles import declared_labels

    return declared_labels(types)


def run_stats(args: argparse.Namespace) -> int:
    from .datadir import open_source
    from .splits import load_split
    from .stats import corpus_stats, render

    src = open_source(args.data_dir, args.repair)
    splits = ["train", "test"] if args.split_scheme == "study" else src.splits(args.lang)
    stats = {s: corpus_stats(load_split(src, args.lang, s, args.split_scheme, args.seed)) for s in splits}
    if args.json:
        print_json({"lang": args.lang, "data": src.name, "split_scheme": args.split_scheme, "splits": stats})
    else:
        print(render(args.lang, stats))
    return 0


def run_overlap(args: argparse.Namespace) -> int:
    from .datadir import open_source
    from .overlap import overlap, render
    from .splits import load_split

    src = open_source(args.data_dir, args.repair)
    train = load_split(src, args.train, args.train_split, args.split_scheme, args.seed)
    test = load_split(src, args.test, args.test_split, args.split_scheme, args.seed)
    ov = overlap(train, test)
    if args.json:
        print_json(ov)
    else:
        print(render(ov))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from .formats import read_corpus, write_corpus

    c = read_corpus(args.input, args.fmt_in, _labels(args.types), args.lang, args.repair, args.split)
    if args.lang:
        c.lang = args.lang
    write_corpus(c, args.output, args.fmt_out)
    print(f"wrote {len(c)} sentences, {c.n_tokens} tokens to {args.output}", file=sys.stderr)
    return 0


def run_split(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .datadir import open_source
    from .formats import write_corpus
    from .io import write_json
    from .provenance import provenance
    from .splits import load_split

    src = open_source(args.data_dir, args.repair)
    out = Path(args.out) / args.lang
    for split in ("train", "test"):
        c = load_split(src, args.lang, split, "study", args.seed)
        write_corpus(c, out / f"{split}.tsv", "tsv")
        print(f"{split}: {len(c)} sentences -> {out / f'{split}.tsv'}")
    write_json(out / "split.json", provenance(data=src.name, lang=args.lang, scheme="study", seed=args.seed))
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
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    from .metrics import score
    from .provenance import provenance

    if args.bootstrap < 0:
        raise XnerError("--bootstrap must be >= 0")
    if not 0 < args.alpha < 1:
        raise XnerError("--alpha must be between 0 and 1")
    gold, pred = load_aligned(args.gold, args.pred, args.format, args.types, args.mode, args.scheme)
    s = score(gold, pred, args.mode, args.bootstrap, args.seed, args.alpha)
    if args.json:
        print_json({**s.to_json(), "gold": args.gold, "pred": args.pred,
                    "provenance": provenance(bootstrap=args.bootstrap, seed=args.seed)})
        return 0
    print(render_scores(s))
    return 0


def _register_stages() -> None:
    """Stage packages add their subcommands; a stage that is missing is simply not offered."""
    import importlib

    for mod in ("xner.training.cli", "xner.export.cli", "xner.robustness.cli", "xner.experiments.cli",
                "xner.bench.cli"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise


_register_stages()
