"""Upload a compiled package to Kubeflow Pipelines and schedule or start runs.

Thin, explicit wrappers over the kfp 2.x client (``kfp.Client``, REST API v2beta1):

* ``upload``: the package becomes a new pipeline, or a new version of the pipeline
  with that name when it exists already (so schedules keep one pipeline with history);
* ``schedule``: upload + get-or-create the experiment + a recurring run
  (cron with seconds, max_concurrency 1, no_catchup: a late cluster runs once, not
  once per missed slot);
* ``run_once``: upload + a single run of the uploaded version (or, with
  ``upload=False``, the package submitted inline).

Server errors surface as ``mer_tfx.errors.UserError`` carrying the HTTP status, the
reason and the server's message, which the CLI prints as one line.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import re
import sys
import warnings

import mer_tfx  # noqa: F401
from mer_tfx.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "mer-tfx"
DEFAULT_PIPELINE_NAME = "mer-tfx"

_FIELDS = (  # name, lowest, highest, aliases
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                      "NOV", "DEC")),
    ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_EVERY = re.compile(r"^@every\s+([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_CRON_HELP = ("a cron expression has 5 fields, 'minute hour day-of-month month day-of-week' "
              "(e.g. '0 3 * * *' = 03:00 every day, '0 3 * * MON' = Mondays 03:00), or 6 "
              "fields with seconds first as KFP stores it ('0 0 3 * * *'), or a descriptor "
              "such as @daily or '@every 6h'. Times are in the KFP controller's time zone "
              "(usually UTC)")


# --- cron --------------------------------------------------------------------------------

def _check_cron_field(text: str, index: int) -> None:
    name, low, high, aliases = _FIELDS[index]

    def value(token: str) -> int:
        if aliases and token.upper() in aliases:
            return aliases.index(token.upper()) + low
        if not token.isdigit():
            raise UserError(f"cron {name} field {text!r}: {token!r} is not a number"
                            + (f" or one of {', '.join(aliases)}" if aliases else "")
                            + f"; {_CRON_HELP}")
        number = int(token)
        if not low <= number <= high:
            raise UserError(f"cron {name} field {text!r}: {number} is outside {low}-{high}; "
                            f"{_CRON_HELP}")
        return number

    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise UserError(f"cron {name} field {text!r}: step {step!r} must be a positive "
                            f"number; {_CRON_HELP}")
        if base in ("*", "?"):
            if base == "?" and index not in (3, 5):
                raise UserError(f"cron {name} field {text!r}: '?' is only allowed for day of "
                                f"month and day of week; {_CRON_HELP}")
            continue
        first, dash, last = base.partition("-")
        start = value(first)
        if dash and value(last) < start:
            raise UserError(f"cron {name} field {text!r}: range {base} runs backwards; "
                            f"{_CRON_HELP}")


def normalize_cron(expression: str) -> str:
    """A user cron -> what KFP's scheduler (robfig/cron, seconds first) expects.

    5 fields get '0 ' prepended (run at second 0); 6 fields are taken as they are;
    @daily-style descriptors and '@every <duration>' pass through. Anything else is a
    UserError explaining the format: a 5-field expression passed to KFP unchanged would
    silently shift every field by one (minute read as second, hour as minute, ...).
    """
    text = " ".join(str(expression or "").split())
    if not text:
        raise UserError(f"empty cron expression; {_CRON_HELP}")
    if text.startswith("@"):
        if text.lower() in _DESCRIPTORS or _EVERY.match(text):
            return text
        raise UserError(f"cron descriptor {text!r} is not one of {', '.join(_DESCRIPTORS)} or "
                        f"'@every <duration>' (e.g. '@every 6h'); {_CRON_HELP}")
    fields = text.split(" ")
    if len(fields) == 5:
        fields = ["0"] + fields
    elif len(fields) != 6:
        raise UserError(f"cron expression {text!r} has {len(fields)} fields; {_CRON_HELP}")
    for index, field in enumerate(fields):
        _check_cron_field(field, index)
    return " ".join(fields)


# --- errors ------------------------------------------------------------------------------

def _server_message(body) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    text = str(body).strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(data, dict):
        message = data.get("message") or data.get("error") or ""
        error = data.get("error")
        if error and message and error != message and error not in message:
            message = f"{message} ({error})"
        return str(message or text)[:2000]
    return text[:500]


@contextlib.contextmanager
def server_errors(action: str, host: str | None = None):
    """ApiException / connection errors / kfp client ValueErrors -> UserError."""
    import kfp_server_api
    import urllib3

    try:
        yield
    except kfp_server_api.ApiException as error:
        message = _server_message(error.body)
        status = f"HTTP {error.status}" if error.status else "no HTTP response"
        reason = f" {error.reason}" if error.reason else ""
        raise UserError(f"{action} failed: {status}{reason}"
                        + (f": {message}" if message else "")) from None
    except urllib3.exceptions.HTTPError as error:
        raise UserError(f"{action} failed: cannot reach the KFP API at {host}: {error}. Check "
                        f"--host (e.g. http://localhost:8080 after `kubectl port-forward "
                        f"-n kubeflow svc/ml-pipeline-ui 8080:80`)") from None
    except TimeoutError as error:
        raise UserError(f"{action} failed: {error} (is {host} a KFP API endpoint?)") from None
    except ValueError as error:
        raise UserError(f"{action} failed: {error}") from None


@contextlib.contextmanager
def _quiet_client():
    """kfp prints 'Experiment details: <link>' lines; keep stdout for our JSON."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with contextlib.redirect_stdout(sys.stderr):
            yield


