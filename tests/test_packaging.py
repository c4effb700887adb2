"""The install layout: kfp/ never shadows the SDK, the stack is pinned, the CLI exists."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_in_repo_root(code):
    # ``python -c`` puts the current folder first on sys.path: the worst case for shadowing.
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_import_kfp_gives_the_sdk_even_from_the_repository_root():
    out = _python_in_repo_root("import kfp, os; print(kfp.__file__); print(kfp.__version__)")
    path, version = out.splitlines()
    assert "site-packages" in path and not path.startswith(os.path.join(REPO, "kfp"))
    assert version.startswith("2.")
    assert not os.path.exists(os.path.join(REPO, "kfp", "__init__.py"))


def test_project_kfp_package_imports_under_its_own_name():
    out = _python_in_repo_root("import mer_tfx.kfp as k; print(list(k.__path__)[0])")
    assert os.path.realpath(out) == os.path.join(REPO, "kfp")


def test_python_version_and_pinned_stack():
    with open(os.path.join(REPO, ".python-version")) as handle:
        assert handle.read().strip().startswith("3.10")
    with open(os.path.join(REPO, "constraints.txt")) as handle:
        pins = {line.split("==")[0].lower(): line.split("==")[1].strip()
                for line in handle if "==" in line and not line.startswith("#")}
    assert pins["tfx"] == "1.16.0"
    assert pins["tensorflow"].startswith("2.16")
    assert pins["tensorflow-transform"].startswith("1.16")
    assert pins["tensorflow-model-analysis"].startswith("0.47")
    assert "dill" in pins and "apache-beam" in pins
    assert sys.version_info[:2] == (3, 10)


def test_console_script_lists_the_subcommands():
    script = os.path.join(os.path.dirname(sys.executable), "mer-tfx")
    out = subprocess.run([script, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("synth", "ingest"):
        assert command in out


def test_every_runtime_dependency_is_declared():
    """What the code imports must come from setup.py, not from a hand install."""
    import importlib.metadata

    requires = importlib.metadata.requires("mer-tfx")
    names = {r.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip()
             for r in requires}
    for needed in ("tfx", "kfp", "opencv-contrib-python-headless", "openpyxl", "dill",
                   "matplotlib", "scikit-learn", "jinja2"):
        assert needed in names, needed
    # the contrib build, whose cv2 has TV-L1 optical flow, and not the plain one beside it
    assert "opencv-python-headless" not in names
    import cv2

    assert hasattr(cv2, "optflow")
