"""Input pipelines: raw clip records -> TFT layer -> train / validation batches.

The Trainer streams (``stream_clips``): memory must not grow with the dataset
(a CASME II-sized set at 60 x 224 x 224 is ~6 GB of float32). A first pass reads
only each record's context keys (subject, clip, onset, offset, label) and copies
the serialized record, untouched, to a local spill folder, one file per record:
TFX writes gzip shards, which cannot be read out of order. Class weights and
validation subjects come from those keys; then tf.data reads the spilled
records and applies the transform graph batch by batch, so only the batches in
flight are float32.

The order is **total and independent of the record files**: (subject, clip,
onset, offset, SHA-256 of the serialized record). Beam writes records in no
fixed order, and clip ids may tie (CAS(ME)^3 intervals of one video); same data
+ settings + seed = same model. Training shuffles the *record paths* with the
seed (the buffer holds every path: a few dozen bytes a clip, so a full shuffle
costs no clip memory). Validation subjects are drawn from the training subjects
only, so model selection never sees an eval subject.

The transform runs once, not once per epoch: after the first pass each clip's model
input is written beside its record (``<record>.xf``, a serialized tensor) and the epochs
read those, unless they would take more than ``TRANSFORMED_CACHE_BYTES`` of local disk
(then every epoch transforms the records as it reads them): decoding and resizing the
frames again in every epoch roughly doubled a frame model's fit (bench/protocols.py).

``Clips`` keeps transformed clips in memory for small sets (tests, benches);
both kinds offer the same ``labels``/``subjects``/``select``/``batches``.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import os

import numpy as np
import tensorflow as tf
from tfx_bsl.tfxio import tensor_representation_util

from mer_tfx.ingestion.splits import EVAL, assign_subject_splits
from mer_tfx.transform.preprocessing import FRAMES_KEY, LABEL_KEY

from .augment import augment_clip, augment_flow

READ_BATCH = 16
# Fixed, not AUTOTUNE: tf.data's autotuning grows its buffers as a run goes on, so the
# peak memory would grow with the number of batches (bench/trainer_memory.py).
PARALLEL_CALLS = 2
# The first pass's context keys (ingestion/records.py CONTEXT): the order and the split.
ORDER_KEYS = ("subject", "clip", "onset", "offset")
# Local disk the transformed clips may take (float32 model inputs): 260 CASME II-sized
# clips at the defaults take 140 MB; 60 x 224 x 224 x 2 inputs would take 6 GB.
TRANSFORMED_CACHE_BYTES = 4 << 30


def order_of(subjects, clips, onsets, offsets, digests) -> np.ndarray:
    """Indices sorting the clips by (subject, clip, onset, offset, digest): a total order
    as long as no two different records share all five."""
    return np.lexsort((digests, offsets, onsets, clips, subjects))


def _fixed_buffers() -> tf.data.Options:
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def _augmented(dataset, flow: bool, seed: int):
    """Per-clip augmentation drawn from a per-element seed (``Dataset.random``, new draws
    each epoch): parallel mapping cannot change which clip gets which draw."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    function = augment_flow if flow else augment_clip
    return tf.data.Dataset.zip((dataset, seeds)).map(
        lambda element, draw: function(element[0], element[1], tf.stack([draw, seed])),
        num_parallel_calls=PARALLEL_CALLS, deterministic=True)


@dataclasses.dataclass
class Clips:
    """Transformed clips in memory, in a fixed order: the model's input (frames
    [N, T, S, S, C] or flow [N, F, F, 3]), labels, subjects, clip ids."""

    inputs: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    clips: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def input_shape(self) -> tuple:
        return tuple(self.inputs.shape[1:])

    def select(self, mask: np.ndarray) -> "Clips":
        return Clips(self.inputs[mask], self.labels[mask], self.subjects[mask], self.clips[mask])

    def batches(self, batch_size: int, shuffle: bool = False, augment: bool = False,
                seed: int = 0):
        dataset = tf.data.Dataset.from_tensor_slices((self.inputs, self.labels))
        if shuffle:
            dataset = dataset.shuffle(max(len(self), 1), seed=seed,
                                      reshuffle_each_iteration=True)
        if augment:
            dataset = _augmented(dataset, self.inputs.ndim == 4, seed)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def ordered(clips: Clips) -> Clips:
    """The same clips in (subject, clip, content) order: independent of the record order."""
    digests = np.array([hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
                        for x in clips.inputs])
    zeros = np.zeros(len(clips), np.int64)
    return clips.select(order_of(clips.subjects, clips.clips, zeros, zeros, digests))


