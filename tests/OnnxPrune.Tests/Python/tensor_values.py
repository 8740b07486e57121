"""Prints every initializer of a model as JSON (data type, dims, values as float), read by the onnx package."""
import json
import math
import sys

import onnx
from onnx import numpy_helper


def main(path):
    model = onnx.load(path)
    out = {}
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        values = [float(v) for v in a.reshape(-1).tolist()]
        out[t.name] = {"dataType": t.data_type, "dims": list(t.dims),
                       "values": [v if math.isfinite(v) else str(v) for v in values]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
