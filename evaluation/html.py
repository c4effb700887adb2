"""The report page: a Jinja2 template (templates/report.html) filled with the report dict.

Autoescaped, self-contained (figures embedded as base64 PNG), no scripts.
"""
from __future__ import annotations

import base64

import jinja2

# Sections by slice feature, in this order first; further single-feature slices after.
HTML_SLICE_ORDER = ("subject", "label", "dataset")
FIGURE_TITLES = {"confusion_matrix.png": "confusion matrix", "per_class.png": "per-class scores",
                 "explanations.png": "where the model looks: Grad-CAM per class"}

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mer_tfx.evaluation", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)


def cell(value, digits: int = 3) -> str:
    """A table cell: em dash for missing, integers without decimals, floats to ``digits``."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{int(value)}" if value.is_integer() and digits == 0 else f"{value:.{digits}f}"
    return str(value)


_ENVIRONMENT.filters["cell"] = cell


def _base64(images: dict) -> dict:
    return {name: base64.b64encode(data).decode("ascii") for name, data in images.items()}


def render_cv_html(summary: dict, images: dict) -> str:
    """The cross-validation page: pooled figures, MEGC-style table, folds, model selection."""
    return _ENVIRONMENT.get_template("cv_report.html").render(
        summary=summary, images=_base64(images))


def render_html(report: dict, images: dict) -> str:
    """The report page; ``images`` maps file name -> PNG bytes (the two summary figures)."""
    order = [f for f in HTML_SLICE_ORDER if f in report["slices"]]
    order += [f for f in report["slices"] if f not in order]
    return _ENVIRONMENT.get_template("report.html").render(
        report=report, slice_order=order,
        figures=[(name, FIGURE_TITLES[name]) for name in FIGURE_TITLES if name in images],
        images=_base64(images))
