"""Parity fixture for score-entropy discrete diffusion (SEDD): noise schedules, the prior KL,
the denoising score entropy loss and its gradient, and one reverse step of each sampler.

Written from the formulas of docs/masked-diffusion.md and docs/language-models.md ("SEDD conventions") in the most literal way, in float64,
so that the C code (closed forms, Bregman-form terms, O(V) per position) is checked against an
independent derivation:
  - transition probabilities come from torch.matrix_exp(σ̄ Q) of the explicit rate matrix;
  - the loss is Σ_{y≠x_t} Q(x_t, y)[s_y − r_y log s_y + K(r_y)] term by term;
  - gradients come from autograd;
  - sampler steps use matrix_exp(−ΔQ) s and matrix_exp(ΔQ) (Tweedie) or the rates (Euler).
Conventions (sedd.h): states are the 256 bytes, BOS (257) and EOS (258); absorbing adds MASK
(256). Q[x, y] is the rate of the jump y → x. The log-score is the network output plus
log r − log N (r = 1/(e^σ̄ − 1)) for absorbing, plus 0 for uniform."""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.manual_seed(0)
D = torch.float64
V, MASK, BOS, EOS = 260, 256, 257, 258
STATES = list(range(256)) + [BOS, EOS]
N = len(STATES)
EPS, SMIN, SMAX = 1e-3, 1e-4, 20.0


def sigma(g, t):
    t = torch.as_tensor(t, dtype=D)
    if g == "absorb":
        return -torch.log(1 - (1 - EPS) * t)
    return SMIN ** (1 - t) * SMAX ** t


def dsigma(g, t):
    t = torch.as_tensor(t, dtype=D).clone().requires_grad_(True)
    (s,) = torch.autograd.grad(sigma(g, t).sum(), t)  # derivative by autograd, not by hand
    return s


MIX_T = 0.25  # probability of the t-uniform component


def t_of_sigma(g, s):
    return (1 - torch.exp(-s)) / (1 - EPS) if g == "absorb" else torch.log(s / SMIN) / math.log(SMAX / SMIN)


def mc_level(g, u, coin, lo, hi):
    """Monte-Carlo level: with probability MIX_T, t ~ U[lo, hi] on the schedule; otherwise the
    corruption probability m = 1 − e^{−σ̄} uniform between its values at t = lo (σ̄ = 0 when
    lo = 0) and t = hi. The weight is 1/((hi − lo)·density), the density being the derivative
    (by autograd) of the mixture's CDF in σ̄."""
    u = torch.as_tensor(u, dtype=D)
    s_lo = sigma(g, lo) if lo > 0 else torch.zeros((), dtype=D)
    m_lo, m_hi = 1 - torch.exp(-s_lo), 1 - torch.exp(-sigma(g, hi))
    s_t = sigma(g, lo + u * (hi - lo))
    s_m = -torch.log(1 - (m_lo + u * (m_hi - m_lo)))
    s = torch.where(torch.as_tensor(coin) < MIX_T, s_t, s_m).clone().requires_grad_(True)
    cdf_m = ((1 - torch.exp(-s)) - m_lo) / (m_hi - m_lo)
    cdf_t = ((t_of_sigma(g, s) - lo) / (hi - lo)).clamp(min=0)
    (dens,) = torch.autograd.grad(((1 - MIX_T) * cdf_m + MIX_T * cdf_t).sum(), s)
    return s.detach(), 1 / ((hi - lo) * dens)


def rate_matrix(g):
    """Q over the chain's states (list of token ids), column convention: Q[x, y] = rate y → x."""
    if g == "absorb":
        toks = STATES + [MASK]
        Q = torch.zeros(N + 1, N + 1, dtype=D)
        for j in range(N):
            Q[N, j] = 1.0
            Q[j, j] = -1.0
    else:
        toks = STATES
        Q = torch.ones(N, N, dtype=D) / N - torch.eye(N, dtype=D)
    return toks, Q


def offset(g, sig):
    return -math.log(math.expm1(sig)) - math.log(N) if g == "absorb" else 0.0


def prior_kl(g):
    toks, Q = rate_matrix(g)
    s1 = float(sigma(g, 1.0))
    P = torch.matrix_exp(s1 * Q)
    if g == "absorb":  # base: (1−ε) MASK + ε uniform over the N states
        base = torch.full((N + 1,), EPS / N, dtype=D)
        base[N] = 1 - EPS
    else:
        base = torch.full((N,), 1.0 / N, dtype=D)
    p = P[:, 0]  # from x0 = byte 0 (the same for every x0 by symmetry)
    keep = p > 0
    return float((p[keep] * (p[keep] / base[keep]).log()).sum())


def dse_loss(g, out, x0, xt, sig, w, B, T):
    """Σ_{b,i} w_b Σ_{y≠x_t} Q(x_t,y)[s_y − r_y log s_y + K(r_y)] / (B·T), and per-sequence sums."""
    toks, Q = rate_matrix(g)
    idx = {tok: k for k, tok in enumerate(toks)}
    rows = []
    for r in range(B * T):
        b = r // T
        P = torch.matrix_exp(float(sig[b]) * Q)  # P[x, y] = p_{t|0}(x | y)
        l = out[r] + offset(g, float(sig[b]))
        xi, x0i = idx[int(xt[r])], idx[int(x0[r])]
        acc = torch.zeros((), dtype=D)
        for y in toks:
            yi = idx[y]
            if yi == xi or Q[xi, yi] == 0:
                continue
            ratio = P[yi, x0i] / P[xi, x0i]
            K = ratio * (ratio.log() - 1) if ratio > 0 else torch.zeros((), dtype=D)
            acc = acc + Q[xi, yi] * (l[y].exp() - ratio * l[y] + K)
        rows.append(float(w[b]) * acc)
    rows = torch.stack(rows).reshape(B, T)
    per_seq = rows.sum(1)
    return per_seq.sum() / (B * T), per_seq


