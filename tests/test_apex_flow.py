"""Apex spotting and onset->apex optical flow / strain (ingestion/apex.py, ingestion/flow.py)."""
import dataclasses

import cv2
import numpy as np
import pytest
import tensorflow as tf

from mer_tfx.ingestion import fileio
from mer_tfx.ingestion.apex import spot_apex
from mer_tfx.ingestion.clips import ClipSpec
from mer_tfx.ingestion.align import plan_crop
from mer_tfx.ingestion.frames import decode_gray
from mer_tfx.ingestion.convert import convert_clip
from mer_tfx.ingestion.readers import read_annotations
from mer_tfx.synthetic import generate


def _context(converted):
    return tf.train.SequenceExample.FromString(converted.serialized).context.feature


@pytest.fixture(scope="module")
def jittered_clips(tmp_path_factory):
    """Synthetic CASME II clips: head jitter and sensor noise larger than the expression."""
    data = generate("casme2", str(tmp_path_factory.mktemp("apex")), subjects=3,
                    clips_per_class=2, seed=3, frame_size=128, progress=False)
    true_apex = {(c["subject"], c["clip"]): c["true_apex"] for c in data.clips}
    specs = [r for r in read_annotations("casme2", data.root, data.annotations)
             if isinstance(r, ClipSpec)]
    return specs, true_apex


def _crops(spec, size=64):
    """The face crops ingestion would store (same reading, crop and resize code)."""
    files = fileio.frame_files(spec.clip_dir)
    grays = [decode_gray(fileio.read_bytes(files[n]), files[n])
             for n in range(spec.onset, spec.offset + 1)]
    plan = plan_crop(grays[0], size)  # the onset's face: eyes aligned, as ingestion does
    return [plan.apply(gray) for gray in grays]


def test_spotting_finds_the_apex_better_than_the_midpoint(jittered_clips):
    specs, true_apex = jittered_clips
    spotted_errors, midpoint_errors, raw_errors = [], [], []
    for spec in specs:
        midpoint = (spec.onset + spec.offset) // 2
        unannotated = dataclasses.replace(spec, apex=midpoint, repairs=("apex_missing_midpoint",))
        converted = convert_clip(unannotated, size=64)
        context = _context(converted)
        assert context["apex_source"].bytes_list.value[0] == b"spotted"
        assert converted.spec.repairs == ("apex_missing_spotted",)
        truth = true_apex[(spec.subject, spec.clip)]
        spotted_errors.append(abs(context["apex"].int64_list.value[0] - truth))
        midpoint_errors.append(abs(midpoint - truth))
        crops = _crops(spec)
        raw_errors.append(abs(spec.onset + spot_apex(crops, register=False) - truth))
    spotted, midpoint, raw = (np.mean(e) for e in (spotted_errors, midpoint_errors, raw_errors))
    print(f"apex error over {len(specs)} jittered clips: spotted {spotted:.2f} frames, "
          f"midpoint {midpoint:.2f}, spotted without registration {raw:.2f}")
    assert spotted < midpoint and spotted < raw


def test_spotted_apex_on_photo_faces_is_well_below_the_midpoint(tmp_path):
    """CASME II's 200 fps, real-texture faces whose micro-expression moves about as far as
    the head jitters, apexes anywhere from 15% to 85% of the clip, apex column blanked:
    ingestion's spotter (landmark regions, head removed) against the midpoint
    (bench/clip_apex.py measures the same on 180 clips)."""
    data = generate("casme2", str(tmp_path), subjects=2, clips_per_class=1, seed=5,
                    face="photo", progress=False)
    true_apex = {(c["subject"], c["clip"]): c["true_apex"] for c in data.clips}
    spotted_errors, midpoint_errors = [], []
    for spec in read_annotations("casme2", data.root, data.annotations):
        if not isinstance(spec, ClipSpec):
            continue
        midpoint = (spec.onset + spec.offset) // 2
        blank = dataclasses.replace(spec, apex=midpoint, repairs=("apex_missing_midpoint",))
        converted = convert_clip(blank, flow=False)
        truth = true_apex[(spec.subject, spec.clip)]
        spotted_errors.append(abs(converted.spec.apex - truth))
        midpoint_errors.append(abs(midpoint - truth))
    spotted, midpoint = np.mean(spotted_errors), np.mean(midpoint_errors)
    print(f"apex error over {len(spotted_errors)} photo-face clips at 200 fps: spotted "
          f"{spotted:.2f} frames, midpoint {midpoint:.2f} ({spotted / midpoint:.2f}x)")
    assert spotted < 0.6 * midpoint


def test_apex_sources_follow_the_options(jittered_clips):
    specs, _ = jittered_clips
    annotated = next(s for s in specs if not s.repairs)
    assert convert_clip(annotated, size=48).apex_source == "annotated"
    spotted = convert_clip(annotated, size=48, apex_from="spotting")
    assert spotted.apex_source == "spotted" and "apex_spotted" in spotted.spec.repairs
    missing = dataclasses.replace(annotated, repairs=("apex_missing_midpoint",))
    kept = convert_clip(missing, size=48, apex_fallback="midpoint")
    assert kept.apex_source == "midpoint" and kept.spec.apex == annotated.apex


