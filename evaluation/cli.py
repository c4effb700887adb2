"""``mer-tfx report``: its flags and its handler (the report itself is report.py)."""
from __future__ import annotations

import json

from mer_tfx.errors import UserError
from mer_tfx.pipeline.configs import PIPELINE_NAME


def add_report_parser(subparsers):
    from mer_tfx.cli import add_run_choice

    parser = subparsers.add_parser(
        "report", help="HTML/PNG/JSON report of one pipeline run's evaluation (TFMA; "
                       "default the newest run)")
    parser.add_argument("--pipeline-root", required=True,
                        help="local <output>/pipeline_root, or a Kubeflow pipeline root "
                             "(gs://...), where runs live under <pipeline name>/<run id>/")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME,
                        help="pipeline name (ML Metadata; a Kubeflow root's top folder)")
    add_run_choice(parser)
    parser.add_argument("--out", help="report folder (required unless --list-runs)")
    parser.add_argument("--list-runs", action="store_true",
                        help="list the evaluated runs of the pipeline root (id, start, eval "
                             "subjects, model, blessed, UAR/UF1) and exit")
    parser.add_argument("--explain", action="store_true",
                        help="add per-class Grad-CAM maps (mean over each class's eval clips, "
                             "all and correctly classified) on the mean face: "
                             "explanations.png and a report section")
    parser.set_defaults(handler=_report)


def _report(args, _beam_args):
    from mer_tfx.evaluation.report import run_table, write_report

    if args.list_runs:
        rows = run_table(args.pipeline_root, args.pipeline_name, args.metadata)
        print(f"{'run id':<28} {'started':<20} {'model':<18} {'blessed':<8} {'UAR':>6} "
              f"{'UF1':>6}  eval subjects")
        for row in rows:
            score = lambda v: "   n/a" if v is None else f"{v:6.3f}"  # noqa: E731
            print(f"{row['run_id']:<28} {row['started'] or '':<20} {row['model'] or '?':<18} "
                  f"{str(row['blessed']):<8} {score(row['uar'])} {score(row['uf1'])}  "
                  f"{', '.join(row['eval_subjects'])}")
        return 0
    if not args.out:
        raise UserError("--out FOLDER is required (unless --list-runs)")
    result = write_report(args.pipeline_root, args.out, args.pipeline_name, args.explain,
                          run_id=args.run_id, metadata_path=args.metadata)
    print(json.dumps({"report": args.out, "run": result["run"]["id"],
                      "eval_subjects": result["run"]["eval_subjects"],
                      "blessed": result.get("blessed"), "overall": result.get("overall")},
                     indent=2))
    return 0
