"""Cluster suite: a real two-node Ray cluster on this machine that loses a node mid-sweep.

``xner bench --suite cluster`` starts a head node (``ray start --head``) and a worker node (``ray start
--address``, its own temp dir), each with one CPU and the custom resource ``xner: 1`` that every sweep
task asks for (config ``ray_resources``), so tasks run on both nodes; runs a small whole sweep with
``--executor ray --ray-address`` and a shared artefact folder; SIGKILLs the worker node's processes
once the first artefacts are built; lets Ray retry on the head (or resumes the sweep when the driver
itself fails); and compares the rows with the local executor's: identical, none lost, none
duplicated.  Slow (minutes): a benchmark suite, not a test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .harness import SuiteResult, Timing

__all__ = ["run"]

CONFIG = """
name = "cluster"
targets = ["ms", "af"]
perturbations = ["char_noise", "name_swap"]
rates = [0.3]
seeds = [0]
test_max_sentences = 60
train_max_sentences = 300
bootstrap = 50
ray_resources = {{ xner = 1 }}

[models.tiny]
init = {{ arch = "bert", vocab_size = 2000, hidden = 32, layers = 1, heads = 2, max_length = 64 }}

[train]
preset = "scratch"
max_steps = {steps}

[distill]
preset = "student-scratch"
max_steps = {steps}
student = "teacher"

[[settings]]
kind = "native"

[[settings]]
kind = "zero-shot"
sources = "pair"

[[settings]]
kind = "student"
sources = "related:2"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else "ray"


