"""Real-texture clips with head jitter, leave-one-subject-out: a registered-difference
baseline against the models.

Data: ``mer-tfx synth --face photo`` (a real portrait photo with hair, glasses and
wrinkles, warped by each class's local motion, plus up to 1 px of head movement per
frame and sensor noise), subsampled to CASME II's class balance (others 99, disgust
63, happiness 32, repression 27, surprise 25 of 246), ingested by the product's Beam
job (face crop, apex, flow).

The baseline, as a new user would write it in 20 lines: the apex face crop registered
onto the onset crop (phase correlation), their difference downsampled to 16 x 16,
standardised, a class-balanced logistic regression. The models are fitted by the
Trainer's own code (bench/loso_fits.py: Transform statistics and validation epoch
selection on the training subjects of each fold). Every figure is pooled over the
folds; models over several seeds (mean ± sd).

With ``--roll R --scale-jitter S`` the heads are also rolled per clip and the faces
sized and placed differently per subject (as real recordings are); ``--align`` chooses
the crop (eyes alignment, the default, or the Haar box).

``--hard`` makes the clips as hard as real ones: each class's motion scaled down to at
or below the head jitter (``--motion-scale``, of the generator's photo amplitude; the
printed line states the px in the 128-px crop), and every frame of the photo varied as
a real recording varies, independently of the class (``natural_variation``: a slow
smooth change of the lighting of up to ~3% and a smooth non-rigid shimmer of the skin of
~0.25 frame px, both AR(1) from frame to frame).

    python bench/real_texture.py [--subjects 8] [--seeds 3] [--models flow_ensemble,ststnet]
        [--roll 8 --scale-jitter 0.15] [--align {eyes,box}] [--hard [--motion-scale 0.15]]
        [--data-seed 0] [--work FOLDER]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mer_tfx  # noqa: F401,E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score, recall_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from figures import mean_sd  # noqa: E402
from loso_fits import context_value, loso_predictions  # noqa: E402
from mer_tfx.datasets import Source  # noqa: E402
from mer_tfx.ingestion.align import ALIGN_MODES  # noqa: E402
from mer_tfx.ingestion.apex import registered  # noqa: E402
from mer_tfx.ingestion.beam_job import run_ingest  # noqa: E402
from mer_tfx.ingestion.flow import FLOW_ALGORITHMS  # noqa: E402
from mer_tfx.pipeline.configs import PipelineSettings  # noqa: E402
from mer_tfx.synthetic import generate, photo_faces  # noqa: E402
from mer_tfx.synthetic.motion import AMPLITUDE_PX  # noqa: E402

CASME2_BALANCE = {"others": 99, "disgust": 63, "happiness": 32, "repression": 27,
                  "surprise": 25}
BASELINE_SIZE = 16
# --hard: per-frame lighting gain (fraction) and skin shimmer (frame px), both at most
LIGHT = 0.03
SHIMMER_PX = 0.25


def balanced_rows(clips, total: int, seed: int) -> list:
    """Manifest clips subsampled to CASME II's class proportions (``total`` clips)."""
    rng = np.random.default_rng(seed)
    scale = total / sum(CASME2_BALANCE.values())
    rows = []
    for label, count in CASME2_BALANCE.items():
        pool = [c for c in clips if c["label"] == label]
        keep = min(len(pool), max(2, round(count * scale)))
        rows += [pool[i] for i in sorted(rng.choice(len(pool), keep, replace=False))]
    return sorted(rows, key=lambda c: (c["subject"], c["clip"]))


def write_csv(rows, path, fps):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "clip", "onset", "apex", "offset", "label", "fps"])
        for c in rows:
            writer.writerow([c["subject"], c["clip"], c["onset"], c["true_apex"], c["offset"],
                             c["label"], fps])


def _smooth_field(rng, shape, cells: int = 4) -> np.ndarray:
    """A smooth random field (-1..1) over ``shape``, from a cells x cells grid."""
    coarse = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC)


