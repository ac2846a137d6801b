"""PyTorch reference for the Fréchet distance (tests/test_stats.c): two random Gaussians in
F = 24 dimensions with non-commuting covariances (C = A Aᵀ/F + 0.1 I, A random). The reference
computes tr (C1 C2)^½ from the eigenvalues of C1^½ C2 C1^½, with C1^½ from torch.linalg.eigh,
in float64: the same formula as genc but an independent eigensolver (LAPACK's, not Jacobi)."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(5)
F = 24


def cov():
    a = torch.randn(F, F, generator=g)
    return a @ a.T / F + 0.1 * torch.eye(F)


def sqrtm(c):
    w, v = torch.linalg.eigh(c)
    return v @ torch.diag(w.clamp(min=0).sqrt()) @ v.T


c1, c2 = cov(), cov()
m1, m2 = torch.randn(F, generator=g), torch.randn(F, generator=g)
s1 = sqrtm(c1)
w = torch.linalg.eigvalsh(s1 @ c2 @ s1)
fd = ((m1 - m2) ** 2).sum() + torch.trace(c1) + torch.trace(c2) - 2 * w.clamp(min=0).sqrt().sum()
# stored in float32 by the fixture writer; the C side reads them back as its inputs
T = {"fd.c1": c1, "fd.c2": c2, "fd.m1": m1, "fd.m2": m2}
# recompute the reference from the float32-rounded inputs so both sides see the same numbers
r = {k: v.float().double() for k, v in T.items()}
s1 = sqrtm(r["fd.c1"])
w = torch.linalg.eigvalsh(s1 @ r["fd.c2"] @ s1)
fd = ((r["fd.m1"] - r["fd.m2"]) ** 2).sum() + torch.trace(r["fd.c1"]) + torch.trace(r["fd.c2"]) - 2 * w.clamp(min=0).sqrt().sum()
T["fd.value"] = torch.tensor([fd.item()])
T["fd.value_hi"] = torch.tensor([fd.item() - float(torch.tensor(fd.item()).float())])  # float32 residue
save(out_path(), T)
