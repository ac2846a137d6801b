"""PyTorch reference for the diffusion networks (tests/test_diffusion_nets.c): the point MLP,
the small U-Net and the DiT, written here from their descriptions in include/genc/diffusion.h
with torch.nn.functional, in float64 (the C code runs in float32, so the comparison measures
genc's rounding only). Parameters are named as genc names them; every one is random and
non-zero (including the adaLN projections and output layers that genc zero-initialises), so
every path carries gradient. Each case saves the inputs, every parameter "P.<name>", the
output F, an upstream gradient dy and the gradients of sum(F·dy) for the input ("gx") and
every parameter ("g.<name>")."""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

DT = torch.float64
g = torch.Generator().manual_seed(11)
T = {}


def rnd(*shape, std=1.0):
    return (torch.randn(*shape, generator=g, dtype=DT) * std)


class Params(dict):
    def lin(self, name, i, o, gain=1.0):
        self[name + ".weight"] = rnd(o, i, std=gain / math.sqrt(i))
        self[name + ".bias"] = rnd(o, std=0.1)

    def conv(self, name, i, o, k, gain=1.0):
        self[name + ".weight"] = rnd(o, i, k, k, std=gain / math.sqrt(i * k * k))
        self[name + ".bias"] = rnd(o, std=0.1)

    def norm(self, name, c):
        self[name + ".weight"] = 1 + rnd(c, std=0.1)
        self[name + ".bias"] = rnd(c, std=0.1)


def L(P, n, x):
    return F.linear(x, P[n + ".weight"], P[n + ".bias"])


def timestep_embedding(t, dim):
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=DT) / half)
    a = t[:, None] * f[None, :]
    return torch.cat([torch.cos(a), torch.sin(a)], 1)


def embed(P, cn, labels, freq):
    e = L(P, "time.fc2", F.silu(L(P, "time.fc1", timestep_embedding(cn, freq))))
    if "class_emb.weight" in P:
        e = e + P["class_emb.weight"][labels]
    return e


# ---------------------------------------------------------------- mlp
def mlp(P, x, cn, labels, layers):
    e = embed(P, cn, labels, 64)
    h = L(P, "in", x) + e
    for i in range(layers):
        h = h + L(P, "hid.%d" % i, F.silu(h + e))
    return L(P, "out", F.silu(h))


# ---------------------------------------------------------------- unet
def res(P, n, x, se, G):
    h = F.conv2d(F.silu(F.group_norm(x, G, P[n + ".gn1.weight"], P[n + ".gn1.bias"], 1e-5)),
                 P[n + ".conv1.weight"], P[n + ".conv1.bias"], padding=1)
    h = h + L(P, n + ".temb", se)[:, :, None, None]
    h = F.conv2d(F.silu(F.group_norm(h, G, P[n + ".gn2.weight"], P[n + ".gn2.bias"], 1e-5)),
                 P[n + ".conv2.weight"], P[n + ".conv2.bias"], padding=1)
    s = F.conv2d(x, P[n + ".skip.weight"], P[n + ".skip.bias"]) if n + ".skip.weight" in P else x
    return h + s