def natural_variation(clip_dir: str, seed: int, light: float = LIGHT,
                      shimmer_px: float = SHIMMER_PX) -> None:
    """Rewrite the frames of one clip folder with a real recording's frame-to-frame
    variation that says nothing of the class: a smooth lighting gain field (up to
    about ``light``) and a smooth displacement field (up to about ``shimmer_px``), each
    an AR(1) process over the frames with the fresh field's variance."""
    names = sorted(n for n in os.listdir(clip_dir) if n.endswith(".png"))
    rng = np.random.default_rng(seed)
    gain = warp = None
    for name in names:
        path = os.path.join(clip_dir, name)
        frame = cv2.imread(path, cv2.IMREAD_GRAYSCALE).astype(np.float32)
        fresh_gain = _smooth_field(rng, frame.shape) * light
        fresh_warp = np.stack([_smooth_field(rng, frame.shape) for _ in range(2)]) * shimmer_px
        gain = fresh_gain if gain is None else 0.8 * gain + 0.6 * fresh_gain
        warp = fresh_warp if warp is None else 0.8 * warp + 0.6 * fresh_warp
        y, x = np.mgrid[0:frame.shape[0], 0:frame.shape[1]].astype(np.float32)
        moved = cv2.remap(frame, x + warp[0], y + warp[1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
        cv2.imwrite(path, np.clip(np.rint(moved * (1 + gain)), 0, 255).astype(np.uint8))


def registered_difference(record: bytes) -> np.ndarray:
    example = tf.train.SequenceExample.FromString(record)
    frames = example.feature_lists.feature_list["frames"].feature
    context = example.context.feature
    step = context["apex"].int64_list.value[0] - context["onset"].int64_list.value[0]
    onset, apex = (cv2.imdecode(np.frombuffer(frames[i].bytes_list.value[0], np.uint8),
                                cv2.IMREAD_GRAYSCALE) for i in (0, step))
    difference = registered(onset, apex).astype(np.float32) - onset.astype(np.float32)
    return cv2.resize(difference, (BASELINE_SIZE, BASELINE_SIZE),
                      interpolation=cv2.INTER_AREA).ravel()


def baseline_predictions(records, classes) -> tuple:
    features = np.stack([registered_difference(r) for r in records])
    labels = np.array([classes.index(context_value(r, "label")) for r in records])
    subjects = np.array([context_value(r, "subject") for r in records])
    order = np.lexsort((np.array([context_value(r, "clip") for r in records]), subjects))
    truth, predicted = [], []
    for held_out in sorted(set(subjects)):
        train, test = subjects != held_out, subjects == held_out
        model = make_pipeline(StandardScaler(), LogisticRegression(
            C=0.1, class_weight="balanced", max_iter=5000))
        model.fit(features[train], labels[train])
        test_order = [i for i in order if test[i]]
        truth += labels[test_order].tolist()
        predicted += model.predict(features[test_order]).tolist()
    return np.array(truth), np.array(predicted)


def scores(truth, predicted):
    present = sorted(set(truth.tolist()))
    return (f1_score(truth, predicted, labels=present, average="macro", zero_division=0),
            recall_score(truth, predicted, labels=present, average="macro", zero_division=0))


DATA_OPTIONS = ("subjects", "clips", "jitter", "register", "flow_algorithm", "roll",
                "scale_jitter", "align", "hard", "motion_scale", "data_seed")


def prepared_clips(args, work: str) -> tuple:
    """(synthetic root, manifest rows) of the balanced clips, ingested into
    ``work``/ingest; a ``work`` folder already holding them for the same data options
    is reused (the models can then be compared on identical records)."""
    stamp_path = os.path.join(work, "data_options.json")
    stamp = {name: getattr(args, name) for name in DATA_OPTIONS}
    if os.path.exists(stamp_path):
        with open(stamp_path) as handle:
            saved = json.load(handle)
        if saved["options"] == json.loads(json.dumps(stamp)):
            print(f"reusing the records in {work}", flush=True)
            return saved["root"], saved["rows"]
    per_class = -(-max(CASME2_BALANCE.values()) * args.clips
                  // sum(CASME2_BALANCE.values()) // args.subjects) + 1
    synth = generate("casme2", os.path.join(work, "data"), subjects=args.subjects,
                     clips_per_class=per_class, seed=args.data_seed, face="photo",
                     jitter=args.jitter, roll=args.roll, scale_jitter=args.scale_jitter,
                     progress=False)
    rows = balanced_rows(synth.clips, args.clips, seed=args.data_seed)
    if args.hard:
        for index, row in enumerate(rows):
            natural_variation(os.path.join(synth.root, row["subject"], row["clip"]),
                              1000 * args.data_seed + index)
    write_csv(rows, os.path.join(work, "balanced.csv"), synth.fps)
    started = time.perf_counter()
    summary = run_ingest([Source("csv", synth.root, os.path.join(work, "balanced.csv"))],
                         os.path.join(work, "ingest"), size=128,
                         convert_options={"register": args.register,
                                          "flow_algorithm": args.flow_algorithm,
                                          "align": args.align})
    print(f"ingested {summary['converted']} clips ({summary['rejected']} rejected) in "
          f"{time.perf_counter() - started:.0f} s; crops {summary['alignment']}", flush=True)
    with open(stamp_path, "w") as handle:
        json.dump({"options": stamp, "root": synth.root, "rows": json.loads(
            json.dumps(rows, default=lambda value: np.asarray(value).tolist()))}, handle)
    return synth.root, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--clips", type=int, default=70, help="clips after subsampling")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", default="flow_ensemble,off_apexnet,ststnet")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--jitter", type=float, default=1.0)
    parser.add_argument("--register", action=argparse.BooleanOptionalAction, default=True,
                        help="ingestion registers the crops onto the onset (the default)")
    parser.add_argument("--flow-algorithm", choices=FLOW_ALGORITHMS, default="tvl1",
                        help="flow of the records (the product stores TV-L1)")
    parser.add_argument("--roll", type=float, default=0.0, help="head roll per clip, deg")
    parser.add_argument("--scale-jitter", type=float, default=0.0,
                        help="face size/place variation between subjects")
    parser.add_argument("--align", choices=ALIGN_MODES, default="eyes",
                        help="the face crop of ingestion (the product's default: eyes)")
    parser.add_argument("--hard", action="store_true",
                        help="motion at or below the head jitter, per-frame natural variation")
    parser.add_argument("--motion-scale", type=float, default=0.15,
                        help="with --hard: the photo motion's scale (the generator's: "
                        f"{photo_faces.MOTION_SCALE})")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="seed of the clips (generator, subsampling, natural variation): "
                        "choose settings on one, confirm on another")
    parser.add_argument("--work", help="folder for the data and the records (reused when it "
                        "holds this bench's records of the same data options)")
    args = parser.parse_args(argv)
    if args.hard:  # read by the renderer at every frame, in this process
        photo_faces.MOTION_SCALE = args.motion_scale
    tf.get_logger().setLevel("ERROR")  # retracing notes: every fold builds new models
    work = args.work or tempfile.mkdtemp(prefix="mer_bench_texture_")
    root, rows = prepared_clips(args, work)
    annotations = os.path.join(work, "balanced.csv")
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        tf.io.gfile.glob(os.path.join(work, "ingest", "records", "*.gz")),
        compression_type="GZIP")]

    settings = PipelineSettings(dataset="csv", root=root, annotations=annotations,
                                output=os.path.join(work, "out")).replace(
        **{"trainer.epochs": args.epochs})
    classes = settings.class_names
    results = {"registered difference + logistic regression":
               [scores(*baseline_predictions(records, classes))]}
    print(f"baseline: UF1 {results[next(iter(results))][0][0]:.3f}", flush=True)
    started = time.perf_counter()
    models = [name for name in args.models.split(",") if name]
    if models:
        truth, predicted = loso_predictions(records, settings, models,
                                            list(range(args.seeds)),
                                            progress=lambda line: print(line, flush=True))
    for name in models:
        results[name] = [scores(truth, predicted[(name, seed)]) for seed in range(args.seeds)]
    seconds = time.perf_counter() - started

    counts = {label: sum(1 for r in rows if r["label"] == label) for label in CASME2_BALANCE}
    if args.hard:
        # frame px -> px of the 128-px eyes crop, whose eyes are 0.3 of its side apart
        to_crop = float(np.mean([128 * 0.30 / np.hypot(*np.subtract(*r["true_eyes"]))
                                 for r in rows]))
        amplitude = [a * photo_faces.MOTION_SCALE * to_crop for a in AMPLITUDE_PX]
        print(f"hard: class motion {amplitude[0]:.2f}-{amplitude[1]:.2f} px peak in the "
              f"128-px crop, head jitter up to {args.jitter * to_crop:.2f} px (sd ~"
              f"{0.25 * args.jitter * to_crop:.2f}); per-frame lighting (up to {LIGHT:.0%}) "
              f"and skin shimmer (up to {SHIMMER_PX} frame px)")
    print(f"\nreal-texture photo clips, head jitter x{args.jitter}, roll +-{args.roll} deg, "
          f"scale jitter {args.scale_jitter}, --align {args.align}, crops "
          f"{'registered' if args.register else 'not registered'} in ingestion, "
          f"{args.flow_algorithm} flow, {args.subjects} subjects, "
          f"{len(records)} clips {counts}; leave-one-subject-out, pooled over "
          f"{args.subjects} folds; models {args.seeds} seeds, up to {args.epochs} epochs "
          f"({seconds / 60:.0f} min); {os.cpu_count()} CPU cores")
    print(f"{'method':<46s} {'UF1 mean ± sd':>15s} {'UAR mean ± sd':>15s}")
    for name, values in results.items():
        print(f"{name:<46s} {mean_sd([u for u, _ in values]):>15s} "
              f"{mean_sd([a for _, a in values]):>15s}")


if __name__ == "__main__":
    main()
