"""The pipeline's settings tree: the single source of every setting.

Sections: ``ingest`` (MerExampleGen), ``transform`` (transform/config.py),
``trainer`` (trainer/config.py), ``evaluate`` (release gates) and ``kubeflow``
(compile options), under the run's own settings (dataset, output, ...). Flags of
``mer-tfx run``/``cv``/``kfp compile``, ``MER_*`` variables for the tfx CLI runner
(pipeline/local_runner.py), TFX ``custom_config`` and ``settings.json`` beside a
run's outputs are all derived from these declarations (mer_tfx/settings.py).
Paths default to the demo layout under ./demo_out.
"""
from __future__ import annotations

import dataclasses
import json
import os

from mer_tfx import settings as tree
from mer_tfx.datasets import DATASET_NAMES, Source
from mer_tfx.ingestion.align import ALIGN_MODES
from mer_tfx.ingestion.clips import APEX_FALLBACKS, APEX_FROM
from mer_tfx.ingestion.flow import FLOW_ALGORITHMS
from mer_tfx.model_preprocessing import CLIENT_INGEST
from mer_tfx.settings import SettingsError, option, validate
from mer_tfx.trainer.config import TrainerConfig
from mer_tfx.transform.config import TransformConfig

PIPELINE_NAME = "mer-tfx"
SETTINGS_JSON = "settings.json"
METADATA_FILE = "metadata.db"  # ML Metadata store of a local run, beside pipeline_root/


@dataclasses.dataclass(frozen=True)
class IngestSettings:
    crop_size: int = option(128, "side of the square face crop stored per frame, in pixels",
                            minimum=16, maximum=2048, aliases=("frame_size", "size"))
    face_crop: bool = option(True, "crop every frame to the face box found on the onset "
                                   "frame (else keep the whole frame)")
    apex_fallback: str = option("spot", "where the annotation gives no usable apex: spot it "
                                        "from the frames (registered against head movement) "
                                        "or take the midpoint", choices=APEX_FALLBACKS)
    apex_from: str = option("annotation", "annotation: the annotated apex where usable; "
                                          "spotting: spot every clip's apex",
                            choices=APEX_FROM)
    register: bool = option(True, "move every face crop onto the onset crop before storing "
                                  "(phase correlation: removes head movement, which on real "
                                  "clips is larger than the expression)")
    flow: bool = option(True, "store each clip's onset->apex optical flow and strain "
                              "(flow_u, flow_v, strain; --no-flow skips it, and the flow "
                              "models cannot train on such records)")
    flow_algorithm: str = option("tvl1", "optical flow of the stored maps: tvl1 (the "
                                         "literature's), farneback or dis (~100x cheaper; "
                                         "bench/flow.py compares them)",
                                 choices=FLOW_ALGORITHMS)
    align: str = option("eyes", "eyes: one similarity transform per clip puts the onset "
                                "frame's eye centres on fixed positions of the crop (level "
                                "eyes, same place for every subject; falls back to the box "
                                "where no landmarks are found, counted as a repair); box: the "
                                "Haar box crop", choices=ALIGN_MODES)
    eval_subjects: tuple = option((), "comma-separated held-out subjects (default: a seeded "
                                      "--eval-fraction of them)")
    eval_fraction: float = option(0.25, "fraction of the subjects held out for evaluation",
                                  minimum=0.0, maximum=0.9)
    split_seed: int = option(0, "seed of the held-out subject choice (--eval-fraction)")

    def __post_init__(self):
        validate(self)

    @property
    def convert_options(self) -> dict:
        """The per-clip options of ingestion's convert_clip (apex and flow)."""
        return {"apex_fallback": self.apex_fallback, "apex_from": self.apex_from,
                "flow": self.flow, "flow_algorithm": self.flow_algorithm,
                "register": self.register, "align": self.align}


