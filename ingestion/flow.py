"""Onset -> apex optical flow and optical strain of a face crop, as the MER literature uses them.

TV-L1 (``cv2.optflow.DualTVL1OpticalFlow``, OpenCV's contrib build) is the flow
STSTNet, OFF-ApexNet and MOL read; optical strain is the magnitude of the flow's
symmetric spatial gradient (the local deformation, which a rigid head shift does not
produce):

    e_xx = du/dx,  e_yy = dv/dy,  e_xy = (du/dy + dv/dx) / 2
    strain = sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2)

Both are computed on the grayscale face crop ingestion stores (the same pixels the
frames feature holds), after the apex crop is registered onto the onset crop (the
global head shift removed, ingestion/apex.py), and resized to ``FLOW_SIZE`` x
``FLOW_SIZE`` with area averaging; flow is in pixels of that crop (a 1 px shift at
crop size C reads 1.0, whatever the stored size), strain is unitless.

Stored encoding (``encode_map``): each map is one bytes feature holding the
row-major [FLOW_SIZE, FLOW_SIZE] float32 values, little-endian (lossless;
``tf.io.decode_raw(..., tf.float32)`` reads it). Records written with ``--no-flow``
hold empty bytes.
"""
from __future__ import annotations

import cv2
import numpy as np

from .apex import registered

FLOW_ALGORITHMS = ("tvl1", "farneback", "dis")
FLOW_FEATURES = ("flow_u", "flow_v", "strain")
FLOW_SIZE = 64  # side of the stored maps; models resize them in the transform graph


def _tvl1():
    if not hasattr(cv2, "optflow"):
        raise RuntimeError("TV-L1 optical flow needs OpenCV's contrib build: pip install "
                           "opencv-contrib-python-headless (it replaces opencv-python-headless)")
    return cv2.optflow.DualTVL1OpticalFlow_create()


def optical_flow(onset: np.ndarray, apex: np.ndarray, algorithm: str = "tvl1") -> np.ndarray:
    """[H, W, 2] float32 flow (u: x, v: y, in pixels) that moves onset onto apex."""
    if onset.shape != apex.shape:
        raise ValueError(f"onset {onset.shape} and apex {apex.shape} frames differ in size")
    first, second = (np.ascontiguousarray(f, dtype=np.uint8) for f in (onset, apex))
    if algorithm == "tvl1":
        return _tvl1().calc(first, second, None).astype(np.float32)
    if algorithm == "farneback":
        return cv2.calcOpticalFlowFarneback(first, second, None, 0.5, 3, 15, 3, 5, 1.2,
                                            0).astype(np.float32)
    if algorithm == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(first, second, None).astype(np.float32)
    raise ValueError(f"flow algorithm must be one of {FLOW_ALGORITHMS}, got {algorithm!r}")


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """[H, W] strain magnitude of a [H, W, 2] flow field (central differences)."""
    u, v = flow[..., 0], flow[..., 1]
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    shear = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx ** 2 + dv_dy ** 2 + 2 * shear ** 2).astype(np.float32)


def flow_features(onset: np.ndarray, apex: np.ndarray, size: int,
                  algorithm: str = "tvl1") -> dict:
    """{"flow_u", "flow_v", "strain"}: [size, size] float32 maps of the onset -> apex motion."""
    flow = optical_flow(onset, apex, algorithm)
    strain = optical_strain(flow)

    def resized(values):
        return cv2.resize(values, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)

    return {"flow_u": resized(flow[..., 0]), "flow_v": resized(flow[..., 1]),
            "strain": resized(strain)}


def clip_flow(onset: np.ndarray, apex: np.ndarray, algorithm: str = "tvl1",
              register: bool = True) -> dict:
    """The stored maps of one clip: flow and strain from the onset crop to the apex crop
    registered onto it (``register=False``: the apex crop is registered already), at
    FLOW_SIZE x FLOW_SIZE."""
    return flow_features(onset, registered(onset, apex) if register else apex, FLOW_SIZE,
                         algorithm)


def encode_map(values: np.ndarray) -> bytes:
    """[S, S] float map -> the stored bytes (row-major little-endian float32)."""
    return np.ascontiguousarray(values, dtype="<f4").tobytes()


def decode_map(data: bytes) -> np.ndarray:
    """The stored bytes -> [S, S] float32 (S from the length)."""
    values = np.frombuffer(data, dtype="<f4")
    side = int(round(np.sqrt(values.size)))
    if side * side != values.size:
        raise ValueError(f"a stored flow map holds {values.size} values, not a square")
    return values.reshape(side, side)
