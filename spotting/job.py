"""``mer-tfx spot``: long videos -> spotted intervals (+ evaluation when truth is known).

A Beam job like ingestion's (same runners and --beam-arg handling): the sheet is read
on the launching machine, each video's signal is computed by one task (the heavy
part: every frame decoded, registered and compared), and one final task sets the
thresholds (settings, or ``--fit``: leave one subject out over the annotated videos),
cuts the intervals, optionally recognises them with a trained model, and writes
OUT/intervals.csv, OUT/signals/, OUT/summary.json, OUT/rejects.jsonl and, with a
ground truth, OUT/spotting.json and OUT/spotting_report.html.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import time

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions

from mer_tfx.errors import UserError
from mer_tfx.ingestion import fileio, outputs
from mer_tfx.ingestion.long_sheets import read_long_videos
from mer_tfx.ingestion.long_videos import FramesError, SpotReject, check_frames, iter_frames
from mer_tfx.logs import PROGRESS_TAG

from . import detect, signal

log = logging.getLogger(__name__)
SPOT_COMMAND = "mer-tfx spot"
SPOT_OUTPUTS = ("intervals.csv", "summary.json", "rejects.jsonl", "spotting.json",
                "spotting_report.html", "signals/*.csv", "timelines/*.png")
INTERVAL_COLUMNS = ("vid", "onset", "offset", "type", "apex", "score", "emotion",
                    "probability")


class SpotError(UserError):
    """Nothing could be spotted; the message says why."""


@dataclasses.dataclass(frozen=True)
class Spotted:
    """One video's signal (the heavy part), or why it could not be computed."""

    video: object  # LongVideo, truths inside its frames
    item: object = None  # detect.Item
    rejects: tuple = ()
    frames: int = 0
    face_found: bool = True
    landmarks_found: bool = False


REGION_MODES = ("landmarks", "box")


def video_signal(video, naive: bool = False, scales_seconds: tuple = (),
                 region_mode: str = "landmarks") -> Spotted:
    """Read every frame of ``video`` once and compute its signals (``naive``: the
    baseline, whole-face frame difference without registration or regions).

    ``region_mode`` landmarks: the named regions of the first frame's five landmarks
    (ingestion/regions.py), the face box's fixed fractions where none are found; box:
    always the fractions."""
    from mer_tfx.ingestion.frames import face_box

    checked, rejects, first, _ = check_frames(video)
    if checked is None:
        return Spotted(video, rejects=tuple(rejects))
    stack, face_found, frames, points = None, True, 0, None
    try:
        for _, gray in iter_frames(checked):
            if stack is None:
                box = face_box(gray)
                face_found = box is not None
                if region_mode == "landmarks" and not naive:
                    points = signal.crop_landmarks(gray, box)
                stack = signal.RegionStack(box, naive=naive, points=points)
            stack.add(gray)
            frames += 1
    except FramesError as error:
        return Spotted(video, rejects=tuple(rejects) + (SpotReject(
            video.dataset, video.name, error.reason, error.detail),), frames=frames)
    scales = signal.Scales.at(checked.fps, *scales_seconds)
    if frames < 2 * scales.macro + 1:
        return Spotted(video, rejects=tuple(rejects) + (SpotReject(
            video.dataset, video.name, "no_frames",
            f"{frames} frames: shorter than the {2 * scales.macro + 1} the macro scale needs"),),
            frames=frames)
    sig = signal.signals(stack.array(), stack.layout(), scales)
    item = detect.Item(checked.dataset, checked.name, checked.subject, checked.fps, first,
                       scales.macro, sig, checked.truths, checked.annotated)
    return Spotted(checked, item, tuple(rejects), frames, face_found, points is not None)


class _SignalFn(beam.DoFn):
    def __init__(self, naive: bool, total: int, region_mode: str):
        self._naive, self._total, self._done = naive, total, 0
        self._regions = region_mode

    def process(self, video):
        started = time.time()
        result = video_signal(video, self._naive, region_mode=self._regions)
        self._done += 1
        logging.info("%s spot: %s, %d frames in %.1f s (%d of %d videos on this worker)",
                     PROGRESS_TAG, video.name, result.frames, time.time() - started,
                     self._done, self._total)
        yield None, result


def safe_name(name: str) -> str:
    return name.replace("/", "__").replace("\\", "__")


def thresholds_for(items, base: detect.Thresholds, fit: bool) -> dict:
    """subject -> Thresholds: the settings, or with ``fit`` the leave-one-subject-out
    choice (a subject's own videos never take part in choosing its thresholds)."""
    if not fit:
        return {i.subject: base for i in items}
    return detect.loso_thresholds(items, base)


class _FinishFn(beam.DoFn):
    def __init__(self, out_dir: str, options: dict, extra_rejects: list, videos_found: int):
        self._out, self._options = out_dir, options
        self._rejects, self._found = extra_rejects, videos_found

    def process(self, keyed):
        results = sorted(keyed[1], key=lambda r: r.video.name)
        yield finish(results, self._out, self._options, self._rejects, self._found)


