"""Readers and writers for NER corpora.

Formats: ``tsv`` (XTREME PAN-X, ``token<TAB>tag``), ``rahimi`` (``lang:token<TAB>tag``),
``conll`` (whitespace columns, token first and tag last; middle columns survive a round trip),
``jsonl`` (``{"tokens": [...], "ner_tags": [...]}`` per line), ``parquet`` and Hugging Face
``datasets`` folders (``save_to_disk``).  Every reader reports bad input as one
:class:`~xner.errors.InputError` naming the file and where in it: the line for text formats (for
JSONL, the 1-based line of the record), the 0-based record (row) index for parquet and HF
datasets; no sentence is ever dropped.  Integer tag ids follow ``LabelSet.id_names``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from .builder import Builder, locate, tag_id_name
from .corpus import Corpus, WordVocab
from .errors import InputError, XnerError
from .io import atomic_write, dumps
from .labels import REPAIR_POLICIES, LabelSet

FORMATS = ("tsv", "rahimi", "conll", "jsonl", "parquet", "hf")
_RAHIMI = re.compile(r"^([a-z]{2,3}(?:-[a-zA-Z]+)?):(.*)$", re.S)
DOCSTART = "-DOCSTART-"


# -- format detection ---------------------------------------------------------------------------


def detect_format(path: str | os.PathLike) -> str:
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or folder", str(path))
    if p.is_dir():
        return "hf"
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".conll", ".txt", ".iob", ".bio", ".conllu"):
        return "conll"
    # .tsv and anything else: tab separated; Rahimi if its tokens carry a language prefix
    try:
        with open(p, "rb") as f:
            head = f.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff")
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", str(path)) from None
    lines = [ln for ln in head.split("\n")[:50] if ln.strip()]
    if lines and all(_RAHIMI.match(ln.split("\t", 1)[0]) for ln in lines):
        return "rahimi"
    return "tsv"


# -- text readers ---------------------------------------------------------------------------------


def _decode(path: str, data: bytes) -> str:
    if not data.strip():
        raise InputError("empty file: no sentences", path)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError("NUL byte in file (binary data?)", path, data.count(b"\n", 0, nul) + 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[e.start]:02x})", path, line) from None


def _read_bytes(path: str | os.PathLike) -> bytes:
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", str(path))
    if p.is_dir():
        raise InputError("is a folder, expected a file", str(path))
    try:
        return p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", str(path)) from None


def read_columns(
    path: str | os.PathLike,
    fmt: str = "tsv",
    labels: LabelSet | None = None,
    lang: str = "",
    vocab: WordVocab | None = None,
    repair: str = "conlleval",
) -> Corpus:
    """Read ``tsv``, ``rahimi`` or ``conll`` text."""
    if fmt not in ("tsv", "rahimi", "conll"):
        raise XnerError(f"not a column format: {fmt}")
    if repair not in REPAIR_POLICIES:
        raise XnerError(f"unknown repair policy {repair!r}")
    path = str(path)
    text = _decode(path, _read_bytes(path))
    labels = labels if labels is not None else LabelSet.wikiann()
    b = Builder(path, labels)
    langs: set[str] = set()
    docstarts = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():
            b.end_sentence()
            continue
        if fmt == "conll":
            parts = line.split()
            if parts[0] == DOCSTART:
                b.end_sentence()
                docstarts += 1
                continue
        else:
            parts = line.split("\t")
        if len(parts) < 2:
            raise InputError(f"no tag on this line (expected token{'<TAB>' if fmt != 'conll' else ' '}tag): "
                             f"{line[:60]!r}", path, lineno)
        tok, tag = parts[0], parts[-1].strip()
        if not tag:
            raise InputError("empty tag", path, lineno)
        if fmt == "rahimi":
            m = _RAHIMI.match(tok)
            if not m:
                raise InputError(f"token {tok[:40]!r} has no 'lang:' prefix (Rahimi format)", path, lineno)
            langs.add(m.group(1))
            tok = m.group(2)
        b.token(tok, tag, lineno, "\t".join(parts[1:-1]) if len(parts) > 2 else "")
    if fmt == "rahimi" and not lang:
        lang = sorted(langs)[0] if len(langs) == 1 else ",".join(sorted(langs))
    c = b.build(lang, fmt != "rahimi", vocab, repair)
    c.meta["format"] = fmt
    if docstarts:
        c.meta["docstarts"] = docstarts
    return c


def read_jsonl(
    path: str | os.PathLike,
    labels: LabelSet | None = None,
    lang: str = "",
    vocab: WordVocab | None = None,
    repair: str = "conlleval",
    tokens_key: str = "tokens",
    tags_key: str = "ner_tags",
) -> Corpus:
    path = str(path)
    text = _decode(path, _read_bytes(path))
    labels = labels if labels is not None else LabelSet.wikiann()
    b = Builder(path, labels, "sentence")
    int_tags = labels.id_names
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON: {e.msg}", path, lineno) from None
        if not isinstance(rec, dict) or tokens_key not in rec or tags_key not in rec:
            raise InputError(f"expected an object with {tokens_key!r} and {tags_key!r}", path, lineno)
        toks, tags = rec[tokens_key], rec[tags_key]
        if not isinstance(toks, list) or not isinstance(tags, list):
            raise InputError(f"{tokens_key!r} and {tags_key!r} must be lists", path, lineno)
        if len(toks) != len(tags):
            raise InputError(f"{len(toks)} tokens but {len(tags)} tags", path, lineno)
        if not toks:
            raise InputError("sentence with no tokens", path, lineno)
        if lang == "" and isinstance(rec.get("lang"), str):
            lang = rec["lang"]
        for tok, tag in zip(toks, tags, strict=True):
            if not isinstance(tok, str):
                raise InputError(f"token {tok!r} is not a string", path, lineno)
            b.token(tok, tag_id_name(tag, int_tags, path, "sentence", lineno), lineno)
        b.end_sentence()
    c = b.build(lang, False, vocab, repair)
    c.meta["format"] = "jsonl"
    return c


# -- Hugging Face datasets / parquet ----------------------------------------------------------------


def from_records(
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[int | str]],
    tag_names: Sequence[str] | None,
    labels: LabelSet | None,
    lang: str,
    source: str,
    repair: str = "conlleval",
) -> Corpus:
    """Rows of tokens and tags (strings, or ids into ``tag_names``, else ``labels.id_names``)."""
    labels = labels if labels is not None else LabelSet.wikiann()
    names = list(tag_names) if tag_names is not None else labels.id_names
    b = Builder(source, labels, "record")
    for i, (toks, tt) in enumerate(zip(tokens, tags, strict=True)):
        if toks is None or tt is None or len(toks) != len(tt):
            n_tok, n_tag = (len(x) if x is not None else "no" for x in (toks, tt))
            raise InputError(f"{locate('record', i)[0]}{n_tok} tokens but {n_tag} tags", source)
        if not len(toks):
            raise InputError(f"{locate('record', i)[0]}sentence with no tokens", source)
        for tok, tag in zip(toks, tt, strict=True):
            b.token(tok, tag_id_name(tag, names, source, "record", i), i)
        b.end_sentence()
    c = b.build(lang, False, None, repair)
    return c


def _class_names(features, key: str) -> list[str] | None:
    feat = features.get(key) if features is not None else None
    inner = getattr(feat, "feature", None)
    return list(inner.names) if inner is not None and hasattr(inner, "names") else None


def read_hf(ds, labels: LabelSet | None = None, lang: str = "", source: str = "hf", repair: str = "conlleval") -> Corpus:
    """A ``datasets.Dataset`` with ``tokens`` and ``ner_tags`` columns."""
    if "tokens" not in ds.column_names or "ner_tags" not in ds.column_names:
        raise InputError(f"dataset needs 'tokens' and 'ner_tags' columns, has {ds.column_names}", source)
    names = _class_names(ds.features, "ner_tags")
    col = ds.with_format("python")
    c = from_records(col["tokens"], col["ner_tags"], names, labels, lang, source, repair)
    c.meta["format"] = "hf"
    return c


def read_parquet(path: str | os.PathLike, labels: LabelSet | None = None, lang: str = "", repair: str = "conlleval") -> Corpus:
    import pyarrow.parquet as pq

    path = str(path)
    if not Path(path).exists():
        raise InputError("no such file", path)
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise InputError(f"not a readable parquet file: {e}", path) from None
    if "tokens" not in table.column_names or "ner_tags" not in table.column_names:
        raise InputError(f"parquet needs 'tokens' and 'ner_tags' columns, has {table.column_names}", path)
    names = None
    meta = table.schema.metadata or {}
    if b"huggingface" in meta:  # datasets writes its features into the schema metadata
        try:
            feats = json.loads(meta[b"huggingface"])["info"]["features"]["ner_tags"]
            names = feats.get("feature", {}).get("names") or (feats.get("names") if isinstance(feats, dict) else None)
        except (KeyError, TypeError, ValueError):
            names = None
    c = from_records(table.column("tokens").to_pylist(), table.column("ner_tags").to_pylist(), names, labels,
                     lang, path, repair)
    c.meta["format"] = "parquet"
    return c


def read_hf_disk(path: str | os.PathLike, split: str | None = None, labels: LabelSet | None = None,
                 lang: str = "", repair: str = "conlleval") -> Corpus:
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except FileNotFoundError as e:
        raise InputError(f"not a datasets save_to_disk folder: {e}", str(path)) from None
    if isinstance(ds, datasets.DatasetDict):
        key = split or ("test" if "test" in ds else next(iter(ds)))
        if key == "dev" and "dev" not in ds:
            key = "validation"
        if key not in ds:
            raise InputError(f"no split {key!r} (has {', '.join(ds)})", str(path))
        ds = ds[key]
    return read_hf(ds, labels, lang, str(path), repair)


def read_corpus(path: str | os.PathLike, fmt: str = "auto", labels: LabelSet | None = None, lang: str = "",
                repair: str = "conlleval", split: str | None = None) -> Corpus:
    """Read any supported format (``auto`` detects from the name and content)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if not Path(path).exists():
        raise InputError("no such file or folder", str(path))
    if fmt in ("tsv", "rahimi", "conll"):
        return read_columns(path, fmt, labels, lang, repair=repair)
    if fmt == "jsonl":
        return read_jsonl(path, labels, lang, repair=repair)
    if fmt == "parquet":
        return read_parquet(path, labels, lang, repair)
    if fmt == "hf":
        return read_hf_disk(path, split, labels, lang, repair)
    raise XnerError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)} or auto")


