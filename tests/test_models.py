"""Model builders and training helpers."""
import collections

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

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


def test_flow_ensemble_averages_the_logits_of_its_branches():
    model = build_model("flow_ensemble", (28, 28, 3), 5)
    flow = tf.random.normal([3, 28, 28, 3])
    branches = [model.get_layer(f"branch{b}_logits") for b in range(4)]
    logits = tf_keras.Model(model.inputs, [b.output for b in branches])(flow, training=False)
    expected = tf.nn.softmax(tf.reduce_mean(tf.stack(logits), axis=0)).numpy()
    np.testing.assert_allclose(model(flow, training=False).numpy(), expected, rtol=1e-5)
    assert not model.get_layer("probabilities").trainable_weights
    assert model.count_params() == 21_373  # 4 x (224 + 1,168 + 3,925) + the fixed head
    assert model.input_names == ["flow_xf"]


def test_mirrored_flow_negates_the_horizontal_component():
    flow = tf.random.normal([6, 6, 3])
    seen = set()
    for seed in range(20):
        out, _ = augment.augment_flow(flow, tf.constant(0), tf.constant([seed, 0]))
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


def test_motion_model_is_far_smaller_than_the_thesis_model_on_the_same_input():
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
    for seed in range(5):
        out, label = augment.augment_clip(clip, tf.constant(3), tf.constant([seed, 0]))
        assert int(label) == 3
        frames = out.numpy()
        assert np.allclose(frames, frames[:1])  # one draw for the whole clip


def test_brightness_leaves_the_motion_channel_alone():
    clip = tf.concat([tf.ones([4, 8, 8, 1]), tf.zeros([4, 8, 8, 1])], axis=-1)
    for seed in range(5):
        out, _ = augment.augment_clip(clip, tf.constant(0), tf.constant([seed, 1]))
        assert np.allclose(out.numpy()[..., 1], 0.0)


def test_augmentation_leaves_padding_steps_at_zero():
    """pad_truncate's padding steps are zeros (mask_xf 0): brightness must not fill them."""
    clip = tf.concat([tf.random.normal([3, 8, 8, 2], seed=1), tf.zeros([5, 8, 8, 2])], axis=0)
    shifted = 0
    for seed in range(10):
        out, _ = augment.augment_clip(clip, tf.constant(0), tf.constant([seed, 2]))
        out = out.numpy()
        assert np.all(out[3:] == 0.0)
        shifted += not np.allclose(out[:3, ..., 0].mean(), clip.numpy()[:3, ..., 0].mean())
    assert shifted


def test_same_augmentation_seed_gives_the_same_clip():
    clip = tf.random.normal([4, 8, 8, 2], seed=3)
    one = augment.augment_clip(clip, tf.constant(0), tf.constant([5, 9]))[0].numpy()
    two = augment.augment_clip(clip, tf.constant(0), tf.constant([5, 9]))[0].numpy()
    other = augment.augment_clip(clip, tf.constant(0), tf.constant([6, 9]))[0].numpy()
    np.testing.assert_array_equal(one, two)
    assert not np.allclose(one, other)


@pytest.mark.parametrize("name", ["motion_cnn_tcn", "thesis_cnn_bilstm"])
def test_frame_models_ignore_padding_steps(name):
    """A 5-frame clip padded to 8 steps scores as the same 5 frames unpadded: the masks
    (rebuilt from the zero steps) keep padding out of the LSTM and the temporal max."""
    unpadded, padded = build_model(name, (5, 16, 16, 2), 3), build_model(name, (8, 16, 16, 2), 3)
    rng = np.random.default_rng(0)
    weights = [rng.normal(scale=0.3, size=w.shape).astype(np.float32)
               for w in unpadded.get_weights()]  # non-zero biases: padding would show
    unpadded.set_weights(weights)
    padded.set_weights(weights)
    real = rng.normal(scale=0.05, size=(2, 5, 16, 16, 2)).astype(np.float32)
    zeros = np.zeros((2, 3, 16, 16, 2), np.float32)

    def features(model, clips):  # the classifier's input: softmax would saturate
        return tf_keras.Model(model.input, model.layers[-2].output)(clips, training=False)

    np.testing.assert_allclose(features(unpadded, real),
                               features(padded, np.concatenate([real, zeros], 1)),
                               rtol=1e-5, atol=1e-6)


def test_parallel_model_is_refused_with_pad_truncate():
    """It reads step T//2 as the apex, which only resample puts there."""
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.settings import SettingsError
    from mer_tfx.trainer.config import TrainerConfig
    from mer_tfx.transform.config import TransformConfig

    with pytest.raises(SettingsError, match="parallel_cnn_lstm reads step T//2 as the apex"):
        PipelineSettings(trainer=TrainerConfig(model="parallel_cnn_lstm"),
                         transform=TransformConfig(temporal_strategy="pad_truncate"))
    PipelineSettings(trainer=TrainerConfig(model="parallel_cnn_lstm"))
    PipelineSettings(transform=TransformConfig(temporal_strategy="pad_truncate"))


def test_autograph_leaves_keras_2_as_written_and_still_converts_model_code():
    """tf_keras is Keras 2 under a new name; TensorFlow's rule names only ``keras``, and
    rewriting Keras's training code took most of a fresh process's first epoch."""
    from tensorflow.python.autograph.core import config as autograph_config
    from tensorflow.python.autograph.impl import conversion

    from mer_tfx.trainer import task  # noqa: F401  (the Trainer's entry registers it)
    from mer_tfx.trainer.autograph import leave_keras_alone
    from mer_tfx.trainer.models import step_mask

    assert conversion.is_allowlisted(tf_keras.Model.train_step)
    assert conversion.is_allowlisted(tf_keras.optimizers.Adam.apply_gradients)
    assert not conversion.is_allowlisted(step_mask)
    leave_keras_alone()
    rules = [r for r in autograph_config.CONVERSION_RULES if r.matches("tf_keras")]
    assert len(rules) == 1
