"""ClipSpec -> serialized SequenceExample, or a Reject saying why not.

Plain functions, no Beam: the Beam DoFn, the TFX component and the sequential
benchmark baseline all call ``convert_clip`` so they do exactly the same work.
"""
from __future__ import annotations

import dataclasses

from .align import plan_crop, refound
from .apex import registered_clip, spot_apex
from .clips import MAX_CLIP_FRAMES, ClipSpec, Reject
from .flow import clip_flow
from .frames import FrameError, encode_png, listed_frames, read_gray
from .records import build_sequence_example
from .video import VideoError, read_interval

# The reader's midpoint repairs, and what they become when the apex is spotted instead.
SPOTTED_REPAIRS = {"apex_missing_midpoint": "apex_missing_spotted",
                   "apex_outside_clip_midpoint": "apex_outside_clip_spotted",
                   "apex_at_onset_midpoint": "apex_at_onset_spotted"}


@dataclasses.dataclass(frozen=True)
class Converted:
    spec: ClipSpec
    serialized: bytes
    num_frames: int
    face_detected: bool
    apex_source: str = "annotated"
    landmarks_found: bool = False
    landmarks_refound: bool = False  # the head moved: found again (align.refound)
    alignment: str = "box"  # eyes | box | frame (ingestion/align.py)


def choose_apex(spec: ClipSpec, crops: list, apex_fallback: str = "spot",
                apex_from: str = "annotation", points=None) -> tuple[ClipSpec, str]:
    """(spec with its final apex and repairs, apex source: annotated | spotted | midpoint).

    The reader set a missing or out-of-clip apex to the midpoint; here it is spotted
    from the face crops instead (ingestion/apex.py) unless ``apex_fallback`` is
    "midpoint". ``apex_from="spotting"`` spots every clip's apex. ``points``: the
    clip's landmarks in crop pixels, which place the spotter's regions.
    """
    midpoint = next((r for r in spec.repairs if r in SPOTTED_REPAIRS), None)
    if apex_from == "annotation" and midpoint is None:
        return spec, "annotated"
    if apex_from == "annotation" and apex_fallback == "midpoint":
        return spec, "midpoint"
    apex = spec.onset + spot_apex(crops, points=points)
    if midpoint is not None:
        repairs = tuple(SPOTTED_REPAIRS.get(r, r) for r in spec.repairs)
    else:
        repairs = spec.repairs + ("apex_spotted",)
    return dataclasses.replace(spec, apex=apex, repairs=repairs), "spotted"


def clip_frames(spec: ClipSpec):
    """(name, gray frame) for frames onset..offset, one at a time as they are decoded: from
    the clip folder's files, or from ``spec.video``. Raises FrameError or VideoError with
    a reject keyword."""
    if spec.video:
        frames = read_interval(spec.video, spec.onset, spec.offset)
        return ((f"{spec.video} frame {spec.onset + i}", gray) for i, gray in enumerate(frames))
    available = listed_frames(spec.clip_dir)
    wanted = range(spec.onset, spec.offset + 1)
    missing = [n for n in wanted if n not in available]
    if missing:
        raise FrameError("missing_frame",
                         f"{len(missing)} of frames {spec.onset}..{spec.offset} have no file in "
                         f"{spec.clip_dir} (first: {missing[0]})")
    return ((available[n], read_gray(available[n])) for n in wanted)


def convert_clip(spec: ClipSpec, size: int = 128, face_crop: bool = True,
                 apex_fallback: str = "spot", apex_from: str = "annotation",
                 flow: bool = True, register: bool = True,
                 flow_algorithm: str = "tvl1", align: str = "eyes") -> Converted | Reject:
    """Read frames onset..offset (inclusive; ``clip_frames``), crop to the onset face (its
    eyes on the template with ``align="eyes"``, else the Haar box: ingestion/align.py); with
    ``register``, move every crop onto the onset crop (its global shift, i.e. head
    movement, removed: ingestion/apex.py); encode; spot the apex where the annotation
    has none (``choose_apex``); with ``flow``, the onset->apex optical flow and strain
    (ingestion/flow.py, by ``flow_algorithm``)."""
    span = spec.offset - spec.onset + 1
    if span > MAX_CLIP_FRAMES:
        return Reject(spec.row, spec.clip_id, "too_many_frames",
                      f"onset..offset spans {span} frames (limit {MAX_CLIP_FRAMES})")
    wanted = list(range(spec.onset, spec.offset + 1))
    plan, crops, first_shape, refind = None, [], None, False
    try:
        for position, (name, gray) in enumerate(clip_frames(spec)):
            if position == 0:
                first_shape = gray.shape
                plan = plan_crop(gray, size, face_crop, align)
            elif gray.shape != first_shape:
                raise FrameError("inconsistent_frame_size",
                                 f"{name}: {gray.shape[1]}x{gray.shape[0]} differs from the "
                                 f"onset frame's {first_shape[1]}x{first_shape[0]}")
            crops.append(plan.apply(gray))
        if register:
            raw, crops = crops, registered_clip(crops)
            plan, refind = refound(plan, raw, crops)
        encoded = [encode_png(crop) for crop in crops]
    except (FrameError, VideoError) as error:
        return Reject(spec.row, spec.clip_id, error.reason, error.detail)
    except OSError as error:
        return Reject(spec.row, spec.clip_id, "unreadable_frame", str(error))
    if plan.repairs:
        spec = dataclasses.replace(spec, repairs=spec.repairs + plan.repairs)
    spec, apex_source = choose_apex(spec, crops, apex_fallback, apex_from, plan.landmarks)
    maps = (clip_flow(crops[0], crops[spec.apex - spec.onset], flow_algorithm,
                      register=not register) if flow else None)
    face_detected = plan.box is not None
    example = build_sequence_example(spec, wanted, encoded, face_detected, apex_source, maps,
                                     plan.landmark_values, plan.alignment)
    return Converted(spec, example.SerializeToString(deterministic=True), len(encoded),
                     face_detected, apex_source, plan.landmarks is not None, refind,
                     plan.alignment)