def load_clips(raw_dataset, tft_layer, input_key: str = FRAMES_KEY) -> Clips:
    """Every clip whose label is in the class set, transformed once and held in memory, in
    (subject, clip, content) order; ``input_key`` is the Transform output the model reads.
    For small sets only: the Trainer streams (``stream_clips``)."""
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


@dataclasses.dataclass
class RecordClips:
    """Spilled raw records in the total order, transformed as they are read."""

    paths: np.ndarray  # one serialized record per file
    labels: np.ndarray
    subjects: np.ndarray
    clips: np.ndarray
    transform: object  # serialized records [B] -> (model input [B, ...], label_xf [B])
    input_shape: tuple
    inputs: np.ndarray | None = None  # per record, its transformed model input's file

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask: np.ndarray) -> "RecordClips":
        return dataclasses.replace(
            self, paths=self.paths[mask], labels=self.labels[mask],
            subjects=self.subjects[mask], clips=self.clips[mask],
            inputs=None if self.inputs is None else self.inputs[mask])

    def batches(self, batch_size: int, shuffle: bool = False, augment: bool = False,
                seed: int = 0):
        cached = self.inputs is not None
        dataset = tf.data.Dataset.from_tensor_slices(
            (self.inputs.astype(str), self.labels) if cached else self.paths.astype(str))
        if shuffle:
            dataset = dataset.shuffle(max(len(self), 1), seed=seed,
                                      reshuffle_each_iteration=True)
        dataset = self._read_inputs(dataset) if cached else self._read_records(dataset)
        if augment:
            dataset = _augmented(dataset, len(self.input_shape) == 3, seed)
        return dataset.batch(batch_size).prefetch(1).with_options(_fixed_buffers())

    def _read_inputs(self, dataset):
        """(input file, label) -> (model input, label), as ``transformed_once`` wrote it."""
        shape = self.input_shape
        return dataset.map(
            lambda path, label: (tf.ensure_shape(tf.io.parse_tensor(
                tf.io.read_file(path), tf.float32), shape), label),
            num_parallel_calls=PARALLEL_CALLS, deterministic=True)

    def _read_records(self, dataset):
        """record file -> (model input, label_xf), through the transform."""
        dataset = dataset.map(tf.io.read_file, num_parallel_calls=PARALLEL_CALLS,
                              deterministic=True)
        return dataset.batch(READ_BATCH).map(
            self.transform, num_parallel_calls=PARALLEL_CALLS, deterministic=True).unbatch()


def record_files(patterns) -> list[str]:
    """The files of ``patterns`` (TFX's ``train_files``), sorted; none is an error."""
    files = sorted({f for p in patterns for f in tf.io.gfile.glob(p)})
    if not files:
        raise ValueError(f"no record files match {list(patterns)}")
    return files


def _records(files):
    """Serialized records of gzip (``.gz``, as TFX writes) or plain TFRecord files."""
    datasets = [tf.data.TFRecordDataset(f, compression_type="GZIP" if f.endswith(".gz") else "")
                for f in files]
    dataset = datasets[0]
    for other in datasets[1:]:
        dataset = dataset.concatenate(other)
    return dataset


def transformer(raw_schema, tft_layer, input_key: str):
    """Serialized records [B] -> (transformed ``input_key``, label_xf), through the TFT
    layer exactly as serving does (signatures.py)."""
    context_spec, sequence_spec = \
        tensor_representation_util.CreateTfSequenceExampleParserConfig(raw_schema)

    def transform(serialized):
        context, sequence, _ = tf.io.parse_sequence_example(serialized, context_spec,
                                                            sequence_spec)
        transformed = tft_layer({**context, **sequence})
        return transformed[input_key], transformed[LABEL_KEY]

    return transform


