"""Perturbations: small objects with a registered name, parameters and one ``apply`` step.

``apply(corpus, seed, ctx)`` returns a :class:`Perturbed`: the new corpus (valid IOB2; entity
chunks re-emitted when a replacement has another length), a per-token edit mask over the new
corpus and edit statistics.  Combinations are written ``a+b`` and applied in order.

``rate`` is the share of *all* units (entities for entity perturbations, tokens for token
perturbations) to edit, so native and transfer models can be compared at equal edit intensity;
each eligible unit is edited with probability ``min(1, rate * units / eligible)`` drawn from a
counter-based stream keyed by (seed, perturbation, parameters, sentence, position).  ``rate=None``
edits every eligible unit (the reference study's behaviour for its perturbations).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from xner.corpus import Corpus
from xner.errors import XnerError
from xner.overlap import chunk_keys, joint_ids

from . import kernels as K


@dataclass
class Context:
    """What some perturbations need besides the test corpus."""

    train: Corpus | None = None  # the training-language train split (study P1, P2)
    runtime: Any = None  # a Runtime: word vectors (context_swap), mask token
    source: Any = None  # a data source, for wikiann: pools
    lang: str = ""  # target language (default name/place locale)
    mlm: str | None = None  # a masked-LM folder or hub id for context_mask


@dataclass
class Perturbed:
    corpus: Corpus
    edit: np.ndarray  # bool per token of the new corpus: edited by this step or an earlier one
    stats: dict = field(default_factory=dict)
    carried: np.ndarray | None = None  # the part of ``edit`` made by earlier steps


class Perturbation:
    name: ClassVar[str] = ""
    unit: ClassVar[str] = "entities"  # or "tokens"
    defaults: ClassVar[dict] = {"rate": 0.3}
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise XnerError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))} "
                            f"(has: {', '.join(self.defaults)})")
        self.params = {**self.defaults, **{k: v for k, v in params.items() if v is not None or k == "rate"}}
        if "rate" not in params:
            self.params["rate"] = self.defaults.get("rate")
        r = self.params.get("rate")
        if r is not None and not 0 <= float(r) <= 1:
            raise XnerError(f"{self.name}: rate must be between 0 and 1")
        self.key = K.perturbation_key(self.name, json.dumps(self.params, sort_keys=True, default=str))

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v}' for k, v in self.params.items())})"

    def check(self, ctx: Context) -> None:
        for n in self.needs:
            if getattr(ctx, n) is None:
                what = {"train": "the training language's corpus (--train-lang)", "runtime": "a model (--model)"}[n]
                raise XnerError(f"{self.name} needs {what}")

    def probability(self, n_units: int, n_eligible: int) -> float:
        rate = self.params.get("rate")
        if rate is None:
            return 1.0
        return min(1.0, float(rate) * n_units / n_eligible) if n_eligible else 0.0

    def prepare(self, corpus: Corpus, ctx: Context) -> dict:
        """Corpus-level state (edit probability, pools, replacement tables), computed once on the whole
        test set so that batches of it give the same output as the whole."""
        return {}

    def apply(self, corpus: Corpus, seed: int, ctx: Context | None = None, prev_edit: np.ndarray | None = None,
              state: dict | None = None) -> Perturbed:
        ctx = ctx or Context()
        self.check(ctx)
        prev = np.zeros(corpus.n_tokens, dtype=np.bool_) if prev_edit is None else prev_edit
        st = self.prepare(corpus, ctx) if state is None else state
        out = self._apply(corpus, int(seed), ctx, prev, st)
        fresh = out.edit & ~out.carried if out.carried is not None else out.edit
        out.stats = {"perturbation": self.name, "params": dict(self.params), **out.stats,
                     **edit_stats(out.corpus, fresh)}
        return out

    def _apply(self, corpus: Corpus, seed: int, ctx: Context, prev: np.ndarray, st: dict) -> Perturbed:
        raise NotImplementedError


def edit_stats(after: Corpus, edit: np.ndarray) -> dict:
    """Tokens, entities (chunks of the new corpus with an edited token) and sentences edited."""
    ch = after.chunks()
    cs = np.zeros(edit.size + 1, dtype=np.int64)
    np.cumsum(edit, out=cs[1:])
    ent_edited = int((cs[ch[:, 2]] > cs[ch[:, 1]]).sum()) if ch.size else 0
    sent_edited = int((cs[after.offsets[1:]] > cs[after.offsets[:-1]]).sum())
    return {"tokens": after.n_tokens, "tokens_edited": int(edit.sum()),
            "token_edit_rate": float(edit.mean()) if edit.size else 0.0,
            "entities": int(ch.shape[0]), "entities_edited": ent_edited,
            "entity_edit_rate": ent_edited / ch.shape[0] if ch.shape[0] else 0.0,
            "sentences": len(after), "sentences_edited": sent_edited}


# -- registry ---------------------------------------------------------------------------------------

REGISTRY: dict[str, type[Perturbation]] = {}
ALIASES = {"entity_and_context": "entity_swap_shared+context_swap",
           "resample_and_mask": "entity_resample+context_mask"}


def register(cls: type[Perturbation]) -> type[Perturbation]:
    REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    return list(REGISTRY) + list(ALIASES)


class Combination:
    """``a+b``: apply a, then b on a's output; edits accumulate."""

    def __init__(self, parts: list[Perturbation]):
        self.parts = parts
        self.name = "+".join(p.name for p in parts)
        self.unit = parts[0].unit

    def __repr__(self) -> str:
        return "+".join(repr(p) for p in self.parts)

    @property
    def params(self) -> dict:
        return {p.name: p.params for p in self.parts}

    def apply(self, corpus: Corpus, seed: int, ctx: Context | None = None, prev_edit: np.ndarray | None = None,
              state: dict | None = None) -> Perturbed:
        edit = prev_edit
        cur = corpus
        parts_stats = []
        for p in self.parts:
            # later parts see the output of earlier ones, so their state is prepared on it
            r = p.apply(cur, seed, ctx, edit)
            cur, edit = r.corpus, r.edit
            parts_stats.append(r.stats)
        return Perturbed(cur, edit, {"perturbation": self.name, "parts": parts_stats,
                                     **edit_stats(cur, edit)})


