"""The Trainer's peak resident memory at two dataset sizes: does it grow with the data?

The same model and settings are fitted, each in a fresh process (peak = the
process's VmHWM), on N and 4N synthetic clip records at a large input (default
30 x 128 x 128 x 2: the clips are random-texture PNG frames; memory, not accuracy,
is measured). ``after`` runs the Trainer's streamed input (trainer/data.py
``stream_clips``: first pass over the context keys, records spilled to local
disk, transformed batch by batch); ``before`` the in-memory path the Trainer used
until it streamed (``load_clips``: every transformed clip as float32 NumPy, then
``from_tensor_slices``). Pass ``--before-root`` (a checkout of the older commit,
e.g. ``git worktree add --detach /tmp/before <commit>``) to run ``before`` on that
code instead of this checkout's ``load_clips``. Goal: the larger set needs at most
1.2x the smaller's peak.

    python bench/trainer_memory.py [--sizes 100,400] [--steps 30] [--image-size 128]
        [--epochs 2] [--modes before,after] [--before-root /tmp/before]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SUBJECTS = 10
SHARDS = 4


def peak_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(args):
    from mer_tfx.pipeline.configs import PipelineSettings
    return PipelineSettings().replace(**{
        "transform.steps": args.steps, "transform.image_size": args.image_size,
        "trainer.epochs": args.epochs, "trainer.min_epochs": 1, "trainer.batch_size": 16})


def make_records(count: int, steps: int, size: int) -> list:
    """``count`` clip records, written by ingestion's own writer, with ``steps``
    random-texture PNG frames of ``size`` px."""
    import cv2
    import numpy as np

    from mer_tfx.ingestion.clips import ClipSpec
    from mer_tfx.ingestion.records import build_sequence_example
    from mer_tfx.transform.config import TransformConfig

    classes = TransformConfig().classes
    rng = np.random.default_rng(0)
    records = []
    for number in range(count):
        spec = ClipSpec(row=number + 1, dataset="casme2", subject=f"sub{number % SUBJECTS:02d}",
                        clip=f"clip{number:04d}", clip_dir="",
                        label=classes[number % len(classes)], onset=0, apex=steps // 2,
                        offset=steps - 1, fps=30.0)
        base = cv2.GaussianBlur(rng.integers(0, 255, (size, size), dtype=np.uint8), (5, 5), 0)
        frames = [cv2.imencode(".png", np.clip(base.astype(int) + rng.integers(
            -8, 9, base.shape), 0, 255).astype(np.uint8))[1].tobytes() for _ in range(steps)]
        records.append(build_sequence_example(spec, list(range(steps)), frames, True)
                       .SerializeToString())
    return records


def write_shards(records: list, folder: str) -> str:
    import tensorflow as tf
    os.makedirs(folder, exist_ok=True)
    for shard in range(SHARDS):
        path = os.path.join(folder, f"data_tfrecord-{shard:05d}-of-{SHARDS:05d}.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for record in records[shard::SHARDS]:
                writer.write(record)
    return os.path.join(folder, "*")


def fit(args) -> dict:
    """In the child process: load (``before``) or stream (``after``) the records, fit."""
    import mer_tfx
    import tensorflow as tf
    import tensorflow_transform as tft

    from mer_tfx.schemas import load_schema
    from mer_tfx.trainer import data
    from mer_tfx.trainer.task import fit_model, model_input_key

    settings = settings_for(args)
    config = settings.trainer
    tft_layer = tft.TFTransformOutput(args.graph).transform_features_layer()
    key = model_input_key(config)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mer_bench_spill_") as spill:
        if args.child == "before":
            from tfx_bsl.tfxio import tensor_representation_util
            context_spec, sequence_spec = \
                tensor_representation_util.CreateTfSequenceExampleParserConfig(load_schema())
            files = sorted(tf.io.gfile.glob(args.records))

            def parse(serialized):
                context, sequence, _ = tf.io.parse_sequence_example(serialized, context_spec,
                                                                    sequence_spec)
                return {**context, **sequence}

            raw = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(16).map(parse)
            clips = data.load_clips(raw, tft_layer, key)
        else:
            clips = data.stream_clips([args.records], load_schema(), settings.transform,
                                      tft_layer, spill, key)
        train, validation, _ = data.split_train_validation(
            clips, config.validation_fraction, config.seed)
        _, summary = fit_model(config, settings.transform, train, validation)
    return {"mode": args.child, "clips": len(clips), "epochs": summary["epochs_run"],
            "seconds": round(time.perf_counter() - started, 1),
            "peak_mb": round(peak_mb(), 1), "code": os.path.dirname(mer_tfx.__file__)}


def child(args, mode: str, records: str, graph: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child", mode, "--records", records,
               "--graph", graph, "--steps", str(args.steps), "--image-size",
               str(args.image_size), "--epochs", str(args.epochs)]
    env = dict(os.environ)
    if mode == "before" and args.before_root:
        env["PYTHONPATH"] = os.path.abspath(args.before_root)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"{mode} fit failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,400")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--modes", default="before,after")
    parser.add_argument("--before-root", help="checkout whose code runs the 'before' fits")
    parser.add_argument("--work", help="folder for the records and the transform graph")
    parser.add_argument("--child", choices=("before", "after"), help=argparse.SUPPRESS)
    parser.add_argument("--records", help=argparse.SUPPRESS)
    parser.add_argument("--graph", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(fit(args)), flush=True)
        return

    import mer_tfx  # noqa: F401
    from loso_fits import analyse

    work = args.work or tempfile.mkdtemp(prefix="mer_bench_memory_")
    sizes = [int(n) for n in args.sizes.split(",")]
    records = make_records(max(sizes), args.steps, args.image_size)
    patterns = {n: write_shards(records[:n], os.path.join(work, f"records_{n}")) for n in sizes}
    graph = analyse(records[:40], settings_for(args), os.path.join(work, "graph"))
    graph_dir = os.path.join(work, "graph", "graph")
    del graph, records
    rows = []
    for mode in args.modes.split(","):
        for n in sizes:
            rows.append(child(args, mode, patterns[n], graph_dir))
            print(json.dumps(rows[-1]), flush=True)
    print(f"\nTrainer peak resident memory (VmHWM), motion_cnn_tcn, input {args.steps} x "
          f"{args.image_size} x {args.image_size} x 2, {args.epochs} epochs, "
          f"{os.cpu_count()} CPU cores")
    print(f"{'mode':<8s} {'clips':>6s} {'peak MiB':>9s} {'fit s':>7s}")
    for row in rows:
        print(f"{row['mode']:<8s} {row['clips']:>6d} {row['peak_mb']:>9.0f} "
              f"{row['seconds']:>7.1f}")
    for mode in args.modes.split(","):
        peaks = [r["peak_mb"] for r in rows if r["mode"] == mode]
        print(f"{mode}: {sizes[-1]} / {sizes[0]} clips peak ratio {peaks[-1] / peaks[0]:.2f} "
              f"(goal <= 1.2)")
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
