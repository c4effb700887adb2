"""Trainer settings: the ``trainer`` section of the settings tree (mer_tfx/settings.py).

The Trainer reads them from TFX ``custom_config["trainer"]``; flags, ``MER_*``
variables and Kubeflow options are derived from these declarations.
"""
from __future__ import annotations

import dataclasses

from mer_tfx.settings import from_dict, option, validate

# Builders in trainer/models.py, listed here so option parsing need not load Keras.
MODEL_NAMES = ("flow_ensemble", "motion_cnn_tcn", "thesis_cnn_bilstm", "parallel_cnn_lstm",
               "ststnet", "off_apexnet")
# Models that read the onset->apex flow and strain (Transform's flow_xf) instead of
# the frames (frames_xf).
FLOW_MODELS = ("ststnet", "off_apexnet", "flow_ensemble")
# Models that read step T//2 as the apex frame: the ``resample`` strategy puts the apex
# there; with ``pad_truncate`` that step is any frame, or padding.
APEX_STEP_MODELS = ("parallel_cnn_lstm",)
# Modes and metrics of trainer/selection.py (listed here for the same reason).
EPOCH_SELECTIONS = ("validation", "fixed")
SELECTION_METRICS = ("uar", "uf1")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    model: str = option("flow_ensemble", "model builder (trainer/models.py)",
                        choices=MODEL_NAMES)
    epochs: int = option(40, "the most epochs (validation selection) or exactly (fixed)",
                         minimum=1)
    batch_size: int = option(16, "clips per training batch", minimum=1)
    learning_rate: float | None = option(None, "optimizer learning rate (default: the "
                                               "model builder's own)", minimum=0.0)
    # Which weights are kept (trainer/selection.py): the best validation epoch by
    # selection_metric (ties: lower loss), or the last of exactly `epochs` ("fixed").
    epoch_selection: str = option(
        "validation", "validation: keep the epoch with the best validation "
        "--selection-metric (validation subjects drawn from the training subjects); fixed: "
        "exactly --epochs, last weights, no validation subjects", choices=EPOCH_SELECTIONS)
    selection_metric: str = option("uar", "validation metric that selects the epoch",
                                   choices=SELECTION_METRICS)
    min_epochs: int = option(10, "no epoch before this is kept, no stop before it (at most "
                                 "--epochs)", minimum=1)
    patience: int = option(10, "stop after this many epochs past the best validation epoch",
                           minimum=1)
    validation_fraction: float = option(0.25, "fraction of the training subjects used for "
                                              "epoch selection", minimum=0.0, maximum=0.9)
    seed: int = option(0, "training seed (weights, augmentation, validation subjects)")
    augment: bool = option(True, "flip/brightness/contrast augmentation of training clips")
    class_weights: bool = option(True, "inverse-frequency class weights in the loss")
    deterministic: bool = option(True, "TF op determinism: same data + seed -> same model")

    def __post_init__(self):
        validate(self)
        if self.epoch_selection == "validation" and not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be between 0 and 1 for epoch_selection "
                             f"'validation', got {self.validation_fraction}")

    def check_temporal_strategy(self, strategy: str) -> None:
        """A ValueError when the model cannot read clips of this temporal strategy."""
        if self.model in APEX_STEP_MODELS and strategy != "resample":
            raise ValueError(
                f"model {self.model} reads step T//2 as the apex frame, which only "
                f"--temporal-strategy resample puts there (with {strategy} it is the frame "
                f"T//2 after the onset, or padding): use resample, or another model")

    @property
    def first_selectable_epoch(self) -> int:
        return min(self.min_epochs, self.epochs)

    @property
    def reads_flow(self) -> bool:
        return self.model in FLOW_MODELS

    @property
    def uses_validation(self) -> bool:
        return self.epoch_selection == "validation"

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainerConfig":
        """Strict: an unknown or ill-typed key is an error naming it."""
        return from_dict(cls, values)
