"""Parity fixture for BLIP's text side (include/genc/blip.h): the image-grounded text encoder
(causal self-attention, cross-attention to image tokens, MLP, pre-LN, read at EOS by the ITM
head) and the caption decoder, which has its own self-attention and shares every other tensor
with the encoder (token and position embeddings, cross-attention, MLP, norms, the tied head).

Written here from the formulas in float64 with torch.nn.functional (the C code runs in float32).
The loss adds both models' outputs, so a shared tensor's gradient is the sum of its two uses:
  loss = Σ decoder_logits·R1 + Σ itm_logits·R2
Parameters are named as genc names them (docs/checkpoint-format.md)."""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.manual_seed(0)
DT = torch.float64
B, T, S, D, H, L, V = 2, 10, 5, 16, 2, 2, 260
BOS, EOS, PAD = 257, 258, 259


def shapes():
    out = {"text.tok_emb.weight": (V, D), "text.pos_emb.weight": (T, D),
           "text.ln_f.weight": (D,), "text.ln_f.bias": (D,), "itm_head.weight": (2, D), "itm_head.bias": (2,)}

    def lin(n, i, o):
        out[n + ".weight"] = (o, i)
        out[n + ".bias"] = (o,)

    def norm(n):
        out[n + ".weight"] = (D,)
        out[n + ".bias"] = (D,)
    for l in range(L):
        for who in ("text", "decoder"):  # the decoder's own: its self-attention
            p = "%s.blocks.%d." % (who, l)
            norm(p + "ln1")
            for x in "qkvo":
                lin(p + "attn." + x, D, D)
        p = "text.blocks.%d." % l
        norm(p + "ln_x")
        for x in "qkvo":
            lin(p + "xattn." + x, D, D)
        norm(p + "ln2")
        lin(p + "mlp.fc1", D, 4 * D)
        lin(p + "mlp.fc2", 4 * D, D)
    return out


def params(g):
    P = {}
    for n, s in shapes().items():
        if n.endswith(".bias"):
            t = 0.1 * torch.randn(s, generator=g)
        elif ".ln" in n:
            t = 1.0 + 0.1 * torch.randn(s, generator=g)
        elif "emb" in n:
            t = 0.5 * torch.randn(s, generator=g)
        else:
            t = 0.2 * torch.randn(s, generator=g)
        P[n] = t.float().to(DT).requires_grad_(True)
    return P


def lin(P, n, x):
    return F.linear(x, P[n + ".weight"], P[n + ".bias"])


def ln(P, n, x):
    return F.layer_norm(x, (D,), P[n + ".weight"], P[n + ".bias"], 1e-5)


def attend(q, k, v, causal):
    """q [B, Tq, D], k/v [B, Tk, D] → softmax(q·kᵀ/√dh [+ causal mask])·v over H heads"""
    Bq, Tq, _ = q.shape
    Tk = k.shape[1]
    q, k, v = (t.reshape(Bq, -1, H, D // H).transpose(1, 2) for t in (q, k, v))
    s = q @ k.transpose(-1, -2) / math.sqrt(D // H)
    if causal:
        s = s.masked_fill(~torch.tril(torch.ones(Tq, Tk, dtype=torch.bool)), float("-inf"))
    return (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(Bq, Tq, D)


def text_model(P, ids, ctx, sa):
    """sa: whose self-attention ("text" = the encoder, "decoder"); all else is the encoder's"""
    x = P["text.tok_emb.weight"][ids] + P["text.pos_emb.weight"][:T]
    for l in range(L):
        s, p = "%s.blocks.%d." % (sa, l), "text.blocks.%d." % l
        h = ln(P, s + "ln1", x)
        x = x + lin(P, s + "attn.o", attend(lin(P, s + "attn.q", h), lin(P, s + "attn.k", h), lin(P, s + "attn.v", h), True))
        h = ln(P, p + "ln_x", x)
        x = x + lin(P, p + "xattn.o", attend(lin(P, p + "xattn.q", h), lin(P, p + "xattn.k", ctx), lin(P, p + "xattn.v", ctx), False))
        x = x + lin(P, p + "mlp.fc2", F.gelu(lin(P, p + "mlp.fc1", ln(P, p + "ln2", x))))
    return ln(P, "text.ln_f", x)


g = torch.Generator().manual_seed(1)
P = params(g)
texts = [b"a bag.", b"a coat!"]
ids = torch.full((B, T), PAD, dtype=torch.long)
eos = torch.zeros(B, dtype=torch.long)
for b, t in enumerate(texts):
    ids[b, 0] = BOS
    ids[b, 1:1 + len(t)] = torch.tensor(list(t))
    ids[b, 1 + len(t)] = EOS
    eos[b] = 1 + len(t)
ctx = torch.randn(B, S, D, generator=g).float().to(DT).requires_grad_(True)

logits = text_model(P, ids, ctx, "decoder") @ P["text.tok_emb.weight"].t()  # tied head
itm = lin(P, "itm_head", text_model(P, ids, ctx, "text")[torch.arange(B), eos])
logits = logits.reshape(B * T, V)
R1 = torch.randn(logits.shape, generator=g).float().to(DT)
R2 = torch.randn(itm.shape, generator=g).float().to(DT)
loss = (logits * R1).sum() + (itm * R2).sum()
loss.backward()

tensors = {"ids": ids.int(), "eos": eos.int(), "ctx": ctx.detach(), "R1": R1, "R2": R2,
           "logits": logits.detach(), "itm": itm.detach(), "loss": loss.detach().reshape(1),
           "grad_ctx": ctx.grad}
for n, t in P.items():
    tensors["param." + n] = t.detach()
    tensors["grad." + n] = t.grad
save(out_path(), tensors, {"nparams": len(P)})
