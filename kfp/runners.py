"""Where a replayed task's command runs: here (``HostRunner``) or in its image (``DockerRunner``).

Both take the command and arguments exactly as the launcher leaves them (placeholders
substituted) and stream the task's output, keeping its last lines for the error.

HostRunner     a subprocess of this environment: a leading ``python`` becomes this
               interpreter, the variables the Dockerfile sets with ENV are set, the
               task runs in a scratch folder of its own.
DockerRunner   ``docker run`` of the package's image, as KFP's launcher runs it in a
               pod: ``command`` as the entrypoint, the image's user, working directory
               and environment (plus the container spec's ``env``; nothing from this
               shell), the launcher's files at /tmp/kfp_outputs and /tmp/kfp/outputs,
               the pipeline root mounted at the same path, the local paths the tasks'
               parameters name mounted at the same path (read-only when they exist,
               writable when a task is to create them, e.g. the Pusher's destination),
               GPU requests as ``--gpus N`` when the engine has an NVIDIA runtime.
               Files the containers wrote are handed back to the calling user.
"""
from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sys

from mer_tfx.errors import UserError

from .launcher import OUTPUT_METADATA, OUTPUT_PARAMETERS, local_path, pb_value

# What the Dockerfile sets with ENV for every task (tests/test_kfp_replay.py compares).
IMAGE_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_TAIL = 25


def stream(argv: list, quiet: bool, env: dict | None = None, cwd: str | None = None,
           on_interrupt=None) -> tuple:
    """Run argv, echoing its output to stderr unless quiet: (exit code, last lines)."""
    tail = collections.deque(maxlen=_TAIL)
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace", bufsize=1)
    try:
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            if not quiet:
                sys.stderr.write(line)
        return process.wait(), list(tail)
    except BaseException:
        process.kill()
        process.wait()
        if on_interrupt:
            on_interrupt()
        raise


def _head(command: list) -> str:
    return " ".join(part if len(part) < 70 else part[:60] + "..." for part in command[:3])


def _failure(task_name: str, where: str, code: int, command: list, tail: list) -> UserError:
    lines = "\n      ".join(tail)
    return UserError(f"task {task_name} failed{where}: exit code {code} from {_head(command)} "
                     f"...; its last lines:\n      {lines}")


class HostRunner:
    """Each task as a subprocess of this environment."""

    kind = "host"

    def __init__(self, run, python: str | None = None):
        self.run, self.python = run, python or sys.executable

    def describe(self) -> list:
        env = " ".join(f"{k}={v}" for k, v in IMAGE_ENV.items())
        return [f"executors     run as subprocesses of this environment: `python` -> "
                f"{self.python}; env {env} as the image sets it"]

    def prepare(self) -> None:
        pass

    def scratch(self, folder: str) -> str:
        return folder

    def run_task(self, task_name: str, command: list, container, folder: str) -> dict:
        command = list(command)
        if _PYTHON.match(os.path.basename(command[0])):
            command[0] = self.python
        elif not shutil.which(command[0]):
            raise UserError(f"task {task_name}: command {command[0]!r} (from the image) is not "
                            f"on this machine's PATH")
        env = dict(os.environ, **IMAGE_ENV)
        env.update({variable.name: variable.value for variable in container.env})
        code, tail = stream(command, self.run.quiet, env=env, cwd=folder)
        if code:
            raise _failure(task_name, "", code, command, tail)
        return {}

    def finish(self) -> None:
        pass


