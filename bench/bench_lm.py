#!/usr/bin/env python3
"""Training throughput: genc vs PyTorch on the same machine, in one run.

Both train the same transformer LM (same config, same parameter count, same AdamW + clipping)
on random bytes; genc through `genc bench lm --json`, PyTorch through the reference model of
tests/parity/genc_ref.py (the one the parity tests check genc against) with torch.optim.AdamW.
Prints tokens/s for each and the ratio genc / PyTorch.

    /usr/bin/python3 bench/bench_lm.py --genc build/genc [--dim 256 --layers 4 --heads 4 --seq 256 --batch 8]
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
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import genc_ref  # noqa: E402


def torch_bench(cfg, B, T, steps, warm, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    P = {}
    for name, shape in genc_ref.param_shapes(cfg).items():
        t = torch.ones(shape) if (".ln" in name or name.startswith("ln_f")) and name.endswith("weight") else 0.02 * torch.randn(shape)
        P[name] = t.requires_grad_(True)
    decay = [p for n, p in P.items() if p.dim() >= 2]
    no_decay = [p for n, p in P.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    x = torch.randint(0, 256, (B, T))
    y = torch.randint(0, 256, (B, T))
    params = list(P.values())
    for s in range(warm + steps):
        if s == warm:
            t0 = time.perf_counter()
        logits = genc_ref.forward(cfg, P, x)
        loss = F.cross_entropy(logits.reshape(-1, cfg["vocab"]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    el = time.perf_counter() - t0
    return steps * B * T / el, 1e3 * el / steps, sum(p.numel() for p in params)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--genc", default=os.path.join(HERE, "..", "build", "genc"))
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--pos", default="rope")
    ap.add_argument("--mlp", default="gelu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup-steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    cfg = dict(vocab=260, dim=a.dim, layers=a.layers, heads=a.heads, mlp_hidden=0, max_pos=max(1024, a.seq),
               causal=True, pos=a.pos, rope_base=10000.0, rope_scaling="none", rope_factor=1.0,
               rope_trained_len=a.seq, norm="layer", norm_eps=1e-5, mlp=a.mlp, bias=True, tie_embeddings=False)
    cmd = [a.genc, "bench", "lm", "--dim", str(a.dim), "--layers", str(a.layers), "--heads", str(a.heads),
           "--seq", str(a.seq), "--batch", str(a.batch), "--pos", a.pos, "--mlp", a.mlp, "--steps", str(a.steps),
           "--warmup-steps", str(a.warmup_steps), "--threads", str(a.threads), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    g = json.loads(out.strip().splitlines()[-1])
    tps, ms, n = torch_bench(cfg, a.batch, a.seq, a.steps, a.warmup_steps, a.threads)
    print("OPENBLAS_CORETYPE=%s for both" % os.environ.get("OPENBLAS_CORETYPE", "(auto)"))
    print("config: d=%d layers=%d heads=%d T=%d batch=%d pos=%s mlp=%s threads=%d" %
          (a.dim, a.layers, a.heads, a.seq, a.batch, a.pos, a.mlp, a.threads))
    print("genc    : %10.0f tokens/s  %8.1f ms/step  (%d params)" % (g["tokens_per_s"], g["ms_per_step"], g["params"]))
    print("pytorch : %10.0f tokens/s  %8.1f ms/step  (%d params, torch %s)" % (tps, ms, n, torch.__version__))
    print("ratio genc/pytorch: %.2fx" % (g["tokens_per_s"] / tps))
    if g["params"] != n:
        print("warning: parameter counts differ", file=sys.stderr)


if __name__ == "__main__":
    main()
