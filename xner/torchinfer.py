"""PyTorch inference at the first sub-token of every word (evaluation, teachers, parity checks)."""

from __future__ import annotations

import numpy as np

from .corpus import Corpus
from .encode import Encoded, WordEncoder, gather_first


def word_logits(model, encoder: WordEncoder, corpus: Corpus, token_budget: int = 8192,
                encoded: Encoded | None = None) -> np.ndarray:
    """float32[n_tokens, n_labels]: logits at each word's first sub-token."""
    import torch

    enc = encoded if encoded is not None else encoder.encode(corpus)
    out = np.zeros((corpus.n_tokens, model.config.num_labels), dtype=np.float32)
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        for idx, ids, mask in enc.batches(token_budget):
            logits = model(input_ids=torch.from_numpy(ids).to(device),
                           attention_mask=torch.from_numpy(mask).to(device)).logits
            gather_first(logits.float().cpu().numpy(), idx, enc.seg_tok, enc.first_pos, out)
    return out


def sentence_embeddings(model, encoder: WordEncoder, corpus: Corpus, token_budget: int = 8192) -> np.ndarray:
    """Mean-pooled last hidden states (without specials) per sentence; float32[n_sents, hidden]."""
    import torch

    enc = encoder.encode(corpus)
    base = getattr(model, model.base_model_prefix, model)
    out = np.zeros((len(corpus), model.config.hidden_size), dtype=np.float32)
    counts = np.zeros(len(corpus), dtype=np.float32)
    base.eval()
    with torch.inference_mode():
        for idx, ids, mask in enc.batches(token_budget):
            h = base(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state
            m = torch.from_numpy(mask).float()
            m[:, 0] = 0
            lens = m.sum(1).long()
            m[torch.arange(m.shape[0]), lens] = 0  # the final special token
            pooled = (h * m.unsqueeze(-1)).sum(1).numpy()
            np.add.at(out, enc.seg_sent[idx], pooled)
            np.add.at(counts, enc.seg_sent[idx], m.sum(1).numpy())
    return out / np.maximum(counts, 1)[:, None]


def predict_tags(model, encoder: WordEncoder, corpus: Corpus) -> np.ndarray:
    return word_logits(model, encoder, corpus).argmax(-1).astype(np.int8)

