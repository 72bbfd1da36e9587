"""The whole sweep on Ray: training, distillation, export and evaluation as Ray tasks forming the
sweep's dependency graph.

The driver names every artefact a group needs (:meth:`Artifacts.steps`: the very keys the local
executor uses) and submits one task per artefact not yet built, handing it the results of the tasks
that build what it is made from: Ray starts a student only when its teachers are trained, an export
when its model is, and a group's cells (four to a task) when their export is.  Independent models
train at the same time, each task declaring its resources (config ``cpus_per_task``, the torch
threads of training and distillation, and ``gpus_per_task``); exports and cells take one CPU (they
run one thread).  Every task builds through :func:`build_once` in the shared artefact folder, so no
artefact is built twice, not even by two sweeps, and a driver that dies leaves finished artefacts
(and resumable trainings) for the rerun, which skips the cells already in the store.
"""

from __future__ import annotations

from pathlib import Path

from xner.threads import available_cpus

from .artefacts import Artifacts, Step, read_done
from .cells import CellJob, evaluate_group
from .plan import Group

__all__ = ["build_step", "evaluate_after", "resources", "run_ray"]


def resources(cfg: dict, kind: str = "train") -> dict:
    """The Ray resources of a task of ``kind``: training and distillation take ``cpus_per_task``
    CPUs and ``gpus_per_task`` GPUs (config keys, default 1 and 0); exports and cells one CPU; every
    task also takes the config's ``ray_resources`` (custom resources, e.g. ``{ xner = 1 }`` on nodes
    started with ``--resources '{"xner": 1}'``: one task per node at a time, on every node)."""
    extra = {"resources": dict(cfg["ray_resources"])} if cfg.get("ray_resources") else {}
    if kind in ("train", "distill"):
        return {"num_cpus": int(cfg.get("cpus_per_task", 1)), "num_gpus": float(cfg.get("gpus_per_task", 0)), **extra}
    return {"num_cpus": 1, "num_gpus": 0, **extra}


def build_step(spec: tuple, step: Step, *after) -> dict:
    """Ray task: build one artefact and return its info.  ``spec`` is (artefact folder, config,
    resolved models, :class:`CellJob`); ``after`` are the infos of the artefacts it is built from
    (Ray resolves them before the task starts, which is what orders the graph)."""
    root, cfg, models, job = spec
    if step.kind != "export":  # training and distillation use the CPUs the task declared
        try:
            import torch
        except ImportError:
            pass
        else:
            torch.set_num_threads(resources(cfg, step.kind)["num_cpus"])
    return Artifacts(Path(root), cfg, models, job.material()).build(step)


def evaluate_after(onnx_dir: str, job: CellJob, g: Group, cells: list[dict], vectors: str | None,
                   *after) -> list[tuple[dict, dict, bytes]]:
    """Ray task: :func:`evaluate_group`, once ``after`` (the export's build) has finished."""
    return evaluate_group(onnx_dir, job, g, cells, vectors)


def run_ray(todo: list[tuple[Group, list[dict]]], arts: Artifacts, job: CellJob, write, show,
            ray_address: str | None = None) -> None:
    """The sweep as a graph of Ray tasks on a local Ray (started here if none is) or the cluster at
    ``ray_address``; rows are written by the driver as cells finish.  ``arts.root`` must be a folder
    every node sees at the same path (as the data)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False,
                 num_cpus=None if ray_address else available_cpus())
    build = ray.remote(build_step)
    evaluate = ray.remote(**resources(arts.cfg, "cells"))(evaluate_after)
    spec = ray.put((str(arts.root), arts.cfg, arts.models, job))
    tasks: dict[str, object] = {}  # artefact name -> the ref of the task building it (None: already built)
    pending: dict = {}
    for g, cells in todo:
        steps = arts.steps(g)
        for s in steps:
            if s.name not in tasks:
                tasks[s.name] = None
                if read_done(arts.root / s.name) is None:
                    after = [tasks[d] for d in s.deps if tasks.get(d) is not None]
                    task = build.options(name=f"{s.kind} {s.name}", **resources(arts.cfg, s.kind))
                    tasks[s.name] = task.remote(spec, s, *after)
        export = steps[-1].name
        after = [tasks[export]] if tasks[export] is not None else []
        onnx = str(arts.root / export)
        for i in range(0, len(cells), 4):
            pending[evaluate.remote(onnx, job, g, cells[i : i + 4], arts.vectors_model(g.model), *after)] = onnx
    building = {ref: name for name, ref in tasks.items() if ref is not None}
    show.stage(f"ray: {len(building)} models to build, {len(pending)} cell tasks")
    infos: dict[str, dict] = {}
    while pending:
        ready, _ = ray.wait(list(pending) + list(building), num_returns=1)
        for ref in ready:
            if ref in building:  # a model built (its failure surfaces with the cells that need it)
                show.stage(f"built {building.pop(ref)}")
                show.advance(1)
                continue
            onnx = pending.pop(ref)
            results = ray.get(ref)
            if onnx not in infos:  # the export's info, recorded with every row of its model
                infos[onnx] = read_done(Path(onnx)) or {}
            for p, row, counts in results:
                write(p, row, infos[onnx], counts)
    show.advance(len(building))  # models no cell waited for (none in a consistent plan)
