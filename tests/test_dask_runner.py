"""The ingestion job on Beam's DaskRunner against a dask.distributed cluster of 2 worker
processes: the same record files, byte for byte, rejects and summary as the DirectRunner."""
import collections
import glob
import json
import os
import shutil

import pytest
import tensorflow as tf

from mer_tfx.datasets import Source
from mer_tfx.ingestion.beam_job import DASK_RUNNER, run_ingest, runner_args
from mer_tfx.synthetic import generate


def _record_files(out_dir) -> dict:
    files = sorted(glob.glob(os.path.join(out_dir, "records", "*.tfrecord.gz")))
    return {os.path.basename(path): open(path, "rb").read() for path in files}


def _outputs(out_dir):
    files = glob.glob(os.path.join(out_dir, "records", "*.tfrecord.gz"))
    records = collections.Counter(
        r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    with open(os.path.join(out_dir, "rejects.jsonl")) as handle:
        rejects = handle.read()
    with open(os.path.join(out_dir, "summary.json")) as handle:
        summary = json.load(handle)
    return records, rejects, summary


@pytest.mark.slow
def test_dask_runner_writes_what_the_direct_runner_writes(tmp_path):
    from distributed import LocalCluster

    data = generate("casme2", str(tmp_path / "data"), subjects=3, clips_per_class=1, seed=2,
                    frame_size=96, inject_faults=True, progress=False)
    source = Source("casme2", data.root, data.annotations)
    direct = run_ingest(source, str(tmp_path / "direct"), size=48)
    direct_2 = run_ingest(source, str(tmp_path / "direct_2"), size=48,
                          beam_args=["--direct_running_mode=multi_processing",
                                     "--direct_num_workers=2"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        dask = run_ingest(source, str(tmp_path / "dask"), size=48,
                          beam_args=["--runner=DaskRunner",
                                     f"--dask_address={cluster.scheduler_address}"])
        # the work ran as tasks of this cluster (not a cluster the runner made itself)
        computed = sum(p.all_durations.get("compute", 0.0)
                       for p in cluster.scheduler.task_prefixes.values())
        assert computed > 0
    assert dask == direct == direct_2
    assert direct["rejected"] == len(data.expected_rejects) > 0
    direct_records, direct_rejects, _ = _outputs(tmp_path / "direct")
    dask_records, dask_rejects, _ = _outputs(tmp_path / "dask")
    assert sum(direct_records.values()) == direct["converted"]
    assert dask_records == direct_records  # the same multiset of serialized examples
    assert dask_rejects == direct_rejects
    # the same shards: the same files, byte for byte
    assert _record_files(tmp_path / "dask") == _record_files(tmp_path / "direct") == \
        _record_files(tmp_path / "direct_2")
    assert len(_record_files(tmp_path / "direct")) == direct["record_files"] > 1


def test_runner_flags_are_spelled_for_beam():
    args = runner_args(["--runner=DaskRunner", "--dask_address=tcp://h:8786"], clips=100)
    assert args == [f"--runner={DASK_RUNNER}", "--dask_client_address=tcp://h:8786",
                    "--dask_npartitions=13"]
    # no runner: the local one, pinned (pipeline/beam_args.py)
    assert runner_args(["--direct_num_workers=2"], clips=5) == ["--direct_num_workers=2",
                                                                 "--runner=FnApiRunner"]
    # the ingestion job: one partition per shard, so that each task converts one shard
    assert runner_args(["--runner=DaskRunner"], clips=480, partitions=16)[-1] == \
        "--dask_npartitions=16"
    assert runner_args(["--runner=DaskRunner", "--dask_npartitions=3"], clips=480,
                       partitions=16)[-1] == "--dask_npartitions=3"


def test_the_dask_graph_is_one_task_per_shard_and_no_shuffle(tmp_path):
    """On Dask a GroupByKey is a task shuffle of ~n^2 tasks for n partitions: the job has
    none (the report parts are files the launcher gathers); its graph is the shards'
    Create and the conversion, one partition per shard."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.dask.dask_runner import DaskOptions, DaskRunner
    from apache_beam.runners.dask.overrides import dask_overrides

    from mer_tfx.ingestion.beam_job import IngestClips
    from mer_tfx.ingestion.clips import ClipSpec, Reject
    from mer_tfx.ingestion.shards import plan_shards

    specs = [ClipSpec(row=i + 2, dataset="casme2", subject=f"sub{i % 5:02d}", clip=f"EP{i:02d}",
                      clip_dir=str(tmp_path / f"EP{i:02d}"), label="happiness", onset=1,
                      apex=3, offset=5 + i % 4, fps=200.0) for i in range(200)]
    rows = specs + [Reject(300 + i, f"bad{i}", "bad_frame_number", dataset="casme2")
                    for i in range(3)]
    shards = len(plan_shards(specs))
    options = PipelineOptions(runner_args(["--runner=DaskRunner"], len(specs),
                                          partitions=shards))
    pipeline = beam.Pipeline(options=options)
    # the graph is only inspected: Beam removes its temp folder in run(), so do it here
    shutil.rmtree(pipeline.local_tempdir, ignore_errors=True)
    _ = pipeline | "Ingest" >> IngestClips(rows, str(tmp_path / "out"),
                                           str(tmp_path / "out" / "records" / "clips"))
    pipeline.replace_all(dask_overrides())
    visitor = DaskRunner.to_dask_bag_visitor(DaskOptions._extract_bag_kwargs(
        options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)))
    pipeline.visit(visitor)
    labels = {node.full_label: bag for node, bag in visitor.bags.items()}
    assert not [label for label in labels if "GroupByKey" in label or "Flatten" in label]
    convert = labels["Ingest/ConvertAndWrite"]
    assert shards > 1 and convert.npartitions == shards
    assert len(convert.__dask_graph__()) <= 3 * shards  # Create, fused DoFn steps
