"""Overlap between a training corpus and a test corpus (the reference study's features).

Measures (all computed on surface forms, case-sensitive):

* ``entity_token_overlap``: non-unique share of test entity tokens whose word also occurs as an
  entity token in training (and the count);
* ``entity_word_overlap_unique``: share of distinct test entity words seen as training entity words;
* ``shared_chunks_unique``: number of distinct test entity chunks (word sequence) that also occur as a
  training chunk, untyped and typed (same surface and type);
* ``seen_chunk_share``: share of test chunk mentions whose surface occurs as a training chunk;
* ``o_word_overlap``: share of distinct test O-words that occur as training O-words, and the
  non-unique token share;
* ``vocab_overlap``: share of distinct test words seen anywhere in training.
"""

from __future__ import annotations

import numba
import numpy as np

from .corpus import Corpus, WordVocab


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


def overlap(train: Corpus, test: Corpus) -> dict[str, float | int]:
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

    tr_chunks, te_chunks = train.chunks(), test.chunks()
    out: dict[str, float | int] = {
        "train_lang": train.lang, "test_lang": test.lang,
        "train_sentences": len(train), "test_sentences": len(test),
        "test_entity_tokens": int(te_ent_tokens.size),
        "entity_token_overlap_count": shared_ent_tokens,
        "entity_token_overlap": _share(shared_ent_tokens, int(te_ent_tokens.size)),
        "entity_word_overlap_unique": _share(te_ent_unique_shared, int(te_ent_unique.size)),
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
    out.update({
        "o_word_overlap": _share(o_unique_shared, int(te_o_unique.size)),
        "o_token_overlap": _share(o_tokens_shared, int(te_o_mask.sum())),
        "vocab_overlap": _share(vocab_shared, int(te_unique.size)),
    })
    return out


def render(ov: dict) -> str:
    rows = [
        ("entity-token overlap (non-unique)", f"{ov['entity_token_overlap']:.4f}",
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