def make(spec: str, **params) -> Perturbation | Combination:
    """A perturbation by name (``a+b`` combinations, aliases); ``params`` go to every part that has them."""
    spec = ALIASES.get(spec, spec)
    parts = []
    for name in spec.split("+"):
        if name not in REGISTRY:
            raise XnerError(f"unknown perturbation {name!r}; choose from {', '.join(names())}")
        cls = REGISTRY[name]
        parts.append(cls(**{k: v for k, v in params.items() if k in cls.defaults}))
    return parts[0] if len(parts) == 1 else Combination(parts)


# -- helpers ------------------------------------------------------------------------------------------


def _intern_items(vocab, items: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item_start, item_end, pool_words) with strings added to ``vocab``."""
    lengths = np.fromiter((len(x) for x in items), dtype=np.int64, count=len(items))
    off = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    words = vocab.add_many(w for x in items for w in x)
    return off[:-1].copy(), off[1:].copy(), words


def _chunk_replace(corpus: Corpus, prev: np.ndarray, chunks: np.ndarray, chosen: np.ndarray, vocab,
                   item_start, item_end, pool_words) -> Perturbed:
    nw, nt, noff, fresh, carried = K.replace_chunks(corpus.words, corpus.tags, corpus.offsets, prev, chunks,
                                                    chosen, item_start, item_end, pool_words)
    c = replace(corpus, words=nw, tags=nt, offsets=noff, vocab=vocab, columns=None, meta=dict(corpus.meta))
    return Perturbed(c, fresh | carried, {}, carried)


def _same_length(corpus: Corpus, words: np.ndarray, vocab, prev: np.ndarray, changed: np.ndarray, stats: dict) -> Perturbed:
    c = replace(corpus, words=words, vocab=vocab, columns=None, meta=dict(corpus.meta))
    return Perturbed(c, prev | changed, stats, prev & ~changed)


def _type_pool_replace(self: Perturbation, corpus: Corpus, seed: int, prev: np.ndarray,
                       items_by_type: dict[int, list[list[str]]], eligible: np.ndarray, chunks: np.ndarray,
                       p: float) -> Perturbed:
    """Replace eligible chunks, each with probability ``p``, by random items of their type's pool."""
    vocab = corpus.vocab.copy()
    items, types = [], []
    for t, its in sorted(items_by_type.items()):
        items += its
        types += [t] * len(its)
    if not items:
        return Perturbed(corpus, prev.copy(), {"eligible": int(eligible.sum())}, prev.copy())
    s, e, pw = _intern_items(vocab, items)
    types_a = np.asarray(types, dtype=np.int64)
    counts = np.bincount(types_a, minlength=len(corpus.labels.types)).astype(np.int64)
    gstart = np.zeros_like(counts)
    np.cumsum(counts[:-1], out=gstart[1:])
    item_chunks = np.stack([np.zeros(len(s), np.int64), s, e, types_a], axis=1)
    item_surface = chunk_keys(pw.astype(np.int64), item_chunks, False)
    chunk_surface = chunk_keys(corpus.words.astype(np.int64), chunks, False)
    chosen = K.choose_chunks(chunks, corpus.offsets, corpus.sentence_ids, eligible, gstart, counts, item_surface,
                             chunk_surface, p, seed, self.key)
    out = _chunk_replace(corpus, prev, chunks, chosen, vocab, s, e, pw)
    out.stats.update(eligible=int(eligible.sum()), probability=p, pool_items=len(items))
    return out


