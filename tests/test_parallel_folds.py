"""Folds run in parallel processes give the sequential run's figures, fold by fold."""
import os

import pytest


@pytest.mark.slow
def test_parallel_folds_equal_the_sequential_run(tmp_path):
    from mer_tfx.evaluation.layout import find_run
    from mer_tfx.pipeline import metadata
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.protocols.cross_validation import FOLD_LOG, run_cross_validation
    from mer_tfx.synthetic import generate

    data = generate("casme2", str(tmp_path / "data"), subjects=3, clips_per_class=1, seed=4,
                    frame_size=64, progress=False)
    values = {"ingest": {"crop_size": 48}, "transform": {"steps": 6, "image_size": 24},
              "trainer": {"epochs": 3, "min_epochs": 1, "patience": 3, "batch_size": 8},
              "evaluate": {"uar_threshold": 0.0}, "dataset": "casme2", "root": data.root,
              "annotations": data.annotations}
    sequential = run_cross_validation(
        PipelineSettings.from_dict({**values, "output": str(tmp_path / "sequential")}), "loso")
    settings = PipelineSettings.from_dict({**values, "output": str(tmp_path / "parallel")})
    parallel = run_cross_validation(settings, "loso", parallel_folds=2)

    assert parallel["parallel_folds"] == 2 and sequential["parallel_folds"] == 1
    for key in ("overall", "per_class", "confusion_matrix", "per_dataset"):
        assert parallel[key] == sequential[key], key
    for mine, theirs in zip(parallel["folds"], sequential["folds"]):
        assert (mine["eval_subjects"], mine["n"], mine["uf1"], mine["uar"]) == (
            theirs["eval_subjects"], theirs["n"], theirs["uf1"], theirs["uar"])
    # the conversion ran once, in the shared store; each fold ran in a store of its own
    # that reused it, and logged to its own file
    shared = metadata.open_store(settings.metadata_path)
    assert metadata.executed_count(shared, settings.pipeline_name, "MerExampleGen") == 1
    assert metadata.executed_count(shared, settings.pipeline_name, "SubjectSplit") == 0
    for fold in parallel["folds"]:
        folder = os.path.dirname(fold["metadata"])
        assert fold["metadata"] == os.path.join(str(tmp_path / "parallel"),
                                                f"fold-{fold['fold']:02d}", "metadata.db")
        store = metadata.open_store(fold["metadata"])
        assert metadata.executed_count(store, settings.pipeline_name, "MerExampleGen") == 1
        assert metadata.executed_count(store, settings.pipeline_name, "SubjectSplit") == 1
        assert "component Trainer: finished" in open(os.path.join(folder, FOLD_LOG)).read()
        # what the fold executed lies in its own root (TFX names folders by execution id,
        # which stores copied from one history hand out alike)
        assert os.listdir(os.path.join(folder, "pipeline_root", "Trainer", "model"))
        # and the report finds the fold's run there, with its store beside it
        found = find_run(os.path.join(folder, "pipeline_root"), settings.pipeline_name)
        assert found.run == fold["run_id"]
        assert list(found.eval_subjects) == fold["eval_subjects"]

    # a re-run resumes from each fold's store: the same figures, nothing trained again
    again = run_cross_validation(settings, "loso", parallel_folds=2)
    assert again["overall"] == parallel["overall"]
    for fold in again["folds"]:
        store = metadata.open_store(fold["metadata"])
        assert metadata.executed_count(store, settings.pipeline_name, "Trainer") == 1
