"""Parity fixture for the composable transformer pieces: a pre-LN block with cross-attention,
a DiT-style adaLN-Zero stack, ViT-style stacks with a class token and 2D RoPE (both pair
conventions), learned 2D positions, and a language-model checkpoint in the format written
before the conditioning path existed ("time_cond": true, time_emb.* tensors).

The reference is written here from the published formulas with torch.nn.functional, in
float64 (the C code runs in float32, so the comparison measures genc's rounding only):
  - attention as an explicit softmax over masked logits;
  - RoPE (1D and axial 2D) as a complex multiplication of (a, b) pairs by e^{i·angle}, not as
    the C code's cos/sin pair formula;
  - adaLN-Zero as DiT's modulate(x, shift, scale) = x·(1 + scale) + shift and gated residuals,
    chunk order (shift, scale, gate) × (attention, MLP); the final layer (shift, scale);
  - learned 2D positions row[y] + col[x], the class token in front with no position.
Parameters are named as genc names them (docs/checkpoint-format.md)."""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.manual_seed(0)
DT = torch.float64
BASE = dict(arch="transformer", vocab=0, dim=32, layers=1, heads=4, mlp_hidden=0, max_pos=64, causal=False,
            pos="none", rope_base=10000.0, rope_scaling="none", rope_factor=1.0, rope_trained_len=64,
            t5_buckets=32, t5_max_distance=128, norm="layer", norm_eps=1e-5, mlp="gelu", bias=True,
            tie_embeddings=False, dropout=0.0, init_std=0.02, cross_attn=False, ctx_dim=0, cond="none",
            cond_dim=0, cls_token=False, grid_h=0, grid_w=0)


# ---------------------------------------------------------------- parameters

