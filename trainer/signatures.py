"""Exported signatures of the trained model.

- ``serving_default``: serialized SequenceExamples exactly as ingestion writes
  them (frames of any size: the transform graph decodes and resizes) ->
  class probabilities, class ids and class names (plus ``classes``, all names in
  probability order). Only the features the transform needs (frames, onset, apex,
  and flow_u, flow_v, strain when it derives flow_xf) are parsed, so a client need
  not send subject or label.
- ``transform_features``: the same records *with* labels -> the transformed
  label; TFMA uses it to get ``label_xf``.
- ``model_inputs``: the serving records -> the model's input tensor (``frames_xf``
  or ``flow_xf``), what Grad-CAM explains (explain/exported.py): the model is saved
  without per-layer traces, so the Keras object re-loaded from it cannot call the
  transform layer itself.
"""
from __future__ import annotations

import tensorflow as tf
from tfx_bsl.tfxio import tensor_representation_util

from mer_tfx.transform.preprocessing import FLOW_INPUTS, FLOW_KEY, FRAMES_KEY, LABEL_KEY

SERVING_CONTEXT = ("onset", "apex")
SERVING_SEQUENCE = ("frames",)
MODEL_INPUTS = "model_inputs"


def _parser_specs(raw_schema):
    context, sequence = tensor_representation_util.CreateTfSequenceExampleParserConfig(raw_schema)
    return context, sequence


def make_signatures(model, tft_output, raw_schema, class_names, label_key: str,
                    input_key: str = FRAMES_KEY):
    """``tft_output``: the TFTransformOutput; ``input_key``: the transformed feature the
    model reads (frames_xf or flow_xf)."""
    context_spec, sequence_spec = _parser_specs(raw_schema)
    tft_layer = tft_output.transform_features_layer()
    reads_flow = FLOW_KEY in tft_output.transformed_feature_spec()
    serving_context = {k: context_spec[k]
                       for k in SERVING_CONTEXT + (FLOW_INPUTS if reads_flow else ())}
    serving_sequence = {k: sequence_spec[k] for k in SERVING_SEQUENCE}
    eval_context = dict(serving_context, **{label_key: context_spec[label_key]})
    names = tf.constant(list(class_names))
    model.tft_layer = tft_layer  # tracked, so the transform graph is saved with the model

    def transformed_features(examples, context_spec):
        context, sequence, _ = tf.io.parse_sequence_example(
            examples, context_spec, serving_sequence)
        return model.tft_layer({**context, **sequence})

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(examples):
        transformed = transformed_features(examples, serving_context)
        probabilities = model(transformed[input_key], training=False)
        class_ids = tf.argmax(probabilities, axis=1)
        return {"probabilities": probabilities, "class_ids": class_ids,
                "class_names": tf.gather(names, class_ids),
                # Every class name per row, aligned with probabilities (TF Serving's
                # row format needs the batch dimension).
                "classes": tf.tile(names[None, :], [tf.shape(probabilities)[0], 1])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(examples):
        return {LABEL_KEY: transformed_features(examples, eval_context)[LABEL_KEY]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def model_inputs(examples):
        return {input_key: transformed_features(examples, serving_context)[input_key]}

    return {"serving_default": serve.get_concrete_function(),
            "transform_features": transform_features.get_concrete_function(),
            MODEL_INPUTS: model_inputs.get_concrete_function()}
