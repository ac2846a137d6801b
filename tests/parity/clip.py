"""Parity fixture for the whole image-text model: for each case the config (JSON, as genc stores
it), fixed weights under genc's tensor names, a batch of images in [-1, 1] and captions (BOS,
bytes, EOS, PAD), and PyTorch's image and text embeddings, loss and the gradient of every
parameter, from the reference model of clip_ref.py. tests/test_clip_parity.c loads the
weights into genc by name and compares all of it. One softmax and one sigmoid case, with
different widths, head counts, patch sizes and depths; the sigmoid case sets t = 2, b = -1.5
(a trained-looking point where positives and negatives both carry gradient)."""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_ref  # noqa: E402
from fixture import out_path, save  # noqa: E402

BASE = dict(channels=1, height=28, width=28, ctx=48)
CASES = [
    dict(loss="softmax", patch=7, dim=32, heads=2, image_layers=2, text_layers=1, embed=16, B=6),
    dict(loss="sigmoid", patch=4, dim=16, heads=1, image_layers=1, text_layers=2, embed=8, B=5,
         scale=2.0, bias=-1.5),
]
BOS, EOS, PAD = 257, 258, 259

tensors, meta = {}, {}
for ci, over in enumerate(CASES):
    cfg = dict(BASE, **over)
    B = cfg.pop("B")
    scale, bias = cfg.pop("scale", None), cfg.pop("bias", None)
    g = torch.Generator().manual_seed(2000 + ci)
    m = clip_ref.CLIP(cfg)
    # weights at the scale training gives them: O(1/sqrt(fan_in)) matrices, small biases, norm
    # gains near 1, embeddings O(1) (so a wrong gain, bias or position shows)
    with torch.no_grad():
        for name, t in m.named_parameters():
            if name.startswith("logit_"):
                continue
            if ".ln" in name:
                t.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(t.shape, generator=g))
            elif name.endswith("bias") or name.endswith("cls_token") or "_emb.weight" in name and "patch" not in name:
                t.copy_((0.1 if name.endswith("bias") else 1.0) * torch.randn(t.shape, generator=g))
            else:
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(t[0].numel()))
        if scale is not None:
            m.logit_scale.fill_(scale)
            m.logit_bias.fill_(bias)
    x = torch.rand(B, cfg["channels"], cfg["height"], cfg["width"], generator=g) * 2 - 1
    ids = torch.full((B, cfg["ctx"]), PAD, dtype=torch.long)
    eos = torch.randint(3, cfg["ctx"], (B,), generator=g)
    for b in range(B):
        ids[b, 0] = BOS
        ids[b, 1:eos[b]] = torch.randint(32, 127, (int(eos[b]) - 1,), generator=g)
        ids[b, eos[b]] = EOS
    u, v = m.image(x), m.text(ids, eos)
    loss = m(x, ids, eos)
    loss.backward()
    pre = "case%d." % ci
    meta[pre + "config"] = json.dumps(cfg)
    tensors[pre + "x"] = x
    tensors[pre + "ids"] = ids.int()
    tensors[pre + "eos"] = eos.int()
    tensors[pre + "image_emb"] = u.detach()
    tensors[pre + "text_emb"] = v.detach()
    tensors[pre + "loss"] = loss.detach().reshape(1)
    for name, t in m.named_parameters():
        tensors[pre + "param." + name] = t.detach()
        tensors[pre + "grad." + name] = t.grad
meta["cases"] = str(len(CASES))
save(out_path(), tensors, meta)
