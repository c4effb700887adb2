"""Grad-CAM maps drawn over faces, as PNG bytes (matplotlib's object API, Agg canvas).

Gray face underneath, the map in the 'jet' colour map on top, transparent where the
map is low; plain arrays in, PNG bytes out.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110
MAX_STRIP_STEPS = 16


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def unit(image: np.ndarray) -> np.ndarray:
    low, high = float(np.min(image)), float(np.max(image))
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def _overlay(axes, face: np.ndarray, heat: np.ndarray, title: str) -> None:
    axes.imshow(unit(face), cmap="gray", vmin=0, vmax=1)
    axes.imshow(heat, cmap="jet", vmin=0, vmax=1, alpha=np.clip(heat, 0, 1) * 0.6)
    axes.set_title(title, fontsize=8)
    axes.axis("off")


def strip_png(faces: np.ndarray, heat: np.ndarray, apex_step: int, title: str) -> bytes:
    """[T, S, S] faces and [T, S, S] map in [0, 1] -> one row of overlays over time."""
    steps = list(range(faces.shape[0]))
    if len(steps) > MAX_STRIP_STEPS:
        steps = sorted(set(np.linspace(0, len(steps) - 1, MAX_STRIP_STEPS).round().astype(int))
                       | {apex_step})
    figure = Figure(figsize=(1.3 * len(steps), 1.8))
    for column, step in enumerate(steps, start=1):
        _overlay(figure.add_subplot(1, len(steps), column), faces[step], heat[step],
                 f"step {step}" + (" (apex)" if step == apex_step else ""))
    figure.suptitle(title, fontsize=9)
    return _png(figure)


def single_png(face: np.ndarray, heat: np.ndarray, title: str) -> bytes:
    """One face with its map, larger."""
    figure = Figure(figsize=(3.2, 3.4))
    _overlay(figure.add_subplot(1, 1, 1), face, heat, title)
    return _png(figure)


def classes_png(mean_face: np.ndarray, rows: list) -> bytes:
    """Per-class maps on the mean face: ``rows`` of (class, map of all clips, n, map of the
    correctly classified ones or None, n). Two rows of panels: all, correct."""
    figure = Figure(figsize=(2.0 * len(rows), 4.3))
    for column, (name, all_map, n_all, correct_map, n_correct) in enumerate(rows, start=1):
        _overlay(figure.add_subplot(2, len(rows), column), mean_face, all_map,
                 f"{name}\nall eval clips (n={n_all})")
        axes = figure.add_subplot(2, len(rows), len(rows) + column)
        if correct_map is None:
            axes.imshow(unit(mean_face), cmap="gray")
            axes.set_title(f"{name}\nnone correct", fontsize=8)
            axes.axis("off")
        else:
            _overlay(axes, mean_face, correct_map, f"{name}\ncorrectly classified (n={n_correct})")
    figure.suptitle("Grad-CAM of the true class, averaged per class, on the mean face",
                    fontsize=9)
    return _png(figure)
