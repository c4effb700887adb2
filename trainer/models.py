"""Model builders, chosen by name in the pipeline config.

Frame models take clips shaped [T, S, S, C] (frames_xf from Transform), flow
models (trainer.config.FLOW_MODELS) the onset->apex flow maps [F, F, 3] (flow_xf:
u, v, strain); all return a compiled Keras 2 (tf_keras) model ending in a softmax
over the classes, whose input is named after the Transform output it reads.

Frame models honour ``pad_truncate``'s padding: the steps Transform masks out
(mask_xf 0) are all-zero steps of frames_xf (transform.temporal.real_steps), so
each frame model rebuilds the mask from its one input and the LSTMs skip padding
steps, and the temporal convolution and max of ``motion_cnn_tcn`` see zeros there.
A padded clip then scores as the same clip with fewer padding steps would.

- ``thesis_cnn_bilstm``: the reference thesis, layer for layer. At its published
  input (60 x 224 x 224 x 1, 8 classes) it has 95,612,360 parameters, almost all
  in the LSTM reading a 186,624-wide Flatten.
- ``parallel_cnn_lstm``: the second reference: a spatial CNN branch (on the apex
  step, T//2: ``resample`` puts the apex there, so the settings refuse this model
  with ``pad_truncate``) and a temporal LSTM branch (on flattened frames) fused
  before the head, SGD lr 0.01 momentum 0.9, at 48 x 48 frames and 48 steps.
- ``motion_cnn_tcn``: a small CNN shared by all frames, kept spatial
  (a coarse 8 x 8 map, because *where* the face moves is the class) and reading
  the motion channel, then a temporal convolution and a max over time. ~53k
  parameters: 1/120 of the thesis architecture on the same input, 1/1800 of it
  at its published input.
- ``ststnet`` (Liong et al. 2019, "Shallow Triple Stream Three-dimensional CNN"):
  three parallel 3x3 convolutions of 3, 5 and 8 filters over (u, v, strain) at
  28 x 28, each ReLU, batch norm, 3x3 max pool of stride 3; concatenated, 2x2
  average pool, one dense layer. 1,715 parameters for 3 classes (2,517 for 5).
  The paper trains 500 epochs at Adam 5e-5; here Adam 1e-3 fits the Trainer's
  epoch budget (validation epoch selection picks the epoch).
- ``off_apexnet`` (Gan et al. 2019, "OFF-ApexNet"): two streams, horizontal (u)
  and vertical (v) flow at 28 x 28, each conv 5x5x6 -> max pool 2 -> conv 5x5x16
  -> max pool 2; flattened, concatenated, dense 1024 -> dense 1024 -> softmax,
  dropout 0.5 after each dense layer; Adam 1e-4. 2,664,475 parameters for 3
  classes.
- ``flow_ensemble`` (default): four small CNNs on the flow (u, v, strain) at
  28 x 28, each conv 3x3x8 -> max pool 2 -> conv 3x3x16 -> max pool 2 -> dropout
  0.5 -> its own class logits; the four logits are averaged in the graph (a fixed,
  untrainable softmax head, so Grad-CAM reads the logits as for every builder).
  L2 1e-4 on every kernel, Adam 1e-3; 21,373 parameters for 5 classes. Chosen as
  the default by ``bench/real_texture.py --hard`` (class motion below the head
  jitter), where the frame model falls below a logistic-regression baseline and
  the averaged small branches are steadier across seeds than one large network.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

from mer_tfx.transform.preprocessing import FLOW_KEY, FRAMES_KEY
from mer_tfx.transform.temporal import real_steps

from .config import MODEL_NAMES

REFERENCE_INPUTS = {
    "thesis_cnn_bilstm": (60, 224, 224, 1),
    "parallel_cnn_lstm": (48, 48, 48, 1),
    "ststnet": (28, 28, 3),
    "off_apexnet": (28, 28, 3),
}


def _classifier(inputs, features, num_classes: int, name: str, optimizer):
    """The compiled model: ``features`` -> softmax over the classes."""
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(features)
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def step_mask(inputs):
    """[B, T] bool of real (not padding) steps of the frames input."""
    return layers.Lambda(real_steps, name="step_mask")(inputs)


def masked_steps(features, mask):
    """Per-step features [B, T, D] set to 0 on padding steps."""
    return layers.Lambda(
        lambda pair: pair[0] * tf.cast(pair[1], pair[0].dtype)[..., None])([features, mask])


def thesis_cnn_bilstm(input_shape, num_classes, learning_rate=None):
    inputs = keras.Input(shape=input_shape, name=FRAMES_KEY)
    mask = step_mask(inputs)
    x = layers.TimeDistributed(layers.Conv2D(32, 3, activation="relu"))(inputs)
    x = layers.TimeDistributed(layers.MaxPooling2D(2))(x)
    x = layers.TimeDistributed(layers.Conv2D(64, 3, activation="relu"))(x)
    x = layers.TimeDistributed(layers.MaxPooling2D(2))(x)
    x = layers.TimeDistributed(layers.Flatten())(x)
    x = layers.Bidirectional(layers.LSTM(64))(x, mask=mask)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(64, activation="relu")(x)
    return _classifier(inputs, x, num_classes, "thesis_cnn_bilstm",
                       keras.optimizers.Adam(learning_rate or 1e-3))


def parallel_cnn_lstm(input_shape, num_classes, learning_rate=None):
    steps = input_shape[0]
    inputs = keras.Input(shape=input_shape, name=FRAMES_KEY)
    mask = step_mask(inputs)
    apex = layers.Lambda(lambda clip: clip[:, steps // 2], name="apex_frame")(inputs)
    s = layers.Conv2D(32, 3, activation="relu", padding="same")(apex)
    s = layers.MaxPooling2D(2)(s)
    s = layers.Conv2D(64, 3, activation="relu", padding="same")(s)
    s = layers.MaxPooling2D(2)(s)
    s = layers.Flatten()(s)
    s = layers.Dense(128, activation="relu")(s)
    t = layers.TimeDistributed(layers.Flatten())(inputs)
    t = layers.LSTM(128)(t, mask=mask)
    x = layers.Concatenate()([s, t])
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(64, activation="relu")(x)
    return _classifier(inputs, x, num_classes, "parallel_cnn_lstm",
                       keras.optimizers.SGD(learning_rate or 0.01, momentum=0.9))


def motion_cnn_tcn(input_shape, num_classes, learning_rate=None):
    inputs = keras.Input(shape=input_shape, name=FRAMES_KEY)
    mask = step_mask(inputs)
    # A small CNN shared by all frames; the strided first layer halves the resolution
    # cheaply, and the map stays spatial (8 x 8 at 64 px): where the face moves is the class.
    x = layers.TimeDistributed(layers.Conv2D(16, 3, strides=2, padding="same",
                                             activation="relu"))(inputs)
    x = layers.TimeDistributed(layers.Conv2D(16, 3, padding="same", activation="relu"))(x)
    x = layers.TimeDistributed(layers.MaxPooling2D(2))(x)
    x = layers.TimeDistributed(layers.Conv2D(32, 3, padding="same", activation="relu"))(x)
    x = layers.TimeDistributed(layers.MaxPooling2D(2))(x)
    grid = max(1, input_shape[1] // 8)
    if grid > 8:
        x = layers.TimeDistributed(layers.AveragePooling2D(grid // 8))(x)
    x = layers.TimeDistributed(layers.Conv2D(8, 1, activation="relu"))(x)
    x = layers.TimeDistributed(layers.Flatten())(x)
    x = layers.TimeDistributed(layers.Dense(64, activation="relu"))(x)
    # Temporal convolution + max over time: the event's peak, wherever it falls.
    # Padding steps are zeroed before (as the convolution's own "same" padding) and
    # after it: ReLU features are >= 0, so a zero never beats a real step's maximum.
    x = masked_steps(x, mask)
    x = layers.Conv1D(64, 3, padding="same", activation="relu")(x)
    x = masked_steps(x, mask)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dropout(0.3)(x)
    return _classifier(inputs, x, num_classes, "motion_cnn_tcn",
                       keras.optimizers.Adam(learning_rate or 1e-3))


def ststnet(input_shape, num_classes, learning_rate=None):
    inputs = keras.Input(shape=input_shape, name=FLOW_KEY)
    streams = []
    for filters in (3, 5, 8):
        x = layers.ZeroPadding2D(2)(inputs)  # the paper's padding 2: 28 -> 30
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=3, padding="same")(x)  # 30 -> 10
        x = layers.Dropout(0.5)(x)
        streams.append(x)
    x = layers.Concatenate()(streams)
    x = layers.AveragePooling2D(2)(x)  # 10 -> 5: 5 x 5 x 16
    x = layers.Flatten()(x)
    return _classifier(inputs, x, num_classes, "ststnet",
                       keras.optimizers.Adam(learning_rate or 1e-3))


def off_apexnet(input_shape, num_classes, learning_rate=None):
    inputs = keras.Input(shape=input_shape, name=FLOW_KEY)
    streams = []
    for channel in (0, 1):  # u, v; strain is not an OFF-ApexNet input
        x = layers.Lambda(lambda flow, c=channel: flow[..., c:c + 1],
                          name=f"flow_{'uv'[channel]}")(inputs)
        x = layers.Conv2D(6, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(16, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        streams.append(layers.Flatten()(x))
    x = layers.Concatenate()(streams)
    for _ in range(2):
        x = layers.Dense(1024, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    return _classifier(inputs, x, num_classes, "off_apexnet",
                       keras.optimizers.Adam(learning_rate or 1e-4))


def flow_ensemble(input_shape, num_classes, learning_rate=None, branches=4):
    """``branches`` small flow CNNs whose class logits are averaged in the graph."""
    inputs = keras.Input(shape=input_shape, name=FLOW_KEY)
    decay = keras.regularizers.L2(1e-4)
    logits = []
    for branch in range(branches):
        x = layers.Conv2D(8, 3, padding="same", activation="relu", kernel_regularizer=decay,
                          name=f"branch{branch}_conv1")(inputs)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(16, 3, padding="same", activation="relu", kernel_regularizer=decay,
                          name=f"branch{branch}_conv2")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Flatten()(x)
        x = layers.Dropout(0.5)(x)
        logits.append(layers.Dense(num_classes, kernel_regularizer=decay,
                                   name=f"branch{branch}_logits")(x))
    x = layers.Concatenate(name="branch_logits")(logits)
    # The head averages the branches' logits: a fixed kernel (identity blocks / branches),
    # still a softmax Dense named "probabilities", as Grad-CAM reads the logits there.
    average = np.tile(np.eye(num_classes, dtype=np.float32), (branches, 1)) / branches
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities",
                           trainable=False,
                           kernel_initializer=keras.initializers.Constant(average),
                           bias_initializer="zeros")(x)
    model = keras.Model(inputs, outputs, name="flow_ensemble")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate or 1e-3),
                  loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


BUILDERS = {
    "thesis_cnn_bilstm": thesis_cnn_bilstm,
    "parallel_cnn_lstm": parallel_cnn_lstm,
    "motion_cnn_tcn": motion_cnn_tcn,
    "ststnet": ststnet,
    "off_apexnet": off_apexnet,
    "flow_ensemble": flow_ensemble,
}


assert set(BUILDERS) == set(MODEL_NAMES), "trainer.config.MODEL_NAMES is out of date"


def build_model(name: str, input_shape, num_classes: int, learning_rate=None):
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(BUILDERS)}") from None
    return builder(tuple(input_shape), num_classes, learning_rate)
