"""Artefacts of a sweep: base models, trained, distilled and exported models, each built once.

Folders are named by the hash of their inputs, so a model trained once serves all its cells and a
crash resumes.  Each is built by :func:`build_once`: under an inter-process lock per folder, in a
staging folder moved into place only when finished, with a ``DONE`` marker that is read back before
use (a missing or damaged marker means "not done").
"""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from xner.hub import mbert_vocab
from xner.io import dumps

from .cells import test_corpus
from .plan import Group, languages

__all__ = ["DONE", "Artifacts", "artifact_key", "build_once", "folder_lock", "read_done"]

# -- artefact folders --------------------------------------------------------------------------------

DONE = "DONE"
OWNER = ".xner-artifact"  # in every folder build_once made: only such folders are ever deleted
STAGING = ".staging"  # where folders are built; everything in it was made by build_once


def read_done(d: Path) -> dict | None:
    """A finished artefact's info, or None when its ``DONE`` marker is missing or damaged (not done)."""
    try:
        info = json.loads((d / DONE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


@contextmanager
def folder_lock(root: Path, name: str) -> Iterator[None]:
    """An exclusive inter-process lock on ``root/name`` (``flock`` on ``root/.name.lock``)."""
    with open(root / f".{name}.lock", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def build_once(root: Path, name: str, build: Callable[[Path], dict], resumable: bool = False) -> dict:
    """The info of artefact folder ``root/name``, built by ``build(folder) -> info`` if not done yet.

    Concurrent callers (threads or processes, e.g. two sweeps on one store) build it once: the
    others wait for the lock, then reuse it.  The build runs in ``root/.staging``: a fresh folder, or
    for ``resumable`` builds (training) ``.staging/name``, which a killed build leaves for the next
    one to resume.  The finished folder gets its marker and is renamed into place; a damaged
    folder it replaces is deleted only if ``build_once`` made it, else it is kept beside as
    ``name.replaced-TIME``.
    """
    d = root / name
    info = read_done(d)
    if info is not None:
        return info
    root.mkdir(parents=True, exist_ok=True)
    with folder_lock(root, name):
        info = read_done(d)
        if info is not None:
            return info  # built by another sweep while this one waited
        staging = root / STAGING
        staging.mkdir(exist_ok=True)
        for old in staging.glob(f"{name}.*"):  # left by a killed build of this very folder
            shutil.rmtree(old, ignore_errors=True)
        tmp = None if resumable else Path(tempfile.mkdtemp(prefix=f"{name}.", dir=staging))
        work = staging / name if tmp is None else tmp / name
        try:
            info = build(work)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        work.mkdir(parents=True, exist_ok=True)
        _write_synced(work / OWNER, json.dumps({"artifact": name, "built": time.time()}))
        _write_synced(work / DONE, dumps(info, indent=2))
        aside = None
        if d.exists() or d.is_symlink():
            aside = root / f"{name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            os.rename(d, aside)
        os.rename(work, d)
        if aside is not None:
            if (aside / OWNER).is_file() and not aside.is_symlink():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                logging.getLogger("xner.sweep").warning("%s had a damaged DONE marker and was not made by a "
                                                        "sweep: kept as %s", d, aside)
        if tmp is not None:  # (what else a build left beside its folder, e.g. a rejected export)
            shutil.rmtree(tmp, ignore_errors=True)
        return json.loads(dumps(info))  # as a later reader of DONE sees it


# -- the sweep's models -------------------------------------------------------------------------------


def artifact_key(obj) -> str:
    """A short hash of an artefact's inputs (its folder name's suffix)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fresh(fn) -> dict:  # a staging folder left by other inputs (a rebuilt base model) starts afresh
    return {"overwrite": True} if "overwrite" in inspect.signature(fn).parameters else {}


class Artifacts:
    """Models trained / distilled / exported once, in folders named by the hash of their inputs."""

    def __init__(self, root: Path, cfg: dict, models: dict[str, dict], source, data_name: str):
        self.root = root
        self.cfg = cfg
        self.models = models
        self.source = source
        self.data_name = data_name
        root.mkdir(parents=True, exist_ok=True)

    def base_model(self, name: str) -> str:
        spec = self.models[name]
        if "hub" in spec:
            return spec["hub"]
        if "path" in spec:
            return spec["path"]
        init = dict(spec["init"])

        def build(d: Path) -> dict:
            from xner.training.models import init_model

            vocab = init.pop("vocab", None)
            if vocab == "mbert":
                vocab = mbert_vocab(getattr(self.source, "root", None))
            files = None
            if vocab is None:  # a tokenizer trained on every language the sweep touches
                files = [str(self.source.path(lang, "train")) for lang in languages(self.cfg)]
            init_model(init.pop("arch", "bert"), d, vocab=vocab, train_tokenizer_on=files, **init)
            return {"init": spec["init"]}

        folder = f"init-{artifact_key(spec['init'])}"
        build_once(self.root, folder, build)
        return str(self.root / folder)

    def _train_split(self, lang: str):
        c = self.source.load(lang, "train")
        cap = int(self.cfg.get("train_max_sentences", 0) or 0)
        return c.subset(np.arange(min(cap, len(c)))) if cap else c

    def trained(self, model: str, langs: tuple[str, ...]) -> str:
        from xner.training.finetune import finetune
        from xner.training.presets import resolve

        tcfg = dict(self.cfg["train"])
        hp = resolve(tcfg.pop("preset", "study"), **tcfg)
        seed = int(self.cfg.get("train_seed", 42))
        name = "train-" + artifact_key([self.models[model], langs, hp, seed, self.data_name,
                                        self.cfg.get("train_max_sentences")])

        def build(d: Path) -> dict:
            card = finetune(self.base_model(model), [self._train_split(x) for x in langs], None, d, hp, seed=seed,
                            setting="multi" if len(langs) > 1 else "single", data=self.data_name, **_fresh(finetune))
            return {"model": model, "langs": langs, "steps": card["steps"]}

        build_once(self.root, name, build, resumable=True)
        return str(self.root / name)

    def distilled(self, model: str, sources: tuple[str, ...], target: str, weighting: str) -> str:
        from xner.training.distill import distill
        from xner.training.presets import resolve

        teachers = [self.trained(model, (s,)) for s in sources]
        dcfg = dict(self.cfg["distill"])
        student = dcfg.pop("student", "teacher")
        layers = dcfg.pop("student_layers", None)
        hp = resolve(dcfg.pop("preset", "student"), **dcfg)
        seed = int(self.cfg.get("train_seed", 42))
        names = [Path(t).name for t in teachers]  # artefact names are hashes of their inputs
        name = f"distill-{artifact_key([names, target, weighting, hp, student, layers, seed])}"

        def build(d: Path) -> dict:
            t = self._train_split(target)
            unl = t.with_tags(np.zeros_like(t.tags))
            srcs = [self._train_split(s) for s in sources] if weighting != "uniform" and len(sources) > 1 else None
            base = teachers[0] if student == "teacher" else self.base_model(model)
            card = distill(teachers, unl, base, d, hp, seed=seed, weighting=weighting, source_corpora=srcs,
                           student_layers=layers, data=self.data_name, **_fresh(distill))
            return {"teachers": teachers, "weights": card["weights"]}

        build_once(self.root, name, build, resumable=True)
        return str(self.root / name)

    def exported(self, model_dir: str, target: str) -> str:
        """Export and gate on the target's test set; an int8/fp16 graph that fails its gate is replaced
        by the (gated) float32 export, and the reason is recorded with every row of the model."""
        from xner.export.build import ParityError, export

        ecfg = self.cfg["export"]
        cap = int(self.cfg.get("test_max_sentences", 0) or 0)
        name = f"onnx-{artifact_key([Path(model_dir).name, ecfg, target, cap])}"

        def build(d: Path) -> dict:
            ev = test_corpus(self.source, target, cap)
            args = (ecfg.get("exporter", "auto"), ecfg.get("optimize"))
            info = {"source": Path(model_dir).name, "gated_on": f"{target}/test ({len(ev)} sentences)"}
            try:
                export(model_dir, d, *args, ecfg.get("quantize"), bool(ecfg.get("fp16", False)), ev,
                       bool(ecfg.get("force", False)), threads=1)
            except ParityError as e:
                if not (ecfg.get("quantize") or ecfg.get("fp16")):
                    raise
                logging.getLogger("xner.sweep").warning("%s; using the float32 export instead", e)
                export(model_dir, d, *args, None, False, ev, False, threads=1)
                info["fallback"] = f"float32 (the quantised graph failed its gate: {str(e).split(';')[0]})"
            return info

        build_once(self.root, name, build)
        return str(self.root / name)

    def for_group(self, g: Group) -> tuple[str, dict]:
        """The exported model a group's cells are scored with, and its export info."""
        if g.setting == "student":
            m = self.distilled(g.model, g.sources, g.target, g.weighting)
        else:
            m = self.trained(g.model, g.sources)
        d = self.exported(m, g.target)
        return d, read_done(Path(d)) or {}