def _node_pids(temp_dir: Path) -> set[int]:
    """The processes of the Ray node started with ``temp_dir``: those whose command line names it (raylet,
    its log monitor, ...) and all their descendants (the task workers it spawned). Nothing else on the
    machine is touched."""
    parent: dict[int, int] = {}
    roots: set[int] = set()
    needle = str(temp_dir).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle in f.read():
                    roots.add(pid)
            with open(f"/proc/{pid}/stat", "rb") as f:
                parent[pid] = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = set(roots), set(roots)
    while frontier:
        frontier = {pid for pid, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return found


def _kill(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _rows(store: Path) -> dict[str, dict]:
    from xner.experiments import Store, comparable

    with Store(store) as st:
        rows = st.rows()
    keys = [r["key"] for r in rows]
    return {"rows": {r["key"]: comparable(r) for r in rows}, "n": len(rows), "distinct": len(set(keys))}


def run(quick: bool = False, data_dir: str | None = None, **_) -> SuiteResult:
    from xner.experiments import run_sweep

    from .data import default_data_dir

    res = SuiteResult("cluster", settings={"nodes": 2, "cpus_per_node": 1, "resource": "xner"})
    d = default_data_dir(data_dir)
    if d is None:
        res.notes.append("skipped: the cluster suite needs WikiANN data (--data-dir)")
        return res
    try:
        import ray  # noqa: F401
    except ImportError:
        res.notes.append("skipped: ray is not installed (pip install '.[ray]')")
        return res
    work = Path(tempfile.mkdtemp(prefix="xner-cluster-"))
    cfg = work / "cluster.toml"
    cfg.write_text(CONFIG.format(steps=20 if quick else 60), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_DEDUP_LOGS": "0"}
    # the local executor's rows: the reference
    t0 = time.perf_counter()
    run_sweep(str(cfg), work / "local" / "results.sqlite", data_dir=d, progress=False)
    t_local = time.perf_counter() - t0
    port = _free_port()
    # Ray's socket paths live under its temp dirs and may not exceed 107 bytes: a short root of their own
    ray_root = Path(tempfile.mkdtemp(prefix="xr-", dir="/tmp"))
    head_tmp, worker_tmp = ray_root / "h", ray_root / "w"
    ray = _ray()
    def start(*argv: str) -> None:
        p = subprocess.run([ray, "start", *argv], capture_output=True, text=True, env=env)
        if p.returncode:
            raise RuntimeError(f"ray start {' '.join(argv[:1])} failed: {(p.stderr or p.stdout)[-1500:]}")

    try:
        start("--head", f"--port={port}", "--num-cpus=1", '--resources={"xner": 1}', f"--temp-dir={head_tmp}",
              "--include-dashboard=false", "--disable-usage-stats")
        start(f"--address=127.0.0.1:{port}", "--num-cpus=1", '--resources={"xner": 1}', f"--temp-dir={worker_tmp}",
              "--disable-usage-stats")
        worker_pids: set[int] = set()
        shared = work / "shared-artifacts"
        store = work / "ray" / "results.sqlite"
        argv = [sys.executable, "-P", "-m", "xner", "sweep", str(cfg), "--executor", "ray", "--ray-address",
                f"127.0.0.1:{port}", "--artifacts", str(shared), "--store", str(store), "--data-dir", d, "-q", "--json"]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed_at = None
        while p.poll() is None:  # kill the worker node once the first models are built
            built = len(list(shared.glob("*/DONE"))) if shared.exists() else 0
            if killed_at is None and built >= 2:
                worker_pids = _node_pids(worker_tmp)
                _kill(worker_pids)
                killed_at = round(time.perf_counter() - t0, 1)
            time.sleep(0.5)
        out, err = p.communicate()
        resumed = False
        runs = [out]
        if p.returncode != 0:  # the driver failed with the node: the sweep resumes from the store
            resumed = True
            runs.append(subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout)
        t_ray = time.perf_counter() - t0
        # task workers the worker node started (one log per worker process): the node really ran tasks
        worker_logs = len(list(worker_tmp.glob("session_*/logs/worker-*.out")))
    finally:  # only the two nodes this suite started: `ray stop` would stop every Ray node on the machine
        _kill(_node_pids(head_tmp) | _node_pids(worker_tmp))
        shutil.rmtree(ray_root, ignore_errors=True)
    ref, got = _rows(work / "local" / "results.sqlite"), _rows(store)
    # results the driver received for a cell more than once (a task retried after it had delivered): the
    # store keeps one row per key, so only this count can show a duplicate
    dup_results = sum(json.loads(o).get("results_duplicated", 0) for o in runs if o.strip().startswith("{"))
    lost = sorted(set(ref["rows"]) - set(got["rows"]))
    extra = sorted(set(got["rows"]) - set(ref["rows"]))
    differ = [k for k in set(ref["rows"]) & set(got["rows"]) if ref["rows"][k] != got["rows"][k]]
    res.add(Timing("local executor", t_local, t_local, t_local, 1, ref["n"], "cells"), engine="local")
    res.add(Timing("two-node Ray, worker killed", t_ray, t_ray, t_ray, 1, got["n"], "cells"), engine="ray")
    res.settings.update(cells_local=ref["n"], cells_ray=got["n"], distinct_ray=got["distinct"], lost=len(lost),
                        duplicated=dup_results, unexpected=len(extra), differing=len(differ),
                        worker_processes_killed=len(worker_pids), worker_node_task_processes=worker_logs,
                        killed_after_s=killed_at,
                        driver_resumed=resumed, identical=not (lost or extra or differ),
                        fault_injected=bool(worker_pids))
    if not worker_pids:
        res.notes.append("no worker-node process was found to kill: this run tested no fault")
    res.notes.append(f"worker node ({len(worker_pids)} processes, {worker_logs} task workers started) SIGKILLed after {killed_at} s; "
                     + ("the driver failed with it and the sweep was resumed" if resumed else
                        "Ray retried its tasks on the head node") + f"; cells: local {ref['n']}, ray {got['n']}, "
                     f"lost {len(lost)}, duplicated {dup_results}, differing {len(differ)}")
    (work / "result.json").write_text(json.dumps(res.settings, indent=1), encoding="utf-8")
    return res
