"""Grad-CAM (Selvaraju et al. 2017) for every model builder, on the model's own input.

Method: the gradient of the class *logit* (the softmax layer's input times its
kernel plus bias, not the probability, which saturates) with respect to each of the
model's last convolution maps; the channels are weighted by their spatially averaged
gradients, summed, and passed through ReLU. Which maps count:

- every convolution with no convolution downstream of it ("terminal"): one for the
  single-stream frame models, one per stream for STSTNet (3) and OFF-ApexNet (u, v);
  their maps are upsampled to the input's size and summed;
- a convolution wrapped in TimeDistributed is explained per step (a map per input
  frame: motion_cnn_tcn, thesis_cnn_bilstm);
- a plain convolution inside a frame model sees only some steps (parallel_cnn_lstm's
  spatial branch reads the apex step); which ones is found once by differentiating
  the map with respect to the input, and its map is put on those steps. That model's
  LSTM branch has no convolution and is not explained (Grad-CAM cannot).

Frame models give maps of shape [T, S, S] (the model's frames_xf), flow models [F, F]
(flow_xf). Values are >= 0, in the logit's units per pixel; ``normalised`` scales a
clip's map to [0, 1].
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

HEAD_LAYER = "probabilities"  # trainer/models.py: the softmax Dense every builder ends in


def _inner(layer):
    return layer.layer if isinstance(layer, layers.TimeDistributed) else layer


def _is_conv(layer) -> bool:
    return isinstance(_inner(layer), layers.Conv2D)


def _downstream(layer) -> list:
    return [node.outbound_layer for node in layer._outbound_nodes]  # noqa: SLF001


def terminal_convolutions(model) -> list:
    """The convolution layers (plain or TimeDistributed) with no convolution downstream."""
    def has_conv_below(layer, seen) -> bool:
        for child in _downstream(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            if _is_conv(child) or has_conv_below(child, seen):
                return True
        return False

    found = [layer for layer in model.layers
             if _is_conv(layer) and not has_conv_below(layer, set())]
    if not found:
        raise ValueError(f"model {model.name} has no convolution layer: Grad-CAM needs one")
    return found


@dataclasses.dataclass
class GradCam:
    """Grad-CAM of one Keras model (see the module docstring)."""

    model: keras.Model

    def __post_init__(self):
        self.targets = terminal_convolutions(self.model)
        self.head = self.model.get_layer(HEAD_LAYER)
        self.probe = keras.Model(self.model.inputs,
                                 [t.output for t in self.targets] + [self.head.input])
        shape = self.model.inputs[0].shape
        self.frame_model = len(shape) == 5  # [B, T, S, S, C]; flow models [B, F, F, 3]
        self.spatial = tuple(int(d) for d in shape[-3:-1])
        self.steps_of = [self._steps_read(i) for i in range(len(self.targets))]

    def _steps_read(self, index: int):
        """For a plain convolution inside a frame model: the input steps its map depends on."""
        target = self.targets[index]
        if not self.frame_model or isinstance(target, layers.TimeDistributed):
            return None
        sample = tf.random.stateless_normal([1, *self.model.inputs[0].shape[1:]], seed=(0, 1))
        with tf.GradientTape() as tape:
            tape.watch(sample)
            activation = self.probe(sample, training=False)[index]
            total = tf.reduce_sum(activation)
        gradient = tape.gradient(total, sample)[0]
        steps = np.flatnonzero(np.abs(gradient.numpy()).reshape(gradient.shape[0], -1).sum(1))
        return steps.tolist()

    def __call__(self, inputs, class_ids=None):
        """(maps [B, T, S, S] or [B, F, F], probabilities [B, K]) for ``class_ids`` (default:
        the predicted classes)."""
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        with tf.GradientTape() as tape:
            *activations, features = self.probe(inputs, training=False)
            logits = tf.matmul(features, self.head.kernel) + self.head.bias
            probabilities = tf.nn.softmax(logits)
            if class_ids is None:
                class_ids = tf.argmax(probabilities, axis=1)
            chosen = tf.reduce_sum(tf.gather(logits, class_ids, axis=1, batch_dims=1))
        gradients = tape.gradient(chosen, activations)
        batch = int(inputs.shape[0])
        maps = np.zeros((batch, *inputs.shape[1:-1]) if self.frame_model
                        else (batch, *self.spatial), np.float32)
        for activation, gradient, steps in zip(activations, gradients, self.steps_of):
            spatial_axes = (-3, -2)
            weights = tf.reduce_mean(gradient, axis=spatial_axes, keepdims=True)
            cam = tf.nn.relu(tf.reduce_sum(weights * activation, axis=-1))  # [B,(T),h,w]
            maps += self._placed(cam, steps, maps.shape)
        return maps, probabilities.numpy()

    def _placed(self, cam, steps, shape) -> np.ndarray:
        """A target's map upsampled to the input's size and put on its steps."""
        flat = tf.reshape(cam, [-1, *cam.shape[-2:], 1])
        resized = tf.image.resize(flat, self.spatial, method="bilinear")[..., 0].numpy()
        if not self.frame_model:
            return resized.reshape(shape)
        if cam.shape.rank == 4:  # TimeDistributed: a map per step
            return resized.reshape(shape)
        placed = np.zeros(shape, np.float32)
        for step in steps or range(shape[1]):
            placed[:, step] = resized / max(len(steps or range(shape[1])), 1)
        return placed


def normalised(heat: np.ndarray) -> np.ndarray:
    """One clip's map scaled to [0, 1] (all zeros stay zeros)."""
    top = float(np.max(heat)) if heat.size else 0.0
    return heat / top if top > 0 else np.zeros_like(heat)
