"""TFX's self-packaging is skipped only for runners whose workers never read it."""
import pytest
from tfx.utils import dependency_utils

from mer_tfx.pipeline.beam_args import skip_tfx_sdist_for_local_runners


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
