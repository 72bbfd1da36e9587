"""Executors: how a sweep's groups are built and evaluated, in this process or as a graph of Ray tasks.

Both name artefacts alike (:meth:`Artifacts.steps`) and build them through :func:`build_once`, so
both score the very same ONNX files and give identical rows.  Locally, each group's artefacts are
built in turn, then its cells evaluated; on Ray (:mod:`.graph`) training, distillation, export and
evaluation are tasks that run as soon as what they need is built.
"""

from __future__ import annotations

from collections.abc import Callable

from .artefacts import Artifacts
from .cells import CellJob, evaluate_group
from .graph import run_ray
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


EXECUTORS: dict[str, Callable[..., None]] = {"local": run_local, "ray": run_ray}
