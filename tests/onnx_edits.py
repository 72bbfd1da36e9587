"""Edits that break an exported ONNX graph on purpose, for tests of the parity gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def damage(folder: Path, name: str = "model.onnx") -> None:
    """Reverse and scale the classifier weight: the graph still runs, its tags are wrong."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(folder / name))
    for init in m.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.ndim == 2 and arr.shape[1] == 7:  # the classifier weight
            init.CopyFrom(numpy_helper.from_array(arr[:, ::-1].copy() * 3, init.name))
    onnx.save(m, str(folder / name))


def set_classifier_bias(folder: Path, value: float, name: str = "model.onnx") -> None:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(folder / name))
    for init in m.graph.initializer:
        if numpy_helper.to_array(init).shape == (7,):  # the classifier bias
            init.CopyFrom(numpy_helper.from_array(np.full(7, value, np.float32), init.name))
    onnx.save(m, str(folder / name))


def break_quantizers(monkeypatch) -> None:
    """Make both int8 quantisers of ``xner.export.build`` (static and dynamic) wreck what they write,
    so a test can see the parity gate stop a bad quantised graph."""
    import xner.export.build as build

    for name in ("quantize_int8", "quantize_static_int8"):
        real = getattr(build, name)

        def broken(src, dst, *rest, real=real):
            out = real(src, dst, *rest)
            damage(dst.parent, dst.name)
            return out

        monkeypatch.setattr(build, name, broken)
