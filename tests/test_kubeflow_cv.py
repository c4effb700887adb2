"""mer-tfx cv --kubeflow and mer-tfx cv report: the protocols as one Kubeflow run per fold.

Fast: the folds come from the annotated subjects, or from --subjects when the data is
not readable here; Kubeflow flags without --kubeflow are refused; against the fake KFP
server of test_kfp_client.py, one package per fold is compiled for a cluster and one
run per fold submitted, with the fold's held-out subjects in its package and its run id
in the manifest. Slow: the folds' packages compiled --local, replayed here task by task
(no cluster on this machine), pooled by `mer-tfx cv report` into the figures of a local
CV of the same folds and settings.
"""
import contextlib
import io
import json
import os

import pytest
import yaml

from conftest import FAST_BEAM_ARGS
from mer_tfx.cli import main
from mer_tfx.errors import UserError
from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.protocols.folds import protocol_folds
from mer_tfx.protocols.kubeflow_cv import MANIFEST, kubeflow_folds
from test_kfp_client import API, kfp_server  # noqa: F401  (the fake KFP server fixture)

# tests/test_cross_validation.py's TINY, as flags
TINY_FLAGS = ["--crop-size", "48", "--steps", "6", "--image-size", "24", "--epochs", "2",
              "--min-epochs", "1", "--patience", "2", "--batch-size", "8",
              "--uar-threshold", "0"]
TINY = {"ingest": {"crop_size": 48}, "transform": {"steps": 6, "image_size": 24},
        "trainer": {"epochs": 2, "min_epochs": 1, "patience": 2, "batch_size": 8},
        "evaluate": {"uar_threshold": 0.0}}


def _cli(argv):
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main(argv)
    if code != 0:
        return code, errors.getvalue()
    text = printed.getvalue()
    return code, json.loads(text[0 if text.startswith("{") else text.index("\n{") + 1:])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from mer_tfx.synthetic import generate

    return generate("casme2", str(tmp_path_factory.mktemp("kfcv") / "data"), subjects=4,
                    clips_per_class=1, seed=0, frame_size=64, progress=False)


def _data_flags(data):
    return ["--dataset", "casme2", "--root", data.root, "--annotations", data.annotations]


def test_folds_come_from_the_annotated_subjects_or_the_list_given(data):
    settings = PipelineSettings(dataset="casme2", root=data.root, annotations=data.annotations)
    groups, found, source = kubeflow_folds(settings, "loso")
    assert source == "annotations" and found == {f"sub0{i}": "casme2" for i in range(1, 5)}
    assert groups == [[s] for s in sorted(found)]
    groups, _, _ = kubeflow_folds(settings, "kfold", 2)
    assert groups == protocol_folds("kfold", found, 2, settings.ingest.split_seed)

    remote = settings.replace(root=str(data.root) + "-on-the-cluster")
    with pytest.raises(UserError, match="--subjects"):
        kubeflow_folds(remote, "loso")
    groups, found, source = kubeflow_folds(remote, "kfold", 2, ["sub01", "sub02", "sub03"])
    assert source == "--subjects" and sorted(s for g in groups for s in g) == sorted(found)

    composite = PipelineSettings(sources=(("casme2", "gs://b/c", "gs://b/c.xlsx"),
                                          ("smic", "gs://b/smic")))
    groups, _, _ = kubeflow_folds(composite, "lodo", 0, ["casme2/sub01", "smic/s1",
                                                         "casme2/sub02", "smic/s2"])
    assert groups == [["casme2/sub01", "casme2/sub02"], ["smic/s1", "smic/s2"]]
    with pytest.raises(UserError, match="DATASET/SUBJECT"):
        kubeflow_folds(composite, "lodo", 0, ["sub01", "smic/s1"])


@pytest.mark.parametrize("flags, message", [
    (["--output", "o", "--image", "x", "--gpus", "0"],
     "--gpus, --image: these are for folds on Kubeflow Pipelines: add --kubeflow DIR"),
    (["--output", "o", "--compile-only"], "--compile-only: this is for folds on Kubeflow"),
    (["--kubeflow", "kf", "--output", "gs://b/mer"], "give --host"),
    (["--kubeflow", "kf", "--parallel-folds", "2", "--compile-only"], "--parallel-folds is"),
])
def test_kubeflow_flags_are_checked_before_anything_runs(data, flags, message):
    code, stderr = _cli(["cv", *_data_flags(data), *flags])
    assert code == 2 and message in stderr


def test_cv_report_names_a_missing_manifest(tmp_path):
    code, stderr = _cli(["cv", "report", "--manifest", str(tmp_path / MANIFEST)])
    assert code == 2 and "pass the kubeflow_cv.json that mer-tfx cv --kubeflow DIR" in stderr


