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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import adamw_steps, fix_openblas, genc_vs_torch  # noqa: E402

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
    return adamw_steps(params, opt, lambda: F.cross_entropy(net(x)[0], y), B, steps, warm)


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
        genc_vs_torch(net, cmd, "images_per_s", lambda cfg: torch_bench(cfg, a.batch, a.steps, a.warmup_steps, a.threads))


if __name__ == "__main__":
    main()