def stream_clips(patterns, raw_schema, transform_config, tft_layer, spill_dir: str,
                 input_key: str = FRAMES_KEY) -> RecordClips:
    """First pass over the records of ``patterns``: keep those whose label is in the class
    set, spill them to ``spill_dir`` (local disk, deleted by the caller), read their keys."""
    label_key, classes = transform_config.label_key, list(transform_config.classes)
    spec = {name: tf.io.FixedLenFeature([], tf.int64 if name in ("onset", "offset")
                                        else tf.string)
            for name in ORDER_KEYS + (label_key,)}
    keyed = _records(record_files(patterns)).batch(64).map(
        lambda s: (s, tf.io.parse_sequence_example(s, context_features=spec)[0]))
    paths, keys, labels = [], [], []
    for serialized, context in keyed:
        context = {k: v.numpy() for k, v in context.items()}
        for i, record in enumerate(serialized.numpy()):
            label = context[label_key][i].decode()
            if label not in classes:  # label_xf -1: not trained on
                continue
            path = os.path.join(spill_dir, f"{len(paths):07d}.pb")
            with open(path, "wb") as handle:
                handle.write(record)
            paths.append(path)
            labels.append(classes.index(label))
            keys.append((context["subject"][i].decode(), context["clip"][i].decode(),
                         int(context["onset"][i]), int(context["offset"][i]),
                         hashlib.sha256(record).hexdigest()))
    if not paths:
        raise ValueError("no clip records to train on")
    subjects, clip_ids, onsets, offsets, digests = (np.array(column) for column in zip(*keys))
    order = order_of(subjects, clip_ids, onsets, offsets, digests)
    transform = transformer(raw_schema, tft_layer, input_key)
    first = transform(tf.constant([open(paths[order[0]], "rb").read()]))[0]
    clips = RecordClips(np.array(paths)[order], np.array(labels, np.int64)[order],
                        subjects[order], clip_ids[order], transform, tuple(first.shape[1:]))
    if len(clips) * first.dtype.size * np.prod(clips.input_shape) <= TRANSFORMED_CACHE_BYTES:
        clips = transformed_once(clips)
    return clips


def transformed_once(clips: RecordClips) -> RecordClips:
    """``clips`` reading each record's model input from ``<record>.xf``, written here by
    one transform pass (READ_BATCH records in memory at a time)."""
    inputs = np.array([f"{path}.xf" for path in clips.paths])
    records = tf.data.Dataset.from_tensor_slices(clips.paths.astype(str))
    for path, (clip, _) in zip(inputs, clips._read_records(records)):
        tf.io.write_file(path, tf.io.serialize_tensor(clip))
    return dataclasses.replace(clips, inputs=inputs)


def split_train_validation(clips, validation_fraction: float, seed: int):
    """(train, validation, validation_subjects) of ``Clips`` or ``RecordClips``, split by
    subject; fraction 0: no validation (fixed epochs)."""
    if validation_fraction == 0:
        return clips, clips.select(np.zeros(len(clips), bool)), []
    assignment = assign_subject_splits(clips.subjects.tolist(), eval_fraction=validation_fraction,
                                       seed=seed)
    validation_subjects = sorted(s for s, side in assignment.items() if side == EVAL)
    held = np.isin(clips.subjects, validation_subjects)
    return clips.select(~held), clips.select(held), validation_subjects


def label_counts(clips) -> collections.Counter:
    return collections.Counter(int(label) for label in clips.labels)


def class_weights(counts: collections.Counter, num_classes: int) -> dict[int, float]:
    """Inverse-frequency weights (n / (k * n_c)); classes absent from training get 0."""
    total = sum(counts.values())
    present = sum(1 for c in range(num_classes) if counts.get(c))
    return {c: (total / (present * counts[c]) if counts.get(c) else 0.0)
            for c in range(num_classes)}


def batches(clips, batch_size: int, shuffle: bool = False, augment: bool = False,
            seed: int = 0):
    return clips.batches(batch_size, shuffle=shuffle, augment=augment, seed=seed)

