#!/usr/bin/env python3
"""U-Net diffusion speed: genc vs PyTorch on the same machine, in one run.

Both run the same small U-Net (tests/parity/diffusion_nets.py is the PyTorch model the parity
test checks genc against, same parameter count) on 28×28 single-channel images:
  - training: EDM loss (ln σ ~ N(−1.2, 1.2²), preconditioned F), AdamW, batch B: images/s;
  - sampling: EDM Heun over the Karras grid, 2N − 1 network evaluations for N steps: images/s.
genc runs through `genc train diffusion --net unet` (metrics.csv's images_per_s) and `genc
sample` (its reported time). Prints both figures and the ratios genc / PyTorch.

    /usr/bin/python3 bench/bench_diffusion.py --genc build/genc [--hidden 32 --batch 32 --train-steps 30
        --n 32 --steps 25 --threads 2]
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fix_openblas  # noqa: E402

fix_openblas()
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import diffusion_nets as ref  # noqa: E402

ref.DT = torch.float32
SD = 0.5


def model(hidden):
    P = ref.unet_params(1, hidden, 4 * hidden, 1)
    del P["class_emb.weight"]                     # unconditional, like the genc run
    return {k: v.float().requires_grad_(True) for k, v in P.items()}


def net(P, x, sigma, hidden):
    cin = 1 / torch.sqrt(sigma ** 2 + SD ** 2)
    return ref.unet(P, x * cin[:, None, None, None], 250 * torch.log(sigma), None, 8, 4, hidden)


def torch_train(hidden, B, steps, warm):
    P = model(hidden)
    opt = torch.optim.AdamW(list(P.values()), lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0)
    x0 = torch.rand(B, 1, 28, 28) * 2 - 1
    for s in range(warm + steps):
        if s == warm:
            t0 = time.perf_counter()
        sigma = torch.exp(-1.2 + 1.2 * torch.randn(B))
        eps = torch.randn_like(x0)
        x = x0 + sigma[:, None, None, None] * eps
        s2 = sigma[:, None, None, None] ** 2
        skip, out = SD ** 2 / (s2 + SD ** 2), sigma[:, None, None, None] * SD / torch.sqrt(s2 + SD ** 2)
        loss = ((net(P, x, sigma, hidden) - (x0 - skip * x) / out) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return B * steps / (time.perf_counter() - t0)


def torch_sample(hidden, n, N):
    P = {k: v.detach() for k, v in model(hidden).items()}
    ramp = torch.linspace(0, 1, N)
    sig = torch.cat([(80 ** (1 / 7) + ramp * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7, torch.zeros(1)])

    def D(x, s):
        sv = torch.full((x.shape[0],), float(s))
        skip, out = SD ** 2 / (s * s + SD ** 2), s * SD / math.sqrt(s * s + SD ** 2)
        return skip * x + out * net(P, x, sv, hidden)
    with torch.no_grad():
        t0 = time.perf_counter()
        x = torch.randn(n, 1, 28, 28) * sig[0]
        for i in range(N):
            s, sn = float(sig[i]), float(sig[i + 1])
            d = (x - D(x, s)) / s
            xn = x + (sn - s) * d
            if sn > 0:
                xn = x + (sn - s) * (d + (xn - D(xn, sn)) / sn) / 2
            x = xn
    return n / (time.perf_counter() - t0)


def genc_run(args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([args.genc, "train", "diffusion", "--data", "fashion-mnist", "--net", "unet", "--hidden",
                        str(args.hidden), "--batch", str(args.batch), "--steps", str(args.train_steps + args.warm),
                        "--threads", str(args.threads), "--out", d], check=True, env=env, capture_output=True)
        rows = open(os.path.join(d, "metrics.csv")).read().split("\n")[1:]
        rows = [r.split(",") for r in rows if r]
        train = float(rows[-1][4])
        r = subprocess.run([args.genc, "sample", d, "--sampler", "heun", "--steps", str(args.steps), "--n", str(args.n),
                            "--threads", str(args.threads), "--out", os.path.join(d, "s.png")], check=True, env=env,
                           capture_output=True, text=True)
        secs = float(re.search(r"in ([0-9.]+) s", r.stderr).group(1))
    return train, args.n / secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--genc", default="build/genc")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-steps", type=int, default=30)
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g_train, g_sample = genc_run(args)
    t_train = torch_train(args.hidden, args.batch, args.train_steps, min(args.warm, 3))
    t_sample = torch_sample(args.hidden, args.n, args.steps)
    print(f"U-Net (hidden {args.hidden}, 28x28), {args.threads} threads")
    print(f"training (batch {args.batch}):   genc {g_train:8.1f} images/s   PyTorch {t_train:8.1f} images/s   ratio {g_train / t_train:.2f}")
    print(f"sampling (heun, {args.steps} steps): genc {g_sample:8.2f} images/s   PyTorch {t_sample:8.2f} images/s   ratio {g_sample / t_sample:.2f}")


if __name__ == "__main__":
    main()
