"""What `mer-tfx spot` writes when the truth is known, and the model's emotions.

OUT/spotting.json holds the MEGC figures (spotting.metric) and, with a model, the
STR analysis (spotting.analysis); OUT/spotting_report.html shows them with a
per-video table and one timeline per video (OUT/timelines/<video>.png: the two
signals and their thresholds, the true intervals, the spotted ones as TP or FP).
"""
from __future__ import annotations

import html
import io
import json

from mer_tfx.ingestion import fileio

from . import analysis, metric

METRIC_STATEMENT = (
    "MEGC spotting rule: inclusive frame ranges; a spotted interval is a true positive "
    "when its IoU with a true interval of the same type (micro me / macro mae) is >= 0.5; "
    "per video a maximum one-to-one matching (each truth and each prediction used at most "
    "once); TP/FP/FN pooled per dataset and overall; F1 from the pooled counts; every "
    "video counts, also videos without expressions. STR: UF1 and UAR (mean recall) over "
    "negative/positive/surprise on the true positives, others excluded and counted; "
    "STRS = overall spotting F1 x UF1.")


class Recogniser:
    """The trained model on spotted intervals, converted as its ingestion settings say
    (mer_tfx/predict.py record_for / model_ingest)."""

    def __init__(self, model_path: str, videos: dict | None = None):
        import tensorflow as tf

        from mer_tfx.predict import model_ingest

        self.ingest = model_ingest(model_path)
        self.serve = tf.saved_model.load(model_path).signatures["serving_default"]
        self.videos = videos or {}
        self.probabilities = {}

    def label(self, item, interval):
        import dataclasses

        import tensorflow as tf

        from mer_tfx.errors import UserError
        from mer_tfx.predict import record_for

        video = self.videos[item.name]
        try:
            record = record_for(video.folder or None, interval.onset, interval.apex,
                                interval.offset, self.ingest, video=video.path or None)
        except UserError:
            return interval  # the frames could not be converted: no emotion
        out = self.serve(examples=tf.constant([record.serialized]))
        name = out["class_names"].numpy()[0].decode()
        self.probabilities[(item.name, interval.onset, interval.offset)] = round(
            float(out["probabilities"].numpy()[0].max()), 4)
        return dataclasses.replace(interval, label=name)

    def probability(self, name: str, interval) -> float | str:
        return self.probabilities.get((name, interval.onset, interval.offset), "")


def _timeline(path: str, item, truths, intervals, used, matched) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    frames = np.arange(len(item.signals["micro"])) + item.first
    fig, axes = plt.subplots(2, 1, figsize=(12, 4), sharex=True)
    for ax, scale in zip(axes, ("micro", "macro")):
        ax.plot(frames, item.signals[scale], lw=0.8, color="black", label=f"{scale} signal")
        ax.axhline(used[scale], color="purple", ls="--", lw=0.8, label="threshold")
        kind = "me" if scale == "micro" else "mae"
        for t in truths:
            if t.type == kind:
                ax.axvspan(t.onset, t.offset, color="green", alpha=0.25)
        for index, i in enumerate(intervals):
            if i.type == kind:
                ax.axvspan(i.onset, i.offset, ymin=0.85, ymax=1.0,
                           color="blue" if index in matched else "red", alpha=0.8)
        ax.set_ylabel(scale)
    axes[0].set_title(f"{item.name}: truth green; spotted blue = TP, red = FP", fontsize=9)
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=70)
    plt.close(fig)
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(path) as handle:  # local or gs://
        handle.write(buffer.getvalue())


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_evaluation(out_dir: str, results, videos: dict, with_model: bool) -> dict:
    """spotting.json, spotting_report.html and the timelines; returns the headline."""
    scored = {key: (truths, intervals) for key, (truths, intervals, _) in videos.items()}
    result = metric.evaluate(scored)
    pairs = result.pop("true_positives")
    out = {"metric": METRIC_STATEMENT, **result}
    if with_model:
        out["str"] = analysis.analyse(pairs)
        out["strs"] = analysis.strs(result, out["str"])
    fileio.write_text(fileio.join(out_dir, "spotting.json"),
                      json.dumps(out, indent=2, sort_keys=True) + "\n")
    timelines = fileio.join(out_dir, "timelines")
    fileio.makedirs(timelines)
    items = {r.item.name: r.item for r in results if r.item is not None}
    rows = []
    for entry in result["per_video"]:
        truths, intervals, used = videos[(entry["dataset"], entry["video"])]
        matched = {p for _, p in entry["matches"]}
        image = entry["video"].replace("/", "__") + ".png"
        _timeline(fileio.join(timelines, image), items[entry["video"]], truths, intervals,
                  used, matched)
        o = entry["overall"]
        rows.append(f"<tr><td>{html.escape(entry['video'])}</td><td>{entry['truths']}</td>"
                    f"<td>{entry['predictions']}</td><td>{o['tp']}</td><td>{o['fp']}</td>"
                    f"<td>{o['fn']}</td><td>{_f(o['f1'])}</td>"
                    f"<td><img src='timelines/{html.escape(image)}' width='600'></td></tr>")
    blocks = [("overall", result["overall"])] + list(result["per_dataset"].items())
    figures = "".join(
        f"<tr><td>{html.escape(name)}</td>" + "".join(
            f"<td>{b[k]['tp']}/{b[k]['fp']}/{b[k]['fn']}</td><td>{_f(b[k]['f1'])}</td>"
            for k in ("micro", "macro", "overall")) + "</tr>" for name, b in blocks)
    strs = ""
    if with_model:
        s = out["str"]
        strs = (f"<h2>Spot then recognise</h2><p>UF1 {_f(s['uf1'])}, UAR {_f(s['uar'])} on "
                f"{s['scored']} true positives ({s['excluded_others']} others excluded); "
                f"STRS {_f(out['strs'])}</p>")
    page = (
        "<html><head><meta charset='utf-8'><title>mer-tfx spotting</title></head><body>"
        f"<h1>Spotting: {result['videos']} videos</h1><p>{html.escape(METRIC_STATEMENT)}</p>"
        "<table border='1'><tr><th></th><th>micro TP/FP/FN</th><th>F1</th>"
        "<th>macro TP/FP/FN</th><th>F1</th><th>overall TP/FP/FN</th><th>F1</th></tr>"
        f"{figures}</table>{strs}<h2>Per video</h2><table border='1'><tr><th>video</th>"
        "<th>truths</th><th>spotted</th><th>TP</th><th>FP</th><th>FN</th><th>F1</th>"
        f"<th>timeline</th></tr>{''.join(rows)}</table></body></html>\n")
    fileio.write_text(fileio.join(out_dir, "spotting_report.html"), page)
    headline = {k: result["overall"][k]["f1"] for k in ("micro", "macro", "overall")}
    if with_model:
        headline.update(uf1=out["str"]["uf1"], uar=out["str"]["uar"], strs=out["strs"])
    return headline
