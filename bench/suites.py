"""Running benchmark suites by name (``xner bench``)."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import time

from xner.errors import XnerError

__all__ = ["SUITES", "run_suites"]

#: suite name -> module in xner.bench with ``run(quick, data_dir) -> SuiteResult``
SUITES = {"score": "score", "perturb": "perturb", "encode": "encode", "inference": "inference", "sweep": "sweep",
          "scaling": "scaling", "serve": "serve", "startup": "startup", "small": "smalljob", "peer": "peer",
          "cluster": "cluster"}


def run_suites(suite: str = "all", quick: bool = False, data_dir: str | None = None, device: str = "cpu",
               models: str | None = None, shapes: str | None = None, peer_python: str | None = None) -> list:
    """Run one suite or all of them, each timed; returns their results."""
    names = list(SUITES) if suite == "all" else [suite]
    if suite != "all" and suite not in SUITES:
        raise XnerError(f"unknown suite {suite!r}; choose {', '.join(SUITES)} or all")
    inference_kw = {}
    if "inference" in names:
        from .inference import SIZES, parse_shapes

        chosen = models.split(",") if models else None
        if chosen and not set(chosen) <= set(SIZES):
            raise XnerError(f"--models takes {', '.join(SIZES)}")
        inference_kw = {"device": device, "models": chosen, "shapes": parse_shapes(shapes)}
    from .harness import SuiteResult

    results = []
    for name in names:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        mod = importlib.import_module(f"xner.bench.{SUITES[name]}")
        kw = inference_kw if name == "inference" else {"peer_python": peer_python} if name == "peer" else {}
        # every temporary folder of the suite (models, exports, Ray nodes) lies in one, removed after it
        # (XNER_BENCH_KEEP=1 keeps it); a suite that fails is reported as failed, the others still run
        work, saved = tempfile.mkdtemp(prefix=f"xner-bench-{name}-"), tempfile.tempdir
        tempfile.tempdir = work
        try:
            results.append(mod.run(quick=quick, data_dir=data_dir, **kw))
        except XnerError:  # bad input (a missing data folder, ...): the command's error, exit 2
            raise
        except Exception as e:  # noqa: BLE001 - one suite's failure must not lose the others' results
            res = SuiteResult(name)
            res.notes.append(f"failed: {type(e).__name__}: {str(e)[-1500:]}")
            print(f"[bench] {name} failed: {e}", file=sys.stderr, flush=True)
            results.append(res)
        finally:
            tempfile.tempdir = saved
            if os.environ.get("XNER_BENCH_KEEP") != "1":
                shutil.rmtree(work, ignore_errors=True)
        results[-1].settings["suite_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"[bench] {name} took {results[-1].settings['suite_seconds']} s", file=sys.stderr, flush=True)
    return results
