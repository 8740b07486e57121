"""onnx.checker.check_model on a file (full check, with shape inference), then prints the op types in order."""
import json
import sys

import onnx


def main(path):
    onnx.checker.check_model(path, full_check=True)
    model = onnx.load(path)
    json.dump({"ops": [n.op_type for n in model.graph.node],
               "initializers": len(model.graph.initializer),
               "opset": [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
