"""Kernels compiled on first large use (xner/jit.py): below the threshold the same function runs as
Python, and both give the same arrays; tagging a sentence imports neither numba, scipy nor torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from xner import jit
from xner.corpus import extract_chunks, gather_spans
from xner.encode import pad_rows
from xner.labels import iob2_violations


def _tags(rng, n):
    return rng.integers(0, 7, n).astype(np.int8)


def test_python_and_compiled_kernels_agree():
    rng = np.random.default_rng(0)
    for n in (5, 300, 5000):  # below and above jit.SMALL
        lens = rng.integers(1, 12, n // 5 + 1)
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        tags = _tags(rng, int(offsets[-1]))
        for kernel, args in ((extract_chunks.py_func, (tags, offsets)),):
            assert np.array_equal(kernel(*args), extract_chunks(*args))
        idx = rng.choice(len(lens), size=min(7, len(lens)), replace=False).astype(np.int64)
        assert np.array_equal(gather_spans.py_func(offsets, idx), gather_spans(offsets, idx))
        ids = rng.integers(0, 100, int(offsets[-1])).astype(np.int32)
        a, b = pad_rows.py_func(ids, offsets, idx, 16, 0), pad_rows(ids, offsets, idx, 16, 0)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert iob2_violations(tags, offsets).dtype == np.int64


def test_tagging_text_imports_neither_numba_scipy_nor_torch(onnx_dir):
    code = ("import sys; from xner.cli import main; main(['predict', '--model', sys.argv[1], '--text', 'Anna Smith']);"
            "print(sorted(m for m in ('numba', 'scipy', 'torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(onnx_dir)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert jit.SMALL > 100


def test_kernels_compile_from_an_empty_cache(tmp_path):
    """A fresh clone has no numba cache: every kernel that calls a lazily compiled one must still
    compile (a stale cache once hid that the scorer called a plain Python wrapper)."""
    import os

    code = ("import numpy as np; from xner.metrics import score_arrays;"
            "t = np.array([1, 2, 0, 3, 0], dtype=np.int8); o = np.array([0, 3, 5], dtype=np.int64);"
            "print(score_arrays(t, t, o, ['PER', 'LOC', 'ORG']).f1)")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "NUMBA_DISABLE_JIT": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) == 1.0


def test_evaluate_imports_neither_transformers_nor_torch(onnx_dir, data_dir):
    """The small-job bench found `xner evaluate` importing transformers (a second of its wall) only to
    route its logger; the route is now set up when (and if) the job imports it."""
    code = ("import sys; from xner.cli import main; main(['evaluate', '--model', sys.argv[1], '--data-dir', sys.argv[2], "
            "'--lang', 'en', '--perturbations', 'char_noise', '--bootstrap', '0', '-q']);"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(onnx_dir), str(data_dir)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_transformers_imported_inside_a_job_logs_to_the_file_not_the_console(tmp_path):
    """Imported inside a job, transformers' warnings go through xner's log handler (formatted) and off
    the console; after the job they reach the console again (no handler left on the closed log file),
    and an availability probe before the import does not disarm the route."""
    code = ("import sys, importlib.util; from pathlib import Path; from xner import console\n"
            "with console.captured(Path(sys.argv[1])):\n"
            "    importlib.util.find_spec('transformers')\n"
            "    import transformers\n"
            "    from transformers.utils import logging as tlog\n"
            "    tlog.get_logger('transformers.x').warning('ROUTED-WARNING')\n"
            "tlog.get_logger('transformers.x').warning('AFTER-THE-JOB')\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    log = (tmp_path / "xner.log").read_text(encoding="utf-8")
    assert "ROUTED-WARNING" not in out.stderr and "WARNING transformers.x: ROUTED-WARNING" in log
    assert "AFTER-THE-JOB" in out.stderr and "Logging error" not in out.stderr
