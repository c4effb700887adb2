"""MTCNN's last network (ONet) in NumPy, with the weights of the ``mtcnn`` wheel.

Every clip reads its landmarks with two ONet passes on the Haar box
(ingestion/landmarks.py). ONet is a 389k-parameter network on a 48 x 48 patch; as a
TensorFlow call it costs ~2-7 ms on 2 shared cores, much of it call overhead. The same
layers as matrix products, on one BLAS thread, cost ~1.3-2.4 ms, give the TensorFlow
model's outputs to 1e-4 (tests/test_landmarks.py) and need no TensorFlow session in a
Beam worker. Run passes inside ``one_blas_thread()``.

The layers are those of ``mtcnn/network/onet.py`` (mtcnn 1.0.0): conv 3x3 (32), PReLU,
max-pool 3/2 "same"; conv 3x3 (64), PReLU, max-pool 3/2 "valid"; conv 3x3 (64), PReLU,
max-pool 2/2 "same"; conv 2x2 (128), PReLU; transpose H/W, flatten; dense 256, PReLU;
dense 4 (box offsets), 10 (points), 2 (softmax face score).
"""
from __future__ import annotations

import functools
import importlib.resources

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

WEIGHTS = "assets/weights/onet.lz4"  # inside the mtcnn package; Keras get_weights order
PATCH = 48  # ONet's input side


@functools.lru_cache(maxsize=1)
def _blas():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread():
    """A context in which NumPy's BLAS runs on one thread: ONet's products are small,
    and two BLAS threads on a loaded machine made a pass 5-8x slower (10 ms vs 1.3)."""
    return _blas().limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _weights() -> tuple:
    import joblib  # a dependency of mtcnn, which stores its weights with it

    weights = [np.asarray(w, np.float32)
               for w in joblib.load(importlib.resources.files("mtcnn") / WEIGHTS)]
    # the patch is gray repeated on 3 channels: conv1 on it is conv1 summed over them
    weights[0] = weights[0].sum(axis=2, keepdims=True)
    return tuple(weights)


def _conv(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """"valid" convolution of x [H, W, C] by kernel [kh, kw, C, O], as one product."""
    kh, kw, channels, out = kernel.shape
    windows = sliding_window_view(x, (kh, kw), axis=(0, 1))  # [H', W', C, kh, kw]
    height, width = windows.shape[:2]
    columns = windows.transpose(0, 1, 3, 4, 2).reshape(height * width, kh * kw * channels)
    return (columns @ kernel.reshape(-1, out)).reshape(height, width, out) + bias


def _prelu(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, x * alpha)


def _max_pool(x: np.ndarray, size: int, stride: int, same: bool) -> np.ndarray:
    """Keras MaxPooling2D; "same" pads the end (and the start by the floor of half).
    Rows then columns: two maxima of ``size`` strided slices each."""
    if same:
        height, width = x.shape[:2]
        pad_h = max((-(-height // stride) - 1) * stride + size - height, 0)
        pad_w = max((-(-width // stride) - 1) * stride + size - width, 0)
        x = np.pad(x, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                       (0, 0)), constant_values=-np.inf)
    span_h = ((x.shape[0] - size) // stride) * stride + 1
    span_w = ((x.shape[1] - size) // stride) * stride + 1
    rows = np.maximum.reduce([x[i:i + span_h:stride] for i in range(size)])
    return np.maximum.reduce([rows[:, j:j + span_w:stride] for j in range(size)])


def onet(patch: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(box offsets [4], points [10]: x1..x5 then y1..y5 as fractions of the patch,
    face score) of a PATCH x PATCH gray patch scaled to [-1, 1]."""
    w = _weights()
    x = np.asarray(patch, np.float32).reshape(PATCH, PATCH, 1)
    x = _max_pool(_prelu(_conv(x, w[0], w[1]), w[2]), 3, 2, same=True)
    x = _max_pool(_prelu(_conv(x, w[3], w[4]), w[5]), 3, 2, same=False)
    x = _max_pool(_prelu(_conv(x, w[6], w[7]), w[8]), 2, 2, same=True)
    x = _prelu(_conv(x, w[9], w[10]), w[11])
    x = x.transpose(1, 0, 2).reshape(-1)  # Permute((2, 1, 3)), Flatten
    x = _prelu(x @ w[12] + w[13], w[14])
    logits = x @ w[19] + w[20]
    odds = np.exp(logits - logits.max())
    return x @ w[15] + w[16], x @ w[17] + w[18], float(odds[1] / odds.sum())
