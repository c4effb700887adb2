"""``mer-tfx kfp compile|schedule|run``: the Kubeflow Pipelines subcommands.

``add_kfp_parser(subparsers)`` adds them to the ``mer-tfx`` parser; every handler is
``handler(args, extra_args) -> exit code`` and raises UserError for bad input or a
server error. Heavy imports (TFX, the kfp client) happen inside the handlers.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os

from mer_tfx.errors import UserError

DATASETS = ("casme2", "samm", "smic", "casme3", "csv")

_COMPILE_EPILOG = """\
Other pipeline settings (classes, epochs, eval subjects, ...) come from MER_<FIELD>
environment variables, as for the local runner (e.g. MER_EPOCHS=60,
MER_CLASSES='["positive","negative","surprise"]').
Unknown options are taken as Beam args too, e.g. --runner=DataflowRunner --project=P
--region=R --temp_location=gs://B/tmp --sdk_container_image=IMAGE.

example:
  mer-tfx kfp compile --out pipeline.yaml --image REGISTRY/mer-tfx:1.0 \\
      --pipeline-root gs://BUCKET/mer/pipeline_root --dataset casme2 \\
      --data-root gs://BUCKET/CASME2_RAW_selected \\
      --annotations gs://BUCKET/CASME2-coding-20140508.xlsx \\
      --gpus 1 --memory-limit 32Gi --cpu-limit 8 \\
      --node-selector cloud.google.com/gke-accelerator=nvidia-tesla-t4 \\
      --toleration nvidia.com/gpu=present:NoSchedule
