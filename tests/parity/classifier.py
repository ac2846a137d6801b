"""Parity fixture for the image classifier: for each case the config (JSON, as genc stores it),
fixed weights under genc's tensor names, a batch of images and labels, and PyTorch's logits,
penultimate features, mean cross-entropy and the gradient of every parameter, from the
reference nets of classifier_ref.py. tests/test_classifier_parity.c loads the weights into
genc by name and compares all of it."""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classifier_ref  # noqa: E402
from fixture import out_path, save  # noqa: E402

torch.set_default_dtype(torch.float32)

BASE = dict(channels=1, height=28, width=28, classes=10, hidden=256, conv=[32, 64], groups=8, fc=128,
            patch=4, dim=64, layers=4, heads=4, mlp_hidden=256, norm_eps=1e-5)
CASES = [
    dict(net="mlp", hidden=48),
    dict(net="cnn"),                                    # the default CNN
    dict(net="cnn", conv=[6, 12], groups=3, fc=20, classes=7, height=12, width=8),
    dict(net="vit"),                                    # the default ViT
    dict(net="vit", patch=7, dim=24, layers=2, heads=2, mlp_hidden=40, classes=5),
]
B = 5

tensors, meta = {}, {}
for ci, over in enumerate(CASES):
    cfg = dict(BASE, **over)
    g = torch.Generator().manual_seed(1000 + ci)
    net = classifier_ref.build(cfg)
    # Fixed weights at the scale training gives them: O(1/sqrt(fan_in)) matrices, small biases,
    # norm gains near 1 (so a wrong gain or bias shows).
    with torch.no_grad():
        for name, t in net.named_parameters():
            if ".norm." in name or name.startswith("ln") or ".ln" in name:
                t.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(t.shape, generator=g))
            elif name.endswith("bias") or name == "cls_token":
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(fan_in))
    # images in the documented input range [-1, 1]
    x = torch.rand(B, cfg["channels"], cfg["height"], cfg["width"], generator=g) * 2 - 1
    y = torch.randint(0, cfg["classes"], (B,), generator=g)
    logits, feats = net(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    pre = "case%d." % ci
    meta[pre + "config"] = json.dumps(cfg)
    tensors[pre + "x"] = x
    tensors[pre + "labels"] = y.int()
    tensors[pre + "logits"] = logits.detach()
    tensors[pre + "features"] = feats.detach()
    tensors[pre + "loss"] = loss.detach().reshape(1)
    for name, t in net.named_parameters():
        tensors[pre + "param." + name] = t.detach()
        tensors[pre + "grad." + name] = t.grad
meta["cases"] = str(len(CASES))
save(out_path(), tensors, meta)
