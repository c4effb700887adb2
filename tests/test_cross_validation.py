"""Subject-independent cross-validation with metrics pooled over folds."""
import json
import os

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support, recall_score

from mer_tfx.errors import UserError
from mer_tfx.protocols.cross_validation import pooled_metrics, protocol_folds, subject_folds

SUBJECTS = [f"sub{i:02d}" for i in range(1, 8)]


def test_leave_one_subject_out_holds_each_subject_out_once():
    folds = subject_folds(SUBJECTS * 2)
    assert folds == [[s] for s in SUBJECTS]


def test_k_subject_groups_partition_the_subjects_deterministically():
    folds = subject_folds(SUBJECTS, folds=3, seed=4)
    assert sorted(s for fold in folds for s in fold) == SUBJECTS
    assert [len(f) for f in folds] == [3, 2, 2]
    assert folds == subject_folds(list(reversed(SUBJECTS)), folds=3, seed=4)


@pytest.mark.parametrize("subjects, folds", [(["a", "b"], 0), (SUBJECTS, 1)])
def test_bad_fold_requests_say_what_to_fix(subjects, folds):
    with pytest.raises(UserError):
        subject_folds(subjects, folds)


def test_pooled_figures_equal_scikit_learn_on_all_folds_predictions():
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    truths, predictions, confusions = [], [], []
    for _ in range(4):  # four folds of different sizes; class "c" absent from some
        truth = rng.integers(0, 3 if rng.random() < 0.5 else 2, size=rng.integers(3, 9))
        predicted = np.where(rng.random(truth.size) < 0.6, truth, rng.integers(0, 3, truth.size))
        confusion = np.zeros((3, 3))
        np.add.at(confusion, (truth, predicted), 1)
        truths.append(truth), predictions.append(predicted), confusions.append(confusion)
    truth, predicted = np.concatenate(truths), np.concatenate(predictions)
    pooled = pooled_metrics(classes, confusions)
    present = sorted(set(truth.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=[0, 1, 2], zero_division=0)
    for i, row in enumerate(pooled["per_class"]):
        assert row["class"] == classes[i]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (precision[i], recall[i], f1[i], support[i]))
    assert pooled["overall"]["uar"] == pytest.approx(
        recall_score(truth, predicted, labels=present, average="macro", zero_division=0))
    assert pooled["overall"]["uf1"] == pytest.approx(
        f1_score(truth, predicted, labels=present, average="macro", zero_division=0))
    assert pooled["overall"]["example_count"] == truth.size


def test_protocols_evaluate_every_subject_exactly_once():
    subject_datasets = {f"casme2/sub0{i}": "casme2" for i in range(1, 4)}
    subject_datasets |= {f"samm/00{i}": "samm" for i in range(6, 9)}
    subject_datasets |= {"smic/s1": "smic", "smic/s2": "smic"}
    for protocol, folds in (("loso", 0), ("kfold", 3), ("lodo", 0)):
        groups = protocol_folds(protocol, subject_datasets, folds, seed=2)
        held_out = [s for group in groups for s in group]
        assert sorted(held_out) == sorted(subject_datasets), protocol  # each once, all
    lodo = protocol_folds("lodo", subject_datasets)
    assert [{subject_datasets[s] for s in group} for group in lodo] == [
        {"casme2"}, {"samm"}, {"smic"}]
    assert len(protocol_folds("loso", subject_datasets)) == len(subject_datasets)
    with pytest.raises(UserError, match="at least 2 datasets"):
        protocol_folds("lodo", {s: "casme2" for s in SUBJECTS})
    with pytest.raises(UserError, match="--folds K"):
        protocol_folds("kfold", subject_datasets, folds=0)


TINY = {"ingest": {"crop_size": 48}, "transform": {"steps": 6, "image_size": 24},
        "trainer": {"epochs": 2, "min_epochs": 1, "patience": 2, "batch_size": 8},
        "evaluate": {"uar_threshold": 0.0}}


def _records_by_subject(settings):
    """Serialized eval records of the one MerExampleGen execution, by subject."""
    import glob

    import tensorflow as tf

    from conftest import record_subject
    from mer_tfx.evaluation.layout import newest

    examples = newest(os.path.join(settings.pipeline_root, "MerExampleGen", "examples"))
    files = glob.glob(os.path.join(examples, "Split-all", "*.gz"))
    by_subject = {}
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        data = record.numpy()
        by_subject.setdefault(record_subject(data), []).append(data)
    return by_subject


