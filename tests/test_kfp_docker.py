"""The project's image, built and run: the package replayed inside it (kfp replay --docker).

The image is built once per session from this checkout on ``python:3.10-slim`` (CI
builds a local stand-in when it cannot be pulled; the layer cache makes a rebuild with
unchanged dependencies take about a minute). Tiny ``python -c`` tasks in that image
pin what the container gets (its user, working directory and environment, nothing
from this shell; the launcher's files; a failure's last lines). The session's local
pipeline run is then compiled with ``--local`` and replayed with every task in a
container of the image: Docker's own event log must show each task's container exit
0, the blessed model must be pushed, and ``mer-tfx report`` must equal the local
run's. Skipped, with the reason, where no Docker engine is reachable.
"""
import contextlib
import io
import json
import os
import shutil
import subprocess
import time

import pytest
import yaml

from conftest import FAST_BEAM_ARGS
from mer_tfx.cli import main
from mer_tfx.errors import UserError
from mer_tfx.kfp import compiler
from mer_tfx.kfp.replay import replay_package
from test_kfp_replay import _toy_spec, _write, assert_same_report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = "python:3.10-slim"
IMAGE = "mer-tfx:test"
LOCAL_CAS = "/usr/local/share/ca-certificates"  # a TLS-re-signing proxy's CA, if any


def _engine() -> str | None:
    """Why the Docker tests cannot run here, or None."""
    if not shutil.which("docker"):
        return "no docker command (install docker.io; .ci/run does)"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "the Docker engine does not answer"
    return None if info.returncode == 0 else "no Docker engine reachable (start dockerd)"


pytestmark = pytest.mark.skipif(_engine() is not None, reason=str(_engine()))


def _docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session")
def image():
    """This checkout built on python:3.10-slim (README: 'The Kubeflow image')."""
    argv = ["docker", "build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE}",
            "-t", IMAGE, REPO]
    certificates = sorted(f for f in os.listdir(LOCAL_CAS) if f.endswith(".crt")) \
        if os.path.isdir(LOCAL_CAS) else []
    if certificates:
        pem = "".join(open(os.path.join(LOCAL_CAS, f)).read() for f in certificates).rstrip("\n")
        argv[2:2] = ["--build-arg", f"EXTRA_CA_CERTS={pem}"]
    started = time.monotonic()
    built = subprocess.run(argv, capture_output=True, text=True)
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    return {"tag": IMAGE, "id": _docker("image", "inspect", "--format", "{{.Id}}", IMAGE).strip(),
            "seconds": time.monotonic() - started}


def test_the_image_runs_the_smoke_check_and_keeps_no_compiler(image):
    smoke = json.loads(_docker("run", "--rm", IMAGE, "python", "/opt/mer-tfx/docker/smoke.py"))
    assert smoke["problems"] == 0
    assert "mer_tfx.components.mer_example_gen.Executor" in smoke["imports"]
    assert smoke["schema_files"] == [compiler.CONTAINER_SCHEMA_PATH]
    found = _docker("run", "--rm", "--entrypoint", "sh", IMAGE, "-c",
                    "command -v gcc g++ cc || true; python -c 'import sys; print(sys.prefix)'")
    assert found.split() == ["/opt/venv"]  # the compiler stayed in the build stage


# --- tiny tasks in the image --------------------------------------------------------------

DUMP = """
import json, os, sys
executor_input = json.loads(sys.argv[1])
uri = executor_input["outputs"]["artifacts"]["data"]["artifacts"][0]["uri"]
with open(os.path.join(uri, "argv.json"), "w") as handle:
    json.dump({"env": dict(os.environ), "cwd": os.getcwd(), "uid": os.getuid(),
               "python": sys.executable, "outputFile": executor_input["outputs"]["outputFile"]},
              handle)
with open(executor_input["outputs"]["parameters"]["size"]["outputFile"], "w") as handle:
    handle.write("7")
parameters = executor_input["inputs"]["parameterValues"]
with open(os.path.join(parameters["target"], "written"), "w") as handle:
    handle.write(open(parameters["schema"]).read()[:20])
"""


@pytest.fixture
def toy(image, tmp_path):
    spec = _toy_spec()
    for executor in spec["deploymentSpec"]["executors"].values():
        executor["container"]["image"] = IMAGE
    spec["deploymentSpec"]["executors"]["exec-produce"]["container"]["command"] = [
        "python", "-c", DUMP]
    spec["deploymentSpec"]["executors"]["exec-produce"]["container"]["args"] = ["{{$}}"]
    # a path only the image has (its schema copy) and one a task creates (a Pusher's)
    target = str(tmp_path / "serving" / "model")
    spec["root"]["dag"]["tasks"]["produce"]["inputs"]["parameters"].update(
        schema={"runtimeValue": {"constant": compiler.CONTAINER_SCHEMA_PATH}},
        target={"runtimeValue": {"constant": target}})
    spec["components"]["comp-produce"]["inputDefinitions"]["parameters"].update(
        schema={"parameterType": "STRING"}, target={"parameterType": "STRING"})
    return {"spec": spec, "dir": tmp_path, "target": target}


def _replay_toy(toy, **kwargs):
    path = _write(toy["dir"] / "toy.yaml", [toy["spec"]])
    return replay_package(path, str(toy["dir"] / "root"), quiet=True, out=io.StringIO(),
                          docker=True, **kwargs)


