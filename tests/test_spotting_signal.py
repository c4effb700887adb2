"""The per-frame signal shared by `mer-tfx spot` and the clip apex (spotting/signal.py)."""
import cv2
import numpy as np

from mer_tfx.ingestion.apex import spot_apex
from mer_tfx.spotting import signal


def test_a_region_moving_over_most_of_a_short_recording_keeps_its_height():
    """Two long macro-expressions can cover more than half of a short recording's frames
    at the macro scale: the rest level comes from the quiet frames, so the moving frames
    stand out as far as they would in a long quiet recording."""
    rng = np.random.default_rng(0)
    values = 1.0 + 0.05 * rng.standard_normal(1600)
    values[300:1250] += 1.0  # 59% of the frames move
    z = signal._robust_z(values)
    rest = np.concatenate([z[:300], z[1250:]])
    print(f"rest z median {np.median(rest):.2f}, moving z median {np.median(z[300:1250]):.1f}")
    assert abs(np.median(rest)) < 1.5
    # the median-MAD z puts the moving frames at ~0.3 (the rest at -6.5), where the
    # reference subtraction and the clipping at 0 erase them
    assert np.median(z[300:1250]) > 8


def _texture(size=128, seed=1):
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, size=(size // 4, size // 4)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC),
                            (0, 0), 1.5).astype(np.float32)


def _clip(apex: int, frames: int = 12, size: int = 128) -> list:
    """Face crops whose head drifts 0.3 px a frame to the right while a 1-px local
    motion in the mouth region peaks at ``apex`` (rising fast, fading slowly)."""
    face = _texture(size)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    bump = np.exp(-((x - 0.5 * size) ** 2 + (y - 0.68 * size) ** 2) / (2 * (0.08 * size) ** 2))
    out = []
    for i in range(frames):
        rise = i / apex if i <= apex else max(0.0, 1 - (i - apex) / (frames - 1 - apex))
        strength = np.sin(0.5 * np.pi * rise) ** 2
        dx = 0.3 * i
        moved = cv2.remap(face, x - dx, y - strength * bump, cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(np.rint(moved), 0, 255).astype(np.uint8))
    return out


def test_clip_apex_is_the_local_motion_not_the_head_drift():
    crops = _clip(apex=3)
    spotted = spot_apex(crops)
    unregistered = spot_apex(crops, register=False)
    print(f"true apex 3 of 12 frames: spotted {spotted}, without registration {unregistered}")
    assert abs(spotted - 3) <= 1
    assert unregistered >= 8  # the drift grows to the last frame and wins without registration
