"""The MEGC 2019 composite protocol on synthetic data: one conversion, time per fold, UF1/UAR.

Three synthetic datasets in the CASME II, SAMM and SMIC-HS layouts are pooled with
``--preset megc2019`` (negative / positive / surprise, 'others' excluded) and run
leave-one-subject-out (or ``--protocol kfold --folds K``) by ``mer-tfx cv``'s own
code. Prints the frame conversion's time (it executes once for all folds), the mean
time per fold, the total, the composite and per-dataset UF1/UAR, and an estimate for
a 26-fold LOSO of a CASME II-sized set (255 clips) from the measured rates.

    python bench/protocols.py [--subjects 3] [--clips-per-class 2] [--protocol loso]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)
from mer_tfx.logs import setup_logging
from mer_tfx.pipeline import metadata
from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.protocols.cross_validation import run_cross_validation
from mer_tfx.protocols.presets import PRESETS
from mer_tfx.synthetic import generate

LAYOUTS = ("casme2", "samm", "smic")
CASME2_CLIPS, CASME2_SUBJECTS = 255, 26


def later_folds(fold_seconds: list) -> list:
    """The folds after the first (which includes the conversion)."""
    return fold_seconds[1:] or fold_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=3, help="per dataset")
    parser.add_argument("--clips-per-class", type=int, default=2)
    parser.add_argument("--protocol", choices=("loso", "kfold", "lodo"), default="loso")
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--work", help="folder for the data and the CV outputs")
    args = parser.parse_args(argv)
    setup_logging()
    work = args.work or tempfile.mkdtemp(prefix="mer_bench_protocols_")
    sources = []
    for index, layout in enumerate(LAYOUTS):
        data = generate(layout, os.path.join(work, layout), subjects=args.subjects,
                        clips_per_class=args.clips_per_class, seed=10 + index, progress=False)
        sources.append([layout, data.root] + ([data.annotations] if data.annotations else []))
    settings = PipelineSettings.from_dict({
        "sources": sources, "output": os.path.join(work, "cv"),
        "trainer": {"epochs": args.epochs}, "evaluate": {"uar_threshold": 0.0},
    }).replace(**PRESETS["megc2019"])
    summary = run_cross_validation(settings, args.protocol, args.folds)

    store = metadata.open_store(settings.metadata_path)
    ingestion = metadata.execution_seconds(store, settings.pipeline_name, "MerExampleGen")
    fold_seconds = [f["seconds"] for f in summary["folds"]]
    clips = summary["overall"]["n"]
    print(f"\nMEGC 2019 composite on synthetic data: {len(LAYOUTS)} datasets x {args.subjects} "
          f"subjects x {args.clips_per_class} clips per class, 3 classes; {clips} clips; "
          f"{summary['protocol']['description']}, {len(fold_seconds)} folds; "
          f"{settings.trainer.epochs} epochs at most; {os.cpu_count()} CPU cores")
    print(f"frame conversion: executed {len(ingestion)} time(s), {sum(ingestion):.0f} s")
    print(f"per fold: mean {statistics.mean(fold_seconds):.0f} s (min {min(fold_seconds):.0f}, "
          f"max {max(fold_seconds):.0f}; the first includes the conversion); total "
          f"{summary['seconds']:.0f} s")
    components = sorted({c for f in summary["folds"] for c in f["component_seconds"]})
    print("where a fold's time goes (mean over folds, s): " + ", ".join(
        f"{c} {statistics.mean(f['component_seconds'].get(c, 0) for f in summary['folds']):.1f}"
        for c in components))
    fits = [f["fit_seconds"] for f in summary["folds"] if f["fit_seconds"]]
    if fits:
        print(f"Trainer fit (Keras): mean {statistics.mean(fits):.1f} s; a fold costs "
              f"{statistics.mean(later_folds(fold_seconds)) / statistics.mean(fits):.1f}x its fit")
    print(f"{'data':<10s} {'clips':>5s} {'UF1':>6s} {'UAR':>6s}")
    rows = [("Composite", summary["overall"])] + list(summary["per_dataset"].items())
    for name, row in rows:
        print(f"{name:<10s} {row['n']:>5d} {row['uf1']:>6.3f} {row['uar']:>6.3f}")
    later = later_folds(fold_seconds)
    scale = CASME2_CLIPS / clips
    estimate = sum(ingestion) * scale + CASME2_SUBJECTS * statistics.mean(later) * scale
    print(f"estimate, {CASME2_SUBJECTS}-fold LOSO of {CASME2_CLIPS} clips (time scaled "
          f"linearly with clips): {estimate / 60:.0f} min")
    print(summary["model_selection"]["statement"])
    print(f"(work folder: {work}; report: {os.path.join(settings.output, 'cv_report.html')})")


if __name__ == "__main__":
    main()