def test_one_package_and_one_run_per_fold_on_a_cluster(kfp_server, tmp_path):
    """Data on a bucket (not readable here): folds from --subjects; each fold's package
    holds its own held-out subjects and pipeline name and is submitted inline."""
    out = tmp_path / "kf"
    code, printed = _cli([
        "cv", "--kubeflow", str(out), "--protocol", "kfold", "--folds", "2",
        "--subjects", "sub01,sub02,sub03", "--dataset", "casme2",
        "--root", "gs://bucket/CASME2", "--annotations", "gs://bucket/coding.xlsx",
        "--image", "example.com/mer-tfx:1", "--pipeline-root", "gs://bucket/mer/root",
        "--host", kfp_server.host, "--experiment", "loso-1"])
    assert code == 0
    manifest = json.loads((out / MANIFEST).read_text())
    runs = kfp_server.calls("POST", f"{API}/runs")
    assert len(runs) == len(manifest["folds"]) == 2
    assert not kfp_server.calls("POST", f"{API}/pipelines/upload")
    assert manifest["subjects_from"] == "--subjects"
    assert manifest["pipeline_root"] == "gs://bucket/mer/root"
    held_out = []
    for fold, run in zip(manifest["folds"], runs):
        spec = run["json"]["pipeline_spec"]  # no PlatformSpec: the PipelineSpec alone
        assert spec["pipelineInfo"]["name"] == fold["pipeline_name"] == \
            f"mer-tfx-fold-{fold['fold']:02d}"
        split = spec["root"]["dag"]["tasks"]["SubjectSplit"]["inputs"]["parameters"]
        assert json.loads(split["eval_subjects"]["runtimeValue"]["constant"]) == \
            fold["eval_subjects"]
        assert run["json"]["experiment_id"] == kfp_server.experiments["loso-1"]
        assert fold["run_id"] and fold["run_id"] in [f["run_id"] for f in printed["folds"]]
        assert fold["serving_dir"] == f"gs://bucket/mer/fold-{fold['fold']:02d}/serving_model"
        held_out += fold["eval_subjects"]
    assert sorted(held_out) == ["sub01", "sub02", "sub03"]
    package = list(yaml.safe_load_all(open(manifest["folds"][0]["package"])))[0]
    assert package["defaultPipelineRoot"] == "gs://bucket/mer/root"


@pytest.mark.slow
def test_replayed_kubeflow_cv_pools_like_a_local_cv(data, tmp_path):
    """2 subject groups of 4 synthetic subjects: packages compiled --local, each replayed
    (mer-tfx kfp replay, tasks as subprocesses here), pooled; then a local CV of the same
    folds and settings gives the same figures."""
    from mer_tfx.kfp.replay import replay_package
    from mer_tfx.protocols.cross_validation import run_cross_validation

    beam = [f"--beam-arg={arg}" for arg in FAST_BEAM_ARGS]
    root, out = tmp_path / "root", tmp_path / "kf"
    code, compiled = _cli(["cv", "--kubeflow", str(out), "--local", "--protocol", "kfold",
                           "--folds", "2", *_data_flags(data), *TINY_FLAGS, "--gpus", "0",
                           "--output", str(tmp_path / "kfout"), "--pipeline-root", str(root),
                           *beam])
    assert code == 0, compiled
    manifest_path = str(out / MANIFEST)

    # before any run: the report says which fold has none
    code, stderr = _cli(["cv", "report", "--manifest", manifest_path])
    assert code == 2 and "fold 0 (" in stderr and "wait for the fold's run" in stderr

    for fold in compiled["folds"]:
        replay_package(fold["package"], str(root), run_id=f"replay-fold-{fold['fold']}",
                       quiet=True, out=io.StringIO())
    code, printed = _cli(["cv", "report", "--manifest", manifest_path,
                          "--output", str(tmp_path / "report")])
    assert code == 0, printed
    pooled = json.loads((tmp_path / "report" / "cross_validation.json").read_text())
    assert printed["runs"] == {"0": "replay-fold-0", "1": "replay-fold-1"}
    assert (tmp_path / "report" / "cv_report.html").stat().st_size > 1000

    local = run_cross_validation(PipelineSettings.from_dict(
        {**TINY, "dataset": "casme2", "root": data.root, "annotations": data.annotations,
         "output": str(tmp_path / "local"), "beam_args": FAST_BEAM_ARGS}), "kfold", 2)
    assert [f["eval_subjects"] for f in pooled["folds"]] == \
        [f["eval_subjects"] for f in local["folds"]]
    assert pooled["overall"]["n"] == len(data.clips)
    for key in ("protocol", "overall", "per_dataset", "per_class", "confusion_matrix"):
        assert pooled[key] == local[key], key

    # a run that held out other subjects than its fold is refused
    manifest = json.loads(open(manifest_path).read())
    manifest["folds"][0]["eval_subjects"] = manifest["folds"][1]["eval_subjects"]
    swapped = tmp_path / "swapped.json"
    swapped.write_text(json.dumps(manifest))
    code, stderr = _cli(["cv", "report", "--manifest", str(swapped)])
    assert code == 2 and "fold 0: run replay-fold-0 of mer-tfx-fold-00 held out" in stderr
