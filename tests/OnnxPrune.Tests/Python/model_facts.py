"""What `onnxprune info` should report about a model, computed independently with the onnx package: IR version,
opsets, data inputs (initializers excluded), outputs, node count, op histogram, and parameters (elements and
bytes of floating-point initializers and Constant-node tensors of the main graph)."""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper

FLOATING = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}
BYTES = {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.DOUBLE: 8, onnx.TensorProto.FLOAT16: 2, onnx.TensorProto.BFLOAT16: 2}


def constant_tensors(graph):
    yield from graph.initializer
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for a in node.attribute:
                if a.name == "value":
                    yield a.t
                elif a.name == "value_float":
                    yield onnx.helper.make_tensor("", onnx.TensorProto.FLOAT, [], [a.f])
                elif a.name == "value_floats":
                    yield onnx.helper.make_tensor("", onnx.TensorProto.FLOAT, [len(a.floats)], list(a.floats))


def main(path):
    m = onnx.load(path)
    g = m.graph
    inits = {t.name for t in g.initializer}
    params = 0
    nbytes = 0
    for t in constant_tensors(g):
        if t.data_type in FLOATING:
            n = int(np.prod(t.dims)) if len(t.dims) else 1
            params += n
            nbytes += n * BYTES[t.data_type]
    ops = {}
    for n in g.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else n.domain + "." + n.op_type
        ops[key] = ops.get(key, 0) + 1
    opsets = {}
    for o in m.opset_import:
        d = "" if o.domain == "ai.onnx" else o.domain
        opsets[d] = max(opsets.get(d, 0), o.version)
    json.dump({
        "irVersion": m.ir_version,
        "opsets": opsets,
        "inputs": [i.name for i in g.input if i.name not in inits],
        "outputs": [o.name for o in g.output],
        "nodes": len(g.node),
        "ops": ops,
        "parameters": params,
        "parameterBytes": nbytes,
    }, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
