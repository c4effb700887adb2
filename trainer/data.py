"""Input pipelines: raw clip records -> TFT layer -> train / validation clips.

Transform does not materialise its output; the Trainer applies the transform
graph to the raw records once and keeps the clips in memory, **sorted by
(subject, clip)**: Beam's workers write records in no fixed order, and a model
must not depend on that order (same data + settings + seed = same model).
Validation subjects are drawn from the *training* subjects only, so model
selection never sees an eval subject.
"""
from __future__ import annotations

import collections
import dataclasses

import numpy as np
import tensorflow as tf
from tfx_bsl.public import tfxio

from mer_tfx.ingestion.splits import EVAL, assign_subject_splits
from mer_tfx.transform.preprocessing import FRAMES_KEY, LABEL_KEY

from .augment import augment_clip, augment_flow

READ_BATCH = 16


@dataclasses.dataclass
class Clips:
    """Transformed clips in a fixed order: the model's input (frames [N, T, S, S, C] or flow
    [N, F, F, 3]), labels, subjects, clip ids."""

    inputs: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    clips: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask: np.ndarray) -> "Clips":
        return Clips(self.inputs[mask], self.labels[mask], self.subjects[mask], self.clips[mask])


def read_raw(data_accessor, files, schema):
    return data_accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=READ_BATCH, shuffle=False, num_epochs=1),
        schema)


def ordered(clips: Clips) -> Clips:
    """The same clips sorted by (subject, clip id): independent of the record order."""
    order = np.lexsort((clips.clips, clips.subjects))
    return clips.select(order)


def load_clips(raw_dataset, tft_layer, input_key: str = FRAMES_KEY) -> Clips:
    """Every clip whose label is in the class set, transformed once, in (subject, clip)
    order; ``input_key`` is the Transform output the model reads."""
    def apply(features):
        transformed = tft_layer(features)
        return (transformed[input_key], transformed[LABEL_KEY], features["subject"],
                features["clip"])

    frames, labels, subjects, clip_ids = [], [], [], []
    for batch in raw_dataset.map(apply):
        keep = batch[1].numpy() >= 0  # label outside the class set: -1
        frames.append(batch[0].numpy()[keep])
        labels.append(batch[1].numpy()[keep])
        subjects.append(batch[2].numpy()[keep])
        clip_ids.append(batch[3].numpy()[keep])
    if not frames:
        raise ValueError("no clip records to train on")
    return ordered(Clips(np.concatenate(frames), np.concatenate(labels).astype(np.int64),
                         np.concatenate(subjects).astype(str), np.concatenate(clip_ids).astype(str)))


def split_train_validation(clips: Clips, validation_fraction: float, seed: int):
    """(train, validation, validation_subjects); fraction 0: no validation (fixed epochs)."""
    if validation_fraction == 0:
        return clips, clips.select(np.zeros(len(clips), bool)), []
    assignment = assign_subject_splits(clips.subjects.tolist(), eval_fraction=validation_fraction,
                                       seed=seed)
    validation_subjects = sorted(s for s, side in assignment.items() if side == EVAL)
    held = np.isin(clips.subjects, validation_subjects)
    return clips.select(~held), clips.select(held), validation_subjects


def label_counts(clips: Clips) -> collections.Counter:
    return collections.Counter(int(label) for label in clips.labels)


def class_weights(counts: collections.Counter, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights (n / (k * n_c)); classes absent from training get 0."""
    total = sum(counts.values())
    present = sum(1 for c in range(num_classes) if counts.get(c))
    return {c: (total / (present * counts[c]) if counts.get(c) else 0.0)
            for c in range(num_classes)}


def batches(clips: Clips, batch_size: int, shuffle: bool = False, augment: bool = False,
            seed: int = 0):
    dataset = tf.data.Dataset.from_tensor_slices((clips.inputs, clips.labels))
    if shuffle:
        dataset = dataset.shuffle(max(len(clips), 1), seed=seed, reshuffle_each_iteration=True)
    if augment:
        flow = clips.inputs.ndim == 4  # [N, F, F, 3] flow maps, else [N, T, S, S, C] clips
        dataset = dataset.map(augment_flow if flow else augment_clip,
                              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
