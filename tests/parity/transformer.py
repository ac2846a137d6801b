"""Parity fixture: whole transformer forward + backward for a set of configurations, and
three AdamW steps, computed by PyTorch (genc_ref.py). The C test test_transformer_parity
loads the same weights into genc and compares logits, loss and every parameter gradient."""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genc_ref  # noqa: E402
from fixture import out_path, save  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.manual_seed(0)

BASE = dict(arch="transformer", vocab=260, dim=32, layers=2, heads=4, mlp_hidden=0, max_pos=64, causal=True,
            pos="rope", rope_base=10000.0, rope_scaling="none", rope_factor=1.0, rope_trained_len=16,
            t5_buckets=32, t5_max_distance=128, norm="layer", norm_eps=1e-5, mlp="gelu", bias=True,
            tie_embeddings=False, dropout=0.0, init_std=0.02)
CASES = [
    dict(pos="none"),
    dict(pos="sinusoidal"),
    dict(pos="learned", norm="rms", mlp="swiglu"),
    dict(pos="rope"),
    dict(pos="rope-half", mlp="gelu-tanh", tie_embeddings=True),
    dict(pos="rope", rope_scaling="linear", rope_factor=2.0),
    dict(pos="rope-half", rope_scaling="ntk", rope_factor=4.0),
    dict(pos="rope", rope_scaling="dynamic-ntk", rope_factor=2.0),
    dict(pos="rope-half", rope_scaling="yarn", rope_factor=4.0, norm="rms", bias=False),
    dict(pos="alibi", mlp="quickgelu"),
    dict(pos="alibi", heads=2, dim=24, causal=False),
    dict(pos="t5"),
    dict(pos="t5", causal=False, mlp="swiglu"),
]
B, T = 2, 24  # T > rope_trained_len so dynamic NTK and the scalings are exercised

tensors, meta = {}, {}
for ci, over in enumerate(CASES):
    cfg = dict(BASE, **over)
    g = torch.Generator().manual_seed(100 + ci)
    P = {}
    for name, shape in genc_ref.param_shapes(cfg).items():
        if name.endswith(".bias") or name.startswith("t5_bias"):
            t = 0.1 * torch.randn(shape, generator=g)
        elif ".ln" in name or name.startswith("ln_f"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            t = 0.1 * torch.randn(shape, generator=g)
        P[name] = t.requires_grad_(True)
    ids = torch.randint(0, 260, (B, T), generator=g)
    tgt = torch.randint(0, 260, (B, T), generator=g)
    logits = genc_ref.forward(cfg, P, ids)
    loss = F.cross_entropy(logits.reshape(-1, 260), tgt.reshape(-1))
    loss.backward()
    pre = "case%d." % ci
    meta[pre + "config"] = json.dumps(cfg)
    tensors[pre + "ids"] = ids.int()
    tensors[pre + "targets"] = tgt.int()
    tensors[pre + "logits"] = logits.detach()
    tensors[pre + "loss"] = loss.detach().reshape(1)
    for n, t in P.items():
        tensors[pre + "param." + n] = t.detach()
        tensors[pre + "grad." + n] = t.grad
meta["cases"] = str(len(CASES))

# AdamW: three steps on a matrix (decayed) and a vector (not decayed), PyTorch semantics.
w = torch.randn(5, 7, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
b = torch.randn(7, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
tensors["adamw.w0"], tensors["adamw.b0"] = w.detach().clone(), b.detach().clone()
opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
                        lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
for s in range(3):
    gw = torch.randn(5, 7, generator=torch.Generator().manual_seed(10 + s))
    gb = torch.randn(7, generator=torch.Generator().manual_seed(20 + s))
    tensors["adamw.gw%d" % s], tensors["adamw.gb%d" % s] = gw, gb
    w.grad, b.grad = gw.clone(), gb.clone()
    opt.step()
tensors["adamw.w3"], tensors["adamw.b3"] = w.detach(), b.detach()

# Gradient clipping
gs = [torch.randn(4, 3, generator=torch.Generator().manual_seed(30)), torch.randn(6, generator=torch.Generator().manual_seed(31))]
ps = [torch.zeros_like(x).requires_grad_(True) for x in gs]
for p, x in zip(ps, gs):
    p.grad = x.clone()
norm = torch.nn.utils.clip_grad_norm_(ps, 0.5)
tensors["clip.g0"], tensors["clip.g1"] = gs[0], gs[1]
tensors["clip.out0"], tensors["clip.out1"] = ps[0].grad, ps[1].grad
tensors["clip.norm"] = norm.reshape(1)

# RoPE tables for every scaling at head dim 16, positions 0..63, L = 16, current length 64
for sc, fac in [("none", 1.0), ("linear", 2.0), ("ntk", 4.0), ("dynamic-ntk", 2.0), ("yarn", 4.0)]:
    cos, sin = genc_ref.rope_tables(torch.arange(64), 16, base=10000.0, scaling=sc, factor=fac,
                                    trained_len=16, cur_len=64)
    tensors["rope.%s.cos" % sc], tensors["rope.%s.sin" % sc] = cos, sin
tensors["sinusoidal"] = genc_ref.sinusoidal(50, 24, offset=3)

save(out_path(), tensors, meta)
