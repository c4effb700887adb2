"""``mer-tfx kfp compile|schedule|run|replay``: the Kubeflow Pipelines subcommands.

``add_kfp_parser(subparsers)`` adds them to the ``mer-tfx`` parser; every handler is
``handler(args, beam_args) -> exit code`` and raises UserError for bad input or a
server error. Heavy imports (TFX, the kfp client) happen inside the handlers.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os

from mer_tfx.errors import UserError
from mer_tfx.pipeline.configs import PIPELINE_NAME

LOCAL_IMAGE = "mer-tfx:local"  # a --local package's image: never pulled (replay only)

_COMPILE_EPILOG = """\
Every pipeline setting has a flag here (see mer-tfx run --help for the same ones) and a
MER_<SETTING> environment variable (e.g. MER_EPOCHS=60, MER_CLASSES=positive,negative,surprise);
flags override variables. Beam options go behind --beam-arg=--runner=DataflowRunner
(repeatable) or after a lone --.

example:
  mer-tfx kfp compile --out pipeline.yaml --image REGISTRY/mer-tfx:1.0 \\
      --pipeline-root gs://BUCKET/mer/pipeline_root --dataset casme2 \\
      --root gs://BUCKET/CASME2_RAW_selected \\
      --annotations gs://BUCKET/CASME2-coding-20140508.xlsx \\
      --gpus 1 --memory-limit 32Gi --cpu-limit 8 \\
      --node-selector cloud.google.com/gke-accelerator=nvidia-tesla-t4 \\
      --toleration nvidia.com/gpu=present:NoSchedule
