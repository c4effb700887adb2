"""Per-model figures on synthetic data: parameters, training speed, serving latency, UF1/UAR.

Each model is trained by the real pipeline (``mer-tfx run`` settings, one output
folder: ingestion, statistics and Transform are computed once and reused from
the cache) and evaluated by TFMA on held-out subjects. Serving latency is the
exported ``serving_default`` signature on one raw clip record at a time (PNG
decode + transform + model), on CPU.

    python bench/models.py [--subjects 12] [--clips-per-class 4] [--epochs 40]
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import tempfile
import time

import mer_tfx  # noqa: F401
import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma

from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.pipeline.local_runner import run
from mer_tfx.synthetic import generate
from mer_tfx.trainer.models import REFERENCE_INPUTS, build_model

MODELS = ("motion_cnn_gru", "parallel_cnn_lstm", "thesis_cnn_bilstm")


def latest(root, component, output):
    return sorted(glob.glob(os.path.join(root, component, output, "*")),
                  key=lambda p: int(os.path.basename(p)))[-1]


def serving_latency(model_dir, records, repeats: int):
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    serve(examples=tf.constant(records[:1]))  # trace/warm up
    times = []
    for i in range(repeats):
        record = records[i % len(records)]
        started = time.perf_counter()
        serve(examples=tf.constant([record]))["probabilities"].numpy()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def reference_parameters(name):
    model = build_model(name, REFERENCE_INPUTS[name], 8 if name == "thesis_cnn_bilstm" else 5)
    count = int(model.count_params())
    tf.keras.backend.clear_session()
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--clips-per-class", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--work", help="folder to keep data and pipeline output in")
    parser.add_argument("--latency-repeats", type=int, default=50)
    args = parser.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="mer_bench_models_")
    data = generate("casme2", os.path.join(work, "data"), subjects=args.subjects,
                    clips_per_class=args.clips_per_class, seed=0, progress=False)
    rows = []
    for name in args.models.split(","):
        settings = PipelineSettings(dataset="casme2", data_root=data.root,
                                    annotations=data.annotations,
                                    output=os.path.join(work, "out"), model=name,
                                    epochs=args.epochs, uar_threshold=0.0)
        started = time.perf_counter()
        run(settings)
        wall = time.perf_counter() - started
        root = settings.pipeline_root
        summary = json.load(open(os.path.join(latest(root, "Trainer", "model_run"),
                                              "training_summary.json")))
        overall = dict(tfma.load_eval_result(latest(root, "Evaluator", "evaluation"))
                       .slicing_metrics)[()][""][""]
        examples = latest(root, "MerExampleGen", "examples")
        records = [r.numpy() for r in tf.data.TFRecordDataset(
            glob.glob(os.path.join(examples, "Split-eval", "*.gz")), compression_type="GZIP")]
        p50, p95 = serving_latency(os.path.join(latest(root, "Trainer", "model"),
                                                "Format-Serving"), records,
                                   args.latency_repeats)
        rows.append({
            "model": name, "parameters": summary["parameters"],
            "parameters_at_reference_input": (reference_parameters(name)
                                              if name in REFERENCE_INPUTS else None),
            "train_clips_per_s": summary["train_clips_per_second"],
            "epochs_run": summary["epochs_run"],
            "serving_ms_p50": round(p50, 1), "serving_ms_p95": round(p95, 1),
            "uf1": round(overall["uf1"]["doubleValue"], 3),
            "uar": round(overall["uar"]["doubleValue"], 3),
            "eval_clips": int(overall["example_count"]["doubleValue"]),
            "pipeline_wall_s": round(wall, 1),
        })
        print(json.dumps(rows[-1]), flush=True)

    print(f"\nsynthetic casme2 layout: {args.subjects} subjects x {args.clips_per_class} clips x "
          f"5 classes; input 16 x 64 x 64 x 2 (appearance + motion) for every model; "
          f"held-out subjects for UF1/UAR; {os.cpu_count()} CPU cores")
    header = (f"{'model':<20s} {'params':>10s} {'params@ref':>11s} {'train clips/s':>13s} "
              f"{'serve p50 ms':>12s} {'p95 ms':>7s} {'UF1':>6s} {'UAR':>6s}")
    print(header)
    base = rows[0]
    for row in rows:
        ref = row["parameters_at_reference_input"]
        print(f"{row['model']:<20s} {row['parameters']:>10,d} {(f'{ref:,d}' if ref else '-'):>11s} "
              f"{row['train_clips_per_s']:>13.1f} {row['serving_ms_p50']:>12.1f} "
              f"{row['serving_ms_p95']:>7.1f} {row['uf1']:>6.3f} {row['uar']:>6.3f}")
    for row in rows[1:]:
        print(f"{base['model']} vs {row['model']}: {row['parameters'] / base['parameters']:.0f}x "
              f"fewer parameters, {base['train_clips_per_s'] / row['train_clips_per_s']:.1f}x "
              f"training speed, {row['serving_ms_p50'] / base['serving_ms_p50']:.1f}x faster "
              f"serving (p50), UF1 {base['uf1']:.3f} vs {row['uf1']:.3f}")
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