# -- the reference study's perturbations ------------------------------------------------------------


@register
class EntitySwapShared(Perturbation):
    """Study P1: test chunks also seen as training chunks -> same-type test chunks unseen in training."""

    name = "entity_swap_shared"
    defaults = {"rate": None}
    needs = ("train",)

    def _shared(self, corpus: Corpus, train: Corpus) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        table = joint_ids(train.vocab, corpus.vocab)
        tr_keys = chunk_keys(table[train.words], train.chunks(), False)
        chunks = corpus.chunks()
        keys = chunk_keys(corpus.words.astype(np.int64), chunks, False)
        return chunks, keys, np.isin(keys, tr_keys)

    def prepare(self, corpus, ctx):
        chunks, keys, shared = self._shared(corpus, ctx.train)
        items: dict[int, list[list[str]]] = {}
        seen: set[int] = set()
        words = corpus.vocab.strings
        for r in np.flatnonzero(~shared).tolist():
            k = int(keys[r])
            if k not in seen:
                seen.add(k)
                _, a, b, t = chunks[r].tolist()
                items.setdefault(t, []).append([words[w] for w in corpus.words[a:b].tolist()])
        return {"items": items, "p": self.probability(chunks.shape[0], int(shared.sum())),
                "shared_chunks": int(shared.sum())}

    def _apply(self, corpus, seed, ctx, prev, st):
        chunks, _, shared = self._shared(corpus, ctx.train)
        out = _type_pool_replace(self, corpus, seed, prev, st["items"], shared, chunks, st["p"])
        out.stats["shared_chunks"] = int(shared.sum())
        return out


def _stopwords(c: Corpus, n: int) -> np.ndarray:
    """The ``n`` most frequent O-words of a corpus (a language-agnostic stop-word list)."""
    o = c.words[c.tags == 0]
    if not o.size or n <= 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.bincount(o)
    return np.argsort(-counts, kind="stable")[:n]


