"""mer_tfx.kfp.client and the `kfp schedule|run` CLI against a fake KFP v2beta1 API server.

The server (http.server in a thread) answers the calls kfp 2.5's client makes
(healthz, pipelines list/upload/upload_version/versions, experiments, recurring
runs, runs) with plausible JSON and records every request, so the tests check what
reaches the wire: paths, query strings and JSON bodies.
"""
import argparse
import contextlib
import io
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import mer_tfx  # noqa: F401
from mer_tfx.errors import UserError
from mer_tfx.kfp import client as kfp_client
from mer_tfx.kfp.cli import add_kfp_parser

API = "/apis/v2beta1"

# A minimal but valid KFP v2 package (PipelineSpec + PlatformSpec); the client tests do
# not need the TFX compile (tests/test_kfp_compile.py covers that).
PACKAGE = """\
# PIPELINE DEFINITION
# Name: mer-tfx
components:
  Trainer:
    executorLabel: Trainer_executor
defaultPipelineRoot: gs://bucket/root
deploymentSpec:
  executors:
    Trainer_executor:
      container:
        image: example.com/mer-tfx:1
        resources:
          accelerator:
            count: '1'
            type: nvidia.com/gpu
pipelineInfo:
  name: mer-tfx
root:
  dag:
    tasks:
      Trainer:
        componentRef:
          name: Trainer
        taskInfo:
          name: Trainer
schemaVersion: 2.1.0
sdkVersion: tfx-1.16.0
---
platforms:
  kubernetes:
    deploymentSpec:
      executors:
        Trainer_executor:
          nodeSelector:
            labels:
              cloud.google.com/gke-accelerator: nvidia-tesla-t4
"""


class FakeKfp:
    """State + request log of the fake server; ``fail`` maps (method, path regex) to
    (status, JSON body) answered instead of the normal response."""

    def __init__(self):
        self.requests = []
        self.pipelines = {}  # name -> {"pipeline_id", "versions": [...]}
        self.experiments = {}  # name -> id
        self.recurring_runs = []
        self.fail = {}
        self.counter = 0

    def new_id(self, kind):
        self.counter += 1
        return f"{kind}-{self.counter}"

    def calls(self, method=None, path=None):
        return [r for r in self.requests
                if (method is None or r["method"] == method)
                and (path is None or re.fullmatch(path, r["path"]))]

    # --- routing ---------------------------------------------------------------------
    def handle(self, method, path, query, body):
        for (fail_method, pattern), answer in self.fail.items():
            if fail_method == method and re.fullmatch(pattern, path):
                return answer
        if method == "GET" and path == f"{API}/healthz":
            return 200, {"multi_user": False}
        if method == "GET" and path == f"{API}/pipelines":
            name = _filter_name(query)
            found = [p for n, p in self.pipelines.items() if name in (None, n)]
            return 200, {"pipelines": [_pipeline_json(p) for p in found],
                         "total_size": len(found)} if found else {}
        if method == "POST" and path == f"{API}/pipelines/upload":
            name = query["name"][0]
            if name in self.pipelines:
                return 409, {"error": "exists", "message": f"pipeline {name} already exists",
                             "code": 6}
            pipeline = {"pipeline_id": self.new_id("pipeline"), "display_name": name,
                        "versions": []}
            pipeline["versions"].append(self._version(pipeline, name))
            self.pipelines[name] = pipeline
            return 200, _pipeline_json(pipeline)
        match = re.fullmatch(f"{API}/pipelines/([^/]+)/versions", path)
        if method == "GET" and match:
            pipeline = self._pipeline_by_id(match.group(1))
            versions = list(reversed(pipeline["versions"]))  # created_at desc
            size = int(query.get("page_size", ["10"])[0])
            return 200, {"pipeline_versions": versions[:size], "total_size": len(versions)}
        if method == "POST" and path == f"{API}/pipelines/upload_version":
            pipeline = self._pipeline_by_id(query["pipelineid"][0])
            version = self._version(pipeline, query["name"][0])
            pipeline["versions"].append(version)
            return 200, version
        if method == "GET" and path == f"{API}/experiments":
            name = _filter_name(query)
            found = [{"experiment_id": i, "display_name": n}
                     for n, i in self.experiments.items() if name in (None, n)]
            return 200, {"experiments": found, "total_size": len(found)} if found else {}
        if method == "POST" and path == f"{API}/experiments":
            experiment_id = self.new_id("experiment")
            self.experiments[body["display_name"]] = experiment_id
            return 200, dict(body, experiment_id=experiment_id)
        if method == "GET" and path == f"{API}/recurringruns":
            name = _filter_name(query)
            found = [r for r in self.recurring_runs
                     if name in (None, r["display_name"])
                     and r["experiment_id"] == query.get("experiment_id", [None])[0]]
            # The one camelCase list field of the v2beta1 API (proto field recurringRuns).
            return 200, {"recurringRuns": found, "total_size": len(found)} if found else {}
        if method == "POST" and path == f"{API}/recurringruns":
            recurring = dict(body, recurring_run_id=self.new_id("recurring"))
            self.recurring_runs.append(recurring)
            return 200, recurring
        match = re.fullmatch(f"{API}/recurringruns/([^/:]+):disable", path)
        if method == "POST" and match:
            for run in self.recurring_runs:
                if run["recurring_run_id"] == match.group(1):
                    run["mode"] = "DISABLE"
            return 200, {}
        if method == "POST" and path == f"{API}/runs":
            return 200, dict(body, run_id=self.new_id("run"), state="PENDING")
        return 404, {"error": "not found", "message": f"fake server: no route {method} {path}"}

    def _version(self, pipeline, name):
        return {"pipeline_id": pipeline["pipeline_id"], "display_name": name,
                "pipeline_version_id": self.new_id("version")}

    def _pipeline_by_id(self, pipeline_id):
        for pipeline in self.pipelines.values():
            if pipeline["pipeline_id"] == pipeline_id:
                return pipeline
        raise KeyError(pipeline_id)


