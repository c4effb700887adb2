"""Pipeline settings: one dataclass, filled from CLI options or MER_* environment variables.

``tfx pipeline create`` runs pipeline/local_runner.py with no arguments, so the
local runner reads the environment; ``mer-tfx run`` fills the same dataclass
from its options. Paths default to the demo layout under ./demo_out.
"""
from __future__ import annotations

import dataclasses
import json
import os

from mer_tfx.trainer.config import TrainerConfig
from mer_tfx.transform.config import DEFAULT_CLASSES, TransformConfig

PIPELINE_NAME = "mer-tfx"


@dataclasses.dataclass
class PipelineSettings:
    dataset: str = "casme2"
    data_root: str = "demo_out/data/CASME2_RAW_selected"
    annotations: str | None = "demo_out/data/CASME2-coding-20140508.xlsx"
    output: str = "demo_out"  # pipeline_root/, metadata.db and serving_model/ go here
    pipeline_name: str = PIPELINE_NAME
    frame_size: int = 128  # ingestion crop size
    face_crop: bool = True
    eval_subjects: list | None = None
    eval_fraction: float = 0.25
    split_seed: int = 0
    # Transform + Trainer (TFX custom_config); see transform.config and trainer.config.
    label_key: str = "label"
    classes: list | None = None
    steps: int = TransformConfig.steps
    image_size: int = TransformConfig.image_size
    temporal_strategy: str = TransformConfig.temporal_strategy
    motion_channel: bool = TransformConfig.motion_channel
    model: str = TrainerConfig.model
    epochs: int = TrainerConfig.epochs
    batch_size: int = TrainerConfig.batch_size
    epoch_selection: str = TrainerConfig.epoch_selection
    selection_metric: str = TrainerConfig.selection_metric
    min_epochs: int = TrainerConfig.min_epochs
    patience: int = TrainerConfig.patience
    validation_fraction: float = TrainerConfig.validation_fraction
    seed: int = TrainerConfig.seed
    # Release gates, on the overall slice (evaluation/eval_config.py).
    uar_threshold: float = 0.4
    min_class_recall: float | None = None
    beam_args: list | None = None
    enable_cache: bool = True

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output, "metadata.db")

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.output, "serving_model")

    @property
    def class_names(self) -> list:
        return list(self.classes or DEFAULT_CLASSES[self.label_key])

    def custom_config(self) -> dict:
        """What Transform and Trainer read (TransformConfig + TrainerConfig fields)."""
        return {
            "steps": self.steps, "image_size": self.image_size,
            "temporal_strategy": self.temporal_strategy, "motion_channel": self.motion_channel,
            "label_key": self.label_key, "classes": self.class_names,
            "model": self.model, "epochs": self.epochs, "batch_size": self.batch_size,
            "epoch_selection": self.epoch_selection, "selection_metric": self.selection_metric,
            "min_epochs": self.min_epochs, "patience": self.patience,
            "validation_fraction": self.validation_fraction, "seed": self.seed,
        }

    def to_env(self) -> dict:
        """The MER_* variables that make ``from_env`` return these settings."""
        env = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None:
                env[f"MER_{field.name.upper()}"] = ""
                continue
            is_json = isinstance(value, (bool, list))
            env[f"MER_{field.name.upper()}"] = json.dumps(value) if is_json else str(value)
        return env

    @classmethod
    def from_env(cls, environ=os.environ) -> "PipelineSettings":
        """MER_<FIELD> variables override defaults (lists/bools as JSON, "" for None)."""
        values = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(f"MER_{field.name.upper()}")
            if raw is None:
                continue
            if raw == "" and "None" in field.type:
                values[field.name] = None
            elif field.type in ("int", int):
                values[field.name] = int(raw)
            elif field.type in ("float", float, "float | None"):
                values[field.name] = float(raw)
            elif field.type in ("bool", bool) or field.type.startswith("list"):
                values[field.name] = json.loads(raw)
            else:
                values[field.name] = raw
        return cls(**values)
