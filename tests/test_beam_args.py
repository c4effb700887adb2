"""TFX's self-packaging is skipped only for runners whose workers never read it; without
a runner, jobs run on the DirectRunner's engine, named, never on a downloaded Prism."""
import logging
import tempfile

import pytest
from tfx.utils import dependency_utils

from mer_tfx.pipeline.beam_args import (LOCAL_RUNNER, default_beam_args,
                                        skip_tfx_sdist_for_local_runners)


@pytest.fixture()
def packaging(monkeypatch):
    """TFX's packaging with the sdist build recorded instead of run."""
    built = []
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package",
                        lambda: built.append(1) or "/tmp/tfx_ephemeral-1.16.0.tar.gz")
    monkeypatch.setattr(dependency_utils, "make_beam_dependency_flags",
                        dependency_utils.make_beam_dependency_flags)
    skip_tfx_sdist_for_local_runners()
    skip_tfx_sdist_for_local_runners()  # twice: still one wrapper
    return built


@pytest.mark.parametrize("args", [
    ["--direct_num_workers=1"],
    ["--runner=DirectRunner", "--direct_running_mode=multi_processing"],
    [f"--runner={LOCAL_RUNNER}", "--direct_running_mode=in_memory"],
    ["--runner=apache_beam.runners.dask.dask_runner.DaskRunner", "--dask_address=h:1"],
])
def test_local_runners_get_no_tfx_package(packaging, args):
    assert dependency_utils.make_beam_dependency_flags(args) == args
    assert packaging == []


def test_staging_runners_keep_tfx_packaging(packaging):
    args = ["--runner=PortableRunner", "--job_endpoint=localhost:8099"]
    assert dependency_utils.make_beam_dependency_flags(args) == \
        args + ["--extra_package=/tmp/tfx_ephemeral-1.16.0.tar.gz"]
    assert packaging == [1]


def test_without_a_runner_the_local_one_is_named_and_sized():
    assert default_beam_args([], frames=10) == [
        f"--runner={LOCAL_RUNNER}", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
    large = default_beam_args(["--direct_num_workers=3"], frames=None)
    assert large[:2] == ["--direct_num_workers=3", f"--runner={LOCAL_RUNNER}"]
    assert "--direct_running_mode=multi_processing" in large
    chosen = ["--runner=DataflowRunner", "--project=p"]
    assert default_beam_args(chosen, frames=10) == chosen  # the caller's, untouched


def test_a_local_job_never_tries_prism(monkeypatch, tmp_path, caplog):
    """Beam's DirectRunner tries Prism first (a binary it downloads) and leaves a
    beam-temp folder behind each time; the pinned runner goes straight to its engine."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    caplog.set_level(logging.INFO)
    with beam.Pipeline(options=PipelineOptions(default_beam_args([], frames=10))) as pipeline:
        assert_that(pipeline | beam.Create([1, 2]) | beam.Map(lambda x: 2 * x), equal_to([2, 4]))
    assert "Prism" not in caplog.text
    assert not list(tmp_path.glob("beam-temp*"))
    with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as pipeline:
        _ = pipeline | beam.Create([1])
    assert "PrismRunner" in caplog.text  # what the pin avoids (Beam 2.68+)