# --- client ------------------------------------------------------------------------------

def connect(host: str, namespace: str | None = None, token: str | None = None, **kwargs):
    """kfp.Client for ``host`` (the KFP API/UI base URL, e.g. https://HOST/pipeline).

    token: a bearer token (kfp's existing_token), e.g. a service-account token for
    multi-user Kubeflow (`kubectl create token SA -n NS --audience
    pipelines.kubeflow.org`). Extra kwargs go to kfp.Client (cookies=, ssl_ca_cert=,
    verify_ssl=, ...).
    """
    import kfp

    if not host:
        raise UserError("no KFP host: pass --host URL (the Kubeflow Pipelines endpoint)")
    if not re.match(r"^https?://", host):
        raise UserError(f"KFP host {host!r} needs its scheme: http://... or https://...")
    options = dict(kwargs)
    if token:
        options["existing_token"] = token
    if namespace:
        options["namespace"] = namespace
    with server_errors("connecting to Kubeflow Pipelines", host), _quiet_client():
        return kfp.Client(host=host, **options)


def _display_name_filter(name: str) -> str:
    from kfp.client import client as kfp_client

    return json.dumps({"predicates": [{
        "operation": kfp_client._FILTER_OPERATIONS["EQUALS"],  # noqa: SLF001  (what kfp sends)
        "key": "display_name",
        "stringValue": name,
    }]})


def find_pipeline_id(client, name: str, namespace: str | None = None) -> str | None:
    with server_errors(f"looking up pipeline {name!r}"), _quiet_client():
        result = client.list_pipelines(filter=_display_name_filter(name), page_size=2,
                                       namespace=namespace)
    pipelines = [p for p in (result.pipelines or []) if p.display_name in (None, name)]
    if len(pipelines) > 1:
        raise UserError(f"{len(pipelines)} pipelines are named {name!r}; rename or delete one "
                        f"in the KFP UI, or pass another --pipeline-name")
    return pipelines[0].pipeline_id if pipelines else None


