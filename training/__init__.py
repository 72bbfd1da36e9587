"""Training: fine-tuning in the study's settings, teacher-student distillation, language-adaptive pretraining,
offline model building."""

from .distill import compress, distill, freeze, teacher_langs
from .finetune import finetune, infer_setting
from .jobs import distill_from_source, train_from_source
from .langid import langid_weights
from .models import init_model
from .presets import presets, resolve
from .pretrain import masked_lm_loss, pretrain
from .runs import prepare_run
from .tokenizers_train import train_tokenizer, vocab_hash
from .vocab_augment import augment_vocabulary

__all__ = ["augment_vocabulary", "compress", "distill", "distill_from_source", "finetune", "freeze", "infer_setting",
           "init_model", "langid_weights", "masked_lm_loss", "prepare_run", "presets", "pretrain", "resolve",
           "teacher_langs", "train_from_source", "train_tokenizer", "vocab_hash"]
