#!/usr/bin/env python3
"""Image-text (CLIP / SigLIP) training throughput: genc vs PyTorch on the same machine, in one run.

Both train the same two-tower model (same config and parameter count, both towers forward and
backward, the same loss, AdamW with betas (0.9, 0.98) and weight decay 0.1 on matrices, gradient
clipping at 1, the same batch and threads) on random images in [-1, 1] and random printable-byte
captions of random length: genc through `genc bench clip --json`, PyTorch through the reference
model of tests/parity/clip_ref.py (the one tests/test_clip_parity.c checks genc against, loss and
every gradient). PyTorch's sigmoid loss is the direct B x B form, as its users write it; genc's
is blocked. Prints training images/s (one image per image-caption pair) for each and the ratio
genc / PyTorch, per loss.

    /usr/bin/python3 bench/bench_clip.py --genc build/genc [--losses softmax,sigmoid --batch 64 --steps 20]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import adamw_steps, fix_openblas, genc_vs_torch  # noqa: E402

fix_openblas()
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import clip_ref  # noqa: E402

BOS, EOS, PAD = 257, 258, 259


def batch(cfg, B):
    x = torch.rand(B, cfg["channels"], cfg["height"], cfg["width"]) * 2 - 1
    T = cfg["ctx"]
    ids = torch.full((B, T), PAD, dtype=torch.long)
    eos = torch.randint(3, T, (B,))
    for b in range(B):
        ids[b, 0] = BOS
        ids[b, 1:eos[b]] = torch.randint(32, 127, (int(eos[b]) - 1,))
        ids[b, eos[b]] = EOS
    return x, ids, eos


def torch_bench(cfg, B, steps, warm, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = clip_ref.CLIP(cfg)
    decay = [p for p in m.parameters() if p.dim() >= 2]
    no_decay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.98), eps=1e-8)
    x, ids, eos = batch(cfg, B)
    params = list(m.parameters())
    return adamw_steps(params, opt, lambda: m(x, ids, eos), B, steps, warm)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genc", default=os.path.join(HERE, "..", "build", "genc"))
    ap.add_argument("--losses", default="softmax,sigmoid")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup-steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    print("OPENBLAS_CORETYPE=%s for both; batch %d, threads %d, torch %s" %
          (os.environ.get("OPENBLAS_CORETYPE", "(auto)"), a.batch, a.threads, torch.__version__))
    for loss in a.losses.split(","):
        cmd = [a.genc, "bench", "clip", "--loss", loss, "--batch", str(a.batch), "--steps", str(a.steps),
               "--warmup-steps", str(a.warmup_steps), "--threads", str(a.threads), "--json"]
        genc_vs_torch(loss, cmd, "pairs_per_s", lambda cfg: torch_bench(cfg, a.batch, a.steps, a.warmup_steps, a.threads))


if __name__ == "__main__":
    main()
