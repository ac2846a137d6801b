"""PyTorch reference for genc's normalizing flows (tests/test_flows_parity.c).

Small NICE, RealNVP and Glow flows (and a Glow on 2D points) with random weights, written
from the layer definitions in docs/flows.md with torch ops: squeeze is pixel_unshuffle, the
1x1 convolution is assembled from its LU factors, couplings use tanh-bounded scales. For
8-bit inputs v with noise u the fixture holds log p(v + u) per example (flow log-likelihood
plus the preprocessing's log-Jacobian minus D ln 256) and the gradient of
loss = -mean(log p) / D for every trained tensor.

Glow's learned prior (prior_net "conv", Kingma & Dhariwal 2018): a factored-out piece z is
scored by N(mu, exp(logs)^2) with (mu, logs) = conv3x3(the kept half) split on channels,
the last piece by learned per-channel (mu, logs) ("prior.top")."""
import math

import torch
import torch.nn.functional as F

from fixture import out_path, save

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)   # the reference in double; genc runs in float

# name: (arch, coupling, prior, pre, C, H, W, depth, levels, width, hidden, toy, prior_net)
CASES = {
    "nice": ("nice", "additive", "logistic", "none", 1, 4, 4, 4, 1, 8, 2, False, "none"),
    "realnvp": ("realnvp", "affine", "gaussian", "logit", 1, 4, 4, 2, 2, 8, 3, False, "none"),
    "glow": ("glow", "affine", "gaussian", "center", 1, 4, 4, 2, 2, 8, 3, False, "none"),
    "glow_prior": ("glow", "affine", "gaussian", "center", 1, 16, 16, 2, 3, 8, 3, False, "conv"),
    "glow2d": ("glow", "affine", "gaussian", "none", 2, 1, 1, 2, 1, 8, 2, True, "none"),
    "glow2d_prior": ("glow", "affine", "gaussian", "none", 2, 1, 1, 2, 1, 8, 2, True, "conv"),
}
ALPHA = 0.05


