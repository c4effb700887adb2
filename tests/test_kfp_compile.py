"""mer_tfx.kfp.compiler: the pipeline from pipeline/ compiled for Kubeflow Pipelines v2.

One compile with every option (module fixture) and one with the defaults; the
package is then read back the ways KFP reads it: yaml documents parsed into the
PipelineSpec / PlatformSpec protos, kfp 2.5's own package reader
(kfp.client.client._extract_pipeline_yaml, used by upload_pipeline and
create_run_from_pipeline_package) and kfp.components.load_component_from_file.
Nothing is read from or written to the gs:// paths: compiling must not touch them.
"""
import contextlib
import io
import json
import os
import re

import pytest
import yaml

import mer_tfx
from mer_tfx.errors import UserError
from mer_tfx.kfp import compiler, options
from mer_tfx.cli import StrictParser
from mer_tfx.kfp.cli import add_kfp_parser
from mer_tfx.pipeline.configs import PipelineSettings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "registry.example.com/ml/mer-tfx:test-1"
ROOT = "gs://bucket/mer/pipeline_root"
SETTINGS = PipelineSettings(root="gs://bucket/data", annotations="gs://bucket/ann.xlsx",
                            output="gs://bucket/mer")
NODE_SELECTOR = {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4", "pool": "gpu"}
TOLERATIONS = ["nvidia.com/gpu=present:NoSchedule",
               {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute",
                "tolerationSeconds": 600}]
BEAM_ARGS = ["--runner=DataflowRunner", "--project=my-project", "--region=europe-west4",
             "--temp_location=gs://bucket/tmp"]


@contextlib.contextmanager
def remote_io_recorder():
    """Records every TFX fileio call on a path with a scheme (gs://...)."""
    from tfx.dsl.io import fileio

    touched = []
    names = ("open", "copy", "exists", "glob", "isdir", "listdir", "makedirs", "mkdir",
             "remove", "rename", "rmtree", "stat", "walk")
    with pytest.MonkeyPatch.context() as patch:
        for name in names:
            original = getattr(fileio, name)

            def recorder(*args, _original=original, _name=name, **kwargs):
                if any("://" in str(a) for a in args):
                    touched.append((_name, args))
                return _original(*args, **kwargs)

            patch.setattr(fileio, name, recorder)
        yield touched


def _docs(path):
    with open(path) as handle:
        return list(yaml.safe_load_all(handle))


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Every option: 2 GPUs + limits on the Trainer, 1 GPU on Transform, scheduling,
    a PVC, Dataflow args."""
    out = str(tmp_path_factory.mktemp("kfp") / "pipeline.yaml")
    with remote_io_recorder() as touched:
        path = compiler.compile_pipeline(
            SETTINGS, out, IMAGE, ROOT, gpus=2, accelerator="nvidia.com/gpu", cpu_limit="8",
            memory_limit="32Gi", node_selector=NODE_SELECTOR, tolerations=TOLERATIONS,
            beam_args=BEAM_ARGS, transform_gpus=1, pvc_mounts=["raw-frames:/mnt/frames"])
    spec, platform = _docs(path)
    return {"path": path, "spec": spec, "platform": platform, "touched": touched}


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("kfp") / "pipeline.yaml")
    with remote_io_recorder() as touched:
        path = compiler.compile_pipeline(SETTINGS, out, IMAGE, ROOT)
    return {"path": path, "docs": _docs(path), "touched": touched}


def _executors(spec):
    return spec["deploymentSpec"]["executors"]


def _label(spec, task):
    return spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]][
        "executorLabel"]


# --- the package as KFP reads it -----------------------------------------------------------

def test_package_is_pipeline_spec_then_platform_spec(full):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    docs = _docs(full["path"])
    assert len(docs) == 2
    pipeline_spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    platform_spec = json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec())
    assert pipeline_spec.pipeline_info.name == "mer-tfx"
    assert pipeline_spec.schema_version == "2.1.0"
    assert pipeline_spec.default_pipeline_root == ROOT
    assert "Trainer_executor" in platform_spec.platforms["kubernetes"].deployment_spec.executors


def test_kfp_client_package_reader_and_component_loader_accept_it(full):
    from kfp import components
    from kfp.client import client as kfp_client

    doc = kfp_client._extract_pipeline_yaml(full["path"])  # what upload/run use
    assert set(doc.pipeline_spec.root.dag.tasks) == set(full["spec"]["root"]["dag"]["tasks"])
    body = doc.to_dict()  # the run body the client sends for an inline package
    assert set(body) == {"pipeline_spec", "platform_spec"}
    loaded = components.load_component_from_file(full["path"])
    assert loaded.name == "mer-tfx"


def test_task_names_are_the_local_pipelines_component_ids(full):
    from mer_tfx.pipeline.pipeline import create_components

    local_ids = {component.id for component in create_components(SETTINGS)}
    assert set(full["spec"]["root"]["dag"]["tasks"]) == local_ids
    trainer = full["spec"]["root"]["dag"]["tasks"]["Trainer"]
    assert {"Transform", "SubjectSplit", "ImportSchemaGen"} <= set(trainer["dependentTasks"])
    assert "MerExampleGen" in full["spec"]["root"]["dag"]["tasks"]["SubjectSplit"][
        "dependentTasks"]


def test_parameters_use_the_constant_form_the_open_source_backend_resolves(full):
    tasks = full["spec"]["root"]["dag"]["tasks"]
    params = tasks["MerExampleGen"]["inputs"]["parameters"]
    assert json.loads(params["sources"]["runtimeValue"]["constant"]) == [
        ["casme2", "gs://bucket/data", "gs://bucket/ann.xlsx"]]
    assert tasks["Trainer"]["inputs"]["parameters"]["run_fn"] == {
        "runtimeValue": {"constant": "mer_tfx.trainer.task.run_fn"}}
    assert tasks["Transform"]["inputs"]["parameters"]["preprocessing_fn"] == {
        "runtimeValue": {"constant": "mer_tfx.transform.preprocessing.preprocessing_fn"}}
    assert "RuntimeParameter" not in open(full["path"]).read()
    assert not full["spec"]["root"].get("inputDefinitions")  # no runtime parameters


# --- resources and scheduling -----------------------------------------------------------------

def test_trainer_requests_the_gpus_and_limits(full):
    resources = _executors(full["spec"])["Trainer_executor"]["container"]["resources"]
    assert resources["accelerator"]["type"] == "nvidia.com/gpu"
    assert int(resources["accelerator"]["count"]) == 2
    assert resources["cpuLimit"] == 8.0
    assert resources["memoryLimit"] == pytest.approx(32 * 2**30 / 1e9)  # GB, as KFP wants
    transform = _executors(full["spec"])["Transform_executor"]["container"]["resources"]
    assert int(transform["accelerator"]["count"]) == 1
    others = {label for label, e in _executors(full["spec"]).items()
              if "resources" in e.get("container", {})}
    assert others == {"Trainer_executor", "Transform_executor"}


def test_node_selector_and_tolerations_land_on_the_gpu_executors(full):
    executors = full["platform"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    trainer = executors[_label(full["spec"], "Trainer")]
    assert trainer["nodeSelector"] == {"labels": NODE_SELECTOR}
    assert trainer["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present",
         "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute",
         "tolerationSeconds": 600}]
    assert executors["Transform_executor"]["nodeSelector"] == {"labels": NODE_SELECTOR}
    for label, config in executors.items():
        # The PVC goes to every task; scheduling only to the GPU ones.
        assert config["pvcMount"][0]["constant"] == "raw-frames"
        assert config["pvcMount"][0]["mountPath"] == "/mnt/frames"
        assert config["pvcMount"][0]["pvcNameParameter"] == {
            "runtimeValue": {"constant": "raw-frames"}}
        if label not in ("Trainer_executor", "Transform_executor"):
            assert "nodeSelector" not in config and "tolerations" not in config
    assert set(executors) == set(_executors(full["spec"]))
    assert "&id" not in open(full["path"]).read()  # no YAML anchors


def test_default_compile_has_one_gpu_and_no_platform_document(default):
    docs = default["docs"]
    assert len(docs) == 1  # nothing for the PlatformSpec: omitted, as kfp's compiler does
    resources = _executors(docs[0])["Trainer_executor"]["container"]["resources"]
    assert resources == {"accelerator": {"count": "1", "type": "nvidia.com/gpu"}}


# --- what the containers run --------------------------------------------------------------------

def test_every_executor_runs_the_given_image_with_the_tfx_v2_entrypoint(full, default):
    for spec in (full["spec"], default["docs"][0]):
        executors = _executors(spec)
        assert len(executors) == len(spec["root"]["dag"]["tasks"])
        for label, executor in executors.items():
            container = executor["container"]
            assert container["image"] == IMAGE, label
            assert container["command"] == [
                "python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]


def test_no_resolver_node(full):
    spec = full["spec"]
    names = (list(spec["root"]["dag"]["tasks"]) + list(spec["components"])
             + list(_executors(spec)))
    assert not [n for n in names if "resolver" in n.lower()]
    assert "resolver" not in json.dumps(spec["root"]).lower()
    assert not any("importer" in e for e in _executors(spec).values())


def test_no_compile_time_upload_of_user_code(full, default):
    for result in (full, default):
        text = open(result["path"]).read()
        assert "module_file" not in text and "module_path" not in text
        assert ".whl" not in text and "pip install" not in text and "_wheels" not in text
        allowed = ("gs://bucket/data", "gs://bucket/ann.xlsx", ROOT,
                   "gs://bucket/mer/serving_model/", "gs://bucket/tmp")
        for url in re.findall(r"gs://[^\s\"'\\,}]+", text):
            assert url.startswith(allowed), url
        assert result["touched"] == []  # nothing read or written under gs:// while compiling


def test_schema_is_read_from_the_image(default):
    params = default["docs"][0]["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"][
        "parameters"]
    assert params["schema_file"] == {"runtimeValue": {"constant": compiler.CONTAINER_SCHEMA_PATH}}
    assert compiler.CONTAINER_SCHEMA_PATH.startswith(compiler.CONTAINER_SOURCE_DIR + "/")
    assert os.path.isfile(os.path.join(
        REPO, os.path.relpath(compiler.CONTAINER_SCHEMA_PATH, compiler.CONTAINER_SOURCE_DIR)))


def test_beam_args_reach_the_beam_components(full, default):
    args = _executors(full["spec"])["MerExampleGen_executor"]["container"]["args"]
    assert all(arg in args for arg in BEAM_ARGS)
    assert not any(a.startswith("--direct") for a in args)
    default_args = _executors(default["docs"][0])["MerExampleGen_executor"]["container"]["args"]
    # DirectRunner sized by the pod at run time, not by the compiling machine.
    assert "--direct_num_workers=0" in default_args
    assert "--direct_running_mode=multi_processing" in default_args
    # its workers run in the task's image: TFX builds no sdist of itself per task
    assert f"--sdk_container_image={IMAGE}" in default_args
    assert not any(a.startswith("--sdk_container_image") for a in args)


def test_ingestion_is_not_cached_but_the_rest_is(default):
    tasks = default["docs"][0]["root"]["dag"]["tasks"]
    assert tasks["MerExampleGen"]["cachingOptions"] == {"enableCache": False}
    assert all(t["cachingOptions"] == {"enableCache": True}
               for name, t in tasks.items() if name != "MerExampleGen")


# --- the CLI ------------------------------------------------------------------------------------

def test_cli_compile(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("MER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MER_EPOCHS", "3")
    out = tmp_path / "cli.yaml"
    parser = StrictParser(prog="mer-tfx")
    add_kfp_parser(parser.add_subparsers(dest="command", required=True))
    args, extra = parser.parse_known_args([
        "kfp", "compile", "--out", str(out), "--image", IMAGE,
        "--pipeline-root", "gs://b2/mer/pipeline_root", "--dataset", "samm",
        "--data-root", "/mnt/data/SAMM", "--annotations", "/mnt/data/samm.xlsx",
        "--pvc", "samm-data:/mnt/data", "--gpus", "1", "--accelerator", "nvidia.com/gpu",
        "--cpu-limit", "500m", "--memory-limit", "16G",
        "--node-selector", "pool=gpu", "--node-selector", "zone=a",
        "--toleration", "nvidia.com/gpu:NoSchedule",
        "--toleration", '{"key": "spot", "operator": "Exists"}',
        "--beam-arg=--runner=FlinkRunner", "--beam-arg=--flink_master=flink:8081",
        "--no-cache"])
    assert args.accepts_beam_args and extra == []
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert args.handler(args, args.beam_arg) == 0
    summary = json.loads(printed.getvalue())
    assert summary["serving_dir"] == "gs://b2/mer/serving_model"
    spec, platform = _docs(str(out))
    assert spec["defaultPipelineRoot"] == "gs://b2/mer/pipeline_root"
    tasks = spec["root"]["dag"]["tasks"]
    assert json.loads(tasks["MerExampleGen"]["inputs"]["parameters"]["sources"][
        "runtimeValue"]["constant"]) == [["samm", "/mnt/data/SAMM", "/mnt/data/samm.xlsx"]]
    assert json.loads(tasks["Trainer"]["inputs"]["parameters"]["custom_config"][
        "runtimeValue"]["constant"])["trainer"]["epochs"] == 3
    assert all(t["cachingOptions"] == {"enableCache": False} for t in tasks.values())
    resources = _executors(spec)["Trainer_executor"]["container"]["resources"]
    assert resources["cpuLimit"] == 0.5 and resources["memoryLimit"] == 16.0
    args_ = _executors(spec)["MerExampleGen_executor"]["container"]["args"]
    assert "--runner=FlinkRunner" in args_ and "--flink_master=flink:8081" in args_
    trainer = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"][
        "Trainer_executor"]
    assert trainer["nodeSelector"] == {"labels": {"pool": "gpu", "zone": "a"}}
    assert trainer["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Exists"}]


def _compile_args(argv):
    parser = StrictParser(prog="mer-tfx")
    add_kfp_parser(parser.add_subparsers(dest="command", required=True))
    args, extra = parser.parse_known_args(["kfp", "compile"] + argv)
    assert extra == []
    return args, args.beam_arg


def test_cli_compile_needs_an_image_and_a_remote_root(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("MER_"):
            monkeypatch.delenv(name)
    args, extra = _compile_args(["--out", str(tmp_path / "p.yaml"),
                                 "--pipeline-root", ROOT])
    with pytest.raises(UserError, match="--image"):
        args.handler(args, extra)
    args, extra = _compile_args(["--out", str(tmp_path / "p.yaml"), "--image", IMAGE])
    with pytest.raises(UserError, match="--pipeline-root"):
        args.handler(args, extra)


# --- refusals (no TFX compile needed to reach them) -------------------------------------------

@pytest.mark.parametrize("changes, kwargs, message", [
    ({}, {"pipeline_root": "/local/root"}, "gs://bucket/path"),
    ({}, {"pipeline_root": "minio://mlpipeline/v2"}, "minio"),
    ({"root": "data/CASME2"}, {}, "relative path"),
    ({"annotations": "/mnt/x/ann.xlsx"}, {}, "no PVC is mounted"),
    ({"output": "demo_out"}, {}, "relative path"),
    ({}, {"out": "pipeline.json"}, ".yaml"),
    ({}, {"image": ""}, "image"),
    ({}, {"accelerator": "a big gpu"}, "accelerator"),
    ({}, {"tolerations": ["k=v:Sometimes"]}, "effect must be"),
    ({}, {"node_selector": ["no-equals-sign"]}, "key=value"),
    ({}, {"memory_limit": "lots"}, "memory limit"),
    ({}, {"cpu_limit": "-1"}, "CPU limit"),
    ({}, {"beam_args": ["runner=DataflowRunner"]}, "--name=value"),
    ({}, {"pvc_mounts": ["claim-without-path"]}, "CLAIM_NAME:/mount/path"),
])
def test_bad_options_are_user_errors(tmp_path, changes, kwargs, message):
    settings = SETTINGS.replace(**changes)
    options = {"out": str(tmp_path / "p.yaml"), "image": IMAGE, "pipeline_root": ROOT}
    options.update(kwargs)
    out, image, root = options.pop("out"), options.pop("image"), options.pop("pipeline_root")
    with pytest.raises(UserError, match=re.escape(message)):
        compiler.compile_pipeline(settings, out, image, root, **options)
    assert not os.path.exists(tmp_path / "p.yaml")


@pytest.mark.parametrize("text, expected", [
    ("16Gi", 17.179869184), ("32G", 32.0), ("512Mi", 0.536870912), ("1.5G", 1.5), (8, 8.0)])
def test_memory_limits_are_converted_to_gb(text, expected):
    assert options.parse_memory(text) == pytest.approx(expected)


@pytest.mark.parametrize("text, expected", [("4", 4.0), ("500m", 0.5), ("0.25", 0.25), (2, 2.0)])
def test_cpu_limits(text, expected):
    assert options.parse_cpu(text) == expected


# --- the real component, and the image --------------------------------------------------------

def test_custom_artifact_types_are_kfp_compatible():
    """The KFP v2 runner encodes a custom artifact type by TYPE_NAME, which must look like
    '<module>.<Class>' and import back to the class inside the container. Fails while
    the type name does not resolve back to the class."""
    from mer_tfx.pipeline.pipeline import create_pipeline

    compiler.check_kfp_artifact_types(create_pipeline(SETTINGS, pipeline_root=ROOT))


def test_output_artifacts_rebuild_in_the_container_from_the_compiled_types(full):
    """What kubeflow_v2_run_executor does with MerExampleGen's outputs in the pod: the
    artifact types come from the compiled spec and must import back to their classes
    (see the test above)."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils
    from tfx.types import standard_artifacts

    from mer_tfx.components.mer_example_gen import IngestionReport

    outputs = full["spec"]["components"]["MerExampleGen"]["outputDefinitions"]["artifacts"]
    artifacts = {}
    for key, definition in outputs.items():
        runtime = pipeline_spec_pb2.RuntimeArtifact(
            uri=f"{ROOT}/mer-tfx/run-1/MerExampleGen/{key}",
            type=pipeline_spec_pb2.ArtifactTypeSchema(
                instance_schema=definition["artifactType"]["instanceSchema"]))
        artifacts[key] = pipeline_spec_pb2.ArtifactList(artifacts=[runtime])
    parsed = utils.parse_raw_artifact_dict(artifacts, {})
    assert isinstance(parsed["examples"][0], standard_artifacts.Examples)
    assert isinstance(parsed["ingest_report"][0], IngestionReport)
    assert parsed["ingest_report"][0].uri.endswith("/MerExampleGen/ingest_report")


def test_kfp_evaluations_are_found_in_both_backend_layouts(tmp_path):
    from mer_tfx.evaluation.layout import find_kfp_evaluations

    root = tmp_path / "pipeline_root"

    def evaluator_output(*parts, files=("eval_config.json", "metrics-00000-of-00001",
                                        "plots-00000-of-00001"), mtime=0):
        folder = root.joinpath("mer-tfx", *parts)
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_text("x")
            os.utime(folder / name, ns=(mtime, mtime))
        return str(folder)

    old = evaluator_output("run-a", "Evaluator", "evaluation", mtime=10**18)
    new = evaluator_output("run-b", "Evaluator", "1234", "evaluation", mtime=2 * 10**18)
    evaluator_output("run-b", "Evaluator", "1234", "blessing", files=("BLESSED",))
    evaluator_output("run-c", "Evaluator", "evaluation", files=())  # failed: no TFMA files
    # still running: config and metrics written, plots not yet
    evaluator_output("run-e", "Evaluator", "evaluation", files=("eval_config.json",
                                                                "metrics-00000-of-00001"),
                     mtime=3 * 10**18)
    evaluator_output("run-d", "Trainer", "model", files=("saved_model.pb",))

    found = find_kfp_evaluations(str(root))
    assert [(e["run_id"], e["evaluation"]) for e in found] == [("run-b", new), ("run-a", old)]
    assert found[0]["blessing"].endswith("run-b/Evaluator/1234/blessing")
    assert found[1]["blessing"] is None
    assert find_kfp_evaluations(str(tmp_path / "missing")) == []


def test_dockerfile_installs_the_project_where_the_compiler_expects_it():
    with open(os.path.join(REPO, "Dockerfile")) as handle:
        dockerfile = handle.read()
    assert re.search(r"^ARG BASE_IMAGE=tensorflow/tfx:1\.16\.0$", dockerfile, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile, re.M)
    assert f"COPY . {compiler.CONTAINER_SOURCE_DIR}" in dockerfile
    # the pinned dependencies, then the project itself with nothing more fetched
    assert "pip install -q -c constraints.txt -r requirements.txt" in dockerfile
    assert "pip install -q --no-deps --no-index --no-build-isolation ." in dockerfile
    assert re.search(r"ENV TF_USE_LEGACY_KERAS=1", dockerfile)
    with open(os.path.join(REPO, ".dockerignore")) as handle:
        ignored = handle.read().split()
    for entry in (".venv", "demo_out", "out", "**/*.tfrecord*", ".git"):
        assert entry in ignored


def test_cli_compile_with_several_sources(tmp_path, monkeypatch):
    from mer_tfx.cli import main

    for name in list(os.environ):
        if name.startswith("MER_"):
            monkeypatch.delenv(name)
    out = tmp_path / "composite.yaml"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["kfp", "compile", "--out", str(out), "--image", IMAGE,
                     "--pipeline-root", ROOT, "--preset", "megc2019",
                     "--source", "casme2", "gs://b/CASME2", "gs://b/casme2.xlsx",
                     "--source", "smic", "gs://b/SMIC"]) == 0
    tasks = _docs(str(out))[0]["root"]["dag"]["tasks"]
    parameters = tasks["MerExampleGen"]["inputs"]["parameters"]
    assert json.loads(parameters["sources"]["runtimeValue"]["constant"]) == [
        ["casme2", "gs://b/CASME2", "gs://b/casme2.xlsx"], ["smic", "gs://b/SMIC"]]
    assert json.loads(parameters["classes"]["runtimeValue"]["constant"]) == [
        "negative", "positive", "surprise"]
    with pytest.raises(UserError, match="smic data root"):
        compiler.compile_pipeline(
            SETTINGS.replace(sources=[["casme2", "gs://b/c", "gs://b/a.xlsx"],
                                      ["smic", "relative/SMIC"]]),
            str(tmp_path / "p.yaml"), IMAGE, ROOT)
