"""The ``mer-tfx`` command line: one entry point, one subcommand per job.

Subcommands import their heavy dependencies lazily so that ``mer-tfx --help``
and argument errors answer in a fraction of a second.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from mer_tfx import VERBOSE_VARIABLE
from mer_tfx.logs import setup_logging

# Datasets the ingestion job reads; the synthetic generator writes the same layouts.
DATASETS = ("casme2", "samm", "smic", "casme3", "csv")


def _add_synth(subparsers):
    parser = subparsers.add_parser(
        "synth", help="write a deterministic synthetic dataset in a real on-disk layout")
    parser.add_argument("--layout", required=True, choices=DATASETS)
    parser.add_argument("--out", required=True, help="folder to write the dataset into")
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--clips-per-class", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frame-size", type=int, default=200)
    parser.add_argument("--inject-faults", action="store_true",
                        help="add one bad annotation row of every kind (for trying rejects)")
    parser.set_defaults(handler=_synth)


def _synth(args, _extra):
    from mer_tfx.synthetic import generate

    result = generate(args.layout, args.out, subjects=args.subjects,
                      clips_per_class=args.clips_per_class, seed=args.seed,
                      frame_size=args.frame_size, inject_faults=args.inject_faults)
    print(json.dumps({"layout": result.layout, "root": result.root,
                      "annotations": result.annotations, "clips": len(result.clips)}, indent=2))
    return 0


def _add_data_arguments(parser):
    """The raw dataset a job reads: shared by ingest and run."""
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", required=True, help="dataset root folder (frame folders)")
    parser.add_argument("--annotations", help="annotation .xlsx/.csv (optional for smic)")


def _add_ingest(subparsers):
    parser = subparsers.add_parser(
        "ingest", help="Beam job: raw frame folders + annotations -> SequenceExample TFRecords",
        description="Unknown options are passed to Apache Beam, e.g. --runner=DataflowRunner "
                    "--project=P --region=R --temp_location=gs://B/tmp, or "
                    "--direct_num_workers=4. Default: DirectRunner, multi-process, all cores.")
    _add_data_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder (records/, rejects.jsonl, "
                                                     "summary.json)")
    parser.add_argument("--size", type=int, default=128, help="output frame side in pixels")
    parser.add_argument("--no-face-crop", dest="face_crop", action="store_false",
                        help="keep the whole frame instead of the face box found on onset")
    parser.set_defaults(handler=_ingest, accepts_beam_args=True)


def _ingest(args, beam_args):
    from mer_tfx.ingestion.beam_job import run_ingest

    summary = run_ingest(args.dataset, args.root, args.annotations, args.out, size=args.size,
                         face_crop=args.face_crop, beam_args=beam_args)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def _add_run(subparsers):
    parser = subparsers.add_parser(
        "run", help="run the whole TFX pipeline locally (LocalDagRunner)",
        description="Artifacts go to OUTPUT/pipeline_root, metadata to OUTPUT/metadata.db, "
                    "blessed models to OUTPUT/serving_model/. Unknown options are passed to "
                    "Apache Beam. Re-running reuses cached components.")
    _add_pipeline_arguments(parser)
    parser.set_defaults(handler=_run, accepts_beam_args=True)


def _add_cv(subparsers):
    parser = subparsers.add_parser(
        "cv", help="subject-independent cross-validation (LOSO), metrics pooled over folds",
        description="One full local pipeline run per fold in OUTPUT/fold-NN/, each holding "
                    "out its subjects; pooled per-class figures from the summed TFMA "
                    "confusion matrices in OUTPUT/cross_validation.json, "
                    "cv_confusion_matrix.png and cv_per_class.png.")
    _add_pipeline_arguments(parser)
    parser.add_argument("--folds", type=int, default=0,
                        help="0: leave one subject out (default); K: K subject groups")
    parser.set_defaults(handler=_cv, accepts_beam_args=True)


def _add_pipeline_arguments(parser):
    """Dataset, output and every pipeline setting: shared by run and cv."""
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.trainer.config import EPOCH_SELECTIONS, MODEL_NAMES, SELECTION_METRICS

    defaults = PipelineSettings()
    _add_data_arguments(parser)
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--pipeline-name", default=defaults.pipeline_name)
    parser.add_argument("--label-key", default=defaults.label_key,
                        choices=("label", "label_3class"))
    parser.add_argument("--classes", help="comma-separated class order (default per label key)")
    parser.add_argument("--model", default=defaults.model,
                        choices=MODEL_NAMES)
    parser.add_argument("--steps", type=int, default=defaults.steps, help="frames per clip (T)")
    parser.add_argument("--image-size", type=int, default=defaults.image_size)
    parser.add_argument("--temporal-strategy", default=defaults.temporal_strategy,
                        choices=("resample", "pad_truncate"))
    parser.add_argument("--no-motion-channel", dest="motion_channel", action="store_false")
    parser.add_argument("--epochs", type=int, default=defaults.epochs,
                        help="the most epochs (validation selection) or exactly (fixed)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--epoch-selection", default=defaults.epoch_selection,
                        choices=EPOCH_SELECTIONS,
                        help="validation: keep the epoch with the best validation "
                             "--selection-metric (validation subjects drawn from the training "
                             "subjects); fixed: exactly --epochs, last weights, no validation")
    parser.add_argument("--selection-metric", default=defaults.selection_metric,
                        choices=SELECTION_METRICS)
    parser.add_argument("--min-epochs", type=int, default=defaults.min_epochs,
                        help="no epoch before this is kept, no stop before it")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="stop after this many epochs past the best validation epoch")
    parser.add_argument("--eval-subjects", help="comma-separated held-out subjects "
                                                "(default: a seeded --eval-fraction of them)")
    parser.add_argument("--eval-fraction", type=float, default=defaults.eval_fraction)
    parser.add_argument("--validation-fraction", type=float,
                        default=defaults.validation_fraction,
                        help="fraction of the training subjects used for early stopping")
    parser.add_argument("--uar-threshold", type=float, default=defaults.uar_threshold,
                        help="release gate: the model is blessed (and pushed) only if its "
                             "overall UAR on the eval subjects is >= this")
    parser.add_argument("--min-class-recall", type=float, default=defaults.min_class_recall,
                        help="optional release gate: every class's overall recall >= this")
    parser.add_argument("--frame-size", type=int, default=defaults.frame_size,
                        help="ingestion crop size")
    parser.add_argument("--no-face-crop", dest="face_crop", action="store_false")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="training seed (weights, augmentation, validation subjects)")
    parser.add_argument("--split-seed", type=int, default=defaults.split_seed,
                        help="seed of the held-out subject choice (--eval-fraction)")
    parser.add_argument("--no-cache", dest="enable_cache", action="store_false")


def _split(value):
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _settings(args, beam_args):
    from mer_tfx.pipeline.configs import PipelineSettings

    return PipelineSettings(
        dataset=args.dataset, data_root=args.root, annotations=args.annotations,
        output=args.output, pipeline_name=args.pipeline_name, frame_size=args.frame_size,
        face_crop=args.face_crop, eval_subjects=_split(args.eval_subjects),
        eval_fraction=args.eval_fraction, split_seed=args.split_seed, label_key=args.label_key,
        classes=_split(args.classes), steps=args.steps, image_size=args.image_size,
        temporal_strategy=args.temporal_strategy, motion_channel=args.motion_channel,
        model=args.model, epochs=args.epochs, batch_size=args.batch_size,
        epoch_selection=args.epoch_selection, selection_metric=args.selection_metric,
        min_epochs=args.min_epochs, patience=args.patience,
        validation_fraction=args.validation_fraction, seed=args.seed,
        uar_threshold=args.uar_threshold, min_class_recall=args.min_class_recall,
        beam_args=beam_args, enable_cache=args.enable_cache)


def _run(args, beam_args):
    from mer_tfx.evaluation.gates import print_gates
    from mer_tfx.pipeline.local_runner import run

    settings = _settings(args, beam_args)
    run(settings)
    outcome = print_gates(settings.pipeline_root, settings.pipeline_name)
    print(json.dumps({"pipeline_root": settings.pipeline_root,
                      "metadata": settings.metadata_path,
                      "serving_model": settings.serving_dir, **outcome}, indent=2))
    return 0


def _cv(args, beam_args):
    from mer_tfx.pipeline.cross_validation import SUMMARY_JSON, run_cross_validation

    settings = _settings(args, beam_args)
    summary = run_cross_validation(settings, args.folds)
    print(json.dumps({"protocol": summary["protocol"], "folds": len(summary["folds"]),
                      "pooled": summary["pooled"]["overall"],
                      "summary": f"{settings.output}/{SUMMARY_JSON}"}, indent=2))
    return 0


def _add_report(subparsers):
    parser = subparsers.add_parser(
        "report", help="HTML/PNG/JSON report of the latest Evaluator output (TFMA)")
    parser.add_argument("--pipeline-root", required=True,
                        help="local <output>/pipeline_root, or a Kubeflow pipeline root "
                             "(gs://...), where runs live under <pipeline name>/<run id>/")
    parser.add_argument("--pipeline-name", default="mer-tfx",
                        help="for a Kubeflow pipeline root")
    parser.add_argument("--out", required=True)
    parser.set_defaults(handler=_report)


def _report(args, _extra):
    from mer_tfx.evaluation.report import write_report

    result = write_report(args.pipeline_root, args.out, args.pipeline_name)
    print(json.dumps({"report": args.out, "blessed": result.get("blessed"),
                      "overall": result.get("overall")}, indent=2))
    return 0


def _add_predict(subparsers):
    parser = subparsers.add_parser(
        "predict", help="predict one clip folder with a pushed model (JSON out)")
    parser.add_argument("--model", required=True,
                        help="SavedModel folder or serving folder of numbered versions")
    parser.add_argument("--frames", required=True, help="folder of the clip's frame images")
    parser.add_argument("--onset", type=int, help="first frame number (default: first file)")
    parser.add_argument("--apex", type=int, help="apex frame number (default: midpoint)")
    parser.add_argument("--offset", type=int, help="last frame number (default: last file)")
    parser.add_argument("--size", type=int, default=128, help="ingestion crop size")
    parser.add_argument("--no-face-crop", dest="face_crop", action="store_false")
    parser.add_argument("--pipeline-root",
                        help="if --model holds no pushed model (it failed its release gates), "
                             "use the newest trained model of this pipeline root")
    parser.set_defaults(handler=_predict)


def _predict(args, _extra):
    from mer_tfx.predict import predict_clip

    result = predict_clip(args.model, args.frames, args.onset, args.apex, args.offset,
                          size=args.size, face_crop=args.face_crop,
                          pipeline_root=args.pipeline_root)
    print(json.dumps(result, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mer-tfx", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, with TensorFlow's and the libraries' own log lines "
                             "and warnings (also: MER_VERBOSE=1)")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_synth(subparsers)
    _add_ingest(subparsers)
    _add_run(subparsers)
    _add_cv(subparsers)
    _add_report(subparsers)
    _add_predict(subparsers)
    from mer_tfx.kfp.cli import add_kfp_parser

    add_kfp_parser(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_beam_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    setup_logging(args.verbose or os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0"))
    from mer_tfx.errors import UserError

    try:
        return args.handler(args, extra)
    except UserError as error:
        print(f"mer-tfx {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
