"""PyTorch reference of genc's image-text model (docs/image-text.md), written with torch.nn from
the published definitions (Radford et al. 2021; Zhai et al. 2023), independent of the C code.
Used by the parity test (clip.py) and the benchmark (bench/bench_clip.py). Parameter names are
genc's checkpoint names ("image.", "text.", "logit_scale", "logit_bias"), so state_dict() and
a genc checkpoint share their keys.

  image: x [B, C, H, W] -> p x p patches -> linear -> [class token; patches] -> pre-LN blocks,
         bidirectional, axial 2D RoPE -> LN -> class token -> proj (no bias) -> L2-normalise
  text:  ids [B, T] -> token + learned position embedding -> causal pre-LN blocks -> LN ->
         the EOS position -> proj (no bias) -> L2-normalise
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from classifier_ref import FeedForward, axial_rope_tables, rotate  # noqa: E402

VOCAB = 260  # genc's byte tokens: 256 bytes, MASK, BOS, EOS, PAD


class Attention(nn.Module):
    def __init__(self, d, heads, causal):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, cos=None, sin=None):
        B, T, D = x.shape
        H = self.heads
        q, k = self.q(x).view(B, T, H, D // H), self.k(x).view(B, T, H, D // H)
        if cos is not None:
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = self.v(x).view(B, T, H, D // H).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / math.sqrt(D // H)
        if self.causal:
            s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        return self.o((torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D))


class Block(nn.Module):
    """Pre-LN: x += Attn(LN1(x)); x += MLP(LN2(x)) with a GELU MLP of 4·dim."""

    def __init__(self, d, heads, causal):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn, self.mlp = Attention(d, heads, causal), FeedForward(d, 4 * d)

    def forward(self, x, cos=None, sin=None):
        x = x + self.attn(self.ln1(x), cos, sin)
        return x + self.mlp(self.ln2(x))


class ImageTower(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        p, C, D = cfg["patch"], cfg["channels"], cfg["dim"]
        self.cfg = cfg
        self.patch_emb = nn.Linear(C * p * p, D)
        self.cls_token = nn.Parameter(torch.zeros(D))
        self.blocks = nn.ModuleList(Block(D, cfg["heads"], False) for _ in range(cfg["image_layers"]))
        self.ln_f = nn.LayerNorm(D)
        self.proj = nn.Linear(D, cfg["embed"], bias=False)
        self.rope = axial_rope_tables(cfg["height"] // p, cfg["width"] // p, D // cfg["heads"])

    def forward(self, x):
        p, C, D = self.cfg["patch"], self.cfg["channels"], self.cfg["dim"]
        B = x.shape[0]
        # the patch embedding is a p x p convolution of stride p (weight in (channel, row, col) order)
        t = F.conv2d(x, self.patch_emb.weight.view(D, C, p, p), self.patch_emb.bias, stride=p).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.view(1, 1, D).expand(B, 1, D), t], dim=1)
        for blk in self.blocks:
            t = blk(t, *self.rope)
        return F.normalize(self.proj(self.ln_f(t)[:, 0]), dim=-1, eps=1e-12)


class TextTower(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D = cfg["dim"]
        self.tok_emb = nn.Embedding(VOCAB, D)
        self.pos_emb = nn.Embedding(cfg["ctx"], D)
        self.blocks = nn.ModuleList(Block(D, cfg["heads"], True) for _ in range(cfg["text_layers"]))
        self.ln_f = nn.LayerNorm(D)
        self.proj = nn.Linear(D, cfg["embed"], bias=False)

    def forward(self, ids, eos):
        T = ids.shape[1]
        h = self.tok_emb(ids) + self.pos_emb.weight[:T]
        for blk in self.blocks:
            h = blk(h)
        h = self.ln_f(h)[torch.arange(ids.shape[0]), eos]
        return F.normalize(self.proj(h), dim=-1, eps=1e-12)


class CLIP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.image, self.text = ImageTower(cfg), TextTower(cfg)
        self.sigmoid = cfg["loss"] == "sigmoid"
        self.logit_scale = nn.Parameter(torch.tensor([math.log(10) if self.sigmoid else math.log(1 / 0.07)]))
        if self.sigmoid:
            self.logit_bias = nn.Parameter(torch.tensor([-10.0]))

    def forward(self, x, ids, eos):
        """The configured loss of B matching (image, caption) pairs."""
        u, v = self.image(x), self.text(ids, eos)
        B = u.shape[0]
        if self.sigmoid:  # -(1/B) sum_ij log sigmoid(l_ij z_ij), z = e^t u v^T + b
            z = self.logit_scale.exp() * u @ v.T + self.logit_bias
            return -F.logsigmoid((2 * torch.eye(B) - 1) * z).sum() / B
        with torch.no_grad():  # CLIP clamps its scale to [0, ln 100]
            self.logit_scale.clamp_(0, math.log(100))
        logits = self.logit_scale.exp() * u @ v.T
        tgt = torch.arange(B)
        return (F.cross_entropy(logits, tgt) + F.cross_entropy(logits.T, tgt)) / 2
