"""The TFX Trainer entry point (``run_fn``): build, fit, select the epoch, export.

Referenced by import path (``mer_tfx.trainer.task.run_fn``) rather than by module
file, so the same code runs locally and baked into the Kubeflow image.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time

import mer_tfx  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.utils import io_utils
from tensorflow_metadata.proto.v0 import schema_pb2

from mer_tfx import model_preprocessing
from mer_tfx.logs import PROGRESS_TAG
from mer_tfx.transform.config import TransformConfig
from mer_tfx.transform.preprocessing import FLOW_KEY, FRAMES_KEY

from . import data
from .autograph import leave_keras_alone
from .config import TrainerConfig
from .models import build_model
from .selection import BestValidationEpoch, EpochProgress, selection_sentence
from .signatures import make_signatures

log = logging.getLogger(__name__)
# before anything of the Trainer traces a function (the transform-once pass included)
leave_keras_alone()


def model_input_key(config: TrainerConfig) -> str:
    """The Transform output the configured model reads."""
    return FLOW_KEY if config.reads_flow else FRAMES_KEY


def fit_model(config: TrainerConfig, transform_config: TransformConfig, train,
              validation=None, log_dir: str | None = None):
    """Build and fit the configured model on ``train`` (data.RecordClips, streamed, or
    data.Clips, in memory); returns (model, summary dict).

    Class weights, training-only augmentation, the epoch selection of
    ``config.epoch_selection`` (trainer/selection.py), TensorBoard logs in ``log_dir``.
    """
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    config.check_temporal_strategy(transform_config.temporal_strategy)
    tf.keras.utils.set_random_seed(config.seed)
    counts = data.label_counts(train)
    num_classes = len(transform_config.classes)
    if not counts:
        raise ValueError("no training clips with a label in the class set")
    if config.uses_validation and (validation is None or len(validation) == 0):
        raise ValueError("epoch selection 'validation' needs clips of validation subjects "
                         "(drawn from the training subjects): add subjects, raise "
                         "validation_fraction, or use epoch_selection 'fixed'")
    input_shape = train.input_shape  # frames [T, S, S, C] or flow maps [F, F, 3]
    model = build_model(config.model, input_shape, num_classes, config.learning_rate)
    selection = None
    if config.uses_validation:
        selection = BestValidationEpoch(validation.batches(config.batch_size),
                                        config.selection_metric,
                                        config.first_selectable_epoch, config.patience)
    callbacks = [c for c in (selection, EpochProgress(config.epochs, selection)) if c]
    if log_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    started = time.perf_counter()
    history = model.fit(
        data.batches(train, config.batch_size, shuffle=True, augment=config.augment,
                     seed=config.seed),
        epochs=config.epochs,
        class_weight=data.class_weights(counts, num_classes) if config.class_weights else None,
        callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - started
    epochs_run = len(history.history["loss"])
    summary = {"model": config.model, "parameters": int(model.count_params()),
               "epoch_selection": config.epoch_selection, "epochs_run": epochs_run,
               "train_seconds": round(seconds, 2),
               # includes each epoch's validation pass
               "train_clips_per_second": round(len(train) * epochs_run / seconds, 2),
               "train_clips_by_class": {transform_config.classes[c]: n
                                        for c, n in sorted(counts.items())},
               "validation_clips": 0 if validation is None else len(validation)}
    if selection is not None:
        summary.update({
            "selection_metric": config.selection_metric,
            "min_epochs": config.first_selectable_epoch,
            "patience": config.patience, "kept_epoch": selection.best_epoch + 1,
            "kept_validation_scores": {k: round(v, 4) for k, v in selection.best_scores.items()},
            "validation_curve": [{k: round(v, 4) for k, v in h.items()}
                                 for h in selection.history]})
    else:
        summary["kept_epoch"] = epochs_run
    return model, summary


def run_fn(fn_args):
    transform_config = TransformConfig.from_dict(fn_args.custom_config["transform"])
    config = TrainerConfig.from_dict(fn_args.custom_config["trainer"])
    raw_schema = io_utils.parse_pbtxt_file(fn_args.schema_file, schema_pb2.Schema())
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    tft_layer = tft_output.transform_features_layer()
    # the records are streamed from a local copy, deleted once the model is fitted
    spill = tempfile.TemporaryDirectory(prefix="mer_trainer_records_")
    clips = data.stream_clips(fn_args.train_files, raw_schema, transform_config, tft_layer,
                              spill.name, model_input_key(config))
    fraction = config.validation_fraction if config.uses_validation else 0
    train, validation, validation_subjects = data.split_train_validation(
        clips, fraction, config.seed)
    if config.uses_validation:
        log.info("%s validation subjects (from the training subjects): %s", PROGRESS_TAG,
                 validation_subjects)
    model, summary = fit_model(config, transform_config, train, validation,
                               log_dir=fn_args.model_run_dir)
    spill.cleanup()
    signatures = make_signatures(model, tft_output, raw_schema, transform_config.classes,
                                 transform_config.label_key, model_input_key(config))
    # No per-layer call traces: Keras re-builds the model from its config when it loads
    # it (explain/), and serving, TFMA and predict use the signatures. Tracing every
    # layer was most of the export (2.3 of a fold's 14 s outside the fit,
    # bench/protocols.py); the saved signatures are the same.
    # Nor the optimizer's slots: nothing that reads the model trains it further, and
    # they were 40% of it (668 -> 388 KiB for the default model, 0.18 s less a fold).
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures,
               save_traces=False, include_optimizer=False)
    # the model carries the preprocessing its clients must reproduce (predict reads it)
    summary["preprocessing"] = model_preprocessing.describe(
        fn_args.custom_config["ingest"], fn_args.custom_config["transform"], config.model)
    model_preprocessing.write(fn_args.serving_model_dir, summary["preprocessing"])
    summary["validation_subjects"] = validation_subjects
    summary["model_selection"] = selection_sentence(summary)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "training_summary.json"),
                           "w") as handle:
        handle.write(json.dumps(summary, indent=2))
    log.info("%s trained %s: %s", PROGRESS_TAG, summary["model"], summary["model_selection"])
