"""Spotting on synthetic long videos: our spotter vs the naive baseline, its speed, STRS.

For each long-video layout (CAS(ME)^2 30 fps, SAMM-LV 200 fps, CAS(ME)^3 30 fps) it
writes synthetic recordings (micro-expressions of 1-2 px at 640-px scale, macro ones,
blinks, head moves, idle stretches), runs ``mer-tfx spot``'s job with the default
thresholds, with ``--fit`` (leave one subject out) and as the naive baseline
(whole-face frame difference, no registration, no regions, the same threshold
rule), and prints MEGC's micro / macro / overall F1 of each. Speed: frames per second
of the spot job against ingestion's frame conversion (registration and apex on, flow
off) of clips at the same frame size, both in one in-process worker. With a model
(``--model``, e.g. make demo's ``demo_out/serving_model/mer_model``), the STR figures
(UF1, UAR, STRS) of the default run.

    python bench/spotting.py [--frame-size 640] [--subjects 3] [--videos 2] \
        [--seconds 20] [--samm-seconds 8] [--seed 0] [--model DIR] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

import mer_tfx  # noqa: F401
from mer_tfx.datasets import Source
from mer_tfx.ingestion.beam_job import run_ingest
from mer_tfx.spotting.job import run_spot
from mer_tfx.synthetic import generate
from mer_tfx.synthetic.long_layouts import LONG_LAYOUTS, generate_long

IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def _f(value) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def spot(layout: str, data: dict, out: str, **kwargs) -> tuple[dict, float]:
    started = time.time()
    summary = run_spot(layout, data["root"], out, annotations=data["annotations"],
                       emotions=data["emotions"], beam_args=IN_PROCESS, **kwargs)
    return summary, time.time() - started


def ingestion_rate(base: str, frame_size: int) -> float:
    """Frames/s of ingestion's conversion (flow off) on CASME II-layout clips."""
    data = generate("casme2", os.path.join(base, "clips"), subjects=4, clips_per_class=2,
                    seed=0, frame_size=frame_size, progress=False)
    started = time.time()
    summary = run_ingest(Source("casme2", data.root, data.annotations),
                         os.path.join(base, "ingest"), beam_args=IN_PROCESS,
                         convert_options={"flow": False})
    return summary["frames"] / (time.time() - started)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame-size", type=int, default=640)
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument("--videos", type=int, default=2, help="videos per subject")
    parser.add_argument("--seconds", type=float, default=20.0, help="30-fps layouts")
    parser.add_argument("--samm-seconds", type=float, default=8.0, help="SAMM-LV, 200 fps")
    parser.add_argument("--layouts", default=",".join(sorted(LONG_LAYOUTS)))
    parser.add_argument("--seed", type=int, default=0, help="of the synthetic recordings")
    parser.add_argument("--model", help="a trained model for the STR figures")
    parser.add_argument("--out", help="keep the outputs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    base = args.out or tempfile.mkdtemp(prefix="bench_spotting_")
    print(f"synthetic long videos: {args.subjects} subjects x {args.videos} videos per layout, "
          f"{args.frame_size}-px frames, {args.seconds:g} s at 30 fps / {args.samm_seconds:g} s "
          f"at 200 fps; micro-expressions 1-2 px at 640-px scale; 1 in-process worker")
    import numpy as np

    from mer_tfx.ingestion.landmarks import find_landmarks

    find_landmarks(np.zeros((64, 64), np.uint8), (0, 0, 64, 64))  # load TF + MTCNN once
    results, frames, seconds = {}, 0, 0.0
    for layout in args.layouts.split(","):
        data = generate_long(layout, os.path.join(base, layout, "data"), subjects=args.subjects,
                             videos_per_subject=args.videos, frame_size=args.frame_size,
                             seconds=args.samm_seconds if layout == "samm_lv" else args.seconds,
                             seed=args.seed)
        truths = sum(len(v["truths"]) for v in data["videos"])
        ours, took = spot(layout, data, os.path.join(base, layout, "spot"))  # timed
        if args.model:  # the same intervals, each recognised
            ours, _ = spot(layout, data, os.path.join(base, layout, "str"), model=args.model)
        frames, seconds = frames + ours["frames"], seconds + took
        fitted, _ = spot(layout, data, os.path.join(base, layout, "fit"), fit=True)
        naive, _ = spot(layout, data, os.path.join(base, layout, "naive"), naive=True)
        results[layout] = {"videos": ours["videos"], "frames": ours["frames"],
                           "truths": truths, "ours": ours["evaluation"],
                           "fit": fitted["evaluation"], "naive": naive["evaluation"],
                           "seconds": round(took, 1)}
        print(f"\n{layout}: {ours['videos']} videos, {ours['frames']} frames, {truths} true "
              f"intervals, spot job {took:.1f} s")
        print(f"  {'':28}{'micro':>7}{'macro':>7}{'overall':>9}")
        for name, figures in (("ours, default thresholds", ours["evaluation"]),
                              ("ours, --fit (LOSO)", fitted["evaluation"]),
                              ("naive whole-face difference", naive["evaluation"])):
            print(f"  {name:28}{_f(figures['micro']):>7}{_f(figures['macro']):>7}"
                  f"{_f(figures['overall']):>9}")
        ratio = (ours["evaluation"]["overall"] / naive["evaluation"]["overall"]
                 if naive["evaluation"]["overall"] else float("inf"))
        print(f"  overall F1 vs the baseline: {ratio:.1f}x")
        if args.model:
            e = ours["evaluation"]
            print(f"  STR with {args.model}: UF1 {_f(e['uf1'])}, UAR {_f(e['uar'])}, "
                  f"STRS {_f(e['strs'])}")
    spot_rate = frames / seconds
    ingest_rate = ingestion_rate(os.path.join(base, "ingest"), args.frame_size)
    print(f"\nspeed: spot job {spot_rate:.0f} frames/s (signal, thresholds, outputs, report; "
          f"start-up included), ingestion's conversion {ingest_rate:.0f} frames/s "
          f"(registration and apex on, flow off): {spot_rate / ingest_rate:.2f}x")
    overall = [r["ours"]["overall"] for r in results.values()]
    print(f"goals: overall F1 >= 0.35 per layout: "
          f"{'met' if min(overall) >= 0.35 else 'NOT met'} ({', '.join(_f(v) for v in overall)});"
          f" >= 2x the baseline: "
          f"{'met' if all(r['ours']['overall'] >= 2 * (r['naive']['overall'] or 0) for r in results.values()) else 'NOT met'};"
          f" speed >= 0.5x ingestion: {'met' if spot_rate >= 0.5 * ingest_rate else 'NOT met'}")
    with open(os.path.join(base, "bench_spotting.json"), "w") as handle:
        json.dump({"args": vars(args), "layouts": results, "spot_frames_per_second": spot_rate,
                   "ingest_frames_per_second": ingest_rate}, handle, indent=2)
    if not args.out:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
