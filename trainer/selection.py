"""Epoch selection: which weights the Trainer keeps.

- ``validation`` (default): after every epoch the model predicts the validation
  clips (subjects drawn from the *training* subjects), and the epoch with the best
  validation UAR (or UF1) wins; ties go to the lower validation loss. Validation
  loss alone stops on noise with a few dozen clips (a lucky epoch 6 once beat
  epochs reaching 0.85-0.90 accuracy). Epochs before ``min_epochs`` are never
  kept (an under-trained model can tie on a tiny validation set) and training
  stops once ``patience`` epochs after them brought no better score.
- ``fixed``: exactly ``epochs`` epochs, the last weights; no validation subjects.
  This is how the field's honest baselines (STSTNet, MEB) report.

The held-out eval subjects are never looked at by either mode.
"""
from __future__ import annotations

import logging

import numpy as np
import tf_keras as keras

from mer_tfx.evaluation.scores import STATISTICS, summary_statistic
from mer_tfx.logs import PROGRESS_TAG

from .config import SELECTION_METRICS

log = logging.getLogger(__name__)


def validation_scores(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Argmax UAR/UF1/accuracy and mean cross-entropy of one validation pass."""
    num_classes = probabilities.shape[1]
    confusion = np.zeros((num_classes, num_classes))
    np.add.at(confusion, (labels, probabilities.argmax(axis=1)), 1)
    picked = probabilities[np.arange(len(labels)), labels]
    scores = {name: summary_statistic(confusion, name) for name in STATISTICS}
    scores["loss"] = float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())
    return scores


class BestValidationEpoch(keras.callbacks.Callback):
    """Keeps the weights of the best validation epoch (metric, then loss); stops on patience."""

    def __init__(self, validation, metric: str = "uar", min_epochs: int = 1,
                 patience: int = 10):
        """``validation``: a dataset of (inputs, labels) batches, in a fixed order (no
        shuffle, no augmentation), read once per epoch."""
        super().__init__()
        if metric not in SELECTION_METRICS:
            raise ValueError(f"selection metric must be one of {SELECTION_METRICS}")
        self.validation = validation
        self.metric, self.min_epochs, self.patience = metric, min_epochs, patience
        self.best = None  # (metric, -loss)
        self.best_epoch = None
        self.best_scores = None
        self._best_weights = None
        self.history = []

    def predict(self) -> tuple:
        """(probabilities, labels) over the validation batches."""
        probabilities, labels = [], []
        for inputs, batch_labels in self.validation:
            probabilities.append(np.asarray(self.model.predict_on_batch(inputs)))
            labels.append(np.asarray(batch_labels))
        return np.concatenate(probabilities), np.concatenate(labels).astype(np.int64)

    def on_epoch_end(self, epoch, logs=None):
        probabilities, labels = self.predict()
        scores = validation_scores(probabilities, labels)
        self.history.append(scores)
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in scores.items()})
        key = (round(scores[self.metric], 6), -round(scores["loss"], 6))
        if epoch + 1 >= self.min_epochs and (self.best is None or key > self.best):
            self.best, self.best_epoch, self.best_scores = key, epoch, scores
            self._best_weights = self.model.get_weights()
        if (self.best_epoch is not None and epoch - self.best_epoch >= self.patience):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


class EpochProgress(keras.callbacks.Callback):
    """One console line per epoch: epoch N/M, training loss, the selection metric and the best."""

    def __init__(self, epochs: int, selection: BestValidationEpoch | None = None):
        super().__init__()
        self.epochs, self.selection = epochs, selection

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        line = f"{PROGRESS_TAG} epoch {epoch + 1}/{self.epochs}: loss {logs.get('loss', 0):.3f}"
        selection = self.selection
        if selection is not None and selection.history:
            metric = selection.metric
            line += (f", val_{metric} {selection.history[-1][metric]:.3f}, val_loss "
                     f"{selection.history[-1]['loss']:.3f}")
            if selection.best_epoch is not None:
                line += (f" (best val_{metric} {selection.best_scores[metric]:.3f} at epoch "
                         f"{selection.best_epoch + 1})")
            else:
                line += f" (selection starts at epoch {selection.min_epochs})"
        log.info(line)


def selection_sentence(summary: dict) -> str:
    """How the kept weights were chosen, in one sentence (training_summary.json -> reports)."""
    if summary.get("epoch_selection") == "fixed":
        return (f"fixed number of epochs: trained exactly {summary['epochs_run']} epochs on "
                f"all training subjects and kept the last weights; no held-out subject "
                f"was used for model selection")
    subjects = summary.get("validation_subjects")
    who = (f"{len(subjects)} validation subject{'s' if len(subjects) != 1 else ''}"
           if subjects else "validation subjects")
    metric = summary.get("selection_metric", "uar").upper()
    kept = summary.get("kept_validation_scores", {}).get(summary.get("selection_metric", "uar"))
    value = f" {kept:.3f}" if isinstance(kept, (int, float)) else ""
    return (f"kept epoch {summary['kept_epoch']} of {summary['epochs_run']}: the best "
            f"validation {metric}{value} (ties broken by lower loss; min "
            f"{summary.get('min_epochs')} epochs, patience {summary.get('patience')}) on "
            f"{who} drawn from the training subjects; no held-out subject was used for "
            f"model selection")
