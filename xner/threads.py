"""How many threads to use: the one place that reads ``OMP_NUM_THREADS`` and counts cores."""

from __future__ import annotations

import os

from .errors import XnerError


def available_cpus() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under taskset or a container
    cpuset), falling back to ``os.cpu_count()`` where affinity is not available."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def omp_threads(default: int | None = None) -> int:
    """The outer-level thread count of ``$OMP_NUM_THREADS``, else ``default``, else
    :func:`available_cpus`.

    OpenMP allows a comma-separated list, one count per nesting level (``4,2``); the first entry
    is the one that applies to torch's intra-op pool.  Anything else is an error that names the
    variable.
    """
    raw = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not raw:
        return default if default is not None else available_cpus()
    first = raw.split(",", 1)[0].strip()
    if not (first.isascii() and first.isdigit()) or int(first) < 1:
        raise XnerError(f"OMP_NUM_THREADS={raw!r} is not a thread count (expected N or N,M,... with N >= 1, "
                        "as in OpenMP; or pass --threads N)")
    return int(first)
