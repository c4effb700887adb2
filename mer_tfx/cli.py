"""The ``mer-tfx`` command line: one entry point, one subcommand per job.

Subcommands import their heavy dependencies lazily so that ``mer-tfx --help``
and argument errors answer in a fraction of a second.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import sys

from mer_tfx import VERBOSE_VARIABLE
from mer_tfx.datasets import DATASET_NAMES, LONG_VIDEO_NAMES
from mer_tfx.errors import UserError
from mer_tfx.logs import setup_logging

def _add_synth(subparsers):
    parser = subparsers.add_parser(
        "synth", help="write a deterministic synthetic dataset in a real on-disk layout")
    parser.add_argument("--layout", required=True, choices=DATASET_NAMES + tuple(
        n for n in LONG_VIDEO_NAMES if n not in DATASET_NAMES),
        help="a clip dataset's layout, or a long-video one (casme_sq, samm_lv, casme3_lv: "
             "long recordings with micro- and macro-expressions, blinks and head moves)")
    parser.add_argument("--videos-per-subject", type=int, default=2,
                        help="long-video layouts: recordings per subject")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="long-video layouts: length of each recording")
    parser.add_argument("--out", required=True, help="folder to write the dataset into")
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--clips-per-class", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frame-size", type=int, default=200,
                        help="side of the synthetic video frames, in pixels")
    parser.add_argument("--inject-faults", action="store_true",
                        help="add one bad annotation row of every kind (for trying rejects)")
    parser.add_argument("--no-signal", action="store_true",
                        help="motion independent of the label: a leakage guard (any protocol "
                             "should score near chance on it)")
    parser.add_argument("--face", choices=("drawn", "photo"), default="drawn",
                        help="drawn: OpenCV-drawn faces; photo: a real portrait photo (hair, "
                             "glasses, wrinkles) warped by each class's local motion")
    parser.add_argument("--jitter", type=float, default=1.0,
                        help="head movement between frames, times the default (up to 1 px "
                             "at 200-px frames); 0 for none")
    parser.add_argument("--roll", type=float, default=0.0,
                        help="roll each clip's head by up to this many degrees (0-45)")
    parser.add_argument("--scale-jitter", type=float, default=0.0,
                        help="photo faces: vary size by exp(+-S) and place by +-S of the "
                             "frame between subjects (0-0.5)")
    from mer_tfx.synthetic.motion import BALANCES

    parser.add_argument("--balance", choices=sorted(BALANCES), default="equal",
                        help="clips per class: equal, or CASME II's imbalance (others, "
                             "disgust, happiness, repression, surprise: 99:63:32:27:25; "
                             "--clips-per-class is the largest class's count)")
    parser.set_defaults(handler=_synth)


def _synth(args, _beam_args):
    from mer_tfx.synthetic import generate

    if args.layout in LONG_VIDEO_NAMES and args.layout not in DATASET_NAMES:
        from mer_tfx.synthetic.long_layouts import generate_long

        manifest = generate_long(args.layout, args.out, subjects=args.subjects,
                                 videos_per_subject=args.videos_per_subject,
                                 seconds=args.seconds, frame_size=args.frame_size,
                                 seed=args.seed, jitter=args.jitter)
        print(json.dumps({k: manifest[k] for k in ("layout", "root", "annotations", "emotions",
                                                   "fps")} | {"videos": len(manifest["videos"])},
                         indent=2))
        return 0
    result = generate(args.layout, args.out, subjects=args.subjects,
                      clips_per_class=args.clips_per_class, seed=args.seed,
                      frame_size=args.frame_size, inject_faults=args.inject_faults,
                      no_signal=args.no_signal, face=args.face, jitter=args.jitter,
                      roll=args.roll, scale_jitter=args.scale_jitter, balance=args.balance)
    print(json.dumps({"layout": result.layout, "root": result.root,
                      "annotations": result.annotations, "clips": len(result.clips)}, indent=2))
    return 0


# The data a job reads, and the ingestion settings a stand-alone ingest takes.
DATA_SETTINGS = ("dataset", "root", "annotations", "sources")
INGEST_SETTINGS = ("ingest.crop_size", "ingest.face_crop", "ingest.apex_fallback",
                   "ingest.apex_from", "ingest.register", "ingest.flow",
                   "ingest.flow_algorithm", "ingest.align")
# predict always computes the flow maps: a flow model needs them, others ignore them
PREDICT_SETTINGS = tuple(s for s in INGEST_SETTINGS if s != "ingest.flow")
BEAM_HELP = ("Beam pipeline options go behind --beam-arg (--beam-arg=--runner=DataflowRunner, "
             "repeatable) or after a lone --, e.g. -- --runner=DataflowRunner --project=P. "
             "Default: the DirectRunner's engine (--runner=FnApiRunner), in-process "
             "below 8,000 frames, else one worker process per core.")


def add_beam_arg(parser):
    parser.add_argument("--beam-arg", action="append", default=[], metavar="--NAME=VALUE",
                        help="one Beam pipeline option, written with '=' (repeatable)")
    parser.set_defaults(accepts_beam_args=True)


def add_settings(parser, include=None, exclude=(), required=()):
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.settings_flags import add_arguments

    add_arguments(parser, PipelineSettings, include=include, exclude=exclude,
                  required=required)


def _has_data(args) -> bool:
    """--source, or both --dataset and --root, given by flag or MER_* variable."""
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.settings import leaves
    from mer_tfx.settings_flags import DEST

    given = {leaf.name for leaf in leaves(PipelineSettings)
             if leaf.name in ("dataset", "root", "sources")
             and (DEST + leaf.name in vars(args)
                  or any(name in os.environ for name in leaf.envs))}
    return "sources" in given or {"dataset", "root"} <= given


def settings_from_args(args, beam_args=(), needs_data: bool = False):
    """MER_* variables over the defaults, a --preset, then the flags given; Beam args last."""
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.protocols.presets import PRESETS
    from mer_tfx.settings_flags import from_args

    if needs_data and not _has_data(args):
        raise UserError("say which data to read: --dataset NAME --root FOLDER "
                        "[--annotations FILE], or --source DATASET ROOT [ANNOTATIONS] "
                        "(repeatable)")
    base = PipelineSettings.from_env()
    if getattr(args, "preset", None):
        base = base.replace(**PRESETS[args.preset])
    settings = from_args(PipelineSettings, args, base=base)
    if beam_args:
        settings = settings.replace(beam_args=list(settings.beam_args) + list(beam_args))
    return settings


def add_preset(parser):
    from mer_tfx.protocols.presets import PRESET_HELP, PRESETS

    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="a protocol's settings (flags given still override them): "
                             + "; ".join(f"{k}: {v}" for k, v in PRESET_HELP.items()))


def add_print_settings(parser):
    parser.add_argument("--print-settings", action="store_true",
                        help="print the effective settings as JSON and exit")


def _add_ingest(subparsers):
    parser = subparsers.add_parser(
        "ingest", help="Beam job: raw frame folders + annotations -> SequenceExample TFRecords",
        description=BEAM_HELP)
    add_settings(parser, include=DATA_SETTINGS + INGEST_SETTINGS)
    parser.add_argument("--out", required=True, help="output folder (records/, rejects.jsonl, "
                                                     "summary.json)")
    add_beam_arg(parser)
    parser.set_defaults(handler=_ingest)


def _ingest(args, beam_args):
    from mer_tfx.ingestion.beam_job import run_ingest
    from mer_tfx.pipeline.beam_args import default_beam_args, frames_to_read

    settings = settings_from_args(args, needs_data=True)
    summary = run_ingest(settings.source_list, args.out, size=settings.ingest.crop_size,
                         face_crop=settings.ingest.face_crop,
                         beam_args=default_beam_args(
                             beam_args, frames_to_read(settings.source_list)),
                         convert_options=settings.ingest.convert_options)
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def _add_pipeline_arguments(parser):
    """Dataset, output and every pipeline setting but Kubeflow's (mer-tfx run)."""
    add_settings(parser, exclude=("kubeflow",), required=("output",))
    add_preset(parser)
    add_beam_arg(parser)
    add_print_settings(parser)