def _absolute_paths(value):
    """Absolute local paths in a parameter value (JSON text is looked into)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            yield from _absolute_paths(parsed)
        elif value.startswith("/") and len(value) > 1 and not re.search(r"[\s{}]", value):
            yield os.path.normpath(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _absolute_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from _absolute_paths(item)


def named_paths(package) -> list:
    """Every absolute local path a task parameter of the package names."""
    found = set()
    for task in package.spec.root.dag.tasks.values():
        for spec in task.inputs.parameters.values():
            if spec.WhichOneof("kind") == "runtime_value":
                found.update(_absolute_paths(pb_value(spec.runtime_value.constant)))
    return sorted(found)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class DockerRunner:
    """Each task in a container of its image, as the KFP launcher runs it on a node."""

    kind = "docker"

    def __init__(self, run, docker: str = "docker"):
        self.run, self.docker = run, docker
        self.images: dict = {}  # image -> image id
        self.gpus = False
        self.readonly: list = []
        self.writable: list = []
        self.folders: list = []  # the tasks' scratch folders (the launcher's files)

    def _docker(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.docker, *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)

    def prepare(self) -> None:
        """The engine, the images and the mounts, checked before any task runs."""
        if not shutil.which(self.docker):
            raise UserError("--docker: no docker command on PATH (install Docker, or replay "
                            "without --docker)")
        info = self._docker("info", "--format", "{{json .Runtimes}}")
        if info.returncode:
            raise UserError(f"--docker: no Docker engine reachable: "
                            f"{(info.stderr.strip().splitlines() or ['?'])[-1]}")
        self.gpus = "nvidia" in info.stdout
        for image in self.run.package.images():
            found = self._docker("image", "inspect", "--format", "{{.Id}}", image)
            if found.returncode:
                self.run.say(f"  image         {image} is not in the engine: docker pull {image}")
                pulled = self._docker("pull", image)
                found = self._docker("image", "inspect", "--format", "{{.Id}}", image)
                if pulled.returncode or found.returncode:
                    raise UserError(f"--docker: image {image} is neither in the Docker engine "
                                    f"nor pullable: build it (docker build -t {image} .) or "
                                    f"push it first")
            self.images[image] = found.stdout.strip()
        self._mounts()

    def _mounts(self) -> None:
        root = self.run.pipeline_root
        if local_path(root):
            os.makedirs(root, exist_ok=True)
            self.writable.append(root)
        missing = []
        for path in named_paths(self.run.package):
            if local_path(root) and _inside(path, root):
                continue
            (self.readonly if os.path.exists(path) else missing).append(path)
        in_image = set()
        if missing:  # the image's own files (its schema copy) are not for us to mount
            image = self.run.package.images()[0]
            probe = self._docker("run", "--rm", "--entrypoint", "sh", image, "-c",
                                 'for p do [ -e "$p" ] && echo "$p"; done; true', "sh", *missing)
            in_image = set(probe.stdout.split())
        for path in missing:
            if path not in in_image:  # a location a task writes, e.g. the Pusher's
                os.makedirs(path, exist_ok=True)
                self.writable.append(path)

    def describe(self) -> list:
        lines = [f"executors     run in containers of their image (docker run): its user, "
                 f"working directory and environment, `command` as the entrypoint"]
        for path in self.writable:
            lines.append(f"  mounted       {path} (writable, at the same path)")
        for path in self.readonly:
            lines.append(f"  mounted       {path} (read-only, at the same path)")
        return lines

    def scratch(self, folder: str) -> str:
        return "/tmp"  # the launcher's /tmp/kfp_outputs and /tmp/kfp/outputs in the pod

    def _gpu_args(self, task_name: str, container) -> list:
        from google.protobuf import json_format

        accelerator = json_format.MessageToDict(container.resources).get("accelerator") or {}
        count = int(accelerator.get("count") or accelerator.get("resourceCount") or 0)
        if not count:
            return []
        if self.gpus:
            self.run.say(f"    {count} x {accelerator.get('type', 'GPU')}: --gpus {count}")
            return ["--gpus", str(count)]
        self.run.say(f"    {count} x {accelerator.get('type', 'GPU')} requested: skipped, the "
                     f"Docker engine has no NVIDIA runtime (the task runs on the CPU)")
        return []

    def run_task(self, task_name: str, command: list, container, folder: str) -> dict:
        name = f"mer-replay-{self.run.run_id}-{task_name}".lower()[:120]
        self.folders.append(folder)
        argv = [self.docker, "run", "--rm", "--name", name,
                "--label", f"mer-tfx.replay.run={self.run.run_id}",
                "--label", f"mer-tfx.replay.task={task_name}"]
        for inside in (os.path.dirname(OUTPUT_METADATA), OUTPUT_PARAMETERS):
            os.makedirs(os.path.join(folder, inside), exist_ok=True)
            argv += ["--mount", f"type=bind,src={os.path.join(folder, inside)},"
                                f"dst={os.path.join('/tmp', inside)}"]
        for path in self.writable:
            argv += ["--mount", f"type=bind,src={path},dst={path}"]
        for path in self.readonly:
            argv += ["--mount", f"type=bind,src={path},dst={path},readonly"]
        for variable in container.env:
            argv += ["--env", f"{variable.name}={variable.value}"]
        argv += self._gpu_args(task_name, container)
        argv += ["--entrypoint", command[0], container.image, *command[1:]]
        code, tail = stream(argv, self.run.quiet, on_interrupt=lambda: self._docker(
            "rm", "--force", name))
        if code:
            raise _failure(task_name, f" in image {container.image}", code, command, tail)
        return {"image": container.image, "image_id": self.images[container.image],
                "name": name, "exit_code": code}

    def finish(self) -> None:
        """Files written by the containers (as the image's user) handed to the caller."""
        written = [path for path in [self.run.root] + self.writable + self.folders
                   if path != self.run.pipeline_root
                   if local_path(path) and os.path.exists(path)]
        if os.getuid() == 0 or not written or not self.images:
            return
        mounts = [arg for path in written
                  for arg in ("--mount", f"type=bind,src={path},dst={path}")]
        self._docker("run", "--rm", "--user", "0", *mounts, "--entrypoint", "chown",
                     next(iter(self.images)), "-R", f"{os.getuid()}:{os.getgid()}", *written)
