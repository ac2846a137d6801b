#!/usr/bin/env python3
"""Glow training throughput: genc vs PyTorch on the same machine, in one run.

genc trains `genc train flow --arch glow` on Fashion-MNIST and reports images/s in its
metrics.csv (the rows after the first `--warm` steps are averaged); PyTorch trains the same
Glow (the reference of tests/parity/flows.py, checked against genc by test_flows_parity: same
layers, same parameter count) in float32 with Adam on 8-bit images of the same size, the same
dequantisation and the same loss. Prints images/s for each and the ratio genc / PyTorch.

    /usr/bin/python3 bench/bench_flows.py --genc build/genc [--depth 4 --levels 2 --width 64
        --batch 64 --steps 100 --warm 20 --threads 1]
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import fix_openblas  # noqa: E402

fix_openblas()
import torch  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import flows as ref  # noqa: E402

torch.set_default_dtype(torch.float32)   # the parity reference switches to double on import


def torch_bench(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layers = ref.plan("glow", 1, 28, 28, a.depth, a.levels, False)
    P = ref.make_params(layers, True, a.width, 3, "conv")   # Glow's learned prior, genc's default
    P = {k: v.detach().float().requires_grad_(k.split(".")[-1] not in ("perm", "sign")) for k, v in P.items()}
    trained = [p for p in P.values() if p.requires_grad]
    opt = torch.optim.Adam(trained, lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    B, D = a.batch, 784
    for s in range(a.warm + a.steps):
        if s == a.warm:
            t0 = time.perf_counter()
        v = torch.randint(0, 256, (B, 1, 28, 28)).float()
        y, lj = ref.preprocess(v, torch.rand(B, 1, 28, 28), "center", False)
        logp = ref.log_prob(P, layers, y, True, 3, "gaussian", "conv") + lj
        loss = -logp.mean() / D
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 50.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    el = time.perf_counter() - t0
    return a.steps * B / el, sum(p.numel() for p in P.values())


def genc_bench(a):
    with tempfile.TemporaryDirectory() as d:
        cmd = [a.genc, "train", "flow", "--arch", "glow", "--depth", str(a.depth), "--levels", str(a.levels),
               "--width", str(a.width), "--batch", str(a.batch), "--steps", str(a.warm + a.steps),
               "--threads", str(a.threads), "--out", d, "--save-every", "0"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = list(csv.reader(open(os.path.join(d, "metrics.csv"))))
        head, body = rows[0], rows[1:]
        col = [i for i, h in enumerate(head) if h.endswith("_per_s")][0]
        tp = [float(r[col]) for r in body if int(r[0]) > a.warm]
        if not tp:   # a run shorter than one metrics row past the warm-up
            tp = [float(r[col]) for r in body]
        info = subprocess.run([a.genc, "info", d], check=True, capture_output=True, text=True).stdout
        params = [l for l in info.splitlines() if l.startswith("parameters:")][0].split()[1]
        return sum(tp) / len(tp), int(params)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genc", default=os.path.join(HERE, "..", "build", "genc"))
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--levels", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warm", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    g, gp = genc_bench(a)
    t, tp = torch_bench(a)
    print("glow depth %d, levels %d, width %d, batch %d, %d thread(s); parameters genc %d, torch %d"
          % (a.depth, a.levels, a.width, a.batch, a.threads, gp, tp))
    print("genc   %10.1f images/s" % g)
    print("torch  %10.1f images/s" % t)
    print("ratio  %10.2f (genc / torch)" % (g / t))


if __name__ == "__main__":
    main()
