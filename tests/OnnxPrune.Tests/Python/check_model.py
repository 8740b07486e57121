"""onnx.checker.check_model on a file, then the full check (with shape inference); prints the op types in order."""
import json
import sys

import onnx


def main(path):
    onnx.checker.check_model(path)
    model = onnx.load(path)
    # full_check (with shape inference) on the loaded message: given a path, onnx 1.12 writes the inferred
    # shapes back into the file.
    onnx.checker.check_model(model, full_check=True)
    json.dump({"ops": [n.op_type for n in model.graph.node],
               "initializers": len(model.graph.initializer),
               "opset": [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
