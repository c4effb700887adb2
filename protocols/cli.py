"""``mer-tfx cv`` and ``mer-tfx cv report``: their flags and handlers (the protocols
themselves: cross_validation.py locally, kubeflow_cv.py on Kubeflow Pipelines)."""
from __future__ import annotations

import argparse
import json
import os

from mer_tfx.errors import UserError

_KUBEFLOW_HELP = """\
On Kubeflow Pipelines (--kubeflow DIR): one package per fold (the fold's held-out subjects
baked in; pipeline name <name>-fold-KK, so every fold's runs have their own folder under
the pipeline root) into DIR/fold-KK.yaml, one run per fold through the kfp client (as
mer-tfx kfp run; --host ...), and DIR/kubeflow_cv.json, the manifest of folds, packages
and run ids. The folds come from the annotated subjects when the sources are readable
from this machine (rows that pass the annotation checks, classes kept), otherwise from
--subjects. Every Kubeflow setting (--image, --pipeline-root, --gpus, ...) is as in
mer-tfx kfp compile. When the runs are done, `mer-tfx cv report --manifest
DIR/kubeflow_cv.json` pools them into cross_validation.json and cv_report.html.

examples:
  mer-tfx cv --kubeflow kfcv --protocol loso --image REGISTRY/mer-tfx:1.0 \\
      --pipeline-root gs://BUCKET/mer/pipeline_root --dataset casme2 \\
      --root gs://BUCKET/CASME2_RAW_selected \\
      --annotations gs://BUCKET/CASME2-coding-20140508.xlsx --host https://KFP_HOST/pipeline
  mer-tfx cv report --manifest kfcv/kubeflow_cv.json --output kfcv
"""


