"""The image's smoke check: import everything a compiled package names, as its tasks will.

    python /opt/mer-tfx/docker/smoke.py [PACKAGE]        (in the image; docker/smoke.py here)

For every container task of PACKAGE (default: the pipeline compiled here with the
default settings and placeholder gs:// paths, which compiling never opens) it imports
the module each command runs (``python -m X``), the executor class
(``--executor_class_path``) and the user functions the tasks name (``run_fn``,
``preprocessing_fn``), and checks that an absolute schema file the package reads from
the image exists. The Dockerfile runs it as the last step of the build, so an image
that cannot run one of the tasks is never tagged. Exit code 1 lists what failed.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile


def named_imports(spec: dict) -> dict:
    """{dotted name: tasks naming it} for the modules, classes and functions the tasks
    of a PipelineSpec (as a dict) import."""
    components = spec["components"]
    executors = spec["deploymentSpec"]["executors"]
    found = {}
    for name, task in spec["root"]["dag"]["tasks"].items():
        executor = executors[components[task["componentRef"]["name"]]["executorLabel"]]
        container = executor.get("container")
        if not container:
            continue
        command, args = container.get("command", []), container.get("args", [])
        words = command + args
        names = [words[i + 1] for i, word in enumerate(words[:-1])
                 if word in ("-m", "--executor_class_path")]
        for key, value in task.get("inputs", {}).get("parameters", {}).items():
            constant = value.get("runtimeValue", {}).get("constant")
            if key.endswith("_fn") and isinstance(constant, str) and constant:
                names.append(constant)
        for dotted in names:
            found.setdefault(dotted, []).append(name)
    return found


def import_name(dotted: str):
    """The module, or the attribute of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as error:
            if error.name and not dotted.startswith(error.name):
                raise  # a dependency of the module is missing, not the module
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(f"no module named {parts[0]!r}")


def schema_files(spec: dict) -> list:
    tasks = spec["root"]["dag"]["tasks"].values()
    return sorted({p["runtimeValue"]["constant"] for t in tasks
                   for k, p in t.get("inputs", {}).get("parameters", {}).items()
                   if k == "schema_file" and "runtimeValue" in p})


def check(spec: dict) -> list:
    """Problems found, one line each (empty: every task can start)."""
    problems = []
    for dotted, tasks in sorted(named_imports(spec).items()):
        try:
            import_name(dotted)
        except Exception as error:  # noqa: BLE001  (reported, one line per name)
            problems.append(f"{dotted} ({', '.join(tasks)}): {type(error).__name__}: {error}")
    for path in schema_files(spec):
        if os.path.isabs(path) and not os.path.isfile(path):
            problems.append(f"schema file {path}: missing")
    return problems


def default_package(folder: str) -> str:
    from mer_tfx.kfp.compiler import compile_pipeline
    from mer_tfx.pipeline.configs import PipelineSettings

    settings = PipelineSettings(root="gs://smoke/data", annotations="gs://smoke/ann.xlsx",
                                output="gs://smoke/out")
    return compile_pipeline(settings, os.path.join(folder, "pipeline.yaml"), "smoke",
                            "gs://smoke/out/pipeline_root")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from google.protobuf import json_format

    from mer_tfx.kfp.platform import read_package

    with tempfile.TemporaryDirectory() as folder:
        path = argv[0] if argv else default_package(folder)
        spec = json_format.MessageToDict(read_package(path).pipeline_spec)
    problems = check(spec)
    for line in problems:
        print(f"smoke: {line}", file=sys.stderr)
    print(json.dumps({"imports": sorted(named_imports(spec)), "schema_files": schema_files(spec),
                      "problems": len(problems)}, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
