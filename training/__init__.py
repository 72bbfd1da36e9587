"""Training: fine-tuning in the study's settings, teacher-student distillation, language-adaptive pretraining,
offline model building."""

from __future__ import annotations

from xner.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "augment_vocabulary": ".vocab_augment",
    "compress": ".distill",
    "distill": ".distill",
    "distill_from_source": ".jobs",
    "finetune": ".finetune",
    "freeze": ".distill",
    "infer_setting": ".finetune",
    "init_model": ".models",
    "langid_weights": ".langid",
    "masked_lm_loss": ".pretrain",
    "prepare_run": ".runs",
    "presets": ".presets",
    "pretrain": ".pretrain",
    "resolve": ".presets",
    "teacher_langs": ".distill",
    "train_from_source": ".jobs",
    "train_tokenizer": ".tokenizers_train",
    "vocab_hash": ".tokenizers_train",
})
