"""mer_tfx.kfp.replay: a compiled package run here, task by task, as KFP v2 runs it.

The slow part compiles the session's local pipeline run (conftest ``pipeline_run``,
same data and settings) with ``--local`` and replays it once (~2 min on 2 cores): every
task runs, the model is blessed and pushed, the outputs lie in the KFP v2 layout and
``mer-tfx report`` on the replay's root gives the local run's metrics. A hand-written
package of tiny ``python -c`` tasks (no TFX, seconds) pins what the driver and the
launcher do: placeholders, parameter types and defaults, metadata through ML Metadata,
output parameters; broken and unsupported packages (conditions, importers, pipeline
inputs: nothing this project compiles) fail with messages that name the task. The
same package replayed in the image (--docker) is tests/test_kfp_docker.py.
"""
import contextlib
import copy
import io
import json
import os
import re
import sys

import pytest
import yaml

from conftest import FAST_BEAM_ARGS
from mer_tfx.cli import main
from mer_tfx.errors import UserError
from mer_tfx.kfp import compiler
from mer_tfx.kfp.platform import read_package
from mer_tfx.kfp.replay import replay_package
from mer_tfx.kfp.runners import IMAGE_ENV

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_SELECTOR = {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}


def _docs(path):
    with open(path) as handle:
        return list(yaml.safe_load_all(handle))


def _write(path, docs):
    with open(path, "w") as handle:
        yaml.safe_dump_all(docs, handle, sort_keys=True)
    return str(path)


def _replay_cli(argv):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["kfp", "replay", *argv])
    text = printed.getvalue()
    summary = json.loads(text[text.index("\n{") + 1:]) if code == 0 else None
    return code, text, summary


# --- the pipeline, compiled --local and replayed --------------------------------------------

@pytest.fixture(scope="module")
def package(pipeline_run, tmp_path_factory):
    """The session run's settings compiled for replay, with the Trainer's GPU request,
    limits and scheduling of a real package, and the local run's Beam mode."""
    base = tmp_path_factory.mktemp("kfp_replay")
    settings = pipeline_run.settings.replace(output=str(base / "out"))
    path = compiler.compile_pipeline(
        settings, str(base / "pipeline.yaml"), "mer-tfx:local", str(base / "out" / "root"),
        gpus=1, cpu_limit="8", memory_limit="32Gi", node_selector=NODE_SELECTOR,
        tolerations=["nvidia.com/gpu=present:NoSchedule"], beam_args=FAST_BEAM_ARGS,
        local=True)
    return {"path": path, "root": str(base / "out" / "root"), "settings": settings,
            "base": base}


@pytest.fixture(scope="module")
def replayed(package):
    code, text, summary = _replay_cli([package["path"], "--pipeline-root", package["root"]])
    assert code == 0, text[-3000:]
    return {"text": text, "summary": summary,
            "tasks": {t["task"]: t for t in summary["tasks"]}, **package}


@pytest.mark.slow
def test_every_task_ran_in_dependency_order(replayed):
    spec = _docs(replayed["path"])[0]
    tasks = spec["root"]["dag"]["tasks"]
    order = [t["task"] for t in replayed["summary"]["tasks"]]
    assert sorted(order) == sorted(tasks) and len(order) == 9
    for position, name in enumerate(order):
        assert set(tasks[name].get("dependentTasks", [])) <= set(order[:position]), name
    assert all(t["status"] == "succeeded" for t in replayed["summary"]["tasks"])
    assert replayed["summary"]["stopped_after"] is None
    for index, name in enumerate(order, start=1):
        assert re.search(rf"^task {index} of 9: {name} succeeded in [0-9.]+ s$",
                         replayed["text"], re.M), name


