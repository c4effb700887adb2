"""An exported (pushed or trained) model, opened for explaining: raw records -> the
model's input tensor, the Keras model itself, and a face image per clip to draw on.

The records go through the transform graph saved inside the model (its
``model_inputs`` signature, trainer/signatures.py), so the explained input is exactly
what serving feeds the model.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from mer_tfx.trainer.signatures import MODEL_INPUTS
from mer_tfx.transform.preprocessing import FLOW_KEY

from .gradcam import GradCam


class ExportedModel:
    """The Keras model of a SavedModel written by the Trainer, with its transform."""

    def __init__(self, model_path: str):
        import tf_keras

        self.path = model_path
        self.model = tf_keras.models.load_model(model_path, compile=False)
        # the exported signatures (serving_default, transform_features, model_inputs),
        # which Keras restores with the model: no second load of the SavedModel
        self.signatures = self.model.signatures
        self._model_inputs = self.signatures.get(MODEL_INPUTS)
        if self._model_inputs is None:
            raise ValueError(f"{model_path}: no {MODEL_INPUTS!r} signature, the transform "
                             "graph explanations need (not exported by this version of the "
                             "mer-tfx Trainer: train the model again)")
        self.input_key = self.model.inputs[0].name.split(":")[0]
        self.reads_flow = self.input_key == FLOW_KEY
        self.gradcam = GradCam(self.model)

    def inputs(self, serialized: list) -> np.ndarray:
        """The model's input (frames_xf or flow_xf) for serialized SequenceExamples."""
        return self._model_inputs(examples=tf.constant(list(serialized)))[
            self.input_key].numpy()
