"""The record contract (ingestion/records.py) against the writer, the schema and the docs."""
import os

import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from mer_tfx.ingestion.clips import REJECT_REASONS, ClipSpec, Reject
from mer_tfx.ingestion.records import CONTEXT, SEQUENCE, build_sequence_example
from mer_tfx.schemas import load_schema
from mer_tfx.transform.preprocessing import FRAMES_KEY, LABEL_KEY, MASK_KEY

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_TYPES = {"bytes": schema_pb2.BYTES, "int": schema_pb2.INT, "float": schema_pb2.FLOAT,
                "floats": schema_pb2.FLOAT}
SEQUENCE_STRUCT = "##SEQUENCE##"


def _written():
    spec = ClipSpec(row=2, dataset="casme2", subject="sub01", clip="EP02_01f",
                    clip_dir="/x", label="happiness", onset=10, apex=12, offset=14, fps=200.0)
    return build_sequence_example(spec, [10, 11, 12, 13, 14], [b"png"] * 5, True)


def test_the_writer_emits_exactly_the_declared_features_with_their_types():
    example = _written()
    assert set(example.context.feature) == set(CONTEXT)
    for name, (kind, _) in CONTEXT.items():
        list_kind = {"bytes": "bytes_list", "int": "int64_list", "float": "float_list",
                     "floats": "float_list"}[kind]
        assert example.context.feature[name].WhichOneof("kind") == list_kind, name
    assert set(example.feature_lists.feature_list) == set(SEQUENCE)
    assert len(example.feature_lists.feature_list["frames"].feature) == 5


def test_the_schema_declares_exactly_the_contract():
    schema = load_schema()
    top = {f.name: f for f in schema.feature}
    sequence = top.pop(SEQUENCE_STRUCT)
    assert set(top) == set(CONTEXT)
    for name, (kind, _) in CONTEXT.items():
        assert top[name].type == SCHEMA_TYPES[kind], name
    children = {f.name: f for f in sequence.struct_domain.feature}
    assert set(children) == set(SEQUENCE)
    for name, (kind, _) in SEQUENCE.items():
        assert children[name].type == SCHEMA_TYPES[kind], name
    representations = schema.tensor_representation_group[""].tensor_representation
    assert set(representations) == set(CONTEXT) | set(SEQUENCE)


def test_the_transformed_keys_are_not_raw_names():
    assert not {FRAMES_KEY, MASK_KEY, LABEL_KEY} & (set(CONTEXT) | set(SEQUENCE))


def test_the_readme_tables_are_the_declarations():
    with open(os.path.join(REPO, "README.md")) as handle:
        readme = handle.read()
    for part, declared in (("context", CONTEXT), ("sequence", SEQUENCE)):
        for name, (kind, meaning) in declared.items():
            assert f"| `{name}` | {part} | {kind} | {meaning} |" in readme, name
    for reason, fix in REJECT_REASONS.items():
        assert f"| `{reason}` | {fix} |" in readme, reason
    assert readme.count("| context |") == len(CONTEXT)


def test_an_undeclared_reject_reason_is_a_programming_error():
    with pytest.raises(ValueError, match="REJECT_REASONS"):
        Reject(1, "sub01/x", "frame_was_sad")