"""


def add_cluster_options(parser, host_required: bool = True) -> None:
    """Where and as whom runs are submitted: shared by ``kfp schedule|run`` and ``cv``."""
    parser.add_argument("--host", required=host_required,
                        help="KFP endpoint, e.g. https://HOST/pipeline or http://localhost:8080")
    parser.add_argument("--experiment", default=PIPELINE_NAME,
                        help=f"experiment name (created if missing; default {PIPELINE_NAME})")
    parser.add_argument("--namespace", help="Kubernetes namespace (multi-user Kubeflow)")
    parser.add_argument("--token", default=os.environ.get("KFP_TOKEN"),
                        help="bearer token for the KFP API (default: $KFP_TOKEN), e.g. a "
                             "service-account token: kubectl create token SA -n NS "
                             "--audience pipelines.kubeflow.org")
    parser.add_argument("--service-account", help="Kubernetes service account of the run pods")


def _add_connection_options(parser) -> None:
    add_cluster_options(parser)
    parser.add_argument("--package", required=True, help="compiled pipeline.yaml")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME,
                        help="pipeline to upload to; an existing one gets a new version")
    parser.add_argument("--version-name", help="pipeline version name (default: name, UTC "
                                               "time and package hash)")
    parser.add_argument("--pipeline-root", help="override the package's pipeline root for "
                                                "these runs (gs://... or s3://...)")


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
    comp.add_argument("--job-json", help="also write the runner's raw PipelineJob JSON here")
    comp.add_argument("--local", action="store_true",
                      help="a package for `mer-tfx kfp replay` on this machine: local pipeline "
                           "root, data and output allowed, the schema read from this checkout, "
                           "--image optional. Not for a cluster (the client refuses to upload it)")
    from mer_tfx.cli import add_beam_arg, add_preset, add_print_settings, add_settings

    add_settings(comp)
    add_preset(comp)
    add_beam_arg(comp)
    add_print_settings(comp)
    comp.set_defaults(handler=_compile)

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

    replay = commands.add_parser(
        "replay", help="run a compiled package on this machine, task by task, as KFP v2 would",
        description="Smoke-test a package before uploading it: orders root.dag's tasks, builds "
                    "each task's ExecutorInput, substitutes the launcher's placeholders in the "
                    "container's command and args and runs it as a subprocess of this "
                    "environment (`python` = this interpreter) or, with --docker, in the "
                    "package's image (docker run), passing each task's output "
                    "metadata downstream. Outputs go where KFP v2 puts them: PIPELINE_ROOT/"
                    "<pipeline name>/<run id>/<task>/<output>, so `mer-tfx report "
                    "--pipeline-root PIPELINE_ROOT` reads the run. Resource requests, node "
                    "selectors and tolerations are printed, not honoured.")
    replay.add_argument("package", help="compiled pipeline.yaml (mer-tfx kfp compile, "
                                        "e.g. with --local for local data)")
    replay.add_argument("--pipeline-root", required=True,
                        help="where the outputs go: a local folder (or gs://...)")
    replay.add_argument("--task-limit", type=int, metavar="N",
                        help="stop after the first N tasks of the order")
    replay.add_argument("--run-id", help="run id in the output paths (default "
                                         "replay-<UTC time>-<random>)")
    replay.add_argument("--docker", action="store_true",
                        help="run each task's command in the package's image (docker run, "
                             "the image's user, working directory and environment; the "
                             "pipeline root and the local paths the package names mounted at "
                             "the same paths) instead of this environment")
    replay.add_argument("--quiet", action="store_true",
                        help="do not stream the tasks' own output (a failed task's last lines "
                             "are still shown)")
    replay.set_defaults(handler=_replay)
    return parser


def compile_settings(args, beam_args):
    """The settings tree (MER_* variables, then flags), its output placed for a cluster."""
    from mer_tfx.cli import settings_from_args
    from mer_tfx.kfp.compiler import default_output_for
    from mer_tfx.pipeline.configs import PipelineSettings

    settings = settings_from_args(args, beam_args)
    pipeline_root = settings.kubeflow.pipeline_root
    if settings.output == PipelineSettings().output:  # not chosen: under the pipeline root
        if pipeline_root:
            settings = settings.replace(output=default_output_for(pipeline_root))
        else:
            raise UserError("give --pipeline-root gs://BUCKET/... (or --output gs://BUCKET/... "
                            "to put pipeline_root/ and serving_model/ under it)")
    return settings.replace(output=settings.output.rstrip("/"))


def package_settings(settings, local: bool = False):
    """The settings a package records: with ``local``, absolute local paths (data, output,
    pipeline root) for ``mer-tfx kfp replay``."""
    from mer_tfx.kfp import compiler

    if not local:
        return settings
    settings = compiler.localized_settings(settings)
    pipeline_root = settings.kubeflow.pipeline_root
    if pipeline_root and "://" not in pipeline_root:
        settings = settings.replace(**{"kubeflow.pipeline_root": os.path.abspath(pipeline_root)})
    return settings


def compile_package(settings, out: str, local: bool = False,
                    job_json: str | None = None) -> dict:
    """``settings`` (from ``package_settings``) compiled into ``out`` with their Kubeflow
    options, and ``<package>.settings.json`` beside it; what was written, as a dict."""
    from mer_tfx.kfp import compiler

    kube = settings.kubeflow
    if local and not kube.image:
        kube = dataclasses.replace(kube, image=LOCAL_IMAGE)
    if not kube.image:
        raise UserError("give --image REGISTRY/mer-tfx:TAG (the image built from the "
                        "repository's Dockerfile) or set MER_IMAGE")
    pipeline_root = kube.pipeline_root or settings.pipeline_root
    schema = {"schema_path": kube.schema_path} if kube.schema_path else {}
    path = compiler.compile_pipeline(
        settings, out, kube.image, pipeline_root,
        gpus=kube.gpus, accelerator=kube.accelerator, cpu_limit=kube.cpu_limit,
        memory_limit=kube.memory_limit,
        node_selector=list(kube.node_selector), tolerations=list(kube.toleration),
        beam_args=list(settings.beam_args) or None, transform_gpus=kube.transform_gpus,
        pvc_mounts=list(kube.pvc), cache_ingestion=kube.cache_ingestion,
        job_json_path=job_json, local=local, **schema)
    settings_path = settings.write(os.path.dirname(os.path.abspath(path)),
                                   os.path.splitext(os.path.basename(path))[0] + ".settings.json")
    return {"package": path, "settings": settings_path, "image": kube.image,
            "pipeline_root": pipeline_root, "serving_dir": settings.serving_dir}


def _compile(args, beam_args) -> int:
    settings = package_settings(compile_settings(args, beam_args), args.local)
    if args.print_settings:
        print(json.dumps(settings.to_dict(), indent=2))
        return 0
    print(json.dumps(compile_package(settings, args.out, args.local, args.job_json), indent=2))
    return 0


def _schedule(args, _beam_args) -> int:
    from mer_tfx.kfp import client

    result = client.schedule(
        args.host, args.package, args.cron, experiment=args.experiment,
        pipeline_name=args.pipeline_name, namespace=args.namespace, token=args.token,
        job_name=args.job_name, pipeline_root=args.pipeline_root,
        service_account=args.service_account, version_name=args.version_name,
        replace=args.replace)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _run(args, _beam_args) -> int:
    from mer_tfx.kfp import client

    result = client.run_once(
        args.host, args.package, experiment=args.experiment, pipeline_name=args.pipeline_name,
        namespace=args.namespace, token=args.token, run_name=args.run_name,
        pipeline_root=args.pipeline_root, service_account=args.service_account,
        version_name=args.version_name, upload_package=not args.no_upload)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _replay(args, _beam_args) -> int:
    from mer_tfx.kfp.replay import replay_package

    result = replay_package(args.package, args.pipeline_root, task_limit=args.task_limit,
                            run_id=args.run_id, quiet=args.quiet, docker=args.docker)
    print(json.dumps(result, indent=2))
    return 0
