"""Optical flow and apex spotting: cost per clip next to the frame conversion, accuracy of
TV-L1 / DIS / Farneback against a known motion, spotting error against the midpoint.

- Cost: ``convert_clip`` on synthetic real-texture clips (``--face photo``, CASME II
  layout, 200-px frames, 128-px crops) without flow, and the flow step alone per
  algorithm (registration + flow + strain + resize to the stored 64 x 64).
- Accuracy: face crops of the portrait photo warped by a known smooth local motion
  (Gaussian bumps of 0.5-2 px, like a micro-expression) plus a global head shift of up
  to 1.5 px and sensor noise; endpoint error of the stored flow (head shift removed)
  against the true local motion, on the inner face, in crop pixels.
- Spotting: mean absolute apex error in frames on jittered clips (drawn and photo
  faces), spotted vs midpoint.

    python bench/flow.py [--clips 40] [--pairs 30]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import mer_tfx  # noqa: F401
import cv2
import numpy as np

from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.apex import registered, spot_apex
from mer_tfx.ingestion.clips import ClipSpec
from mer_tfx.ingestion.convert import convert_clip
from mer_tfx.ingestion.flow import FLOW_ALGORITHMS, FLOW_SIZE, flow_features
from mer_tfx.ingestion.frames import crop_resize, decode_gray, face_box
from mer_tfx.ingestion.readers import read_annotations
from mer_tfx.synthetic import generate
from mer_tfx.synthetic.photo_faces import portrait

CROP = 128


def clips(face: str, work: str, subjects: int):
    data = generate("casme2", os.path.join(work, face), subjects=subjects, clips_per_class=1,
                    seed=7, face=face, progress=False)
    truth = {(c["subject"], c["clip"]): c["true_apex"] for c in data.clips}
    specs = [r for r in read_annotations("casme2", data.root, data.annotations)
             if isinstance(r, ClipSpec)]
    return specs, truth


def crops_of(spec):
    files = fileio.frame_files(spec.clip_dir)
    grays = [decode_gray(fileio.read_bytes(files[n]), files[n])
             for n in range(spec.onset, spec.offset + 1)]
    box = face_box(grays[0])
    return [crop_resize(g, box, CROP) for g in grays]


def cost(specs) -> dict:
    """Seconds per clip: conversion without flow, and each algorithm's flow step."""
    timing = {}
    started = time.perf_counter()
    for spec in specs:
        convert_clip(spec, size=CROP, flow=False)
    timing["frame conversion (no flow)"] = (time.perf_counter() - started) / len(specs)
    pairs = []
    for spec in specs:
        crops = crops_of(spec)
        pairs.append((crops[0], crops[spec.apex - spec.onset]))
    for algorithm in FLOW_ALGORITHMS:
        started = time.perf_counter()
        for onset, apex in pairs:
            flow_features(onset, registered(onset, apex), FLOW_SIZE, algorithm)
        timing[f"flow step, {algorithm}"] = (time.perf_counter() - started) / len(pairs)
    return timing


