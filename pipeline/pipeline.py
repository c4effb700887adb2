"""The MER TFX pipeline definition, shared by the local and the Kubeflow runners.

MerExampleGen -> SubjectSplit -> Transform -> Trainer -> Evaluator -> Pusher, with
ImportSchemaGen, and StatisticsGen -> ExampleValidator on all converted clips. The
frame conversion depends only on the data and the ingestion settings, so it runs once
for every choice of held-out subjects (cross-validation folds share it). Module code
is referenced by import path (not module_file), so nothing is packaged or uploaded at
compile time and the Kubeflow image runs the very same code.
"""
from __future__ import annotations

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)
from tfx import v1 as tfx

from mer_tfx.components.mer_example_gen import EXAMPLES_KEY, INGEST_REPORT_KEY, MerExampleGen
from mer_tfx.components.subject_split import SubjectSplit
from mer_tfx.evaluation.eval_config import build_eval_config
from mer_tfx.schemas import SCHEMA_PATH

from .beam_args import default_beam_args, fold_beam_args, frames_to_read
from .configs import PipelineSettings

PREPROCESSING_FN = "mer_tfx.transform.preprocessing.preprocessing_fn"
RUN_FN = "mer_tfx.trainer.task.run_fn"
MODEL_NAME = "mer_model"


def create_example_gen(settings: PipelineSettings,
                       fingerprint_local_data: bool = True) -> MerExampleGen:
    """The frame conversion, which depends only on the data and the ingestion settings."""
    ingest = settings.ingest
    return MerExampleGen(
        sources=settings.source_list, frame_size=ingest.crop_size, face_crop=ingest.face_crop,
        label_key=settings.transform.label_key, classes=settings.class_names,
        fingerprint_local_data=fingerprint_local_data, **ingest.convert_options)


def create_components(settings: PipelineSettings, schema_path: str = SCHEMA_PATH,
                      fingerprint_local_data: bool = True) -> list:
    """The components in run order.

    ``schema_path`` is where ImportSchemaGen reads the schema when the pipeline runs
    (the copy inside the container image on Kubeflow); ``fingerprint_local_data``
    False when the data is not on this machine (compiling for a cluster).
    """
    custom_config = settings.custom_config()
    ingest = settings.ingest
    example_gen = create_example_gen(settings, fingerprint_local_data)
    subject_split = SubjectSplit(
        examples=example_gen.outputs[EXAMPLES_KEY],
        ingest_report=example_gen.outputs[INGEST_REPORT_KEY],
        eval_subjects=list(ingest.eval_subjects), eval_fraction=ingest.eval_fraction,
        split_seed=ingest.split_seed)
    split_examples = subject_split.outputs["split_examples"]
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs[EXAMPLES_KEY], schema=schema_gen.outputs["schema"])
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    transform = tfx.components.Transform(
        examples=split_examples, schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN, custom_config=custom_config, materialize=False,
        # TFDV statistics of the transformed frames: nothing reads them, and they cost
        # more than the analysis itself (StatisticsGen already describes the raw clips)
        disable_statistics=True,
        # TFT's analyzer cache is keyed by input split, and each fold's train split is
        # its own: nothing would ever read the cache, and writing it cost ~0.4 s a fold
        disable_analyzer_cache=True,
        splits_config=tfx.proto.SplitsConfig(analyze=["train"]),
        # TFT traces the preprocessing_fn as a TF1 graph rather than as tf.functions
        # (three traces in TF2 mode) and saves a TF1 transform graph, which Keras and
        # the serving signatures load as they load a TF2 one: 2.43 -> 1.69 s a fold
        # (bench/fold_executors.py), with the same statistics and model
        force_tf_compat_v1=True)
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN, examples=split_examples,
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"], num_steps=0),
        custom_config=custom_config)
    evaluator = tfx.components.Evaluator(
        examples=split_examples, model=trainer.outputs["model"],
        schema=schema_gen.outputs["schema"],
        eval_config=build_eval_config(settings.class_names, settings.evaluate.uar_threshold,
                                      settings.transform.label_key,
                                      settings.evaluate.min_class_recall),
        example_splits=["eval"])
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=f"{settings.serving_dir}/{MODEL_NAME}")))
    for per_fold in (transform, evaluator):
        per_fold.with_beam_pipeline_args(fold_beam_args(settings.beam_args))
    return [example_gen, subject_split, schema_gen, statistics_gen, example_validator, transform,
            trainer, evaluator, pusher]


SHARED_NODES = ("MerExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator")


def create_pipeline(settings: PipelineSettings, metadata_connection_config=None,
                    pipeline_root: str | None = None, schema_path: str = SCHEMA_PATH,
                    fingerprint_local_data: bool = True,
                    shared_only: bool = False) -> tfx.dsl.Pipeline:
    """``shared_only``: only the components that do not depend on the held-out subjects
    (``SHARED_NODES``: the conversion, the schema, statistics and validation of every
    clip), under the same name, root and Beam arguments, hence the same cache keys as in
    the full pipeline. A cross-validation runs them first, to learn which subjects have
    clips; every fold then reuses their executions from the cache."""
    components = create_components(settings, schema_path, fingerprint_local_data)
    if shared_only:
        components = [c for c in components if c.id in SHARED_NODES]
    return tfx.dsl.Pipeline(
        pipeline_name=settings.pipeline_name,
        pipeline_root=pipeline_root or settings.pipeline_root,
        components=components,
        enable_cache=settings.cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=default_beam_args(
            list(settings.beam_args),
            frames_to_read(settings.source_list) if fingerprint_local_data else None))
