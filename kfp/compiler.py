"""Compile the pipeline from pipeline/ into a Kubeflow Pipelines v2 package.

TFX 1.16's ``KubeflowV2DagRunner`` turns the very pipeline the local runner runs
(``pipeline.create_pipeline``) into a PipelineJob; this module keeps its
PipelineSpec and writes the YAML package the kfp 2.x client and the KFP UI take:

    document 1  PipelineSpec (tasks, components, container executors + resources)
    document 2  PlatformSpec: platforms.kubernetes.deploymentSpec.executors.<label>
                with nodeSelector / tolerations / pvcMount (kfp-kubernetes format);
                written only when one of those is asked for, as the kfp compiler does

Choices made here:

* Spec schema 2.1.0 (``use_pipeline_spec_2_1``): the open-source KFP v2 backend only
  resolves ``runtimeValue.constant`` parameters, which the 2.0.0 form does not use.
* The GPU request is a ``ResourceSpec`` attached with ``with_platform_config``; it
  lands in ``deploymentSpec.executors.Trainer_executor.container.resources``. The
  accelerator type defaults to ``nvidia.com/gpu`` because self-hosted KFP uses the
  type verbatim as the Kubernetes resource name of the limit. Choose the GPU model
  with a node selector (``cloud.google.com/gke-accelerator=nvidia-tesla-t4``). Only
  Vertex AI Pipelines wants a model name as the type (``NVIDIA_TESLA_T4``).
* Nothing is uploaded at compile time: the pipeline names its user code by import
  path, and the image (see the Dockerfile) has the project installed. The schema file
  is read in the container, so ImportSchemaGen is pointed at the image's copy.
* MerExampleGen's input fingerprint is only the path of remote data, so its task is
  compiled with KFP caching off by default: every scheduled run ingests what the
  bucket holds now; downstream tasks rerun when the examples change.
* ``local=True`` compiles the same tasks for ``mer-tfx kfp replay`` (kfp/replay.py) on
  this machine: pipeline root, data and output may be local paths (made absolute,
  since each replayed task runs in a folder of its own) and ImportSchemaGen reads this
  checkout's schema. No cluster can run such a package; the client refuses to upload it.
"""
from __future__ import annotations

import json
import logging
import os
import posixpath

import mer_tfx  # noqa: F401  (Keras 2 switch before TensorFlow loads)
from mer_tfx.errors import UserError

from .options import (DEFAULT_ACCELERATOR, container_beam_args, parse_node_selector,
                      parse_pvc, parse_toleration)
from .platform import (build_platform_spec, pvc_mount_entries, read_package, resource_spec,
                       write_package)

log = logging.getLogger(__name__)

# Where the Dockerfile copies the repository; the schema is read from there at run time.
CONTAINER_SOURCE_DIR = "/opt/mer-tfx"
CONTAINER_SCHEMA_PATH = f"{CONTAINER_SOURCE_DIR}/schemas/schema.pbtxt"
# Pipeline roots KFP can store artifacts in that TensorFlow's file system also reads
# (minio:// is KFP's default but tf.io.gfile cannot open it, so TFX components fail).
PIPELINE_ROOT_SCHEMES = ("gs://", "s3://")
REMOTE_SCHEMES = ("gs://", "s3://")


# --- checks ------------------------------------------------------------------------------

def _is_remote(path: str) -> bool:
    return "://" in path


def _check_pipeline_root(pipeline_root: str, local: bool = False) -> str:
    if local and pipeline_root and not _is_remote(pipeline_root):
        return os.path.abspath(pipeline_root)
    if not pipeline_root or not pipeline_root.startswith(PIPELINE_ROOT_SCHEMES):
        raise UserError(
            f"pipeline root {pipeline_root!r}: Kubeflow keeps the artifacts in an object "
            f"store that both KFP and TensorFlow read: give a gs://bucket/path (or "
            f"s3://bucket/path with tensorflow-io in the image). Local paths and minio:// "
            f"do not work for TFX components")
    return pipeline_root.rstrip("/")


