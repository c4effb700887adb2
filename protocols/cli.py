"""``mer-tfx cv``: its flags and its handler (the protocols themselves: cross_validation.py)."""
from __future__ import annotations

import json


def add_cv_parser(subparsers):
    from mer_tfx.cli import BEAM_HELP, add_pipeline_arguments

    parser = subparsers.add_parser(
        "cv", help="the field's protocols (LOSO, K subject groups, leave one dataset out), "
                   "metrics pooled over folds",
        description="One local pipeline run per fold, all sharing OUTPUT/pipeline_root, so "
                    "the frames are converted once; pooled figures from the summed TFMA "
                    "confusion matrices (overall and per dataset) in "
                    "OUTPUT/cross_validation.json and OUTPUT/cv_report.html. Folds share "
                    "OUTPUT/metadata.db, or with --parallel-folds N > 1 each has its own "
                    "(OUTPUT/fold-KK/metadata.db, with its log OUTPUT/fold-KK/fold.log). "
                    "Re-running resumes from the folds done. " + BEAM_HELP)
    add_pipeline_arguments(parser)
    parser.add_argument("--protocol", choices=("loso", "kfold", "lodo"), default="loso",
                        help="loso: leave one subject out (default); kfold: --folds K subject "
                             "groups; lodo: leave one dataset out (several --source)")
    parser.add_argument("--folds", type=int, default=0, help="K for --protocol kfold")
    parser.add_argument("--parallel-folds", type=int, default=1, metavar="N",
                        help="run N folds at once, each in a process of its own (default 1: "
                             "one after another); the figures equal the sequential run's")
    parser.set_defaults(handler=_cv)


def _cv(args, beam_args):
    from mer_tfx.cli import settings_from_args
    from mer_tfx.protocols.cross_validation import SUMMARY_JSON, run_cross_validation

    settings = settings_from_args(args, beam_args, needs_data=True)
    if args.print_settings:
        print(json.dumps(settings.to_dict(), indent=2))
        return 0
    protocol = "kfold" if args.folds and args.protocol == "loso" else args.protocol
    summary = run_cross_validation(settings, protocol, args.folds, args.parallel_folds)
    print(json.dumps({"protocol": summary["protocol"], "overall": summary["overall"],
                      "per_dataset": summary["per_dataset"],
                      "subjects_without_clips": summary.get("subjects_without_clips", {}),
                      "summary": f"{settings.output}/{SUMMARY_JSON}"}, indent=2))
    return 0
