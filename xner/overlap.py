"""Overlap between a training corpus and a test corpus: the reference study's features as the study
computed them, and xner's own measures beside them (README, "Overlap measures", maps each to the
study's column).

The study's measures (Manafi & Krishnaswamy 2024, csu-signal/xlingual-robustness):

* ``entity_token_tag_overlap``: non-unique share of test entity tokens whose (word, tag) pair also
  occurs as a training entity (word, tag) pair ("non-un token overlap in l2"; and the count,
  ``shared non-u in l2``), with ``shared_token_tag_pairs_unique`` ("shared unique in both");
* ``shared_chunk_share_unique``: share of the *distinct* test chunks that are also training chunks
  (P1's shared entities over the unique chunks);
* ``context_overlap``: share of test O tokens that the study's P2 may replace (:func:`study_context_mask`:
  the lower-cased word is no stopwords-iso stop word of the target, has no ASCII punctuation and more
  than one character, and is a training O-word that is no stop word of the training language).

xner's measures (all computed on surface forms, case-sensitive):

* ``entity_token_overlap``: non-unique share of test entity tokens whose word also occurs as an
  entity token in training, whatever its tag (and the count);
* ``entity_word_overlap_unique``: share of distinct test entity words seen as training entity words;
* ``shared_chunks_unique``: number of distinct test entity chunks (word sequence) that also occur as a
  training chunk, untyped and typed (same surface and type);
* ``seen_chunk_share``: share of test chunk mentions whose surface occurs as a training chunk;
* ``o_word_overlap``: share of distinct test O-words that occur as training O-words, and the
  non-unique token share;
* ``vocab_overlap``: share of distinct test words seen anywhere in training.
"""

from __future__ import annotations

import string
from functools import lru_cache

import numba
import numpy as np

from .corpus import Corpus, WordVocab

__all__ = ["chunk_keys", "joint_ids", "map_vocab", "overlap", "render", "stopwords_of", "study_context_mask",
           "study_source_words", "study_target_ok"]


def map_vocab(src: WordVocab, dst: WordVocab) -> np.ndarray:
    """int64 table: id in ``src`` -> id in ``dst`` (-1 when the string is absent)."""
    get = dst.get
    return np.fromiter((get(s) for s in src.strings), dtype=np.int64, count=len(src))


def joint_ids(src: WordVocab, dst: WordVocab) -> np.ndarray:
    """Like :func:`map_vocab`, but strings absent from ``dst`` get fresh ids ``>= len(dst)``."""
    table = map_vocab(src, dst)
    missing = table < 0
    table[missing] = len(dst) + np.arange(int(missing.sum()))
    return table


@numba.njit(cache=True)
def chunk_keys(words: np.ndarray, chunks: np.ndarray, typed: bool) -> np.ndarray:
    """A 64-bit FNV-style hash of each chunk's word ids (and its type if ``typed``)."""
    out = np.empty(chunks.shape[0], dtype=np.uint64)
    for r in range(chunks.shape[0]):
        h = np.uint64(1469598103934665603)
        for i in range(chunks[r, 1], chunks[r, 2]):
            h = (h ^ np.uint64(words[i] + 1)) * np.uint64(1099511628211)
        if typed:
            h = (h ^ np.uint64(chunks[r, 3] + 7919)) * np.uint64(1099511628211)
        out[r] = h
    return out


def _share(a: int, b: int) -> float:
    return a / b if b else 0.0


# -- the study's P2 word filter (shared by the context-overlap measure and context_swap) -------------

_PUNCT = frozenset(string.punctuation)


def stopwords_of(lang: str) -> frozenset[str]:
    """stopwords-iso's list of a language (``a+b``: the union; empty where stopwords-iso has none)."""
    return _stopwords(tuple(sorted(x for x in lang.replace(",", "+").split("+") if x)))


@lru_cache(maxsize=64)
def _stopwords(langs: tuple[str, ...]) -> frozenset[str]:
    import stopwordsiso

    return frozenset(stopwordsiso.stopwords(list(langs)))