def _check_location(what: str, path: str | None, mounts: list) -> None:
    """Remote (gs://, s3://) or an absolute path on a mounted PVC."""
    if not path:
        return
    if _is_remote(path):
        if not path.startswith(REMOTE_SCHEMES):
            log.warning("%s %s: only gs:// and s3:// were tried with this image", what, path)
        return
    if not os.path.isabs(path):
        raise UserError(f"{what} {path!r} is a relative path, which means nothing inside the "
                        f"pipeline's containers: use gs://..., s3://... or an absolute path "
                        f"on a PVC mounted with --pvc NAME:/mount")
    if not any(path == m or path.startswith(m.rstrip("/") + "/") for _, m in mounts):
        raise UserError(f"{what} {path!r} is a local path but no PVC is mounted there: add "
                        f"--pvc CLAIM_NAME:/mount (a mount path that contains it), or use "
                        f"gs:// / s3://")


def check_kfp_artifact_types(pipeline) -> None:
    """Every output type must survive the v2 round trip: the compiler wants custom type
    names shaped 'module.Class' and the container imports the class from that name."""
    from tfx.orchestration.kubeflow.v2 import compiler_utils
    from tfx.utils import import_utils

    for component in pipeline.components:
        for key, channel in component.outputs.items():
            artifact_type = channel.type
            if artifact_type in compiler_utils._SUPPORTED_STANDARD_ARTIFACT_TYPES:  # noqa: SLF001
                continue
            name = artifact_type.TYPE_NAME
            problem = None
            if not compiler_utils._SCHEMA_TITLE_RE.fullmatch(name):  # noqa: SLF001
                problem = "is not shaped <module>.<Class> (one dot, e.g. mer_tfx.IngestionReport)"
            else:
                try:
                    imported = import_utils.import_class_by_path(name)
                except ImportError:
                    imported = None
                if imported is not artifact_type:
                    problem = "does not import back to the artifact class"
            if problem:
                raise UserError(
                    f"{component.id}.outputs[{key!r}] has artifact type {name!r}, which "
                    f"{problem}. KubeflowV2DagRunner encodes custom types by TYPE_NAME and "
                    f"the container imports that path to rebuild the artifact: give the class "
                    f"TYPE_NAME = '<top-level module>.<Class>' and make that attribute "
                    f"importable (e.g. a lazy __getattr__ in mer_tfx/__init__.py)")


def localized_settings(settings):
    """Settings of a --local package: data and output as absolute paths that exist here."""
    def absolute(what, path):
        if not path or _is_remote(path):
            return path
        if not os.path.exists(path):
            raise UserError(f"{what} {path} does not exist on this machine: a --local package "
                            f"is replayed here, so give the data's local path")
        return os.path.abspath(path)

    rows = [[s.dataset, absolute(f"{s.dataset} data root", s.root)]
            + ([absolute(f"{s.dataset} annotations", s.annotations)] if s.annotations else [])
            for s in settings.source_list]
    changes = {"output": settings.output if _is_remote(settings.output)
               else os.path.abspath(settings.output)}
    if settings.push_to and not _is_remote(settings.push_to):
        changes["push_to"] = os.path.abspath(settings.push_to)
    if settings.sources:
        changes["sources"] = rows
    else:
        changes.update(root=rows[0][1], annotations=rows[0][2] if len(rows[0]) > 2 else None)
    return settings.replace(**changes)


def _check_no_user_code_upload(pipeline) -> None:
    """module_file would package user code into a wheel under the pipeline root now."""
    from tfx.components.util import udf_utils

    for component in pipeline.components:
        keys = {"module_file"}
        for dependency in getattr(component, "_pip_dependencies", []) or []:
            # Transform and Trainer always register one; it only packages when set.
            if isinstance(dependency, udf_utils.UserModuleFilePipDependency):
                keys.add(dependency.module_file_key)
        for key in sorted(keys):
            if component.exec_properties.get(key):
                raise UserError(f"{component.id} sets {key}: its code would be packaged and "
                                f"uploaded under the pipeline root at compile time. Use import "
                                f"paths (preprocessing_fn=, run_fn=) and bake the code into "
                                f"the image")


