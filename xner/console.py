"""A quiet console: one progress display, messages, and everything else in a log file.

``xner`` sets the level once per command (:func:`configure`: ``--quiet``, default, ``--verbose``).
A long job runs inside :func:`captured`: unless ``--verbose``, whatever libraries print (the Trainer's
bars and loss dicts, exporter warnings, ONNX Runtime's advice, native output on the file
descriptors) goes to a log file that ends up in the run's folder as ``xner.log``; the console keeps
the one progress display (:class:`Progress`), xner's messages (:func:`say`), errors and gate
results.  Python warnings and library loggers are written to the log file in every mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

__all__ = ["Progress", "active", "captured", "configure", "is_captured", "out", "progress", "say", "stage", "stream"]

LOG_NAME = "xner.log"
#: the first line of every log xner writes; a file without it is someone else's and is never appended to
HEADER = "# xner log: library output of xner commands, newest at the end\n"
_state: dict = {"level": "normal", "stream": None, "out": None, "captured": False, "progress": None}


def configure(quiet: bool = False, verbose: bool = False) -> None:
    _state["level"] = "quiet" if quiet else "verbose" if verbose else "normal"
    _state["stream"] = None
    logging.getLogger("xner").setLevel(logging.INFO if verbose else logging.WARNING)


def is_captured() -> bool:
    return bool(_state["captured"])


def stream() -> TextIO:
    """Where the console's text goes: the terminal's stderr, even while library output is captured."""
    return _state["stream"] or sys.stderr


def out() -> TextIO:
    """Where results go: the real stdout, even while library output is captured."""
    return _state["out"] or sys.stdout


def say(msg: str, important: bool = False) -> None:
    """A message for the user on stderr (not with ``--quiet`` unless ``important``: errors, gates, summaries)."""
    if _state["level"] == "quiet" and not important:
        return
    bar = _state["progress"]
    if bar is not None and bar.bar is not None:
        bar.bar.write(msg, file=stream())
    else:
        print(msg, file=stream(), flush=True)


class Progress:
    """The one progress display of a long job: overall progress, the current stage and the time left
    (tqdm's estimate from the finished units).  Hidden with ``--quiet``; the log file gets each stage."""

    def __init__(self, total: int, desc: str, unit: str = "step", initial: int = 0):
        from tqdm import tqdm

        self.desc = desc
        tty = hasattr(stream(), "isatty") and stream().isatty()
        self.tty = tty
        self.bar = None if _state["level"] == "quiet" else tqdm(
            total=total, initial=initial, desc=desc, unit=unit, file=stream(), dynamic_ncols=True,
            mininterval=0.5 if tty else 15.0)
        self.done = initial
        self._prev = _state["progress"]
        _state["progress"] = self

    def stage(self, text: str) -> None:
        logging.getLogger("xner.progress").info("%s: %s", self.desc, text)
        if self.bar is not None:
            self.bar.set_postfix_str(text[:60], refresh=self.tty)  # a log file gets no line per stage

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        _state["progress"] = self._prev

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total: int, desc: str, unit: str = "step", initial: int = 0) -> Progress:
    return Progress(total, desc, unit, initial)


def active() -> Progress | None:
    """The progress display being shown, if any."""
    return _state["progress"]


def stage(text: str) -> None:
    """Tell the active progress display (if any) which stage is running."""
    bar = _state["progress"]
    if bar is not None:
        bar.stage(text)


class _AfterImport:
    """A meta-path finder that runs ``then()`` once module ``name`` has been imported (its first real
    import), without importing it itself.  The module runs with the console's stderr (the one in place
    when the hook was made), so handlers it binds at import time write where they would have without
    the job's redirection; a probe (``importlib.util.find_spec``) does not disarm the hook; the loader
    is a copy, so no shared loader is changed."""

    def __init__(self, name: str, then) -> None:
        self.name, self.then = name, then
        self.stderr = sys.stderr
        self._busy = False

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name or self._busy:
            return None
        import copy
        import importlib.util

        self._busy = True  # the real finders find it (this finder is asked again on the way)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy = False
        if spec is None or spec.loader is None:
            return spec
        hook = self
        try:
            class _Then(type(spec.loader)):  # the same loader, with ``then`` after the module has run
                def exec_module(self, module) -> None:
                    hook.remove()
                    current, sys.stderr = sys.stderr, hook.stderr
                    try:
                        super().exec_module(module)
                    finally:
                        sys.stderr = current
                    try:
                        hook.then()
                    except ImportError:
                        pass

            loader = copy.copy(spec.loader)
            loader.__class__ = _Then
            spec.loader = loader
        except TypeError:  # a loader that cannot be subclassed or copied: configure nothing
            pass
        return spec