@pytest.mark.slow
def test_composite_cv_converts_once_and_pools_per_dataset(tmp_path):
    """MEGC-style composite of three synthetic layouts, 3 subject groups, with STSTNet (the
    field's composite model) reading the stored onset->apex flow; then OFF-ApexNet is
    trained a few steps on the same transform graph and serves raw records."""
    import tensorflow as tf
    import tensorflow_model_analysis as tfma

    from mer_tfx.pipeline import metadata
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.protocols.cross_validation import REPORT_HTML, SUMMARY_JSON, run_cross_validation
    from mer_tfx.protocols.presets import PRESETS
    from mer_tfx.synthetic import generate

    sources = []
    for layout, seed in (("casme2", 5), ("samm", 6), ("smic", 7)):
        data = generate(layout, str(tmp_path / layout), subjects=2, clips_per_class=1,
                        seed=seed, frame_size=64, progress=False)
        sources.append([layout, data.root] + ([data.annotations] if data.annotations else []))
    settings = PipelineSettings.from_dict(
        {**TINY, "sources": sources, "output": str(tmp_path / "cv")}).replace(
        **PRESETS["megc2019"], **{"trainer.model": "ststnet"})
    summary = run_cross_validation(settings, "kfold", folds=3)

    # the frames were converted once for all folds (ML Metadata of the CV)
    store = metadata.open_store(settings.metadata_path)
    assert summary["ingestion_executions"] == 1
    assert metadata.executed_count(store, settings.pipeline_name, "MerExampleGen") == 1
    assert metadata.executed_count(store, settings.pipeline_name, "SubjectSplit") == 3

    # every clip evaluated exactly once, no subject on both sides of a fold
    by_subject = _records_by_subject(settings)
    held_out = [s for fold in summary["folds"] for s in fold["eval_subjects"]]
    assert sorted(held_out) == sorted(by_subject)
    assert all(s.split("/")[0] in ("casme2", "samm", "smic") for s in held_out)
    assert summary["overall"]["n"] == sum(len(r) for r in by_subject.values())

    # per-dataset pooled figures equal scikit-learn on the pooled predictions
    classes = settings.class_names
    truth, predicted, dataset_of = [], [], []
    for fold in summary["folds"]:
        model = tfma.load_eval_result(fold["evaluation_path"]).model_location
        serve = tf.saved_model.load(model).signatures["serving_default"]
        records = [r for s in fold["eval_subjects"] for r in by_subject[s]]
        predicted += serve(examples=tf.constant(records))["class_ids"].numpy().tolist()
        for record in records:
            context = tf.train.SequenceExample.FromString(record).context.feature
            truth.append(classes.index(context["label_3class"].bytes_list.value[0].decode()))
            dataset_of.append(context["dataset"].bytes_list.value[0].decode())
    truth, predicted, dataset_of = map(np.array, (truth, predicted, dataset_of))
    assert set(summary["per_dataset"]) == {"casme2", "samm", "smic"}
    for name, row in summary["per_dataset"].items():
        mask = dataset_of == name
        present = sorted(set(truth[mask].tolist()))
        assert row["n"] == mask.sum()
        assert row["uar"] == pytest.approx(recall_score(
            truth[mask], predicted[mask], labels=present, average="macro", zero_division=0))
        assert row["uf1"] == pytest.approx(f1_score(
            truth[mask], predicted[mask], labels=present, average="macro", zero_division=0))
    assert summary["overall"]["uar"] == pytest.approx(recall_score(
        truth, predicted, labels=sorted(set(truth.tolist())), average="macro", zero_division=0))

    written = json.load(open(tmp_path / "cv" / SUMMARY_JSON))
    assert written["protocol"]["name"] == "kfold" and len(written["folds"]) == 3
    assert "no held-out subject was used" in written["model_selection"]["statement"]
    assert written["settings"]["transform"]["classes"] == ["negative", "positive", "surprise"]
    page = (tmp_path / "cv" / REPORT_HTML).read_text()
    assert "Composite" in page and "no held-out subject was used" in page
    for name in ("cv_confusion_matrix.png", "cv_per_class.png"):
        assert os.path.getsize(tmp_path / "cv" / name) > 1000

    # re-running resumes from the cache: nothing executes again
    again = run_cross_validation(settings, "kfold", folds=3)
    assert again["overall"] == summary["overall"]
    assert metadata.executed_count(store, settings.pipeline_name, "Trainer") == 3

    records = [r for rs in by_subject.values() for r in rs]
    _off_apexnet_trains_exports_and_serves(settings, records, tmp_path / "off_apexnet")