@register
class ContextSwap(Perturbation):
    """Study P2: O-words shared with the training O-words (not stop words) -> the nearest test word
    unseen in training, by cosine of the model's vector for the word alone."""

    name = "context_swap"
    unit = "tokens"
    defaults = {"rate": None, "stopwords": 100}
    needs = ("train", "runtime")

    def prepare(self, corpus, ctx):
        train = ctx.train
        table = joint_ids(corpus.vocab, train.vocab)  # test ids -> train id space
        tr_o = np.unique(train.words[train.tags == 0])
        tw = table[corpus.words]
        is_o = corpus.tags == 0
        stop = np.isin(corpus.words, _stopwords(corpus, int(self.params["stopwords"]))) | \
            np.isin(tw, _stopwords(train, int(self.params["stopwords"])))
        eligible = is_o & np.isin(tw, tr_o) & ~stop
        cand = np.unique(corpus.words[is_o & (tw >= len(train.vocab))])  # test O-words never seen in training
        src_words = np.unique(corpus.words[eligible])
        repl = np.full(len(corpus.vocab), -1, dtype=np.int64)
        if src_words.size and cand.size:
            strings = corpus.vocab.strings
            vec = ctx.runtime.word_vectors([strings[w] for w in src_words.tolist()] +
                                           [strings[w] for w in cand.tolist()])
            vec = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
            a, b = vec[: src_words.size], vec[src_words.size :]
            nearest = np.empty(src_words.size, dtype=np.int64)
            for i in range(0, src_words.size, 2048):
                nearest[i : i + 2048] = (a[i : i + 2048] @ b.T).argmax(1)
            repl[src_words] = cand[nearest]
        return {"repl": repl, "p": self.probability(corpus.n_tokens, int(eligible.sum())),
                "eligible_words": src_words, "candidates": int(cand.size)}

    def _apply(self, corpus, seed, ctx, prev, st):
        repl = st["repl"]
        eligible = (corpus.tags == 0) & np.isin(corpus.words, st["eligible_words"])
        sel = K.select_tokens(eligible & (repl[corpus.words] >= 0), corpus.offsets, corpus.sentence_ids, st["p"],
                              seed, self.key)
        words = corpus.words.copy()
        words[sel] = repl[corpus.words[sel]]
        return _same_length(corpus, words, corpus.vocab, prev, sel, {"eligible": int(eligible.sum()),
                            "probability": st["p"], "candidates": st["candidates"]})


class _LocaleSwap(Perturbation):
    entity_type: ClassVar[str] = "PER"
    defaults = {"rate": None, "pool": "auto"}

    def _type(self, corpus: Corpus) -> int:
        if self.entity_type not in corpus.labels.types:
            raise XnerError(f"{self.name}: corpus has no {self.entity_type} type")
        return corpus.labels.types.index(self.entity_type)

    def prepare(self, corpus, ctx):
        from .pools import resolve_pool

        t = self._type(corpus)
        items, desc = resolve_pool(self.params["pool"], self.entity_type, ctx.lang or corpus.lang, ctx.source)
        chunks = corpus.chunks()
        return {"items": {t: items}, "pool": desc,
                "p": self.probability(chunks.shape[0], int((chunks[:, 3] == t).sum()))}

    def _apply(self, corpus, seed, ctx, prev, st):
        t = self._type(corpus)
        chunks = corpus.chunks()
        out = _type_pool_replace(self, corpus, seed, prev, st["items"], chunks[:, 3] == t, chunks, st["p"])
        out.stats["pool"] = st["pool"]
        return out


@register
class NameSwap(_LocaleSwap):
    """Study P4: PER chunks -> person names of a locale / WikiANN language / file."""

    name = "name_swap"
    entity_type = "PER"


@register
class PlaceSwap(_LocaleSwap):
    """Study P5: LOC chunks -> place names of a locale / WikiANN language / file."""

    name = "place_swap"
    entity_type = "LOC"


# -- Srinivasan & Vajjala ----------------------------------------------------------------------------


def _chunk_ids(corpus: Corpus, chunks: np.ndarray) -> np.ndarray:
    """A global id per chunk: (sentence id, position inside the sentence)."""
    local = chunks[:, 1] - corpus.offsets[chunks[:, 0]]
    return corpus.sentence_ids[chunks[:, 0]] * 100_000 + local


