"""The ``xner`` command line.  Every subcommand has ``--help``; errors exit with code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import __version__
from .errors import XnerError

Handler = Callable[[argparse.Namespace], int | None]
_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(fn: Callable[[argparse._SubParsersAction], None]) -> Callable:
    """Register a function that adds one subcommand (with ``set_defaults(func=...)``)."""
    _COMMANDS.append(fn)
    return fn


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data folder laid out as {lang}/{train,dev,test}.tsv "
                   "(default: $XNER_DATA_DIR, else the 'wikiann' hub dataset; exactly 'hub' or 'hub:NAME' "
                   "selects the hub, anything else is a local folder)")
    p.add_argument("--repair", default="conlleval", choices=["conlleval", "drop", "error", "keep"],
                   help="IOB2 repair policy for a stray I- tag (default: conlleval, it starts a chunk)")


def add_split_scheme(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split-scheme", default="standard", choices=["standard", "study"],
                   help="standard train/dev/test files, or the study's pooled, capped, seeded 80/20 split")
    p.add_argument("--seed", type=int, default=42, help="seed of the study split (default 42)")


def set_torch_threads() -> None:
    """torch uses $OMP_NUM_THREADS threads when set (the outer level of ``N,M``), else every core this
    process may run on (commands that train or infer)."""
    from .threads import omp_threads

    threads = omp_threads()  # validated before torch is imported
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def print_json(obj) -> None:
    """Strict JSON on stdout (NaN and infinities as null)."""
    from .io import dumps

    sys.stdout.write(dumps(obj, indent=2) + "\n")


def build_parser() -> argparse.ArgumentParser:
    from . import commands  # noqa: F401  (registers the core subcommands)

    parser = argparse.ArgumentParser(
        prog="xner", description="ONNX-accelerated inference and robustness toolkit for cross-lingual NER.")
    parser.add_argument("--version", action="version", version=f"xner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # a flag's type check may raise XnerError too
        rc = args.func(args)
    except XnerError as e:
        print(f"xner: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("xner: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(rc or 0)

