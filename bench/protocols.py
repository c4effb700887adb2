"""Cross-validation cost: where a fold's time goes, a real CASME II-sized LOSO, parallel folds.

Runs ``mer-tfx cv``'s own code (run_cross_validation) on synthetic data and prints, from
each fold's ML Metadata run, the seconds of every component and the Keras fit seconds,
the fold/fit ratio, the total wall time, and the pooled UF1/UAR.

    # a CASME II-sized set (26 subjects x CASME II's class imbalance, 260 clips), LOSO
    python bench/protocols.py --data casme2 [--parallel-folds 2] [--model motion_cnn_tcn]
    # the MEGC 2019 composite (CASME II + SAMM + SMIC-HS layouts, 3 classes)
    python bench/protocols.py --data megc2019 --subjects 3
    # the parallel-fold speed-up: the same LOSO run one fold at a time, then N at once
    python bench/protocols.py --data casme2 --subjects 6 --speedup 2
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)
from mer_tfx.logs import setup_logging
from mer_tfx.pipeline import metadata
from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.protocols.cross_validation import run_cross_validation
from mer_tfx.protocols.presets import PRESETS
from mer_tfx.synthetic import generate

COMPOSITE = ("casme2", "samm", "smic")


def casme2_settings(work: str, args) -> PipelineSettings:
    """CASME II's size: 26 subjects, each with CASME II's class imbalance (10 clips)."""
    data = generate("casme2", os.path.join(work, "casme2"), subjects=args.subjects,
                    clips_per_class=args.clips_per_class, seed=11, balance="casme2",
                    progress=False)
    return PipelineSettings.from_dict({
        "dataset": "casme2", "root": data.root, "annotations": data.annotations,
        "output": os.path.join(work, "cv"), "evaluate": {"uar_threshold": 0.0},
        "trainer": trainer_overrides(args)})


def trainer_overrides(args) -> dict:
    """The trainer options the bench sets: only those given (else the product's)."""
    return {**({"epochs": args.epochs} if args.epochs else {}),
            **({"model": args.model} if args.model else {})}


def composite_settings(work: str, args) -> PipelineSettings:
    sources = []
    for index, layout in enumerate(COMPOSITE):
        data = generate(layout, os.path.join(work, layout), subjects=args.subjects,
                        clips_per_class=args.clips_per_class, seed=10 + index, progress=False)
        sources.append([layout, data.root] + ([data.annotations] if data.annotations else []))
    return PipelineSettings.from_dict({
        "sources": sources, "output": os.path.join(work, "cv"),
        "evaluate": {"uar_threshold": 0.0},
        "trainer": trainer_overrides(args)}).replace(
        **PRESETS["megc2019"])


def print_folds(summary: dict, settings: PipelineSettings, load: str) -> None:
    """Per-component means, fit, the fold/fit ratio, the conversion, the total."""
    folds = summary["folds"]
    store = metadata.open_store(settings.metadata_path)
    conversion = metadata.execution_seconds(store, settings.pipeline_name, "MerExampleGen")
    shared = sum(sum(metadata.execution_seconds(store, settings.pipeline_name, node))
                 for node in ("StatisticsGen", "ExampleValidator", "ImportSchemaGen"))
    fold_seconds = [f["seconds"] for f in folds]
    print(f"{summary['protocol']['description']}, {len(folds)} folds, "
          f"{summary['overall']['n']} clips, {summary['parallel_folds']} fold(s) at a time; "
          f"model {settings.trainer.model}, at most {settings.trainer.epochs} epochs "
          f"({settings.trainer.epoch_selection} "
          f"selection); {os.cpu_count()} CPU cores, load average at the start: {load}")
    print(f"shared, once: frame conversion {sum(conversion):.0f} s, statistics/validation "
          f"of all clips {shared:.0f} s")
    print(f"per fold: mean {statistics.mean(fold_seconds):.1f} s (min {min(fold_seconds):.0f},"
          f" max {max(fold_seconds):.0f})")
    components = sorted({c for f in folds for c in f["component_seconds"]},
                        key=lambda c: -statistics.mean(f["component_seconds"].get(c, 0)
                                                       for f in folds))
    print("where a fold's time goes (mean s): " + ", ".join(
        f"{c} {statistics.mean(f['component_seconds'].get(c, 0) for f in folds):.1f}"
        for c in components if any(f["component_seconds"].get(c, 0) >= 0.05 for f in folds)))
    fits = [f["fit_seconds"] for f in folds if f["fit_seconds"]]
    if fits:
        ratios = [f["seconds"] / f["fit_seconds"] for f in folds if f["fit_seconds"]]
        outside = [f["seconds"] - f["fit_seconds"] for f in folds if f["fit_seconds"]]
        print(f"Trainer fit (Keras): mean {statistics.mean(fits):.1f} s; a fold costs "
              f"{statistics.mean(ratios):.2f}x its fit (mean over folds; goal <= 1.5x); "
              f"outside the fit: mean {statistics.mean(outside):.1f} s a fold")
    print(f"total wall time (conversion included): {summary['seconds']:.0f} s = "
          f"{summary['seconds'] / 60:.1f} min")
    print(f"{'data':<10s} {'clips':>5s} {'UF1':>6s} {'UAR':>6s}")
    rows = [("Overall", summary["overall"])] + list(summary["per_dataset"].items())
    for name, row in rows:
        print(f"{name:<10s} {row['n']:>5d} {row['uf1']:>6.3f} {row['uar']:>6.3f}")
    print(summary["model_selection"]["statement"])



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("casme2", "megc2019"), default="casme2")
    parser.add_argument("--subjects", type=int, default=26, help="per dataset")
    parser.add_argument("--clips-per-class", type=int, default=4,
                        help="casme2: clips of the largest class per subject (4: 10 clips "
                             "per subject in CASME II's proportions)")
    parser.add_argument("--protocol", choices=("loso", "kfold", "lodo"), default="loso")
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=0, help="0: the product's default")
    parser.add_argument("--model", help="default: the product's default model")
    parser.add_argument("--parallel-folds", type=int, default=1)
    parser.add_argument("--speedup", type=int, default=0, metavar="N",
                        help="run the protocol one fold at a time, then N at once, and print "
                             "the speed-up and whether the figures are equal")
    parser.add_argument("--work", help="folder for the data and the CV outputs")
    args = parser.parse_args(argv)
    setup_logging()
    work = args.work or tempfile.mkdtemp(prefix="mer_bench_protocols_")
    load = "%.1f %.1f %.1f" % os.getloadavg()  # other jobs sharing the cores
    build = casme2_settings if args.data == "casme2" else composite_settings
    settings = build(work, args)
    if not args.speedup:
        summary = run_cross_validation(settings, args.protocol, args.folds, args.parallel_folds)
        print(f"\n{args.data} on synthetic data")
        print_folds(summary, settings, load)
        print(f"(work folder: {work}; report: {os.path.join(settings.output, 'cv_report.html')})")
        return
    walls = {}
    for processes in (1, args.speedup):
        # its own output (and conversion) per mode, so neither reuses the other's folds
        run_settings = settings.replace(output=os.path.join(work, f"cv_x{processes}"))
        started = time.perf_counter()
        summary = run_cross_validation(run_settings, args.protocol, args.folds, processes)
        conversion = sum(metadata.execution_seconds(
            metadata.open_store(run_settings.metadata_path), run_settings.pipeline_name,
            "MerExampleGen"))
        walls[processes] = (time.perf_counter() - started - conversion, summary)
        print(f"\n{processes} fold(s) at a time:")
        print_folds(summary, run_settings, load)
    (one, first), (many, second) = walls[1], walls[args.speedup]
    same = all(first[k] == second[k] for k in ("overall", "per_class", "confusion_matrix"))
    print(f"\nfolds' wall time net of the conversion: one at a time {one:.0f} s, "
          f"{args.speedup} at a time {many:.0f} s: speed-up {one / many:.2f}x on "
          f"{os.cpu_count()} cores; pooled figures equal: {same}")


if __name__ == "__main__":
    main()