@dataclasses.dataclass(frozen=True)
class EvaluateSettings:
    """Release gates, checked on the overall eval slice (evaluation/eval_config.py)."""

    uar_threshold: float = option(0.4, "release gate: blessed (and pushed) only if the overall "
                                       "UAR on the eval subjects is >= this",
                                  minimum=0.0, maximum=1.01)
    min_class_recall: float | None = option(None, "optional release gate: every class's "
                                                  "overall recall >= this",
                                            minimum=0.0, maximum=1.0)

    def __post_init__(self):
        validate(self)


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """How ``mer-tfx kfp compile`` packages the pipeline (mer_tfx.kfp.compiler)."""

    image: str | None = option(None, "project image every task runs (see Dockerfile)",
                               aliases=("kfp_image",))
    pipeline_root: str | None = option(None, "gs:// or s3:// folder for the artifacts "
                                             "(default: <output>/pipeline_root)")
    gpus: int = option(1, "GPUs for the Trainer (0 for CPU only)", minimum=0)
    transform_gpus: int = option(0, "GPUs for Transform", minimum=0)
    accelerator: str = option("nvidia.com/gpu", "accelerator: the Kubernetes resource name "
                                                "on self-hosted KFP; a type such as "
                                                "NVIDIA_TESLA_T4 on Vertex AI Pipelines")
    cpu_limit: str | None = option(None, "CPU limit of the GPU task(s): 8, 0.5, 500m")
    memory_limit: str | None = option(None, "memory limit of the GPU task(s): 32Gi, 16G")
    node_selector: tuple = option((), "node labels KEY=VALUE of the GPU task(s)")
    toleration: tuple = option((), "tolerations KEY=VALUE:EFFECT of the GPU task(s)")
    pvc: tuple = option((), "PersistentVolumeClaims CLAIM:/MOUNT mounted into every task")
    schema_path: str | None = option(None, "schema file as seen in the image (default: the "
                                           "copy the Dockerfile puts in /opt/mer-tfx)")
    cache_ingestion: bool = option(False, "keep KFP caching on for MerExampleGen (remote "
                                          "data is fingerprinted by path only)")

    def __post_init__(self):
        validate(self)


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    dataset: str = option("casme2", "dataset layout and annotation format",
                          choices=DATASET_NAMES)
    root: str = option("demo_out/data/CASME2_RAW_selected",
                       "dataset root folder (frame folders)", aliases=("data_root",))
    annotations: str | None = option(None, "annotation .xlsx/.csv (none for smic)")
    sources: tuple = option((), "several datasets in one run, instead of --dataset/--root/"
                                "--annotations; subjects become <dataset>/<subject>",
                            row=("DATASET", "ROOT", "[ANNOTATIONS]"), aliases=("source",))
    output: str = option("demo_out", "folder for pipeline_root/, metadata.db, serving_model/")
    push_to: str | None = option(None, "folder the Pusher writes model versions to "
                                       "(default <output>/serving_model)")
    pipeline_name: str = option(PIPELINE_NAME, "pipeline name (ML Metadata, Kubeflow)")
    cache: bool = option(True, "reuse cached component outputs")
    beam_args: tuple = option((), "Beam pipeline options of the Beam components",
                              flag="beam_arg", cli=False)
    ingest: IngestSettings = IngestSettings()
    transform: TransformConfig = TransformConfig()
    trainer: TrainerConfig = TrainerConfig()
    evaluate: EvaluateSettings = EvaluateSettings()
    kubeflow: KubeflowSettings = KubeflowSettings()

    def __post_init__(self):
        validate(self)
        try:
            self.source_list
        except ValueError as error:
            raise SettingsError(f"setting sources: {error}") from None
        if self.trainer.reads_flow and not self.ingest.flow:
            raise SettingsError(f"model {self.trainer.model} reads the optical flow that "
                                f"--no-flow leaves out: drop --no-flow, or choose a frame "
                                f"model (motion_cnn_tcn, ...)")
        try:
            self.trainer.check_temporal_strategy(self.transform.temporal_strategy)
        except ValueError as error:
            raise SettingsError(str(error)) from None

    @property
    def source_list(self) -> list:
        """The datasets this run reads: ``sources``, or the one of dataset/root/annotations."""
        if self.sources:
            return [Source.from_row(row) for row in self.sources]
        return [Source(self.dataset, self.root, self.annotations)]

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output, METADATA_FILE)

    @property
    def serving_dir(self) -> str:
        return self.push_to or os.path.join(self.output, "serving_model")

    @property
    def class_names(self) -> list:
        return list(self.transform.classes)

    def custom_config(self) -> dict:
        """What Transform and Trainer read: their two sections, and the ingestion settings
        the Trainer records in the model for its clients (mer_tfx/model_preprocessing.py)."""
        ingest = tree.to_dict(self.ingest)
        return {"transform": tree.to_dict(self.transform), "trainer": tree.to_dict(self.trainer),
                "ingest": {k: ingest[k] for k in CLIENT_INGEST}}

    def replace(self, **dotted) -> "PipelineSettings":
        """A copy with overrides by dotted name: ``s.replace(**{"trainer.seed": 3})``."""
        return tree.with_values(self, dotted)

    def to_dict(self) -> dict:
        return tree.to_dict(self)

    def write(self, folder: str, name: str = SETTINGS_JSON) -> str:
        """settings.json (or ``name``) in ``folder``: the effective settings beside the outputs."""
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=2)
            handle.write("\n")
        return path

    def to_env(self) -> dict:
        """The MER_* variables that make ``from_env`` return these settings."""
        return tree.to_env(self)

    @classmethod
    def from_env(cls, environ=os.environ) -> "PipelineSettings":
        """Defaults overridden by MER_<SETTING> variables; an unknown MER_* fails."""
        return tree.from_env(cls, environ)

    @classmethod
    def from_dict(cls, values: dict) -> "PipelineSettings":
        return tree.from_dict(cls, values)
