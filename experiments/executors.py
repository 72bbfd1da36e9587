"""Executors: how a sweep's groups of cells are evaluated, in this process or as Ray tasks.

Both build each group's artefacts in the driver first (:meth:`Artifacts.for_group`), so both score
the very same ONNX files and give identical rows.
"""

from __future__ import annotations

from collections.abc import Callable

from xner.threads import available_cpus

from .artefacts import Artifacts
from .cells import CellJob, evaluate_group
from .plan import Group

__all__ = ["EXECUTORS", "CellJob", "run_local", "run_ray"]

#: receives each finished cell: (params, row, the export info of its model, its packed counts)
Write = Callable[[dict, dict, dict, bytes], None]
#: told which group is being prepared (for progress display)
Show = Callable[[str], None]


def run_local(todo: list[tuple[Group, list[dict]]], arts: Artifacts, job: CellJob, write: Write, show: Show,
              ray_address: str | None = None) -> None:
    """Group after group in this process."""
    for g, cells in todo:
        show(g.label)
        onnx, info = arts.for_group(g)
        for p, row, counts in evaluate_group(onnx, job, g, cells, arts.vectors_model(g.model)):
            write(p, row, info, counts)


def run_ray(todo: list[tuple[Group, list[dict]]], arts: Artifacts, job: CellJob, write: Write, show: Show,
            ray_address: str | None = None) -> None:
    """Artefacts first (driver), then one Ray task per group and batch of four cells, written as they
    finish; on a local Ray (started here if none is) or the cluster at ``ray_address``."""
    import ray

    if not ray.is_initialized():
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False,
                 num_cpus=None if ray_address else available_cpus())
    task = ray.remote(num_cpus=1)(evaluate_group)
    pending = {}
    for g, cells in todo:
        show(g.label)
        onnx, info = arts.for_group(g)
        for i in range(0, len(cells), 4):
            ref = task.remote(onnx, job, g, cells[i : i + 4], arts.vectors_model(g.model))
            pending[ref] = info
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            info = pending.pop(ref)
            for p, row, counts in ray.get(ref):
                write(p, row, info, counts)


EXECUTORS: dict[str, Callable[..., None]] = {"local": run_local, "ray": run_ray}
