"""Files the project writes: atomically (no half-written files) and, for JSON, strictly.

Every JSON the project writes goes through :func:`dumps` (``allow_nan=False``): NaN and
infinities, which ``json`` would write as the non-JSON tokens ``NaN``/``Infinity``, become
``null``; numpy scalars and arrays become numbers and lists, anything else its ``str``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for result files: numpy scalars and arrays, paths, else ``str``."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def json_safe(obj: Any) -> Any:
    """A copy of ``obj`` with non-finite floats (Python or numpy, also inside arrays) as ``None``."""
    import numpy as np

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray)):
        return json_safe(obj.tolist() if isinstance(obj, np.ndarray) else obj.item())
    return obj


def dumps(obj: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Strict JSON text (UTF-8, not ASCII-escaped); NaN and infinities become ``null``."""
    kw: dict[str, Any] = {"indent": indent, "sort_keys": sort_keys, "ensure_ascii": False, "allow_nan": False,
                          "default": json_default}
    try:
        return json.dumps(obj, **kw)
    except ValueError:  # a non-finite float somewhere: only then pay for the copy
        return json.dumps(json_safe(obj), **kw)


def atomic_write(path: str | os.PathLike, lines: Iterable[str]) -> None:
    """Write text through a temporary file and rename it into place (no half-written files)."""
    path = Path(path)
    if path.exists() and not path.is_file() or path.is_symlink() and not path.resolve().is_file():
        from .errors import XnerError  # a device, pipe or folder: renaming over it would replace it

        raise XnerError(f"{path} is not a regular file; give a file path to write to")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for ln in lines:
                f.write(ln)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as strict JSON, atomically."""
    atomic_write(path, [dumps(obj, indent=indent) + "\n"])