@pytest.mark.slow
def test_outputs_lie_where_kfp_v2_puts_them(replayed):
    run_root = os.path.join(replayed["root"], "mer-tfx", replayed["summary"]["run_id"])
    assert replayed["summary"]["run_root"] == run_root
    spec = _docs(replayed["path"])[0]
    for name, task in replayed["tasks"].items():
        component = spec["components"][spec["root"]["dag"]["tasks"][name]["componentRef"]["name"]]
        assert set(task["outputs"]) == set(component["outputDefinitions"]["artifacts"]), name
        for key, uri in task["outputs"].items():
            assert uri == os.path.join(run_root, name, key)
            assert os.path.isdir(uri)
    for name, key in [("MerExampleGen", "examples"), ("Transform", "transform_graph"),
                      ("Trainer", "model"), ("Evaluator", "evaluation"),
                      ("Pusher", "pushed_model")]:
        assert os.listdir(replayed["tasks"][name]["outputs"][key]), (name, key)


@pytest.mark.slow
def test_artifact_metadata_travels_downstream_as_ml_metadata_keeps_it(replayed):
    metadata = replayed["tasks"]["SubjectSplit"]["metadata"]["split_examples"]
    assert sorted(json.loads(metadata["split_names"])) == ["eval", "train"]
    assert metadata["display_name"] == "split_examples"
    blessing = replayed["tasks"]["Evaluator"]["metadata"]["blessing"]
    assert blessing["blessed"] == 1.0  # TFX's int custom property, a double after MLMD
    pushed = replayed["tasks"]["Pusher"]["metadata"]["pushed_model"]
    assert pushed["pushed"] == 1.0


@pytest.mark.slow
def test_the_blessed_model_is_pushed(replayed):
    blessing = replayed["tasks"]["Evaluator"]["outputs"]["blessing"]
    assert os.path.exists(os.path.join(blessing, "BLESSED"))
    pushed = replayed["tasks"]["Pusher"]["metadata"]["pushed_model"]["pushed_destination"]
    serving = os.path.join(replayed["settings"].serving_dir, "mer_model")
    assert os.path.dirname(pushed) == serving
    assert os.path.exists(os.path.join(pushed, "saved_model.pb"))


@pytest.mark.slow
def test_scheduling_the_cluster_would_do_is_printed(replayed):
    text = replayed["text"]
    assert ("Trainer: 1 x nvidia.com/gpu on cloud.google.com/gke-accelerator=nvidia-tesla-t4; "
            "cpu limit 8, memory limit 32Gi (34.36 GB); "
            "tolerates nvidia.com/gpu=present:NoSchedule") in text
    assert "not honoured here" in text
    assert f"`python` -> {sys.executable}" in text
    assert re.search(r"MerExampleGen.*: no requests", text)


def assert_same_report(kubeflow_root, run_id, local_root, evaluation_path):
    """collect_report of a replayed run equals the local run's, section by section
    (same data, settings and seeds: the Trainer is deterministic)."""
    from mer_tfx.evaluation import layout
    from mer_tfx.evaluation.report import collect_report

    kubeflow = collect_report(layout.find_run(kubeflow_root, run_id=run_id))
    local = collect_report(layout.find_run(local_root))
    assert (kubeflow["layout"], local["layout"]) == ("kubeflow", "local")
    assert kubeflow["run"]["id"] == run_id
    assert kubeflow["preprocessing"] == local["preprocessing"]
    assert kubeflow["evaluation_path"] == evaluation_path
    assert kubeflow["blessed"] is True and kubeflow["blessing_path"]
    for name, value in local["overall"].items():
        assert kubeflow["overall"][name] == pytest.approx(value, abs=1e-6), name
    assert kubeflow["confusion_matrix"] == local["confusion_matrix"]
    for ours, theirs in zip(kubeflow["per_class"], local["per_class"]):
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            assert ours[key] == (pytest.approx(value, abs=1e-6) if isinstance(value, float)
                                 else value), (theirs["class"], key)
    assert kubeflow["slices"].keys() == local["slices"].keys()
    for feature, rows in local["slices"].items():
        assert [r["value"] for r in kubeflow["slices"][feature]] == [r["value"] for r in rows]
        assert [r["example_count"] for r in kubeflow["slices"][feature]] == \
            [r["example_count"] for r in rows]
    drop = {"path"}
    assert {k: v for k, v in kubeflow["ingestion"].items() if k not in drop} == \
        {k: v for k, v in local["ingestion"].items() if k not in drop}
    assert kubeflow["anomalies"]["splits"] == local["anomalies"]["splits"]
    for key in ("epochs_run", "kept_epoch", "validation_subjects", "validation_curve"):
        assert kubeflow["training"][key] == local["training"][key], key


