"""Transform settings: the ``transform`` section of the settings tree (mer_tfx/settings.py).

Transform and Trainer both read them from TFX ``custom_config["transform"]``, so
the pipeline, the transform graph and the model cannot disagree on the window
length, image size or class order.
"""
from __future__ import annotations

import dataclasses

from mer_tfx.settings import from_dict, option, to_dict, validate

# Temporal normalisation strategies, implemented in transform/temporal.py.
STRATEGIES = ("resample", "pad_truncate")

LABEL_KEYS = ("label", "label_3class")
DEFAULT_CLASSES = {
    "label": ("happiness", "disgust", "repression", "surprise", "others"),
    "label_3class": ("negative", "positive", "surprise"),
}


@dataclasses.dataclass(frozen=True)
class TransformConfig:
    steps: int = option(16, "frames per clip after temporal normalisation (T)", minimum=2,
                        maximum=512)
    image_size: int = option(64, "frames are resized to S x S in the graph", minimum=8,
                             maximum=1024)
    temporal_strategy: str = option("resample", "resample: onset, apex, offset pinned to "
                                                "steps 0, T//2, T-1; pad_truncate: the first T "
                                                "frames, padded with zero steps the frame "
                                                "models mask out", choices=STRATEGIES)
    motion_channel: bool = option(True, "add each frame minus the onset frame as a channel")
    flow_size: int = option(28, "flow and strain maps are resized to F x F in the graph (the "
                                "flow models' input; 28 in STSTNet and OFF-ApexNet)",
                            minimum=8, maximum=256)
    label_key: str = option("label", "record field that holds the class",
                            choices=LABEL_KEYS)
    classes: tuple = option((), "comma-separated class order (default: per label key)")

    def __post_init__(self):
        validate(self)
        if not self.classes:
            object.__setattr__(self, "classes", DEFAULT_CLASSES[self.label_key])
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise ValueError(f"classes must be at least 2 distinct labels, got "
                             f"{list(self.classes)}")

    @property
    def channels(self) -> int:
        return 2 if self.motion_channel else 1

    @classmethod
    def from_dict(cls, values: dict | None) -> "TransformConfig":
        """Strict: an unknown or ill-typed key is an error naming it."""
        return from_dict(cls, values)

    def to_dict(self) -> dict:
        return to_dict(self)
