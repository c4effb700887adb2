"""The cross-validation report: cv_confusion_matrix.png, cv_per_class.png, cv_report.html."""
from __future__ import annotations

import os

from mer_tfx.evaluation import plots
from mer_tfx.evaluation.html import render_cv_html


def write_cv_report(summary: dict, pooled: dict, out_dir: str) -> dict:
    """Writes the pooled figures and the HTML page into ``out_dir``; {name: path}."""
    images = plots.summary_figures(pooled["confusion_matrix"], pooled["per_class"],
                                   pooled["overall"], prefix="cv_")
    files = {}
    for name, data in images.items():
        files[name] = os.path.join(out_dir, name)
        with open(files[name], "wb") as handle:
            handle.write(data)
    files["cv_report.html"] = os.path.join(out_dir, "cv_report.html")
    with open(files["cv_report.html"], "w", encoding="utf-8") as handle:
        handle.write(render_cv_html(summary, images))
    return files
