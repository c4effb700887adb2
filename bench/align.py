"""Eyes alignment vs the Haar box crop on photo faces with known roll, size and place.

Clips: ``mer-tfx synth --face photo --roll R --scale-jitter S`` (CASME II layout,
200-px frames, 128-px crops), whose manifest holds each clip's true eye centres on the
onset frame (the photo's hand-annotated irises carried through the generator's pose,
reshaping and head jitter: no detector grades itself). Per clip, the true eyes are
carried into the crop by the clip's own transform (``--align eyes``: the similarity;
``box``: the crop-and-resize), and measured there:

- residual roll: the angle of the eye line in the crop, degrees;
- eye-position error: distance of each true eye from the documented template position
  (ingestion/align.py), as % of the crop side; for the box, also from the mean position
  over the clips (the best any fixed template could do for box crops);
- detection: clips with a Haar box, clips with landmarks;
- cost: ``convert_clip`` without flow, box vs eyes, seconds per clip (both store the
  landmarks); and the landmark search + warp alone next to the box conversion.

    python bench/align.py [--subjects 8] [--roll 10] [--scale-jitter 0.2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import mer_tfx  # noqa: F401
import numpy as np

from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.align import box_matrix, plan_crop, template_eyes
from mer_tfx.ingestion.clips import ClipSpec
from mer_tfx.ingestion.convert import convert_clip
from mer_tfx.ingestion.frames import crop_resize, decode_gray, face_box
from mer_tfx.ingestion.landmarks import eye_roll_degrees, transformed
from mer_tfx.ingestion.readers import read_annotations
from mer_tfx.synthetic import generate

CROP = 128


def clips(work: str, subjects: int, roll: float, scale_jitter: float, seed: int):
    data = generate("casme2", work, subjects=subjects, clips_per_class=1, seed=seed,
                    face="photo", roll=roll, scale_jitter=scale_jitter, progress=False)
    truth = {(c["subject"], c["clip"]): np.array(c["true_eyes"]) for c in data.clips}
    specs = [r for r in read_annotations("casme2", data.root, data.annotations)
             if isinstance(r, ClipSpec)]
    return specs, truth


def frames_of(spec):
    files = fileio.frame_files(spec.clip_dir)
    return [decode_gray(fileio.read_bytes(files[n]), files[n])
            for n in range(spec.onset, spec.offset + 1)]


def geometry(specs, truth) -> dict:
    """Per mode: true eyes in the crop, per clip; detection counts."""
    out = {"eyes": [], "box": [], "box_found": 0, "landmarks_found": 0, "input_roll": []}
    for spec in specs:
        onset = frames_of(spec)[0]
        true = truth[(spec.subject, spec.clip)]
        out["input_roll"].append(eye_roll_degrees(true))
        eyes = plan_crop(onset, CROP, align="eyes")
        box = plan_crop(onset, CROP, align="box")
        out["box_found"] += box.box is not None
        out["landmarks_found"] += eyes.alignment == "eyes"
        out["eyes"].append(transformed(true, eyes.matrix) if eyes.matrix is not None
                           else transformed(true, box_matrix(box.box, onset.shape, CROP)))
        out["box"].append(transformed(true, box_matrix(box.box, onset.shape, CROP)))
    return out


def summary(points: list) -> dict:
    points = np.array(points)  # [clips, 2, 2]
    rolls = np.abs([eye_roll_degrees(p) for p in points])
    template = template_eyes(CROP)
    to_template = np.linalg.norm(points - template, axis=2).max(axis=1) / CROP * 100
    to_mean = np.linalg.norm(points - points.mean(axis=0), axis=2).max(axis=1) / CROP * 100
    return {"roll_median": np.median(rolls), "roll_p90": np.percentile(rolls, 90),
            "template_median": np.median(to_template), "template_p90": np.percentile(to_template, 90),
            "mean_median": np.median(to_mean), "mean_p90": np.percentile(to_mean, 90)}


def cost(specs) -> dict:
    """Seconds per clip: conversion without flow (box, eyes), and the alignment alone."""
    timing = {}
    for align in ("box", "eyes", "box", "eyes"):  # twice: the second pass is warm
        started = time.perf_counter()
        for spec in specs:
            convert_clip(spec, size=CROP, flow=False, align=align)
        timing[align] = (time.perf_counter() - started) / len(specs)
    search = crop = 0.0
    for spec in specs:
        frames = frames_of(spec)
        started = time.perf_counter()
        box = face_box(frames[0])
        crops = [crop_resize(f, box, CROP) for f in frames]
        crop += time.perf_counter() - started
        started = time.perf_counter()
        plan = plan_crop(frames[0], CROP, align="eyes")
        crops = [plan.apply(f) for f in frames]
        search += time.perf_counter() - started
    del crops
    timing["box_crop"], timing["eyes_crop"] = crop / len(specs), search / len(specs)
    return timing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--roll", type=float, default=10.0)
    parser.add_argument("--scale-jitter", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        specs, truth = clips(work, args.subjects, args.roll, args.scale_jitter, args.seed)
        found = geometry(specs, truth)
        timing = cost(specs)
    n = len(specs)
    rolls = np.abs(found["input_roll"])
    print(f"{n} photo-face clips ({args.subjects} subjects x 5 classes, 200-px frames, "
          f"{CROP}-px crops), roll per clip up to +-{args.roll} deg on the subject's own "
          f"+-6, scale jitter {args.scale_jitter}; 2 shared cores")
    print(f"input eye-line roll |deg|: median {np.median(rolls):.2f}, max {rolls.max():.2f}")
    print(f"detected: Haar box {found['box_found']}/{n}, landmarks {found['landmarks_found']}/{n}")
    print("| crop | residual roll, median / p90 (deg) | eye error vs template, median / p90 "
          "(% side) | eye spread vs mean position, median / p90 (% side) |")
    print("|---|---|---|---|")
    for mode in ("box", "eyes"):
        s = summary(found[mode])
        print(f"| `--align {mode}` | {s['roll_median']:.2f} / {s['roll_p90']:.2f} | "
              f"{s['template_median']:.2f} / {s['template_p90']:.2f} | "
              f"{s['mean_median']:.2f} / {s['mean_p90']:.2f} |")
    print(f"cost per clip without flow: conversion with the box {timing['box'] * 1000:.1f} ms, "
          f"with eyes alignment {timing['eyes'] * 1000:.1f} ms "
          f"(+{(timing['eyes'] / timing['box'] - 1) * 100:.0f}%); the crop step alone: "
          f"Haar box + crop {timing['box_crop'] * 1000:.1f} ms, Haar box + landmarks + "
          f"warp {timing['eyes_crop'] * 1000:.1f} ms; landmarks + warp = "
          f"{(timing['eyes_crop'] - timing['box_crop']) / timing['box'] * 100:.0f}% of the "
          f"box conversion")
    return 0


if __name__ == "__main__":
    sys.exit(main())
