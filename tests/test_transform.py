"""Transform pieces: temporal windows, label ids, config checks, the preprocessing graph."""
import cv2
import numpy as np
import pytest
import tensorflow as tf

from mer_tfx.transform.config import TransformConfig
from mer_tfx.transform.preprocessing import gather_window, label_index
from mer_tfx.transform.temporal import frame_positions


@pytest.mark.parametrize("length, apex", [(5, 2), (40, 7), (16, 15), (3, 0), (100, 60)])
def test_resample_keeps_onset_apex_and_offset(length, apex):
    steps = 16
    positions, mask = frame_positions(tf.constant([length]), tf.constant([apex]), steps,
                                      "resample")
    positions = positions.numpy()[0]
    assert positions[0] == 0 and positions[steps // 2] == apex and positions[-1] == length - 1
    assert np.all(np.diff(positions) >= 0) and mask.numpy().all()


def test_pad_truncate_takes_the_first_frames_and_masks_padding():
    positions, mask = frame_positions(tf.constant([3, 20]), tf.constant([1, 5]), 6,
                                      "pad_truncate")
    assert positions.numpy().tolist() == [[0, 1, 2, 2, 2, 2], [0, 1, 2, 3, 4, 5]]
    assert mask.numpy().tolist() == [[True] * 3 + [False] * 3, [True] * 6]


def test_label_index_follows_the_configured_order():
    ids = label_index(tf.constant([b"surprise", b"others", b"happiness"]),
                      ("happiness", "surprise"))
    assert ids.numpy().tolist() == [1, -1, 0]


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError):
        TransformConfig(temporal_strategy="nearest")
    with pytest.raises(ValueError):
        TransformConfig(label_key="emotion")
    with pytest.raises(ValueError):
        TransformConfig(classes=("a", "a"))
    assert TransformConfig.from_dict({"classes": ["a", "b"]}).classes == ("a", "b")
    # custom_config sections are read strictly: a training key here is a mistake
    with pytest.raises(ValueError, match="unknown setting epochs"):
        TransformConfig.from_dict({"classes": ["a", "b"], "epochs": 3})


def test_gather_window_decodes_resizes_and_picks_the_apex_frame():
    """Frames of any size come out S x S; step T//2 is the apex frame."""
    frames = []
    for value in range(7):  # frame k is a flat image of gray level 30*k, 50x40 pixels
        frames.append([cv2.imencode(".png", np.full((50, 40), 30 * value, np.uint8))[1]
                       .tobytes()])
    ragged = tf.RaggedTensor.from_row_lengths(
        tf.RaggedTensor.from_row_lengths(tf.constant(sum(frames, [])), [1] * 7), [7])
    config = TransformConfig(steps=5, image_size=8)
    images, mask = gather_window(ragged, tf.constant([100], tf.int64),
                                 tf.constant([104], tf.int64), config)
    assert images.shape == (1, 5, 8, 8, 1) and mask.numpy().all()
    levels = np.round(images.numpy()[0, :, 0, 0, 0] * 255 / 30).astype(int).tolist()
    assert levels[0] == 0 and levels[2] == 4 and levels[-1] == 6


def test_padding_steps_of_frames_xf_are_zero_exactly_where_mask_xf_is_zero(tmp_path):
    """The frame models and augmentation find pad_truncate's padding as the all-zero steps
    of frames_xf (temporal.real_steps): the real graph must keep it so."""
    import functools

    import apache_beam as beam
    from apache_beam.testing import util as beam_util
    import tensorflow_transform.beam as tft_beam
    from tfx_bsl.public import tfxio

    from mer_tfx.pipeline.beam_args import LOCAL_RUNNER
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.schemas import load_schema
    from mer_tfx.transform.preprocessing import FRAMES_KEY, MASK_KEY, preprocessing_fn
    from mer_tfx.transform.temporal import real_steps
    from test_trainer_stream import _record

    path = str(tmp_path / "records.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for number, frames in enumerate((3, 6, 9)):  # shorter than, equal to, longer than T
            writer.write(_record(f"s{number}", "a", 0, frames - 1, "happiness", number))
    # records without flow maps, for a frame model (the padding is what frame models read)
    settings = PipelineSettings().replace(**{"transform.steps": 6, "transform.image_size": 8,
                                             "transform.temporal_strategy": "pad_truncate",
                                             "trainer.model": "motion_cnn_tcn"})
    source = tfxio.TFSequenceExampleRecord(file_pattern=path, schema=load_schema(),
                                           telemetry_descriptors=["test"])
    function = functools.partial(preprocessing_fn, custom_config=settings.custom_config())

    def check(batches):
        """Every transformed row: zero steps exactly where the mask is 0."""
        rows = [(np.array(batch.column(FRAMES_KEY)[i].as_py(), np.float32).reshape(6, 8, 8, 2),
                 np.array(batch.column(MASK_KEY)[i].as_py(), np.float32))
                for batch, _ in batches for i in range(batch.num_rows)]
        assert sorted(mask.sum() for _, mask in rows) == [3, 6, 6]
        for frames, mask in rows:
            np.testing.assert_array_equal(real_steps(frames).numpy(), mask == 1)

    with beam.Pipeline(runner=LOCAL_RUNNER) as pipeline, \
            tft_beam.Context(temp_dir=str(tmp_path / "tmp")):
        raw = pipeline | source.BeamSource()
        (transformed, _), _ = ((raw, source.TensorAdapterConfig())
                               | tft_beam.AnalyzeAndTransformDataset(function,
                                                                     output_record_batches=True))
        beam_util.assert_that(transformed, check)
