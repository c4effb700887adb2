"""The TFX Trainer entry point (``run_fn``): build, fit with early stopping, export.

Referenced by import path (``mer_tfx.trainer.task.run_fn``) rather than by module
file, so the same code runs locally and baked into the Kubeflow image.
"""
from __future__ import annotations

import json
import logging
import os
import time

import mer_tfx  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.utils import io_utils
from tensorflow_metadata.proto.v0 import schema_pb2

from mer_tfx.transform.config import TransformConfig

from . import data
from .config import TrainerConfig
from .models import build_model
from .signatures import make_signatures

log = logging.getLogger(__name__)


def _progress(epoch, logs):
    shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted((logs or {}).items()))
    log.info("[mer-tfx] epoch %d: %s", epoch + 1, shown)


def fit_model(config: TrainerConfig, transform_config: TransformConfig, train, validation,
              log_dir: str | None = None):
    """Build and fit the configured model; returns (model, summary dict).

    Class weights, training-only augmentation, early stopping on the validation
    subjects (best weights restored), TensorBoard logs in ``log_dir``.
    """
    tf.keras.utils.set_random_seed(config.seed)
    counts = data.label_counts(train)
    train_size = sum(counts.values())
    validation_size = sum(data.label_counts(validation).values())
    num_classes = len(transform_config.classes)
    if not counts or validation_size == 0:
        raise ValueError("training needs clips in both the training and the validation "
                         "subjects: add subjects or lower validation_fraction")
    input_shape = (transform_config.steps, transform_config.image_size,
                   transform_config.image_size, transform_config.channels)
    model = build_model(config.model, input_shape, num_classes, config.learning_rate)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                      restore_best_weights=True),
        keras.callbacks.LambdaCallback(on_epoch_end=_progress),
    ]
    if log_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    started = time.perf_counter()
    history = model.fit(
        data.batches(train, config.batch_size, shuffle=True, augment=config.augment,
                     seed=config.seed, size=train_size),
        validation_data=data.batches(validation, config.batch_size), epochs=config.epochs,
        class_weight=data.class_weights(counts, num_classes) if config.class_weights else None,
        callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - started
    epochs_run = len(history.history["loss"])
    summary = {"model": config.model, "parameters": int(model.count_params()),
               "epochs_run": epochs_run, "train_seconds": round(seconds, 2),
               # includes each epoch's validation pass
               "train_clips_per_second": round(train_size * epochs_run / seconds, 2),
               "best_val_loss": float(min(history.history["val_loss"])),
               "train_clips_by_class": {transform_config.classes[c]: n
                                        for c, n in sorted(counts.items())},
               "validation_clips": validation_size}
    return model, summary


def run_fn(fn_args):
    transform_config = TransformConfig.from_dict(fn_args.custom_config)
    config = TrainerConfig.from_dict(fn_args.custom_config)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    raw_schema = io_utils.parse_pbtxt_file(fn_args.schema_file, schema_pb2.Schema())
    tft_layer = tft.TFTransformOutput(fn_args.transform_output).transform_features_layer()
    raw_train = data.read_raw(fn_args.data_accessor, fn_args.train_files, raw_schema)
    train, validation, validation_subjects = data.split_train_validation(
        raw_train, tft_layer, config.validation_fraction, config.seed)
    log.info("[mer-tfx] validation subjects (from the training subjects): %s",
             validation_subjects)
    model, summary = fit_model(config, transform_config, train, validation,
                               log_dir=fn_args.model_run_dir)
    signatures = make_signatures(model, tft_layer, raw_schema, transform_config.classes,
                                 transform_config.label_key)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
    summary["validation_subjects"] = validation_subjects
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "training_summary.json"),
                           "w") as handle:
        handle.write(json.dumps(summary, indent=2))
    log.info("[mer-tfx] trained %s", summary)
