"""Landmarks, eyes alignment and face regions (ingestion/landmarks.py, align.py,
regions.py): a rolled face comes out level with its eyes on the template, the records
and the summary carry the landmarks, a face without them falls back to the box."""
import glob
import json
import os

import cv2
import numpy as np
import pytest

from conftest import FAST_BEAM_ARGS
from mer_tfx.ingestion import align, landmarks, regions

SIZE = 128


@pytest.fixture(scope="module")
def upright():
    """The portrait photo (gray uint8) and its hand-annotated eye centres."""
    from mer_tfx.synthetic.photo_faces import PHOTO_EYES, portrait

    return portrait()[0].astype(np.uint8), np.array(PHOTO_EYES, np.float32)


def _posed(photo, points, angle, scale):
    """The photo rolled by ``angle`` degrees and scaled about its eyes' midpoint, in a
    320 x 384 frame; (frame, where the eyes went)."""
    centre = tuple(float(v) for v in points[:2].mean(axis=0))
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[:, 2] += np.array([192.0, 130.0]) - np.array(centre)
    frame = cv2.warpAffine(photo, matrix, (384, 320), flags=cv2.INTER_AREA,
                           borderMode=cv2.BORDER_REFLECT)
    return frame, landmarks.transformed(points, matrix)


def test_eyes_alignment_levels_rolled_faces_and_puts_the_eyes_on_the_template(upright):
    """Known roll in (-15..15 degrees, two face sizes), < 1 degree out: the hand-annotated
    eyes, carried into the crop by the clip's transform, lie level (the detector is not
    graded by itself) and on the documented template (< 2% of the side)."""
    for scale in (0.5, 0.65):
        rolled_in, residual, errors = [], [], []
        for angle in (-15.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0):
            frame, true_points = _posed(*upright, angle, scale)
            plan = align.plan_crop(frame, SIZE, align="eyes")
            assert plan.alignment == "eyes" and not plan.repairs
            out = landmarks.transformed(true_points, plan.matrix)
            rolled_in.append(abs(landmarks.eye_roll_degrees(true_points)))
            residual.append(abs(landmarks.eye_roll_degrees(out)))
            errors.append(np.linalg.norm(out - align.template_eyes(SIZE), axis=1).max())
        print(f"scale {scale}: rolled in {np.round(rolled_in, 1)}, out {np.round(residual, 2)}"
              f" deg, eye error {np.round(errors, 2)} px")
        assert sorted(rolled_in)[1] > 3.0  # what the box crop keeps
        assert max(residual) < 1.0
        assert max(errors) < 0.02 * SIZE


def test_a_crop_of_an_aligned_face_shows_its_eyes_on_the_template(upright):
    frame, _ = _posed(*upright, 12.0, 0.6)
    plan = align.plan_crop(frame, SIZE, align="eyes")
    again = landmarks.find_landmarks(plan.apply(frame), (0, 0, SIZE, SIZE))
    # found again in the crop's pixels: level (the irises; MTCNN's points alone: ~2 deg)
    assert abs(landmarks.eye_roll_degrees(again)) < 1.0
    assert np.abs(again[:2] - align.template_eyes(SIZE)).max() < 0.02 * SIZE


def test_template_positions_are_as_documented():
    assert np.allclose(align.template_eyes(128), [[44.3, 50.7], [82.7, 50.7]])
    points = np.array([[10, 40], [50, 10], [30, 50], [20, 70], [45, 70]], np.float32)
    matrix = align.eye_matrix(points, 64)
    assert np.allclose(landmarks.transformed(points, matrix)[:2], align.template_eyes(64),
                       atol=1e-4)
    with pytest.raises(ValueError, match="align must be one of"):
        align.plan_crop(np.zeros((40, 40), np.uint8), 32, align="nose")