def study_target_ok(word: str, stop: frozenset[str]) -> bool:
    """The study's filter of a target word: its lower-cased form is no stop word, it holds no ASCII
    punctuation and has more than one character."""
    return len(word) > 1 and word.lower() not in stop and not _PUNCT.intersection(word)


def study_source_words(train: Corpus, lang: str | None = None) -> frozenset[str]:
    """The training O-words that are no stop words of the training language (compared as written,
    as the study did)."""
    stop = stopwords_of(train.lang if lang is None else lang)
    strings = train.vocab.strings
    return frozenset(w for w in (strings[i] for i in np.unique(train.words[train.tags == 0]).tolist())
                     if w not in stop)


def study_context_mask(test: Corpus, train: Corpus, target_lang: str | None = None,
                       source_lang: str | None = None) -> np.ndarray:
    """Per word id of ``test.vocab``: whether the study's P2 may replace the word (as an O token)."""
    stop = stopwords_of(test.lang if target_lang is None else target_lang)
    src = study_source_words(train, source_lang)
    return np.fromiter((study_target_ok(w, stop) and w.lower() in src for w in test.vocab.strings),
                       dtype=np.bool_, count=len(test.vocab))


def _pairs(words: np.ndarray, tags: np.ndarray) -> np.ndarray:
    return words.astype(np.int64) * 256 + tags.astype(np.int64)


def overlap(train: Corpus, test: Corpus, target_lang: str | None = None,
            source_lang: str | None = None) -> dict[str, float | int]:
    """Every measure for (train split, test split); languages (stop words of the context overlap)
    default to the corpora's."""
    # express test words in the training vocabulary (unseen words get fresh ids)
    table = joint_ids(test.vocab, train.vocab)
    tw = table[test.words] if test.words.size else np.zeros(0, np.int64)
    trw = train.words.astype(np.int64)
    tr_ent = np.unique(trw[train.tags != 0])
    tr_o = np.unique(trw[train.tags == 0])
    tr_all = np.unique(trw)

    te_ent_mask = test.tags != 0
    te_ent_tokens = tw[te_ent_mask]
    shared_ent_tokens = int(np.isin(te_ent_tokens, tr_ent).sum())
    te_ent_unique = np.unique(test.words[te_ent_mask])
    te_ent_unique_shared = int((np.isin(table[te_ent_unique], tr_ent)).sum()) if te_ent_unique.size else 0

    te_o_mask = ~te_ent_mask
    te_o_unique = np.unique(test.words[te_o_mask])
    o_unique_shared = int(np.isin(table[te_o_unique], tr_o).sum()) if te_o_unique.size else 0
    o_tokens_shared = int(np.isin(tw[te_o_mask], tr_o).sum())

    te_unique = np.unique(test.words)
    vocab_shared = int(np.isin(table[te_unique], tr_all).sum()) if te_unique.size else 0

    # the study's: entity (word, tag) pairs
    tr_pairs = np.unique(_pairs(trw[train.tags != 0], train.tags[train.tags != 0]))
    te_pairs = _pairs(te_ent_tokens, test.tags[te_ent_mask])
    pair_count = int(np.isin(te_pairs, tr_pairs).sum())
    pairs_unique = int(np.isin(np.unique(te_pairs), tr_pairs).sum())
    # the study's context overlap: O tokens P2 may replace
    ctx_ok = study_context_mask(test, train, target_lang, source_lang)
    ctx_count = int(ctx_ok[test.words[te_o_mask]].sum())

    tr_chunks, te_chunks = train.chunks(), test.chunks()
    out: dict[str, float | int] = {
        "train_lang": train.lang, "test_lang": test.lang,
        "train_sentences": len(train), "test_sentences": len(test),
        "test_entity_tokens": int(te_ent_tokens.size),
        "entity_token_overlap_count": shared_ent_tokens,
        "entity_token_overlap": _share(shared_ent_tokens, int(te_ent_tokens.size)),
        "entity_word_overlap_unique": _share(te_ent_unique_shared, int(te_ent_unique.size)),
        "entity_token_tag_overlap_count": pair_count,
        "entity_token_tag_overlap": _share(pair_count, int(te_ent_tokens.size)),
        "shared_token_tag_pairs_unique": pairs_unique,
        "test_chunks": int(te_chunks.shape[0]),
    }
    for typed in (False, True):
        k_tr = chunk_keys(trw, tr_chunks, typed)
        k_te = chunk_keys(tw, te_chunks, typed)
        seen = np.isin(k_te, k_tr)
        uniq_te = np.unique(k_te)
        suffix = "_typed" if typed else ""
        out[f"test_chunks_unique{suffix}"] = int(uniq_te.size)
        out[f"shared_chunks_unique{suffix}"] = int(np.isin(uniq_te, k_tr).sum())
        out[f"seen_chunk_share{suffix}"] = _share(int(seen.sum()), int(k_te.size))
    out["shared_chunk_share_unique"] = _share(out["shared_chunks_unique"], out["test_chunks_unique"])
    out.update({
        "test_o_tokens": int(te_o_mask.sum()),
        "context_overlap_count": ctx_count,
        "context_overlap": _share(ctx_count, int(te_o_mask.sum())),
        "o_word_overlap": _share(o_unique_shared, int(te_o_unique.size)),
        "o_token_overlap": _share(o_tokens_shared, int(te_o_mask.sum())),
        "vocab_overlap": _share(vocab_shared, int(te_unique.size)),
    })
    return out


