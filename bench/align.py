"""Eyes alignment vs the Haar box crop on faces with known roll, size and place.

Clips: ``mer-tfx synth --face photo --roll R --scale-jitter S`` (CASME II layout,
200-px frames, 128-px crops), whose manifest holds each clip's true eye centres on the
onset frame (the photo's hand-annotated irises carried through the generator's pose,
reshaping and head jitter: no detector grades itself); ``--face drawn`` uses the drawn
faces instead (a second kind of face, with their drawn iris centres as the truth). Per
clip, the true eyes are carried into the crop by the clip's own transform (``--align
eyes``: the similarity; ``box``: the crop-and-resize), and measured there:

- residual roll: the angle of the eye line in the crop, degrees;
- eye-position error: distance of each true eye from the documented template position
  (ingestion/align.py), as % of the crop side; for the box, also from the mean position
  over the clips (the best any fixed template could do for box crops);
- detection: clips with a Haar box, clips with landmarks, clips whose eyes were
  refined to the irises (ingestion/irises.py; the others keep MTCNN's points);
- cost: ``convert_clip`` without flow, box vs eyes, seconds per clip (both store the
  landmarks); and the landmark search + warp alone next to the box conversion, the
  alignment's cost, printed against the goal of <= 25% of the conversion. Timings are
  the best of ``--rounds`` passes.

The last line prints the issue's three goals, met or not.

    python bench/align.py [--subjects 8] [--roll 10] [--scale-jitter 0.2] [--seed 11]
                          [--face photo|drawn] [--rounds 3]
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
from mer_tfx.ingestion.irises import iris_centres
from mer_tfx.ingestion.landmarks import eye_roll_degrees, refine_on_box, transformed
from mer_tfx.ingestion.readers import read_annotations
from mer_tfx.synthetic import generate

CROP = 128


def clips(work: str, subjects: int, roll: float, scale_jitter: float, seed: int,
          face: str = "photo"):
    data = generate("casme2", work, subjects=subjects, clips_per_class=1, seed=seed,
                    face=face, roll=roll, scale_jitter=scale_jitter, progress=False)
    truth = {(c["subject"], c["clip"]): np.array(c["true_eyes"]) for c in data.clips}
    specs = [r for r in read_annotations("casme2", data.root, data.annotations)
             if isinstance(r, ClipSpec)]
    return specs, truth


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def frames_of(spec):
    files = fileio.frame_files(spec.clip_dir)
    return [decode_gray(fileio.read_bytes(files[n]), files[n])
            for n in range(spec.onset, spec.offset + 1)]


def geometry(specs, truth) -> dict:
    """Per mode: true eyes in the crop, per clip; detection counts."""
    out = {"eyes": [], "box": [], "box_found": 0, "landmarks_found": 0, "irises_found": 0,
           "input_roll": []}
    for spec in specs:
        onset = frames_of(spec)[0]
        true = truth[(spec.subject, spec.clip)]
        out["input_roll"].append(eye_roll_degrees(true))
        eyes = plan_crop(onset, CROP, align="eyes")
        box = plan_crop(onset, CROP, align="box")
        out["box_found"] += box.box is not None
        out["landmarks_found"] += eyes.alignment == "eyes"
        if eyes.alignment == "eyes" and eyes.box is not None:
            mtcnn, _ = refine_on_box(onset, eyes.box)
            out["irises_found"] += iris_centres(onset, mtcnn[:2]) is not None
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


def cost(specs, rounds: int) -> dict:
    """Seconds per clip, each the best of ``rounds`` passes over the clips (the machine
    is shared: the best pass is the one least slowed by others): conversion without
    flow (box, eyes), and the crop step alone (Haar box + crop; Haar box + landmarks +
    warp)."""
    best = {}

    def timed(name, work):
        started = time.perf_counter()
        work()
        best[name] = min(best.get(name, np.inf), (time.perf_counter() - started) / len(specs))

    frames = [frames_of(spec) for spec in specs]
    for _ in range(rounds):
        for align in ("box", "eyes"):
            timed(align, lambda: [convert_clip(s, size=CROP, flow=False, align=align)
                                  for s in specs])
        timed("box_crop", lambda: [[crop_resize(f, box, CROP) for f in clip]
                                   for clip, box in ((c, face_box(c[0])) for c in frames)])
        timed("eyes_crop", lambda: [[plan.apply(f) for f in clip] for clip, plan in
                                    ((c, plan_crop(c[0], CROP, align="eyes")) for c in frames)])
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--roll", type=float, default=10.0)
    parser.add_argument("--scale-jitter", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--face", choices=("photo", "drawn"), default="photo",
                        help="drawn: the drawn faces (their own sizes; no --scale-jitter)")
    parser.add_argument("--rounds", type=int, default=3, help="timing passes (best kept)")
    args = parser.parse_args(argv)
    scale_jitter = args.scale_jitter if args.face == "photo" else 0.0
    with tempfile.TemporaryDirectory() as work:
        specs, truth = clips(work, args.subjects, args.roll, scale_jitter, args.seed,
                             args.face)
        found = geometry(specs, truth)
        timing = cost(specs, args.rounds)
    n = len(specs)
    rolls = np.abs(found["input_roll"])
    print(f"{n} {args.face}-face clips ({args.subjects} subjects x 5 classes, 200-px "
          f"frames, {CROP}-px crops), roll per clip up to +-{args.roll} deg on the "
          f"subject's own +-6, scale jitter {scale_jitter}, data seed {args.seed}; "
          f"2 shared cores")
    print(f"input eye-line roll |deg|: median {np.median(rolls):.2f}, max {rolls.max():.2f}")
    print(f"detected: Haar box {found['box_found']}/{n}, landmarks "
          f"{found['landmarks_found']}/{n}, eyes refined to the irises "
          f"{found['irises_found']}/{found['landmarks_found']}")
    print("| crop | residual roll, median / p90 (deg) | eye error vs template, median / p90 "
          "(% side) | eye spread vs mean position, median / p90 (% side) |")
    print("|---|---|---|---|")
    for mode in ("box", "eyes"):
        s = summary(found[mode])
        print(f"| `--align {mode}` | {s['roll_median']:.2f} / {s['roll_p90']:.2f} | "
              f"{s['template_median']:.2f} / {s['template_p90']:.2f} | "
              f"{s['mean_median']:.2f} / {s['mean_p90']:.2f} |")
    share = (timing["eyes_crop"] - timing["box_crop"]) / timing["box"]
    print(f"cost per clip without flow (best of {args.rounds}): conversion with the box "
          f"{timing['box'] * 1000:.1f} ms, with eyes alignment {timing['eyes'] * 1000:.1f} "
          f"ms; the crop step alone: Haar box + crop {timing['box_crop'] * 1000:.1f} ms, "
          f"Haar box + landmarks + warp {timing['eyes_crop'] * 1000:.1f} ms")
    eyes = summary(found["eyes"])
    print("against the goals: median residual roll "
          f"{eyes['roll_median']:.2f} deg (<= 1: {_met(eyes['roll_median'] <= 1)}); median eye "
          f"error {eyes['template_median']:.2f}% of the side (<= 2: "
          f"{_met(eyes['template_median'] <= 2)}); alignment (landmarks + warp over Haar box "
          f"+ crop) {share * 100:.0f}% of the box conversion (<= 25%: {_met(share <= 0.25)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
