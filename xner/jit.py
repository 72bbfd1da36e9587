"""numba kernels compiled on first large use: small inputs (a command tagging one sentence) run the
very same function as plain Python, so that ``xner predict --text`` never imports numba (about half a
second of start-up); anything larger compiles it (cached on disk) and runs the machine code."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

__all__ = ["SMALL", "lazy_njit"]

#: elements of the first array argument below which a kernel runs as Python
SMALL = 2048


def lazy_njit(fn: Callable) -> Callable:
    """``numba.njit(cache=True)(fn)``, imported and compiled on the first call whose first array
    argument has ``SMALL`` elements or more; smaller calls run ``fn`` itself, unless the kernel is
    already compiled (then the compiled code runs).  The original is ``.py_func``."""
    jitted: list = []

    @functools.wraps(fn)
    def call(*args):
        if not jitted:
            size = next((a.size for a in args if isinstance(a, np.ndarray)), 0)
            if size < SMALL:
                return fn(*args)
            import numba

            jitted.append(numba.njit(cache=True)(fn))
        return jitted[0](*args)

    call.py_func = fn
    return call
