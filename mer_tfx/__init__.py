"""mer-tfx: facial micro-expression recognition on TensorFlow Extended.

TFT and TFMA 1.16 need Keras 2 (``tf_keras``) while TensorFlow 2.16 defaults to
Keras 3; the switch only works if it is set before TensorFlow is first imported,
so every process that imports this package gets it here, at the import root.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

import warnings

# google-api-core warns on every import that Python 3.10 is past its support window;
# TFX 1.16 only exists for 3.10 here, so the warning is noise for our users.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core\..*")


def __getattr__(name):
    # ``mer_tfx.IngestionReport`` is the artifact type name MerExampleGen's report
    # carries in a compiled Kubeflow pipeline; resolve it lazily (TFX is heavy).
    if name == "IngestionReport":
        from mer_tfx.components.mer_example_gen import IngestionReport

        return IngestionReport
    raise AttributeError(f"module 'mer_tfx' has no attribute {name!r}")