def test_a_task_sees_the_images_user_workdir_and_environment_only(toy, monkeypatch):
    monkeypatch.setenv("MER_HOST_ONLY", "leak")
    result = _replay_toy(toy)
    tasks = {t["task"]: t for t in result["tasks"]}
    seen = json.load(open(os.path.join(tasks["produce"]["outputs"]["data"], "argv.json")))
    assert (seen["cwd"], seen["uid"], seen["python"]) == ("/", 0, "/opt/venv/bin/python")
    assert "MER_HOST_ONLY" not in seen["env"] and seen["env"]["TOY_ENV"] == "from-spec"
    assert seen["env"]["TF_USE_LEGACY_KERAS"] == "1"  # the image's ENV
    assert seen["outputFile"] == "/tmp/kfp_outputs/output_metadata.json"  # the pod's path
    assert tasks["produce"]["parameters"] == {"size": 7.0}
    with open(os.path.join(toy["target"], "written")) as handle:  # mounted writable
        assert handle.read() == open(os.path.join(REPO, "schemas", "schema.pbtxt")).read()[:20]
    assert not os.path.exists(compiler.CONTAINER_SOURCE_DIR)  # the image's own, not mounted
    assert tasks["consume"]["status"] == "succeeded"
    assert {t["container"]["image_id"] for t in tasks.values()} == {_docker(
        "image", "inspect", "--format", "{{.Id}}", IMAGE).strip()}


def test_files_the_containers_wrote_are_handed_back_to_a_non_root_caller(toy, monkeypatch):
    from mer_tfx.kfp import runners

    monkeypatch.setattr(runners.os, "getuid", lambda: 4321)
    result = _replay_toy(toy)
    owners = {os.stat(os.path.join(folder, name)).st_uid
              for folder, folders, files in os.walk(result["run_root"])
              for name in folders + files}
    assert owners == {4321}


def test_a_failing_container_names_the_task_the_image_and_its_last_lines(toy):
    toy["spec"]["deploymentSpec"]["executors"]["exec-produce"]["container"]["command"] = [
        "python", "-c", "import sys; print('about to fail'); sys.exit(3)"]
    with pytest.raises(UserError, match=rf"(?s)task produce failed in image {IMAGE}: exit "
                                        rf"code 3 from python -c .*about to fail"):
        _replay_toy(toy)


def test_an_image_the_engine_lacks_is_refused_before_any_task(toy):
    toy["spec"]["deploymentSpec"]["executors"]["exec-consume"]["container"]["image"] = \
        "localhost:1/mer-tfx:missing"
    with pytest.raises(UserError, match=r"image localhost:1/mer-tfx:missing is neither in the "
                                        r"Docker engine nor pullable"):
        _replay_toy(toy)
    assert not os.path.exists(toy["dir"] / "root" / "toy")


# --- the pipeline, replayed in the image -------------------------------------------------

@pytest.fixture(scope="module")
def replayed(image, pipeline_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("kfp_docker")
    settings = pipeline_run.settings.replace(output=str(base / "out"))
    root = str(base / "out" / "root")
    path = compiler.compile_pipeline(settings, str(base / "pipeline.yaml"), IMAGE, root,
                                     gpus=1, beam_args=FAST_BEAM_ARGS, local=True)
    since = _docker("info", "--format", "{{json .SystemTime}}").strip().strip('"')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["kfp", "replay", path, "--pipeline-root", root, "--docker", "--quiet"])
    text = printed.getvalue()
    assert code == 0, text[-3000:]
    summary = json.loads(text[text.index("\n{") + 1:])
    events = _docker("events", "--since", since, "--until", _docker(
        "info", "--format", "{{json .SystemTime}}").strip().strip('"'), "--filter",
        f"label=mer-tfx.replay.run={summary['run_id']}", "--filter", "event=die",
        "--format", "{{json .Actor.Attributes}}")
    return {"text": text, "summary": summary, "path": path, "root": root, "settings": settings,
            "tasks": {t["task"]: t for t in summary["tasks"]},
            "died": [json.loads(line) for line in events.splitlines()]}


@pytest.mark.slow
def test_every_task_ran_in_a_container_of_the_image(replayed, image):
    spec = list(yaml.safe_load_all(open(replayed["path"])))[0]
    assert replayed["summary"]["runner"] == "docker"
    assert sorted(replayed["tasks"]) == sorted(spec["root"]["dag"]["tasks"])
    exits = {event["mer-tfx.replay.task"]: (event["image"], event["exitCode"])
             for event in replayed["died"]}
    assert exits == {name: (IMAGE, "0") for name in replayed["tasks"]}
    assert {t["container"]["image_id"] for t in replayed["tasks"].values()} == {image["id"]}
    assert "Trainer: 1 x nvidia.com/gpu" in replayed["text"]
    if "nvidia" not in _docker("info", "--format", "{{json .Runtimes}}"):
        assert "1 x nvidia.com/gpu requested: skipped, the Docker engine has no NVIDIA " \
               "runtime" in replayed["text"]


@pytest.mark.slow
def test_the_blessed_model_is_pushed_from_the_container(replayed):
    blessing = replayed["tasks"]["Evaluator"]["outputs"]["blessing"]
    assert os.path.exists(os.path.join(blessing, "BLESSED"))
    pushed = replayed["tasks"]["Pusher"]["metadata"]["pushed_model"]["pushed_destination"]
    assert os.path.dirname(pushed) == os.path.join(replayed["settings"].serving_dir, "mer_model")
    assert os.path.exists(os.path.join(pushed, "saved_model.pb"))


@pytest.mark.slow
def test_the_report_on_the_replay_equals_the_local_runs(replayed, pipeline_run):
    assert_same_report(replayed["root"], replayed["summary"]["run_id"],
                       pipeline_run.pipeline_root,
                       replayed["tasks"]["Evaluator"]["outputs"]["evaluation"])