def _pipeline_json(pipeline):
    return {"pipeline_id": pipeline["pipeline_id"], "display_name": pipeline["display_name"]}


def _filter_name(query):
    if "filter" not in query:
        return None
    predicates = json.loads(query["filter"][0])["predicates"]
    return next(p["stringValue"] for p in predicates if p["key"] == "display_name")


class _Handler(BaseHTTPRequestHandler):
    fake = None  # set per server

    def _serve(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type", "")
        body = None
        if raw and content_type.startswith("application/json"):
            body = json.loads(raw)
        self.fake.requests.append({
            "method": method, "path": url.path, "query": query, "json": body,
            "content_type": content_type, "raw": raw,
            "authorization": self.headers.get("Authorization")})
        status, answer = self.fake.handle(method, url.path, query, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def do_DELETE(self):  # noqa: N802
        self._serve("DELETE")

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_server(monkeypatch, tmp_path):
    import kfp

    # Never read or write the user's ~/.config/kfp/context.json.
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))
    fake = FakeKfp()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    fake.host = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def package(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(PACKAGE)
    return str(path)


def _cli(argv):
    parser = argparse.ArgumentParser(prog="mer-tfx")
    add_kfp_parser(parser.add_subparsers(dest="command", required=True))
    args, extra = parser.parse_known_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.handler(args, extra)
    return code, json.loads(out.getvalue())


# --- cron -------------------------------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    ("0 3 * * *", "0 0 3 * * *"),
    ("*/15 2-5 1,15 JAN-MAR mon-fri", "0 */15 2-5 1,15 JAN-MAR mon-fri"),
    ("30 0 3 * * ?", "30 0 3 * * ?"),
    ("  0   3 * *   * ", "0 0 3 * * *"),
    ("@daily", "@daily"),
    ("@every 6h", "@every 6h"),
])
def test_cron_is_normalized_to_six_fields_seconds_first(given, expected):
    assert kfp_client.normalize_cron(given) == expected


@pytest.mark.parametrize("bad, hint", [
    ("0 3 * *", "has 4 fields"),
    ("0 0 0 3 * * *", "has 7 fields"),
    ("61 3 * * *", "outside 0-59"),
    ("0 24 * * *", "outside 0-23"),
    ("0 3 * * FUNDAY", "not a number"),
    ("0 5-3 * * *", "runs backwards"),
    ("*/0 3 * * *", "step"),
    ("@fortnightly", "descriptor"),
    ("", "empty"),
])
def test_bad_cron_is_refused_with_the_format_explained(bad, hint):
    with pytest.raises(UserError) as error:
        kfp_client.normalize_cron(bad)
    assert hint in str(error.value)
    assert "5 fields" in str(error.value)


# --- schedule ---------------------------------------------------------------------------

