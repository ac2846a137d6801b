"""PyTorch reference for the image ops (tests/test_conv.c).

Every case has fixed float32 inputs, its integer arguments as "<case>.args", a random upstream
gradient "<case>.dy" shaped like the output, the output "<case>.out" and the gradient
"<case>.g<input>" of sum(out * dy) for each input. The reference runs in float64 on the float32
inputs (saved back as float32), so a mismatch measures genc's float32 error alone."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.manual_seed(2024)
torch.set_num_threads(1)
T = {}


def run(case, fn, inputs, args):
    leaves = {k: v.double().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    dy = torch.randn(out.shape)
    (out * dy.double()).sum().backward()
    for k, v in inputs.items():
        T[f"{case}.{k}"] = v
        T[f"{case}.g{k}"] = leaves[k].grad
    T[f"{case}.args"] = torch.tensor(args, dtype=torch.int32)
    T[f"{case}.out"] = out
    T[f"{case}.dy"] = dy


def randn(*shape, std=1.0):
    return torch.randn(*shape) * std


# ---------------------------------------------------------------- conv2d
# args = [stride, pad, has_bias]. Weights ~ N(0, 1/K) keep outputs O(1) for any fan-in K.
CONV = [
    ("conv3x3", (4, 3, 9, 7), (5, 3, 3, 3), 1, 1, True),      # H ≠ W
    ("conv3x3_s2", (3, 4, 10, 9), (6, 4, 3, 3), 2, 1, True),  # odd W: the last window is clipped
    ("conv3x3_p0", (2, 3, 8, 11), (4, 3, 3, 3), 1, 0, False),
    ("conv1x1", (2, 8, 6, 5), (4, 8, 1, 1), 1, 0, False),     # direct path: no columns
    ("conv1x1_s2", (2, 8, 7, 6), (4, 8, 1, 1), 2, 0, True),
    ("conv5x3_s2p2", (2, 3, 11, 8), (4, 3, 5, 3), 2, 2, True),  # kh ≠ kw, stride 2, pad 2
    ("conv_k4s4", (2, 3, 8, 12), (5, 3, 4, 4), 4, 0, True),   # the patch-embedding shape
    ("conv_fmnist", (8, 16, 28, 28), (32, 16, 3, 3), 1, 1, True),
    # 3×3 and 5×5 "same" convolutions of 16+ channels run the direct kernel over groups of
    # images (src/ops/conv_direct.c): 5×5 pad 2; 7×7 maps in 8×8 slots, 32 images a group, so
    # 37 images are a full group and a partial one; 10 output channels, not a multiple of 4
    ("conv5x5_p2", (3, 16, 9, 8), (6, 16, 5, 5), 1, 2, True),
    ("conv_direct_groups", (37, 16, 7, 7), (10, 16, 3, 3), 1, 1, True),
    # im2col: 432 columns × 88 pixels a row: the 4 MiB column cap holds 27 rows, so the 98
    # output rows run as 4 tiles (the last one 17 rows)
    ("conv_tiled", (1, 48, 100, 90), (4, 48, 3, 3), 1, 0, True),
]
for name, xs, ws, stride, pad, bias in CONV:
    K = ws[1] * ws[2] * ws[3]
    inputs = {"x": randn(*xs), "w": randn(*ws, std=K ** -0.5)}
    if bias:
        inputs["b"] = randn(ws[0])
    run(name, lambda x, w, b=None, s=stride, p=pad: F.conv2d(x, w, b, stride=s, padding=p), inputs,
        [stride, pad, int(bias)])

# ---------------------------------------------------------------- resampling
run("upsample2x", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), {"x": randn(2, 3, 5, 4)}, [2])
run("avgpool2", lambda x: F.avg_pool2d(x, 2), {"x": randn(2, 3, 6, 8)}, [2])
run("avgpool3", lambda x: F.avg_pool2d(x, 3), {"x": randn(2, 2, 9, 6)}, [3])

# ---------------------------------------------------------------- GroupNorm: args = [groups, has_w, has_b]
xg = randn(4, 6, 5, 7) * 2 + 0.5
for groups in (1, 2, 6):
    run(f"groupnorm_g{groups}", lambda x, w, b, g=groups: F.group_norm(x, g, w, b, eps=1e-5),
        {"x": xg, "w": randn(6) * 0.5 + 1, "b": randn(6) * 0.5}, [groups, 1, 1])
x3 = randn(3, 8, 10) * 3 - 1
run("groupnorm_1d_w", lambda x, w: F.group_norm(x, 4, w, None, eps=1e-5),
    {"x": x3, "w": randn(8) * 0.5 + 1}, [4, 1, 0])
run("groupnorm_1d_plain", lambda x: F.group_norm(x, 2, None, None, eps=1e-5), {"x": x3}, [2, 0, 0])

# ---------------------------------------------------------------- space/depth: args = [f]
run("s2d2", lambda x: F.pixel_unshuffle(x, 2), {"x": randn(2, 3, 6, 8)}, [2])
run("s2d3", lambda x: F.pixel_unshuffle(x, 3), {"x": randn(1, 2, 9, 6)}, [3])
run("d2s2", lambda x: F.pixel_shuffle(x, 2), {"x": randn(2, 12, 3, 4)}, [2])
run("d2s3", lambda x: F.pixel_shuffle(x, 3), {"x": randn(1, 18, 3, 2)}, [3])

# ---------------------------------------------------------------- patches: args = [p, C, H, W]
# Linear on patchify(x) with the conv weight flattened equals conv2d(kernel = stride = p)
# reordered to [B, patches, D]: the C side computes the left side, torch the right.
P, Cp, Hp, Wp, D = 4, 3, 8, 12, 5
run("patch_linear",
    lambda x, w, b: F.conv2d(x, w, b, stride=P).flatten(2).transpose(1, 2),
    {"x": randn(2, Cp, Hp, Wp), "w": randn(D, Cp, P, P, std=(Cp * P * P) ** -0.5), "b": randn(D)},
    [P, Cp, Hp, Wp])
# unpatchify as the 6-D reshape-permute a framework with more dimensions writes
run("unpatchify",
    lambda x: x.reshape(2, Hp // P, Wp // P, Cp, P, P).permute(0, 3, 1, 4, 2, 5).reshape(2, Cp, Hp, Wp),
    {"x": randn(2, (Hp // P) * (Wp // P), Cp * P * P)}, [P, Cp, Hp, Wp])

save(out_path(), T)
