"""PyTorch reference for tests/test_ops_parity.c.

For every op: fixed random inputs, the forward output, and the gradients of each input under
an upstream gradient dy (a fixed random tensor shaped like the output, saved too), i.e. the
gradients of sum(out * dy). Names are "<case>.<tensor>". Sizes are chosen so that the C
kernels take their multithreaded paths (more than 16384 elements) in most cases."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.manual_seed(1234)
torch.set_num_threads(1)
T = {}


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def run(case, fn, inputs, grads=None):
    """inputs: name -> tensor (float tensors get gradients unless listed otherwise)."""
    grads = grads if grads is not None else [k for k, v in inputs.items() if v.is_floating_point()]
    leaves = {k: (leaf(v) if k in grads else v) for k, v in inputs.items()}
    out = fn(**leaves)
    dy = torch.randn_like(out)
    (out * dy).sum().backward()
    for k, v in inputs.items():
        T[f"{case}.{k}"] = v
    T[f"{case}.out"] = out
    T[f"{case}.dy"] = dy
    for k in grads:
        T[f"{case}.g{k}"] = leaves[k].grad


# ---------------------------------------------------------------- activations
x = torch.randn(8, 50, 96) * 2
run("gelu", lambda x: F.gelu(x), {"x": x})
run("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), {"x": x})
run("quickgelu", lambda x: x * torch.sigmoid(1.702 * x), {"x": x})
run("silu", lambda x: F.silu(x), {"x": x})
run("sigmoid", lambda x: torch.sigmoid(x), {"x": x})
run("tanh", lambda x: torch.tanh(x), {"x": x})
run("exp", lambda x: torch.exp(x), {"x": x})
run("log", lambda x: torch.log(x), {"x": x.abs() + 0.05})
run("elu1", lambda x: F.elu(x) + 1, {"x": x})
run("swiglu", lambda x: F.silu(x[..., :96]) * x[..., 96:], {"x": torch.randn(4, 50, 192) * 2})

# ---------------------------------------------------------------- norms
xn = torch.randn(6, 40, 96) * 2 + 0.5
wn = torch.randn(96) * 0.5 + 1
bn = torch.randn(96) * 0.5
run("layernorm", lambda x, w, b: F.layer_norm(x, (96,), w, b, eps=1e-5), {"x": xn, "w": wn, "b": bn})
run("layernorm_nobias", lambda x, w: F.layer_norm(x, (96,), w, None, eps=1e-5), {"x": xn, "w": wn})
# torch 1.13 has no nn.RMSNorm: the formula of Zhang & Sennrich / LLaMA
run("rmsnorm", lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w,
    {"x": xn, "w": wn})

# ---------------------------------------------------------------- softmax and losses
xs = torch.randn(6, 40, 70) * 3
run("softmax", lambda x: torch.softmax(x, -1), {"x": xs})
run("log_softmax", lambda x: torch.log_softmax(x, -1), {"x": xs})

R, V = 200, 300
logits = torch.randn(R, V) * 3
targets = torch.randint(0, V, (R,))
targets[torch.rand(R) < 0.2] = -100
T["ce.targets"] = targets.to(torch.int32)
run("ce", lambda logits: F.cross_entropy(logits, targets, ignore_index=-100, label_smoothing=0.1),
    {"logits": logits})
# per-row weights and an explicit normaliser (genc's API), built from reduction='none'
roww = torch.rand(R) * 2
T["ce_w.weights"] = roww
run("ce_w", lambda logits: (roww * F.cross_entropy(logits, targets, ignore_index=-100,
                                                    label_smoothing=0.1, reduction="none")).sum() / 7.5,
    {"logits": logits})
T["nll.out"] = F.cross_entropy(logits, targets, ignore_index=-100, reduction="none")

# ---------------------------------------------------------------- linear algebra
xl = torch.randn(4, 30, 64)
Wl = torch.randn(48, 64) * 0.125
bl = torch.randn(48)
run("linear", lambda x, W, b: F.linear(x, W, b), {"x": xl, "W": Wl, "b": bl})
run("linear_nobias", lambda x, W: F.linear(x, W), {"x": xl, "W": Wl})
M, K, N = 20, 24, 28
for ta in (0, 1):
    for tb in (0, 1):
        a = torch.randn(3, 4, K, M) if ta else torch.randn(3, 4, M, K)
        b = torch.randn(3, 4, N, K) if tb else torch.randn(3, 4, K, N)
        run(f"matmul{ta}{tb}",
            lambda a, b, ta=ta, tb=tb: torch.matmul(a.transpose(-1, -2) if ta else a,
                                                    b.transpose(-1, -2) if tb else b),
            {"a": a, "b": b})

# ---------------------------------------------------------------- embedding, layout, broadcast
ids = torch.randint(0, 40, (300,))
T["embedding.ids"] = ids.to(torch.int32)
run("embedding", lambda table: F.embedding(ids, table), {"table": torch.randn(40, 32)})
run("permute", lambda x: x.permute(0, 2, 1, 3), {"x": torch.randn(2, 50, 6, 32)})
run("mul_bcast", lambda a, b: a * b, {"a": torch.randn(4, 30, 64), "b": torch.randn(30, 64)})

save(out_path(), T)
