"""Which of the pipeline's Beam components run on Beam's DaskRunner.

One small local pipeline per component (MerExampleGen, StatisticsGen, Transform,
Evaluator): that component gets the DaskRunner (``with_beam_pipeline_args``) against a
local cluster of 2 worker processes, the others the in-process DirectRunner. Prints,
per component, whether the run passed it and its outputs, or the error.

    python bench/tfx_on_dask.py WORK_FOLDER
"""
import glob
import json
import os
import sys
import traceback

import mer_tfx  # noqa: F401
from distributed import LocalCluster
from tfx import v1 as tfx

from mer_tfx.ingestion.beam_job import DASK_RUNNER
from mer_tfx.pipeline.beam_args import skip_tfx_sdist_for_local_runners
from mer_tfx.pipeline.configs import PipelineSettings
from mer_tfx.pipeline.pipeline import create_components
from mer_tfx.synthetic import generate

COMPONENTS = ("MerExampleGen", "StatisticsGen", "Transform", "Evaluator")
IN_PROCESS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def run_with_dask(target: str, data, out: str, dask_args: list) -> dict:
    settings = PipelineSettings.from_dict({
        "dataset": "casme2", "root": data.root, "annotations": data.annotations,
        "output": out, "cache": False, "ingest": {"crop_size": 48},
        "transform": {"steps": 6, "image_size": 24},
        "trainer": {"epochs": 2, "min_epochs": 1, "patience": 2, "batch_size": 8},
        "evaluate": {"uar_threshold": 0.0}})
    components = create_components(settings)
    for component in components:
        if type(component).__name__ == target:
            component.with_beam_pipeline_args(dask_args)
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="tfx-on-dask", pipeline_root=os.path.join(out, "root"),
        components=components, enable_cache=False, beam_pipeline_args=IN_PROCESS,
        metadata_connection_config=tfx.orchestration.metadata
        .sqlite_metadata_connection_config(os.path.join(out, "metadata.db")))
    skip_tfx_sdist_for_local_runners()  # as the product's local runner does
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as error:  # noqa: BLE001 - the finding is which error
        return {"ok": False, "error": f"{type(error).__name__}: {str(error)[:300]}",
                "traceback": traceback.format_exc()[-1200:]}
    outputs = glob.glob(os.path.join(out, "root", target, "*", "*", "*"))
    return {"ok": True, "outputs": sorted(p.replace(out, "") for p in outputs)[:8]}


def main():
    work = sys.argv[1]
    data = generate("casme2", os.path.join(work, "data"), subjects=6, clips_per_class=1,
                    seed=1, frame_size=96, progress=False)
    results = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        dask_args = [f"--runner={DASK_RUNNER}",
                     f"--dask_client_address={cluster.scheduler_address}",
                     "--dask_npartitions=4"]
        for target in COMPONENTS:
            results[target] = run_with_dask(target, data, os.path.join(work, target),
                                            dask_args)
            result = results[target]
            print(f"{target:<14s} {'ran' if result['ok'] else 'FAILED: ' + result['error']}",
                  flush=True)
    with open(os.path.join(work, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
