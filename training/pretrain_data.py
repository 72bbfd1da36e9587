"""What ``xner pretrain`` reads: unlabelled text (a data folder's train and extra splits, or plain
text files), the ``--init`` spec, and the masked-LM examples built from them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from xner.corpus import Corpus
from xner.errors import InputError, XnerError

__all__ = ["INIT_HELP", "encode_sentences", "parse_init_spec", "read_text", "text_from_source", "write_tsv"]

INIT_HELP = ("ARCH[:KEY=VALUE,...]: ARCH is a registered family (bert, xlmr, roberta, electra); keys hidden "
             "(128), layers (2), heads (2), intermediate (4 x hidden), positions (512, the position table), "
             "vocab = train (default: train a tokenizer on the same text, WordPiece for bert/electra, Unigram "
             "for xlmr/roberta) | mbert (mBERT's vocab.txt beside the data folder) | FILE (a WordPiece vocab.txt), "
             "vocab-size (8000, for vocab=train); 'train-tokenizer' alone means vocab=train. "
             "E.g. bert:hidden=128,layers=2,heads=2,vocab=mbert")
_INT_KEYS = ("hidden", "layers", "heads", "intermediate", "positions", "vocab-size")


def parse_init_spec(spec: str) -> dict:
    """``bert:hidden=128,layers=2,heads=2,vocab=mbert`` -> the full, normalised spec (every key)."""
    from xner.families import archs, by_arch

    arch, _, rest = spec.strip().partition(":")
    if arch not in archs():
        raise XnerError(f"--init {spec!r}: unknown architecture {arch!r}; choose {', '.join(archs())} "
                        "(format ARCH[:KEY=VALUE,...])")
    out: dict = {"arch": arch, "hidden": 128, "layers": 2, "heads": 2, "intermediate": None, "positions": 512,
                 "vocab": "train", "vocab-size": 8000}
    for item in (x.strip() for x in rest.split(",")):
        if not item:
            continue
        if item == "train-tokenizer":
            out["vocab"] = "train"
            continue
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in out or key == "arch" or not value:
            raise XnerError(f"--init {spec!r}: cannot read {item!r}; keys are {', '.join(k for k in out if k != 'arch')}"
                            " (KEY=VALUE) and train-tokenizer")
        if key in _INT_KEYS:
            try:
                out[key] = int(value)
            except ValueError:
                raise XnerError(f"--init {spec!r}: {key} must be a whole number (got {value!r})") from None
            if out[key] < 1:
                raise XnerError(f"--init {spec!r}: {key} must be at least 1")
        else:
            out[key] = value
    if out["hidden"] % out["heads"]:
        raise XnerError(f"--init {spec!r}: hidden {out['hidden']} must be divisible by heads {out['heads']}")
    if out["vocab"] != "train":
        out["vocab-size"] = None  # only a trained tokenizer has a size to choose
    if out["vocab"] != "train" and by_arch(arch).tokenizer != "wordpiece":
        raise XnerError(f"--init {spec!r}: {arch} has a Unigram tokenizer; only vocab=train builds one")
    return out


def read_text(path: str | os.PathLike) -> Corpus:
    """A plain text file: one sentence per line, whitespace tokenised (blank lines skipped)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file" if not p.exists() else "not a file", str(path))
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError("not UTF-8 text", str(path), data[: e.start].count(b"\n") + 1) from None
    sents = []
    for i, line in enumerate(text.splitlines(), 1):
        if "\x00" in line:
            raise InputError("NUL byte in the text", str(path), i)
        words = line.split()
        if words:
            sents.append(words)
    if not sents:
        raise InputError("no text (every line is blank)", str(path))
    c = Corpus.from_lists(sents, [["O"] * len(s) for s in sents], source=str(p))
    c.meta["file"] = str(p)
    return c


def text_from_source(src, langs: Sequence[str], heldout_langs: Sequence[str] = ()) -> list[Corpus]:
    """The train split and, where present, the extra split of each language, without any sentence
    whose text is a dev or test sentence of one of these languages or of ``heldout_langs`` (checked
    by content: WikiANN repeats sentences across splits, and entity-only lines across languages);
    how many were dropped is in each corpus's ``meta["heldout_dropped"]``."""
    import numpy as np

    from xner.fingerprint import sentence_hashes

    held: set[bytes] = set()
    for lang in dict.fromkeys([*langs, *heldout_langs]):
        for split in ("dev", "test"):
            if src.has(lang, split):
                held |= set(sentence_hashes(src.load(lang, split)))
    out = []
    for lang in langs:
        for split in ("train", "extra"):
            if split == "extra" and not src.has(lang, "extra"):
                continue
            c = src.load(lang, split)
            keep = np.fromiter((h not in held for h in sentence_hashes(c)), dtype=bool, count=len(c))
            if not keep.all():
                meta = dict(c.meta)
                c = c.subset(np.flatnonzero(keep))
                c.meta = {**meta, "heldout_dropped": int((~keep).sum())}
            if hasattr(src, "path"):
                c.meta["file"] = str(src.path(lang, split))
            out.append(c)
    return out


def write_tsv(path: Path, sentences: Sequence[Sequence[str]]) -> Path:
    """The text as a corpus file (every tag O), for the tokenizer trainers."""
    with open(path, "w", encoding="utf-8") as f:
        for s in sentences:
            for w in s:
                f.write(f"{w}\tO\n")
            f.write("\n")
    return path


def encode_sentences(tok, sentences: Sequence[Sequence[str]], max_length: int,
                     whole_word: bool = False) -> tuple[list[dict], int]:
    """One example per sentence (its words as given, truncated to ``max_length`` pieces with the
    specials; ``idx``, its number, seeds its batch's masks) and how many were truncated.  For
    whole-word masking each piece gets offsets that are contiguous inside a word and leave a gap
    between words, so a "word" is a word of the text."""
    examples: list[dict] = []
    truncated = 0
    backend = tok.backend_tokenizer
    before = backend.truncation  # a truncating call leaves it set, and save_pretrained would write it out
    try:
        for a in range(0, len(sentences), 2048):
            batch = [list(s) for s in sentences[a:a + 2048]]
            enc = tok(batch, is_split_into_words=True, truncation=True, max_length=max_length,
                      return_special_tokens_mask=True)
            for i in range(len(batch)):
                ex = {k: enc[k][i] for k in enc.keys()} | {"idx": a + i}
                truncated += bool(enc.encodings[i].overflowing)
                if whole_word:
                    ex["offset_mapping"] = _word_offsets(enc.word_ids(i))
                examples.append(ex)
    finally:
        if before is None:
            backend.no_truncation()
        else:
            backend.enable_truncation(**before)
    return examples, truncated


def _word_offsets(word_ids: list[int | None]) -> list[tuple[int, int]]:
    offsets, pos, prev = [], 0, None
    for w in word_ids:
        if w is None:
            offsets.append((0, 0))
        else:
            pos += 1 if w != prev else 0  # a gap before each new word
            offsets.append((pos, pos + 1))
            pos += 1
        prev = w
    return offsets
