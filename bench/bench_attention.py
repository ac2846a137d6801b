"""PyTorch counterpart of bench_attention.c: causal attention forward + backward written the
plain way (torch 1.13 has no scaled_dot_product_attention), layout [B, H, T, Dh].
usage: python3 bench_attention.py [B T H Dh iters threads]"""
import math
import sys
import time

import torch

B, T, H, Dh, iters, threads = 8, 256, 4, 64, 50, 2
if len(sys.argv) == 7:
    B, T, H, Dh, iters, threads = map(int, sys.argv[1:])
torch.set_num_threads(threads)
q, k, v = (torch.randn(B, H, T, Dh, requires_grad=True) for _ in range(3))
g = torch.randn(B, H, T, Dh)
mask = torch.full((T, T), float("-inf")).triu(1)
scale = 1.0 / math.sqrt(Dh)
best_f = best_fb = float("inf")
total = 0.0
for it in range(iters + 3):
    q.grad = k.grad = v.grad = None
    t0 = time.perf_counter()
    out = torch.softmax(q @ k.transpose(-1, -2) * scale + mask, dim=-1) @ v
    t1 = time.perf_counter()
    out.backward(g)
    t2 = time.perf_counter()
    if it < 3:
        continue
    best_f, best_fb = min(best_f, t1 - t0), min(best_fb, t2 - t0)
    total += t2 - t0
print("torch attention B=%d T=%d H=%d Dh=%d causal, %d threads: forward %.3f ms, "
      "forward+backward %.3f ms (best), %.3f ms (mean)" % (B, T, H, Dh, threads, best_f * 1e3,
                                                           best_fb * 1e3, total / iters * 1e3))
