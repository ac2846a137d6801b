"""PyTorch reference of genc's image classifiers (docs/classifier.md), written with torch.nn and
torch.nn.functional from the published definitions, independent of the C code. Used by the
parity test (classifier.py) and the benchmark (bench/bench_classifier.py). Parameter names are
genc's checkpoint names, so state_dict() and a genc checkpoint share their keys."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Axial 2D RoPE convention (docs/classifier.md): head dim d, frequencies f_k = 100^(-4k/d) for
# k < d/4; rotation pair k < d/4 turns by col * f_k, pair d/4 + k by row * f_k; the class
# token is not rotated. Pairs are adjacent elements (2i, 2i+1) when INTERLEAVED, else
# (i, i + d/2).
INTERLEAVED = True


class MLP(nn.Module):
    """784 -> hidden -> hidden -> classes with ReLU; features: the second hidden layer."""

    def __init__(self, cfg):
        super().__init__()
        n_in = cfg["channels"] * cfg["height"] * cfg["width"]
        self.fc1 = nn.Linear(n_in, cfg["hidden"])
        self.fc2 = nn.Linear(cfg["hidden"], cfg["hidden"])
        self.head = nn.Linear(cfg["hidden"], cfg["classes"])

    def forward(self, x):
        h = F.relu(self.fc1(x.flatten(1)))
        f = F.relu(self.fc2(h))
        return self.head(f), f


class Stage(nn.Module):
    """conv 3x3 (padding 1) -> GroupNorm -> ReLU -> 2x2 average pool."""

    def __init__(self, cin, cout, groups, eps):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.GroupNorm(groups, cout, eps=eps)

    def forward(self, x):
        return F.avg_pool2d(F.relu(self.norm(self.conv(x))), 2)


class CNN(nn.Module):
    """Stages of conv-GroupNorm-ReLU-pool, flatten, fc -> ReLU (the features), linear head."""

    def __init__(self, cfg):
        super().__init__()
        chans = [cfg["channels"]] + cfg["conv"]
        self.stages = nn.ModuleList(
            Stage(chans[i], chans[i + 1], cfg["groups"], cfg["norm_eps"]) for i in range(len(cfg["conv"])))
        s = 2 ** len(cfg["conv"])
        self.fc = nn.Linear(chans[-1] * (cfg["height"] // s) * (cfg["width"] // s), cfg["fc"])
        self.head = nn.Linear(cfg["fc"], cfg["classes"])

    def forward(self, x):
        for st in self.stages:
            x = st(x)
        f = F.relu(self.fc(x.flatten(1)))
        return self.head(f), f


def axial_rope_tables(gh, gw, d, base=100.0):
    """cos/sin [1 + gh*gw, d/2]: row 0 is the class token (angle 0), then patches row-major."""
    k = torch.arange(d // 4, dtype=torch.float64)
    f = base ** (-4.0 * k / d)
    rows = torch.arange(gh, dtype=torch.float64).repeat_interleave(gw)
    cols = torch.arange(gw, dtype=torch.float64).repeat(gh)
    ang = torch.cat([cols[:, None] * f[None, :], rows[:, None] * f[None, :]], dim=1)
    ang = torch.cat([torch.zeros(1, d // 2, dtype=torch.float64), ang], dim=0)
    return torch.cos(ang).float(), torch.sin(ang).float()


def rotate(x, cos, sin):
    """x [B, T, H, d]; rotation of each pair by the angle in cos/sin [T, d/2]."""
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    if INTERLEAVED:
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * c - b * s, b * c + a * s], dim=-1).flatten(-2)
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat([a * c - b * s, b * c + a * s], dim=-1)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, cos, sin):
        B, T, D = x.shape
        H = self.heads
        q = rotate(self.q(x).view(B, T, H, D // H), cos, sin).transpose(1, 2)
        k = rotate(self.k(x).view(B, T, H, D // H), cos, sin).transpose(1, 2)
        v = self.v(x).view(B, T, H, D // H).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // H), dim=-1) @ v  # bidirectional
        return self.o(a.transpose(1, 2).reshape(B, T, D))


class FeedForward(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-LN: x += Attn(LN1(x)); x += MLP(LN2(x))."""

    def __init__(self, d, heads, hidden, eps):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.attn, self.mlp = Attention(d, heads), FeedForward(d, hidden)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.ln1(x), cos, sin)
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """Patches p x p -> linear embedding, a class token in front, pre-LN blocks with axial 2D
    RoPE, final LayerNorm; the features are the class token's final state; linear head."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        p, C, D = cfg["patch"], cfg["channels"], cfg["dim"]
        self.patch_emb = nn.Linear(C * p * p, D)
        self.cls_token = nn.Parameter(torch.zeros(D))
        self.blocks = nn.ModuleList(
            Block(D, cfg["heads"], cfg["mlp_hidden"], cfg["norm_eps"]) for _ in range(cfg["layers"]))
        self.ln_f = nn.LayerNorm(D, eps=cfg["norm_eps"])
        self.head = nn.Linear(D, cfg["classes"])

    def forward(self, x):
        cfg = self.cfg
        p, C, D = cfg["patch"], cfg["channels"], cfg["dim"]
        B, gh, gw = x.shape[0], cfg["height"] // p, cfg["width"] // p
        # the linear patch embedding is a p x p convolution with stride p (weight [D, C*p*p] in
        # (channel, row, col) order = conv weight [D, C, p, p])
        w = self.patch_emb.weight.view(D, C, p, p)
        t = F.conv2d(x, w, self.patch_emb.bias, stride=p).flatten(2).transpose(1, 2)  # [B, gh*gw, D]
        t = torch.cat([self.cls_token.view(1, 1, D).expand(B, 1, D), t], dim=1)
        cos, sin = axial_rope_tables(gh, gw, D // cfg["heads"])
        for blk in self.blocks:
            t = blk(t, cos, sin)
        f = self.ln_f(t)[:, 0]
        return self.head(f), f


NETS = {"mlp": MLP, "cnn": CNN, "vit": ViT}



def build(cfg):
    """The net of a genc config dict."""
    return NETS[cfg["net"]](cfg)
