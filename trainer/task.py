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


def run_fn(fn_args):
    transform_config = TransformConfig.from_dict(fn_args.custom_config)
    config = TrainerConfig.from_dict(fn_args.custom_config)
    tf.keras.utils.set_random_seed(config.seed)
    raw_schema = io_utils.parse_pbtxt_file(fn_args.schema_file, schema_pb2.Schema())
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    tft_layer = tft_output.transform_features_layer()

    raw_train = data.read_raw(fn_args.data_accessor, fn_args.train_files, raw_schema)
    train, validation, validation_subjects = data.split_train_validation(
        raw_train, tft_layer, config.validation_fraction, config.seed)
    counts = data.label_counts(train)
    validation_size = sum(data.label_counts(validation).values())
    num_classes = len(transform_config.classes)
    log.info("[mer-tfx] training on %d clips %s, validating on %d clips of training subjects "
             "%s", sum(counts.values()), dict(sorted(counts.items())), validation_size,
             validation_subjects)
    if not counts or validation_size == 0:
        raise ValueError("training needs clips in both the training and the validation "
                         "subjects: add subjects or lower validation_fraction")

    input_shape = (transform_config.steps, transform_config.image_size,
                   transform_config.image_size, transform_config.channels)
    model = build_model(config.model, input_shape, num_classes, config.learning_rate)
    train_batches = data.batches(train, config.batch_size, shuffle=True, augment=config.augment,
                                 seed=config.seed, size=sum(counts.values()))
    validation_batches = data.batches(validation, config.batch_size)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                      restore_best_weights=True),
        keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
        keras.callbacks.LambdaCallback(on_epoch_end=_progress),
    ]
    started = time.perf_counter()
    history = model.fit(
        train_batches, validation_data=validation_batches, epochs=config.epochs,
        class_weight=data.class_weights(counts, num_classes) if config.class_weights else None,
        callbacks=callbacks, verbose=0)
    train_seconds = time.perf_counter() - started

    signatures = make_signatures(model, tft_layer, raw_schema, transform_config.classes,
                                 transform_config.label_key)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
    epochs_run = len(history.history["loss"])
    summary = {"epochs_run": epochs_run,
               "train_seconds": round(train_seconds, 2),
               # includes the validation pass of each epoch
               "train_clips_per_second": round(sum(counts.values()) * epochs_run / train_seconds,
                                               2),
               "best_val_loss": float(min(history.history["val_loss"])),
               "validation_subjects": validation_subjects,
               "train_clips_by_class": {transform_config.classes[c]: n
                                        for c, n in sorted(counts.items())},
               "parameters": int(model.count_params()), "model": config.model}
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "training_summary.json"),
                           "w") as handle:
        handle.write(json.dumps(summary, indent=2))
    log.info("[mer-tfx] trained %s", summary)