def _check_no_resolver(pipeline) -> None:
    from tfx.dsl.components.common import resolver

    for node in pipeline.components:
        if isinstance(node, resolver.Resolver):
            raise UserError(f"{node.id} is a Resolver node, which self-hosted KFP v2 cannot "
                            f"run ('resolver not implemented'): use value thresholds")


# --- compile -----------------------------------------------------------------------------

def compile_pipeline(settings, out_path: str, image: str, pipeline_root: str | None = None,
                     gpus: int = 1, accelerator: str = DEFAULT_ACCELERATOR, cpu_limit=None,
                     memory_limit=None, node_selector: dict | list | None = None,
                     tolerations: list | None = None, beam_args: list | None = None,
                     transform_gpus: int = 0, pvc_mounts: list | None = None,
                     schema_path: str = CONTAINER_SCHEMA_PATH, cache_ingestion: bool = False,
                     job_json_path: str | None = None, local: bool = False) -> str:
    """Compile ``create_pipeline(settings)`` for KFP v2 into ``out_path`` (.yaml); returns it.

    image: the project image (Dockerfile) every executor runs.
    pipeline_root: gs:// or s3:// (default: settings.pipeline_root); also written as the
        spec's defaultPipelineRoot, so runs use it unless they pass another.
    gpus / accelerator: GPU limit of the Trainer (accelerator = Kubernetes resource name,
        default nvidia.com/gpu; a Vertex type like NVIDIA_TESLA_T4 is passed through).
    cpu_limit / memory_limit: limits of the Trainer (and of Transform if transform_gpus):
        '8' / '500m' CPUs, '32Gi' / '16G' memory (a bare number means GB).
    node_selector / tolerations: Kubernetes scheduling of the GPU task(s) (Trainer, and
        Transform when transform_gpus > 0); tolerations as dicts or 'key=value:Effect'.
    beam_args: for every Beam component (e.g. --runner=DataflowRunner --project=...).
        Default (None): settings.beam_args.
    pvc_mounts: [(claim, mount path)] or ['claim:/mount'] mounted into every task, for
        data roots / serving dirs on a PersistentVolumeClaim.
    schema_path: the schema file as seen inside the image.
    cache_ingestion: keep KFP caching on for MerExampleGen (off by default, see module doc).
    job_json_path: also write the runner's raw PipelineJob JSON there (for inspection).
    local: a package for ``mer-tfx kfp replay`` on this machine (see the module doc), not
        for a cluster.
    """
    if not str(out_path).endswith((".yaml", ".yml")):
        raise UserError(f"package path {out_path}: the kfp client only takes .yaml/.yml "
                        f"(or archives of them): name it pipeline.yaml")
    image = (image or "").strip()
    if not image or any(ch.isspace() for ch in image):
        raise UserError(f"image {image!r}: give the pushed project image, e.g. "
                        f"us-docker.pkg.dev/PROJECT/REPO/mer-tfx:1.0")
    pipeline_root = _check_pipeline_root(pipeline_root or settings.pipeline_root, local)
    mounts = [parse_pvc(m) for m in (pvc_mounts or [])]
    if local:
        from mer_tfx.schemas import SCHEMA_PATH

        settings = localized_settings(settings)
        if schema_path == CONTAINER_SCHEMA_PATH:
            schema_path = SCHEMA_PATH
    else:
        for source in settings.source_list:
            _check_location(f"{source.dataset} data root", source.root, mounts)
            _check_location(f"{source.dataset} annotations", source.annotations, mounts)
        _check_location("output (serving model folder)", settings.output, mounts)
        _check_location("schema path", schema_path, mounts + [("image", CONTAINER_SOURCE_DIR)])
    gpus, transform_gpus = int(gpus or 0), int(transform_gpus or 0)
    trainer_resources = resource_spec(gpus, accelerator, cpu_limit, memory_limit)
    transform_resources = (resource_spec(transform_gpus, accelerator, cpu_limit, memory_limit)
                           if transform_gpus else None)
    scheduling = {"nodeSelector": {"labels": parse_node_selector(node_selector)}
                  if node_selector else None,
                  "tolerations": [parse_toleration(t) for t in (tolerations or [])]}

    from tfx import v1 as tfx

    from mer_tfx.components.mer_example_gen import MerExampleGen
    from mer_tfx.pipeline.pipeline import create_pipeline

    settings = settings.replace(beam_args=container_beam_args(
        settings.beam_args if beam_args is None else beam_args, image))
    # The data is where the cluster sees it (bucket or PVC), not on this machine:
    # MerExampleGen's cache key hashes its paths instead of reading files here.
    pipeline = create_pipeline(settings, pipeline_root=pipeline_root, schema_path=schema_path,
                               fingerprint_local_data=False)
    _check_no_resolver(pipeline)
    _check_no_user_code_upload(pipeline)
    check_kfp_artifact_types(pipeline)

    Trainer, Transform = tfx.components.Trainer, tfx.components.Transform
    by_type = {}
    for component in pipeline.components:
        for kind in (Trainer, Transform, MerExampleGen):
            if isinstance(component, kind):
                by_type.setdefault(kind, []).append(component.id)
    if len(by_type.get(Trainer, [])) != 1:
        raise UserError(f"expected exactly one Trainer in the pipeline, found "
                        f"{by_type.get(Trainer, [])}")
    trainer_id = by_type[Trainer][0]
    gpu_tasks = [trainer_id]
    for component in pipeline.components:
        if component.id == trainer_id and trainer_resources is not None:
            component.with_platform_config(trainer_resources)
        if isinstance(component, Transform) and transform_resources is not None:
            component.with_platform_config(transform_resources)
            gpu_tasks.append(component.id)

    config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        default_image=image, use_pipeline_spec_2_1=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=config, output_dir=os.path.dirname(os.path.abspath(out_path)),
        output_filename=os.path.basename(out_path))
    job = runner.run(pipeline, write_out=False)
    if job_json_path:
        os.makedirs(os.path.dirname(os.path.abspath(job_json_path)), exist_ok=True)
        with open(job_json_path, "w") as handle:
            json.dump(job, handle, indent=2, sort_keys=True)
    pipeline_spec = job["pipelineSpec"]
    pipeline_spec["defaultPipelineRoot"] = pipeline_root
    for task_id, task in pipeline_spec["root"]["dag"]["tasks"].items():
        ingestion = task_id in by_type.get(MerExampleGen, [])
        task["cachingOptions"] = {  # explicit, also where proto3 JSON would drop a false
            "enableCache": bool(settings.cache and (cache_ingestion or not ingestion))}

    platform_spec = build_platform_spec(
        pipeline_spec, per_task={task: scheduling for task in gpu_tasks},
        all_tasks={"pvcMount": pvc_mount_entries(mounts)})
    write_package(pipeline_spec, platform_spec, out_path, header=(
        f"Compiled by mer-tfx {mer_tfx.__version__} with TFX KubeflowV2DagRunner\n"
        f"Image: {image}\nPipeline root: {pipeline_root}"
        + ("\nLocal package (--local): for `mer-tfx kfp replay` on this machine only"
           if local else "")))
    read_package(out_path)  # what the kfp client will do with it
    log.info("wrote %s (%d tasks, image %s, pipeline root %s)", out_path,
             len(pipeline_spec["root"]["dag"]["tasks"]), image, pipeline_root)
    return out_path


def default_output_for(pipeline_root: str) -> str:
    """The folder above the pipeline root (serving_model/ goes there), as locally."""
    root = pipeline_root.rstrip("/")
    scheme, sep, rest = root.partition("://")
    if sep and "/" not in rest:
        return root  # a bucket root: keep everything in the bucket
    return posixpath.dirname(root)