@pytest.mark.slow
def test_the_report_reads_the_replay_with_the_local_runs_metrics(replayed, pipeline_run):
    assert_same_report(replayed["root"], replayed["summary"]["run_id"],
                       pipeline_run.pipeline_root,
                       replayed["tasks"]["Evaluator"]["outputs"]["evaluation"])
    out = replayed["base"] / "report"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", "--pipeline-root", replayed["root"], "--out", str(out)]) == 0
    assert json.load(open(out / "metrics.json"))["layout"] == "kubeflow"


@pytest.mark.slow
def test_the_local_package_reads_local_paths_and_cannot_be_uploaded(package):
    spec = _docs(package["path"])[0]
    params = spec["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"]["parameters"]
    assert os.path.realpath(params["schema_file"]["runtimeValue"]["constant"]) == \
        os.path.join(REPO, "schemas", "schema.pbtxt")
    sources = json.loads(spec["root"]["dag"]["tasks"]["MerExampleGen"]["inputs"]["parameters"][
        "sources"]["runtimeValue"]["constant"])
    assert all(os.path.isabs(path) for path in sources[0][1:])
    assert spec["defaultPipelineRoot"] == package["root"]
    with pytest.raises(UserError, match="--local"):
        read_package(package["path"], for_cluster=True)


# --- broken packages fail early, naming the task ---------------------------------------------

@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """A --local package that is only compiled (no run needed to break it)."""
    base = tmp_path_factory.mktemp("kfp_broken")
    (base / "frames").mkdir()
    (base / "annotations.xlsx").write_bytes(b"")
    from mer_tfx.pipeline.configs import PipelineSettings

    settings = PipelineSettings(root=str(base / "frames"),
                                annotations=str(base / "annotations.xlsx"),
                                output=str(base / "out"))
    path = compiler.compile_pipeline(settings, str(base / "pipeline.yaml"), "mer-tfx:local",
                                     str(base / "out" / "root"), beam_args=FAST_BEAM_ARGS,
                                     local=True)
    return {"path": path}


def test_an_executor_class_that_does_not_import_fails_naming_the_task(compiled, tmp_path):
    spec, *rest = _docs(compiled["path"])
    args = spec["deploymentSpec"]["executors"]["ImportSchemaGen_executor"]["container"]["args"]
    args[args.index("--executor_class_path") + 1] = "mer_tfx.no_such_module.Executor"
    broken = _write(tmp_path / "broken.yaml", [spec, *rest])
    with pytest.raises(UserError) as error:
        replay_package(broken, str(tmp_path / "root"), task_limit=1, quiet=True,
                       out=io.StringIO())
    message = str(error.value)
    assert message.startswith("task ImportSchemaGen failed: exit code 1")
    assert "No module named 'mer_tfx.no_such_module'" in message


