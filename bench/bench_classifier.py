#!/usr/bin/env python3
"""Classifier training throughput: genc vs PyTorch on the same machine, in one run.

Both train the same net (same config, same parameter count, same AdamW + clipping, same batch
size, same threads) on random images in [-1, 1] with random labels: genc through
`genc bench classifier --json`, PyTorch through the reference nets of
tests/parity/classifier_ref.py (the ones the parity test checks genc against) with
torch.optim.AdamW. Prints training images/s for each and the ratio genc / PyTorch, per net.

    /usr/bin/python3 bench/bench_classifier.py --genc build/genc [--nets cnn,vit --batch 128 --steps 20]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fix_openblas  # noqa: E402

fix_openblas()
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import classifier_ref  # noqa: E402


def torch_bench(cfg, B, steps, warm, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = classifier_ref.build(cfg)
    decay = [p for p in net.parameters() if p.dim() >= 2]
    no_decay = [p for p in net.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    x = torch.rand(B, cfg["channels"], cfg["height"], cfg["width"]) * 2 - 1
    y = torch.randint(0, cfg["classes"], (B,))
    params = list(net.parameters())
    for s in range(warm + steps):
        if s == warm:
            t0 = time.perf_counter()
        logits, _ = net(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    el = time.perf_counter() - t0
    return steps * B / el, 1e3 * el / steps, sum(p.numel() for p in params)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genc", default=os.path.join(HERE, "..", "build", "genc"))
    ap.add_argument("--nets", default="cnn,vit")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup-steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    print("OPENBLAS_CORETYPE=%s for both; batch %d, threads %d, torch %s" %
          (os.environ.get("OPENBLAS_CORETYPE", "(auto)"), a.batch, a.threads, torch.__version__))
    for net in a.nets.split(","):
        cmd = [a.genc, "bench", "classifier", "--net", net, "--batch", str(a.batch), "--steps", str(a.steps),
               "--warmup-steps", str(a.warmup_steps), "--threads", str(a.threads), "--json"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        g = json.loads(out.strip().splitlines()[-1])
        cfg = g["config"]  # genc's config (its defaults): PyTorch builds the same net from it
        ips, ms, n = torch_bench(cfg, a.batch, a.steps, a.warmup_steps, a.threads)
        print("%s:" % net)
        print("  genc    : %9.0f images/s  %8.1f ms/step  (%d params)" % (g["images_per_s"], g["ms_per_step"], g["params"]))
        print("  pytorch : %9.0f images/s  %8.1f ms/step  (%d params)" % (ips, ms, n))
        print("  ratio genc/pytorch: %.2fx" % (g["images_per_s"] / ips))
        if g["params"] != n:
            print("warning: parameter counts differ", file=sys.stderr)


if __name__ == "__main__":
    main()