def _library_loggers_to(handler: logging.Handler, console: bool) -> list:
    """Route library loggers (transformers, onnxruntime, torch, datasets, Python warnings) to ``handler``
    and, unless ``console``, off the terminal.  Returns what to undo."""
    undo: list = []

    def quiet_transformers() -> None:  # transformers has its own handler on stderr
        from transformers.utils import logging as tlog

        if not console:
            tlog.disable_default_handler()
            undo.append(tlog.enable_default_handler)
        tlog.enable_propagation()
        undo.append(tlog.disable_propagation)

    if "transformers" in sys.modules:
        quiet_transformers()
    else:  # importing transformers takes a second: done only if the job imports it (then routed as above)
        hook = _AfterImport("transformers", quiet_transformers)
        sys.meta_path.insert(0, hook)
        undo.append(hook.remove)
    root = logging.getLogger()
    root.addHandler(handler)
    undo.append(lambda: root.removeHandler(handler))
    if root.level > logging.INFO or root.level == logging.NOTSET:
        old = root.level
        root.setLevel(logging.INFO)
        undo.append(lambda: root.setLevel(old))
    logging.captureWarnings(True)
    undo.append(lambda: logging.captureWarnings(False))
    return undo


@contextlib.contextmanager
def captured(folder: str | os.PathLike | None) -> Iterator[Path]:
    """Run a long job with library output in a log file (and off the console unless ``--verbose``).

    The log is written to a temporary file while the job runs (the run's folder may not exist yet, and
    xner never writes into a folder it has not checked) and is appended to ``folder/xner.log`` (or to
    ``folder`` itself when it names a ``.log`` file: ``OUT.log`` beside a command's output file) at the
    end when the job succeeded; on a failure its path is printed and the file kept."""
    fd, tmp = tempfile.mkstemp(prefix="xner-", suffix=".log")
    os.close(fd)
    log = open(tmp, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (closed below)
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    verbose = _state["level"] == "verbose"
    undo = _library_loggers_to(handler, console=verbose)
    saved: list[tuple[int, int]] = []
    old_streams = (sys.stdout, sys.stderr)
    old_env = os.environ.get("XNER_NO_PROGRESS")
    console = result = None
    ok = False
    try:
        if not verbose:
            for s in old_streams:
                with contextlib.suppress(Exception):
                    s.flush()
            console = _dup_stream(old_streams[1], 2)
            result = _dup_stream(old_streams[0], 1)
            _state["stream"], _state["out"] = console, result
            for fdn in (1, 2):  # native writes (onnxruntime, C++ warnings) too
                saved.append((fdn, os.dup(fdn)))
                os.dup2(log.fileno(), fdn)
            sys.stdout = sys.stderr = log
            os.environ["XNER_NO_PROGRESS"] = "1"  # the Trainer's bars: none; its loss lines go to the log
        _state["captured"] = True
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield Path(tmp)
        ok = True
    finally:
        _state["captured"] = False
        log.flush()
        for fdn, dup in saved:
            os.dup2(dup, fdn)
            os.close(dup)
        sys.stdout, sys.stderr = old_streams
        if old_env is None:
            os.environ.pop("XNER_NO_PROGRESS", None)
        else:
            os.environ["XNER_NO_PROGRESS"] = old_env
        for u in reversed(undo):
            u()
        log.close()
        for s, old in ((console, old_streams[1]), (result, old_streams[0])):
            if s is not None and s is not old:
                s.close()
        _state["stream"] = _state["out"] = None
        _finish_log(Path(tmp), folder, ok)


def _dup_stream(s: TextIO, fdn: int) -> TextIO:
    """A stream on a duplicate of ``fdn`` when ``s`` writes to it (so it outlives the redirection), else ``s``."""
    try:
        real = s.fileno() == fdn
    except (AttributeError, OSError, ValueError):
        real = False
    return os.fdopen(os.dup(fdn), "w", buffering=1, encoding="utf-8") if real else s


def _ours(path: Path) -> bool:
    """Whether ``path`` is a log xner wrote (its first line is :data:`HEADER`): only those are appended to."""
    if not path.is_file():
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.readline() == HEADER


def _finish_log(tmp: Path, folder: str | os.PathLike | None, ok: bool) -> None:
    """On success the log joins ``folder/xner.log`` (a folder the job itself made or checked) when that
    file is new or one xner wrote; otherwise, and on a failure, it stays where it is, named on the
    console: a refused ``--out`` and a file of the user's are never written into."""
    dest = None if folder is None else Path(folder) if str(folder).endswith(".log") else Path(folder) / LOG_NAME
    if ok and dest is not None and dest.parent.is_dir() and (not dest.exists() or _ours(dest)):
        with open(dest, "a", encoding="utf-8") as f, open(tmp, encoding="utf-8", errors="replace") as src:
            if f.tell() == 0:
                f.write(HEADER)
            f.write(src.read())
        tmp.unlink()
        if _state["level"] == "verbose":
            say(f"log: {dest}")
        return
    taken = ok and dest is not None and dest.exists()  # a file of that name that xner did not write
    if tmp.stat().st_size == 0 or (ok and not taken):  # nothing in it, or no folder asked for and no error
        tmp.unlink()
        return
    say(f"log: {tmp}" + (f" ({dest} is not an xner log: left alone)" if taken else ""), important=True)
