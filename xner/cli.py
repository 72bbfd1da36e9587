"""The ``xner`` command line.  Every subcommand has ``--help`` and takes the shared names of
:mod:`.options`; exit codes are :data:`.options.EXIT_CODES` (2 bad input, 3 gate failed, 4 ratio not met)."""

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
    """``--data-dir`` and ``--repair`` (:func:`.options.add_data`)."""
    from .options import add_data

    add_data(p)


def logs_to(fn: Callable[[argparse.Namespace], str | None]) -> dict:
    """``set_defaults`` entry of a long job: library output goes to a log file in the folder
    ``fn(args)`` names (:func:`.console.captured`)."""
    return {"_log": fn}


def set_torch_threads(threads: int | None = None) -> None:
    """torch uses ``threads`` (``--threads``) when given, else $OMP_NUM_THREADS (the outer level of
    ``N,M``), else every core this process may run on (commands that train or infer)."""
    from .threads import omp_threads

    if threads is not None and threads < 1:
        raise XnerError("--threads must be at least 1")
    threads = threads or omp_threads()  # validated before torch is imported
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def print_json(obj) -> None:
    """Strict JSON on stdout (NaN and infinities as null), even while library output is captured."""
    from .console import out
    from .io import dumps

    out().write(dumps(obj, indent=2) + "\n")
    out().flush()


def emit(args: argparse.Namespace, obj, text: str | None = None) -> None:
    """A command's result: JSON on stdout with ``--json`` (``text`` then goes to stderr), else ``text``
    on stdout."""
    from .console import out, say

    if getattr(args, "json", False):
        print_json(obj)
        if text:
            say(text)
    elif text is not None:
        out().write(text + "\n")
        out().flush()


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


def _run(args: argparse.Namespace) -> int | None:
    from . import console
    from .options import check_required

    missing = check_required(args)
    if missing:
        raise XnerError(f"xner {args.command}: the following arguments are required: {', '.join(missing)}")
    console.configure(getattr(args, "quiet", False), getattr(args, "verbose", False))
    log = getattr(args, "_log", None)
    if log is None:
        return args.func(args)
    with console.captured(log(args)):
        return args.func(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # a flag's type check may raise XnerError too
        rc = _run(args)
    except XnerError as e:
        print(f"xner: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("xner: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if _stdout_closed():  # `xner ... | head`: the reader left; that is not an error
            _silence_stdout()
            return 0
        # a socket, a worker or a child process closed on us: an internal error, never success
        print("xner: error: a connection closed unexpectedly (BrokenPipeError); see the log for details",
              file=sys.stderr)
        return 1
    return int(rc or 0)


def entry() -> None:
    """The ``xner`` program (the console script and ``python -m xner``): :func:`main`, then a quick exit.

    After the command, standard output and error are flushed and every ``atexit`` handler runs (log
    handlers close, ``weakref.finalize`` clean-ups and multiprocessing's joins run there), and the
    process leaves with ``os._exit``: the interpreter's teardown, which only frees memory the operating
    system frees anyway, took 0.2 s of a 1.8 s ``xner evaluate`` (numba's and ONNX Runtime's objects).
    The ordinary exit is kept when a non-daemon thread is still running (Python would wait for it),
    when a stream cannot be flushed, under a tracer or profiler (``python -m cProfile -m xner``,
    ``coverage run``: they write their results after the program returns), or with
    ``XNER_FULL_EXIT=1``."""
    rc = main()
    _leave(rc)
    sys.exit(rc)


def _leave(rc: int) -> None:
    import atexit
    import os
    import threading

    if os.environ.get("XNER_FULL_EXIT") or not hasattr(atexit, "_run_exitfuncs") or _observed():
        return
    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a closed or broken stream: let the ordinary exit report it
        return
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        pass
    os._exit(rc)


def _observed() -> bool:
    """Whether a tracer, a profiler or a ``sys.monitoring`` tool watches this process."""
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: coverage and debuggers register here
    if monitoring is not None:
        return any(monitoring.get_tool(i) is not None for i in range(6))
    return False


def _stdout_closed() -> bool:
    """Whether the reader of standard output has gone (its pipe reports an error or hang-up)."""
    import select

    try:
        fd = sys.__stdout__.fileno()
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poll.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def _silence_stdout() -> None:
    """Point standard output at /dev/null so that Python's exit flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
    except (OSError, ValueError, AttributeError):
        pass