# -- writers (atomic_write lives in xner.io; imported here under its old name) ---------------------


def _column_lines(c: Corpus, fmt: str) -> Iterator[str]:
    words = c.vocab.lookup(c.words)
    tags = c.labels.decode_array(c.tags)
    cols = c.columns
    o = c.offsets.tolist()
    sep = " " if fmt == "conll" else "\t"
    prefix = f"{c.lang}:" if fmt == "rahimi" else ""
    if fmt == "rahimi" and (not c.lang or "," in c.lang):
        raise XnerError("the Rahimi format needs a single language code (corpus.lang)")
    for s in range(len(c)):
        for i in range(o[s], o[s + 1]):
            w = words[i]
            if fmt == "conll" and (not w or any(ch.isspace() for ch in w)):
                raise XnerError(f"token {w!r} cannot be written as CoNLL (empty or contains whitespace); use tsv")
            if fmt != "conll" and ("\t" in w or "\n" in w):
                raise XnerError(f"token {w!r} contains a tab or newline; use jsonl")
            mid = ""
            if cols is not None and cols[i]:
                mid = (cols[i].replace("\t", " ") if fmt == "conll" else cols[i]) + sep
            yield f"{prefix}{w}{sep}{mid}{tags[i]}\n"
        yield "\n"


def write_corpus(c: Corpus, path: str | os.PathLike, fmt: str = "auto") -> None:
    """Write a corpus atomically (tsv, rahimi, conll, jsonl or parquet)."""
    if fmt == "auto":
        suffix = Path(path).suffix.lower()
        fmt = {".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".conll": "conll",
               ".txt": "conll"}.get(suffix, "tsv")
    if fmt in ("tsv", "rahimi", "conll"):
        atomic_write(path, _column_lines(c, fmt))
    elif fmt == "jsonl":
        sents, tags = c.sentences(), c.tag_lists()
        extra = {"lang": c.lang} if c.lang else {}
        atomic_write(path, (dumps({"tokens": s, "ner_tags": t, **extra}) + "\n" for s, t in zip(sents, tags, strict=True)))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"tokens": c.sentences(), "ner_tags": c.tag_lists()})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{path}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    else:
        raise XnerError(f"cannot write format {fmt!r}")
