"""The JSON body of a TF Serving REST ``:predict`` call for the pushed model.

The model's ``serving_default`` signature takes serialized SequenceExamples (input
``examples``), so the body carries them base64-encoded in TF Serving's columnar
("inputs") format::

    POST http://HOST:8501/v1/models/mer_model:predict
    {"signature_name": "serving_default", "inputs": {"examples": [{"b64": "..."}]}}

and the response's ``outputs`` hold ``probabilities``, ``class_ids``, ``class_names``
and ``classes`` per clip. Build the records with ``clip_request`` (the same ingestion
code and settings the model was trained on, read from the model) and send the body
with any HTTP client.
"""
from __future__ import annotations

import base64

SIGNATURE = "serving_default"
INPUT = "examples"


def rest_body(serialized_examples: list) -> dict:
    """Serialized SequenceExamples -> the request body (a JSON-ready dict)."""
    return {"signature_name": SIGNATURE,
            "inputs": {INPUT: [{"b64": base64.b64encode(bytes(e)).decode("ascii")}
                               for e in serialized_examples]}}


def examples_of(body: dict) -> list:
    """The serialized examples a body carries (what TF Serving decodes from it)."""
    return [base64.b64decode(item["b64"]) for item in body["inputs"][INPUT]]


def predict_url(host: str, model_name: str = "mer_model", port: int = 8501) -> str:
    """TF Serving's REST predict URL for a model served under ``model_name``."""
    return f"http://{host}:{port}/v1/models/{model_name}:predict"


def clip_request(frames_dir: str | None = None, onset=None, apex=None, offset=None,
                 model: str | None = None, video: str | None = None, force: bool = False,
                 **settings) -> dict:
    """The request body for one clip (a frame folder or an interval of a video file),
    converted exactly as ``mer-tfx predict`` and ingestion convert it.

    With ``model`` (a SavedModel or a serving folder), the preprocessing it records is
    used; ``settings`` (crop_size, face_crop, register, flow_algorithm, apex_from,
    apex_fallback) that contradict it are an error unless ``force``. Without a model,
    ``settings`` over the defaults.
    """
    from mer_tfx.predict import model_ingest, record_for, resolve_model_dir

    ingest = model_ingest(resolve_model_dir(model) if model else None, settings, force)
    return rest_body([record_for(frames_dir, onset, apex, offset, ingest, video).serialized])
