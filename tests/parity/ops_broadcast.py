"""PyTorch reference for tests/test_ops_broadcast.c: broadcasting binary ops, axis reductions,
the unary ops added with them, l2 normalisation and mse.

Every case saves its inputs, an upstream gradient dy shaped like the output, the output, and
the gradient of sum(out * dy) for each input. Names are "<case>.<tensor>"; a binary case
"<op>_<pair>" reads its inputs and dy from "<pair>.*", shared by the four ops."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.manual_seed(4321)
torch.set_num_threads(1)
T = {}


def run(case, fn, inputs, dy=None):
    """Saves <case>.out and <case>.g<name> for every input: the gradients of sum(out * dy).
    dy is drawn (and saved as <case>.dy) unless given. Inputs are saved by the caller."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(*leaves.values())
    if dy is None:
        dy = T[f"{case}.dy"] = torch.randn(out.shape)
    (out * dy).sum().backward()
    T[f"{case}.out"] = out
    for k, v in leaves.items():
        T[f"{case}.g{k}"] = v.grad


# ---------------------------------------------------------------- broadcasting binary ops
# (a shape, b shape): trailing-dims and scalar operands (the old fast paths), one operand
# broadcast in leading, middle or trailing dims, both at once, different ranks, and two cases
# above 32768 elements so the threaded loops run.
PAIRS = {
    "same": ((6, 7), (6, 7)),
    "trail": ((4, 30, 64), (30, 64)),
    "bscalar": ((3, 4), (1,)),
    "ascalar": ((1,), (3, 4)),
    "bchw": ((3, 4, 5, 6), (3, 4, 1, 1)),
    "btd": ((3, 5, 8), (3, 1, 8)),
    "both": ((3, 1, 8), (1, 5, 8)),
    "both4": ((2, 1, 4, 1), (1, 3, 1, 5)),
    "rank": ((5, 1), (4,)),
    "mid": ((2, 3, 4), (3, 1)),
    "big": ((8, 64, 96), (8, 1, 96)),
    "bigc": ((8, 32, 16, 17), (8, 32, 1, 1)),
    "bigboth": ((1, 32, 1, 24), (8, 1, 12, 1)),
}
OPS = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}
for pair, (sa, sb) in PAIRS.items():
    a = torch.randn(sa)
    b = torch.randn(sb)
    b = torch.sign(b) * (b.abs() + 0.5)  # away from 0 for div
    dy = torch.randn(torch.broadcast_shapes(sa, sb))
    T[f"{pair}.a"], T[f"{pair}.b"], T[f"{pair}.dy"] = a, b, dy
    for op, fn in OPS.items():
        run(f"{op}_{pair}", fn, {"a": a, "b": b}, dy)

# ---------------------------------------------------------------- axis reductions
# (case, shape, axis, keepdim). The last axis (contiguous rows), axis 0 with more than 256
# columns (two column blocks), middle axes of a 4-D tensor, a 1-D input, and 65536-element
# tensors for the threaded loops.
REDUCE = [
    ("r4a0", (3, 4, 5, 6), 0, 1),
    ("r4a1", (3, 4, 5, 6), 1, 0),
    ("r4a2", (3, 4, 5, 6), -2, 1),
    ("r4a3", (3, 4, 5, 6), -1, 0),
    ("r2last", (7, 300), -1, 1),
    ("r2first", (7, 300), 0, 0),
    ("r1", (50,), 0, 0),
    ("rbiglast", (64, 1024), 1, 0),
    ("rbigfirst", (64, 1024), 0, 1),
]
for case, shape, axis, keepdim in REDUCE:
    n = torch.Size(shape).numel()
    xs = torch.randn(shape)
    # max: distinct values (a permutation), so the maximum is unique: genc sends the gradient to
    # the first maximal element, torch.amax splits it among ties
    xm = ((torch.randperm(n).float() - n / 2) / 37).reshape(shape)
    # logsumexp: large magnitudes (a naive exp overflows at 88) and a few −∞ entries
    xl = torch.randn(shape) * 40
    xl.view(-1)[::11] = float("-inf")
    T[f"{case}.x"], T[f"{case}.xm"], T[f"{case}.xl"] = xs, xm, xl
    fns = {
        "sum": (xs, lambda x: x.sum(axis, keepdim=bool(keepdim))),
        "mean": (xs, lambda x: x.mean(axis, keepdim=bool(keepdim))),
        "max": (xm, lambda x: torch.amax(x, axis, keepdim=bool(keepdim))),
        "lse": (xl, lambda x: torch.logsumexp(x, axis, keepdim=bool(keepdim))),
    }
    for op, (x, fn) in fns.items():
        run(f"{op}_{case}", fn, {"x": x})

# ---------------------------------------------------------------- unary ops
x = torch.randn(8, 50, 96) * 3
x.view(-1)[::97] = 0.0  # exact zeros: abs, relu and leaky relu have their kink there
xpos = torch.randn(8, 50, 96).abs() * 3 + 0.1
xwide = torch.randn(8, 50, 96) * 15  # softplus crosses its threshold 20 and its far left tail
UNARY = {
    "sqrt": (xpos, torch.sqrt),
    "rsqrt": (xpos, torch.rsqrt),
    "abs": (x, torch.abs),
    "square": (x, torch.square),
    "relu": (x, F.relu),
    "leaky_relu": (x, lambda t: F.leaky_relu(t, 0.1)),
    "softplus": (xwide, F.softplus),
    "log_sigmoid": (xwide, F.logsigmoid),
}
for case, (xin, fn) in UNARY.items():
    T[f"{case}.x"] = xin
    run(case, fn, {"x": xin})

# ---------------------------------------------------------------- l2 normalize, mse
xn = torch.randn(6, 40, 32)
xn[0, 0] *= 1e-5  # norm ~6e-5 < eps: the clamped branch
xn[0, 1] *= 2e-3 / xn[0, 1].norm()  # norm 2e-3, just above eps
T["l2n.x"] = xn
run("l2n", lambda x: F.normalize(x, p=2.0, dim=-1, eps=1e-3), {"x": xn})

T["mse.a"], T["mse.b"] = torch.randn(4, 30, 16), torch.randn(4, 30, 16)
run("mse", lambda a, b: F.mse_loss(a, b).reshape(1), {"a": T["mse.a"], "b": T["mse.b"]})

save(out_path(), T)