def _add_run(subparsers):
    parser = subparsers.add_parser(
        "run", help="run the whole TFX pipeline locally (LocalDagRunner)",
        description="Artifacts go to OUTPUT/pipeline_root, metadata to OUTPUT/metadata.db, "
                    "blessed models to OUTPUT/serving_model/, the effective settings to "
                    "OUTPUT/settings.json. Re-running reuses cached components. MER_<SETTING> "
                    "variables set defaults; flags override them. " + BEAM_HELP)
    _add_pipeline_arguments(parser)
    parser.set_defaults(handler=_run)


def _run(args, beam_args):
    from mer_tfx.evaluation.gates import print_gates
    from mer_tfx.pipeline.local_runner import run

    settings = settings_from_args(args, beam_args, needs_data=True)
    if args.print_settings:
        print(json.dumps(settings.to_dict(), indent=2))
        return 0
    run(settings)
    outcome = print_gates(settings.pipeline_root, settings.pipeline_name,
                          metadata_path=settings.metadata_path)
    print(json.dumps({"pipeline_root": settings.pipeline_root,
                      "metadata": settings.metadata_path,
                      "serving_model": settings.serving_dir, **outcome}, indent=2))
    return 0


def add_run_choice(parser):
    parser.add_argument("--run-id", help="the pipeline run to read (default: the newest "
                                         "evaluated run; see mer-tfx report --list-runs)")
    parser.add_argument("--metadata", metavar="PATH",
                        help="ML Metadata store of a local pipeline root (default: "
                             "metadata.db beside it)")


