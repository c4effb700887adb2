"""The ``mer-tfx`` command line: one entry point, one subcommand per job.

Subcommands import their heavy dependencies lazily so that ``mer-tfx --help``
and argument errors answer in a fraction of a second.
"""
from __future__ import annotations

import argparse
import json
import sys

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


def _add_ingest(subparsers):
    parser = subparsers.add_parser(
        "ingest", help="Beam job: raw frame folders + annotations -> SequenceExample TFRecords",
        description="Unknown options are passed to Apache Beam, e.g. --runner=DataflowRunner "
                    "--project=P --region=R --temp_location=gs://B/tmp, or "
                    "--direct_num_workers=4. Default: DirectRunner, multi-process, all cores.")
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", required=True, help="dataset root folder (frame folders)")
    parser.add_argument("--annotations", help="annotation .xlsx/.csv (optional for smic)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mer-tfx", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_synth(subparsers)
    _add_ingest(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_beam_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    setup_logging(args.verbose)
    from mer_tfx.errors import UserError

    try:
        return args.handler(args, extra)
    except UserError as error:
        print(f"mer-tfx {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
