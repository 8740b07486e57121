"""Independent check of models written by OnnxPrune, with the onnx package.

usage: compare_models.py ORIGINAL CANDIDATE [CANDIDATE ...]

Every candidate must pass onnx.checker.check_model(path) (by path, so external data is checked too) and hold
exactly the tensors of the original: initializers and Constant-node attribute tensors, in the main graph and
in subgraphs, compared by name, data type, dims and bytes. Prints one JSON object; exit code 1 on a mismatch.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def tensors(graph, prefix, out):
    for t in graph.initializer:
        out[prefix + "initializer:" + t.name] = t
    for node in graph.node:
        for a in node.attribute:
            where = prefix + "node:" + (node.name or ",".join(node.output)) + ":" + a.name
            if a.type == onnx.AttributeProto.TENSOR:
                out[where] = a.t
            elif a.type == onnx.AttributeProto.TENSORS:
                for i, t in enumerate(a.tensors):
                    out[where + ":" + str(i)] = t
            elif a.type == onnx.AttributeProto.GRAPH:
                tensors(a.g, where + "/", out)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for i, g in enumerate(a.graphs):
                    tensors(g, where + ":" + str(i) + "/", out)
    return out


def same(a, b):
    if a.data_type != b.data_type or list(a.dims) != list(b.dims):
        return False
    if a.data_type == onnx.TensorProto.STRING:
        return list(a.string_data) == list(b.string_data)
    x, y = numpy_helper.to_array(a), numpy_helper.to_array(b)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def main(argv):
    original_path, candidates = argv[1], argv[2:]
    original = onnx.load(original_path)
    expected = tensors(original.graph, "", {})
    report = {"original": original_path, "tensors": len(expected),
              "initializers": len(original.graph.initializer), "candidates": []}
    ok = True
    for path in candidates:
        entry = {"path": path, "checker": "ok", "mismatches": [], "missing": [], "extra": []}
        try:
            onnx.checker.check_model(path)
        except Exception as e:  # the checker's own exception types vary between releases
            entry["checker"] = "%s: %s" % (type(e).__name__, e)
            ok = False
        references = onnx.load(path, load_external_data=False)
        entry["external"] = sum(1 for t in tensors(references.graph, "", {}).values()
                                if t.data_location == onnx.TensorProto.EXTERNAL)
        model = onnx.load(path)  # loads external data from beside the file
        actual = tensors(model.graph, "", {})
        entry["missing"] = sorted(set(expected) - set(actual))
        entry["extra"] = sorted(set(actual) - set(expected))
        entry["mismatches"] = sorted(k for k in expected if k in actual and not same(expected[k], actual[k]))
        entry["compared"] = len(set(expected) & set(actual))
        if entry["missing"] or entry["extra"] or entry["mismatches"]:
            ok = False
        report["candidates"].append(entry)
    json.dump(report, sys.stdout, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
