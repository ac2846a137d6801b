"""Shared set-up of the benchmarks: give PyTorch the same OpenBLAS kernel genc uses."""
import os


def _suggest_coretype():
    """OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls back to its SSE3
    kernel; PyTorch on Debian uses the same OpenBLAS. genc re-executes itself with
    OPENBLAS_CORETYPE set in that case; give PyTorch the same fix so the comparison is fair.
    (Setting it on a CPU that OpenBLAS does recognise selects the same kernel it would pick.)"""
    try:
        flags = set(open("/proc/cpuinfo").read().split("flags")[1].split("\n")[0].split())
    except (OSError, IndexError):
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def fix_openblas():
    """Call before importing torch."""
    if "OPENBLAS_CORETYPE" not in os.environ and _suggest_coretype():
        os.environ["OPENBLAS_CORETYPE"] = _suggest_coretype()
    return os.environ.get("OPENBLAS_CORETYPE", "(auto)")


def adamw_steps(params, opt, loss_fn, batch, steps, warm):
    """`warm` untimed then `steps` timed training steps of PyTorch: loss_fn() → backward →
    clip the gradient norm at 1 → opt.step. Returns (images/s, ms/step, parameter count)."""
    import time
    import torch
    for s in range(warm + steps):
        if s == warm:
            t0 = time.perf_counter()
        loss_fn().backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    el = time.perf_counter() - t0
    return steps * batch / el, 1e3 * el / steps, sum(p.numel() for p in params)


def genc_vs_torch(name, cmd, rate_key, torch_bench):
    """Run a `genc bench ... --json` command, then torch_bench(genc's config) → (images/s,
    ms/step, parameters) for the same model, and print both and the ratio genc / PyTorch."""
    import json
    import subprocess
    import sys
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    g = json.loads(out.strip().splitlines()[-1])
    ips, ms, n = torch_bench(g["config"])  # genc's config (its defaults): PyTorch builds the same model
    print("%s:" % name)
    print("  genc    : %9.0f images/s  %8.1f ms/step  (%d params)" % (g[rate_key], g["ms_per_step"], g["params"]))
    print("  pytorch : %9.0f images/s  %8.1f ms/step  (%d params)" % (ips, ms, n))
    print("  ratio genc/pytorch: %.2fx" % (g[rate_key] / ips))
    if g["params"] != n:
        print("warning: parameter counts differ", file=sys.stderr)
