"""``mer-tfx spot``: its flags and its handler (the job itself is spotting/job.py)."""
from __future__ import annotations

import json

from mer_tfx.datasets import LONG_VIDEO_NAMES


def add_spot_parser(subparsers):
    from mer_tfx.cli import BEAM_HELP, add_beam_arg
    from mer_tfx.spotting.detect import Thresholds

    defaults = Thresholds()
    parser = subparsers.add_parser(
        "spot", help="Beam job: spot micro- and macro-expressions in long videos (MEGC "
                     "intervals.csv; evaluation when the truth is known)",
        description="Writes OUT/intervals.csv (vid,onset,offset,type me/mae,apex,score"
                    "[,emotion,probability]), OUT/signals/, OUT/summary.json, "
                    "OUT/rejects.jsonl and, with --annotations, OUT/spotting.json and "
                    "OUT/spotting_report.html. " + BEAM_HELP)
    parser.add_argument("--dataset", required=True, choices=LONG_VIDEO_NAMES)
    parser.add_argument("--root", required=True, help="dataset folder (or its frames folder)")
    parser.add_argument("--annotations", help="the dataset's ground-truth sheet (optional)")
    parser.add_argument("--emotions", help="samm_lv: SAMM_Micro_FACS_Codes_v2.xlsx or a CSV "
                                           "Filename,emotion (its sheet has no emotions)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--model", help="a trained model (SavedModel or serving folder): "
                                        "recognise each spotted interval (STR)")
    parser.add_argument("--fit", action="store_true",
                        help="choose p-micro/p-macro per subject by leave-one-subject-out on "
                             "the other subjects' annotated videos")
    parser.add_argument("--p-micro", type=float, default=defaults.p_micro,
                        help="threshold T = mean + p (max - mean) of the micro signal")
    parser.add_argument("--p-macro", type=float, default=defaults.p_macro,
                        help="the same for the macro signal")
    parser.add_argument("--noise-z", type=float, default=defaults.noise_z,
                        help="T is at least the median plus this many robust deviations")
    parser.add_argument("--regions", choices=("landmarks", "box"), default="landmarks",
                        help="landmarks: named regions from the first frame's five "
                             "landmarks (fixed fractions of the face box where none are "
                             "found); box: always the face box's fractions")
    parser.add_argument("--baseline", action="store_true",
                        help="the naive baseline: whole-face frame difference, no "
                             "registration, no regions (same threshold rule)")
    add_beam_arg(parser)
    parser.set_defaults(handler=_spot)


def _spot(args, beam_args):
    from mer_tfx.pipeline.beam_args import default_beam_args
    from mer_tfx.spotting.job import run_spot

    summary = run_spot(args.dataset, args.root, args.out, annotations=args.annotations,
                       emotions=args.emotions, model=args.model, fit=args.fit,
                       thresholds={"p_micro": args.p_micro, "p_macro": args.p_macro,
                                   "noise_z": args.noise_z},
                       beam_args=default_beam_args(beam_args), naive=args.baseline,
                       region_mode=args.regions)
    summary.pop("rejects")
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