def _texture(size=96, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, size=(size // 4, size // 4)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC),
                            (0, 0), 1.5)


def test_flow_has_the_sign_and_magnitude_of_a_known_shift():
    from mer_tfx.ingestion.flow import flow_features, optical_flow, optical_strain

    onset = _texture()
    apex = np.roll(onset, shift=(0, 2), axis=(0, 1))  # content moves 2 px right, 0 down
    flow = optical_flow(onset, apex)
    inner = flow[20:-20, 20:-20]
    assert np.median(inner[..., 0]) == pytest.approx(2.0, abs=0.3)
    assert np.median(inner[..., 1]) == pytest.approx(0.0, abs=0.3)
    # a rigid shift has (near) zero strain; a local stretch does not
    assert np.median(optical_strain(flow)[20:-20, 20:-20]) < 0.05
    stretched = cv2.resize(onset[:, 8:88], (96, 96))[:, :]
    assert np.median(optical_strain(optical_flow(onset, stretched))[20:-20, 20:-20]) > 0.05
    features = flow_features(onset, apex, size=32)
    assert set(features) == {"flow_u", "flow_v", "strain"}
    assert all(f.shape == (32, 32) and f.dtype == np.float32 for f in features.values())


def test_stored_flow_removes_the_head_shift_and_keeps_the_local_motion():
    """clip_flow registers the apex onto the onset: a global shift leaves ~no flow, a
    local motion on top of it stays, with its sign."""
    from mer_tfx.ingestion.flow import FLOW_SIZE, clip_flow

    onset = _texture(size=128, seed=2)
    shifted = np.roll(onset, shift=(0, -3), axis=(0, 1))  # head moved 3 px left
    still = clip_flow(onset, shifted)
    assert np.abs(still["flow_u"][8:-8, 8:-8]).mean() < 0.25
    moved = shifted.copy()  # and a small patch in the middle moves 2 px down
    moved[52:76, 52:76] = np.roll(shifted, shift=2, axis=0)[52:76, 52:76]
    local = clip_flow(onset, moved)
    centre = slice(FLOW_SIZE // 2 - 3, FLOW_SIZE // 2 + 3)
    assert np.median(local["flow_v"][centre, centre]) == pytest.approx(2.0, abs=0.5)
    assert np.abs(np.median(local["flow_u"][centre, centre])) < 0.5
    assert all(m.shape == (FLOW_SIZE, FLOW_SIZE) for m in local.values())


def test_records_carry_the_flow_maps_losslessly_or_empty_with_no_flow(jittered_clips):
    from mer_tfx.ingestion.flow import FLOW_FEATURES, clip_flow, decode_map

    specs, _ = jittered_clips
    spec = specs[0]
    converted = convert_clip(spec, size=64)
    context = _context(converted)
    crops = _crops(spec)
    expected = clip_flow(crops[0], crops[spec.apex - spec.onset])
    for name in FLOW_FEATURES:
        np.testing.assert_array_equal(decode_map(context[name].bytes_list.value[0]),
                                      expected[name])
    bare = _context(convert_clip(spec, size=64, flow=False))
    assert all(bare[name].bytes_list.value[0] == b"" for name in FLOW_FEATURES)


def test_the_transform_graph_reads_the_stored_maps(jittered_clips):
    from mer_tfx.ingestion.flow import FLOW_FEATURES, decode_map
    from mer_tfx.transform.preprocessing import decode_flow

    specs, _ = jittered_clips
    contexts = [_context(convert_clip(spec, size=64)) for spec in specs[:2]]
    inputs = {name: tf.constant([c[name].bytes_list.value[0] for c in contexts])
              for name in FLOW_FEATURES}
    decoded = decode_flow(inputs, 64).numpy()  # same size: the resize keeps the values
    for index, context in enumerate(contexts):
        for channel, name in enumerate(FLOW_FEATURES):
            np.testing.assert_allclose(decoded[index, ..., channel],
                                       decode_map(context[name].bytes_list.value[0]), atol=1e-5)
    assert decode_flow(inputs, 28).shape == (2, 28, 28, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="no-flow"):
        decode_flow({name: tf.constant([b""]) for name in FLOW_FEATURES}, 28)


def test_stored_frames_are_registered_onto_the_onset_frame(jittered_clips):
    """Head jitter is removed from the stored crops (``register``, the default)."""
    from mer_tfx.ingestion.apex import _prepared, global_shift

    specs, _ = jittered_clips

    def largest_shift(converted):
        frames = tf.train.SequenceExample.FromString(converted.serialized) \
            .feature_lists.feature_list["frames"].feature
        images = [_prepared(cv2.imdecode(np.frombuffer(f.bytes_list.value[0], np.uint8), 0))
                  for f in frames]
        return max(np.hypot(*global_shift(images[0], image)) for image in images[1:])

    raw = [largest_shift(convert_clip(spec, size=128, register=False)) for spec in specs[:6]]
    aligned = [largest_shift(convert_clip(spec, size=128)) for spec in specs[:6]]
    print(f"largest head shift in a clip: raw {np.mean(raw):.2f} px, registered "
          f"{np.mean(aligned):.2f} px")
    assert np.mean(raw) > 0.3 and np.mean(aligned) < 0.5 * np.mean(raw)
