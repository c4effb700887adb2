"""The JSON body of a TF Serving REST ``:predict`` call for the pushed model.

The model's ``serving_default`` signature takes serialized SequenceExamples (input
``examples``), so the body carries them base64-encoded in TF Serving's columnar
("inputs") format::

    POST http://HOST:8501/v1/models/mer_model:predict
    {"signature_name": "serving_default", "inputs": {"examples": [{"b64": "..."}]}}

and the response's ``outputs`` hold ``probabilities``, ``class_ids``, ``class_names``
and ``classes`` per clip. Build the records with ``clip_request`` (the same ingestion
code the model was trained on) and send the body with any HTTP client.
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
                 size: int = 128, face_crop: bool = True, convert_options: dict | None = None,
                 video: str | None = None) -> dict:
    """The request body for one clip (a frame folder or an interval of a video file),
    converted exactly as ``mer-tfx predict`` and ingestion convert it."""
    from mer_tfx.predict import prediction_record

    converted = prediction_record(frames_dir, onset, apex, offset, size, face_crop,
                                  convert_options, video)
    return rest_body([converted.serialized])
