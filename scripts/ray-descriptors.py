"""Prints, as JSON, the protobuf descriptors of Ray's own generated GCS modules.

Used by the gcs integration tests to check that third_party/ray/proto matches
the Ray that is installed (field numbers, types, services and methods).
Usage: python ray-descriptors.py  (with the Ray venv's python)
"""
import json
import sys

import ray
from google.protobuf import descriptor_pool
from ray.core.generated import gcs_pb2, gcs_service_pb2  # noqa: F401  (registers descriptors)

pool = descriptor_pool.Default()
out = {"ray_version": ray.__version__, "messages": {}, "services": {}}


def message(desc):
    fields = {}
    for f in desc.fields:
        kind = f.type
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            kind = "map"
        fields[f.name] = {"number": f.number, "type": kind, "repeated": bool(getattr(f, "is_repeated", None) if hasattr(f, "is_repeated") else f.label == 3)}
    out["messages"][desc.full_name] = fields
    for nested in desc.nested_types:
        if not nested.GetOptions().map_entry:
            message(nested)


for fd_name in ("src/ray/protobuf/gcs.proto", "src/ray/protobuf/gcs_service.proto"):
    fd = pool.FindFileByName(fd_name)
    for m in fd.message_types_by_name.values():
        message(m)
    for s in fd.services_by_name.values():
        out["services"][s.full_name] = {
            m.name: [m.input_type.full_name, m.output_type.full_name] for m in s.methods
        }

json.dump(out, sys.stdout, indent=1, sort_keys=True)