def _add_predict(subparsers):
    parser = subparsers.add_parser(
        "predict", help="predict one clip (frame folder or video interval) with a pushed "
                        "model (JSON out); explain it or print the TF Serving request",
        epilog="examples:\n"
               "  mer-tfx predict --model serving_model/mer_model --frames sub01/EP02_01f\n"
               "  mer-tfx predict --model serving_model/mer_model --video rec.mp4 "
               "--onset 120 --offset 160 --explain why/\n"
               "  mer-tfx predict --video rec.mp4 --onset 120 --offset 160 --print-request "
               "> body.json\n"
               "  curl -d @body.json http://HOST:8501/v1/models/mer_model:predict",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="SavedModel folder or serving folder of numbered "
                                        "versions (not needed with --print-request)")
    clip = parser.add_mutually_exclusive_group(required=True)
    clip.add_argument("--frames", help="folder of the clip's frame images")
    clip.add_argument("--video", help="a video file (OpenCV/FFmpeg: mp4, avi, mov, mkv, ...); "
                                      "--onset/--apex/--offset are 0-based frame indices")
    parser.add_argument("--onset", type=int, help="first frame number (default: first file, "
                                                  "or frame 0 of a video)")
    parser.add_argument("--apex", type=int, help="apex frame number (default: spotted from "
                                                 "the frames; --apex-fallback midpoint)")
    parser.add_argument("--offset", type=int, help="last frame number (default: last file, "
                                                   "or the video's last frame)")
    add_settings(parser, include=PREDICT_SETTINGS)
    parser.add_argument("--pipeline-root",
                        help="if --model holds no pushed model (it failed its release gates), "
                             "use the model trained by this pipeline root's newest run")
    add_run_choice(parser)
    parser.add_argument("--explain", metavar="DIR",
                        help="also write the Grad-CAM of the predicted class here: strip.png "
                             "(over time), apex.png, gradcam.npy, explanation.json")
    parser.add_argument("--print-request", action="store_true",
                        help="print the JSON body of a TF Serving REST :predict call for this "
                             "clip (base64 SequenceExample) instead of predicting (with "
                             "--model: converted as that model records)")
    parser.add_argument("--force", action="store_true",
                        help="let ingestion flags that contradict the preprocessing the model "
                             "records win (printed); without it that is an error")
    parser.set_defaults(handler=_predict)


