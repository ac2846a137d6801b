"""PyTorch reference for the contrastive losses (tests/test_contrastive_loss.c).

Raw embeddings u, v [B, E] are L2-normalised, then
  CLIP:   logits = exp(s) x yᵀ; loss = (CE(logits, arange) + CE(logits.T, arange)) / 2
  SigLIP: z = exp(t) x yᵀ + b; labels 2 I − 1; loss = −sum(logsigmoid(labels z)) / B
written from the papers' pseudo-code with torch.nn.functional, in float64. Two SigLIP cases:
the paper's initialisation (t = ln 10, b = −10) and a trained-looking one (t = 2, b = −1.5)
where positives and negatives both carry gradient."""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(11)
B, E = 10, 8
u0 = torch.randn(B, E, generator=g)
v0 = u0 + 0.8 * torch.randn(B, E, generator=g)  # matching rows are correlated
u0, v0 = u0.float().double(), v0.float().double()  # the values the C side reads
T = {"u": u0, "v": v0}


def leaf(a):
    return a.clone().requires_grad_(True)


u, v, s = leaf(u0), leaf(v0), leaf(torch.tensor([math.log(1 / 0.07)]))
x, y = F.normalize(u, dim=-1), F.normalize(v, dim=-1)
logits = s.exp() * x @ y.T
tgt = torch.arange(B)
loss = (F.cross_entropy(logits, tgt) + F.cross_entropy(logits.T, tgt)) / 2
loss.backward()
T.update({"clip.s": s, "clip.loss": loss.reshape(1), "clip.du": u.grad, "clip.dv": v.grad, "clip.ds": s.grad})

for name, t0, b0 in (("init", math.log(10), -10.0), ("mid", 2.0, -1.5)):
    u, v = leaf(u0), leaf(v0)
    t, b = leaf(torch.tensor([t0])), leaf(torch.tensor([b0]))
    x, y = F.normalize(u, dim=-1), F.normalize(v, dim=-1)
    z = t.exp() * x @ y.T + b
    lab = 2 * torch.eye(B) - 1
    loss = -F.logsigmoid(lab * z).sum() / B
    loss.backward()
    p = "siglip_" + name + "."
    T.update({p + "t": t, p + "b": b, p + "loss": loss.reshape(1), p + "du": u.grad, p + "dv": v.grad,
              p + "dt": t.grad, p + "db": b.grad})

save(out_path(), {k: (a.detach() if hasattr(a, "detach") else a) for k, a in T.items()})
