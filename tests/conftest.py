"""Shared fixtures. TF_USE_LEGACY_KERAS must be set before TensorFlow is imported."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import csv  # noqa: E402
import tempfile  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# In-process Beam for most tests: the multi-process runner costs seconds of start-up
# per job; one test keeps the default multi-process mode covered.
FAST_BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def record_subject(record: bytes) -> str:
    """The ``subject`` context feature of a serialized clip record (ingestion/records.py)."""
    import tensorflow as tf

    example = tf.train.SequenceExample.FromString(record)
    return example.context.feature["subject"].bytes_list.value[0].decode("utf-8")


def write_clip(folder, first, last, shape=(96, 80), seed=0, ext=".png", prefix="frame_"):
    """A clip folder of noise frames numbered first..last (inclusive)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for number in range(first, last + 1):
        image = rng.integers(0, 255, size=shape, dtype=np.uint8)
        cv2.imwrite(os.path.join(folder, f"{prefix}{number}{ext}"), image)


@pytest.fixture
def csv_dataset(tmp_path):
    """A generic-format dataset: 3 subjects x 2 clips of 12 frames, all rows good."""
    root = tmp_path / "frames"
    rows = []
    for s, subject in enumerate(["alice", "bob", "carol"]):
        for c, label in enumerate(["happiness", "surprise"]):
            write_clip(str(root / subject / f"clip{c}"), 100, 111, seed=10 * s + c)
            rows.append({"subject": subject, "clip": f"clip{c}", "onset": 101, "apex": 105,
                         "offset": 110, "label": label})
    annotations = tmp_path / "annotations.csv"
    with open(annotations, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(root), str(annotations), rows


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory):
    """One full local pipeline run on a small synthetic CASME II-layout dataset.

    Tiny model settings (8 steps of 32x32, 3 epochs): this checks the plumbing, not
    accuracy (bench/ measures that). UAR threshold 0 so the model is blessed/pushed.
    Ingestion off its defaults (64-px crops, Farneback flow, no registration), so a
    client that ignored the model's recorded preprocessing would be caught.
    """
    import types

    from mer_tfx.pipeline.configs import EvaluateSettings, IngestSettings, PipelineSettings
    from mer_tfx.trainer.config import TrainerConfig
    from mer_tfx.transform.config import TransformConfig
    from mer_tfx.pipeline.local_runner import run
    from mer_tfx.synthetic import generate

    base = tmp_path_factory.mktemp("pipeline")
    data = generate("casme2", str(base / "data"), subjects=8, clips_per_class=2, seed=1,
                    progress=False)
    settings = PipelineSettings(
        dataset="casme2", root=data.root, annotations=data.annotations,
        output=str(base / "out"),
        # not the defaults: predict must take them from the model (test_run_binding.py)
        ingest=IngestSettings(crop_size=64, flow_algorithm="farneback", register=False),
        transform=TransformConfig(steps=8, image_size=32),
        trainer=TrainerConfig(epochs=3, patience=3, batch_size=8),
        evaluate=EvaluateSettings(uar_threshold=0.0))
    temp_dir, tempfile.tempdir = tempfile.tempdir, str(base / "temp")  # what a run leaves
    os.makedirs(tempfile.tempdir)
    try:
        run(settings)
    finally:
        tempfile.tempdir = temp_dir
    return types.SimpleNamespace(settings=settings, pipeline_root=settings.pipeline_root,
                                 class_names=settings.class_names, data=data,
                                 temp_dir=str(base / "temp"))