def test_a_missing_upstream_artifact_fails_before_any_task_runs(compiled, tmp_path):
    spec, *rest = _docs(compiled["path"])
    trainer = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["artifacts"]["transform_graph"]
    trainer["taskOutputArtifact"]["outputArtifactKey"] = "transform_graphs"
    broken = _write(tmp_path / "broken.yaml", [spec, *rest])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        assert main(["kfp", "replay", broken, "--pipeline-root", str(tmp_path / "root")]) == 2
    assert not os.path.exists(tmp_path / "root")  # nothing ran
    spec["root"]["dag"]["tasks"]["Pusher"]["dependentTasks"].append("InfraValidator")
    missing = _write(tmp_path / "missing.yaml", [spec, *rest])
    with pytest.raises(UserError, match=r"task Pusher depends on InfraValidator, which is not "
                                        r"a task of the pipeline"):
        replay_package(missing, str(tmp_path / "root"), out=io.StringIO())
    spec["root"]["dag"]["tasks"]["Pusher"]["dependentTasks"].remove("InfraValidator")
    with pytest.raises(UserError, match=r"task Trainer input artifact 'transform_graph' wants "
                                        r"output 'transform_graphs' of task Transform"):
        replay_package(_write(tmp_path / "again.yaml", [spec, *rest]), str(tmp_path / "root"),
                       out=io.StringIO())


def test_the_cli_error_names_the_task(compiled, tmp_path, capsys):
    spec, *rest = _docs(compiled["path"])
    spec["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["artifacts"]["model"][
        "taskOutputArtifact"]["producerTask"] = "Trainers"
    broken = _write(tmp_path / "broken.yaml", [spec, *rest])
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["kfp", "replay", broken, "--pipeline-root", str(tmp_path / "root")]) == 2
    err = capsys.readouterr().err
    assert "mer-tfx kfp: error: task Evaluator depends on Trainers" in err


# --- the driver and launcher, on tiny python -c tasks --------------------------------------------

PRODUCE = """
import json, os, sys
executor_input = json.loads(sys.argv[1])
uri = sys.argv[3]
with open(os.path.join(uri, "argv.json"), "w") as handle:
    json.dump({"argv": sys.argv[1:], "env": os.environ.get("TOY_ENV"),
               "legacy_keras": os.environ.get("TF_USE_LEGACY_KERAS"), "cwd": os.getcwd()},
              handle)
with open(sys.argv[4], "w") as handle:
    handle.write("42\\n")
metadata = executor_input["outputs"]["outputFile"]
os.makedirs(os.path.dirname(metadata), exist_ok=True)
with open(metadata, "w") as handle:
    json.dump({"artifacts": {"data": {"artifacts": [{"metadata": {
        "flag": True, "items": [1, 2], "split_names": '["a"]'}}]}}}, handle)
"""
CONSUME = """
import json, os, sys
executor_input = json.loads(sys.argv[1])
uri = executor_input["outputs"]["artifacts"]["report"]["artifacts"][0]["uri"]
data = executor_input["inputs"]["artifacts"]["data"]["artifacts"][0]["uri"]
assert os.path.exists(os.path.join(data, "argv.json"))
with open(os.path.join(uri, "executor_input.json"), "w") as handle:
    handle.write(sys.argv[1])
"""


def _schema(title):
    return {"schemaTitle": title, "schemaVersion": "0.0.1"}


def _container(script, args):
    return {"container": {"image": "python:3.10", "command": ["python", "-c", script],
                          "args": args, "env": [{"name": "TOY_ENV", "value": "from-spec"}]}}


def _constant(value):
    return {"runtimeValue": {"constant": value}}


