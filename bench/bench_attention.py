"""PyTorch counterpart of bench_attention.c: causal attention forward + backward written the
plain way (torch 1.13 has no scaled_dot_product_attention), layout [B, H, T, Dh].
Runs build/bench/bench_attention (genc) first, then PyTorch, and prints the ratio.
usage: python3 bench/bench_attention.py [B T H Dh iters threads]"""
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fix_openblas  # noqa: E402

CORETYPE = fix_openblas()
import torch  # noqa: E402

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

exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bench", "bench_attention")
out = subprocess.run([exe] + sys.argv[1:], check=True, capture_output=True, text=True).stdout.strip()
print(out)
genc_fb = float(out.split("forward+backward")[1].split("ms")[0])
print("OPENBLAS_CORETYPE=%s; ratio torch/genc forward+backward (best): %.1fx" % (CORETYPE, best_fb * 1e3 / genc_fb))
