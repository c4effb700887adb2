"""The outcome of a run's release gates, as console lines for ``mer-tfx run``.

A model that fails a gate is not an error: the run still has its evaluation, its
report and its trained model; the console says which gate failed and what to do.
"""
from __future__ import annotations

import sys

from .layout import find_run
from .results import build_report


def gate_lines(overall: dict, gates: list, blessed) -> list:
    count = overall.get("example_count")
    lines = [f"Release gates (overall slice of {count:.0f} eval clips; per-slice figures are "
             f"reported, not gated):" if count is not None else "Release gates:"]
    for gate in gates:
        value = "n/a" if gate["value"] is None else f"{gate['value']:.3f}"
        lines.append(f"  {gate['metric']} >= {gate['bar']:.3f} on {gate['slice']}: {value}  "
                     f"{'pass' if gate['passed'] else 'FAIL'}")
    lines.append(f"  UAR {overall.get('uar', float('nan')):.3f}, UF1 "
                 f"{overall.get('uf1', float('nan')):.3f}")
    if blessed:
        lines.append("Model BLESSED and pushed.")
    else:
        lines.append("Model NOT blessed: nothing was pushed. `mer-tfx report` still reports it; "
                     "`mer-tfx predict --pipeline-root <output>/pipeline_root` predicts with the "
                     "trained, unpushed model.")
    return lines


def print_gates(pipeline_root: str, pipeline_name: str, stream=sys.stderr,
                metadata_path: str | None = None) -> dict:
    """Prints the gates of the newest pipeline run (the one just run, cached or not);
    returns {run_id, blessed, overall, gates}."""
    run = find_run(pipeline_root, pipeline_name, metadata_path=metadata_path)
    report = build_report(run.evaluation)
    blessed = run.blessed
    if blessed is None:
        blessed = report["validation"]["ok"]
    print(f"Run {run.run} (eval subjects: {', '.join(run.eval_subjects or ()) or 'n/a'})",
          file=stream)
    print("\n".join(gate_lines(report["overall"], report["gates"], blessed)), file=stream)
    return {"run_id": run.run, "blessed": blessed, "overall": report["overall"],
            "gates": report["gates"]}
