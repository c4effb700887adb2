"""What the KFP v2 launcher does around a task's command, for kfp/replay.py.

Read from the open-source backend (``backend/src/v2/component/launcher_v2.go`` and
``backend/src/v2/metadata``, the ML Metadata based releases, KFP 2.0 onwards):

* ``placeholders`` / ``substitute``: ``{{$}}`` is the ExecutorInput as compact JSON;
  ``{{$.inputs.parameters['x']}}`` the parameter as text (numbers in Go's shortest
  form, lists and structs as JSON); ``{{$.inputs.artifacts['x'].uri}}`` / ``.path``,
  ``{{$.outputs.artifacts['x'].uri}}`` / ``.path`` and
  ``{{$.outputs.parameters['x'].output_file}}``. Anything else in ``{{$...}}`` is
  refused here rather than passed on literally.
* ``read_executor_output``: the output metadata file (missing = empty), parsed
  strictly as ``ExecutorOutput``; ``text_to_value`` reads output parameter files.
* ``generate_output_uri``: ``<root>/<parts...>``, the form of every output URI.
"""
from __future__ import annotations

import decimal
import json
import os
import posixpath
import re

from mer_tfx.errors import UserError

# The launcher's files inside the pod (/tmp/kfp_outputs/..., /tmp/kfp/outputs/<name>), here
# under the task's own temporary folder. TFX's entrypoint takes the folder of the
# metadata file as the task's root (its Beam temp dir is <root>/.temp).
OUTPUT_METADATA = os.path.join("kfp_outputs", "output_metadata.json")
OUTPUT_PARAMETERS = os.path.join("kfp", "outputs")
_PLACEHOLDER = re.compile(r"\{\{\$[^{}]*\}\}")


def pb_value(message):
    """google.protobuf.Value -> its JSON value (numbers as float, as structpb has them)."""
    from google.protobuf import json_format

    return json_format.MessageToDict(message)


def _number_text(number: float) -> str:
    # Go strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent.
    if float(number).is_integer():
        return str(int(number))
    return format(decimal.Decimal(repr(float(number))), "f")


def value_text(value) -> str:
    """A parameter as the launcher substitutes {{$.inputs.parameters['x']}} and as the
    driver turns a non-string into a STRING parameter (metadata.PbValueToText)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(value)
    if value is None:
        raise ValueError("null has no text form")
    return go_json(value)


def _go_numbers(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def go_json(value) -> str:
    """Compact JSON with whole numbers written as integers, as Go's protojson does."""
    return json.dumps(_go_numbers(value), separators=(",", ":"), ensure_ascii=False)


def text_to_value(text: str, parameter_type: str):
    """An output parameter file's text as the launcher reads it (metadata.TextToPbValue)."""
    stripped = text.strip()
    if parameter_type == "STRING":
        return text
    if parameter_type == "NUMBER_INTEGER":
        return float(int(stripped))
    if parameter_type == "NUMBER_DOUBLE":
        return float(stripped)
    if parameter_type == "BOOLEAN":
        if stripped.lower() not in ("true", "false", "1", "0", "t", "f"):
            raise ValueError(f"{stripped!r} is not a boolean")
        return stripped.lower() in ("true", "1", "t")
    if parameter_type in ("LIST", "STRUCT"):
        parsed = json.loads(text)
        if not isinstance(parsed, list if parameter_type == "LIST" else dict):
            raise ValueError(f"{text[:60]!r} is not a JSON {parameter_type.lower()}")
        return parsed
    raise ValueError(f"unknown parameter type {parameter_type}")


def generate_output_uri(root: str, *parts: str) -> str:
    """metadata.GenerateOutputURI: root + "/" + path.Join(parts) (no query string kept)."""
    return root.split("?", 1)[0].rstrip("/") + "/" + posixpath.normpath(posixpath.join(*parts))


def local_path(uri: str) -> str | None:
    """The file path a placeholder's ``.path`` gives: the URI itself for a local root.
    (The launcher maps gs:// to /gcs/..., s3:// to /s3/... inside the pod.)"""
    return None if "://" in uri else uri


def placeholders(executor_input: dict) -> dict:
    """The launcher's map (launcher_v2.go getPlaceholders): placeholder -> text, or an
    Exception for a ``.path`` the replay cannot give (the pod's /gcs/, /s3/ mounts)."""
    found = {"{{$}}": go_json(executor_input)}
    for side in ("inputs", "outputs"):
        for key, listed in executor_input[side]["artifacts"].items():
            if not listed["artifacts"]:
                continue
            uri = listed["artifacts"][0]["uri"]
            found[f"{{{{$.{side}.artifacts['{key}'].uri}}}}"] = uri
            path = local_path(uri)
            found[f"{{{{$.{side}.artifacts['{key}'].path}}}}"] = path if path is not None else \
                UserError(f"{{{{$.{side}.artifacts['{key}'].path}}}} of {uri}: inside the pod "
                          f"the launcher copies it to a local folder (/gcs/..., /s3/...); the "
                          f"replay only gives .path on a local --pipeline-root")
    for key, value in executor_input["inputs"]["parameterValues"].items():
        found[f"{{{{$.inputs.parameters['{key}']}}}}"] = value_text(value)
    for key, parameter in executor_input["outputs"]["parameters"].items():
        found[f"{{{{$.outputs.parameters['{key}'].output_file}}}}"] = parameter["outputFile"]
    return found


def substitute(task_name: str, strings: list, known: dict) -> list:
    """Every known placeholder replaced (strings.ReplaceAll for each); an unknown one, or
    a Concat/IfPresent placeholder, is a UserError naming it."""
    result = []
    for text in strings:
        try:
            structured = json.loads(text)
        except ValueError:
            structured = None
        if isinstance(structured, dict) and {"Concat", "IfPresent"} & set(structured):
            raise UserError(f"task {task_name}: argument {text[:80]!r} is a Concat/IfPresent "
                            f"placeholder, which the replay does not resolve")

        def replace(match, _text=text):
            token = match.group(0)
            if token not in known:
                raise UserError(f"task {task_name}: placeholder {token} in {_text[:80]!r} has no "
                                f"value in the KFP v2 launcher (it substitutes {{{{$}}}}, "
                                f"{{{{$.inputs.parameters['x']}}}}, {{{{$.inputs.artifacts['x']"
                                f".uri/.path}}}}, {{{{$.outputs.artifacts['x'].uri/.path}}}} and "
                                f"{{{{$.outputs.parameters['x'].output_file}}}})")
            if isinstance(known[token], Exception):
                raise known[token]
            return known[token]

        result.append(_PLACEHOLDER.sub(replace, text))
    return result


def read_executor_output(task_name: str, path: str) -> dict:
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    if not os.path.exists(path):
        return {}  # the launcher takes a missing file as an empty ExecutorOutput
    with open(path) as handle:
        text = handle.read()
    try:
        message = json_format.Parse(text, pipeline_spec_pb2.ExecutorOutput())
    except json_format.ParseError as error:
        raise UserError(f"task {task_name}: its output metadata file is not an "
                        f"ExecutorOutput: {error}") from None
    return json_format.MessageToDict(message)
