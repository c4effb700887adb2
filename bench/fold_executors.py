"""A fold's Transform and Evaluator executors alone: what two settings of the product save.

Runs a small LOSO (``mer-tfx cv``'s own code) to get one fold's artifacts, then runs
that fold's Transform and Evaluator executors again and again in this process, the
two variants of each comparison taking turns (one warm-up run each, not counted):

- Transform tracing the preprocessing function as a TF2 ``tf.function`` or as a TF1
  graph (``force_tf_compat_v1``, the product's setting; pipeline/pipeline.py);
- both executors with Beam's own introspection or with it remembered (function
  arguments per function, option views per options object:
  pipeline/beam_introspection.py, installed by the product's local runner).

    python bench/fold_executors.py [--runs 5] [--subjects 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import core
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from mer_tfx.logs import setup_logging
from mer_tfx.pipeline import metadata
from mer_tfx.pipeline.beam_args import with_local_runner
from mer_tfx.pipeline.beam_introspection import remember_beam_introspection
from mer_tfx.pipeline.pipeline import create_components
from mer_tfx.protocols.cross_validation import run_cross_validation
from protocols import casme2_settings


def _artifact(kind, uri: str, splits=None):
    artifact = kind()
    artifact.uri = uri
    if splits:
        artifact.split_names = artifact_utils.encode_split_names(splits)
    return artifact


def fold_artifacts(settings) -> dict:
    """The newest fold's split examples, schema and trained model, from ML Metadata."""
    store = metadata.open_store(settings.metadata_path)
    name = settings.pipeline_name
    examples = _artifact(standard_artifacts.Examples, metadata.latest_outputs(
        store, name, "SubjectSplit")["split_examples"][0], ["train", "eval"])
    examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE)
    return {"examples": examples,
            "schema": _artifact(standard_artifacts.Schema, metadata.latest_outputs(
                store, name, "ImportSchemaGen")["schema"][0]),
            "model": _artifact(standard_artifacts.Model, metadata.latest_outputs(
                store, name, "Trainer")["model"][0])}


def fold_components(settings) -> dict:
    """"Transform" and "Evaluator", as the product defines them (pipeline/pipeline.py)."""
    return {c.id: c for c in create_components(settings) if c.id in ("Transform", "Evaluator")}


def run_executor(component, work: str, inputs: dict, outputs: dict,
                 changed: dict | None = None) -> float:
    """Seconds of one ``Do`` of the component's own executor, with the exec properties
    and Beam arguments the product gives it (unset properties dropped, as TFX does),
    ``changed`` overriding some; ``outputs``: key -> artifact type, written under a
    new folder of ``work``."""
    out = tempfile.mkdtemp(dir=work)
    executor_class = component.executor_spec.executor_class
    executor = executor_class(executor_class.Context(
        beam_pipeline_args=with_local_runner(component.executor_spec.beam_pipeline_args),
        tmp_dir=tempfile.mkdtemp(dir=work), unique_id=out))
    properties = {k: v for k, v in component.exec_properties.items() if v is not None}
    started = time.perf_counter()
    executor.Do(inputs, {key: [_artifact(kind, f"{out}/{key}")] for key, kind in outputs.items()},
                {**properties, **(changed or {})})
    return time.perf_counter() - started


def run_transform(components: dict, artifacts: dict, work: str, tf1: bool) -> float:
    return run_executor(
        components["Transform"], work,
        {"examples": [artifacts["examples"]], "schema": [artifacts["schema"]]},
        {"transform_graph": standard_artifacts.TransformGraph},
        {"force_tf_compat_v1": int(tf1)})


def run_evaluator(components: dict, artifacts: dict, work: str) -> float:
    return run_executor(
        components["Evaluator"], work,
        {"examples": [artifacts["examples"]], "model": [artifacts["model"]],
         "schema": [artifacts["schema"]]},
        {"evaluation": standard_artifacts.ModelEvaluation,
         "blessing": standard_artifacts.ModelBlessing})


def compare(label: str, variants: dict, runs: int) -> None:
    """variants: name -> zero-argument function returning seconds; turns alternate."""
    times = {name: [] for name in variants}
    for turn in range(runs + 1):
        for name, run in variants.items():
            seconds = run()
            if turn:  # the first turn warms up
                times[name].append(seconds)
    means = {name: statistics.mean(values) for name, values in times.items()}
    (first, a), (second, b) = means.items()
    print(f"{label}: {first} {a:.2f} s, {second} {b:.2f} s (means of {runs} runs; "
          f"{second}: {a - b:.2f} s less, {b / a:.2f}x the time)")


def introspection_switch():
    """remembered (bool) -> Beam's own introspection (function arguments, option views)
    or the product's remembered one; one install for the whole bench, so what it
    remembers lasts, as it does in a CV's process."""
    remember_beam_introspection()  # a no-op where the CV's local runner installed it
    remembered = (core.get_function_args_defaults, PipelineOptions.view_as)
    own = tuple(f.__wrapped__ for f in remembered)

    def switch(on: bool) -> None:
        core.get_function_args_defaults, PipelineOptions.view_as = remembered if on else own
    return switch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--subjects", type=int, default=4)
    parser.add_argument("--work", help="folder for the data, the CV and the runs' outputs")
    args = parser.parse_args(argv)
    setup_logging()
    work = args.work or tempfile.mkdtemp(prefix="mer_bench_fold_executors_")
    load = "%.1f %.1f %.1f" % os.getloadavg()
    settings = casme2_settings(work, argparse.Namespace(
        subjects=args.subjects, clips_per_class=4, epochs=0, model=None))
    run_cross_validation(settings, "loso")
    artifacts = fold_artifacts(settings)
    components = fold_components(settings)
    print(f"\none fold of a {args.subjects}-subject LOSO ({settings.trainer.model}), "
          f"{os.cpu_count()} CPU cores, load average at the start: {load}")

    introspection = introspection_switch()

    def with_introspection(remembered, run):
        def timed():
            introspection(remembered)
            return run()
        return timed

    product = True  # remembered introspection, as the product's local runner runs it
    compare("Transform, preprocessing traced as", {
        "tf.function (TF2)": with_introspection(product, lambda: run_transform(
            components, artifacts, work, tf1=False)),
        "TF1 graph": with_introspection(product, lambda: run_transform(
            components, artifacts, work, tf1=True))}, args.runs)
    for label, run in (("Transform (TF1 graph)",
                        lambda: run_transform(components, artifacts, work, tf1=True)),
                       ("Evaluator", lambda: run_evaluator(components, artifacts, work))):
        compare(f"{label}, Beam's introspection", {
            "Beam's own": with_introspection(False, run),
            "remembered": with_introspection(True, run)}, args.runs)
    introspection(True)
    print(f"(work folder: {work})")


if __name__ == "__main__":
    main()