def add_cv_parser(subparsers):
    from mer_tfx.cli import BEAM_HELP, add_beam_arg, add_preset, add_print_settings, add_settings
    from mer_tfx.kfp.cli import add_cluster_options

    parser = subparsers.add_parser(
        "cv", help="the field's protocols (LOSO, K subject groups, leave one dataset out), "
                   "metrics pooled over folds; locally or on Kubeflow Pipelines",
        description="One local pipeline run per fold, all sharing OUTPUT/pipeline_root, so "
                    "the frames are converted once; pooled figures from the summed TFMA "
                    "confusion matrices (overall and per dataset) in "
                    "OUTPUT/cross_validation.json and OUTPUT/cv_report.html. Folds share "
                    "OUTPUT/metadata.db, or with --parallel-folds N > 1 each has its own "
                    "(OUTPUT/fold-KK/metadata.db, with its log OUTPUT/fold-KK/fold.log). "
                    "Re-running resumes from the folds done. " + BEAM_HELP,
        epilog=_KUBEFLOW_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    # every setting, the Kubeflow ones for --kubeflow; --output is checked by the handler
    # (argparse would demand it of `mer-tfx cv report` too)
    add_settings(parser)
    add_preset(parser)
    add_beam_arg(parser)
    add_print_settings(parser)
    parser.add_argument("--protocol", choices=("loso", "kfold", "lodo"), default="loso",
                        help="loso: leave one subject out (default); kfold: --folds K subject "
                             "groups; lodo: leave one dataset out (several --source)")
    parser.add_argument("--folds", type=int, default=0, help="K for --protocol kfold")
    parser.add_argument("--parallel-folds", type=int, default=1, metavar="N",
                        help="run N folds at once, each in a process of its own (default 1: "
                             "one after another); the figures equal the sequential run's")
    kubeflow = parser.add_argument_group("Kubeflow Pipelines (--kubeflow DIR)")
    kubeflow.add_argument("--kubeflow", metavar="DIR",
                          help="compile one package per fold into DIR and submit one run per "
                               "fold to --host instead of running the folds here")
    kubeflow.add_argument("--subjects", metavar="S1,S2,...",
                          help="the subjects to build the folds from, when the sources are "
                               "not readable from this machine (several sources: "
                               "DATASET/SUBJECT); default: the annotated subjects")
    kubeflow.add_argument("--compile-only", action="store_true",
                          help="write the packages and the manifest, submit nothing")
    kubeflow.add_argument("--local", action="store_true",
                          help="packages for `mer-tfx kfp replay` on this machine (local data "
                               "and pipeline root, as mer-tfx kfp compile --local); implies "
                               "--compile-only")
    kubeflow.add_argument("--upload", action="store_true",
                          help="upload each fold's package as a version of its pipeline "
                               "(<name>-fold-KK) before its run (default: the package travels "
                               "with the run, no pipeline is created)")
    add_cluster_options(kubeflow, host_required=False)
    parser.set_defaults(handler=_cv)

    commands = parser.add_subparsers(dest="cv_command", metavar="report")
    report = commands.add_parser(
        "report", help="pool the folds' runs of mer-tfx cv --kubeflow",
        description="Pools the Evaluator outputs of the folds' runs, read from the Kubeflow "
                    "layout of the pipeline root (PIPELINE_ROOT/<name>-fold-KK/<run id>/...: a "
                    "cluster's bucket, or a local folder of `mer-tfx kfp replay` runs), into "
                    "the cross_validation.json and cv_report.html of a local CV. Each fold's "
                    "run is the one the manifest records, or else the newest evaluated run "
                    "of the fold's pipeline; the subjects its Evaluator evaluated must be "
                    "the fold's held-out subjects.")
    report.add_argument("--manifest", required=True,
                        help="DIR/kubeflow_cv.json written by mer-tfx cv --kubeflow DIR")
    report.add_argument("--pipeline-root",
                        help="where the runs wrote their outputs (default: the manifest's)")
    report.add_argument("--output", dest="report_output", metavar="OUT",
                        help="folder for cross_validation.json and cv_report.html (default: "
                             "the manifest's folder)")
    report.set_defaults(handler=_cv_report)


def _kubeflow_flags_given(args) -> list:
    from mer_tfx.settings_flags import DEST

    prefix = DEST + "kubeflow."
    given = sorted(k[len(prefix):] for k in vars(args) if k.startswith(prefix))
    given += [f for f in ("subjects", "compile_only", "local", "upload", "host", "namespace",
                          "service_account") if getattr(args, f)]
    return ["--" + name.replace("_", "-") for name in given]


def _protocol(args) -> str:
    return "kfold" if args.folds and args.protocol == "loso" else args.protocol


def _cv(args, beam_args):
    from mer_tfx.cli import settings_from_args
    from mer_tfx.settings_flags import DEST

    if args.kubeflow:
        return _cv_kubeflow(args, beam_args)
    stray = _kubeflow_flags_given(args)
    if stray:
        raise UserError(f"{', '.join(stray)}: {'these are' if len(stray) > 1 else 'this is'} "
                        f"for folds on Kubeflow Pipelines: add --kubeflow DIR")
    if DEST + "output" not in vars(args):
        raise UserError("give --output FOLDER (the CV's pipeline root, metadata and reports "
                        "go there)")
    from mer_tfx.protocols.cross_validation import SUMMARY_JSON, run_cross_validation

    settings = settings_from_args(args, beam_args, needs_data=True)
    if args.print_settings:
        print(json.dumps(settings.to_dict(), indent=2))
        return 0
    summary = run_cross_validation(settings, _protocol(args), args.folds, args.parallel_folds)
    print(json.dumps({"protocol": summary["protocol"], "overall": summary["overall"],
                      "per_dataset": summary["per_dataset"],
                      "subjects_without_clips": summary.get("subjects_without_clips", {}),
                      "summary": f"{settings.output}/{SUMMARY_JSON}"}, indent=2))
    return 0


def _cv_kubeflow(args, beam_args):
    from mer_tfx.cli import settings_from_args
    from mer_tfx.kfp.cli import compile_settings, package_settings
    from mer_tfx.protocols.kubeflow_cv import MANIFEST, compile_folds, submit_folds

    if args.parallel_folds != 1:
        raise UserError("--parallel-folds is for folds run here; on Kubeflow every fold is "
                        "a run of its own and the cluster runs them side by side")
    submit = not (args.compile_only or args.local)
    if submit and not args.host:
        raise UserError("give --host https://KFP_HOST/pipeline to submit the folds' runs, or "
                        "--compile-only to only write the packages and the manifest")
    settings_from_args(args, needs_data=True)  # says which flags name the data, if none do
    settings = package_settings(compile_settings(args, beam_args), args.local)
    if args.print_settings:
        print(json.dumps(settings.to_dict(), indent=2))
        return 0
    subjects = [s.strip() for s in (args.subjects or "").split(",") if s.strip()]
    manifest = compile_folds(settings, _protocol(args), args.folds, args.kubeflow,
                             subjects=subjects, local=args.local)
    path = os.path.join(os.path.abspath(args.kubeflow), MANIFEST)
    if submit:
        manifest = submit_folds(path, args.host, args.experiment, namespace=args.namespace,
                                token=args.token, service_account=args.service_account,
                                upload=args.upload)
    print(json.dumps({"protocol": manifest["protocol"], "manifest": path,
                      "pipeline_root": manifest["pipeline_root"],
                      "folds": [{k: f[k] for k in ("fold", "eval_subjects", "pipeline_name",
                                                   "package", "run_id")}
                                for f in manifest["folds"]],
                      "next": f"mer-tfx cv report --manifest {path}"}, indent=2))
    return 0


def _cv_report(args, _beam_args):
    from mer_tfx.protocols.kubeflow_cv import pool_kubeflow_cv
    from mer_tfx.protocols.pooling import SUMMARY_JSON

    summary = pool_kubeflow_cv(args.manifest, args.pipeline_root, args.report_output)
    output = summary["settings"]["output"]
    print(json.dumps({"protocol": summary["protocol"], "overall": summary["overall"],
                      "per_dataset": summary["per_dataset"],
                      "runs": {f["fold"]: f["run_id"] for f in summary["folds"]},
                      "summary": os.path.join(output, SUMMARY_JSON)}, indent=2))
    return 0
