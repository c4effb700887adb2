"""Per-model figures on synthetic data: parameters, training speed, serving latency, UF1/UAR.

One real pipeline run (ingestion, statistics, Transform, default model, TFMA) gives
the records and the subject splits; a transform graph with the flow output too is
analysed on the same training subjects (bench/loso_fits.py), then every model is
fitted with the Trainer's own ``fit_model`` on the same training/validation
subjects, for several seeds (small data: one seed is noise), and scored on the
held-out eval subjects (argmax UF1/UAR; the test suite checks these equal TFMA's).
Frame models read frames_xf, flow models (STSTNet, OFF-ApexNet) flow_xf. Serving
latency is the exported ``serving_default`` signature on one raw clip record at a
time (PNG and flow decode + transform + model), on CPU.

    python bench/models.py [--subjects 12] [--clips-per-class 4] [--seeds 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mer_tfx  # noqa: F401
import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
from sklearn.metrics import f1_score, recall_score

from mer_tfx.evaluation.layout import newest
from mer_tfx.pipeline.configs import EvaluateSettings, PipelineSettings
from mer_tfx.pipeline.local_runner import run
from mer_tfx.schemas import load_schema
from mer_tfx.synthetic import generate
from mer_tfx.trainer import data
from mer_tfx.trainer.config import FLOW_MODELS, MODEL_NAMES
from mer_tfx.trainer.models import REFERENCE_INPUTS, build_model
from mer_tfx.trainer.signatures import make_signatures
from mer_tfx.trainer.task import fit_model, model_input_key

from figures import mean_sd  # noqa: E402
from loso_fits import analyse, transformed  # noqa: E402


def latest(root, component, output):
    return newest(os.path.join(root, component, output))


def serving_latency(model, tft_output, schema, transform_config, records, repeats: int,
                    key: str):
    folder = tempfile.mkdtemp(prefix="mer_bench_model_")
    model.save(folder, save_format="tf", signatures=make_signatures(
        model, tft_output, schema, transform_config.classes, transform_config.label_key, key))
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    serve(examples=tf.constant(records[:1]))  # warm up
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        serve(examples=tf.constant([records[i % len(records)]]))["probabilities"].numpy()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--clips-per-class", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--work", help="folder to keep data and pipeline output in")
    parser.add_argument("--latency-repeats", type=int, default=50)
    args = parser.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="mer_bench_models_")
    synth = generate("casme2", os.path.join(work, "data"), subjects=args.subjects,
                     clips_per_class=args.clips_per_class, seed=0, progress=False)
    settings = PipelineSettings(dataset="casme2", root=synth.root,
                                annotations=synth.annotations, output=os.path.join(work, "out"),
                                evaluate=EvaluateSettings(uar_threshold=0.0))
    started = time.perf_counter()
    run(settings)
    pipeline_seconds = time.perf_counter() - started
    root = settings.pipeline_root
    overall = dict(tfma.load_eval_result(latest(root, "Evaluator", "evaluation"))
                   .slicing_metrics)[()][""][""]

    tf.config.experimental.enable_op_determinism()
    schema = load_schema()
    transform_config = settings.transform
    examples = latest(root, "SubjectSplit", "split_examples")

    def split_records(split):
        return [r.numpy() for r in tf.data.TFRecordDataset(
            glob.glob(os.path.join(examples, f"Split-{split}", "*.gz")),
            compression_type="GZIP")]

    train_records, records = split_records("train"), split_records("eval")
    tft_output = analyse(train_records, settings.replace(**{"trainer.model": FLOW_MODELS[0]}),
                         os.path.join(work, "graph"))

    rows = []
    base_config = settings.trainer
    for name in args.models.split(","):
        scores, speed, epochs = [], [], []
        key = model_input_key(dataclasses.replace(base_config, model=name))
        train, validation, _ = data.split_train_validation(
            transformed(train_records, tft_output, key),
            base_config.validation_fraction, base_config.seed)
        evaluation = transformed(records, tft_output, key)
        truth = evaluation.labels
        for seed in range(args.seeds):
            config = dataclasses.replace(base_config, model=name, seed=seed)
            model, summary = fit_model(config, transform_config, train, validation)
            predicted = model.predict(evaluation.inputs, batch_size=32, verbose=0).argmax(axis=1)
            scores.append((f1_score(truth, predicted, average="macro"),
                           recall_score(truth, predicted, average="macro")))
            speed.append(summary["train_clips_per_second"])
            epochs.append(summary["kept_epoch"])
            if seed == 0:
                p50, p95 = serving_latency(model, tft_output, schema, transform_config, records,
                                           args.latency_repeats, key)
                parameters = summary["parameters"]
            tf.keras.backend.clear_session()
        reference = None
        if name in REFERENCE_INPUTS:
            reference = build_model(name, REFERENCE_INPUTS[name],
                                    {"thesis_cnn_bilstm": 8, "parallel_cnn_lstm": 5}.get(name, 3)
                                    ).count_params()
            tf.keras.backend.clear_session()
        rows.append({"model": name, "parameters": parameters,
                     "parameters_at_reference_input": reference,
                     "train_clips_per_s": round(statistics.mean(speed), 1),
                     "kept_epochs": epochs, "serving_ms_p50": round(p50, 1),
                     "serving_ms_p95": round(p95, 1),
                     "uf1": [round(u, 3) for u, _ in scores],
                     "uar": [round(a, 3) for _, a in scores]})
        print(json.dumps(rows[-1]), flush=True)

    print(f"\nsynthetic casme2 layout: {args.subjects} subjects x {args.clips_per_class} clips "
          f"x 5 classes ({len(truth)} eval clips of held-out subjects); input "
          f"{transform_config.steps} x {transform_config.image_size} x "
          f"{transform_config.image_size} x {transform_config.channels} for frame models, "
          f"{transform_config.flow_size} x {transform_config.flow_size} x 3 flow for "
          f"{', '.join(FLOW_MODELS)}; "
          f"{args.seeds} seeds; {os.cpu_count()} CPU cores")
    print(f"pipeline run (default model, all components): {pipeline_seconds:.0f} s; TFMA: "
          f"UF1 {overall['uf1']['doubleValue']:.3f}, UAR {overall['uar']['doubleValue']:.3f}")
    print(f"{'model':<18s} {'params':>10s} {'params@ref':>11s} {'train clips/s':>13s} "
          f"{'serve p50 ms':>12s} {'p95 ms':>7s} {'UF1 mean±sd':>12s} {'UAR mean±sd':>12s}")
    for row in rows:
        ref = row["parameters_at_reference_input"]
        print(f"{row['model']:<18s} {row['parameters']:>10,d} {(f'{ref:,d}' if ref else '-'):>11s}"
              f" {row['train_clips_per_s']:>13.1f} {row['serving_ms_p50']:>12.1f} "
              f"{row['serving_ms_p95']:>7.1f} {mean_sd(row['uf1'], '±'):>12s} "
              f"{mean_sd(row['uar'], '±'):>12s}")
    base = rows[0]
    for row in rows[1:]:
        print(f"{row['model']} / {base['model']}: parameters "
              f"x{row['parameters'] / base['parameters']:.2f}, training clips/s "
              f"x{row['train_clips_per_s'] / base['train_clips_per_s']:.2f}, serving p50 "
              f"x{row['serving_ms_p50'] / base['serving_ms_p50']:.2f}")
    print("(flow models: serving takes the flow maps from the record; computing them, at "
          "ingestion or in mer-tfx predict, is measured by bench/flow.py)")
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