def warped_pairs(count: int, seed: int = 0):
    """(onset crop, apex crop, true local flow [H, W, 2]) with a head shift and noise."""
    photo, (x, y, w, h) = portrait()
    face = cv2.resize(photo[y:y + h, x:x + w], (CROP, CROP), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    grid_y, grid_x = np.mgrid[0:CROP, 0:CROP].astype(np.float32)
    for _ in range(count):
        field = np.zeros((CROP, CROP, 2), np.float32)
        for _ in range(rng.integers(1, 4)):
            cx, cy = rng.uniform(0.25, 0.75, 2) * CROP
            sigma = rng.uniform(0.06, 0.12) * CROP
            amplitude = rng.uniform(0.5, 2.0)
            angle = rng.uniform(0, 2 * np.pi)
            bump = np.exp(-((grid_x - cx) ** 2 + (grid_y - cy) ** 2) / (2 * sigma ** 2))
            field[..., 0] += amplitude * np.cos(angle) * bump
            field[..., 1] += amplitude * np.sin(angle) * bump
        head = rng.uniform(-1.5, 1.5, 2)
        apex = cv2.remap(face, grid_x - field[..., 0] - head[0], grid_y - field[..., 1] - head[1],
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

        def noisy(image):
            noise = rng.normal(0, 2.5, image.shape)
            return np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)

        yield noisy(face), noisy(apex), field


def accuracy(count: int) -> dict:
    """Per algorithm (and for an all-zero flow): mean endpoint error (crop px) on the
    inner face, the same where the face moves (> 0.25 px), and the correlation of the
    estimated with the true flow at the stored 64 x 64."""
    names = FLOW_ALGORITHMS + ("zero flow",)
    errors = {a: {"all": [], "moving": [], "corr": []} for a in names}
    inner = slice(CROP // 8, CROP - CROP // 8)
    for onset, apex, truth in warped_pairs(count):
        aligned = registered(onset, apex)
        moving = np.linalg.norm(truth, axis=-1)[inner, inner] > 0.25
        small = cv2.resize(truth, (FLOW_SIZE, FLOW_SIZE), interpolation=cv2.INTER_AREA)
        for algorithm in names:
            if algorithm == "zero flow":
                estimate = np.zeros_like(truth)
            else:
                maps = flow_features(onset, aligned, CROP, algorithm)
                estimate = np.stack([maps["flow_u"], maps["flow_v"]], axis=-1)
            error = np.linalg.norm(estimate - truth, axis=-1)[inner, inner]
            errors[algorithm]["all"].append(error.mean())
            errors[algorithm]["moving"].append(error[moving].mean())
            stored = cv2.resize(estimate, (FLOW_SIZE, FLOW_SIZE), interpolation=cv2.INTER_AREA)
            spread = stored.std()
            errors[algorithm]["corr"].append(
                float(np.corrcoef(stored.ravel(), small.ravel())[0, 1]) if spread > 0 else 0.0)
    return {k: {m: float(np.mean(v)) for m, v in by.items()} for k, by in errors.items()}


def spotting(specs, truth) -> tuple:
    spotted, midpoint = [], []
    for spec in specs:
        crops = crops_of(spec)
        true_apex = truth[(spec.subject, spec.clip)]
        spotted.append(abs(spec.onset + spot_apex(crops) - true_apex))
        midpoint.append(abs((spec.onset + spec.offset) // 2 - true_apex))
    return float(np.mean(spotted)), float(np.mean(midpoint))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=8, help="x 5 clips, per face kind")
    parser.add_argument("--pairs", type=int, default=30)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="mer_bench_flow_")
    photo_specs, photo_truth = clips("photo", work, args.subjects)
    drawn_specs, drawn_truth = clips("drawn", work, args.subjects)

    timing = cost(photo_specs)
    base = timing["frame conversion (no flow)"]
    frames = np.mean([s.offset - s.onset + 1 for s in photo_specs])
    print(f"\ncost per clip ({len(photo_specs)} photo clips, {frames:.0f} frames of 240x200 "
          f"JPEG on average, {CROP}-px crops, flow stored at {FLOW_SIZE}x{FLOW_SIZE}; "
          f"{os.cpu_count()} cores, one process)")
    for name, seconds in timing.items():
        extra = "" if name == "frame conversion (no flow)" else f"  (+{seconds / base:.0%})"
        print(f"  {name:<30s} {seconds * 1000:7.1f} ms{extra}")

    errors = accuracy(args.pairs)
    print(f"\nflow endpoint error against a known local motion ({args.pairs} warped face "
          f"crops, 0.5-2 px bumps, head shift up to 1.5 px removed by registration, noise "
          f"sd 2.5), inner face, crop px:")
    print(f"  {'':<12s} {'EPE inner face':>15s} {'EPE moving':>11s} {'corr. with truth':>17s}")
    for name, error in errors.items():
        print(f"  {name:<12s} {error['all']:>15.3f} {error['moving']:>11.3f} "
              f"{error['corr']:>17.3f}")

    print("\napex spotting, mean absolute error in frames (true apex from the generator):")
    for name, specs, truth in (("drawn faces", drawn_specs, drawn_truth),
                               ("photo faces", photo_specs, photo_truth)):
        spotted, midpoint = spotting(specs, truth)
        print(f"  {name}, {len(specs)} jittered clips: spotted {spotted:.2f}, midpoint "
              f"{midpoint:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
