"""Epoch selection and training reproducibility (trainer/selection.py, trainer/data.py)."""
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import f1_score, recall_score

from mer_tfx.trainer import data
from mer_tfx.trainer.config import TrainerConfig
from mer_tfx.trainer.selection import BestValidationEpoch, selection_sentence, validation_scores
from mer_tfx.trainer.task import fit_model
from mer_tfx.transform.config import TransformConfig


def test_validation_scores_equal_scikit_learn():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 3])
    probabilities = rng.dirichlet(np.ones(5), size=len(labels))
    scores = validation_scores(probabilities, labels)
    predicted = probabilities.argmax(axis=1)
    present = sorted(set(labels))
    assert scores["uar"] == pytest.approx(recall_score(labels, predicted, labels=present,
                                                       average="macro", zero_division=0))
    assert scores["uf1"] == pytest.approx(f1_score(labels, predicted, labels=present,
                                                   average="macro", zero_division=0))
    assert scores["loss"] == pytest.approx(
        -np.mean(np.log(probabilities[np.arange(len(labels)), labels])))


class _ScriptedModel:
    """Stands in for a Keras model: epoch e predicts script[e]; weights are the epoch number."""

    def __init__(self, script):
        self.script, self.epoch, self.stop_training = script, 0, False
        self.weights = None

    def predict_on_batch(self, rows):
        return self.script[self.epoch][np.asarray(rows)]

    def get_weights(self):
        return [self.epoch]

    def set_weights(self, weights):
        self.weights = weights


def _probabilities(labels, correct, confidence):
    """Predictions right on the first ``correct`` clips, with the given confidence."""
    out = np.full((len(labels), 2), 1 - confidence)
    for i, label in enumerate(labels):
        predicted = label if i < correct else 1 - label
        out[i, predicted] = confidence
    return out


def _run(script, labels, **kwargs):
    # the validation set as the Trainer passes it: batches of (inputs, labels), here the
    # inputs are row numbers into the scripted predictions
    batches = tf.data.Dataset.from_tensor_slices((np.arange(len(labels)), labels)).batch(3)
    callback = BestValidationEpoch(batches, **kwargs)
    model = _ScriptedModel(script)
    callback.set_model(model)
    for epoch in range(len(script)):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {})
        if model.stop_training:
            break
    callback.on_train_end()
    return callback, model, epoch


def test_best_uar_is_kept_ties_go_to_lower_loss_and_early_epochs_are_skipped():
    labels = np.array([0, 0, 1, 1])
    script = [
        _probabilities(labels, 4, 0.9),  # epoch 1: perfect, but before min_epochs
        _probabilities(labels, 2, 0.6),
        _probabilities(labels, 3, 0.6),  # epoch 3: best UAR, loss higher than epoch 4's
        _probabilities(labels, 3, 0.7),  # epoch 4: same UAR, lower loss -> kept
        _probabilities(labels, 2, 0.9),
    ]
    callback, model, _ = _run(script, labels, min_epochs=2, patience=10)
    assert callback.best_epoch == 3 and model.weights == [3]
    assert len(callback.history) == 5


def test_training_stops_after_patience_epochs_past_the_best():
    labels = np.array([0, 1])
    script = [_probabilities(labels, 2, 0.9)] + [_probabilities(labels, 1, 0.6)] * 9
    callback, model, stopped_at = _run(script, labels, min_epochs=1, patience=3)
    assert callback.best_epoch == 0 and stopped_at == 3 and model.weights == [0]


def test_selection_sentence_says_no_held_out_subject_was_used():
    fixed = selection_sentence({"epoch_selection": "fixed", "epochs_run": 40, "kept_epoch": 40})
    assert "exactly 40 epochs" in fixed and "no held-out subject" in fixed
    chosen = selection_sentence({"epoch_selection": "validation", "epochs_run": 30,
                                 "kept_epoch": 20, "selection_metric": "uar", "min_epochs": 10,
                                 "patience": 10, "kept_validation_scores": {"uar": 0.8},
                                 "validation_subjects": ["sub05", "sub08"]})
    assert "epoch 20 of 30" in chosen and "UAR 0.800" in chosen and "2 validation" in chosen
    one = selection_sentence({"epoch_selection": "validation", "epochs_run": 30,
                              "kept_epoch": 20, "validation_subjects": ["sub05"]})
    assert "on 1 validation subject drawn from" in one


def _clips(n=24, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    frames = rng.normal(size=(n, 4, 16, 16, 2)).astype(np.float32)
    frames[np.arange(n), :, labels * 4, :, 1] += 3.0  # a learnable "motion" row per class
    subjects = np.array([f"s{i % 6}" for i in range(n)])
    clip_ids = np.array([f"c{i:02d}" for i in range(n)])
    return data.Clips(frames, labels.astype(np.int64), subjects, clip_ids)


def test_same_clips_in_another_record_order_train_the_same_model():
    """Beam writes records in any order; the Trainer sorts them, so the model is the same."""
    transform = TransformConfig(steps=4, image_size=16, classes=("a", "b", "c"))
    config = TrainerConfig(model="motion_cnn_tcn", epochs=3, min_epochs=2, patience=2,
                           batch_size=8)  # the clips are frames
    clips = _clips()
    shuffled = clips.select(np.random.default_rng(1).permutation(len(clips)))
    weights = []
    for source in (clips, shuffled):
        train, validation, subjects = data.split_train_validation(
            data.ordered(source), config.validation_fraction, config.seed)
        model, summary = fit_model(config, transform, train, validation)
        weights.append(model.get_weights())
    assert subjects and summary["kept_epoch"] >= config.min_epochs
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)


def test_fixed_epoch_selection_trains_exactly_the_epochs_on_all_training_subjects():
    transform = TransformConfig(steps=4, image_size=16, classes=("a", "b", "c"))
    config = TrainerConfig(model="motion_cnn_tcn", epochs=3, min_epochs=1,
                           epoch_selection="fixed", batch_size=8)  # the clips are frames
    train, validation, subjects = data.split_train_validation(_clips(), 0, config.seed)
    assert len(train) == 24 and len(validation) == 0 and subjects == []
    _, summary = fit_model(config, transform, train, validation)
    assert summary["epochs_run"] == summary["kept_epoch"] == 3
    assert summary["epoch_selection"] == "fixed" and "validation_curve" not in summary


@pytest.mark.parametrize("values, message", [
    ({"epoch_selection": "best_on_test"}, "epoch_selection"),
    ({"selection_metric": "accuracy"}, "selection_metric"),
    ({"min_epochs": 0}, "min_epochs"),
])
def test_bad_selection_settings_name_the_setting(values, message):
    with pytest.raises(ValueError, match=message):
        TrainerConfig(**values)
