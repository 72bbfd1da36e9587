"""Deployment API: raw text or pre-split words in, entities with character offsets out."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass

import numpy as np

from xner.corpus import Corpus, WordVocab
from xner.errors import XnerError

from .runtime import Runtime

#: ideographs and kana: one word per character, WikiANN's zh/ja convention
_PER_CHAR = ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
             (0xFF66, 0xFF9F), (0x20000, 0x323AF))
#: scripts written without spaces between words, which xner does not segment: raw text is refused
NO_SPACE_SCRIPTS = {"Thai": (0x0E00, 0x0E7F), "Lao": (0x0E80, 0x0EFF), "Myanmar": (0x1000, 0x109F),
                    "Khmer": (0x1780, 0x17FF)}


def _per_char(cp: int) -> bool:
    return any(a <= cp <= b for a, b in _PER_CHAR)


def _no_space_script(cp: int) -> str | None:
    for name, (a, b) in NO_SPACE_SCRIPTS.items():
        if a <= cp <= b:
            return name
    return None


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Whitespace and punctuation split with character offsets; combining marks stay in their word
    (Devanagari, Arabic diacritics), so no script is broken apart.  CJK ideographs and kana are one
    word per character (WikiANN's zh/ja convention).  Thai, Lao, Khmer and Myanmar are written without
    spaces between words and xner has no segmenter for them: raw text in those scripts is refused
    (send pre-split words instead)."""
    out: list[tuple[str, int, int]] = []
    start = -1
    for i, ch in enumerate(text):
        if ch.isspace():
            if start >= 0:
                out.append((text[start:i], start, i))
                start = -1
            continue
        cp = ord(ch)
        # letters and marks of a script written without spaces: not its digits, signs or currency (฿)
        script = _no_space_script(cp) if cp >= 0x0E00 and unicodedata.category(ch)[0] in "LM" else None
        if script is not None:
            raise XnerError(f"{script} is written without spaces between words and xner does not segment it: "
                            "send pre-split words ('words' to the server, a tsv/conll/jsonl file to predict)")
        cat = unicodedata.category(ch)
        if cat[0] == "M" and start < 0 and out and out[-1][2] == i:  # a mark after a one-character word
            w, a, _ = out.pop()
            out.append((w + ch, a, i + 1))
            continue
        if cp >= 0x3040 and _per_char(cp):
            if start >= 0:
                out.append((text[start:i], start, i))
                start = -1
            out.append((ch, i, i + 1))
            continue
        if cat[0] in "PS":
            if start >= 0:
                out.append((text[start:i], start, i))
                start = -1
            out.append((ch, i, i + 1))
            continue
        if start < 0:
            start = i
    if start >= 0:
        out.append((text[start:], start, len(text)))
    return out


@dataclass
class Entity:
    text: str
    type: str
    start: int  # character offset (or word index for pre-split input)
    end: int
    score: float
    words: tuple[int, int]

    def to_json(self) -> dict:
        d = asdict(self)
        d["words"] = list(self.words)
        return d


class NerPipeline:
    """``NerPipeline("onnx_dir")("Marie Curie a vécu à Paris.")`` -> list of :class:`Entity`."""

    def __init__(self, model: str | Runtime, provider: str = "auto", threads: int | None = None,
                 variant: str | None = None):
        self.runtime = model if isinstance(model, Runtime) else Runtime(model, provider=provider, threads=threads,
                                                                        file_name=variant)

    def _corpus(self, word_lists: list[list[str]]) -> Corpus:
        vocab = WordVocab()
        lengths = np.fromiter((len(w) for w in word_lists), dtype=np.int64, count=len(word_lists))
        offsets = np.zeros(len(word_lists) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        words = vocab.add_many(w for ws in word_lists for w in ws)
        return Corpus(words, np.zeros(words.size, np.int8), offsets, vocab, self.runtime.labels)

    def predict_words(self, word_lists: list[list[str]]) -> list[list[tuple[str, float]]]:
        """Tag and probability per word, for many sentences in one batched run."""
        if not word_lists:
            return []
        if any(len(ws) == 0 for ws in word_lists):
            raise XnerError("empty input: every text needs at least one word")
        c = self._corpus(word_lists)
        logits = self.runtime.logits(c)
        z = logits - logits.max(-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(-1, keepdims=True)
        tags = p.argmax(-1)
        conf = p[np.arange(p.shape[0]), tags]
        names = self.runtime.labels.tags
        out, o = [], c.offsets
        for s in range(len(c)):
            out.append([(names[tags[i]], float(conf[i])) for i in range(o[s], o[s + 1])])
        return out

    def entities(self, words: list[str], spans: list[tuple[int, int]] | None, tagged, text: str | None) -> list[Entity]:
        """Entities of one sentence from its per-word (tag, probability) pairs; character offsets into
        ``text`` when ``spans`` are given, else word indices."""
        ents: list[Entity] = []
        cur = None
        for i, (tag, sc) in enumerate(tagged + [("O", 0.0)]):
            typ = tag[2:] if tag != "O" else None
            if cur is not None and (typ is None or tag.startswith("B-") or typ != cur[0]):
                t, a, scores = cur
                b = i
                if spans is not None:
                    s0, s1 = spans[a][0], spans[b - 1][1]
                    surface = text[s0:s1]
                else:
                    s0, s1, surface = a, b, " ".join(words[a:b])
                ents.append(Entity(surface, t, s0, s1, float(np.mean(scores)), (a, b)))
                cur = None
            if typ is not None:
                if cur is None:
                    cur = (typ, i, [sc])  # a stray I- opens an entity (conlleval)
                else:
                    cur[2].append(sc)
        return ents

    def __call__(self, inputs: str | list[str] | list[list[str]]) -> list[Entity] | list[list[Entity]]:
        if isinstance(inputs, str):
            return self.texts([inputs])[0]
        if inputs and all(isinstance(x, list) for x in inputs):
            return self.words(inputs)  # type: ignore[arg-type]
        if all(isinstance(x, str) for x in inputs):
            return self.texts(inputs)  # type: ignore[arg-type]
        raise XnerError("input must be a text, a list of texts or a list of word lists")

    @staticmethod
    def split_texts(texts: list[str]) -> list[list[tuple[str, int, int]]]:
        """Each text as (word, start, end) triples; an empty text is an error."""
        split = [split_words(t) for t in texts]
        for t, sp in zip(texts, split, strict=True):
            if not sp:
                raise XnerError(f"empty text: {t[:30]!r}")
        return split

    def texts(self, texts: list[str]) -> list[list[Entity]]:
        split = self.split_texts(texts)
        tagged = self.predict_words([[w for w, _, _ in sp] for sp in split])
        return [self.entities([w for w, _, _ in sp], [(a, b) for _, a, b in sp], tg, t)
                for t, sp, tg in zip(texts, split, tagged, strict=True)]

    def words(self, word_lists: list[list[str]]) -> list[list[Entity]]:
        tagged = self.predict_words(word_lists)
        return [self.entities(ws, None, tg, None) for ws, tg in zip(word_lists, tagged, strict=True)]
