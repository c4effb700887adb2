"""Local runner: ``tfx pipeline create --engine=local --pipeline_path=pipeline/local_runner.py``.

The tfx CLI executes this file with no arguments, so settings come from MER_*
environment variables (see pipeline/configs.py); ``mer-tfx run`` is the same
with command-line options.
"""
import os

import mer_tfx  # (Keras 2 switch before TensorFlow loads)
from tfx import v1 as tfx

from mer_tfx.pipeline.beam_args import skip_tfx_sdist_for_local_runners
from mer_tfx.pipeline.beam_introspection import remember_beam_introspection
from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.pipeline.pipeline import create_pipeline


def run(settings: PipelineSettings, settings_dir: str | None = None,
        metadata_path: str | None = None, pipeline_root: str | None = None) -> None:
    """Runs the pipeline; its effective settings go to settings.json in ``settings_dir``
    (default: the output folder), its ML Metadata to ``metadata_path`` and its new
    artifacts under ``pipeline_root`` (defaults: the settings' store and root; a parallel
    cross-validation gives each fold both of its own)."""
    settings.write(settings_dir or settings.output)
    skip_tfx_sdist_for_local_runners()
    remember_beam_introspection()
    tfx.orchestration.LocalDagRunner().run(create_pipeline(
        settings, pipeline_root=pipeline_root,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path or settings.metadata_path)))


if __name__ == "__main__":
    from mer_tfx.logs import setup_logging

    setup_logging(os.environ.get(mer_tfx.VERBOSE_VARIABLE, "") not in ("", "0"))
    run(PipelineSettings.from_env())
