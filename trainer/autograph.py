"""AutoGraph leaves Keras 2 (``tf_keras``) alone, as it always left ``keras``.

TensorFlow's AutoGraph rewrites Python control flow into graph ops, and its list of
packages not to rewrite names ``keras`` (tensorflow/python/autograph/core/config.py):
Keras 2's training loop, optimizers, losses and metrics are written to run as they
are. Since Keras 2 moved to the ``tf_keras`` package, that rule no longer matches,
so every new process had AutoGraph parse and rewrite all of Keras's training code
before the first epoch: 14 s of a 14.5 s four-epoch fit of the default model on one
core, then 0.4-0.7 s per new predict function (a fold's Trainer runs in a fresh
process in parallel cross-validation and on Kubeflow). With the rule, the first epoch
took 1.6 s and the fitted weights were bit-identical (op determinism on, three
models, class weights). The models' own code (``Lambda`` functions, layers' calls)
is still converted as before: Keras converts what it calls from user code itself.
"""
from __future__ import annotations

from tensorflow.python.autograph.core import config as _autograph_config

KERAS_PACKAGE = "tf_keras"


def leave_keras_alone() -> None:
    """Add the rule once (idempotent: the rules are a tuple read at each conversion)."""
    rules = _autograph_config.CONVERSION_RULES
    if not any(isinstance(rule, _autograph_config.DoNotConvert)
               and rule.matches(KERAS_PACKAGE) for rule in rules):
        _autograph_config.CONVERSION_RULES = rules + (
            _autograph_config.DoNotConvert(KERAS_PACKAGE),)