@register
class EntityResample(Perturbation):
    """Each mention -> another same-type mention of the same test set, length-matched when possible,
    without replacement: a cyclic shift inside each (type, length) group, in an order keyed by
    (seed, parameters, chunk), so every seed draws other donors."""

    name = "entity_resample"
    defaults = {"rate": 0.3}

    def prepare(self, corpus, ctx):
        # donors depend on the seed, which ``prepare`` does not get: they are drawn (once per seed, on
        # the whole corpus, so that batches agree with the whole) by the first ``_apply`` that needs them
        chunks = corpus.chunks()
        return {"corpus": corpus, "chunks": chunks, "ids": _chunk_ids(corpus, chunks), "vocab": corpus.vocab,
                "surface": chunk_keys(corpus.words.astype(np.int64), chunks, False), "seeds": {},
                "lock": threading.Lock()}

    def _donors(self, st: dict, seed: int) -> dict:
        with st["lock"]:
            if seed not in st["seeds"]:
                if len(st["seeds"]) >= 8:
                    st["seeds"].clear()
                st["seeds"][seed] = self._draw(st, seed)
            return st["seeds"][seed]

    def _draw(self, st: dict, seed: int) -> dict:
        chunks, ids, surf, words = st["chunks"], st["ids"], st["surface"], st["corpus"].words
        donor = K.shift_donors([np.stack([chunks[:, 3], chunks[:, 2] - chunks[:, 1]], 1), chunks[:, 3]], ids, seed,
                               self.key)
        has = (donor >= 0) & (surf[np.maximum(donor, 0)] != surf)
        # donors are words of this corpus: keep them as word ids (batches share the vocabulary)
        order = np.argsort(ids[has])
        d = donor[has][order]
        lengths = chunks[d, 2] - chunks[d, 1]
        ends = np.cumsum(lengths)
        spans = zip(chunks[d, 1].tolist(), chunks[d, 2].tolist(), strict=True)
        return {"keys": ids[has][order], "start": ends - lengths, "end": ends,
                "words": np.concatenate([words[a:b] for a, b in spans]) if d.size else np.zeros(0, np.int32),
                "p": self.probability(chunks.shape[0], int(has.sum()))}

    def _apply(self, corpus, seed, ctx, prev, st):
        if corpus.vocab is not st["vocab"]:
            raise XnerError("entity_resample: state prepared on another vocabulary")
        dn = self._donors(st, seed)
        chunks = corpus.chunks()
        ids = _chunk_ids(corpus, chunks)
        pos = np.searchsorted(dn["keys"], ids)
        pos_c = np.minimum(pos, max(dn["keys"].size - 1, 0))
        eligible = (dn["keys"][pos_c] == ids) if dn["keys"].size else np.zeros(ids.size, bool)
        # one Bernoulli draw per chunk, keyed by the chunk's global id (each chunk as a one-unit "sentence")
        take = K.select_tokens(np.ones(chunks.shape[0], np.bool_), np.arange(chunks.shape[0] + 1), ids, dn["p"],
                               seed, self.key)
        chosen = np.where(take & eligible, pos_c, -1)
        out = _chunk_replace(corpus, prev, chunks, chosen, corpus.vocab, dn["start"], dn["end"], dn["words"])
        out.stats.update(eligible=int(eligible.sum()), probability=dn["p"])
        return out


@register
class ContextMask(Perturbation):
    """k O-tokens per sentence (or a rate of tokens) masked; filled by a masked LM's top-k when one
    is given, else replaced by the mask token itself."""

    name = "context_mask"
    unit = "tokens"
    defaults = {"rate": None, "k": 3, "top_k": 5, "mask_token": None}

    def prepare(self, corpus, ctx):
        eligible = int((corpus.tags == 0).sum())
        return {"p": None if self.params["rate"] is None else self.probability(corpus.n_tokens, eligible)}

    def _apply(self, corpus, seed, ctx, prev, st):
        eligible = corpus.tags == 0
        sid = corpus.sentence_ids
        if st["p"] is None:
            sel = K.select_k_per_sentence(eligible, corpus.offsets, sid, int(self.params["k"]), seed, self.key)
        else:
            sel = K.select_tokens(eligible, corpus.offsets, sid, st["p"], seed, self.key)
        vocab = corpus.vocab.copy()
        words = corpus.words.copy()
        if ctx.mlm:
            words[sel] = vocab.add_many(_mlm_fill(ctx.mlm, corpus, sel, int(self.params["top_k"]), seed, self.key))
            how = f"mlm:{ctx.mlm}"
        else:
            tok = self.params["mask_token"] or (getattr(getattr(ctx.runtime, "tokenizer", None), "mask_token", None)
                                                or "[MASK]")
            words[sel] = vocab.add(tok)
            how = f"mask token {tok}"
        return _same_length(corpus, words, vocab, prev, sel, {"eligible": int(eligible.sum()), "probability": st["p"],
                                                              "fill": how})


_MLM_CACHE: dict[str, tuple] = {}


