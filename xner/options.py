"""One command-line contract: every subcommand takes the same name for the same thing.

The names (README, "Command-line contract"):

=================  ===========================================================================
``--model``        the model the command reads (what kind each command needs is in its help)
``--out``          what the command writes (a folder or a file)
``--data-dir``     a data folder laid out as ``{lang}/{train,dev,test}.tsv`` (or ``hub``)
``--lang``         the one language the command evaluates, targets or perturbs
``--train-langs``  the languages whose training split the command uses (comma-separated)
``--seed``         the seed of the command's own randomness (initialisation, training, perturbation)
``--split-seed``   the seed of the study split (``--split-scheme study``)
``--provider``     ONNX Runtime execution provider; ``--threads`` the threads of the model's runtime
``--json``         the result as JSON on stdout (human text then goes to stderr)
``--quiet``        only errors, gate results and the final summary; ``--verbose``: library logs too
=================  ===========================================================================

Old names keep working as hidden aliases (:func:`alias`), so scripts written for them do not break.
A required option is checked after parsing (:func:`check_required`), so its aliases satisfy it too.
"""

from __future__ import annotations

import argparse

__all__ = ["EXIT_CODES", "add_console", "add_data", "add_lang", "add_out", "add_runtime", "add_seed",
           "add_split", "add_train_langs", "alias", "check_required", "require"]

#: the documented exit codes (README, "Exit codes")
EXIT_CODES = {0: "success", 1: "internal error (a bug: please report it with the traceback)",
              2: "bad input or usage (unknown flag, missing file, refused overwrite, invalid data)",
              3: "a parity gate failed (export, verify)", 4: "a required benchmark ratio was not met (bench)",
              130: "interrupted (Ctrl-C)"}

REPAIRS = ["conlleval", "drop", "error", "keep"]
PROVIDERS = ["auto", "cpu", "cuda", "tensorrt"]


def alias(p: argparse.ArgumentParser, *names: str, dest: str, **kw) -> None:
    """Old flag ``names`` for ``dest``, accepted but not shown in ``--help``."""
    p.add_argument(*names, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kw)


def require(p: argparse.ArgumentParser, dest: str, flag: str) -> None:
    """Mark ``dest`` (set by ``flag`` or one of its aliases) as required."""
    req = dict(p.get_default("_required") or {})
    req[dest] = flag
    p.set_defaults(_required=req)


def check_required(args: argparse.Namespace) -> list[str]:
    """The required flags a parsed command line lacks."""
    return [flag for dest, flag in (getattr(args, "_required", None) or {}).items()
            if getattr(args, dest, None) is None]


def add_console(p: argparse.ArgumentParser, json: bool = True) -> None:
    """``--json`` (for commands that produce a result), ``--quiet``, ``--verbose``."""
    if json:
        p.add_argument("--json", action="store_true", help="the result as JSON on stdout; messages go to stderr")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="only errors, gate results and the final summary")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="also library logs, warnings and training steps on the console (always in the log file)")


def add_data(p: argparse.ArgumentParser, help: str | None = None, repair_default: str = "conlleval") -> None:
    """``--data-dir`` (old name ``--eval-data``) and ``--repair``."""
    p.add_argument("--data-dir", default=None, help=help or (
        "data folder laid out as {lang}/{train,dev,test}.tsv (default: $XNER_DATA_DIR, else the 'wikiann' hub "
        "dataset; exactly 'hub' or 'hub:NAME' selects the hub, anything else is a local folder)"))
    alias(p, "--eval-data", dest="data_dir")
    p.add_argument("--repair", default=repair_default, choices=REPAIRS,
                   help=f"IOB2 repair policy for a stray I- tag (default: {repair_default}; conlleval starts a chunk)")


def add_split(p: argparse.ArgumentParser, split: str | None = None) -> None:
    """``--split`` (when ``split`` is its default), ``--split-scheme`` and ``--split-seed``."""
    if split is not None:
        p.add_argument("--split", default=split, help=f"which split of --lang (default {split})")
        alias(p, "--eval-split", "--test-split", dest="split")
    p.add_argument("--split-scheme", default="standard", choices=["standard", "study"],
                   help="standard train/dev/test files, or the study's pooled, capped, seeded 80/20 split")
    p.add_argument("--split-seed", type=int, default=42, help="seed of the study split (default 42)")


def add_lang(p: argparse.ArgumentParser, required: bool = True, help: str = "language code, e.g. fa") -> None:
    """``--lang`` (old names ``--eval-lang``, ``--target-lang``, ``--test``)."""
    p.add_argument("--lang", default=None, help=help + (" (required)" if required else ""))
    alias(p, "--eval-lang", "--target-lang", "--test", dest="lang")
    if required:
        require(p, "lang", "--lang")


def add_train_langs(p: argparse.ArgumentParser, required: bool = True,
                    help: str = "comma-separated training languages") -> None:
    """``--train-langs`` (old names ``--train-lang``, ``--teacher-langs``, ``--train``)."""
    p.add_argument("--train-langs", default=None, help=help + (" (required)" if required else ""))
    alias(p, "--train-lang", "--teacher-langs", "--train", dest="train_langs")
    if required:
        require(p, "train_langs", "--train-langs")


def add_seed(p: argparse.ArgumentParser, default: int, help: str) -> None:
    p.add_argument("--seed", type=int, default=default, help=f"{help} (default {default})")


def add_out(p: argparse.ArgumentParser, required: bool = True, help: str = "output folder",
            default: str | None = None) -> None:
    p.add_argument("--out", default=default, help=help + (" (required)" if required else ""))
    if required:
        require(p, "out", "--out")


def add_overwrite(p: argparse.ArgumentParser, what: str = "--out") -> None:
    """``--overwrite``: replace an existing output xner did not write (never one of the inputs)."""
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace an existing {what} that xner did not write (an input is never replaced)")


def add_runtime(p: argparse.ArgumentParser, provider: bool = True, help_threads: str | None = None,
                default_provider: str = "auto") -> None:
    """``--provider`` and ``--threads``."""
    if provider:
        p.add_argument("--provider", default=default_provider, choices=PROVIDERS,
                       help="ONNX Runtime execution provider (default " + (
                           "auto: CUDA when present, else CPU)" if default_provider == "auto" else
                           f"{default_provider})"))
    p.add_argument("--threads", type=int, default=None, help=help_threads or (
        "threads of the model's runtime (default: $OMP_NUM_THREADS, else every core this process may use)"))
