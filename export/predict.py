"""``xner predict``: tag raw texts or a corpus file with an exported model, streamed to a text stream.

Output goes straight to the stream (standard output for the command line), never through a file
writer, so it can be piped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from xner.corpus import Corpus
from xner.errors import XnerError
from xner.io import dumps

from .pipeline import NerPipeline, split_words

__all__ = ["CORPUS_SUFFIXES", "predict"]
CORPUS_SUFFIXES = (".tsv", ".conll", ".jsonl", ".parquet")


def predict(model: str, out: TextIO, text: str | None = None, input: str | None = None, fmt: str = "json",
            provider: str = "auto", threads: int | None = None, variant: str | None = None) -> int:
    """Tag ``text``, or the lines of ``input`` ('-' = standard input), or a corpus file's sentences;
    returns the number of sentences written.  ``fmt="array"`` writes the JSON objects as one JSON
    array (``--json``), still streamed."""
    if fmt == "array":
        arr = _JsonArray(out)
        n = predict(model, arr, text, input, "json", provider, threads, variant)
        arr.close()
        return n
    if fmt not in ("json", "conll"):
        raise XnerError(f"unknown output format {fmt!r}; choose json or conll")
    pipe = NerPipeline(model, provider=provider, threads=threads, variant=variant)
    if text is not None:
        lines: Iterator[str] = iter([text])
        if not text.strip():
            raise XnerError("no text to tag")
    elif input == "-":
        lines = None  # streamed: a chunk is tagged as soon as no more input is waiting (a co-process gets its answer)
    else:
        p = Path(str(input))
        if not p.is_file():
            raise XnerError(f"{input}: no such file")
        if p.suffix in CORPUS_SUFFIXES:  # a corpus: tag its words
            from xner.formats import read_corpus

            c = read_corpus(p, repair="keep")
            return _write_corpus(c.with_tags(pipe.runtime.predict(c)), out, fmt)
        lines = _file_lines(p)
    n = 0
    chunks = _stream_chunks(sys.stdin, CHUNK) if lines is None else _chunks(lines, CHUNK)
    for chunk in chunks:  # bounded memory: CHUNK lines at a time, written before the next is read
        _write_chunk(pipe, chunk, out, fmt, n)
        n += len(chunk)
        out.flush()
    if n == 0:
        raise XnerError("no text to tag")
    return n


#: input lines tagged per model call when streaming
CHUNK = 64


def _file_lines(p: Path) -> Iterator[str]:
    with open(p, encoding="utf-8", newline="") as f:
        k = 0
        try:
            for k, ln in enumerate(f, 1):  # noqa: B007
                yield ln.rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise XnerError(f"{p}: not UTF-8 text (line {k + 1}: {e.reason})") from None


def _chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for ln in lines:
        chunk.append(ln)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _ready(f) -> bool:
    """Whether more input is waiting on ``f`` (a stream that cannot be polled counts as ready)."""
    import select

    try:
        return bool(select.select([f], [], [], 0)[0])
    except (ValueError, OSError, TypeError):
        return True


def _stream_chunks(f, size: int) -> Iterator[list[str]]:
    """Lines of a stream in chunks of up to ``size``, a chunk ending early whenever no more input is
    waiting, so that a process writing one line and waiting for its answer gets it."""
    chunk: list[str] = []
    while True:
        ln = f.readline()
        if not ln:
            break
        chunk.append(ln.rstrip("\r\n"))
        if len(chunk) >= size or not _ready(f):
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write_chunk(pipe: NerPipeline, chunk: list[str], out: TextIO, fmt: str, first: int = 0) -> None:
    """One output record per input line: a blank line gives an empty record (JSON: no entities;
    CoNLL: an empty sentence, i.e. just its blank separator line), so output lines up with input.
    ``first``: the number of input lines before this chunk (errors name the line)."""
    for i, t in enumerate(chunk):
        try:
            split_words(t)
        except XnerError as e:
            raise XnerError(f"input line {first + i + 1}: {e}") from None
    keep = [i for i, t in enumerate(chunk) if t.strip()]
    texts = [chunk[i] for i in keep]
    if fmt == "json":
        ents = dict(zip(keep, pipe.texts(texts), strict=True)) if texts else {}
        for i, t in enumerate(chunk):
            out.write(dumps({"text": t, "entities": [e.to_json() for e in ents.get(i, [])]}) + "\n")
    else:
        words = [[w for w, _, _ in split_words(t)] for t in texts]
        tags = dict(zip(keep, zip(words, pipe.predict_words(words), strict=True), strict=True)) if words else {}
        for i in range(len(chunk)):
            if i in tags:
                ws, tg = tags[i]
                out.writelines(f"{w}\t{tag}\n" for w, (tag, _) in zip(ws, tg, strict=True))
            out.write("\n")


class _JsonArray:
    """A text stream that turns the JSON Lines written to it into one JSON array on ``out``."""

    def __init__(self, out: TextIO):
        self.out, self.n, self.buf = out, 0, ""

    def write(self, s: str) -> int:
        self.buf += s
        *lines, self.buf = self.buf.split("\n")
        for ln in lines:
            if ln:
                self.out.write(("[\n" if self.n == 0 else ",\n") + ln)
                self.n += 1
        return len(s)

    def writelines(self, lines) -> None:
        for ln in lines:
            self.write(ln)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        self.write("\n")
        self.out.write("[]\n" if self.n == 0 else "\n]\n")
        self.out.flush()


def _write_corpus(tagged: Corpus, out: TextIO, fmt: str) -> int:
    if fmt == "conll":
        out.writelines(f"{w}\t{t}\n" if w else "\n" for w, t in _lines(tagged))
    else:
        extra = {"lang": tagged.lang} if tagged.lang else {}
        out.writelines(dumps({"tokens": s, "ner_tags": t, **extra}) + "\n"
                       for s, t in zip(tagged.sentences(), tagged.tag_lists(), strict=True))
    return len(tagged)


def _lines(c: Corpus) -> Iterator[tuple[str, str]]:
    for ws, ts in zip(c.sentences(), c.tag_lists(), strict=True):
        yield from zip(ws, ts, strict=True)
        yield "", ""