def _mlm_fill(mlm: str, corpus: Corpus, sel: np.ndarray, top_k: int, seed: int, key) -> list[str]:
    """Whole-word fills from a masked LM, in the order of the selected tokens.

    Selected words are replaced by the mask token, the corpus is encoded like any other (segments of
    whole words within the model's limit, batched), and each mask gets one of the top-k predicted
    whole-word pieces, picked by the keyed stream.
    """
    import torch
    from transformers import AutoModelForMaskedLM

    from xner.encode import WordEncoder
    from xner.training.models import load_tokenizer

    if mlm not in _MLM_CACHE:
        tok = load_tokenizer(mlm)
        model = AutoModelForMaskedLM.from_pretrained(mlm).eval()
        pieces = tok.convert_ids_to_tokens(list(range(len(tok))))
        bad = set(tok.all_special_ids)
        whole = np.array([not v.startswith("##") and v != "▁" and i not in bad for i, v in enumerate(pieces)])
        limit = model.config.max_position_embeddings - (2 if model.config.model_type in ("roberta", "xlm-roberta") else 0)
        _MLM_CACHE[mlm] = (tok, model, pieces, whole, WordEncoder(tok, limit))
    tok, model, pieces, whole, encoder = _MLM_CACHE[mlm]
    vocab = corpus.vocab.copy()
    words = corpus.words.copy()
    words[sel] = vocab.add(tok.mask_token)
    masked = replace(corpus, words=words, vocab=vocab, columns=None, meta=dict(corpus.meta))
    enc = encoder.encode(masked)
    tok_sent = np.searchsorted(corpus.offsets, np.arange(corpus.n_tokens), side="right") - 1
    sid = corpus.sentence_ids
    fill = np.empty(corpus.n_tokens, dtype=object)
    with torch.inference_mode():
        for idx, ids, mask in enc.batches(4096):
            logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
            for r, s in enumerate(idx.tolist()):
                for i in range(int(enc.seg_tok[s]), int(enc.seg_tok[s + 1])):
                    if not sel[i]:
                        continue
                    scores = np.where(whole[: logits.shape[2]], logits[r, enc.first_pos[i]], -np.inf)
                    top = np.argsort(-scores)[:top_k]
                    local = i - int(corpus.offsets[tok_sent[i]])
                    pick = top[K.randint(seed, key, int(sid[tok_sent[i]]), local * 31 + 7, len(top))]
                    fill[i] = tok.convert_tokens_to_string([pieces[pick]]).strip() or pieces[pick]
    return fill[sel].tolist()


# -- beyond the study ---------------------------------------------------------------------------------

CHAR_OPS = ("swap", "drop", "insert", "keyboard")


def _alpha_of(strings: list[str]) -> np.ndarray:
    """Whether each string has a letter (punctuation and numbers get no typos)."""
    return np.fromiter((not s.isalpha() and any(map(str.isalpha, s)) or s.isalpha() for s in strings),
                       dtype=np.bool_, count=len(strings))



@register
class CharNoise(Perturbation):
    """Script-aware typos (swap, drop, insert, keyboard neighbour) on a rate of word tokens; inserted and
    substituted characters are letters or marks of the word's own script (see ``kernels.char_noise``)."""

    name = "char_noise"
    unit = "tokens"
    defaults = {"rate": 0.3, "ops": "swap,drop,insert,keyboard", "entities_only": False}

    def _eligible(self, corpus: Corpus, alpha: np.ndarray) -> np.ndarray:
        el = alpha[corpus.words]
        return el & (corpus.tags != 0) if self.params["entities_only"] else el

    def prepare(self, corpus, ctx):
        ops = str(self.params["ops"]).split(",")
        bad = [o for o in ops if o not in CHAR_OPS]
        if bad:
            raise XnerError(f"char_noise: unknown op {bad[0]!r} (choose from {', '.join(CHAR_OPS)})")
        alpha = _alpha_of(corpus.vocab.strings)
        return {"p": self.probability(corpus.n_tokens, int(self._eligible(corpus, alpha).sum())),
                "ops": np.array([o in ops for o in CHAR_OPS], dtype=np.bool_), "alpha": alpha}

    def _apply(self, corpus, seed, ctx, prev, st):
        alpha = st["alpha"]
        if alpha.size < len(corpus.vocab):  # words added since prepare (an earlier step of a combination)
            alpha = np.concatenate([alpha, _alpha_of(corpus.vocab.strings[alpha.size :])])
        eligible = self._eligible(corpus, alpha)
        sel = K.select_tokens(eligible, corpus.offsets, corpus.sentence_ids, st["p"], seed, self.key)
        # code points of the selected words only
        uw, local = np.unique(corpus.words[sel], return_inverse=True)
        token_word = np.zeros(corpus.n_tokens, dtype=np.int32)
        token_word[sel] = local
        cp, off = K.codepoints([corpus.vocab.strings[w] for w in uw.tolist()])
        buf, boff, tok, _ = K.char_noise(cp, off, token_word, sel, corpus.offsets, corpus.sentence_ids, *K.KEYBOARD,
                                         *K.script_neighbours(cp), st["ops"], seed, self.key)
        # only the edited tokens become strings: the new code points are decoded in one go
        text = buf.tobytes().decode("utf-32-le")
        bo = boff.tolist()
        vocab = corpus.vocab.copy()
        new_ids = vocab.add_many(text[bo[j] : bo[j + 1]] for j in range(len(bo) - 1))
        words = corpus.words.copy()
        words[tok] = new_ids
        changed = np.zeros(corpus.n_tokens, dtype=np.bool_)
        changed[tok] = new_ids != corpus.words[tok]
        return _same_length(corpus, words, vocab, prev, changed, {"eligible": int(eligible.sum()), "probability": st["p"]})


