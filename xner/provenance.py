"""How a result was made: versions, machine, command line, time.  Attached to every result file."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .io import json_default  # noqa: F401  (its old home; result files import it from here)
from .threads import available_cpus

PACKAGES = ("xner", "numpy", "numba", "torch", "transformers", "tokenizers", "onnx", "onnxruntime",
            "onnxruntime-gpu", "optimum", "optimum-onnx", "datasets", "seqeval")


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in packages:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            continue
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent.parent
    try:
        r = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_dirty() -> bool | None:
    """Whether the checkout's tracked files differ from its commit (a result made from an uncommitted
    tree is not the commit's), or None outside a git checkout."""
    here = Path(__file__).resolve().parent.parent
    try:
        r = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=5)
        return bool(r.stdout.strip()) if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def provenance(**extra) -> dict:
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
        "versions": versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "machine": {"cpu": cpu_model(), "cores": available_cpus(), "cores_total": os.cpu_count(),
                    "platform": platform.platform()},
        **extra,
    }