def test_schedule_uploads_creates_experiment_and_recurring_run(kfp_server, package):
    result = kfp_client.schedule(kfp_server.host, package, "0 3 * * *", token="secret-token")

    # The package went to the upload endpoint as multipart 'uploadfile', named as asked.
    (upload,) = kfp_server.calls("POST", f"{API}/pipelines/upload")
    assert upload["query"]["name"] == ["mer-tfx"]
    assert upload["content_type"].startswith("multipart/form-data")
    assert b'name="uploadfile"' in upload["raw"] and b"nvidia-tesla-t4" in upload["raw"]
    assert upload["authorization"] == "Bearer secret-token"
    # Lookup by name first, then the new pipeline's default version.
    (lookup,) = kfp_server.calls("GET", f"{API}/pipelines")
    assert _filter_name(lookup["query"]) == "mer-tfx"
    assert kfp_server.calls("GET", f"{API}/pipelines/pipeline-1/versions")
    pipeline = kfp_server.pipelines["mer-tfx"]
    version_id = pipeline["versions"][0]["pipeline_version_id"]

    (experiment,) = kfp_server.calls("POST", f"{API}/experiments")
    assert experiment["json"]["display_name"] == "mer-tfx"
    experiment_id = kfp_server.experiments["mer-tfx"]

    (create,) = kfp_server.calls("POST", f"{API}/recurringruns")
    body = create["json"]
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert str(body["max_concurrency"]) == "1"
    assert body["no_catchup"] is True
    assert body["mode"] == "ENABLE"
    assert body["experiment_id"] == experiment_id
    assert body["pipeline_version_reference"] == {"pipeline_id": pipeline["pipeline_id"],
                                                  "pipeline_version_id": version_id}
    assert "pipeline_spec" not in body  # runs the uploaded version, not an inline copy
    assert body["display_name"] == "mer-tfx schedule"

    assert result["pipeline_id"] == pipeline["pipeline_id"]
    assert result["pipeline_version_id"] == version_id
    assert result["experiment_id"] == experiment_id
    assert result["recurring_run_id"] == kfp_server.recurring_runs[0]["recurring_run_id"]
    assert result["cron"] == "0 0 3 * * *" and result["new_pipeline"] is True


def test_schedule_of_an_existing_pipeline_uploads_a_new_version(kfp_server, package):
    first = kfp_client.schedule(kfp_server.host, package, "0 3 * * *", job_name="nightly")
    second = kfp_client.schedule(kfp_server.host, package, "0 4 * * *", job_name="weekly",
                                 version_name="v2")

    (version_upload,) = kfp_server.calls("POST", f"{API}/pipelines/upload_version")
    assert version_upload["query"]["pipelineid"] == [first["pipeline_id"]]
    assert version_upload["query"]["name"] == ["v2"]
    assert len(kfp_server.calls("POST", f"{API}/pipelines/upload")) == 1
    assert len(kfp_server.calls("POST", f"{API}/experiments")) == 1  # reused by name
    assert second["pipeline_id"] == first["pipeline_id"]
    assert second["pipeline_version_id"] != first["pipeline_version_id"]
    assert second["new_pipeline"] is False
    last = kfp_server.calls("POST", f"{API}/recurringruns")[-1]["json"]
    assert last["pipeline_version_reference"]["pipeline_version_id"] == \
        second["pipeline_version_id"]


def test_a_second_schedule_with_the_same_name_needs_replace(kfp_server, package):
    first = kfp_client.schedule(kfp_server.host, package, "0 3 * * *")
    with pytest.raises(UserError, match="already has a recurring run.*--replace"):
        kfp_client.schedule(kfp_server.host, package, "0 5 * * *")
    assert len(kfp_server.recurring_runs) == 1

    replaced = kfp_client.schedule(kfp_server.host, package, "0 5 * * *", replace=True)
    disable = kfp_server.calls("POST", f"{API}/recurringruns/.*:disable")
    assert [d["path"] for d in disable] == \
        [f"{API}/recurringruns/{first['recurring_run_id']}:disable"]
    assert replaced["replaced"] == [first["recurring_run_id"]]
    assert kfp_server.recurring_runs[0]["mode"] == "DISABLE"
    assert kfp_server.recurring_runs[1]["trigger"]["cron_schedule"]["cron"] == "0 0 5 * * *"


def test_schedule_cli_prints_the_ids(kfp_server, package):
    code, printed = _cli(["kfp", "schedule", "--host", kfp_server.host, "--package", package,
                          "--cron", "15 2 * * 1", "--experiment", "nightly",
                          "--pipeline-name", "mer-casme2", "--namespace", "team-a",
                          "--pipeline-root", "gs://bucket/other-root"])
    assert code == 0
    assert printed["cron"] == "0 15 2 * * 1"
    assert printed["recurring_run_id"] == kfp_server.recurring_runs[0]["recurring_run_id"]
    (upload,) = kfp_server.calls("POST", f"{API}/pipelines/upload")
    assert upload["query"]["name"] == ["mer-casme2"]
    assert upload["query"]["namespace"] == ["team-a"]
    (experiment,) = kfp_server.calls("POST", f"{API}/experiments")
    assert experiment["json"] == {"display_name": "nightly", "namespace": "team-a"}
    body = kfp_server.calls("POST", f"{API}/recurringruns")[0]["json"]
    assert body["runtime_config"]["pipeline_root"] == "gs://bucket/other-root"
    # With a namespace the client skips healthz; nothing else is asked of the server.
    assert not kfp_server.calls("GET", f"{API}/healthz")


