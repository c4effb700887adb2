"""The apex inside a clip, spotted where the annotation has none: mean absolute error in
frames of the midpoint, the previous spotter and ingestion's spotter, in one run.

Clips: synthetic CASME II (200 fps) with photo faces (``--face photo``: a real
portrait's texture, micro-expressions moving about as far as the head jitters, i.e.
~1 px at 200-px frames), apexes anywhere from 15% to 85% of the clip as in the real
sheets (synthetic/motion.py APEX_FRACTION). Each clip's apex column is blanked (the
reader's midpoint repair) and the clip goes through ``convert_clip`` as ingestion
runs it (eyes-aligned 128-px crops, registered); the record's apex is the new
spotter's. The previous spotter (ingestion/apex.py before issue 22: the whole inner
face against the onset, the change-weighted centre of the frames above 60% of its
range) runs on the same registered crops. Truth: the generator's ``true_apex``.

    python bench/clip_apex.py [--subjects 6] [--seeds 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

import mer_tfx  # noqa: F401
import cv2
import numpy as np

from mer_tfx.ingestion.align import plan_crop
from mer_tfx.ingestion.apex import registered_clip
from mer_tfx.ingestion.clips import ClipSpec
from mer_tfx.ingestion.convert import clip_frames, convert_clip
from mer_tfx.ingestion.readers import read_annotations
from mer_tfx.synthetic import generate

CROP = 128  # ingestion's default crop side


def previous_spotter(crops: list) -> int:
    """ingestion/apex.py's spotter before issue 22, on crops registered already."""
    blurred = [cv2.GaussianBlur(c.astype(np.float32), (0, 0), 1.0) for c in crops]
    height, width = blurred[0].shape
    top, left = int(height * 0.1), int(width * 0.1)
    inner = (slice(top, height - top), slice(left, width - left))
    change = np.array([np.abs(b[inner] - blurred[0][inner]).mean() for b in blurred])
    later = np.convolve(change, np.ones(3) / 3, mode="same")[1:]
    low, high = later.min(), later.max()
    weight = np.clip(later - (low + 0.6 * (high - low)), 0.0, None)
    if weight.sum() <= 0:
        return 1 + int(np.argmax(later))
    return 1 + int(round(float((np.arange(len(later)) * weight).sum() / weight.sum())))


def registered_crops(spec: ClipSpec) -> list:
    """The crops convert_clip stores for ``spec`` (same crop, registration, landmarks)."""
    grays = [gray for _, gray in clip_frames(spec)]
    plan = plan_crop(grays[0], CROP, True, "eyes")
    raw = [plan.apply(gray) for gray in grays]
    return registered_clip(raw)


def errors(seed: int, subjects: int, work: str) -> dict:
    """method -> absolute errors (frames) over one seed's clips, and the clip count."""
    data = generate("casme2", os.path.join(work, str(seed)), subjects=subjects,
                    clips_per_class=2, seed=seed, face="photo", progress=False)
    truth = {(c["subject"], c["clip"]): c["true_apex"] for c in data.clips}
    out = {"midpoint": [], "previous spotter": [], "spotter": [], "relative": [],
           "seconds": 0.0}
    for spec in read_annotations("casme2", data.root, data.annotations):
        if not isinstance(spec, ClipSpec):
            continue
        true_apex = truth[(spec.subject, spec.clip)]
        midpoint = (spec.onset + spec.offset) // 2
        blank = dataclasses.replace(spec, apex=midpoint, repairs=("apex_missing_midpoint",))
        started = time.perf_counter()
        converted = convert_clip(blank, size=CROP, flow=False)
        out["seconds"] += time.perf_counter() - started
        assert converted.apex_source == "spotted", converted
        crops = registered_crops(spec)
        out["midpoint"].append(abs(midpoint - true_apex))
        out["previous spotter"].append(abs(spec.onset + previous_spotter(crops) - true_apex))
        out["spotter"].append(abs(converted.spec.apex - true_apex))
        out["relative"].append((true_apex - spec.onset) / (spec.offset - spec.onset))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=6, help="x 10 clips per seed")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="mer_bench_clip_apex_")
    runs = [errors(seed, args.subjects, work) for seed in range(args.seeds)]
    clips = sum(len(r["midpoint"]) for r in runs)
    relative = np.concatenate([r["relative"] for r in runs])
    frames = np.mean([r["seconds"] for r in runs]) / (clips / len(runs))
    print(f"\n{clips} synthetic CASME II clips (200 fps, photo faces, apex blanked), "
          f"{args.seeds} seeds x {args.subjects} subjects; true apex at "
          f"{relative.min():.0%}-{relative.max():.0%} of the clip (mean {relative.mean():.0%}); "
          f"convert_clip without flow {frames * 1000:.0f} ms per clip (2 cores shared)")
    print("mean absolute apex error, frames (mean ± sd over seeds), and its ratio to the "
          "midpoint's:")
    midpoint = np.array([np.mean(r["midpoint"]) for r in runs])
    for method in ("midpoint", "previous spotter", "spotter"):
        means = np.array([np.mean(r[method]) for r in runs])
        ratios = means / midpoint
        print(f"  {method:<17s} {means.mean():5.2f} ± {means.std():.2f}   "
              f"{ratios.mean():.2f}x ± {ratios.std():.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
