"""Model builders and training helpers."""
import collections

import numpy as np
import pytest
import tensorflow as tf

from mer_tfx.trainer import augment, data
from mer_tfx.trainer.config import FLOW_MODELS
from mer_tfx.trainer.models import BUILDERS, REFERENCE_INPUTS, build_model

FRAME_MODELS = sorted(set(BUILDERS) - set(FLOW_MODELS))


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_thesis_model_has_the_published_parameter_count():
    model = build_model("thesis_cnn_bilstm", (60, 224, 224, 1), 8)
    assert _trainable(model) == 95_612_360
    names = [type(layer).__name__ for layer in model.layers]
    assert names.count("TimeDistributed") == 5 and "Bidirectional" in names
    assert model.layers[-1].units == 8


@pytest.mark.parametrize("name", FRAME_MODELS)
def test_every_frame_model_maps_clips_to_class_probabilities(name):
    model = build_model(name, (8, 32, 32, 2), 5)
    out = model(tf.random.normal([3, 8, 32, 32, 2]), training=False).numpy()
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert model.input_names == ["frames_xf"]


@pytest.mark.parametrize("name, classes, parameters", [
    ("ststnet", 3, 1_715), ("ststnet", 5, 2_517), ("off_apexnet", 3, 2_664_475)])
def test_flow_models_have_their_papers_input_and_parameter_count(name, classes, parameters):
    model = build_model(name, REFERENCE_INPUTS[name], classes)
    assert REFERENCE_INPUTS[name] == (28, 28, 3)
    assert model.count_params() == parameters
    assert model.input_names == ["flow_xf"]
    out = model(tf.random.normal([2, 28, 28, 3]), training=False).numpy()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_ststnet_has_three_streams_of_3_5_and_8_filters():
    model = build_model("ststnet", (28, 28, 3), 3)
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert sorted(c.filters for c in convs) == [3, 5, 8]
    assert all(c.kernel_size == (3, 3) for c in convs)
    flatten = next(layer for layer in model.layers if type(layer).__name__ == "Flatten")
    assert flatten.output_shape == (None, 5 * 5 * 16)


def test_off_apexnet_ignores_strain():
    model = build_model("off_apexnet", (28, 28, 3), 3)
    flow = tf.random.normal([2, 28, 28, 3])
    other_strain = tf.concat([flow[..., :2], tf.random.normal([2, 28, 28, 1])], axis=-1)
    np.testing.assert_allclose(model(flow, training=False), model(other_strain, training=False))


def test_mirrored_flow_negates_the_horizontal_component():
    flow = tf.random.normal([6, 6, 3])
    seen = set()
    for seed in range(20):
        tf.random.set_seed(seed)
        out, _ = augment.augment_flow(flow, tf.constant(0))
        out = out.numpy()
        if np.allclose(out, flow.numpy()):
            seen.add("kept")
        else:
            np.testing.assert_allclose(out[:, ::-1, 0], -flow.numpy()[..., 0])
            np.testing.assert_allclose(out[:, ::-1, 1:], flow.numpy()[..., 1:])
            seen.add("mirrored")
    assert seen == {"kept", "mirrored"}


def test_parallel_model_uses_sgd_with_momentum_at_its_reference_input():
    model = build_model("parallel_cnn_lstm", REFERENCE_INPUTS["parallel_cnn_lstm"], 5)
    optimizer = model.optimizer
    assert type(optimizer).__name__ == "SGD"
    assert float(optimizer.learning_rate) == pytest.approx(0.01)
    assert float(optimizer.momentum) == pytest.approx(0.9)


def test_default_model_is_far_smaller_than_the_thesis_model_on_the_same_input():
    shape = (16, 64, 64, 2)
    small = build_model("motion_cnn_tcn", shape, 5).count_params()
    thesis = build_model("thesis_cnn_bilstm", shape, 5).count_params()
    assert small * 50 < thesis


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match="motion_cnn_tcn"):
        build_model("resnet", (8, 32, 32, 1), 3)


def test_augmentation_is_the_same_for_every_frame_of_a_clip():
    tf.random.set_seed(1)
    base = tf.random.normal([1, 16, 16, 2])
    clip = tf.tile(base, [6, 1, 1, 1])  # six identical frames
    for _ in range(5):
        out, label = augment.augment_clip(clip, tf.constant(3))
        assert int(label) == 3
        frames = out.numpy()
        assert np.allclose(frames, frames[:1])  # one draw for the whole clip


def test_brightness_leaves_the_motion_channel_alone():
    clip = tf.zeros([4, 8, 8, 2])
    out, _ = augment.augment_clip(clip, tf.constant(0))
    assert np.allclose(out.numpy()[..., 1], 0.0)


def test_class_weights_balance_the_classes():
    weights = data.class_weights(collections.Counter({0: 30, 1: 10}), 3)
    assert weights[0] * 30 == pytest.approx(weights[1] * 10)
    assert weights[2] == 0.0