def _off_apexnet_trains_exports_and_serves(settings, records, folder):
    import dataclasses
    import glob

    import tensorflow as tf
    import tensorflow_transform as tft
    from tfx_bsl.tfxio import tensor_representation_util

    from mer_tfx.schemas import load_schema
    from mer_tfx.trainer import data
    from mer_tfx.trainer.signatures import make_signatures
    from mer_tfx.trainer.task import fit_model
    from mer_tfx.transform.preprocessing import FLOW_KEY

    graph = sorted(glob.glob(os.path.join(settings.pipeline_root, "Transform",
                                          "transform_graph", "*")))[-1]
    tft_output = tft.TFTransformOutput(graph)
    schema = load_schema()
    context_spec, sequence_spec = \
        tensor_representation_util.CreateTfSequenceExampleParserConfig(schema)
    context, sequence, _ = tf.io.parse_sequence_example(tf.constant(records), context_spec,
                                                        sequence_spec)
    clips = data.load_clips(tf.data.Dataset.from_tensors({**context, **sequence}),
                            tft_output.transform_features_layer(), FLOW_KEY)
    assert clips.inputs.shape[1:] == (28, 28, 3)
    config = dataclasses.replace(settings.trainer, model="off_apexnet", epochs=2,
                                 epoch_selection="fixed")
    model, summary = fit_model(config, settings.transform, clips)
    assert summary["parameters"] == 2_664_475 and summary["epochs_run"] == 2
    model.save(str(folder), save_format="tf", signatures=make_signatures(
        model, tft_output, schema, settings.class_names, settings.transform.label_key,
        FLOW_KEY))
    serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
    probabilities = serve(examples=tf.constant(records[:4]))["probabilities"].numpy()
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # the served model sees exactly the flow the Trainer trained on
    direct = tft_output.transform_features_layer()(
        {k: v[:4] for k, v in {**context, **sequence}.items()})[FLOW_KEY]
    np.testing.assert_allclose(probabilities, model(direct, training=False).numpy(), atol=1e-5)


@pytest.mark.slow
def test_leakage_guard_cv_on_label_independent_motion_stays_near_chance(tmp_path):
    """Motion drawn independently of the label: an honest protocol cannot beat chance."""
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.protocols.cross_validation import run_cross_validation
    from mer_tfx.synthetic import generate

    data = generate("casme2", str(tmp_path / "data"), subjects=4, clips_per_class=3, seed=9,
                    frame_size=64, no_signal=True, progress=False)
    tiny = {**TINY, "trainer": {**TINY["trainer"], "epochs": 6}}
    settings = PipelineSettings.from_dict({**tiny, "dataset": "casme2", "root": data.root,
                                           "annotations": data.annotations,
                                           "output": str(tmp_path / "cv")})
    summary = run_cross_validation(settings, "kfold", folds=2)
    chance = 1 / len(settings.class_names)
    assert summary["overall"]["n"] == len(data.clips)
    assert summary["overall"]["uar"] < chance + 0.15, summary["overall"]


@pytest.mark.slow
def test_loso_lists_a_subject_whose_clips_all_failed_and_runs_the_other_folds(tmp_path):
    """One subject's frame folders are gone: its clips are all rejected; LOSO still runs the
    other subjects' folds and names the subject with the reject reason."""
    import shutil

    from mer_tfx.pipeline import metadata
    from mer_tfx.pipeline.configs import PipelineSettings
    from mer_tfx.protocols.cross_validation import REPORT_HTML, SUMMARY_JSON, run_cross_validation
    from mer_tfx.synthetic import generate

    data = generate("casme2", str(tmp_path / "data"), subjects=4, clips_per_class=1, seed=3,
                    frame_size=64, progress=False)
    shutil.rmtree(os.path.join(data.root, "sub02"))
    settings = PipelineSettings.from_dict({**TINY, "dataset": "casme2", "root": data.root,
                                           "annotations": data.annotations,
                                           "output": str(tmp_path / "cv")})
    summary = run_cross_validation(settings, "loso")

    lost = sum(c["subject"] == "sub02" for c in data.clips)
    assert [f["eval_subjects"] for f in summary["folds"]] == [["sub01"], ["sub03"], ["sub04"]]
    assert all(f["n"] > 0 and f["uf1"] is not None for f in summary["folds"])
    assert summary["overall"]["n"] == len(data.clips) - lost
    assert summary["subjects_without_clips"]["sub02"]["rejected"] == {"missing_folder": lost}
    assert list(summary["subjects_without_clips"]) == ["sub02"]
    assert summary["datasets_without_clips"] == {}
    written = json.load(open(tmp_path / "cv" / SUMMARY_JSON))
    assert written["subjects_without_clips"] == summary["subjects_without_clips"]
    page = (tmp_path / "cv" / REPORT_HTML).read_text()
    assert "Subjects without converted clips" in page
    assert "sub02" in page and f"missing_folder: {lost}" in page
    # the conversion ran once, before the folds, and every fold reused it
    store = metadata.open_store(settings.metadata_path)
    assert metadata.executed_count(store, settings.pipeline_name, "MerExampleGen") == 1
    assert summary["ingestion_executions"] == 1
