"""Masked-LM filling for ``context_mask``: whole-word fills from a masked language model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from xner.corpus import Corpus

from .. import kernels as K

__all__ = ["mlm_fill", "whole_word_pieces"]


def whole_word_pieces(pieces: list[str], special: set[int]) -> np.ndarray:
    """bool per vocabulary piece: may it stand as a whole word?  WordPiece marks word-internal pieces
    with ``##``; SentencePiece (XLM-R) and byte-level BPE (RoBERTa) mark word-*initial* pieces with
    ``▁`` / ``Ġ``, so there a piece without the mark is word-internal and never a fill."""
    n = max(1, len(pieces))
    for mark in ("▁", "Ġ"):
        if sum(p.startswith(mark) for p in pieces) > 0.1 * n:
            return np.array([p.startswith(mark) and len(p) > 1 and i not in special for i, p in enumerate(pieces)])
    return np.array([not p.startswith("##") and i not in special for i, p in enumerate(pieces)])

_MLM_CACHE: dict[str, tuple] = {}


def _load(mlm: str) -> tuple:
    """(tokenizer, model, pieces, whole-word piece mask, encoder) of a masked LM, loaded once."""
    if mlm not in _MLM_CACHE:
        from transformers import AutoModelForMaskedLM

        from xner.encode import WordEncoder
        from xner.families import token_limit
        from xner.hf import load_tokenizer

        tok = load_tokenizer(mlm)
        model = AutoModelForMaskedLM.from_pretrained(mlm).eval()
        pieces = tok.convert_ids_to_tokens(list(range(len(tok))))
        whole = whole_word_pieces(pieces, set(tok.all_special_ids))
        limit = token_limit(model.config)
        _MLM_CACHE[mlm] = (tok, model, pieces, whole, WordEncoder(tok, limit))
    return _MLM_CACHE[mlm]


def mlm_fill(mlm: str, corpus: Corpus, sel: np.ndarray, top_k: int, seed: int, key, salt: int = 0) -> list[str]:
    """Whole-word fills from a masked LM, in the order of the selected tokens.

    Selected words are replaced by the mask token, the corpus is encoded like any other (segments of
    whole words within the model's limit, batched), and each mask gets one of the top-k predicted
    whole-word pieces (never a special token such as the mask), picked by the keyed stream (``salt``
    separates the rounds of a sequential fill).
    """
    import torch

    tok, model, pieces, whole, encoder = _load(mlm)
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
                    pick = top[K.randint(seed, key, int(sid[tok_sent[i]]), local * 31 + 7 + 1_000_003 * salt, len(top))]
                    fill[i] = tok.convert_tokens_to_string([pieces[pick]]).strip() or pieces[pick]
    return fill[sel].tolist()