def _toy_spec():
    """produce -> consume: parameters of every kind, an artifact, an output parameter."""
    report = {"artifacts": {"report": {"artifactType": _schema("system.Artifact")}}}
    return {
        "pipelineInfo": {"name": "toy"}, "schemaVersion": "2.1.0", "sdkVersion": "test",
        "defaultPipelineRoot": "/unused",
        "root": {
            "dag": {"tasks": {
                "produce": {"taskInfo": {"name": "produce"},
                            "componentRef": {"name": "comp-produce"},
                            "inputs": {"parameters": {
                                "greeting": _constant("hello"), "ratio": _constant(2.5),
                                "count": _constant(3.0),
                                "task_name": _constant("{{$.pipeline_task_name}}")}}},
                "consume": {
                    "taskInfo": {"name": "consume"}, "componentRef": {"name": "comp-consume"},
                    "dependentTasks": ["produce"],
                    "inputs": {
                        "artifacts": {
                            "data": {"taskOutputArtifact": {"producerTask": "produce",
                                                            "outputArtifactKey": "data"}}},
                        "parameters": {
                            "size": {"taskOutputParameter": {"producerTask": "produce",
                                                             "outputParameterKey": "size"}},
                            "threshold": _constant(40.0)}}},
            }}},
        "components": {
            "comp-produce": {
                "executorLabel": "exec-produce",
                "inputDefinitions": {"parameters": {
                    "greeting": {"parameterType": "STRING"},
                    "ratio": {"parameterType": "STRING"},
                    "count": {"parameterType": "NUMBER_INTEGER"},
                    "task_name": {"parameterType": "STRING"},
                    "mode": {"parameterType": "STRING", "defaultValue": "fast",
                             "isOptional": True}}},
                "outputDefinitions": {
                    "artifacts": {"data": {"artifactType": _schema("system.Dataset")}},
                    "parameters": {"size": {"parameterType": "NUMBER_INTEGER"}}}},
            "comp-consume": {
                "executorLabel": "exec-consume",
                "inputDefinitions": {
                    "artifacts": {"data": {"artifactType": _schema("system.Dataset")}},
                    "parameters": {"size": {"parameterType": "NUMBER_INTEGER"},
                                   "threshold": {"parameterType": "NUMBER_INTEGER"}}},
                "outputDefinitions": report},
        },
        "deploymentSpec": {"executors": {
            "exec-produce": _container(PRODUCE, [
                "{{$}}", "{{$.inputs.parameters['greeting']}}",
                "{{$.outputs.artifacts['data'].uri}}",
                "{{$.outputs.parameters['size'].output_file}}",
                "--ratio={{$.inputs.parameters['ratio']}}",
                "{{$.inputs.parameters['task_name']}}", "{{$.inputs.parameters['mode']}}"]),
            "exec-consume": _container(CONSUME, ["{{$}}"]),
        }},
    }


@pytest.fixture
def toy(tmp_path):
    return {"spec": _toy_spec(), "dir": tmp_path}


def _replay_toy(toy, spec=None, platform=None, **kwargs):
    docs = [spec or toy["spec"]] + ([platform] if platform else [])
    path = _write(toy["dir"] / "toy.yaml", docs)
    kwargs.setdefault("out", io.StringIO())
    return replay_package(path, str(toy["dir"] / "root"), quiet=True, **kwargs)


def test_the_launcher_substitutes_placeholders_as_kfp_does(toy):
    result = _replay_toy(toy, run_id="run-1")
    tasks = {t["task"]: t for t in result["tasks"]}
    assert list(tasks) == ["produce", "consume"]
    data = tasks["produce"]["outputs"]["data"]
    assert data == str(toy["dir"] / "root" / "toy" / "run-1" / "produce" / "data")
    seen = json.load(open(os.path.join(data, "argv.json")))
    executor_input, greeting, uri, size_file, ratio, task_name, mode = seen["argv"]
    parsed = json.loads(executor_input)
    assert (greeting, uri, ratio, task_name, mode) == ("hello", data, "--ratio=2.5", "produce",
                                                       "fast")
    assert parsed["inputs"]["parameterValues"] == {
        "greeting": "hello", "ratio": "2.5", "count": 3, "task_name": "produce",
        "mode": "fast"}  # a number given to a STRING parameter arrives as text; defaults added
    assert '"count":3' in executor_input  # whole numbers printed as Go's protojson does
    assert parsed["outputs"]["parameters"]["size"]["outputFile"] == size_file
    assert parsed["outputs"]["outputFile"].endswith(os.path.join("kfp_outputs",
                                                                 "output_metadata.json"))
    assert parsed["outputs"]["artifacts"]["data"]["artifacts"][0]["type"] == \
        _schema("system.Dataset")
    assert seen["env"] == "from-spec" and seen["legacy_keras"] == IMAGE_ENV[
        "TF_USE_LEGACY_KERAS"]
    assert not seen["cwd"].startswith(REPO)
    assert tasks["produce"]["parameters"] == {"size": 42.0}


