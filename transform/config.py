"""Settings shared by Transform and Trainer, passed as TFX ``custom_config``.

One dataclass so that the pipeline, the transform graph and the model cannot
disagree on the window length, image size or class order.
"""
from __future__ import annotations

import dataclasses

# Temporal normalisation strategies, implemented in transform/temporal.py.
STRATEGIES = ("resample", "pad_truncate")

LABEL_KEYS = ("label", "label_3class")
DEFAULT_CLASSES = {
    "label": ("happiness", "disgust", "repression", "surprise", "others"),
    "label_3class": ("negative", "positive", "surprise"),
}


@dataclasses.dataclass(frozen=True)
class TransformConfig:
    steps: int = 16  # T: frames per clip after temporal normalisation
    image_size: int = 64  # S: frames are resized to S x S in the graph
    temporal_strategy: str = "resample"
    motion_channel: bool = True
    label_key: str = "label"
    classes: tuple = DEFAULT_CLASSES["label"]

    def __post_init__(self):
        if self.temporal_strategy not in STRATEGIES:
            raise ValueError(f"temporal_strategy must be one of {STRATEGIES}")
        if self.label_key not in LABEL_KEYS:
            raise ValueError(f"label_key must be one of {LABEL_KEYS}, got {self.label_key!r}")
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError(f"classes must be at least 2 distinct labels, got {self.classes}")

    @property
    def channels(self) -> int:
        return 2 if self.motion_channel else 1

    @classmethod
    def from_dict(cls, values: dict | None) -> "TransformConfig":
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        picked = {k: v for k, v in values.items() if k in known}
        if "classes" in picked:
            picked["classes"] = tuple(picked["classes"])
        return cls(**picked)

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["classes"] = list(self.classes)
        return values