def test_bad_cron_fails_before_any_request(kfp_server, package):
    with pytest.raises(UserError, match="5 fields"):
        kfp_client.schedule(kfp_server.host, package, "every night")
    assert kfp_server.requests == []


# --- run --------------------------------------------------------------------------------

def test_run_once_runs_the_uploaded_version(kfp_server, package):
    code, printed = _cli(["kfp", "run", "--host", kfp_server.host, "--package", package,
                          "--run-name", "try-1"])
    assert code == 0
    (run,) = kfp_server.calls("POST", f"{API}/runs")
    body = run["json"]
    pipeline = kfp_server.pipelines["mer-tfx"]
    assert body["display_name"] == "try-1"
    assert body["experiment_id"] == kfp_server.experiments["mer-tfx"]
    assert body["pipeline_version_reference"] == {
        "pipeline_id": pipeline["pipeline_id"],
        "pipeline_version_id": pipeline["versions"][0]["pipeline_version_id"]}
    assert printed["run_id"] == "run-" + printed["run_id"].split("-")[1]
    assert printed["pipeline_id"] == pipeline["pipeline_id"]


def test_run_without_upload_sends_the_package_inline(kfp_server, package):
    result = kfp_client.run_once(kfp_server.host, package, upload_package=False,
                                 run_name="inline", enable_caching=False)
    assert not kfp_server.calls("POST", f"{API}/pipelines/upload")
    (run,) = kfp_server.calls("POST", f"{API}/runs")
    spec = run["json"]["pipeline_spec"]
    # PipelineSpec + PlatformSpec, as kfp's package reader builds them.
    assert spec["pipeline_spec"]["pipelineInfo"]["name"] == "mer-tfx"
    assert spec["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"][
        "Trainer_executor"]["nodeSelector"]["labels"] == {
            "cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    assert spec["pipeline_spec"]["root"]["dag"]["tasks"]["Trainer"]["cachingOptions"] == {}
    assert result["run_id"] == run["json"].get("run_id", result["run_id"])


# --- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, status", [
    ("POST", f"{API}/pipelines/upload", 409),
    ("POST", f"{API}/experiments", 400),
    ("POST", f"{API}/recurringruns", 500),
])
def test_server_errors_become_user_errors_with_the_server_message(kfp_server, package, method,
                                                                    path, status):
    kfp_server.fail[(method, path)] = (status, {
        "error": "server said no", "code": 3,
        "message": f"Failed to do it: the reason from the server ({status})"})
    with pytest.raises(UserError) as error:
        kfp_client.schedule(kfp_server.host, package, "0 3 * * *")
    text = str(error.value)
    assert f"HTTP {status}" in text
    assert f"Failed to do it: the reason from the server ({status})" in text
    assert "Traceback" not in text and "\n" not in text


def test_run_cli_error_is_a_user_error(kfp_server, package):
    kfp_server.fail[("POST", f"{API}/runs")] = (
        400, {"error": "Invalid input error", "message": "Invalid input error: pipeline root "
              "'ftp://x' is not supported"})
    with pytest.raises(UserError, match=r"HTTP 400 Bad Request: Invalid input error: pipeline "
                                        r"root 'ftp://x' is not supported"):
        _cli(["kfp", "run", "--host", kfp_server.host, "--package", package])


def test_unreachable_host_is_a_user_error(package, tmp_path, monkeypatch):
    import kfp
    import socket

    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UserError, match="cannot reach the KFP API"):
        kfp_client.run_once(f"http://127.0.0.1:{port}", package, namespace="ns")


def test_invalid_package_is_refused_before_upload(kfp_server, tmp_path):
    bad = tmp_path / "pipeline.yaml"
    bad.write_text("pipelineInfo: {name: x}\nnotAField: 1\n")
    with pytest.raises(UserError, match="not a KFP v2 pipeline package"):
        kfp_client.schedule(kfp_server.host, str(bad), "0 3 * * *")
    assert not kfp_server.calls("POST")
    with pytest.raises(UserError, match="does not exist"):
        kfp_client.run_once(kfp_server.host, str(tmp_path / "missing.yaml"))


def test_host_without_scheme_is_refused(package):
    with pytest.raises(UserError, match="scheme"):
        kfp_client.run_once("kfp.example.com", package)
