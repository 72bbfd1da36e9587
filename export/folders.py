"""Where an export is written: never over a folder xner did not make, never half-finished.

An export is built in a temporary sibling of ``--out`` and moved into place only once its parity
gate passed (or ``--force`` was given).  A rejected candidate is kept beside it as
``<out>.rejected``, a name no command loads by default.  ``--out`` may be a new or empty folder, or
an earlier xner export (its ``export_report.json`` says so); anything else is refused unless the
user asks for ``--overwrite``.  The model being exported, the working directory and their parents
are never replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from xner.errors import XnerError

REPORT = "export_report.json"
MARK = "xner export"  # the report's "tool" field


def is_export(folder: Path) -> bool:
    """True for a folder that xner's export wrote (its report carries xner's mark)."""
    try:
        return json.loads((folder / REPORT).read_text(encoding="utf-8")).get("tool") == MARK
    except (OSError, ValueError, AttributeError):
        return False


def _inside(a: Path, b: Path) -> bool:
    """a is b or lies inside b."""
    return a == b or b in a.parents


def card_inputs(model_dir: str | os.PathLike) -> list[str]:
    """The data folder a model's run card names (its training text: also what static int8 calibrates
    on): an export must never replace it."""
    import json

    try:
        data = json.loads((Path(model_dir) / "run.json").read_text(encoding="utf-8")).get("data")
    except (OSError, ValueError, AttributeError):
        return []
    # ("" is no folder: an in-process fine-tune without a data folder writes it, and Path("") is the cwd)
    return [str(data)] if isinstance(data, str) and data.strip() and Path(data).is_dir() else []


def check_out(out: Path, model_dir: str | os.PathLike, overwrite: bool, inputs: tuple | list = ()) -> Path:
    """Refuse an ``--out`` that would destroy something (the model, the working directory, ``inputs``
    such as the data folder); returns the resolved path."""
    target = Path(out).resolve()
    model = Path(model_dir).resolve()
    if _inside(model, target):
        raise XnerError(f"--out {out} would replace the model being exported ({model_dir}); choose another folder")
    if _inside(Path.cwd().resolve(), target):
        raise XnerError(f"--out {out} would replace the working directory; choose a new folder")
    from xner.outputs import claim_dir

    if target.is_dir() and any(target.iterdir()) and not is_export(target) and not overwrite:
        raise XnerError(f"--out {out} is not empty and is not an xner export; nothing was touched "
                        "(choose a new folder, or --overwrite to replace it)")
    return claim_dir(out, inputs=[model, *inputs], overwrite=True)  # the one guard: inputs, working directory, a file


def staging(target: Path) -> Path:
    """A fresh temporary folder beside the target (same file system, so the final move is a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.xner-tmp-"))


def _replace_dir(src: Path, dst: Path) -> None:
    """Move folder ``src`` to ``dst``, replacing what was there (checked by :func:`check_out`)."""
    if dst.is_dir():
        if not any(dst.iterdir()):
            dst.rmdir()
        else:
            old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.xner-old-"))
            os.replace(dst, old / dst.name)
            os.replace(src, dst)
            shutil.rmtree(old, ignore_errors=True)
            return
    os.replace(src, dst)


def publish(tmp: Path, target: Path) -> None:
    _replace_dir(tmp, target)


def reject(tmp: Path, target: Path) -> Path:
    """Keep a candidate that failed its gate as ``<out>.rejected`` (replacing an earlier rejected one)."""
    dst = target.with_name(target.name + ".rejected")
    if dst.exists() and not is_export(dst):
        shutil.rmtree(tmp, ignore_errors=True)
        raise XnerError(f"{dst} exists and is not an xner export; the rejected candidate was not kept")
    _replace_dir(tmp, dst)
    return dst


def discard(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