def hidden(cfg):
    if cfg["mlp_hidden"]:
        return cfg["mlp_hidden"]
    return (8 * cfg["dim"] // 3 + 31) // 32 * 32 if cfg["mlp"] == "swiglu" else 4 * cfg["dim"]


def param_shapes(cfg):
    D, H = cfg["dim"], hidden(cfg)
    Dc, Dn = cfg["ctx_dim"] or D, cfg["cond_dim"] or D
    adaln, bias = cfg["cond"] == "adaln", cfg["bias"]
    out = {}

    def norm(n):
        out[n + ".weight"] = (D,)
        if cfg["norm"] != "rms":
            out[n + ".bias"] = (D,)

    def lin(n, i, o, b=bias):
        out[n + ".weight"] = (o, i)
        if b:
            out[n + ".bias"] = (o,)
    if cfg["vocab"]:
        out["tok_emb.weight"] = (cfg["vocab"], D)
    if cfg["pos"] == "learned2d":
        out["pos_emb.row.weight"] = (cfg["grid_h"], D)
        out["pos_emb.col.weight"] = (cfg["grid_w"], D)
    if cfg["cls_token"]:
        out["cls_token"] = (D,)
    for l in range(cfg["layers"]):
        p = "blocks.%d." % l
        if not adaln:
            norm(p + "ln1")
        for x in "qkvo":
            lin(p + "attn." + x, D, D)
        if cfg["cross_attn"]:
            norm(p + "ln_x")
            lin(p + "xattn.q", D, D)
            lin(p + "xattn.k", Dc, D)
            lin(p + "xattn.v", Dc, D)
            lin(p + "xattn.o", D, D)
        if not adaln:
            norm(p + "ln2")
        lin(p + "mlp.fc1", D, 2 * H if cfg["mlp"] == "swiglu" else H)
        lin(p + "mlp.fc2", H, D)
        if adaln:
            lin(p + "ada", Dn, 6 * D, True)
    if adaln:
        lin("ln_f.ada", Dn, 2 * D, True)
    else:
        norm("ln_f")
    if cfg["vocab"] and not cfg["tie_embeddings"]:
        out["head.weight"] = (cfg["vocab"], D)
    return out


def random_params(cfg, g):
    """float32 values (what the C side loads), as float64 leaves for the reference."""
    P = {}
    for n, shape in param_shapes(cfg).items():
        if n.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=g)
        elif ".ln" in n or n.startswith("ln_f.weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif n.startswith("pos_emb") or n == "cls_token":
            t = 0.5 * torch.randn(shape, generator=g)
        else:  # linears, including the adaLN projections (non-zero, so adaLN is really tested)
            t = 0.15 * torch.randn(shape, generator=g)
        P[n] = t.to(DT).requires_grad_(True)
    return P


# ---------------------------------------------------------------- pieces

def lin(P, n, x):
    return F.linear(x, P[n + ".weight"], P.get(n + ".bias"))


def norm(cfg, P, n, x, affine=True):
    eps = cfg["norm_eps"]
    w = P[n + ".weight"] if affine else None
    if cfg["norm"] == "rms":
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        return y * w if affine else y
    return F.layer_norm(x, (x.shape[-1],), w, P.get(n + ".bias") if affine else None, eps)


def act(kind, h):
    if kind == "gelu":
        return F.gelu(h)
    if kind == "gelu-tanh":
        return F.gelu(h, approximate="tanh")
    if kind == "quickgelu":
        return h * torch.sigmoid(1.702 * h)
    g, u = h.chunk(2, -1)
    return F.silu(g) * u


def attend(q, k, v, visible):
    """q [B, Tq, H, dh], k/v [B, Tk, H, dh], visible broadcastable to [B, H, Tq, Tk]."""
    B, Tq, H, dh = q.shape
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    s = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
    s = s.masked_fill(~visible, float("-inf"))
    return (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, Tq, H * dh)


def rotate(x, angle, interleaved):
    """Turn each pair of x [B, T, H, dh] by angle [T, dh/2]: (a + ib)·e^{i·angle}."""
    half = x.shape[-1] // 2
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
    else:
        a, b = x[..., :half], x[..., half:]
    z = torch.complex(a, b) * torch.polar(torch.ones_like(angle), angle)[None, :, None, :]
    if interleaved:
        return torch.stack([z.real, z.imag], -1).flatten(-2)
    return torch.cat([z.real, z.imag], -1)


def rope1d_angles(T, dh, base=10000.0):
    inv = base ** (-torch.arange(0, dh, 2, dtype=DT) / dh)
    return torch.arange(T, dtype=DT)[:, None] * inv[None, :]


def rope2d_angles(h, w, n_prefix, dh):
    """Axial 2D RoPE: the first dh/4 pairs turn by x·f_k, the next dh/4 by y·f_k,
    f_k = 100^(-4k/dh); patch p at x = p % w, y = p // w; prefix tokens do not turn."""
    f = 100.0 ** (-4.0 * torch.arange(dh // 4, dtype=DT) / dh)
    p = torch.arange(h * w)
    xs, ys = (p % w).to(DT), (p // w).to(DT)
    ang = torch.cat([xs[:, None] * f[None, :], ys[:, None] * f[None, :]], 1)
    return torch.cat([torch.zeros(n_prefix, dh // 2, dtype=DT), ang], 0)


def block(cfg, P, l, x, angles=None, interleaved=True, key_pad=None, ctx=None, ctx_pad=None, cond_act=None):
    """One pre-LN block (options: cross-attention, adaLN-Zero) on x [B, T, D]."""
    p = "blocks.%d." % l
    B, T, D = x.shape
    H = cfg["heads"]
    adaln = cfg["cond"] == "adaln"
    if adaln:
        sh1, sc1, g1, sh2, sc2, g2 = (m[:, None, :] for m in lin(P, p + "ada", cond_act).chunk(6, -1))
    h = norm(cfg, P, p + "ln1", x, affine=not adaln)
    if adaln:
        h = h * (1 + sc1) + sh1
    q, k, v = (lin(P, p + "attn." + n, h).view(B, T, H, D // H) for n in "qkv")
    if angles is not None:
        q, k = rotate(q, angles, interleaved), rotate(k, angles, interleaved)
    vis = torch.ones(1, 1, T, T, dtype=torch.bool)
    if cfg["causal"]:
        vis = torch.tril(vis)
    if key_pad is not None:
        vis = vis & key_pad.bool()[:, None, None, :]
    a = lin(P, p + "attn.o", attend(q, k, v, vis))
    x = x + (g1 * a if adaln else a)
    if cfg["cross_attn"]:
        S = ctx.shape[1]
        q = lin(P, p + "xattn.q", norm(cfg, P, p + "ln_x", x)).view(B, T, H, D // H)
        kx, vx = (lin(P, p + "xattn." + n, ctx).view(B, S, H, D // H) for n in "kv")
        vis = ctx_pad.bool()[:, None, None, :] if ctx_pad is not None else torch.ones(1, 1, 1, S, dtype=torch.bool)
        x = x + lin(P, p + "xattn.o", attend(q, kx, vx, vis))
    h = norm(cfg, P, p + "ln2", x, affine=not adaln)
    if adaln:
        h = h * (1 + sc2) + sh2
    m = lin(P, p + "mlp.fc2", act(cfg["mlp"], lin(P, p + "mlp.fc1", h)))
    return x + (g2 * m if adaln else m)


def final_norm(cfg, P, x, cond_act=None):
    if cfg["cond"] == "adaln":
        shift, scale = (m[:, None, :] for m in lin(P, "ln_f.ada", cond_act).chunk(2, -1))
        return norm(cfg, P, "ln_f", x, affine=False) * (1 + scale) + shift
    return norm(cfg, P, "ln_f", x)


def tower(cfg, P, x, cond=None):
    """A stack on hidden states x [B, N, D]: learned 2D positions, class token in front,
    blocks (2D RoPE if configured), final norm."""
    B, N, D = x.shape
    h, w = cfg["grid_h"], cfg["grid_w"]
    if cfg["pos"] == "learned2d":
        p = torch.arange(N)
        x = x + P["pos_emb.row.weight"][p // w] + P["pos_emb.col.weight"][p % w]
    n_prefix = 0
    if cfg["cls_token"]:
        x = torch.cat([P["cls_token"].expand(B, 1, D), x], 1)
        n_prefix = 1
    angles = None
    if cfg["pos"] in ("rope2d", "rope2d-half"):
        angles = rope2d_angles(h, w, n_prefix, D // cfg["heads"])
    ca = F.silu(cond) if cond is not None else None
    for l in range(cfg["layers"]):
        x = block(cfg, P, l, x, angles, cfg["pos"] == "rope2d", cond_act=ca)
    return final_norm(cfg, P, x, ca)


# ---------------------------------------------------------------- cases

tensors, meta = {}, {}


def leaf(t):
    return t.to(DT).requires_grad_(True)


def record(ci, kind, cfg, P, out, loss, inputs, extra=None):
    pre = "case%d." % ci
    meta[pre + "kind"] = kind
    meta[pre + "config"] = json.dumps(cfg)
    meta[pre + "nparams"] = str(len(P))
    tensors[pre + "out"] = out.detach()
    tensors[pre + "loss"] = loss.detach().reshape(1)
    for n, t in P.items():
        tensors[pre + "param." + n] = t.detach()
        tensors[pre + "grad." + n] = t.grad if t.grad is not None else torch.zeros_like(t)
    for n, t in inputs.items():
        tensors[pre + n] = t.detach()
        tensors[pre + "grad_" + n] = t.grad
    for n, t in (extra or {}).items():
        tensors[pre + n] = t


B = 2
cases = []

# (i) pre-LN block with cross-attention: causal self-attention with 1D RoPE and key padding,
# then cross-attention to a padded context of another width; block 1 of a 2-block model alone.
cfg = dict(BASE, layers=2, causal=True, pos="rope", cross_attn=True, ctx_dim=24)
g = torch.Generator().manual_seed(1)
P = random_params(cfg, g)
T, S = 10, 7
x, ctx = leaf(torch.randn(B, T, 32, generator=g)), leaf(torch.randn(B, S, 24, generator=g))
key_pad = torch.ones(B, T, dtype=torch.uint8)
key_pad[1, -2:] = 0
ctx_pad = torch.ones(B, S, dtype=torch.uint8)
ctx_pad[1, -3:] = 0
R = torch.randn(B, T, 32, generator=g).to(DT)
out = block(cfg, P, 1, x, rope1d_angles(T, 8), True, key_pad, ctx, ctx_pad)
loss = (out * R).sum()
loss.backward()
record(len(cases), "block", cfg, P, out, loss, {"x": x, "ctx": ctx},
       {"R": R, "key_pad": key_pad.int(), "ctx_pad": ctx_pad.int()})
cases.append("block+xattn")

# (ii) DiT-style stack: adaLN-Zero blocks with random (non-zero) modulation, GELU-tanh,
# LayerNorm eps 1e-6, conditioning of another width, final layer modulation.
cfg = dict(BASE, layers=2, cond="adaln", cond_dim=16, mlp="gelu-tanh", norm_eps=1e-6)
g = torch.Generator().manual_seed(2)
P = random_params(cfg, g)
T = 9
x, cond = leaf(torch.randn(B, T, 32, generator=g)), leaf(torch.randn(B, 16, generator=g))
R = torch.randn(B, T, 32, generator=g).to(DT)
out = tower(cfg, P, x, cond)
loss = (out * R).sum()
loss.backward()
record(len(cases), "stack", cfg, P, out, loss, {"x": x, "cond": cond}, {"R": R})
cases.append("adaln")

def vit_case(name, seed, **over):
    """A tower on patch embeddings [B, 12, 32] of a 3x4 grid (not square, so x and y cannot be
    confused) with a class token in front, read back at position 0 as well."""
    cfg = dict(BASE, cls_token=True, grid_h=3, grid_w=4, **over)
    g = torch.Generator().manual_seed(seed)
    P = random_params(cfg, g)
    x = leaf(torch.randn(B, 12, 32, generator=g))
    R, R0 = torch.randn(B, 13, 32, generator=g).to(DT), torch.randn(B, 32, generator=g).to(DT)
    out = tower(cfg, P, x)
    loss = (out * R).sum() + (out[:, 0] * R0).sum()
    loss.backward()
    record(len(cases), "vit", cfg, P, out, loss, {"x": x}, {"R": R, "R0": R0})
    cases.append(name)


# (iii) ViT-style stacks: axial 2D RoPE in both pair conventions, QuickGELU (CLIP)
for pos in ("rope2d", "rope2d-half"):
    vit_case("vit-" + pos, 3, layers=2, heads=2, pos=pos, mlp="quickgelu")
# (iv) learned 2D positions, RMSNorm, SwiGLU
vit_case("learned2d", 4, layers=1, pos="learned2d", norm="rms", mlp="swiglu")
meta["cases"] = str(len(cases))

# (v) A score-entropy LM checkpoint as genc wrote them before the conditioning path: config
# "time_cond": true and tensors time_emb.fc1/fc2; sinusoidal features of the level σ̄
# ([cos(σ̄ f_i), sin(σ̄ f_i)], f_i = 10000^(-i/(D/2))) → fc1 → SiLU → fc2, added to every token.
lcfg = dict(vocab=260, dim=32, layers=2, heads=4, mlp_hidden=0, max_pos=1024, causal=False, pos="rope",
            rope_base=10000.0, rope_scaling="none", rope_factor=1.0, rope_trained_len=64, t5_buckets=32,
            t5_max_distance=128, norm="layer", norm_eps=1e-5, mlp="gelu", bias=True, tie_embeddings=False,
            dropout=0.0, init_std=0.02, time_cond=True)
g = torch.Generator().manual_seed(5)
P = random_params(dict(BASE, **{k: v for k, v in lcfg.items() if k != "time_cond"}), g)
for n in ("fc1", "fc2"):
    P["time_emb.%s.weight" % n] = (0.15 * torch.randn(32, 32, generator=g)).to(DT)
    P["time_emb.%s.bias" % n] = (0.1 * torch.randn(32, generator=g)).to(DT)
ids = torch.randint(0, 260, (B, 12), generator=g)
sig = torch.tensor([0.3, 2.5]).to(DT)  # float32 values, as the C side reads them
freq = torch.exp(-math.log(10000.0) * torch.arange(16, dtype=DT) / 16)
feat = torch.cat([torch.cos(sig[:, None] * freq), torch.sin(sig[:, None] * freq)], 1)
temb = lin(P, "time_emb.fc2", F.silu(lin(P, "time_emb.fc1", feat)))
hs = P["tok_emb.weight"][ids] + temb[:, None, :]
lc = dict(BASE, **{k: v for k, v in lcfg.items() if k != "time_cond"})
for l in range(2):
    hs = block(lc, P, l, hs, rope1d_angles(12, 8), True)
logits = F.linear(final_norm(lc, P, hs), P["head.weight"])
tensors["legacy.ids"] = ids.int()
tensors["legacy.sigma"] = sig
tensors["legacy.logits"] = logits.detach()
train = dict(objective="sedd-absorb", data="", seq=12, batch=2, steps=10, lr=1e-3, min_lr=1e-4, weight_decay=0.1,
             clip=1.0, beta1=0.9, beta2=0.95, eps=1e-8, warmup=1, schedule="cosine", seed="1", block=4, t_lo=0.0,
             t_hi=1.0)
save(out_path() + ".sedd_legacy.safetensors", {n: t.detach() for n, t in P.items()},
     {"format": "genc-1", "family": "lm", "objective": "sedd-absorb", "config": json.dumps(lcfg),
      "train": json.dumps(train), "step": "10", "rng_data": "1 1 0", "rng_dropout": "1 2 0", "rng_noise": "1 3 0"})

save(out_path(), tensors, meta)
