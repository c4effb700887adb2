"""In-process leave-one-subject-out for benches: Transform analysed per fold, models fitted
with the Trainer's own code.

Per fold, tf.Transform's statistics are computed on that fold's training subjects only
(tft_beam.AnalyzeDataset, as the Transform component does), the validation subjects
of epoch selection are drawn from those training subjects (trainer/data.py), and the
held-out subject is only predicted. Predictions are pooled over the folds.
Cheaper than ``mer-tfx cv`` (no TFMA, no Pusher, one analysis shared by every model
and seed of a fold), with the same data path and the same model selection.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import tempfile

import mer_tfx  # noqa: F401
import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tfx_bsl.public import tfxio
from tfx_bsl.tfxio import tensor_representation_util

from mer_tfx.pipeline.beam_args import LOCAL_RUNNER
from mer_tfx.schemas import load_schema
from mer_tfx.trainer import data
from mer_tfx.trainer.config import FLOW_MODELS
from mer_tfx.trainer.task import fit_model, model_input_key
from mer_tfx.transform.preprocessing import preprocessing_fn


def context_value(record: bytes, key: str) -> str:
    return tf.train.SequenceExample.FromString(record).context.feature[key] \
        .bytes_list.value[0].decode()


def analyse(records: list, settings, folder: str) -> tft.TFTransformOutput:
    """The transform graph with statistics of ``records`` only."""
    schema = load_schema()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "train.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
    source = tfxio.TFSequenceExampleRecord(file_pattern=path, schema=schema,
                                           telemetry_descriptors=["bench"])
    function = functools.partial(preprocessing_fn, custom_config=settings.custom_config())
    with beam.Pipeline(runner=LOCAL_RUNNER) as pipeline, \
            tft_beam.Context(temp_dir=os.path.join(folder, "tmp")):
        batches = pipeline | "Read" >> source.BeamSource()
        transform_fn = ((batches, source.TensorAdapterConfig())
                        | "Analyse" >> tft_beam.AnalyzeDataset(function))
        _ = transform_fn | "Write" >> tft_beam.WriteTransformFn(os.path.join(folder, "graph"))
    return tft.TFTransformOutput(os.path.join(folder, "graph"))


def transformed(records: list, tft_output, key: str) -> data.Clips:
    """The records transformed and held in memory (bench sets are small; the Trainer
    itself streams, data.stream_clips)."""
    context_spec, sequence_spec = \
        tensor_representation_util.CreateTfSequenceExampleParserConfig(load_schema())
    context, sequence, _ = tf.io.parse_sequence_example(tf.constant(records), context_spec,
                                                        sequence_spec)
    return data.load_clips(tf.data.Dataset.from_tensors({**context, **sequence}),
                           tft_output.transform_features_layer(), key)


def loso_predictions(records: list, settings, models: list, seeds: list,
                     progress=print) -> tuple:
    """(truth, {(model, seed): predicted}) pooled over leave-one-subject-out folds; class
    ids in ``settings.class_names`` order, clips in (subject, clip) order."""
    subjects = sorted({context_value(r, "subject") for r in records})
    # one graph for every model of a fold: with flow_xf if any model reads it
    flow_model = next((name for name in models if name in FLOW_MODELS), None)
    graph_settings = settings.replace(**{"trainer.model": flow_model}) if flow_model \
        else settings
    truth, predicted = [], {}
    with tempfile.TemporaryDirectory(prefix="mer_bench_loso_") as work:
        for number, held_out in enumerate(subjects, start=1):
            train = [r for r in records if context_value(r, "subject") != held_out]
            test = [r for r in records if context_value(r, "subject") == held_out]
            tft_output = analyse(train, graph_settings, os.path.join(work, held_out))
            fold_truth = None
            for name in models:
                config = dataclasses.replace(settings.trainer, model=name)
                key = model_input_key(config)
                clips = transformed(train, tft_output, key)
                evaluation = transformed(test, tft_output, key)
                fold_truth = evaluation.labels
                fraction = config.validation_fraction if config.uses_validation else 0
                for seed in seeds:
                    config = dataclasses.replace(config, seed=seed)
                    fit, validation, _ = data.split_train_validation(clips, fraction, seed)
                    model, _ = fit_model(config, settings.transform, fit, validation)
                    out = model.predict(evaluation.inputs, batch_size=32, verbose=0)
                    predicted.setdefault((name, seed), []).extend(out.argmax(axis=1).tolist())
                    tf.keras.backend.clear_session()
            truth.extend(fold_truth.tolist())
            progress(f"fold {number}/{len(subjects)} ({held_out}, {len(test)} clips) done")
    return np.array(truth), {k: np.array(v) for k, v in predicted.items()}