def step_probs(g, kind, o, x, sig, dsig):
    """Normalised probabilities over the V tokens of one reverse step at one position."""
    toks, Q = rate_matrix(g)
    idx = {tok: k for k, tok in enumerate(toks)}
    xi = idx[x]
    if kind == "denoise":
        dsig = sig
    s = torch.ones(len(toks), dtype=D)
    for k, tok in enumerate(toks):
        if k != xi:
            s[k] = math.exp(float(o[tok]) + offset(g, sig))
    if kind == "euler":
        p = dsig * Q[xi, :] * s  # reverse rate x → y = Q[x, y] s_y
        p[xi] = 0
        p[xi] = (1 - p.sum()).clamp(min=0)
    else:
        stag = torch.matrix_exp(-dsig * Q) @ s
        p = stag.clamp(min=0) * torch.matrix_exp(dsig * Q)[xi, :]
        if kind == "denoise" and g == "absorb":
            p[idx[MASK]] = 0
    full = torch.zeros(V, dtype=D)
    for k, tok in enumerate(toks):
        full[tok] = p[k]
    return full / full.sum()


tensors, meta = {}, {}
# schedules and the prior term
tgrid = torch.linspace(0, 1, 11, dtype=D)
for g in ("absorb", "uniform"):
    tensors[g + ".t"] = tgrid
    tensors[g + ".sigma"] = sigma(g, tgrid)
    tensors[g + ".dsigma"] = dsigma(g, tgrid)
    ugrid = (torch.arange(11, dtype=D) + 0.5) / 11  # interior: the CDFs have kinks at the ends
    tensors[g + ".u"] = ugrid
    for k, (lo, hi) in enumerate(((0.0, 1.0), (0.2, 0.7))):
        for coin in (0.2, 0.8):
            s, w = mc_level(g, ugrid, coin, lo, hi)
            key = "%s.mc%d.%s." % (g, k, "t" if coin < MIX_T else "m")
            tensors[key + "sigma"], tensors[key + "weight"] = s, w
    tensors[g + ".prior_kl"] = torch.tensor([prior_kl(g)], dtype=D)

# the loss on fixed outputs, clean and noisy tokens, levels from low to high noise
B, T = 3, 6
for g, tl in (("absorb", [0.03, 0.45, 0.96]), ("uniform", [0.03, 0.45, 0.96])):
    gen = torch.Generator().manual_seed(1 if g == "absorb" else 2)
    out = (1.5 * torch.randn(B * T, V, generator=gen)).float().to(D)
    x0 = torch.tensor(STATES)[torch.randint(0, N, (B * T,), generator=gen)]
    x0[0], x0[7] = BOS, EOS
    u = torch.rand(B * T, generator=gen)
    if g == "absorb":
        xt = torch.where(u < 0.6, torch.full_like(x0, MASK), x0)
        xt[1], xt[8] = MASK, MASK  # masked BOS/EOS positions too
    else:
        other = torch.tensor(STATES)[torch.randint(0, N, (B * T,), generator=gen)]
        xt = torch.where(u < 0.5, other, x0)
        xt[1] = (x0[1] + 1) % 256  # certainly corrupted
    t = torch.tensor(tl, dtype=D)
    sig = sigma(g, t).float().to(D)  # the C op receives float32 levels and weights
    w = dsigma(g, t).float().to(D)
    outg = out.clone().requires_grad_(True)
    loss, per_seq = dse_loss(g, outg, x0, xt, sig, w, B, T)
    loss.backward()
    pre = "dse_" + g + "."
    tensors[pre + "out"] = out
    tensors[pre + "x0"] = x0.int()
    tensors[pre + "xt"] = xt.int()
    tensors[pre + "sigma"] = sig
    tensors[pre + "weight"] = w
    tensors[pre + "loss"] = loss.detach().reshape(1)
    tensors[pre + "per_seq"] = per_seq.detach()
    tensors[pre + "grad"] = outg.grad

# one reverse step per sampler kind, at several positions and step sizes
cases = []
gen = torch.Generator().manual_seed(3)
for g in ("absorb", "uniform"):
    for kind in ("euler", "tweedie", "denoise"):
        for t, dt in ((0.9, 0.05), (0.3, 0.1), (0.05, 0.04)):
            s_now = float(sigma(g, t).float())  # as the C side reads them: float32
            dsig = float((sigma(g, t) - sigma(g, t - dt)).float())
            o = (2.0 * torch.randn(V, generator=gen)).float()
            x = MASK if g == "absorb" else STATES[int(torch.randint(0, N, (1,), generator=gen))]
            cases.append((g, kind, o, x, s_now, dsig))
for k, (g, kind, o, x, s_now, dsig) in enumerate(cases):
    pre = "step%d." % k
    meta[pre + "graph"] = g
    meta[pre + "kind"] = kind
    tensors[pre + "o"] = o
    tensors[pre + "x"] = torch.tensor([x], dtype=torch.int32)
    tensors[pre + "sigma"] = torch.tensor([s_now], dtype=D)
    tensors[pre + "dsigma"] = torch.tensor([dsig], dtype=D)
    tensors[pre + "probs"] = step_probs(g, kind, o, x, s_now, dsig)
meta["steps"] = len(cases)

save(out_path(), tensors, meta)
