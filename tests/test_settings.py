"""The settings tree: one declaration reaches flags, MER_* variables, custom_config, Kubeflow."""
import contextlib
import dataclasses
import io
import json

import pytest
import yaml

from mer_tfx import settings as tree
from mer_tfx.cli import main
from mer_tfx.pipeline import configs
from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.settings import SettingsError, option
from mer_tfx.trainer.config import TrainerConfig


@dataclasses.dataclass(frozen=True)
class _TrainerWithWarmup(TrainerConfig):
    warmup_epochs: int = option(3, "epochs of learning-rate warm-up", minimum=0)


@dataclasses.dataclass(frozen=True)
class _SettingsWithWarmup(PipelineSettings):
    trainer: _TrainerWithWarmup = _TrainerWithWarmup()


@pytest.fixture
def warmup_setting(monkeypatch):
    """A new trainer setting, added the way a developer adds one: a field in its section."""
    monkeypatch.setattr(configs, "PipelineSettings", _SettingsWithWarmup)
    for name in ("MER_WARMUP_EPOCHS", "MER_EPOCHS", "MER_IMAGE", "MER_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    return _SettingsWithWarmup


def _cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    return code, out.getvalue(), err.getvalue()


RUN = ["run", "--dataset", "casme2", "--root", "/data/CASME2", "--output", "/tmp/out"]


def test_a_new_setting_reaches_flags_variables_and_custom_config(warmup_setting, monkeypatch):
    code, out, _ = _cli(RUN + ["--warmup-epochs", "5", "--print-settings"])
    assert code == 0 and json.loads(out)["trainer"]["warmup_epochs"] == 5
    monkeypatch.setenv("MER_WARMUP_EPOCHS", "7")
    settings = warmup_setting.from_env()
    assert settings.trainer.warmup_epochs == 7
    assert settings.custom_config()["trainer"]["warmup_epochs"] == 7
    assert settings.to_env()["MER_WARMUP_EPOCHS"] == "7"
    code, out, _ = _cli(RUN + ["--print-settings"])  # flags over variables over defaults
    assert json.loads(out)["trainer"]["warmup_epochs"] == 7


def test_a_new_setting_reaches_the_kubeflow_compile(warmup_setting, tmp_path):
    package = tmp_path / "pipeline.yaml"
    code, out, err = _cli(["kfp", "compile", "--out", str(package), "--image", "reg/mer:1",
                           "--pipeline-root", "gs://b/mer/pipeline_root", "--root",
                           "gs://b/data", "--annotations", "gs://b/a.xlsx",
                           "--warmup-epochs", "9", "--epochs", "4"])
    assert code == 0, err
    spec = next(yaml.safe_load_all(package.read_text()))
    trainer = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    config = json.loads(trainer["custom_config"]["runtimeValue"]["constant"])
    assert config["trainer"]["warmup_epochs"] == 9 and config["trainer"]["epochs"] == 4
    written = json.loads((tmp_path / "pipeline.settings.json").read_text())
    assert written["trainer"]["warmup_epochs"] == 9 and json.loads(out)["settings"]


@pytest.mark.parametrize("argv, message", [
    (["--warmup-epoch", "5"], "did you mean --warmup-epochs?"),
    (["--warmup-epochs", "five"], "setting trainer.warmup_epochs: cannot read 'five' as int"),
    (["--warmup-epochs", "-1"], "setting trainer.warmup_epochs must be >= 0"),
    (["--runner=DataflowRunner"], "Beam options go behind --beam-arg"),
])
def test_bad_flags_name_the_setting(warmup_setting, argv, message):
    code, _, err = _cli(RUN + argv + ["--print-settings"])
    assert code == 2 and message in err and "Traceback" not in err


def test_beam_options_pass_behind_the_marker_only(monkeypatch):
    for name in ("MER_BEAM_ARG",):
        monkeypatch.delenv(name, raising=False)
    code, out, _ = _cli(RUN + ["--beam-arg=--direct_num_workers=1", "--print-settings", "--",
                               "--runner=DirectRunner"])
    assert code == 0
    assert json.loads(out)["beam_args"] == ["--direct_num_workers=1", "--runner=DirectRunner"]


def test_unknown_or_bad_variables_and_keys_fail_clearly():
    with pytest.raises(SettingsError, match="MER_LEARNIG_RATE; did you mean MER_LEARNING_RATE"):
        PipelineSettings.from_env({"MER_LEARNIG_RATE": "0.1"})
    with pytest.raises(SettingsError, match="trainer.model must be one of"):
        PipelineSettings.from_env({"MER_MODEL": "resnet"})
    with pytest.raises(SettingsError, match="unknown setting trainer.lerning_rate"):
        PipelineSettings.from_dict({"trainer": {"lerning_rate": 0.1}})
    with pytest.raises(SettingsError, match="ingest.eval_fraction must be <= 0.9"):
        PipelineSettings.from_dict({"ingest": {"eval_fraction": 0.95}})
    assert PipelineSettings.from_env({"MER_VERBOSE": "1"}) == PipelineSettings()


def test_settings_round_trip_through_json_and_variables():
    settings = PipelineSettings().replace(**{"trainer.learning_rate": 0.003,
                                             "ingest.eval_subjects": ["sub01", "sub07"],
                                             "transform.classes": ["a", "b", "c"],
                                             "evaluate.min_class_recall": 0.2,
                                             "kubeflow.toleration": ['{"key": "k", "b": 1}']})
    assert PipelineSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    assert PipelineSettings.from_env(settings.to_env()) == settings


def test_every_setting_has_one_flag_and_one_variable():
    leaves = tree.leaves(PipelineSettings)
    flags = [f for leaf in leaves for f in leaf.flags]
    variables = [v for leaf in leaves for v in leaf.envs]
    assert len(flags) == len(set(flags)) and len(variables) == len(set(variables))
    assert all(leaf.meta.get("help") for leaf in leaves)


def test_a_flow_model_on_records_without_flow_is_refused_with_the_fix(capsys):
    with pytest.raises(SettingsError, match="drop --no-flow"):
        PipelineSettings().replace(**{"trainer.model": "ststnet", "ingest.flow": False})
    assert PipelineSettings().replace(**{"trainer.model": "ststnet"}).ingest.flow
    done = main(["run", "--output", "x", "--dataset", "smic", "--root", "x", "--model",
                 "off_apexnet", "--no-flow",
                 "--print-settings"])
    assert done != 0 and "drop --no-flow" in capsys.readouterr().err
