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
