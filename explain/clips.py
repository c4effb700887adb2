"""Explaining clips: serialized records -> Grad-CAM maps with the faces they lie on.

Used by ``mer-tfx predict --explain`` (one clip, written as PNG overlays and .npy) and
by the report's per-class explanation (many clips, averaged).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import cv2
import numpy as np
import tensorflow as tf

from . import overlays
from .exported import ExportedModel
from .gradcam import normalised

METHOD = ("Grad-CAM of the class logit on the last convolution maps (per step for "
          "TimeDistributed layers, summed over streams), upsampled to the model input")


@dataclasses.dataclass
class ClipExplanation:
    heat: np.ndarray  # raw Grad-CAM, [T, S, S] (frame models) or [F, F] (flow models)
    faces: np.ndarray  # what to draw it on: the model's frames, or the record's apex face
    apex_step: int | None  # frame models: the step the strip marks as apex
    class_id: int  # the class explained
    probabilities: np.ndarray

    @property
    def spatial(self) -> np.ndarray:
        """The map over the face, [S, S]: the mean over steps, scaled to [0, 1]."""
        heat = normalised(self.heat)
        return heat.mean(axis=0) if heat.ndim == 3 else heat

    @property
    def face(self) -> np.ndarray:
        return self.faces[self.apex_step] if self.faces.ndim == 3 else self.faces


def _apex_face(serialized: bytes, side: int) -> np.ndarray:
    """The record's apex face crop, resized to the flow maps' side, in [0, 1]."""
    example = tf.train.SequenceExample.FromString(serialized)
    context = example.context.feature
    position = context["apex"].int64_list.value[0] - context["onset"].int64_list.value[0]
    frames = example.feature_lists.feature_list["frames"].feature
    data = frames[min(max(position, 0), len(frames) - 1)].bytes_list.value[0]
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(gray, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def explain_records(model: ExportedModel, serialized: list, class_ids=None,
                    batch_size: int = 16) -> list:
    """A ClipExplanation per record, of ``class_ids`` (default: the predicted classes)."""
    found = []
    for start in range(0, len(serialized), batch_size):
        chunk = serialized[start:start + batch_size]
        inputs = model.inputs(chunk)
        wanted = None if class_ids is None else np.asarray(class_ids[start:start + batch_size])
        heat, probabilities = model.gradcam(inputs, wanted)
        chosen = probabilities.argmax(axis=1) if wanted is None else wanted
        for i, record in enumerate(chunk):
            if model.reads_flow:
                faces, apex_step = _apex_face(record, inputs.shape[1]), None
            else:
                faces = inputs[i, ..., 0]
                motion = np.abs(inputs[i, ..., 1]).mean(axis=(1, 2)) if inputs.shape[-1] > 1 \
                    else None
                apex_step = int(motion.argmax()) if motion is not None else inputs.shape[1] // 2
            found.append(ClipExplanation(heat[i], faces, apex_step, int(chosen[i]),
                                         probabilities[i]))
    return found


def write_clip_explanation(out_dir: str, explanation: ClipExplanation, class_names: list,
                           seconds: float) -> dict:
    """apex.png (+ strip.png for frame models), gradcam.npy, explanation.json in out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    name = class_names[explanation.class_id]
    probability = float(explanation.probabilities[explanation.class_id])
    title = f"Grad-CAM: {name} (p={probability:.2f})"
    heat = normalised(explanation.heat)
    files = {"gradcam.npy": os.path.join(out_dir, "gradcam.npy"),
             "apex.png": os.path.join(out_dir, "apex.png")}
    np.save(files["gradcam.npy"], explanation.heat)
    if heat.ndim == 3:
        files["strip.png"] = os.path.join(out_dir, "strip.png")
        with open(files["strip.png"], "wb") as handle:
            handle.write(overlays.strip_png(explanation.faces, heat, explanation.apex_step,
                                            title))
        apex = heat[explanation.apex_step]
    else:
        apex = heat
    with open(files["apex.png"], "wb") as handle:
        handle.write(overlays.single_png(explanation.face, apex, title))
    files["explanation.json"] = os.path.join(out_dir, "explanation.json")
    summary = {"method": METHOD, "explained_class": name, "probability": probability,
               "map_shape": list(explanation.heat.shape), "apex_step": explanation.apex_step,
               "seconds": round(seconds, 3), "files": files}
    with open(files["explanation.json"], "w") as handle:
        json.dump(summary, handle, indent=2)
    return summary


def timed_explanation(model_path: str, serialized: bytes, class_names: list, out_dir: str
                      ) -> dict:
    """Open the model, explain one record's predicted class, write the files; the time
    counted is the explanation's own (model opening and writing included)."""
    started = time.perf_counter()
    model = ExportedModel(model_path)
    explanation = explain_records(model, [serialized])[0]
    return write_clip_explanation(out_dir, explanation, class_names,
                                  time.perf_counter() - started)