"""


def _add_connection_options(parser) -> None:
    parser.add_argument("--host", required=True,
                        help="KFP endpoint, e.g. https://HOST/pipeline or http://localhost:8080")
    parser.add_argument("--package", required=True, help="compiled pipeline.yaml")
    parser.add_argument("--experiment", default="mer-tfx", help="experiment name (created "
                                                                "if missing; default mer-tfx)")
    parser.add_argument("--pipeline-name", default="mer-tfx",
                        help="pipeline to upload to; an existing one gets a new version")
    parser.add_argument("--version-name", help="pipeline version name (default: name, UTC "
                                               "time and package hash)")
    parser.add_argument("--namespace", help="Kubernetes namespace (multi-user Kubeflow)")
    parser.add_argument("--token", default=os.environ.get("KFP_TOKEN"),
                        help="bearer token for the KFP API (default: $KFP_TOKEN), e.g. a "
                             "service-account token: kubectl create token SA -n NS "
                             "--audience pipelines.kubeflow.org")
    parser.add_argument("--pipeline-root", help="override the package's pipeline root for "
                                                "these runs (gs://... or s3://...)")
    parser.add_argument("--service-account", help="Kubernetes service account of the run pods")


def add_kfp_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``kfp`` with ``compile``, ``schedule`` and ``run`` to an argparse subparsers."""
    parser = subparsers.add_parser(
        "kfp", help="Kubeflow Pipelines: compile the pipeline, schedule it, run it once",
        description="Compile the TFX pipeline for Kubeflow Pipelines v2 and submit it.")
    commands = parser.add_subparsers(dest="kfp_command", required=True)

    comp = commands.add_parser(
        "compile", help="compile the pipeline into a KFP v2 package (YAML)",
        epilog=_COMPILE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    comp.add_argument("--out", required=True, help="package to write (.yaml)")
    comp.add_argument("--image", default=os.environ.get("MER_KFP_IMAGE"),
                      help="project image every task runs (see Dockerfile; default "
                           "$MER_KFP_IMAGE)")
    comp.add_argument("--pipeline-root", help="gs:// or s3:// folder for the artifacts "
                                              "(default: <output>/pipeline_root)")
    comp.add_argument("--output", help="folder for serving_model/ (default: the parent of "
                                       "--pipeline-root)")
    comp.add_argument("--dataset", choices=DATASETS)
    comp.add_argument("--data-root", help="dataset root: gs://, s3:// or a path on a --pvc")
    comp.add_argument("--annotations", help="annotation .xlsx/.csv: gs://, s3:// or on a --pvc")
    comp.add_argument("--pipeline-name", help="pipeline name in the spec (default mer-tfx)")
    comp.add_argument("--gpus", type=int, default=1, help="GPUs for the Trainer (default 1; 0 "
                                                          "for CPU only)")
    comp.add_argument("--transform-gpus", type=int, default=0,
                      help="GPUs for Transform (default 0)")
    comp.add_argument("--accelerator", default="nvidia.com/gpu",
                      help="accelerator type: the Kubernetes resource name on self-hosted KFP "
                           "(default nvidia.com/gpu); a type such as NVIDIA_TESLA_T4 on "
                           "Vertex AI Pipelines")
    comp.add_argument("--cpu-limit", help="CPU limit of the GPU task(s): 8, 0.5, 500m")
    comp.add_argument("--memory-limit", help="memory limit of the GPU task(s): 32Gi, 16G")
    comp.add_argument("--node-selector", action="append", default=[], metavar="KEY=VALUE",
                      help="node label for the GPU task(s) (repeatable)")
    comp.add_argument("--toleration", action="append", default=[],
                      metavar="KEY=VALUE:EFFECT",
                      help="toleration for the GPU task(s): key=value:Effect, key:Effect "
                           "(Exists) or a JSON object (repeatable)")
    comp.add_argument("--pvc", action="append", default=[], metavar="CLAIM:/MOUNT",
                      help="mount a PersistentVolumeClaim into every task (repeatable)")
    comp.add_argument("--beam-arg", action="append", default=[], metavar="--NAME=VALUE",
                      help="Beam option for the Beam components, written with '=': "
                           "--beam-arg=--runner=DataflowRunner (repeatable)")
    comp.add_argument("--schema-path", help="schema file as seen in the image (default: the "
                                            "copy the Dockerfile puts in /opt/mer-tfx)")
    comp.add_argument("--no-cache", action="store_true",
                      help="compile every task with KFP caching off")
    comp.add_argument("--cache-ingestion", action="store_true",
                      help="keep caching on for MerExampleGen (off by default: remote data is "
                           "fingerprinted by path only)")
    comp.add_argument("--job-json", help="also write the runner's raw PipelineJob JSON here")
    comp.set_defaults(handler=_compile, accepts_beam_args=True)

    sched = commands.add_parser(
        "schedule", help="upload the package and create a recurring run",
        description="Upload (or add a version), get/create the experiment, create a recurring "
                    "run with max_concurrency 1 and no catch-up.")
    _add_connection_options(sched)
    sched.add_argument("--cron", required=True,
                       help="5 fields 'min hour dom month dow' (e.g. '0 3 * * *'), 6 fields "
                            "seconds first, or @daily / '@every 6h'; KFP controller time zone")
    sched.add_argument("--job-name", help="recurring run name (default '<pipeline> schedule')")
    sched.add_argument("--replace", action="store_true",
                       help="disable an existing recurring run of the same name first")
    sched.set_defaults(handler=_schedule)

    run = commands.add_parser("run", help="upload the package and start one run now")
    _add_connection_options(run)
    run.add_argument("--run-name", help="run name (default '<pipeline> <UTC time>')")
    run.add_argument("--no-upload", action="store_true",
                     help="submit the package with the run instead of uploading a version")
    run.set_defaults(handler=_run)
    return parser


def _settings_from_args(args):
    from mer_tfx.kfp.compiler import default_output_for
    from mer_tfx.pipeline.configs import PipelineSettings

    settings = PipelineSettings.from_env()
    values = {}
    for option, field in (("dataset", "dataset"), ("data_root", "data_root"),
                          ("annotations", "annotations"), ("pipeline_name", "pipeline_name")):
        if getattr(args, option) is not None:
            values[field] = getattr(args, option)
    if args.output:
        values["output"] = args.output.rstrip("/")
    elif args.pipeline_root:
        values["output"] = default_output_for(args.pipeline_root)
    elif "://" not in settings.output:
        raise UserError("give --pipeline-root gs://BUCKET/... (or --output gs://BUCKET/... "
                        "to put pipeline_root/ and serving_model/ under it)")
    if args.no_cache:
        values["enable_cache"] = False
    return dataclasses.replace(settings, **values)


def _compile(args, extra) -> int:
    from mer_tfx.kfp import compiler

    if not args.image:
        raise UserError("give --image REGISTRY/mer-tfx:TAG (the image built from the "
                        "repository's Dockerfile) or set MER_KFP_IMAGE")
    settings = _settings_from_args(args)
    beam_args = list(args.beam_arg) + list(extra or [])
    options = {}
    if args.schema_path:
        options["schema_path"] = args.schema_path
    path = compiler.compile_pipeline(
        settings, args.out, args.image, args.pipeline_root or settings.pipeline_root,
        gpus=args.gpus, accelerator=args.accelerator, cpu_limit=args.cpu_limit,
        memory_limit=args.memory_limit,
        node_selector=compiler.parse_node_selector(args.node_selector),
        tolerations=[compiler.parse_toleration(t) for t in args.toleration],
        beam_args=beam_args or None, transform_gpus=args.transform_gpus,
        pvc_mounts=args.pvc, cache_ingestion=args.cache_ingestion,
        job_json_path=args.job_json, **options)
    print(json.dumps({"package": path, "image": args.image,
                      "pipeline_root": args.pipeline_root or settings.pipeline_root,
                      "serving_dir": settings.serving_dir}, indent=2))
    return 0


def _reject_extra(extra) -> None:
    if extra:
        raise UserError(f"unrecognized arguments: {' '.join(extra)}")


def _schedule(args, extra) -> int:
    from mer_tfx.kfp import client

    _reject_extra(extra)
    result = client.schedule(
        args.host, args.package, args.cron, experiment=args.experiment,
        pipeline_name=args.pipeline_name, namespace=args.namespace, token=args.token,
        job_name=args.job_name, pipeline_root=args.pipeline_root,
        service_account=args.service_account, version_name=args.version_name,
        replace=args.replace)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _run(args, extra) -> int:
    from mer_tfx.kfp import client

    _reject_extra(extra)
    result = client.run_once(
        args.host, args.package, experiment=args.experiment, pipeline_name=args.pipeline_name,
        namespace=args.namespace, token=args.token, run_name=args.run_name,
        pipeline_root=args.pipeline_root, service_account=args.service_account,
        version_name=args.version_name, upload_package=not args.no_upload)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0
