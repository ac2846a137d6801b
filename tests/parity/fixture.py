"""Write PyTorch reference values as a safetensors file (no extra package needed).

Each parity script builds fixed inputs, runs the PyTorch reference, and calls save() with
every input and expected output; the C test reads the file and compares."""
import json
import struct
import sys

import numpy as np


def save(path, tensors, meta=None):
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = tensors[name]
        if hasattr(a, "detach"):
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        if a.dtype == np.int64:
            a = a.astype(np.int32)
        dt = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8"}[a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def out_path():
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUT.safetensors" % sys.argv[0])
    return sys.argv[1]
