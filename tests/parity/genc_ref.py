"""PyTorch reference of the genc transformer, written from docs/ (position-encodings.md, ops.md) and the
published formulas, independent of the C code. Used by the parity tests and the benchmark.

A model is built from a genc config dict (docs/checkpoint-format.md) and a dict of tensors
named as in a genc checkpoint."""
import math

import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- position encodings

def rope_inv_freq(d, base=10000.0, scaling="none", factor=1.0, trained_len=256, cur_len=None):
    """Inverse frequencies theta_i (i < d/2) and the cos/sin multiplier, per scaling."""
    i = torch.arange(0, d, 2, dtype=torch.float64)
    mscale = 1.0
    if scaling == "ntk":
        base = base * factor ** (d / (d - 2))
    if scaling == "dynamic-ntk" and cur_len is not None and cur_len > trained_len:
        base = base * (factor * cur_len / trained_len - (factor - 1)) ** (d / (d - 2))
    inv = 1.0 / base ** (i / d)
    if scaling == "linear":
        inv = inv / factor
    if scaling == "yarn":
        def corr_dim(rot):  # dim index whose wavelength fits `rot` rotations into L
            return d * math.log(trained_len / (rot * 2 * math.pi)) / (2 * math.log(base))
        lo = max(math.floor(corr_dim(32)), 0)
        hi = min(math.ceil(corr_dim(1)), d - 1)
        if hi == lo:
            hi += 0.001
        ramp = ((torch.arange(d // 2, dtype=torch.float64) - lo) / (hi - lo)).clamp(0, 1)
        inv = inv * (1 - ramp) + (inv / factor) * ramp
        mscale = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
    return inv, mscale


def rope_tables(pos, d, **kw):
    inv, ms = rope_inv_freq(d, **kw)
    ang = torch.as_tensor(pos, dtype=torch.float64)[:, None] * inv[None, :]
    return (torch.cos(ang) * ms).float(), (torch.sin(ang) * ms).float()


def apply_rope(x, cos, sin, interleaved):
    """x [B, T, H, d]; cos/sin [T, d/2]."""
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    if interleaved:  # pairs (2i, 2i+1)
        a, b = x[..., 0::2], x[..., 1::2]
        ya, yb = a * c - b * s, b * c + a * s
        return torch.stack([ya, yb], dim=-1).flatten(-2)
    half = x.shape[-1] // 2  # GPT-NeoX: x*[cos,cos] + rotate_half(x)*[sin,sin]
    cc, ss = torch.cat([c, c], -1), torch.cat([s, s], -1)
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cc + rot * ss


def sinusoidal(T, dim, offset=0):
    pos = torch.arange(offset, offset + T, dtype=torch.float64)[:, None]
    i = torch.arange(0, dim, 2, dtype=torch.float64)[None, :]
    ang = pos / 10000.0 ** (i / dim)
    pe = torch.zeros(T, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(ang)
    pe[:, 1::2] = torch.cos(ang)
    return pe.float()


def alibi_slopes(n):
    """Press et al.'s get_slopes."""
    def pow2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return pow2(n)
    closest = 2 ** math.floor(math.log2(n))
    return pow2(closest) + alibi_slopes(2 * closest)[0::2][: n - closest]


def t5_bucket(rel, bidirectional, num_buckets=32, max_distance=128):
    """Mesh TensorFlow / T5 relative position bucket of rel = key - query (tensor)."""
    ret = torch.zeros_like(rel)
    n = num_buckets
    if bidirectional:
        n //= 2
        ret += (rel > 0).long() * n
        r = rel.abs()
    else:
        r = (-rel).clamp(min=0)
    max_exact = n // 2
    is_small = r < max_exact
    large = max_exact + (torch.log(r.float().clamp(min=1) / max_exact) / math.log(max_distance / max_exact)
                         * (n - max_exact)).long()
    large = large.clamp(max=n - 1)
    return ret + torch.where(is_small, r, large)


# ---------------------------------------------------------------- model

def mlp_hidden(cfg):
    if cfg.get("mlp_hidden", 0) > 0:
        return cfg["mlp_hidden"]
    if cfg["mlp"] == "swiglu":
        return (8 * cfg["dim"] // 3 + 31) // 32 * 32
    return 4 * cfg["dim"]


def param_shapes(cfg):
    """Names and shapes of every parameter, in genc's naming."""
    D, V, H = cfg["dim"], cfg["vocab"], mlp_hidden(cfg)
    bias, rms = cfg.get("bias", True), cfg.get("norm", "layer") == "rms"
    out = {"tok_emb.weight": (V, D)}
    if cfg["pos"] == "learned":
        out["pos_emb.weight"] = (cfg["max_pos"], D)
    if cfg["pos"] == "t5":
        out["t5_bias.weight"] = (cfg.get("t5_buckets", 32), cfg["heads"])

    def norm(n):
        out[n + ".weight"] = (D,)
        if not rms:
            out[n + ".bias"] = (D,)

    def lin(n, i, o):
        out[n + ".weight"] = (o, i)
        if bias:
            out[n + ".bias"] = (o,)
    for l in range(cfg["layers"]):
        p = "blocks.%d." % l
        norm(p + "ln1")
        for x in "qkvo":
            lin(p + "attn." + x, D, D)
        norm(p + "ln2")
        lin(p + "mlp.fc1", D, 2 * H if cfg["mlp"] == "swiglu" else H)
        lin(p + "mlp.fc2", H, D)
    norm("ln_f")
    if not cfg.get("tie_embeddings", False):
        out["head.weight"] = (V, D)
    return out


def forward(cfg, P, ids, pos_offset=0, cur_len=None, causal=None):
    """ids [B, T] long -> logits [B, T, V]. P: dict name -> tensor."""
    B, T = ids.shape
    D, NH = cfg["dim"], cfg["heads"]
    dh = D // NH
    causal = cfg.get("causal", True) if causal is None else causal
    rms = cfg.get("norm", "layer") == "rms"
    eps = cfg.get("norm_eps", 1e-5)
    pos = torch.arange(pos_offset, pos_offset + T)
    cur_len = cur_len or pos_offset + T

    def norm(x, n):
        if rms:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * P[n + ".weight"]
        return F.layer_norm(x, (D,), P[n + ".weight"], P.get(n + ".bias"), eps)

    def lin(x, n):
        return F.linear(x, P[n + ".weight"], P.get(n + ".bias"))

    x = P["tok_emb.weight"][ids]
    if cfg["pos"] == "learned":
        x = x + P["pos_emb.weight"][pos]
    if cfg["pos"] == "sinusoidal":
        x = x + sinusoidal(T, D, pos_offset)
    bias = torch.zeros(NH, T, T)
    qi, kj = pos[:, None], pos[None, :]
    if cfg["pos"] == "alibi":
        m = torch.tensor(alibi_slopes(NH))[:, None, None]
        dist = (qi - kj) if causal else (qi - kj).abs()
        bias = -m * dist[None].float()
    if cfg["pos"] == "t5":
        b = t5_bucket(kj - qi, not causal, cfg.get("t5_buckets", 32), cfg.get("t5_max_distance", 128))
        bias = P["t5_bias.weight"][b].permute(2, 0, 1)
    mask = torch.ones(T, T, dtype=torch.bool)
    if causal:
        mask = torch.tril(mask)
    if cfg["pos"] in ("rope", "rope-half"):
        cos, sin = rope_tables(pos, dh, base=cfg.get("rope_base", 10000.0),
                               scaling=cfg.get("rope_scaling", "none"), factor=cfg.get("rope_factor", 1.0),
                               trained_len=cfg.get("rope_trained_len", 256), cur_len=cur_len)
    for l in range(cfg["layers"]):
        p = "blocks.%d." % l
        h = norm(x, p + "ln1")
        q = lin(h, p + "attn.q").view(B, T, NH, dh)
        k = lin(h, p + "attn.k").view(B, T, NH, dh)
        v = lin(h, p + "attn.v").view(B, T, NH, dh)
        if cfg["pos"] in ("rope", "rope-half"):
            q = apply_rope(q, cos, sin, cfg["pos"] == "rope")
            k = apply_rope(k, cos, sin, cfg["pos"] == "rope")
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, NH, T, dh]
        s = q @ k.transpose(-1, -2) / math.sqrt(dh) + bias[None]
        s = s.masked_fill(~mask, float("-inf"))
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + lin(a, p + "attn.o")
        h = lin(norm(x, p + "ln2"), p + "mlp.fc1")
        act = cfg["mlp"]
        if act == "gelu":
            h = F.gelu(h)
        elif act == "gelu-tanh":
            h = F.gelu(h, approximate="tanh")
        elif act == "quickgelu":
            h = h * torch.sigmoid(1.702 * h)
        else:
            g, u = h.chunk(2, -1)
            h = F.silu(g) * u
        x = x + lin(h, p + "mlp.fc2")
    x = norm(x, "ln_f")
    W = P["tok_emb.weight"] if cfg.get("tie_embeddings", False) else P["head.weight"]
    return x @ W.t()