def test_downstream_inputs_are_what_ml_metadata_hands_back(toy):
    result = _replay_toy(toy)
    tasks = {t["task"]: t for t in result["tasks"]}
    assert tasks["consume"]["status"] == "succeeded"
    got = json.load(open(os.path.join(tasks["consume"]["outputs"]["report"],
                                      "executor_input.json")))
    data = got["inputs"]["artifacts"]["data"]["artifacts"][0]
    assert data["uri"] == tasks["produce"]["outputs"]["data"]
    assert data["type"] == {"instanceSchema": "title: system.Dataset"}
    assert data["name"].isdigit()  # the ML Metadata id, which TFX needs (blessing ids)
    assert data["metadata"] == {"flag": 1, "items": {"list": [1, 2]}, "split_names": '["a"]',
                                "display_name": "data"}
    assert got["inputs"]["parameterValues"] == {"size": 42, "threshold": 40}


def test_task_limit(toy):
    result = _replay_toy(toy, task_limit=1)
    assert [t["task"] for t in result["tasks"]] == ["produce"]
    assert result["stopped_after"] == 1


def _edit(path_and_value):
    def apply(spec):
        *keys, value = path_and_value
        node = spec
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        return spec
    return apply


TASKS = ("root", "dag", "tasks")
EXECUTORS = ("deploymentSpec", "executors")


