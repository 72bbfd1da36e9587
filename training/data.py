"""Torch datasets and collators over encoded corpora."""

from __future__ import annotations

import numpy as np

from xner.encode import Encoded


class SegmentDataset:
    """One item per encoded segment: input ids and per-piece labels (and soft targets, if given)."""

    def __init__(self, enc: Encoded, piece_labels: np.ndarray | None = None, soft: np.ndarray | None = None):
        self.enc = enc
        self.labels = piece_labels
        self.soft = soft  # float32[n_pieces_total, C], rows used where labels != -100

    def __len__(self) -> int:
        return self.enc.n_segments

    def __getitem__(self, s: int) -> dict:
        a, b = int(self.enc.row_offsets[s]), int(self.enc.row_offsets[s + 1])
        item = {"input_ids": self.enc.ids[a:b].astype(np.int64)}
        if self.labels is not None:
            item["labels"] = self.labels[a:b]
        if self.soft is not None:
            item["soft"] = self.soft[a:b]
        return item


class PadCollator:
    """Pads input ids, labels (-100) and soft targets (0) to the longest item of the batch."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[dict]) -> dict:
        import torch

        L = max(len(it["input_ids"]) for it in items)
        n = len(items)
        ids = np.full((n, L), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, L), dtype=np.int64)
        out = {}
        for r, it in enumerate(items):
            k = len(it["input_ids"])
            ids[r, :k] = it["input_ids"]
            mask[r, :k] = 1
        out["input_ids"] = torch.from_numpy(ids)
        out["attention_mask"] = torch.from_numpy(mask)
        if "labels" in items[0]:
            lab = np.full((n, L), -100, dtype=np.int64)
            for r, it in enumerate(items):
                lab[r, : len(it["labels"])] = it["labels"]
            out["labels"] = torch.from_numpy(lab)
        if "soft" in items[0]:
            C = items[0]["soft"].shape[1]
            soft = np.zeros((n, L, C), dtype=np.float32)
            for r, it in enumerate(items):
                soft[r, : len(it["soft"])] = it["soft"]
            out["soft"] = torch.from_numpy(soft)
        return out
