"""The Trainer's streamed input (trainer/data.py): total order, first pass, split, batches."""
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from mer_tfx.ingestion.clips import ClipSpec
from mer_tfx.ingestion.records import build_sequence_example
from mer_tfx.schemas import load_schema
from mer_tfx.trainer import data
from mer_tfx.trainer.config import TrainerConfig
from mer_tfx.trainer.task import fit_model
from mer_tfx.transform.config import TransformConfig
from mer_tfx.transform.preprocessing import FRAMES_KEY, LABEL_KEY, gather_window, label_index

TRANSFORM = TransformConfig(steps=4, image_size=8, classes=("happiness", "disgust", "surprise"))


def _record(subject, clip, onset, offset, label, seed):
    """A CAS(ME)^3-style record, written by ingestion's own writer: ``clip`` may be shared
    by intervals of one video."""
    rng = np.random.default_rng(seed)
    spec = ClipSpec(row=1, dataset="casme3", subject=subject, clip=clip, clip_dir="",
                    label=label, onset=onset, apex=onset + 1, offset=offset, fps=30.0)
    frames = [cv2.imencode(".png", rng.integers(0, 255, (12, 12), dtype=np.uint8))[1].tobytes()
              for _ in range(onset, offset + 1)]
    return build_sequence_example(spec, list(range(onset, offset + 1)), frames,
                                  face_detected=True).SerializeToString()


def _records():
    records = []
    for number, subject in enumerate(["spNO.1", "spNO.2", "spNO.3", "spNO.4"]):
        # three intervals of one video, one clip id (old CAS(ME)^3 ids)
        for k, label in enumerate(["happiness", "disgust", "surprise"]):
            records.append(_record(subject, "a", 10 * k, 10 * k + 3, label, 100 * number + k))
        # two records tied on (subject, clip, onset, offset): only the frames differ
        records.append(_record(subject, "b", 0, 2, "happiness", 100 * number + 50))
        records.append(_record(subject, "b", 0, 2, "surprise", 100 * number + 51))
    records.append(_record("spNO.1", "c", 0, 3, "others", 999))  # not in the class set
    return records


def _write(records, folder, shards):
    os.makedirs(folder)
    for shard in range(shards):
        path = os.path.join(folder, f"data_tfrecord-{shard:05d}-of-{shards:05d}.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for record in records[shard::shards]:
                writer.write(record)
    return [os.path.join(folder, "*")]


def _tft_layer(features):
    """The transform's window and label pieces without TFT statistics: enough to follow
    the records through the stream."""
    images, mask = gather_window(features["frames"], features["onset"], features["apex"],
                                 TRANSFORM)
    return {FRAMES_KEY: images * tf.cast(mask, tf.float32)[:, :, None, None, None],
            LABEL_KEY: label_index(features[TRANSFORM.label_key], TRANSFORM.classes)}


@pytest.fixture(scope="module")
def two_orders(tmp_path_factory):
    """The same records in two arrival orders and shardings."""
    records = _records()
    base = tmp_path_factory.mktemp("stream")
    order = np.random.default_rng(7).permutation(len(records))
    return (_write(records, str(base / "first"), 2),
            _write([records[i] for i in order], str(base / "second"), 3), base)


def _stream(patterns, spill):
    os.makedirs(spill, exist_ok=True)
    return data.stream_clips(patterns, load_schema(), TRANSFORM, _tft_layer, spill)


def test_records_in_two_orders_with_shared_video_clip_ids_train_identical_weights(two_orders):
    first, second, base = two_orders
    config = TrainerConfig(model="motion_cnn_tcn", epochs=2, min_epochs=1, patience=2,
                           batch_size=4, validation_fraction=0.25)  # the clips are frames
    weights, orders = [], []
    for number, patterns in enumerate((first, second)):
        clips = _stream(patterns, str(base / f"spill{number}"))
        orders.append([open(p, "rb").read() for p in clips.paths])
        train, validation, subjects = data.split_train_validation(
            clips, config.validation_fraction, config.seed)
        model, summary = fit_model(config, TRANSFORM, train, validation)
        weights.append(model.get_weights())
        tf.keras.backend.clear_session()
    assert orders[0] == orders[1]  # the same records in the same order
    assert len(subjects) == 1 and summary["validation_clips"] == 5
    for one, other in zip(*weights):
        np.testing.assert_array_equal(one, other)


def test_first_pass_orders_by_subject_clip_onset_offset_and_drops_other_labels(two_orders):
    _, second, base = two_orders
    clips = _stream(second, str(base / "keys"))
    assert len(clips) == 20 and clips.input_shape == (4, 8, 8, 1)  # "others" dropped
    keys = list(zip(clips.subjects, clips.clips))
    assert keys == sorted(keys)
    assert clips.clips[:5].tolist() == ["a", "a", "a", "b", "b"]
    assert clips.labels[:3].tolist() == [0, 1, 2]  # onsets 0, 10, 20 of video "a"


def test_streamed_batches_match_the_in_memory_clips(two_orders):
    """Streaming changes where the clips live, not what the model reads."""
    first, _, base = two_orders
    clips = _stream(first, str(base / "batches"))
    streamed = list(clips.batches(batch_size=6))
    inputs = np.concatenate([x.numpy() for x, _ in streamed])
    labels = np.concatenate([y.numpy() for _, y in streamed])
    expected = data.transformer(load_schema(), _tft_layer, FRAMES_KEY)(
        tf.constant([open(p, "rb").read() for p in clips.paths]))
    np.testing.assert_array_equal(inputs, expected[0].numpy())
    np.testing.assert_array_equal(labels, clips.labels)
    held = clips.select(clips.subjects == "spNO.2")
    assert sum(len(y) for _, y in held.batches(4)) == 5


def test_streamed_training_batches_are_shuffled_with_the_seed(two_orders):
    first, _, base = two_orders
    clips = _stream(first, str(base / "shuffle"))

    def labels(seed):
        return np.concatenate([y.numpy() for _, y in
                               clips.batches(4, shuffle=True, augment=True, seed=seed)])

    assert labels(3).tolist() == labels(3).tolist()
    assert labels(3).tolist() != clips.labels.tolist()
    assert sorted(labels(3).tolist()) == sorted(clips.labels.tolist())


def test_transformed_once_reads_what_every_epoch_transforming_read(two_orders, monkeypatch):
    """The per-record input files change how often the transform runs, not the batches."""
    first, _, base = two_orders
    cached = _stream(first, str(base / "cached"))
    monkeypatch.setattr(data, "TRANSFORMED_CACHE_BYTES", 0)
    streamed = _stream(first, str(base / "uncached"))
    assert cached.inputs is not None and streamed.inputs is None
    assert all(os.path.exists(path) for path in cached.inputs)

    def batches(clips):
        return [(x.numpy(), y.numpy()) for x, y in
                clips.select(clips.subjects != "spNO.2").batches(4, shuffle=True,
                                                                 augment=True, seed=5)]

    for (x_cached, y_cached), (x_streamed, y_streamed) in zip(batches(cached),
                                                              batches(streamed)):
        np.testing.assert_array_equal(x_cached, x_streamed)
        np.testing.assert_array_equal(y_cached, y_streamed)