@pytest.mark.parametrize("edit, message", [
    (_edit((*TASKS, "consume", "parameterIterator",
            {"items": {"raw": "[1, 2]"}, "itemInput": "size"})),
     "task consume has a parameter_iterator (ParallelFor)"),
    (_edit(("components", "comp-consume", {"dag": {"tasks": {}}})), "runs a nested DAG"),
    (_edit((*TASKS, "consume", "triggerPolicy", {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"})),
     "ALL_UPSTREAM_TASKS_COMPLETED (an exit handler)"),
    (_edit((*TASKS, "consume", "triggerPolicy", {"condition": "inputs.x > 1"})),
     "task consume has a condition (triggerPolicy.condition 'inputs.x > 1', a TFX Cond / "
     "dsl.If), which no pipeline of this project compiles"),
    (_edit((*EXECUTORS, "exec-consume", {"resolver": {}})), "is a resolver node"),
    (_edit((*EXECUTORS, "exec-consume", {"importer": {
        "artifactUri": {"constant": "/m"}, "typeSchema": _schema("system.Model")}})),
     "task consume is an importer node (a TFX Importer / dsl.importer), which no pipeline of "
     "this project compiles"),
    (_edit(("root", "inputDefinitions", {"parameters": {
        "threshold": {"parameterType": "NUMBER_INTEGER"}}})),
     "pipeline inputs threshold (RuntimeParameters)"),
    (_edit((*TASKS, "produce", "inputs", "parameters", "greeting",
            {"runtimeValue": {"constantValue": {"stringValue": "hello"}}})),
     "runtimeValue.constant_value, which the open-source KFP v2 driver does not resolve"),
    (_edit((*TASKS, "consume", "inputs", "parameters", "threshold",
            {"componentInputParameter": "limit"})),
     "reads pipeline input 'limit' (a RuntimeParameter)"),
    (_edit((*TASKS, "consume", "inputs", "parameters", "size",
            {"taskOutputParameter": {"producerTask": "produce", "outputParameterKey": "n"}})),
     "wants output parameter 'n' of task produce"),
])
def test_what_cannot_be_replayed_is_refused_before_anything_runs(toy, edit, message):
    spec = edit(copy.deepcopy(toy["spec"]))
    with pytest.raises(UserError, match=re.escape(message)) as error:
        _replay_toy(toy, spec)
    assert "cannot be replayed" in str(error.value)
    assert not os.path.exists(toy["dir"] / "root")


def test_platform_features_are_printed_or_refused(toy):
    platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {"exec-produce": {
        "nodeSelector": {"labels": {"pool": "gpu"}},
        "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]}}}}}}
    printed = io.StringIO()
    _replay_toy(toy, platform=platform, out=printed, task_limit=1)
    assert "produce: nodes with pool=gpu; tolerates spot:NoSchedule" in printed.getvalue()
    platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-produce"][
        "secretAsEnv"] = [{"secretName": "s", "keyToEnv": [{"secretKey": "k", "envVar": "K"}]}]
    with pytest.raises(UserError, match="task produce: PlatformSpec secretAsEnv"):
        _replay_toy(toy, platform=platform)


def test_failures_at_run_time_name_the_task(toy):
    spec = copy.deepcopy(toy["spec"])
    spec["deploymentSpec"]["executors"]["exec-produce"]["container"]["args"].append(
        "{{$.inputs.parameters['missing']}}")
    with pytest.raises(UserError, match=r"task produce: placeholder "
                                        r"\{\{\$.inputs.parameters\['missing'\]\}\}"):
        _replay_toy(toy, spec)
    spec = copy.deepcopy(toy["spec"])
    spec[TASKS[0]]["dag"]["tasks"]["consume"]["inputs"]["parameters"]["threshold"] = \
        _constant("forty")
    with pytest.raises(UserError, match=r"task consume: input parameter 'threshold' type "
                                        r"mismatch: expect NUMBER_INTEGER, got string"):
        _replay_toy(toy, spec)
    spec = copy.deepcopy(toy["spec"])
    spec["deploymentSpec"]["executors"]["exec-produce"]["container"]["command"] = [
        "python", "-c", "import sys; print('about to fail'); sys.exit(3)"]
    with pytest.raises(UserError, match=r"(?s)task produce failed: exit code 3 .*about to fail"):
        _replay_toy(toy, spec)


def test_the_image_environment_matches_the_dockerfile():
    with open(os.path.join(REPO, "Dockerfile")) as handle:
        dockerfile = handle.read()
    image_stage = dockerfile[dockerfile.rindex("\nFROM "):]  # the last stage is the image
    env_block = re.search(r"^ENV (.*?)(?=^\S|\Z)", image_stage, re.M | re.S).group(1)
    declared = dict(re.findall(r"(\w+)=(\S+)", env_block))
    for name, value in IMAGE_ENV.items():
        assert declared.get(name) == value, name


def test_the_images_smoke_check_imports_what_the_package_names(compiled, tmp_path):
    """docker/smoke.py, which the Dockerfile runs last: every executor, module and
    function the tasks name is imported; a broken one is reported with its task."""
    import importlib.util

    loader = importlib.util.spec_from_file_location("smoke", os.path.join(REPO, "docker",
                                                                          "smoke.py"))
    smoke = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(smoke)
    spec, *rest = _docs(compiled["path"])
    names = smoke.named_imports(spec)
    assert names["mer_tfx.trainer.task.run_fn"] == ["Trainer"]
    assert sorted(names["tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]) \
        == sorted(spec["root"]["dag"]["tasks"])
    assert len(names) == 12  # the entrypoint, 9 executor classes, run_fn, preprocessing_fn
    assert smoke.check(spec) == []  # a --local package reads this checkout's schema
    args = spec["deploymentSpec"]["executors"]["SubjectSplit_executor"]["container"]["args"]
    args[args.index("--executor_class_path") + 1] = "mer_tfx.components.subject_split.Nope"
    assert smoke.check(spec) == ["mer_tfx.components.subject_split.Nope (SubjectSplit): "
                                 "AttributeError: module 'mer_tfx.components.subject_split' "
                                 "has no attribute 'Nope'"]
