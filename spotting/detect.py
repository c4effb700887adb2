"""From a video's signals to intervals, and the leave-one-subject-out threshold fit.

Threshold (per video and scale, as MDMD and LBP-chi2 do): T = mean(C) + p (max(C) -
mean(C)), never below the median plus ``noise_z`` robust deviations, so a video
without expressions does not have to yield its noise maximum. Around each peak above
T, the frames whose contrast stays above ``extent`` x the peak form the interval;
an interval of at most 0.5 s is a micro-expression, a longer one a macro-expression.
Macro-scale intervals are found first; micro peaks are sought outside them, with a
threshold computed there (a macro-expression would otherwise set every micro T).
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from mer_tfx.spotting.metric import Interval, evaluate

MICRO_MAX_SECONDS = 0.5
P_GRID = tuple(round(0.05 * i, 2) for i in range(1, 17))  # 0.05 .. 0.8


@dataclasses.dataclass(frozen=True)
class Thresholds:
    p_micro: float = 0.3
    p_macro: float = 0.3
    noise_z: float = 6.0
    extent: float = 0.3

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def threshold(c: np.ndarray, p: float, noise_z: float, keep=None) -> float:
    values = c if keep is None or keep.sum() < 8 else c[keep]
    mean = float(values.mean())
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    return max(mean + p * (float(values.max()) - mean), median + noise_z * spread, 1e-9)


def peaks(c: np.ndarray, level: float, extent: float, allowed=None) -> list[tuple]:
    """(start, end, peak index) runs around the peaks above ``level``, strongest first."""
    claimed = np.zeros(len(c), bool)
    out = []
    for i in np.argsort(-c, kind="stable"):
        if c[i] < level:
            break
        if claimed[i] or (allowed is not None and not allowed[i]):
            continue
        floor = extent * c[i]
        start = end = int(i)
        while start > 0 and not claimed[start - 1] and c[start - 1] >= floor:
            start -= 1
        while end < len(c) - 1 and not claimed[end + 1] and c[end + 1] >= floor:
            end += 1
        claimed[start:end + 1] = True
        out.append((start, end, int(i)))
    return out


def detect(sig: dict, fps: float, first: int, settings: Thresholds, macro_k: int):
    """Intervals (absolute frame numbers) and the two thresholds used."""
    n = len(sig["micro"])
    t_macro = threshold(sig["macro"], settings.p_macro, settings.noise_z)
    found = []
    outside = np.ones(n, bool)
    for start, end, peak in peaks(sig["macro"], t_macro, settings.extent):
        found.append((start, end, peak, sig["macro"][peak] / t_macro))
        outside[max(0, start - macro_k):end + macro_k + 1] = False
    t_micro = threshold(sig["micro"], settings.p_micro, settings.noise_z, outside)
    for start, end, peak in peaks(sig["micro"], t_micro, settings.extent, outside):
        if outside[start:end + 1].all():
            found.append((start, end, peak, sig["micro"][peak] / t_micro))
    intervals = []
    for start, end, peak, score in sorted(found):
        kind = "me" if (end - start + 1) / fps <= MICRO_MAX_SECONDS else "mae"
        intervals.append(Interval(first + start, first + end, kind, apex=first + peak,
                                  score=round(float(score), 4)))
    return intervals, {"micro": t_micro, "macro": t_macro}


@dataclasses.dataclass
class Item:
    """One video's signals with what scoring it needs (subject for the LOSO fit)."""

    dataset: str
    name: str
    subject: str
    fps: float
    first: int
    macro_k: int
    signals: dict
    truths: tuple
    annotated: bool


def score(items: list, settings: Thresholds) -> float:
    videos = {(i.dataset, i.name): (list(i.truths), detect(i.signals, i.fps, i.first,
                                                             settings, i.macro_k)[0])
              for i in items}
    return evaluate(videos)["overall"]["overall"]["f1"] or 0.0


def choose_thresholds(items: list, base: Thresholds = Thresholds()) -> Thresholds:
    """The (p_micro, p_macro) of the grid with the best overall F1 on ``items`` (ties:
    the grid's first, i.e. the lower p); ``base`` when nothing is annotated."""
    if not any(i.annotated for i in items):
        return base
    best, chosen = -1.0, base
    for p_micro, p_macro in itertools.product(P_GRID, P_GRID):
        candidate = dataclasses.replace(base, p_micro=p_micro, p_macro=p_macro)
        value = score(items, candidate)
        if value > best + 1e-12:
            best, chosen = value, candidate
    return chosen


def loso_thresholds(items: list, base: Thresholds = Thresholds(),
                    chooser=choose_thresholds) -> dict:
    """subject -> Thresholds chosen on the annotated videos of every *other* subject
    (leave one subject out): a video's own truth never sets its threshold."""
    out = {}
    for subject in sorted({i.subject for i in items}):
        training = [i for i in items if i.subject != subject and i.annotated]
        out[subject] = chooser(training, base) if training else base
    return out
