#!/usr/bin/env python3
"""Compare two genc checkpoints tensor by tensor (used by tests/cli_mpi.sh).

usage: mpi_compare.py A.safetensors B.safetensors ATOL [--weights-only]
Prints the largest absolute difference over every float32 tensor (weights, AdamW moments,
EMA) and exits 1 when it exceeds ATOL, or when the two files hold different tensors, steps or
data positions (the "step" and "rng_*" metadata must be equal; --weights-only skips that
check, to measure how far two different runs are)."""
import json
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    meta = head.pop("__metadata__", {})
    out = {}
    for name, t in head.items():
        if t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(t["shape"])
    return out, meta


def main():
    (ta, ma), (tb, mb) = load(sys.argv[1]), load(sys.argv[2])
    atol = float(sys.argv[3])
    if set(ta) != set(tb):
        print("different tensors:", sorted(set(ta) ^ set(tb)))
        return 1
    for key in ("step", "rng_data", "rng_dropout", "rng_noise") if "--weights-only" not in sys.argv else ():
        if ma.get(key) != mb.get(key):
            print(f"metadata {key} differs: {ma.get(key)!r} vs {mb.get(key)!r}")
            return 1
    worst, where = 0.0, ""
    for name in sorted(ta):
        d = float(np.max(np.abs(ta[name].astype(np.float64) - tb[name]))) if ta[name].size else 0.0
        if not np.isfinite(d) or d > worst:
            worst, where = d, name
    print(f"max |difference| {worst:.3g} (in {where or '-'}), tolerance {atol:g}")
    return 0 if worst <= atol else 1


if __name__ == "__main__":
    sys.exit(main())
