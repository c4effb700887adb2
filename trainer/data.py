"""Input pipelines: raw clip records -> TFT layer -> train / validation datasets.

Transform does not materialise its output (a clip is ~0.5 MB of floats); the
Trainer applies the transform graph to the raw records once and caches the result
in memory. Validation subjects are drawn from the *training* subjects only, so
early stopping never sees an eval subject.
"""
from __future__ import annotations

import collections

import tensorflow as tf
from tfx_bsl.public import tfxio

from mer_tfx.ingestion.splits import EVAL, assign_subject_splits
from mer_tfx.transform.preprocessing import FRAMES_KEY, LABEL_KEY

from .augment import augment_clip

READ_BATCH = 16


def read_raw(data_accessor, files, schema):
    return data_accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=READ_BATCH, shuffle=False, num_epochs=1),
        schema)


def subjects_of(raw_dataset) -> list[str]:
    subjects = set()
    for batch in raw_dataset.map(lambda f: f["subject"]):
        subjects.update(s.decode("utf-8") for s in batch.numpy())
    return sorted(subjects)


def transformed_clips(raw_dataset, tft_layer):
    """Unbatched (frames_xf, label_xf, subject) for every clip with a label in the class set."""
    def apply(features):
        transformed = tft_layer(features)
        return transformed[FRAMES_KEY], transformed[LABEL_KEY], features["subject"]

    return (raw_dataset.map(apply).unbatch()
            .filter(lambda frames, label, subject: label >= 0))


@tf.function
def _in(subject, members):
    return tf.reduce_any(tf.equal(subject, members))


def split_train_validation(raw_dataset, tft_layer, validation_fraction: float, seed: int):
    """(train, validation, validation_subjects): unbatched (frames, label) datasets.

    Both filter one in-memory cache of the transformed clips, so the PNG decoding and
    the transform graph run once, whatever the number of epochs.
    """
    subjects = subjects_of(raw_dataset)
    assignment = assign_subject_splits(subjects, eval_fraction=validation_fraction, seed=seed)
    validation_subjects = sorted(s for s, side in assignment.items() if side == EVAL)
    members = tf.constant(validation_subjects)
    clips = transformed_clips(raw_dataset, tft_layer).cache()
    drop_subject = lambda frames, label, subject: (frames, label)  # noqa: E731
    train = clips.filter(lambda f, l, s: tf.logical_not(_in(s, members))).map(drop_subject)
    validation = clips.filter(lambda f, l, s: _in(s, members)).map(drop_subject)
    return train, validation, validation_subjects


def label_counts(dataset) -> collections.Counter:
    return collections.Counter(int(label) for _, label in dataset.as_numpy_iterator())


def class_weights(counts: collections.Counter, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights (n / (k * n_c)); classes absent from training get 0."""
    total = sum(counts.values())
    present = sum(1 for c in range(num_classes) if counts.get(c))
    return {c: (total / (present * counts[c]) if counts.get(c) else 0.0)
            for c in range(num_classes)}


def batches(dataset, batch_size: int, shuffle: bool = False, augment: bool = False,
            seed: int = 0, size: int = 1):
    if shuffle:
        dataset = dataset.shuffle(max(size, 1), seed=seed, reshuffle_each_iteration=True)
    if augment:
        dataset = dataset.map(augment_clip, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
