"""The hand-written schema of the raw clip records (see schema.pbtxt)."""
import os

from tensorflow_metadata.proto.v0 import schema_pb2

SCHEMA_DIR = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(SCHEMA_DIR, "schema.pbtxt")


def load_schema() -> schema_pb2.Schema:
    from google.protobuf import text_format

    with open(SCHEMA_PATH) as handle:
        return text_format.Parse(handle.read(), schema_pb2.Schema())