def test_box_matrix_maps_points_as_crop_resize_maps_pixels():
    frame = np.zeros((100, 120), np.uint8)
    frame[40, 70] = 255  # one bright pixel inside the box
    box = (50, 20, 60, 60)
    crop = align.FaceCrop(30, box, None, None, "box").apply(frame).astype(float)
    peak = np.unravel_index(np.argmax(crop), crop.shape)
    mapped = landmarks.transformed(np.array([[70.0, 40.0]]), align.box_matrix(box, frame.shape, 30))
    assert np.abs(mapped[0] - [peak[1], peak[0]]).max() <= 1.0


@pytest.fixture(scope="module")
def photo_dataset(tmp_path_factory):
    from mer_tfx.synthetic import generate

    out = tmp_path_factory.mktemp("photo")
    return generate("csv", str(out), subjects=2, clips_per_class=1, seed=3, frame_size=140,
                    face="photo", progress=False)


def _contexts(out_dir):
    import tensorflow as tf

    files = glob.glob(os.path.join(out_dir, "records", "*.tfrecord.gz"))
    return [tf.train.SequenceExample.FromString(r.numpy()).context.feature
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_landmarks_are_in_the_records_and_counted_in_the_summary(photo_dataset, tmp_path):
    from mer_tfx.datasets import Source
    from mer_tfx.ingestion.beam_job import run_ingest

    out = str(tmp_path / "out")
    summary = run_ingest(Source("csv", photo_dataset.root, photo_dataset.annotations), out,
                         size=64, beam_args=FAST_BEAM_ARGS, convert_options={"flow": False})
    assert summary["converted"] == len(photo_dataset.clips) > 0
    assert summary["landmarks_found"] == summary["converted"]
    assert summary["alignment"] == {"eyes": summary["converted"]}
    assert "landmarks_not_found_box" not in summary["repaired_by_kind"]
    template = align.template_eyes(64)
    for context in _contexts(out):
        values = np.array(context["landmarks"].float_list.value).reshape(5, 2)
        assert context["landmarks_found"].int64_list.value[0] == 1
        assert context["alignment"].bytes_list.value[0] == b"eyes"
        assert np.abs(values[:2] - template).max() < 1.0  # the onset's eyes, registered
        assert values[2, 1] > template[0, 1] and values[3, 1] > values[2, 1]  # nose, mouth
    with open(os.path.join(out, "summary.json")) as handle:
        assert json.load(handle)["landmarks_found"] == summary["converted"]


def test_a_face_without_landmarks_falls_back_to_the_box_with_a_counted_repair(
        photo_dataset, tmp_path, monkeypatch):
    from mer_tfx.datasets import Source
    from mer_tfx.ingestion.beam_job import run_ingest

    # a face whose landmarks cannot be read: MTCNN finds none (its score is too low)
    monkeypatch.setattr(align, "find_landmarks", lambda *args, **kwargs: None)
    out = str(tmp_path / "out")
    summary = run_ingest(Source("csv", photo_dataset.root, photo_dataset.annotations), out,
                         size=64, beam_args=FAST_BEAM_ARGS, convert_options={"flow": False})
    converted = summary["converted"]
    assert summary["landmarks_found"] == 0 and summary["face_not_found"] == 0
    assert summary["repaired_by_kind"]["landmarks_not_found_box"] == converted
    assert summary["repaired"] == converted and summary["alignment"] == {"box": converted}
    for context in _contexts(out):
        assert list(context["landmarks"].float_list.value) == [-1.0] * 10
        assert context["landmarks_found"].int64_list.value[0] == 0
        assert context["alignment"].bytes_list.value[0] == b"box"


def test_predict_builds_the_ingested_record_with_alignment_on(photo_dataset):
    import tensorflow as tf

    from mer_tfx.datasets import Source
    from mer_tfx.ingestion.beam_job import split_rows
    from mer_tfx.ingestion.convert import convert_clip
    from mer_tfx.ingestion.readers import read_sources
    from mer_tfx.predict import default_ingest, record_for

    specs, _ = split_rows(read_sources([Source("csv", photo_dataset.root,
                                               photo_dataset.annotations)]))
    spec = specs[0]
    ingest = {**default_ingest(), "crop_size": 64, "flow_algorithm": "farneback"}
    assert ingest["align"] == "eyes"
    ingested = convert_clip(spec, size=64, flow_algorithm="farneback")
    predicted = record_for(spec.clip_dir, spec.onset, spec.apex, spec.offset, ingest)
    a, b = (tf.train.SequenceExample.FromString(c.serialized)
            for c in (ingested, predicted))
    assert a.context.feature["alignment"].bytes_list.value[0] == b"eyes"
    for name in ("landmarks", "landmarks_found", "alignment", "flow_u", "flow_v", "strain",
                 "apex", "face_detected"):
        assert a.context.feature[name] == b.context.feature[name], name
    assert a.feature_lists == b.feature_lists


def test_regions_are_named_boxes_in_crop_space():
    points = [44.3, 50.7, 82.7, 50.7, 63.5, 72.0, 49.0, 91.0, 79.0, 91.0]
    boxes = regions.regions(points, SIZE)
    assert set(boxes) == set(regions.NAMES)
    for x0, y0, x1, y1 in boxes.values():
        assert 0 <= x0 <= x1 <= SIZE and 0 <= y0 <= y1 <= SIZE
    assert boxes["brow_left"][3] <= boxes["eye_left"][1] + 1  # brows above the eyes
    assert boxes["eye_left"][2] <= boxes["eye_right"][0]
    assert boxes["mouth_corner_left"][0] < 49 < boxes["mouth_corner_left"][2]
    assert boxes["chin"][1] > boxes["nose"][3]
    with pytest.raises(ValueError, match="10 values"):
        regions.regions([1, 2, 3], SIZE)
    with pytest.raises(ValueError, match="not found"):
        regions.regions([-1] * 10, SIZE)


def test_gradcam_region_table_sums_to_one_per_class_and_finds_the_moving_region():
    from mer_tfx.explain.per_class import region_table

    points = [44.3, 50.7, 82.7, 50.7, 63.5, 72.0, 49.0, 91.0, 79.0, 91.0]
    side = 32  # the model's input: the regions are scaled from the 128-px crop
    scale = side / SIZE
    rng = np.random.default_rng(0)
    maps, labels = [], []
    for label, region in ((0, "mouth_corner_left"), (1, "brow_right"), (1, "brow_right")):
        x0, y0, x1, y1 = (int(round(v * scale)) for v in regions.regions(points, SIZE)[region])
        heat = rng.uniform(0, 0.002, (side, side))  # faint mass everywhere else
        heat[y0:y1, x0:x1] += 1.0
        maps.append(heat)
        labels.append(label)
    maps.append(rng.uniform(0, 1, (side, side)))  # a clip without landmarks: left out
    labels.append(1)
    found = [(points, SIZE)] * 3 + [None]
    table = region_table(maps, np.array(labels), found, ["happiness", "surprise", "fear"])
    assert table["happiness"]["clips"] == 1 and table["surprise"]["clips"] == 2
    assert table["fear"] == {"clips": 0, "shares": None}
    for name in ("happiness", "surprise"):
        assert sum(table[name]["shares"].values()) == pytest.approx(1.0, abs=1e-3)
    happy, surprised = table["happiness"]["shares"], table["surprise"]["shares"]
    assert max(happy, key=happy.get) == "mouth_corner_left"
    assert max(surprised, key=surprised.get) == "brow_right"


def test_the_generator_rolls_heads_and_records_the_true_eyes(tmp_path):
    from mer_tfx.ingestion.frames import face_box
    from mer_tfx.synthetic import generate
    from mer_tfx.synthetic.builder import SynthError

    rolled = generate("csv", str(tmp_path / "rolled"), subjects=2, clips_per_class=1, seed=5,
                      frame_size=140, face="photo", roll=10, scale_jitter=0.2, progress=False)
    rolls, off = [], []
    for clip in rolled.clips:
        truth = np.array(clip["true_eyes"])
        rolls.append(landmarks.eye_roll_degrees(truth))
        folder = os.path.join(rolled.root, clip["subject"], clip["clip"])
        onset = next(f for f in os.listdir(folder) if f.endswith(f"_{clip['onset']:05d}.png"))
        gray = cv2.imread(os.path.join(folder, onset), cv2.IMREAD_GRAYSCALE)
        found = landmarks.find_landmarks(gray, face_box(gray))
        off.append(np.linalg.norm(found[:2] - truth, axis=1).max()
                   / np.linalg.norm(truth[1] - truth[0]))
    assert max(rolls) - min(rolls) > 8.0  # +-10 per clip on the subjects' own +-6
    assert np.median(off) < 0.08  # the manifest's eyes are where the face's eyes are
    with open(rolled.manifest) as handle:
        manifest = json.load(handle)
    assert manifest["args"]["roll"] == 10 and all(c["true_eyes"] for c in manifest["clips"])
    with pytest.raises(SynthError, match="scale-jitter"):
        generate("csv", str(tmp_path / "c"), subjects=1, face="drawn", scale_jitter=0.1,
                 progress=False)


def test_the_casme2_balance_gives_each_subject_casme2s_class_imbalance(tmp_path):
    from collections import Counter

    from mer_tfx.synthetic import generate, motion

    classes = ("happiness", "disgust", "repression", "surprise", "others")
    assert motion.clips_per_label(classes, 4, "equal") == dict.fromkeys(classes, 4)
    expected = {"others": 4, "disgust": 3, "happiness": 1, "repression": 1, "surprise": 1}
    assert motion.clips_per_label(classes, 4, "casme2") == expected
    data = generate("casme2", str(tmp_path), subjects=1, clips_per_class=4, seed=2,
                    frame_size=64, balance="casme2", progress=False)
    assert Counter(c["label"] for c in data.clips) == expected


def test_landmarks_are_found_again_where_registration_shows_the_head_moved(upright):
    from mer_tfx.ingestion.apex import registered_clip

    frame, _ = _posed(*upright, 0.0, 0.6)
    plan = align.plan_crop(frame, SIZE, align="eyes")
    crops = [plan.apply(frame)]
    for dx in (1.0, 7.0):  # crop pixels: within registration's reach, beyond the limit
        moved = cv2.warpAffine(frame, np.float32([[1, 0, dx / plan.matrix[0, 0]], [0, 1, 0]]),
                               frame.shape[::-1], borderMode=cv2.BORDER_REFLECT)
        crops.append(plan.apply(moved))
    still, refound = align.refound(plan, crops[:2], registered_clip(crops[:2]))
    assert not refound and still is plan
    after, refound = align.refound(plan, crops, registered_clip(crops))
    assert refound and align.largest_shift(crops)[0] == 2
    # registered back onto the onset, the face is where it was: the mean barely moves
    assert np.abs(after.landmarks - plan.landmarks).max() < 0.02 * SIZE


@pytest.mark.slow
def test_report_explain_has_the_region_table_of_the_run(pipeline_run, tmp_path):
    from mer_tfx.evaluation.report import write_report

    report = write_report(pipeline_run.pipeline_root, str(tmp_path), explain=True)
    table = report["explanations"]["regions"]
    assert list(table) == pipeline_run.class_names
    assert sum(row["clips"] for row in table.values()) > 0
    for row in table.values():
        if row["clips"]:
            assert sum(row["shares"].values()) == pytest.approx(1.0, abs=2e-3)
    with open(report["files"]["report.html"], encoding="utf-8") as handle:
        assert "Grad-CAM mass in each face region" in handle.read()
