"""Trainer settings, read from the same TFX ``custom_config`` dict as Transform's."""
from __future__ import annotations

import dataclasses

# Builders in trainer/models.py, listed here so option parsing need not load Keras.
MODEL_NAMES = ("motion_cnn_tcn", "thesis_cnn_bilstm", "parallel_cnn_lstm")
# Modes and metrics of trainer/selection.py (listed here for the same reason).
EPOCH_SELECTIONS = ("validation", "fixed")
SELECTION_METRICS = ("uar", "uf1")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    model: str = "motion_cnn_tcn"  # see trainer.models.BUILDERS
    epochs: int = 40  # the most ("validation") or exactly ("fixed")
    batch_size: int = 16
    learning_rate: float | None = None  # None: the builder's own default
    # Which weights are kept (trainer/selection.py): the best validation epoch by
    # selection_metric (ties: lower loss), or the last of exactly `epochs` ("fixed").
    epoch_selection: str = "validation"
    selection_metric: str = "uar"
    min_epochs: int = 10  # never kept or stopped before this many (at most `epochs`)
    patience: int = 10  # stop after this many epochs past the best one
    validation_fraction: float = 0.25  # of the *training* subjects ("validation" mode)
    seed: int = 0
    augment: bool = True
    class_weights: bool = True
    deterministic: bool = True  # same transform output + seed -> same model (TF op determinism)

    def __post_init__(self):
        if self.epoch_selection not in EPOCH_SELECTIONS:
            raise ValueError(f"epoch_selection must be one of {EPOCH_SELECTIONS}, "
                             f"got {self.epoch_selection!r}")
        if self.selection_metric not in SELECTION_METRICS:
            raise ValueError(f"selection_metric must be one of {SELECTION_METRICS}, "
                             f"got {self.selection_metric!r}")
        if self.epochs < 1 or self.min_epochs < 1:
            raise ValueError(f"epochs and min_epochs must be at least 1, got {self.epochs} "
                             f"and {self.min_epochs}")
        if self.epoch_selection == "validation" and not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be between 0 and 1 for epoch_selection "
                             f"'validation', got {self.validation_fraction}")

    @property
    def first_selectable_epoch(self) -> int:
        return min(self.min_epochs, self.epochs)

    @property
    def uses_validation(self) -> bool:
        return self.epoch_selection == "validation"

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainerConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(values or {}).items() if k in known})
