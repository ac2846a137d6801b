"""Parity fixture for masked and block diffusion (docs/masked-diffusion.md), computed by
PyTorch from the published formulas, independently of the C code:

- the MDLM loss (mask rate (1-eps)t, weight 1/t) and the LLaDA loss (p = (1-eps)t + eps,
  weight 1/p) on fixed logits, clean tokens, masks and levels, with the logits' gradient;
  SUBS: the MASK logit is -inf, unmasked positions are not scored, divide by B*T;
- the per-window negative ELBO terms: MDLM's sum_masked (1/t)(-log p) + T*eps*log(V-1) and
  LLaDA's (T/l) sum_masked(-log p), in float64;
- the BD3 loss with one level per (sequence, block), and BD3-LM's training mask over
  concat(x_t, x0) built as the union of its three parts (block diagonal, offset block causal,
  block causal);
- LLaDA's get_num_transfer_tokens schedule."""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

V, MASK, BOS, EOS = 260, 256, 257, 258
EPS = 1e-3
torch.manual_seed(0)
g = torch.Generator().manual_seed(1234)
tensors = {}


def subs_nll(logits, x0):
    """-log softmax(logits with MASK removed)[x0] per row."""
    col = torch.zeros(V, dtype=torch.bool)
    col[MASK] = True
    lg = logits.masked_fill(col, float("-inf"))
    return F.cross_entropy(lg, x0, reduction="none")


def clean_tokens(B, T):
    x0 = torch.randint(0, 256, (B, T), generator=g)
    x0[:, 0] = BOS
    x0[0, T // 2] = EOS
    return x0


# ---------------------------------------------------------------- mdlm / llada losses
B, T = 3, 16
for name in ("mdlm", "llada"):
    logits = (2.0 * torch.randn(B, T, V, generator=g)).requires_grad_(True)
    x0 = clean_tokens(B, T)
    t = torch.tensor([0.07, 0.5, 0.93])
    rate = (1 - EPS) * t if name == "mdlm" else (1 - EPS) * t + EPS
    weight = 1.0 / t if name == "mdlm" else 1.0 / rate
    masked = torch.rand(B, T, generator=g) < rate[:, None]
    masked[0, 3] = True  # every row has something to score
    xt = torch.where(masked, torch.full_like(x0, MASK), x0)
    nll = subs_nll(logits.reshape(-1, V), x0.reshape(-1)).reshape(B, T)
    loss = (nll * masked * weight[:, None]).sum() / (B * T)
    loss.backward()
    pre = name + "."
    tensors[pre + "logits"] = logits.detach()
    tensors[pre + "x0"] = x0.int()
    tensors[pre + "xt"] = xt.int()
    tensors[pre + "t"] = t
    tensors[pre + "loss"] = loss.detach().reshape(1)
    tensors[pre + "grad"] = logits.grad
    nll64 = subs_nll(logits.detach().double().reshape(-1, V), x0.reshape(-1)).reshape(B, T)
    if name == "mdlm":  # continuous-time NELBO sample + prior KL at t = 1
        nel = (nll64 * masked).sum(1) / t.double() + T * EPS * math.log(V - 1)
    else:  # LLaDA's estimator: exactly l masked, (T/l) sum
        l = torch.randint(1, T + 1, (B,), generator=g)
        xt2 = x0.clone()
        for b in range(B):
            idx = torch.randperm(T, generator=g)[: l[b]]
            xt2[b, idx] = MASK
        m2 = xt2 == MASK
        nel = (T / l.double()) * (nll64 * m2).sum(1)
        tensors[pre + "xt_exact"] = xt2.int()
    # computed in float64, stored as float32 (the C test compares at 1e-5 relative)
    tensors[pre + "nelbo"] = nel.float()

# ---------------------------------------------------------------- bd3 loss
B, L, blk = 2, 16, 4
nb = L // blk
logits = (2.0 * torch.randn(B, L, V, generator=g)).requires_grad_(True)
x0 = clean_tokens(B, L)
t = torch.rand(B, nb, generator=g) * 0.9 + 0.05
rate = ((1 - EPS) * t).repeat_interleave(blk, dim=1)
masked = torch.rand(B, L, generator=g) < rate
masked[1, 5] = True
xt = torch.where(masked, torch.full_like(x0, MASK), x0)
nll = subs_nll(logits.reshape(-1, V), x0.reshape(-1)).reshape(B, L)
loss = (nll * masked / t.repeat_interleave(blk, dim=1)).sum() / (B * L)
loss.backward()
tensors["bd3.logits"] = logits.detach()
tensors["bd3.x0"] = x0.int()
tensors["bd3.xt"] = xt.int()
tensors["bd3.t"] = t
tensors["bd3.loss"] = loss.detach().reshape(1)
tensors["bd3.grad"] = logits.grad


# ---------------------------------------------------------------- bd3 training mask
def bd3_mask(L, blk):
    n = torch.arange(2 * L)
    q, k = n[:, None], n[None, :]
    q_clean, k_clean = q >= L, k >= L
    bq = torch.where(q_clean, (q - L) // blk, q // blk)
    bk = torch.where(k_clean, (k - L) // blk, k // blk)
    diagonal = (bq == bk) & (q_clean == k_clean)  # own block, same half
    offset_causal = (bq > bk) & k_clean & ~q_clean  # noisy query, clean earlier blocks
    causal = (bq >= bk) & k_clean & q_clean  # clean half: block causal
    return (diagonal | offset_causal | causal).to(torch.uint8)


for L, blk in [(12, 4), (12, 3), (12, 1), (12, 12), (8, 2)]:
    tensors["bd3mask.%d.%d" % (L, blk)] = bd3_mask(L, blk).int()


# ---------------------------------------------------------------- transfer schedule
def num_transfer(M, steps):
    base, rem = M // steps, M % steps
    k = torch.full((steps,), base, dtype=torch.int64)
    k[:rem] += 1
    return k


for M, s in [(32, 32), (32, 8), (10, 4), (7, 3), (5, 5), (64, 7)]:
    tensors["transfer.%d.%d" % (M, s)] = num_transfer(M, s).int()

save(out_path(), tensors)