def render(ov: dict) -> str:
    rows = [
        ("study: entity token-and-tag overlap", f"{ov['entity_token_tag_overlap']:.4f}",
         f"{ov['entity_token_tag_overlap_count']}/{ov['test_entity_tokens']} test entity tokens, "
         f"{ov['shared_token_tag_pairs_unique']} distinct pairs shared"),
        ("study: shared chunks / distinct test chunks", f"{ov['shared_chunk_share_unique']:.4f}",
         f"{ov['shared_chunks_unique']}/{ov['test_chunks_unique']}"),
        ("study: context overlap (P2-eligible O)", f"{ov['context_overlap']:.4f}",
         f"{ov['context_overlap_count']}/{ov['test_o_tokens']} test O tokens"),
        ("entity-token overlap (word only)", f"{ov['entity_token_overlap']:.4f}",
         f"{ov['entity_token_overlap_count']}/{ov['test_entity_tokens']} test entity tokens"),
        ("entity-word overlap (unique)", f"{ov['entity_word_overlap_unique']:.4f}", ""),
        ("shared entity chunks (unique)", str(ov["shared_chunks_unique"]),
         f"of {ov['test_chunks_unique']} distinct test chunks"),
        ("shared entity chunks (unique, typed)", str(ov["shared_chunks_unique_typed"]),
         f"of {ov['test_chunks_unique_typed']}"),
        ("test chunks seen in training", f"{ov['seen_chunk_share']:.4f}", f"of {ov['test_chunks']} mentions"),
        ("test chunks seen in training (typed)", f"{ov['seen_chunk_share_typed']:.4f}", ""),
        ("O-word overlap (unique)", f"{ov['o_word_overlap']:.4f}", ""),
        ("O-token overlap (non-unique)", f"{ov['o_token_overlap']:.4f}", ""),
        ("vocabulary overlap (unique)", f"{ov['vocab_overlap']:.4f}", ""),
    ]
    head = f"overlap train={ov['train_lang']} ({ov['train_sentences']} sent.) test={ov['test_lang']} ({ov['test_sentences']} sent.)"
    w = max(len(r[0]) for r in rows)
    return "\n".join([head] + [f"  {a:<{w}}  {b:>8}  {c}".rstrip() for a, b, c in rows])
