"""Subject-independent cross-validation with metrics pooled over folds."""
import json
import os

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support, recall_score

from mer_tfx.errors import UserError
from mer_tfx.protocols.cross_validation import pooled_metrics, subject_folds

SUBJECTS = [f"sub{i:02d}" for i in range(1, 8)]


def test_leave_one_subject_out_holds_each_subject_out_once():
    folds = subject_folds(SUBJECTS * 2)
    assert folds == [[s] for s in SUBJECTS]


def test_k_subject_groups_partition_the_subjects_deterministically():
    folds = subject_folds(SUBJECTS, folds=3, seed=4)
    assert sorted(s for fold in folds for s in fold) == SUBJECTS
    assert [len(f) for f in folds] == [3, 2, 2]
    assert folds == subject_folds(list(reversed(SUBJECTS)), folds=3, seed=4)


@pytest.mark.parametrize("subjects, folds", [(["a", "b"], 0), (SUBJECTS, 1)])
def test_bad_fold_requests_say_what_to_fix(subjects, folds):
    with pytest.raises(UserError):
        subject_folds(subjects, folds)


def test_pooled_figures_equal_scikit_learn_on_all_folds_predictions():
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    truths, predictions, confusions = [], [], []
    for _ in range(4):  # four folds of different sizes; class "c" absent from some
        truth = rng.integers(0, 3 if rng.random() < 0.5 else 2, size=rng.integers(3, 9))
        predicted = np.where(rng.random(truth.size) < 0.6, truth, rng.integers(0, 3, truth.size))
        confusion = np.zeros((3, 3))
        np.add.at(confusion, (truth, predicted), 1)
        truths.append(truth), predictions.append(predicted), confusions.append(confusion)
    truth, predicted = np.concatenate(truths), np.concatenate(predictions)
    pooled = pooled_metrics(classes, confusions)
    present = sorted(set(truth.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=[0, 1, 2], zero_division=0)
    for i, row in enumerate(pooled["per_class"]):
        assert row["class"] == classes[i]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (precision[i], recall[i], f1[i], support[i]))
    assert pooled["overall"]["uar"] == pytest.approx(
        recall_score(truth, predicted, labels=present, average="macro", zero_division=0))
    assert pooled["overall"]["uf1"] == pytest.approx(
        f1_score(truth, predicted, labels=present, average="macro", zero_division=0))
    assert pooled["overall"]["example_count"] == truth.size


@pytest.mark.slow
def test_loso_runs_a_pipeline_per_subject_and_pools_their_tfma_matrices(tmp_path):
    from mer_tfx.evaluation.results import build_report
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.protocols.cross_validation import SUMMARY_JSON, run_cross_validation
    from mer_tfx.synthetic import generate

    data = generate("casme2", str(tmp_path / "data"), subjects=3, clips_per_class=1, seed=5,
                    progress=False)
    settings = PipelineSettings.from_dict({
        "dataset": "casme2", "root": data.root, "annotations": data.annotations,
        "output": str(tmp_path / "cv"), "ingest": {"crop_size": 48},
        "transform": {"steps": 6, "image_size": 24},
        "trainer": {"epochs": 2, "patience": 2, "batch_size": 8},
        "evaluate": {"uar_threshold": 0.0}})
    summary = run_cross_validation(settings)
    assert summary["protocol"] == "leave-one-subject-out"
    held_out = [s for fold in summary["folds"] for s in fold["eval_subjects"]]
    assert sorted(held_out) == sorted({c["subject"] for c in data.clips})
    counts = np.array(summary["pooled"]["confusion_matrix"]["counts"])
    assert counts.sum() == len(data.clips)
    folds = [np.array(build_report(f["evaluation_path"])["confusion_matrix"]["counts"])
             for f in summary["folds"]]
    np.testing.assert_array_equal(counts, np.sum(folds, axis=0))
    written = json.load(open(tmp_path / "cv" / SUMMARY_JSON))
    assert written["pooled"]["overall"] == summary["pooled"]["overall"]
    for name in ("cv_confusion_matrix.png", "cv_per_class.png"):
        assert os.path.getsize(tmp_path / "cv" / name) > 1000