def _version_name(pipeline_name: str, package_path: str) -> str:
    with open(package_path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()[:8]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{pipeline_name}-{stamp}-{digest}"


def upload(client, package_path: str, pipeline_name: str = DEFAULT_PIPELINE_NAME,
           namespace: str | None = None, version_name: str | None = None,
           description: str | None = None) -> dict:
    """Upload the package as pipeline ``pipeline_name`` or as a new version of it.

    Returns {"pipeline_id", "pipeline_version_id", "pipeline_version_name", "new_pipeline"}.
    """
    from mer_tfx.kfp.platform import read_package

    read_package(package_path, for_cluster=True)  # fail here, not as an opaque server error
    version_name = version_name or _version_name(pipeline_name, package_path)
    pipeline_id = find_pipeline_id(client, pipeline_name, namespace)
    if pipeline_id is None:
        with server_errors(f"uploading pipeline {pipeline_name!r}"), _quiet_client():
            pipeline = client.upload_pipeline(package_path, pipeline_name=pipeline_name,
                                              description=description, namespace=namespace)
        pipeline_id = pipeline.pipeline_id
        with server_errors(f"reading the versions of pipeline {pipeline_id}"), _quiet_client():
            versions = client.list_pipeline_versions(pipeline_id, page_size=1,
                                                     sort_by="created_at desc")
        found = versions.pipeline_versions or []
        if not found:
            raise UserError(f"pipeline {pipeline_id} was uploaded but the server lists no "
                            f"version of it")
        version = found[0]
        new_pipeline = True
    else:
        with server_errors(f"uploading a new version of pipeline {pipeline_name!r}"), \
                _quiet_client():
            version = client.upload_pipeline_version(
                package_path, pipeline_version_name=version_name, pipeline_id=pipeline_id,
                description=description)
        new_pipeline = False
    log.info("pipeline %s (%s), version %s", pipeline_name, pipeline_id,
             version.pipeline_version_id)
    return {"pipeline_id": pipeline_id, "pipeline_version_id": version.pipeline_version_id,
            "pipeline_version_name": version.display_name or version_name,
            "new_pipeline": new_pipeline}


def get_or_create_experiment(client, name: str = DEFAULT_EXPERIMENT,
                             namespace: str | None = None) -> str:
    with server_errors(f"getting or creating experiment {name!r}"), _quiet_client():
        experiment = client.create_experiment(name=name, namespace=namespace)
    return experiment.experiment_id


def _existing_recurring_runs(client, experiment_id: str, job_name: str) -> list:
    with server_errors(f"listing recurring runs of experiment {experiment_id}"), \
            _quiet_client():
        result = client.list_recurring_runs(experiment_id=experiment_id, page_size=100,
                                            filter=_display_name_filter(job_name))
    return [r for r in (result.recurring_runs or []) if r.display_name in (None, job_name)]


def schedule(host: str, package_path: str, cron: str, experiment: str = DEFAULT_EXPERIMENT,
             pipeline_name: str = DEFAULT_PIPELINE_NAME, namespace: str | None = None,
             token: str | None = None, job_name: str | None = None,
             pipeline_root: str | None = None, service_account: str | None = None,
             version_name: str | None = None, replace: bool = False,
             client=None) -> dict:
    """Upload the package and create a recurring run on ``cron``; returns the ids.

    cron: 5 fields (minute hour dom month dow; '0 ' is prepended for KFP's seconds field)
    or 6 fields seconds first. The recurring run has max_concurrency 1 and no_catchup.
    job_name: display name of the recurring run (default '<pipeline_name> schedule').
    A recurring run with that name already in the experiment is an error unless
    replace=True, which disables the old one(s) first: two schedules would train twice.
    pipeline_root: overrides the package's defaultPipelineRoot for these runs.
    """
    cron6 = normalize_cron(cron)
    client = client or connect(host, namespace=namespace, token=token)
    job_name = job_name or f"{pipeline_name} schedule"
    uploaded = upload(client, package_path, pipeline_name, namespace, version_name)
    experiment_id = get_or_create_experiment(client, experiment, namespace)
    existing = _existing_recurring_runs(client, experiment_id, job_name)
    if existing and not replace:
        ids = ", ".join(r.recurring_run_id for r in existing)
        raise UserError(f"experiment {experiment!r} already has a recurring run named "
                        f"{job_name!r} ({ids}): pass --replace to disable it and schedule "
                        f"the new version, or choose another --job-name")
    for old in existing:
        with server_errors(f"disabling recurring run {old.recurring_run_id}"), _quiet_client():
            client.disable_recurring_run(old.recurring_run_id)
        log.info("disabled recurring run %s", old.recurring_run_id)
    with server_errors(f"creating recurring run {job_name!r}"), _quiet_client():
        recurring = client.create_recurring_run(
            experiment_id=experiment_id, job_name=job_name, cron_expression=cron6,
            max_concurrency=1, no_catchup=True, pipeline_id=uploaded["pipeline_id"],
            version_id=uploaded["pipeline_version_id"], enabled=True,
            pipeline_root=pipeline_root, service_account=service_account)
    result = dict(uploaded, experiment_id=experiment_id,
                  recurring_run_id=recurring.recurring_run_id, cron=cron6,
                  replaced=[r.recurring_run_id for r in existing])
    log.info("recurring run %s on '%s' in experiment %s", recurring.recurring_run_id, cron6,
             experiment)
    return result


def run_once(host: str, package_path: str, experiment: str = DEFAULT_EXPERIMENT,
             pipeline_name: str = DEFAULT_PIPELINE_NAME, namespace: str | None = None,
             token: str | None = None, run_name: str | None = None,
             pipeline_root: str | None = None, service_account: str | None = None,
             version_name: str | None = None, upload_package: bool = True,
             enable_caching: bool | None = None, client=None) -> dict:
    """One run now. Default: upload as a new pipeline version and run that version.

    upload_package=False submits the package inline with the run
    (create_run_from_pipeline_package): no pipeline/version is created.
    enable_caching: None keeps the compiled per-task settings; True/False overrides
    them (inline packages only: a version's spec is stored on the server).
    """
    client = client or connect(host, namespace=namespace, token=token)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    run_name = run_name or f"{pipeline_name} {stamp}"
    if not upload_package:
        from mer_tfx.kfp.platform import read_package

        read_package(package_path, for_cluster=True)
        with server_errors(f"starting run {run_name!r}"), _quiet_client():
            result = client.create_run_from_pipeline_package(
                package_path, run_name=run_name, experiment_name=experiment,
                namespace=namespace, pipeline_root=pipeline_root,
                enable_caching=enable_caching, service_account=service_account)
            run = result.run_info
        return {"run_id": run.run_id, "experiment_id": run.experiment_id,
                "run_name": run_name}
    if enable_caching is not None:
        raise UserError("enable_caching only applies to inline packages (upload_package="
                        "False / --no-upload); compile with --no-cache instead")
    uploaded = upload(client, package_path, pipeline_name, namespace, version_name)
    experiment_id = get_or_create_experiment(client, experiment, namespace)
    with server_errors(f"starting run {run_name!r}"), _quiet_client():
        run = client.run_pipeline(
            experiment_id=experiment_id, job_name=run_name,
            pipeline_id=uploaded["pipeline_id"], version_id=uploaded["pipeline_version_id"],
            pipeline_root=pipeline_root, service_account=service_account)
    log.info("run %s started in experiment %s", run.run_id, experiment)
    return dict(uploaded, experiment_id=experiment_id, run_id=run.run_id, run_name=run_name)