def plan(arch, C, H, W, depth, levels, toy):
    """[(kind, C, H, W, parity)] in genc's order."""
    out = []
    shape = [C, H, W]

    def push(kind, parity=0):
        c, h, w = shape
        out.append((kind, c, h, w, parity))
        if kind == "squeeze":
            shape[:] = [c * 4, h // 2, w // 2]
        elif kind == "split":
            shape[0] = c - c // 2
        elif kind == "flatten":
            shape[:] = [c * h * w, 1, 1]

    if toy or arch == "nice":
        if not toy:
            push("squeeze")
            push("flatten")
        for k in range(depth):
            if arch == "glow":
                push("actnorm"), push("invconv"), push("ch", 0)
            else:
                push("ch", k % 2)
        if arch == "nice":
            push("scale")
    elif arch == "realnvp":
        for lv in range(levels):
            for k in range(depth):
                push("cb", k % 2)
            if lv == levels - 1:
                break
            push("squeeze")
            for k in range(depth):
                push("ch", k % 2)
            push("split")
    else:
        for lv in range(levels):
            push("squeeze")
            for k in range(depth):
                push("actnorm"), push("invconv"), push("ch", 0)
            if lv < levels - 1:
                push("split")
    return out


def out_shape(layers):
    """The shape that leaves the last layer: the last latent piece."""
    kind, c, h, w, _ = layers[-1]
    if kind == "squeeze":
        return c * 4, h // 2, w // 2
    if kind == "split":
        return c - c // 2, h, w
    if kind == "flatten":
        return c * h * w, 1, 1
    return c, h, w


def coupling_dims(kind, C, parity, affine):
    if kind == "cb":
        cin = ct = C
    else:
        ca, cb = C // 2, C - C // 2
        cin, ct = (cb, ca) if parity else (ca, cb)
    return cin, ct, 2 * ct if affine else ct


def make_params(layers, affine, width, hidden, prior_net="none"):
    P = {}
    r = lambda *s: (0.2 * torch.randn(*s)).requires_grad_()
    if prior_net == "conv":
        P["prior.top"] = r(2 * out_shape(layers)[0])
    for i, (kind, C, H, W, parity) in enumerate(layers):
        p = "layers.%d." % i
        if kind == "split" and prior_net == "conv":
            P[p + "prior.weight"], P[p + "prior.bias"] = r(2 * (C // 2), C - C // 2, 3, 3), r(2 * (C // 2))
        elif kind == "actnorm":
            P[p + "bias"], P[p + "logs"] = r(C), r(C)
        elif kind == "invconv":
            P[p + "lower"], P[p + "upper"], P[p + "log_s"] = r(C, C), r(C, C), r(C)
            P[p + "perm"] = torch.eye(C)[torch.randperm(C)]
            P[p + "sign"] = torch.where(torch.rand(C) < 0.5, -1.0, 1.0)
        elif kind == "scale":
            P[p + "s"] = r(C * H * W)
        elif kind in ("ch", "cb"):
            cin, ct, cout = coupling_dims(kind, C, parity, affine)
            mlp = H == 1 and W == 1
            n = hidden + 1 if mlp else 3
            if affine:
                P[p + "scale"] = (1.0 + 0.2 * torch.randn(ct)).requires_grad_()
            for j in range(n):
                i_ = cin if j == 0 else width
                o_ = cout if j == n - 1 else width
                k = 0 if mlp else (1 if j == 1 else 3)
                P[p + "net.%d.weight" % j] = r(o_, i_) if mlp else r(o_, i_, k, k)
                P[p + "net.%d.bias" % j] = r(o_)
    return P


def net(P, p, x, mlp, n):
    h = x.reshape(x.shape[0], -1) if mlp else x
    for j in range(n):
        w, b = P[p + "net.%d.weight" % j], P[p + "net.%d.bias" % j]
        h = F.linear(h, w, b) if mlp else F.conv2d(h, w, b, padding=w.shape[2] // 2)
        if j < n - 1:
            h = torch.relu(h)
    return h.reshape(x.shape[0], -1, 1, 1) if mlp else h


def prior(z, kind):
    z = z.reshape(z.shape[0], -1)
    if kind == "gaussian":
        return (-0.5 * z * z - 0.5 * math.log(2 * math.pi)).sum(1)
    return (-F.softplus(z) - F.softplus(-z)).sum(1)


def gaussian(z, mean, logs):
    """log N(z; mean, exp(logs)^2) summed per example."""
    e = (z - mean) * torch.exp(-logs)
    return (-0.5 * e * e - logs - 0.5 * math.log(2 * math.pi)).reshape(z.shape[0], -1).sum(1)


def log_prob(P, layers, x, affine, hidden, prior_kind, prior_net="none"):
    B = x.shape[0]
    logdet = torch.zeros(B)
    lp = torch.zeros(B)
    for i, (kind, C, H, W, parity) in enumerate(layers):
        p = "layers.%d." % i
        if kind == "squeeze":
            x = F.pixel_unshuffle(x, 2)
        elif kind == "flatten":
            x = x.reshape(B, -1, 1, 1)
        elif kind == "split":
            keep = C - C // 2
            if prior_net == "conv":
                ml = F.conv2d(x[:, :keep], P[p + "prior.weight"], P[p + "prior.bias"], padding=1)
                lp = lp + gaussian(x[:, keep:], ml[:, : C // 2], ml[:, C // 2:])
            else:
                lp = lp + prior(x[:, keep:], prior_kind)
            x = x[:, :keep]
        elif kind == "actnorm":
            x = (x + P[p + "bias"].view(1, C, 1, 1)) * torch.exp(P[p + "logs"].view(1, C, 1, 1))
            logdet = logdet + H * W * P[p + "logs"].sum()
        elif kind == "invconv":
            L = torch.tril(P[p + "lower"], -1) + torch.eye(C)
            U = torch.triu(P[p + "upper"], 1) + torch.diag(P[p + "sign"] * torch.exp(P[p + "log_s"]))
            Wm = P[p + "perm"] @ L @ U
            x = F.conv2d(x, Wm.view(C, C, 1, 1))
            logdet = logdet + H * W * P[p + "log_s"].sum()
        elif kind == "scale":
            x = x * torch.exp(P[p + "s"].view(1, C, H, W))
            logdet = logdet + P[p + "s"].sum()
        else:
            cin, ct, cout = coupling_dims(kind, C, parity, affine)
            mlp = H == 1 and W == 1
            n = hidden + 1 if mlp else 3
            if kind == "cb":
                hh, ww = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
                keep = (((hh + ww) % 2) == parity).to(x.dtype).view(1, 1, H, W)
                h = net(P, p, x * keep, mlp, n)
                free = 1 - keep
                xt = x
            else:
                a, b = x[:, : C // 2], x[:, C // 2:]
                xc, xt = (b, a) if parity else (a, b)
                h = net(P, p, xc, mlp, n)
                free = 1.0
            if affine:
                s = torch.tanh(h[:, :ct]) * P[p + "scale"].view(1, ct, 1, 1) * free
                t = h[:, ct:] * free
                y = xt * torch.exp(s) + t
                logdet = logdet + s.reshape(B, -1).sum(1)
            else:
                y = xt + h * free
            if kind == "cb":
                x = y
            else:
                x = torch.cat([y, xc] if parity else [xc, y], 1)
    if prior_net == "conv":
        n = x.shape[1]
        top = P["prior.top"]
        return lp + gaussian(x, top[:n].view(1, n, 1, 1), top[n:].view(1, n, 1, 1)) + logdet
    return lp + prior(x, prior_kind) + logdet


def preprocess(v, u, pre, toy):
    if toy:
        return v, torch.zeros(v.shape[0])
    x = (v + u) / 256
    D = x[0].numel()
    if pre == "logit":
        p = ALPHA + (1 - ALPHA) * x
        y = torch.log(p) - torch.log1p(-p)
        lj = (math.log(1 - ALPHA) - torch.log(p) - torch.log1p(-p)).reshape(x.shape[0], -1).sum(1)
    else:
        y = x - 0.5 if pre == "center" else x
        lj = torch.zeros(x.shape[0])
    return y, lj - D * math.log(256)


def main():
    out = {}
    B = 3
    for name, (arch, coupling, prior_kind, pre, C, H, W, depth, levels, width, hidden, toy, pnet) in CASES.items():
        affine = coupling == "affine"
        layers = plan(arch, C, H, W, depth, levels, toy)
        P = make_params(layers, affine, width, hidden, pnet)
        if toy:
            v = torch.randn(B, C, H, W)
            u = torch.zeros(B, C, H, W)
        else:
            v = torch.randint(0, 256, (B, C, H, W)).double()
            u = torch.rand(B, C, H, W)
        y, lj = preprocess(v, u, pre, toy)
        logp = log_prob(P, layers, y, affine, hidden, prior_kind, pnet) + lj
        D = C * H * W
        loss = -logp.mean() / (1 if toy else D)
        loss.backward()
        out[name + ".v"], out[name + ".u"], out[name + ".logp"] = v, u, logp.detach()
        for k, t in P.items():
            out[name + "." + k] = t.detach()
            if t.grad is not None:
                out[name + ".grad." + k] = t.grad
    save(out_path(), out)


if __name__ == "__main__":
    main()