def attn(P, x, G, heads):
    B, C, H, W = x.shape
    h = F.group_norm(x, G, P["unet.attn.gn.weight"], P["unet.attn.gn.bias"], 1e-5)
    h = h.reshape(B, C, H * W).transpose(1, 2)
    q, k, v = (L(P, "unet.attn." + n, h).view(B, H * W, heads, C // heads).transpose(1, 2) for n in "qkv")
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // heads), -1) @ v
    a = L(P, "unet.attn.o", a.transpose(1, 2).reshape(B, H * W, C))
    return x + a.transpose(1, 2).reshape(B, C, H, W)


def unet(P, x, cn, labels, G, heads, c):
    se = F.silu(embed(P, cn, labels, c))
    h = F.conv2d(x, P["unet.conv_in.weight"], P["unet.conv_in.bias"], padding=1)
    s1 = res(P, "unet.down0", h, se, G)
    s2 = res(P, "unet.down1", F.avg_pool2d(s1, 2), se, G)
    h = res(P, "unet.mid0", F.avg_pool2d(s2, 2), se, G)
    h = res(P, "unet.mid1", attn(P, h, G, heads), se, G)
    h = F.conv2d(F.interpolate(h, scale_factor=2, mode="nearest"), P["unet.up1_conv.weight"], P["unet.up1_conv.bias"], padding=1)
    h = res(P, "unet.up1", torch.cat([h, s2], 1), se, G)
    h = F.conv2d(F.interpolate(h, scale_factor=2, mode="nearest"), P["unet.up0_conv.weight"], P["unet.up0_conv.bias"], padding=1)
    h = res(P, "unet.up0", torch.cat([h, s1], 1), se, G)
    h = F.silu(F.group_norm(h, G, P["unet.gn_out.weight"], P["unet.gn_out.bias"], 1e-5))
    return F.conv2d(h, P["unet.conv_out.weight"], P["unet.conv_out.bias"], padding=1)


def unet_params(C, c, E, ncls):
    P = Params()
    P.lin("time.fc1", c, E)
    P.lin("time.fc2", E, E)
    P["class_emb.weight"] = rnd(ncls + 1, E, std=0.5)
    P.conv("unet.conv_in", C, c, 3)

    def rb(n, i, o):
        P.norm(n + ".gn1", i)
        P.conv(n + ".conv1", i, o, 3)
        P.lin(n + ".temb", E, o)
        P.norm(n + ".gn2", o)
        P.conv(n + ".conv2", o, o, 3)
        if i != o:
            P.conv(n + ".skip", i, o, 1)
    rb("unet.down0", c, c)
    rb("unet.down1", c, 2 * c)
    rb("unet.mid0", 2 * c, 2 * c)
    P.norm("unet.attn.gn", 2 * c)
    for n in "qkvo":
        P.lin("unet.attn." + n, 2 * c, 2 * c)
    rb("unet.mid1", 2 * c, 2 * c)
    P.conv("unet.up1_conv", 2 * c, 2 * c, 3)
    rb("unet.up1", 4 * c, 2 * c)
    P.conv("unet.up0_conv", 2 * c, 2 * c, 3)
    rb("unet.up0", 3 * c, c)
    P.norm("unet.gn_out", c)
    P.conv("unet.conv_out", c, C, 3)
    return P


# ---------------------------------------------------------------- dit
def patchify(x, p):
    B, C, H, W = x.shape
    x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // p) * (W // p), C * p * p)


def unpatchify(x, C, H, W, p):
    B = x.shape[0]
    x = x.reshape(B, H // p, W // p, C, p, p).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(B, C, H, W)


def dit(P, x, cn, labels, D, layers, heads, p):
    B, C, H, W = x.shape
    gw = W // p
    e = embed(P, cn, labels, D)
    ca = F.silu(e)
    h = L(P, "dit.patch_in", patchify(x, p))
    N = h.shape[1]
    idx = torch.arange(N)
    h = h + P["dit.tf.pos_emb.row.weight"][idx // gw] + P["dit.tf.pos_emb.col.weight"][idx % gw]
    for l in range(layers):
        b = "dit.tf.blocks.%d." % l
        sh1, sc1, g1, sh2, sc2, g2 = (m[:, None, :] for m in L(P, b + "ada", ca).chunk(6, -1))
        a = F.layer_norm(h, (D,), eps=1e-5) * (1 + sc1) + sh1
        q, k, v = (L(P, b + "attn." + n, a).view(B, N, heads, D // heads).transpose(1, 2) for n in "qkv")
        o = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // heads), -1) @ v).transpose(1, 2).reshape(B, N, D)
        h = h + g1 * L(P, b + "attn.o", o)
        m = F.layer_norm(h, (D,), eps=1e-5) * (1 + sc2) + sh2
        h = h + g2 * L(P, b + "mlp.fc2", F.gelu(L(P, b + "mlp.fc1", m), approximate="tanh"))
    shift, scale = (m[:, None, :] for m in L(P, "dit.tf.ln_f.ada", ca).chunk(2, -1))
    h = F.layer_norm(h, (D,), eps=1e-5) * (1 + scale) + shift
    return unpatchify(L(P, "dit.patch_out", h), C, H, W, p)


def dit_params(C, D, layers, p, gh, gw, ncls):
    P = Params()
    P.lin("time.fc1", D, D)
    P.lin("time.fc2", D, D)
    P["class_emb.weight"] = rnd(ncls + 1, D, std=0.5)
    P.lin("dit.patch_in", C * p * p, D)
    P["dit.tf.pos_emb.row.weight"] = rnd(gh, D, std=0.5)
    P["dit.tf.pos_emb.col.weight"] = rnd(gw, D, std=0.5)
    for l in range(layers):
        b = "dit.tf.blocks.%d." % l
        for n in "qkvo":
            P.lin(b + "attn." + n, D, D)
        P.lin(b + "mlp.fc1", D, 4 * D)
        P.lin(b + "mlp.fc2", 4 * D, D)
        P.lin(b + "ada", D, 6 * D, gain=0.5)
    P.lin("dit.tf.ln_f.ada", D, 2 * D, gain=0.5)
    P.lin("dit.patch_out", D, C * p * p)
    return P


def case(name, P, fn, x, cn, labels):
    for k in P:
        P[k].requires_grad_(True)
    x = x.requires_grad_(True)
    out = fn(P, x, cn, labels)
    dy = rnd(*out.shape)
    (out * dy).sum().backward()
    T[name + ".x"] = x
    T[name + ".cn"] = cn
    T[name + ".labels"] = torch.tensor(labels, dtype=torch.int32)
    T[name + ".out"] = out
    T[name + ".dy"] = dy
    T[name + ".gx"] = x.grad
    for k, v in P.items():
        T[name + ".P." + k] = v
        T[name + ".g." + k] = v.grad


if __name__ == "__main__":
    cn = torch.tensor([3.0, 611.0], dtype=DT)
    labels = [1, 3]      # class 1, and the null class (3 classes)

    # mlp: D = 2, hidden 16, 2 layers, unconditional
    P = Params()
    P.lin("time.fc1", 64, 16)
    P.lin("time.fc2", 16, 16)
    P.lin("in", 2, 16)
    P.lin("hid.0", 16, 16)
    P.lin("hid.1", 16, 16)
    P.lin("out", 16, 2)
    case("mlp", P, lambda P, x, c, l: mlp(P, x, c, None, 2), rnd(2, 2), cn, [3, 3])

    # unet: C = 1, 8×8, c = 8, GroupNorm 4 groups, 2 heads, 3 classes
    case("unet", unet_params(1, 8, 32, 3), lambda P, x, c, l: unet(P, x, c, l, 4, 2, 8), rnd(2, 1, 8, 8), cn, labels)

    # dit: C = 2, 8×8, patch 4 (2×2 grid), width 16, 2 blocks, 2 heads, 3 classes
    case("dit", dit_params(2, 16, 2, 4, 2, 2, 3), lambda P, x, c, l: dit(P, x, c, l, 16, 2, 2, 4), rnd(2, 2, 8, 8), cn, labels)

    save(out_path(), T)
