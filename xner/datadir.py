"""Where corpora come from: a data folder laid out as ``{lang}/{split}.tsv`` or the HF hub.

The folder is given by ``--data-dir`` or ``XNER_DATA_DIR``; without either, the ``wikiann`` hub
dataset is used (which needs network access).  Only an explicit hub spec selects the hub: ``hub``
exactly, or ``hub:NAME`` for another dataset; anything else (``hubdata/``, ``./hub``) is a local
folder.  Split files may also be ``.jsonl``, ``.conll`` or ``.parquet``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .corpus import Corpus
from .errors import InputError, XnerError
from .formats import read_corpus, read_hf
from .labels import LabelSet

SPLITS = ("train", "dev", "test", "extra")
_EXTS = (".tsv", ".jsonl", ".conll", ".parquet", ".txt")
ENV = "XNER_DATA_DIR"


class DataDir:
    """A folder of ``{lang}/{train,dev,test[,extra]}.tsv`` files."""

    def __init__(self, root: str | os.PathLike, labels: LabelSet | None = None, repair: str = "conlleval"):
        self.root = Path(root)
        if not self.root.exists():
            raise InputError("data folder not found (set --data-dir or XNER_DATA_DIR)", str(root))
        if not self.root.is_dir():
            raise InputError("data folder is not a folder", str(root))
        self.labels = labels
        self.repair = repair
        self._cache: dict[tuple[str, str], Corpus] = {}

    def __repr__(self) -> str:
        return f"DataDir({str(self.root)!r})"

    @property
    def name(self) -> str:
        return str(self.root)

    def languages(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def path(self, lang: str, split: str) -> Path:
        d = self.root / lang
        if not d.is_dir():
            have = ", ".join(self.languages()) or "none"
            raise InputError(f"no folder for language {lang!r} (languages here: {have})", str(self.root))
        for ext in _EXTS:
            p = d / f"{split}{ext}"
            if p.exists():
                return p
        raise InputError(f"no {split} split for {lang!r} (looked for {split}.tsv/.jsonl/.conll/.parquet)", str(d))

    def has(self, lang: str, split: str) -> bool:
        return any((self.root / lang / f"{split}{ext}").exists() for ext in _EXTS)

    def splits(self, lang: str) -> list[str]:
        if not (self.root / lang).is_dir():
            self.path(lang, "train")  # raises with the list of languages present
        return [s for s in SPLITS if self.has(lang, s)]

    def load(self, lang: str, split: str) -> Corpus:
        if split not in SPLITS:
            raise XnerError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        key = (lang, split)
        if key not in self._cache:
            c = read_corpus(self.path(lang, split), labels=self.labels, lang=lang, repair=self.repair)
            c.lang = lang
            c.meta["split"] = split
            self._cache[key] = c
        return self._cache[key]


class HubSource:
    """The ``wikiann`` dataset on the Hugging Face hub (network needed)."""

    def __init__(self, dataset: str = "wikiann", labels: LabelSet | None = None, repair: str = "conlleval"):
        self.dataset = dataset
        self.labels = labels
        self.repair = repair

    @property
    def name(self) -> str:
        return f"hub:{self.dataset}"

    def languages(self) -> list[str]:
        from .langs import PANX_LANGS

        return list(PANX_LANGS)

    def has(self, lang: str, split: str) -> bool:
        return split in ("train", "dev", "test")

    def splits(self, lang: str) -> list[str]:
        return ["train", "dev", "test"]

    def load(self, lang: str, split: str) -> Corpus:
        return _hub_load(self.dataset, lang, split, self.repair)


@lru_cache(maxsize=64)
def _hub_load(dataset: str, lang: str, split: str, repair: str) -> Corpus:
    try:
        import datasets

        ds = datasets.load_dataset(dataset, lang, split={"dev": "validation"}.get(split, split))
    except Exception as e:  # offline, unknown config, ...: one clear message
        raise XnerError(
            f"cannot load {dataset}/{lang}/{split} from the Hugging Face hub ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:200] if str(e) else ''}). Give a local data folder with --data-dir "
            f"or {ENV}.") from None
    c = read_hf(ds, None, lang, f"hub:{dataset}/{lang}/{split}", repair)
    c.meta["split"] = split
    return c


def hub_spec(d: str) -> str | None:
    """The hub dataset named by ``hub`` (``wikiann``) or ``hub:NAME``; ``None`` for a local path."""
    if d == "hub":
        return "wikiann"
    if d.startswith("hub:"):
        name = d[4:].strip()
        if not name:
            raise XnerError("empty hub dataset name: use 'hub' (the wikiann dataset) or 'hub:NAME'")
        return name
    return None


def open_source(data_dir: str | os.PathLike | None = None, repair: str = "conlleval") -> DataDir | HubSource:
    """``--data-dir``, else ``XNER_DATA_DIR``, else the hub (``hub`` or ``hub:NAME`` selects it explicitly;
    a local folder whose name merely starts with ``hub`` is a local folder: ``./hub`` for one named ``hub``)."""
    d = str(data_dir) if data_dir else os.environ.get(ENV, "")
    hub = hub_spec(d)
    if hub is not None:
        return HubSource(hub, repair=repair)
    if d:
        return DataDir(d, repair=repair)
    return HubSource(repair=repair)