def _given_settings(args, names) -> dict:
    """{ingest setting: value} of the settings flags the user passed (not defaults)."""
    from mer_tfx.settings_flags import DEST

    ingest = settings_from_args(args).ingest
    return {name.split(".", 1)[1]: getattr(ingest, name.split(".", 1)[1]) for name in names
            if hasattr(args, DEST + name)}


def _predict(args, _beam_args):
    given = _given_settings(args, PREDICT_SETTINGS)
    if args.print_request:
        from mer_tfx.serving_client import clip_request

        print(json.dumps(clip_request(args.frames, args.onset, args.apex, args.offset,
                                      model=args.model, video=args.video, force=args.force,
                                      **given)))
        return 0
    if not args.model:
        raise UserError("--model is required (unless --print-request)")
    from mer_tfx.predict import predict_clip

    result = predict_clip(args.model, args.frames, args.onset, args.apex, args.offset,
                          pipeline_root=args.pipeline_root, video=args.video,
                          explain_dir=args.explain, given=given, force=args.force,
                          run_id=args.run_id, metadata_path=args.metadata)
    print(json.dumps(result, indent=2))
    return 0


class StrictParser(argparse.ArgumentParser):
    """No abbreviated flags: ``--learning-rat`` is a typo to report, not a guess to make."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from mer_tfx.evaluation.cli import add_report_parser
    from mer_tfx.protocols.cli import add_cv_parser
    from mer_tfx.spotting.cli import add_spot_parser

    parser = StrictParser(prog="mer-tfx", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, with TensorFlow's and the libraries' own log lines "
                             "and warnings (also: MER_VERBOSE=1)")
    subparsers = parser.add_subparsers(dest="command", required=True,
                                       parser_class=StrictParser)
    _add_synth(subparsers)
    _add_ingest(subparsers)
    add_spot_parser(subparsers)
    _add_run(subparsers)
    add_cv_parser(subparsers)
    add_report_parser(subparsers)
    _add_predict(subparsers)
    from mer_tfx.kfp.cli import add_kfp_parser

    add_kfp_parser(subparsers)
    return parser


def _chosen_parser(parser, args):
    """The (sub)parser of the command given: ``mer-tfx kfp compile`` -> compile's parser."""
    while True:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or getattr(args, actions[0].dest, None) is None:
            return parser
        parser = actions[0].choices[getattr(args, actions[0].dest)]


def _unknown_flag_error(command, extra) -> None:
    """An unknown option is a typo, not a Beam option: name the nearest known flag."""
    known = [o for a in command._actions for o in a.option_strings]
    flag = next((e for e in extra if e.startswith("-")), extra[0]).split("=", 1)[0]
    match = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
    hint = f"; did you mean {match[0]}?" if match else ""
    if command.get_default("accepts_beam_args"):
        hint += " (Beam options go behind --beam-arg=... or after a lone --)"
    command.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    tail = []
    if "--" in argv:  # everything after a lone -- is for Beam
        tail = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args, extra = parser.parse_known_args(argv)
    if extra:
        _unknown_flag_error(_chosen_parser(parser, args), extra)
    if tail and not getattr(args, "accepts_beam_args", False):
        _chosen_parser(parser, args).error(f"takes no Beam options, got: {' '.join(tail)}")
    beam_args = list(getattr(args, "beam_arg", []) or []) + tail
    setup_logging(args.verbose or os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0"))

    try:
        return args.handler(args, beam_args)
    except UserError as error:
        print(f"mer-tfx {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