def finish(results, out_dir: str, options: dict, extra_rejects=(), videos_found=None) -> dict:
    """Thresholds, intervals, emotions, outputs and the evaluation; returns summary.json."""
    from . import report

    items = [r.item for r in results if r.item is not None]
    base = detect.Thresholds(**options.get("thresholds", {}))
    chosen = thresholds_for(items, base, options.get("fit", False))
    rows, videos, signals_out = [], {}, fileio.join(out_dir, "signals")
    fileio.makedirs(signals_out)
    classifier = (report.Recogniser(options["model"], {r.video.name: r.video for r in results})
                  if options.get("model") else None)
    for item in items:
        intervals, used = detect.detect(item.signals, item.fps, item.first,
                                        chosen[item.subject], item.macro_k)
        if classifier is not None:
            intervals = [classifier.label(item, interval) for interval in intervals]
        videos[(item.dataset, item.name)] = (list(item.truths), intervals, used)
        rows.extend([item.name, i.onset, i.offset, i.type, i.apex, i.score,
                     i.label if classifier else "",
                     classifier.probability(item.name, i) if classifier else ""]
                    for i in intervals)
        frames = np.arange(len(item.signals["micro"])) + item.first
        lines = ["frame,micro,macro,threshold_micro,threshold_macro"] + [
            f"{f},{a:.5g},{b:.5g},{used['micro']:.5g},{used['macro']:.5g}"
            for f, a, b in zip(frames, item.signals["micro"], item.signals["macro"])]
        fileio.write_text(fileio.join(signals_out, safe_name(item.name) + ".csv"),
                          "\n".join(lines) + "\n")
    fileio.write_text(fileio.join(out_dir, "intervals.csv"), "\n".join(
        [",".join(INTERVAL_COLUMNS)] + [",".join(map(str, r)) for r in rows]) + "\n")
    rejects = list(extra_rejects) + [j for r in results for j in r.rejects]
    fileio.write_text(fileio.join(out_dir, "rejects.jsonl"), "".join(
        json.dumps(dataclasses.asdict(j), sort_keys=True) + "\n" for j in rejects))
    repairs = collections.Counter(k for r in results if r.item for k in r.video.repairs)
    rejected_videos = sorted({j.video for j in rejects if j.row == 0})
    summary = {
        "datasets": sorted({r.video.dataset for r in results}),
        "videos": videos_found if videos_found is not None else len(results),
        "spotted_videos": len(items), "rejected_videos": len(rejected_videos),
        "rejected_rows": sum(1 for j in rejects if j.row),
        "frames": sum(r.frames for r in results if r.item),
        "intervals": len(rows),
        "intervals_by_type": dict(collections.Counter(r[3] for r in rows)),
        "face_not_found": sum(1 for r in results if r.item and not r.face_found),
        "regions": options.get("regions", "landmarks"),
        "landmarks_not_found": sum(1 for r in results if r.item and not r.landmarks_found)
        if options.get("regions", "landmarks") == "landmarks" else None,
        "rejected_by_reason": dict(sorted(collections.Counter(j.reason for j in rejects)
                                          .items())),
        "rejects": [{"video": j.video, "row": j.row, "reason": j.reason, "detail": j.detail}
                    for j in rejects],
        "repaired_by_kind": dict(sorted(repairs.items())),
        "thresholds": {s: t.as_dict() for s, t in sorted(chosen.items())},
        "fit": bool(options.get("fit")), "model": options.get("model"),
    }
    if any(i.annotated for i in items):
        summary["evaluation"] = report.write_evaluation(out_dir, results, videos,
                                                        classifier is not None)
    fileio.write_text(fileio.join(out_dir, "summary.json"),
                      json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def run_spot(dataset: str, root: str, out_dir: str, annotations: str | None = None,
             emotions: str | None = None, model: str | None = None, fit: bool = False,
             thresholds: dict | None = None, beam_args: list | None = None,
             naive: bool = False, region_mode: str = "landmarks") -> dict:
    """The whole job; returns summary.json's content. UserError for unusable input."""
    from mer_tfx.ingestion.beam_job import finish as wait, runner_args

    videos, row_rejects = read_long_videos(dataset, root, annotations, emotions)
    if fit and not annotations:
        raise SpotError("--fit chooses thresholds on annotated videos: give --annotations")
    if model:
        from mer_tfx.predict import resolve_model_dir

        model = resolve_model_dir(model)
    outputs.claim(out_dir, SPOT_COMMAND, owned=SPOT_OUTPUTS,
                  exclusive=("signals", "timelines"))
    log.info("%s spot %s: %d videos, %d sheet rows rejected", PROGRESS_TAG, root,
             len(videos), len(row_rejects))
    if region_mode not in REGION_MODES:
        raise SpotError(f"--regions {region_mode!r}: choose one of {REGION_MODES}")
    options = {"thresholds": thresholds or {}, "fit": fit, "model": model,
               "regions": region_mode}
    pipeline = beam.Pipeline(options=PipelineOptions(runner_args(beam_args, len(videos))))
    _ = (pipeline
         | "Videos" >> beam.Create(videos)
         | "Signal" >> beam.ParDo(_SignalFn(naive, len(videos), region_mode))
         | "Together" >> beam.GroupByKey()
         | "Finish" >> beam.ParDo(_FinishFn(out_dir, options, row_rejects, len(videos))))
    wait(pipeline.run())
    summary = json.loads(fileio.read_bytes(fileio.join(out_dir, "summary.json")))
    if summary["spotted_videos"] == 0:
        raise SpotError(f"no video of {root} could be spotted: "
                        f"{summary['rejected_by_reason']}; see {out_dir}/rejects.jsonl")
    return summary
