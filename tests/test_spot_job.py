"""mer-tfx spot: finds the synthetic intervals, fits thresholds without the scored
subject, recognises intervals with a model, and turns bad input into rejects or one line."""
import csv
import json
import os
import shutil

import cv2
import numpy as np
import pytest

from mer_tfx.cli import main
from mer_tfx.spotting import detect
from mer_tfx.spotting.job import run_spot, thresholds_for
from mer_tfx.synthetic.long_layouts import generate_long

IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


@pytest.fixture(scope="module")
def casme_sq(tmp_path_factory):
    out = tmp_path_factory.mktemp("sq") / "data"
    return generate_long("casme_sq", str(out), subjects=2, videos_per_subject=1, seconds=20,
                         frame_size=128, seed=0)


def test_spotting_finds_the_synthetic_intervals(casme_sq, tmp_path):
    summary = run_spot("casme_sq", casme_sq["root"], str(tmp_path / "ours"),
                       annotations=casme_sq["annotations"], beam_args=IN_PROCESS)
    base = run_spot("casme_sq", casme_sq["root"], str(tmp_path / "naive"),
                    annotations=casme_sq["annotations"], beam_args=IN_PROCESS, naive=True)
    ours, naive = summary["evaluation"], base["evaluation"]
    print(f"\nspotting F1 on synthetic CAS(ME)^2 (2 videos, 20 s, 128 px): micro "
          f"{ours['micro']:.3f} macro {ours['macro']:.3f} overall {ours['overall']:.3f}; "
          f"naive whole-face difference overall {naive['overall']:.3f}")
    assert summary["videos"] == summary["spotted_videos"] == 2
    assert summary["frames"] == 2 * 600
    assert summary["regions"] == "landmarks" and summary["landmarks_not_found"] == 0
    assert ours["overall"] >= 0.3 and ours["overall"] >= 2 * naive["overall"]
    with open(tmp_path / "ours" / "intervals.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {r["type"] for r in rows} <= {"me", "mae"}
    assert all(int(r["onset"]) <= int(r["apex"]) <= int(r["offset"]) for r in rows)
    assert summary["intervals"] == len(rows)
    report = json.loads((tmp_path / "ours" / "spotting.json").read_text())
    assert report["videos"] == 2 and report["overall"]["overall"]["f1"] == ours["overall"]
    assert len(os.listdir(tmp_path / "ours" / "timelines")) == 2
    assert len(os.listdir(tmp_path / "ours" / "signals")) == 2
    assert "timelines/" in (tmp_path / "ours" / "spotting_report.html").read_text()


def _item(subject, name):
    sig = {"micro": np.zeros(50), "macro": np.zeros(50), "f_micro": np.zeros(50)}
    return detect.Item("d", name, subject, 30.0, 0, 8, sig, (), True)


def test_fit_never_sees_the_scored_subject():
    items = [_item("s1", "a"), _item("s1", "b"), _item("s2", "c"), _item("s3", "d")]
    calls = []  # the subjects each choice was made on

    def chooser(training, base):
        calls.append({i.subject for i in training})
        return detect.Thresholds(p_micro=float(len(calls)))  # names the call

    chosen = detect.loso_thresholds(items, chooser=chooser)
    assert len(calls) == 3
    for subject, thresholds in chosen.items():
        trained_on = calls[int(thresholds.p_micro) - 1]
        assert subject not in trained_on
        assert trained_on == {"s1", "s2", "s3"} - {subject}
    assert thresholds_for(items, detect.Thresholds(), fit=False)["s1"] == detect.Thresholds()


def test_fit_thresholds_come_from_the_other_subjects(casme_sq, tmp_path):
    summary = run_spot("casme_sq", casme_sq["root"], str(tmp_path / "fit"),
                       annotations=casme_sq["annotations"], beam_args=IN_PROCESS, fit=True)
    assert summary["fit"] and set(summary["thresholds"]) == {"s15", "s16"}
    print(f"\nwith --fit (leave one subject out): overall F1 "
          f"{summary['evaluation']['overall']:.3f}")


def test_spotted_intervals_get_the_models_emotion(casme_sq, tmp_path):
    import tensorflow as tf

    class Constant(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, examples):
            n = tf.shape(examples)[0]
            names = tf.constant(["happiness", "surprise", "disgust"])
            return {"class_names": tf.fill([n], "surprise"),
                    "classes": tf.tile(names[None], [n, 1]),
                    "probabilities": tf.tile(tf.constant([[0.2, 0.7, 0.1]]), [n, 1])}

    model = Constant()
    tf.saved_model.save(model, str(tmp_path / "model"),
                        signatures={"serving_default": model.serve})
    summary = run_spot("casme_sq", casme_sq["root"], str(tmp_path / "str"),
                       annotations=casme_sq["annotations"], beam_args=IN_PROCESS,
                       model=str(tmp_path / "model"))
    with open(tmp_path / "str" / "intervals.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["emotion"] == "surprise" and r["probability"] == "0.7" for r in rows)
    report = json.loads((tmp_path / "str" / "spotting.json").read_text())
    analysed = report["str"]
    assert analysed["per_class"]["negative"]["tp"] == 0  # it never says negative
    assert report["strs"] == pytest.approx(report["overall"]["overall"]["f1"] * analysed["uf1"])
    assert summary["evaluation"]["strs"] == pytest.approx(report["strs"])


def test_frames_missing_in_the_middle_reject_that_video_only(casme_sq, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(casme_sq["root"], root)
    folder = root / "rawpic" / "s16" / "16_0101disgustingteeth"
    for number in range(200, 220):
        os.remove(folder / f"img{number:03d}.jpg")
    summary = run_spot("casme_sq", str(root), str(tmp_path / "out"), beam_args=IN_PROCESS)
    assert [(r["video"], r["reason"]) for r in summary["rejects"]] == [
        ("s16/16_0101disgustingteeth", "missing_frames")]
    assert "199" in summary["rejects"][0]["detail"] or "200" in summary["rejects"][0]["detail"]
    assert summary["spotted_videos"] == 1 and summary["rejected_videos"] == 1


def test_a_video_file_is_spotted_in_place(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "P01").mkdir()
    writer = cv2.VideoWriter(str(tmp_path / "P01" / "rec.avi"), cv2.VideoWriter_fourcc(*"FFV1"),
                             30.0, (96, 96), isColor=False)
    for _ in range(120):
        writer.write(rng.integers(100, 110, (96, 96), dtype=np.uint8))
    writer.release()
    summary = run_spot("video", str(tmp_path), str(tmp_path / "out"), beam_args=IN_PROCESS)
    assert summary["spotted_videos"] == 1 and summary["frames"] == 120
    assert summary["face_not_found"] == 1 and summary["landmarks_not_found"] == 1
    assert "evaluation" not in summary


def _error_lines(stderr: str) -> list:
    """The error lines of stderr (progress lines are INFO log lines); no traceback."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if "error" in line.lower()]


def test_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "P01").mkdir()
    (tmp_path / "P01" / "broken.avi").write_bytes(b"not a video" * 100)
    code = main(["spot", "--dataset", "video", "--root", str(tmp_path), "--out",
                 str(tmp_path / "out"), "--beam-arg=--direct_running_mode=in_memory"])
    errors = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(errors) == 1 and "unreadable_video" in errors[0]
    sheet = tmp_path / "intervals.csv"
    sheet.write_text("subject,video,onset,apex,offset,label\n")
    code = main(["spot", "--dataset", "video", "--root", str(tmp_path), "--annotations",
                 str(sheet), "--out", str(tmp_path / "out2")])
    errors = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(errors) == 1 and "no rows" in errors[0]