@register
class RandomToken(Perturbation):
    """A rate of O tokens replaced by random O-words of the same test set."""

    name = "random_token"
    unit = "tokens"
    defaults = {"rate": 0.3}

    def prepare(self, corpus, ctx):
        eligible = corpus.tags == 0
        cand = np.unique(corpus.words[eligible])
        p = self.probability(corpus.n_tokens, int(eligible.sum())) if cand.size > 1 else 0.0
        return {"cand": cand, "p": p}

    def _apply(self, corpus, seed, ctx, prev, st):
        cand = st["cand"]
        eligible = (corpus.tags == 0) & np.isin(corpus.words, cand)
        sid = corpus.sentence_ids
        sel = K.select_tokens(eligible, corpus.offsets, sid, st["p"], seed, self.key)
        words = corpus.words.copy()
        if cand.size > 1 and sel.any():
            pick = K.pick_tokens(sel, corpus.offsets, sid, cand.size - 1, seed, self.key, 17)
            own = np.searchsorted(cand, corpus.words[sel])
            j = pick[sel]
            words[sel] = cand[j + (j >= own)]  # never the word itself
        return _same_length(corpus, words, corpus.vocab, prev, sel, {"eligible": int(eligible.sum()), "probability": st["p"]})


# -- batched application ----------------------------------------------------------------------------


def apply_batched(pert: Perturbation | Combination, corpus: Corpus, seed: int, ctx: Context | None = None,
                  batch_size: int = 10_000, workers: int = 1, order: np.ndarray | None = None) -> Perturbed:
    """Apply to batches of sentences (in threads when ``workers > 1``) after preparing corpus-level
    state once on the whole set; the result equals ``pert.apply(corpus, seed, ctx)``."""
    from concurrent.futures import ThreadPoolExecutor

    from xner.corpus import concat

    ctx = ctx or Context()
    parts = pert.parts if isinstance(pert, Combination) else [pert]
    cur, edit = corpus, None
    for part in parts:
        part.check(ctx)
        st = part.prepare(cur, ctx)
        idx = np.arange(len(cur)) if order is None else np.asarray(order)
        batches = [idx[i : i + batch_size] for i in range(0, idx.size, batch_size)]

        def run(b, part=part, cur=cur, edit=edit, st=st):
            sub = cur.subset(b)
            prev = None if edit is None else edit[_token_index(cur, b)]
            r = part.apply(sub, seed, ctx, prev, st)
            return r

        with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
            results = list(ex.map(run, batches))
        # reassemble in the corpus's own order
        inv = np.argsort(np.concatenate(batches))
        joined = concat([r.corpus for r in results])
        merged = joined.subset(inv)
        edit = np.concatenate([r.edit for r in results])[_token_index(joined, inv)]
        merged.meta["sentence_ids"] = cur.sentence_ids
        cur = merged
    return Perturbed(cur, edit, edit_stats(cur, edit))


def _token_index(c: Corpus, sent_index: np.ndarray) -> np.ndarray:
    from xner.corpus import gather_spans

    return gather_spans(c.offsets, np.asarray(sent_index, dtype=np.int64))
