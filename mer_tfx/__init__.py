"""mer-tfx: facial micro-expression recognition on TensorFlow Extended.

TFT and TFMA 1.16 need Keras 2 (``tf_keras``) while TensorFlow 2.16 defaults to
Keras 3; the switch only works if it is set before TensorFlow is first imported,
so every process that imports this package gets it here, at the import root.

The console is quiet by default (``MER_VERBOSE=1`` or ``mer-tfx -v`` brings the
noise back): TensorFlow's C++ start-up lines ("Unable to register cuFFT
factory ...", level E although nothing is wrong on a CPU machine) and Google
client libraries' FutureWarnings about Python 3.10, which TFX 1.16 requires.
Both are set in the environment too, so Beam's worker processes inherit them.
"""
import os
import sys
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

VERBOSE_VARIABLE = "MER_VERBOSE"
if os.environ.get(VERBOSE_VARIABLE, "") in ("", "0"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google(\.|$)")

    def _quiet_unraisable(unraisable, _default=sys.unraisablehook):
        # TensorFlow's AtomicFunction.__del__ raises TypeError when a Beam worker process
        # exits (module globals already torn down); Python prints it as a traceback.
        if not (unraisable.exc_type is TypeError and "AtomicFunction.__del__" in
                repr(getattr(unraisable, "object", ""))):
            _default(unraisable)

    sys.unraisablehook = _quiet_unraisable

__version__ = "0.1.0"


def __getattr__(name):
    # ``mer_tfx.IngestionReport`` is the artifact type name MerExampleGen's report
    # carries in a compiled Kubeflow pipeline; resolve it lazily (TFX is heavy).
    if name == "IngestionReport":
        from mer_tfx.components.mer_example_gen import IngestionReport

        return IngestionReport
    raise AttributeError(f"module 'mer_tfx' has no attribute {name!r}")
