"""Executors: how a sweep's groups are built and evaluated, in this process or as a graph of Ray tasks.

Both name artefacts alike (:meth:`Artifacts.steps`) and build them through :func:`build_once`, so
both score the very same ONNX files and give identical rows.  Locally, each group's artefacts are
built in turn, then its cells evaluated; on Ray (:mod:`.graph`) training, distillation, export and
evaluation are tasks that run as soon as what they need is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .artefacts import Artifacts
from .cells import CellJob, evaluate_group
from .graph import run_ray
from .plan import Group

__all__ = ["EXECUTORS", "CellJob", "run_local", "run_ray"]

#: receives each finished cell: (params, row, the export info of its model, its packed counts)
Write = Callable[[dict, dict, dict, bytes], None]


class Show(Protocol):
    """The progress display: told the current stage, and each model built (a finished cell is
    counted by ``write``)."""

    def stage(self, text: str) -> None: ...

    def advance(self, n: int = 1) -> None: ...


def run_local(todo: list[tuple[Group, list[dict]]], arts: Artifacts, job: CellJob, write: Write, show: Show,
              ray_address: str | None = None) -> None:
    """Group after group in this process: its models built step by step, then its cells evaluated."""
    for g, cells in todo:
        for s in arts.steps(g):
            if not arts.is_built(s):
                show.stage(f"{s.kind} {g.label}")
                arts.build(s)
                show.advance(1)
        show.stage(f"evaluate {g.label}")
        onnx, info = arts.for_group(g)  # built: returns the export's folder and info
        for p, row, counts in evaluate_group(onnx, job, g, cells, arts.vectors_model(g.model)):
            write(p, row, info, counts)


EXECUTORS: dict[str, Callable[..., None]] = {"local": run_local, "ray": run_ray}
