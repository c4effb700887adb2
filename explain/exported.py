"""An exported (pushed or trained) model, opened for explaining: raw records -> the
model's input tensor, the Keras model itself, and a face image per clip to draw on.

The records go through the transform graph saved inside the model (its
``model_inputs`` signature, trainer/signatures.py), so the explained input is exactly
what serving feeds the model. Models exported before that signature existed were
saved with their layers' traces, and their re-loaded transform layer is called
instead.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from mer_tfx.trainer.signatures import MODEL_INPUTS
from mer_tfx.transform.preprocessing import FLOW_KEY

from .gradcam import GradCam


def _parser_specs():
    """Every feature of the record schema: the saved transform layer was traced on the
    whole record (records from ingestion or from ``predict`` carry them all)."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.utils import io_utils

    from mer_tfx.schemas import SCHEMA_PATH
    from mer_tfx.trainer.signatures import _parser_specs

    return _parser_specs(io_utils.parse_pbtxt_file(SCHEMA_PATH, schema_pb2.Schema()))


class ExportedModel:
    """The Keras model of a SavedModel written by the Trainer, with its transform."""

    def __init__(self, model_path: str):
        import tf_keras

        self.path = model_path
        self.model = tf_keras.models.load_model(model_path, compile=False)
        if not hasattr(self.model, "tft_layer"):
            raise ValueError(f"{model_path}: no transform graph saved with the model "
                             "(not exported by the mer-tfx Trainer)")
        self.input_key = self.model.inputs[0].name.split(":")[0]
        self._signature = tf.saved_model.load(model_path).signatures.get(MODEL_INPUTS)
        self.reads_flow = self.input_key == FLOW_KEY
        self.gradcam = GradCam(self.model)
        self._context, self._sequence = _parser_specs()

    def inputs(self, serialized: list) -> np.ndarray:
        """The model's input (frames_xf or flow_xf) for serialized SequenceExamples."""
        if self._signature is not None:
            return self._signature(examples=tf.constant(list(serialized)))[
                self.input_key].numpy()
        context, sequence, _ = tf.io.parse_sequence_example(
            tf.constant(list(serialized)), self._context, self._sequence)
        return self.model.tft_layer({**context, **sequence})[self.input_key].numpy()
