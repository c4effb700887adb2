"""Grad-CAM: shapes for every builder, maps that follow the motion, predict --explain
and the report's per-class explanation on the session's pipeline run."""
import json
import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
import tf_keras as keras

from mer_tfx.explain.gradcam import GradCam, normalised
from mer_tfx.trainer.models import build_model

MER_TFX = os.path.join(os.path.dirname(sys.executable), "mer-tfx")
SIDE, STEPS = 32, 4
MOTION_SIDE = 64  # motion test: an 8 x 8 map at 64 px (motion_cnn_tcn keeps 1/8 of the side)


@pytest.mark.parametrize("name, shape, map_shape", [
    ("motion_cnn_tcn", (STEPS, SIDE, SIDE, 2), (STEPS, SIDE, SIDE)),
    ("thesis_cnn_bilstm", (STEPS, SIDE, SIDE, 1), (STEPS, SIDE, SIDE)),
    ("parallel_cnn_lstm", (STEPS, SIDE, SIDE, 1), (STEPS, SIDE, SIDE)),
    ("ststnet", (28, 28, 3), (28, 28)),
    ("off_apexnet", (28, 28, 3), (28, 28)),
    ("flow_ensemble", (28, 28, 3), (28, 28)),
])
def test_every_builder_gets_a_finite_map_of_its_input_shape(name, shape, map_shape):
    model = build_model(name, shape, 3)
    cam = GradCam(model)
    inputs = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    maps, probabilities = cam(inputs)
    assert maps.shape == (2, *map_shape)
    assert np.isfinite(maps).all() and (maps >= 0).all()
    assert probabilities.shape == (2, 3)
    streams = {"ststnet": 3, "off_apexnet": 2, "flow_ensemble": 4}.get(name, 1)
    assert len(cam.targets) == streams
    if name == "parallel_cnn_lstm":  # its spatial branch reads the apex (middle) step only
        assert cam.steps_of == [[STEPS // 2]]


def _clip(rng, centre, label_noise=0.3, side=MOTION_SIDE):
    """A clip whose motion channel has a blob at ``centre`` in steps 1.., on a noisy face."""
    rows, cols = np.mgrid[0:side, 0:side]
    blob = np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * 4.0 ** 2))
    clip = np.zeros((STEPS, side, side, 2), np.float32)
    clip[..., 0] = rng.normal(size=(side, side)) * label_noise
    for step in range(1, STEPS):
        clip[step, ..., 1] = blob * step / (STEPS - 1) * 3 + rng.normal(size=blob.shape) * 0.2
    return clip


def test_the_map_peaks_where_the_motion_is():
    """Class 0 moves at the top left, class 1 at the bottom right (each within a few px
    of a fixed place): the trained model's map peaks near the place that moved."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    places = {0: (16, 20), 1: (44, 40)}
    x, y = [], []
    for index in range(96):
        label = index % 2
        jitter = rng.integers(-3, 4, size=2)
        x.append(_clip(rng, np.add(places[label], jitter)))
        y.append(label)
    model = build_model("motion_cnn_tcn", (STEPS, MOTION_SIDE, MOTION_SIDE, 2), 2)
    model.fit(np.stack(x), np.array(y), epochs=12, batch_size=16, verbose=0)
    cam = GradCam(model)
    for label, place in places.items():
        maps, probabilities = cam(_clip(rng, place)[None])
        assert probabilities[0].argmax() == label
        spatial = normalised(maps[0]).sum(axis=0)
        peak = np.unravel_index(int(spatial.argmax()), spatial.shape)
        distance = float(np.hypot(peak[0] - place[0], peak[1] - place[1]))
        rows, cols = np.mgrid[0:MOTION_SIDE, 0:MOTION_SIDE]
        chance = float(np.hypot(rows - place[0], cols - place[1]).mean())
        assert distance < chance / 2, (label, peak, distance, chance)


def test_a_model_without_the_model_inputs_signature_is_refused_with_what_to_do(tmp_path):
    from mer_tfx.explain.exported import ExportedModel

    model = build_model("flow_ensemble", (28, 28, 3), 3)
    model.save(str(tmp_path / "old"), save_format="tf", save_traces=False)
    with pytest.raises(ValueError, match="model_inputs.*train the model again"):
        ExportedModel(str(tmp_path / "old"))


def _png_ok(path):
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50


@pytest.mark.slow
def test_predict_explain_writes_the_overlays_and_the_map(pipeline_run, tmp_path):
    clip = pipeline_run.data.clips[0]
    folder = os.path.join(pipeline_run.data.root, clip["subject"], clip["clip"])
    model = os.path.join(pipeline_run.settings.serving_dir, "mer_model")
    out = tmp_path / "why"
    done = subprocess.run([MER_TFX, "predict", "--model", model, "--frames", folder,
                           "--crop-size", str(pipeline_run.settings.ingest.crop_size),
                           "--explain", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    explanation = result["explanation"]
    assert explanation["explained_class"] == result["predicted_class"]
    transform = pipeline_run.settings.transform
    heat = np.load(out / "gradcam.npy")
    if pipeline_run.settings.trainer.reads_flow:  # a map over the flow input, on the apex
        assert heat.shape == (transform.flow_size, transform.flow_size)
        drawn = ("apex.png",)
    else:  # a map per input frame, drawn as a strip too
        assert heat.shape == (transform.steps, transform.image_size, transform.image_size)
        drawn = ("strip.png", "apex.png")
    assert np.isfinite(heat).all() and (heat >= 0).all()
    for name in drawn:
        _png_ok(out / name)
    assert explanation["seconds"] > 0


@pytest.mark.slow
def test_report_explain_averages_maps_per_class(pipeline_run, tmp_path):
    from mer_tfx.evaluation.report import write_report

    report = write_report(pipeline_run.pipeline_root, str(tmp_path), explain=True)
    explanations = report["explanations"]
    per_class = explanations["per_class"]
    assert list(per_class) == pipeline_run.class_names
    assert sum(c["clips"] for c in per_class.values()) == explanations["clips"]
    assert explanations["clips"] == report["overall"]["example_count"]
    confusion = np.array(report["confusion_matrix"]["counts"])
    assert [c["correct"] for c in per_class.values()] == list(np.diag(confusion).astype(int))
    _png_ok(report["files"]["explanations.png"])
    with open(report["files"]["report.html"], encoding="utf-8") as handle:
        assert "Where the model looks" in handle.read()
    with open(report["files"]["metrics.json"]) as handle:
        assert json.load(handle)["explanations"]["clips"] == explanations["clips"]
