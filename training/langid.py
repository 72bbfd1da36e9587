"""The language identifier behind ``langid`` teacher weights (Wu et al., ACL 2020): softmax regression
over mean-pooled sentence embeddings (of the student's starting model, the pre-trained base in Wu's
setting, or of the first teacher), trained on the teachers' source languages, its scores scaled by Wu's
temperature 1/Var(scores) before the softmax.  Wu learnt a low-rank bilinear similarity over the base
model's pooled [CLS] output; the regression over mean-pooled states is xner's."""

from __future__ import annotations

import numpy as np

from xner.corpus import Corpus

__all__ = ["TEMPERATURES", "langid_weights"]


TEMPERATURES = ("var", "std", "none")


def langid_weights(embed_model, encoder, sources: list[Corpus], target: Corpus, seed: int = 0,
                   per_source: int = 2000, epochs: int = 200, temperature: str = "var") -> tuple[np.ndarray, dict]:
    """Softmax-regression language identifier over mean-pooled sentence embeddings.

    Trained on up to ``per_source`` sentences of each source language; returns the weights of every
    target sentence (float32[n_target_sents, K]) and the identifier's training accuracy.  As Wu et al.
    (``--tau_metric var``), the identifier's scores of the target sentences are multiplied by
    tau = 1 / Var(scores) (over all of them) before the softmax; ``temperature="std"`` uses 1 / Std,
    ``"none"`` (xner's former) the raw softmax.
    """
    if temperature not in TEMPERATURES:
        from xner.errors import XnerError

        raise XnerError(f"unknown langid temperature {temperature!r}; choose {', '.join(TEMPERATURES)}")
    import torch

    from xner.torchinfer import sentence_embeddings

    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, c in enumerate(sources):
        idx = rng.permutation(len(c))[:per_source]
        xs.append(sentence_embeddings(embed_model, encoder, c.subset(np.sort(idx))))
        ys.append(np.full(idx.size, k))
    X = np.concatenate(xs)
    y = np.concatenate(ys)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    torch.manual_seed(seed)
    lin = torch.nn.Linear(X.shape[1], len(sources))
    opt = torch.optim.Adam(lin.parameters(), lr=0.05, weight_decay=1e-4)
    Xt, yt = torch.from_numpy((X - mu) / sd).float(), torch.from_numpy(y)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(Xt), yt)
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = float((lin(Xt).argmax(1) == yt).float().mean())
        T = sentence_embeddings(embed_model, encoder, target)
        scores = lin(torch.from_numpy((T - mu) / sd).float())
        tau = 1.0
        if temperature != "none" and scores.numel() > 1:
            spread = torch.var(scores) if temperature == "var" else torch.std(scores)
            tau = float(1.0 / spread) if float(spread) > 0 else 1.0
        probs = torch.softmax(scores * tau, 1).numpy()
    return probs.astype(np.float32), {"train_accuracy": acc, "train_sentences": int(y.size),
                                      "temperature": temperature, "tau": tau}
