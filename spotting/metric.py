"""MEGC's spotting metric, stated once: inclusive frame ranges, IoU >= 0.5, one-to-one.

Per video and per type (``me`` micro, ``mae`` macro) each ground-truth interval is
matched at most once and each prediction at most once; the matching maximises the
number of pairs (then their IoU), so the count never depends on list order. Counts are
pooled per dataset and overall; F1 comes from the pooled counts (never a mean of F1s),
and every video counts, also one without expressions (its predictions are FPs).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

IOU_THRESHOLD = 0.5
TYPES = ("me", "mae")  # MEGC's submission spelling: micro-, macro-expression
TYPE_NAMES = {"me": "micro", "mae": "macro"}


@dataclasses.dataclass(frozen=True)
class Interval:
    """Frames onset..offset of one video, both inclusive."""

    onset: int
    offset: int
    type: str  # "me" or "mae"
    label: str = ""  # emotion: the truth's, or the model's prediction
    apex: int | None = None
    score: float = 0.0

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"interval type {self.type!r} is not one of {TYPES}")
        if self.offset < self.onset:
            raise ValueError(f"interval {self.onset}..{self.offset} ends before it starts")


def iou(a: Interval, b: Interval) -> float:
    """Intersection over union of two inclusive frame ranges (1..3 and 3..5 share a frame)."""
    inter = min(a.offset, b.offset) - max(a.onset, b.onset) + 1
    if inter <= 0:
        return 0.0
    union = (a.offset - a.onset + 1) + (b.offset - b.onset + 1) - inter
    return inter / union


def match(truths, predictions, threshold: float = IOU_THRESHOLD) -> list[tuple[int, int]]:
    """(truth index, prediction index) pairs of equal type with IoU >= threshold.

    A maximum one-to-one matching (Hungarian, on "is a pair" first and IoU second): a
    prediction covering two truths at IoU 0.5 each is one TP and one FN.
    """
    if not truths or not predictions:
        return []
    ious = np.array([[iou(t, p) if t.type == p.type else 0.0 for p in predictions]
                     for t in truths])
    valid = ious >= threshold
    rows, cols = linear_sum_assignment(-(valid * (1.0 + ious)))
    return sorted((int(r), int(c)) for r, c in zip(rows, cols) if valid[r, c])


@dataclasses.dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def as_dict(self) -> dict:
        """Counts with precision, recall and F1 (None where nothing was there to score)."""
        ratio = lambda n, d: n / d if d else None  # noqa: E731
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": ratio(self.tp, self.tp + self.fp),
                "recall": ratio(self.tp, self.tp + self.fn),
                "f1": ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)}


def video_counts(truths, predictions, threshold: float = IOU_THRESHOLD):
    """({type: Counts}, matches) of one video."""
    pairs = match(truths, predictions, threshold)
    counts = {}
    for kind in TYPES:
        tp = sum(1 for t, _ in pairs if truths[t].type == kind)
        counts[kind] = Counts(tp, sum(p.type == kind for p in predictions) - tp,
                              sum(t.type == kind for t in truths) - tp)
    return counts, pairs


def _block(counts: dict) -> dict:
    """{micro, macro, overall} figures of per-type counts."""
    total = counts["me"].add(counts["mae"])
    return {TYPE_NAMES["me"]: counts["me"].as_dict(), TYPE_NAMES["mae"]: counts["mae"].as_dict(),
            "overall": total.as_dict()}


def evaluate(videos: dict, threshold: float = IOU_THRESHOLD) -> dict:
    """``videos``: {(dataset, video): (truth intervals, predicted intervals)}.

    Every video given counts. Returns per-video, per-dataset and overall figures and the
    true-positive pairs (truth, prediction), which the STR analysis scores.
    """
    per_video, pooled, overall, pairs_out = [], {}, {k: Counts() for k in TYPES}, []
    for (dataset, name), (truths, predictions) in sorted(videos.items()):
        counts, pairs = video_counts(list(truths), list(predictions), threshold)
        per_video.append({"dataset": dataset, "video": name, "truths": len(truths),
                          "predictions": len(predictions), **_block(counts),
                          "matches": [[t, p] for t, p in pairs]})
        ds = pooled.setdefault(dataset, {k: Counts() for k in TYPES})
        for kind in TYPES:
            ds[kind] = ds[kind].add(counts[kind])
            overall[kind] = overall[kind].add(counts[kind])
        pairs_out.extend((dataset, name, truths[t], predictions[p]) for t, p in pairs)
    return {"iou_threshold": threshold, "videos": len(per_video),
            "overall": _block(overall),
            "per_dataset": {name: _block(c) for name, c in sorted(pooled.items())},
            "per_video": per_video, "true_positives": pairs_out}
