"""The faster frame path: faces searched on a downscaled onset frame."""
import os

import cv2
import numpy as np
import pytest

from mer_tfx.ingestion.frames import face_box
from mer_tfx.synthetic import generate


@pytest.mark.parametrize("face", ["drawn", "photo"])
def test_the_downscaled_search_finds_the_full_resolution_box(tmp_path, face):
    """Documented tolerance: every box edge within 8% of the box side of the box found
    on the full-resolution frame (640x534 frames here): the cascade searches sizes in
    steps of 10%, so two resolutions settle on neighbouring sizes."""
    data = generate("casme2", str(tmp_path), subjects=4, clips_per_class=1, seed=5,
                    frame_size=534, face=face, progress=False)
    offsets = []
    for clip in data.clips:
        folder = os.path.join(data.root, clip["subject"], clip["clip"])
        gray = cv2.imread(os.path.join(folder, f"img{clip['onset']}.jpg"), cv2.IMREAD_GRAYSCALE)
        full, fast = face_box(gray, detect_side=None), face_box(gray)
        assert (full is None) == (fast is None)
        if full is not None:
            offsets.append(np.abs(np.subtract(fast, full)).max() / full[2])
    print(f"{face}: box edge offset, median {np.median(offsets):.1%}, largest "
          f"{max(offsets):.1%} of the side over {len(offsets)} clips")
    assert len(offsets) >= len(data.clips) - 1 and max(offsets) <= 0.08
