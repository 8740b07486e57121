"""Prints the official ONNX-ML schema (the onnx package's onnx_ml_pb2 descriptor) as JSON: for every message
its fields (number, type, label, packed, type name, oneof) and for every enum its values."""
import json
import sys

from google.protobuf import descriptor_pb2
from onnx import onnx_ml_pb2
import onnx

TYPE_NAMES = descriptor_pb2.FieldDescriptorProto.Type
LABEL_NAMES = descriptor_pb2.FieldDescriptorProto.Label


def dump_enum(e, out):
    out["enums"][e.full_name] = {v.name: v.number for v in e.values}


def dump_message(m, out):
    fields = {}
    for f in m.fields:
        options = f.GetOptions() if f.has_options else None
        fields[f.name] = {
            "number": f.number,
            "type": TYPE_NAMES.Name(f.type),
            "label": LABEL_NAMES.Name(f.label),
            "packed": bool(options is not None and options.HasField("packed") and options.packed),
            "typeName": (f.message_type.full_name if f.message_type is not None
                         else f.enum_type.full_name if f.enum_type is not None else ""),
            "oneof": f.containing_oneof.name if f.containing_oneof is not None else "",
        }
    out["messages"][m.full_name] = fields
    for nested in m.nested_types:
        dump_message(nested, out)
    for e in m.enum_types:
        dump_enum(e, out)


def main():
    out = {"onnxVersion": onnx.__version__, "messages": {}, "enums": {}}
    d = onnx_ml_pb2.DESCRIPTOR
    for m in d.message_types_by_name.values():
        dump_message(m, out)
    for e in d.enum_types_by_name.values():
        dump_enum(e, out)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
