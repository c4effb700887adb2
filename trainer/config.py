"""Trainer settings, read from the same TFX ``custom_config`` dict as Transform's."""
from __future__ import annotations

import dataclasses


# Builders in trainer/models.py, listed here so option parsing need not load Keras.
MODEL_NAMES = ("motion_cnn_tcn", "thesis_cnn_bilstm", "parallel_cnn_lstm")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    model: str = "motion_cnn_tcn"  # see trainer.models.BUILDERS
    epochs: int = 40
    batch_size: int = 16
    learning_rate: float | None = None  # None: the builder's own default
    patience: int = 15  # early stopping on validation loss (a few dozen clips: noisy)
    validation_fraction: float = 0.25  # of the *training* subjects
    seed: int = 0
    augment: bool = True
    class_weights: bool = True
    deterministic: bool = True  # same transform output + seed -> same model (TF op determinism)

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainerConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(values or {}).items() if k in known})
