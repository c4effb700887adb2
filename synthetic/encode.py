"""Image bytes in the formats the datasets use, plus the broken files faults need.

All encoders are deterministic (same array -> same bytes).  BMP is written by
hand: SMIC frames are BMPs, and an 8-bit palette with the subject's tint keeps
them colour while a third the size of 24-bit ones; the oversized fault frame is
an RLE8 BMP so a 5000x5000 image costs ~200 kB on disk.
"""
from __future__ import annotations

import struct

import cv2
import numpy as np

JPEG_QUALITY = 92
OVERSIZED_SIDE = 5000


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return data.tobytes()


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    assert ok
    return data.tobytes()


def _bmp(width: int, height: int, palette: bytes, pixels: bytes, compression: int) -> bytes:
    offset = 14 + 40 + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, compression, len(pixels),
                       2835, 2835, 256, 0)
    return header + info + palette + pixels


def tinted_palette(tint) -> bytes:
    """256 BGRA entries: gray level i times the BGR tint."""
    levels = np.arange(256, dtype=np.float32)[:, None] * np.asarray(tint, dtype=np.float32)
    bgr = np.clip(np.rint(levels), 0, 255).astype(np.uint8)
    return np.concatenate([bgr, np.zeros((256, 1), np.uint8)], axis=1).tobytes()


def bmp_palette(gray: np.ndarray, tint) -> bytes:
    """8-bit palettised BMP: decodes to a tinted BGR image (cv2.imread default)."""
    height, width = gray.shape
    stride = (width + 3) // 4 * 4
    rows = np.zeros((height, stride), np.uint8)
    rows[:, :width] = gray
    return _bmp(width, height, tinted_palette(tint), rows[::-1].tobytes(), 0)


def flat_oversized(ext: str, side: int = OVERSIZED_SIDE) -> bytes:
    """A uniform gray side x side image, as small as the format allows."""
    if ext == ".bmp":
        row = bytearray()
        left = side
        while left > 0:
            run = min(255, left)
            row += bytes([run, 128])
            left -= run
        row += b"\x00\x00"  # end of line
        pixels = bytes(row) * side + b"\x00\x01"  # end of bitmap
        gray = bytes(b for i in range(256) for b in (i, i, i, 0))
        return _bmp(side, side, gray, pixels, 1)  # BI_RLE8
    flat = np.full((side, side), 128, np.uint8)
    return jpeg(flat) if ext == ".jpg" else png(flat)


def garbage(rng, size: int = 4096) -> bytes:
    """Bytes no image decoder accepts (no known magic number at the start)."""
    return b"NOT AN IMAGE: synthetic unreadable frame\n" + rng.bytes(size)
