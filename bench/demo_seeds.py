"""The demo's figures over several training seeds: UF1/UAR mean ± sd and min, blessing, time.

The data and settings are exactly ``make demo``'s (synthetic CASME II layout,
12 subjects x 4 clips x 5 classes, 3 held-out subjects, 40 epochs at most); only
the training seed (``mer-tfx run --seed``) changes. Every seed is a whole local
pipeline run; upstream components come from the cache. The first seed is run a
second time in a fresh output folder to check that the same data and settings
give the same figures.

    python bench/demo_seeds.py [--seeds 5] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)
from mer_tfx.evaluation.data_checks import training_summary
from mer_tfx.evaluation.layout import find_run
from mer_tfx.evaluation.results import build_report
from mer_tfx.logs import setup_logging
from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.pipeline.local_runner import run
from mer_tfx.synthetic import generate
from mer_tfx.trainer.config import TrainerConfig

# The Makefile's DEMO_SUBJECTS, DEMO_CLIPS, DEMO_EPOCHS and DEMO_ROLL
# (tests/test_demo_settings.py checks): photo faces, rolled, CASME II's class imbalance.
DEMO_SUBJECTS, DEMO_CLIPS, DEMO_EPOCHS, DEMO_DATA_SEED = 12, 4, 40, 0
DEMO_ROLL = 8


def run_seed(settings: PipelineSettings) -> dict:
    started = time.perf_counter()
    run(settings)
    seconds = time.perf_counter() - started
    run_outputs = find_run(settings.pipeline_root, settings.pipeline_name)
    report = build_report(run_outputs.evaluation)
    trained = training_summary(run_outputs.model_run) or {}
    return {"seed": settings.trainer.seed, "uf1": round(report["overall"]["uf1"], 4),
            "uar": round(report["overall"]["uar"], 4),
            "min_class_recall": round(report["overall"]["min_class_recall"], 4),
            "blessed": run_outputs.blessed, "kept_epoch": trained.get("kept_epoch"),
            "epochs_run": trained.get("epochs_run"), "seconds": round(seconds, 1)}


def describe(values) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f} (min {min(values):.3f})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--work", help="folder for the data and pipeline outputs")
    parser.add_argument("--no-repeat", dest="repeat", action="store_false",
                        help="skip the second run of the first seed")
    args = parser.parse_args(argv)
    setup_logging()
    work = args.work or tempfile.mkdtemp(prefix="mer_bench_demo_")
    data = generate("casme2", os.path.join(work, "data"), subjects=DEMO_SUBJECTS,
                    clips_per_class=DEMO_CLIPS, seed=DEMO_DATA_SEED, face="photo",
                    roll=DEMO_ROLL, balance="casme2", progress=False)
    demo = PipelineSettings(dataset="casme2", root=data.root, annotations=data.annotations,
                            output=os.path.join(work, "out"),
                            trainer=TrainerConfig(epochs=DEMO_EPOCHS))
    rows = []
    for seed in range(args.seeds):
        rows.append(run_seed(demo.replace(**{"trainer.seed": seed})))
        print(json.dumps(rows[-1]), flush=True)
    repeat = None
    if args.repeat:
        repeat = run_seed(demo.replace(**{"trainer.seed": 0,
                                          "output": os.path.join(work, "out-repeat")}))
        print(json.dumps({"repeat_of_seed_0": repeat}), flush=True)

    print(f"\nmake demo's data and settings ({DEMO_SUBJECTS} subjects x {DEMO_CLIPS} clips x 5 "
          f"classes, synthetic CASME II layout; {demo.trainer.epochs} epochs at most, epoch "
          f"selection "
          f"'{demo.trainer.epoch_selection}' on validation "
          f"{demo.trainer.selection_metric.upper()}); "
          f"{args.seeds} training seeds; {os.cpu_count()} CPU cores")
    print(f"{'seed':>4s} {'UF1':>6s} {'UAR':>6s} {'min rec':>7s} {'kept/run':>9s} "
          f"{'blessed':>7s} {'seconds':>7s}")
    for row in rows:
        print(f"{row['seed']:>4d} {row['uf1']:>6.3f} {row['uar']:>6.3f} "
              f"{row['min_class_recall']:>7.3f} {row['kept_epoch']:>4}/{row['epochs_run']:<4} "
              f"{str(row['blessed']):>7s} {row['seconds']:>7.0f}")
    print(f"UF1 {describe([r['uf1'] for r in rows])}")
    print(f"UAR {describe([r['uar'] for r in rows])}")
    print(f"blessed and pushed: {sum(bool(r['blessed']) for r in rows)} of {len(rows)} "
          f"(gate: overall UAR >= {demo.evaluate.uar_threshold})")
    if repeat:
        same = (repeat["uf1"], repeat["uar"]) == (rows[0]["uf1"], rows[0]["uar"])
        print(f"seed 0 again in a fresh output folder: UF1 {repeat['uf1']:.3f}, UAR "
              f"{repeat['uar']:.3f} -> {'reproduced' if same else 'NOT reproduced'}")
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
