"""Report figures: confusion matrix heat maps and per-class bars, as PNG bytes.

Plain data in, PNG bytes out: the numbers come from TFMA (see report.py); the
only derivation here is the row normalisation of the confusion matrix (recall).
Uses matplotlib's object API on an Agg canvas, so no pyplot global state and no
display is needed, and the caller's matplotlib backend is left alone.
"""
from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def row_normalised(counts) -> np.ndarray:
    """Each row divided by its total (recall per actual class); NaN for an empty row."""
    counts = np.asarray(counts, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals > 0, counts / totals, np.nan)


def _heat_map(axes, values, classes, text, title, vmax):
    masked = np.ma.masked_invalid(values)
    image = axes.imshow(masked, cmap="Blues", vmin=0, vmax=vmax if vmax > 0 else 1)
    size = len(classes)
    axes.set_xticks(range(size))
    axes.set_yticks(range(size))
    axes.set_xticklabels(classes, rotation=45 if size > 3 else 0,
                         ha="right" if size > 3 else "center")
    axes.set_yticklabels(classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title(title)
    font_size = max(6, 11 - size // 2)
    for i in range(size):
        for j in range(size):
            value = values[i, j]
            dark = not np.isnan(value) and vmax > 0 and value > 0.55 * vmax
            axes.text(j, i, text[i][j], ha="center", va="center", fontsize=font_size,
                      color="white" if dark else "black")
    return image


def confusion_matrix_png(classes, counts, uf1=None, uar=None, example_count=None) -> bytes:
    """Counts and row-normalised (recall) heat maps side by side."""
    classes = list(classes)
    counts = np.asarray(counts, dtype=float)
    normalised = row_normalised(counts)
    side = max(3.6, 0.75 * len(classes) + 2.2)
    figure = Figure(figsize=(2 * side + 1.2, side + 0.6))
    left, right = figure.subplots(1, 2)
    count_text = [[f"{int(round(v))}" if float(v).is_integer() else f"{v:.1f}" for v in row]
                  for row in counts]
    image = _heat_map(left, counts, classes, count_text, "counts", counts.max(initial=0))
    figure.colorbar(image, ax=left, fraction=0.046, pad=0.04)
    recall_text = [["—" if np.isnan(v) else f"{100 * v:.0f}%" for v in row]
                   for row in normalised]
    image = _heat_map(right, normalised, classes, recall_text,
                      "row-normalised (recall per class)", 1.0)
    figure.colorbar(image, ax=right, fraction=0.046, pad=0.04)
    title = f"Confusion matrix — UF1 {_fmt(uf1)} · UAR {_fmt(uar)}"
    if example_count is not None:
        title += f" · n={int(example_count)}"
    figure.suptitle(title)
    figure.tight_layout()
    return _png(figure)


def per_class_png(per_class, uar=None, uf1=None) -> bytes:
    """Grouped precision/recall/F1 bars per class, support in the tick labels."""
    names = [row["class"] for row in per_class]
    width = 0.26
    positions = np.arange(len(names))
    figure = Figure(figsize=(max(5.5, 1.3 * len(names) + 2.5), 4.2))
    axes = figure.subplots()
    colours = {"precision": "#4c72b0", "recall": "#dd8452", "f1": "#55a868"}
    for offset, kind in zip((-width, 0.0, width), ("precision", "recall", "f1")):
        heights = [np.nan if row[kind] is None else row[kind] for row in per_class]
        bars = axes.bar(positions + offset, np.nan_to_num(heights), width,
                        label=kind if kind != "f1" else "F1", color=colours[kind])
        for bar, height in zip(bars, heights):
            axes.annotate(_fmt(height, 2), (bar.get_x() + bar.get_width() / 2,
                                            0 if np.isnan(height) else height),
                          xytext=(0, 2), textcoords="offset points", ha="center",
                          va="bottom", fontsize=7)
    for value, label, style in ((uar, "UAR", "--"), (uf1, "UF1", ":")):
        if value is not None and not math.isnan(value):
            axes.axhline(value, color="black", linestyle=style, linewidth=1.2,
                         label=f"{label} {_fmt(value)}")
    support = ["n/a" if row["support"] is None else f"{int(round(row['support']))}"
               for row in per_class]
    axes.set_xticks(positions)
    rotate = len(names) > 5
    axes.set_xticklabels([f"{n}\n(n={s})" for n, s in zip(names, support)],
                         rotation=30 if rotate else 0, ha="right" if rotate else "center")
    axes.set_ylim(0, 1.12)
    axes.set_ylabel("score")
    axes.set_title("Per-class precision / recall / F1 (argmax)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return _png(figure)


def summary_figures(confusion_matrix: dict, per_class: list, overall: dict,
                    prefix: str = "") -> dict:
    """{file name: PNG bytes}: the confusion matrix and per-class bars of one result.

    The one figure writer of the run report and the cross-validation summary
    (``prefix`` "cv_" gives cv_confusion_matrix.png, cv_per_class.png).
    """
    return {
        f"{prefix}confusion_matrix.png": confusion_matrix_png(
            confusion_matrix["classes"], confusion_matrix["counts"], uf1=overall.get("uf1"),
            uar=overall.get("uar"), example_count=overall.get("example_count")),
        f"{prefix}per_class.png": per_class_png(per_class, uar=overall.get("uar"),
                                                uf1=overall.get("uf1")),
    }
