"""PyTorch reference for attention, RoPE, ALiBi slopes and T5 buckets (test_attention_parity.c).

Attention is computed the plain way, softmax(q kᵀ·scale + bias + mask) v, in float64 with
autograd; gradients are taken against a saved random upstream gradient. Each case stores its
options as a vector "<case>.opts" = [causal, block, q_offset, has_mask, has_pad, alibi, t5, scale]
(t5: 0 none, 1 bidirectional, 2 causal) so the C side reads them instead of repeating them."""
import math

import torch

from fixture import out_path, save

torch.manual_seed(0)
OUT = {}


# ---------------------------------------------------------------- reference formulas

def get_slopes(n):
    """ALiBi slopes as in Press et al.'s reference implementation."""
    def get_slopes_power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        ratio = start
        return [start * ratio ** i for i in range(n)]

    if math.log2(n).is_integer():
        return get_slopes_power_of_2(n)
    closest_power_of_2 = 2 ** math.floor(math.log2(n))
    return (get_slopes_power_of_2(closest_power_of_2)
            + get_slopes(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """Hugging Face T5Attention._relative_position_bucket (Mesh TensorFlow's formula)."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(
        relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


def rotate_half(x):
    """GPT-NeoX / Hugging Face Llama: pairs (i, i + d/2)."""
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x):
    """GPT-J / RoFormer / Meta LLaMA: pairs (2i, 2i+1)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


# ---------------------------------------------------------------- attention cases

def attention_case(name, B, Tq, Tk, H, Dh, causal=0, block=0, q_offset=0, mask=False, pad=False,
                   alibi=False, t5=0, scale=0.0):
    q = torch.randn(B, Tq, H, Dh)
    k = torch.randn(B, Tk, H, Dh)
    v = torch.randn(B, Tk, H, Dh)
    g = torch.randn(B, Tq, H, Dh)
    qd, kd, vd = (t.double().requires_grad_() for t in (q, k, v))
    sc = scale if scale else 1.0 / math.sqrt(Dh)
    s = torch.einsum("bihd,bjhd->bhij", qd, kd) * sc  # [B, H, Tq, Tk]
    pos_q = q_offset + torch.arange(Tq).view(Tq, 1)
    pos_k = torch.arange(Tk).view(1, Tk)
    vis = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
    if causal:
        vis &= pos_k <= pos_q
    if block:
        vis &= (pos_k // block) <= (pos_q // block)
    m = None
    if mask:
        m = torch.rand(Tq, Tk) < 0.7
        m[Tq // 2] = False  # a query that sees nothing: output and gradients are zero
        vis &= m
    kp = None
    if pad:
        kp = torch.ones(B, Tk, dtype=torch.bool)
        kp[-1, Tk - 5:] = False
        kp[0, 0] = False
        vis &= kp.view(B, 1, 1, Tk)
    slopes = None
    if alibi:
        slopes = torch.tensor(get_slopes(H), dtype=torch.float32)
        s = s - slopes.double().view(1, H, 1, 1) * (pos_q - pos_k).abs().double()
    table = None
    if t5:
        table = torch.randn(32, H)
        td = table.double().requires_grad_()
        bucket = relative_position_bucket(pos_k - pos_q, bidirectional=(t5 == 1))  # rel = key − query
        s = s + td[bucket].permute(2, 0, 1).unsqueeze(0)
    s = s.masked_fill(~vis, float("-inf"))
    any_vis = vis.any(-1, keepdim=True)
    s = torch.where(any_vis, s, torch.zeros_like(s))
    p = torch.softmax(s, dim=-1) * any_vis
    out = torch.einsum("bhij,bjhd->bihd", p, vd)
    out.backward(g.double())

    pre = name + "."
    OUT[pre + "opts"] = torch.tensor([causal, block, q_offset, int(mask), int(pad), int(alibi), t5, scale],
                                     dtype=torch.float32)
    OUT[pre + "q"], OUT[pre + "k"], OUT[pre + "v"], OUT[pre + "g"] = q, k, v, g
    OUT[pre + "out"] = out.float()
    OUT[pre + "dq"], OUT[pre + "dk"], OUT[pre + "dv"] = qd.grad.float(), kd.grad.float(), vd.grad.float()
    if m is not None:
        OUT[pre + "mask"] = m.float()
    if kp is not None:
        OUT[pre + "pad"] = kp.float()
    if slopes is not None:
        OUT[pre + "slopes"] = slopes
    if table is not None:
        OUT[pre + "t5"] = table
        OUT[pre + "dt5"] = td.grad.float()


CASES = [
    dict(name="causal", B=2, Tq=37, Tk=37, H=3, Dh=16, causal=1),
    dict(name="causal_long", B=1, Tq=150, Tk=150, H=2, Dh=64, causal=1),
    dict(name="kvcache", B=2, Tq=5, Tk=70, H=2, Dh=32, causal=1, q_offset=65),
    dict(name="bidir_pad", B=2, Tq=37, Tk=37, H=2, Dh=32, pad=True),
    dict(name="block", B=2, Tq=40, Tk=40, H=2, Dh=32, block=8),
    dict(name="mask", B=2, Tq=37, Tk=45, H=2, Dh=32, mask=True),
    dict(name="alibi", B=1, Tq=70, Tk=70, H=6, Dh=32, causal=1, alibi=True),
    dict(name="t5_bidir", B=2, Tq=37, Tk=37, H=3, Dh=32, t5=1),
    dict(name="t5_causal", B=1, Tq=70, Tk=70, H=2, Dh=32, causal=1, t5=2),
    dict(name="scale", B=1, Tq=20, Tk=20, H=2, Dh=24, scale=0.25),
]
for c in CASES:
    attention_case(**c)
OUT["cases"] = torch.tensor([len(CASES)], dtype=torch.float32)

# ---------------------------------------------------------------- RoPE
B, T, H, Dh = 2, 19, 3, 32
x = torch.randn(B, T, H, Dh)
gx = torch.randn(B, T, H, Dh)
inv_freq = 1.0 / (10000 ** (torch.arange(0, Dh, 2).float() / Dh))
ang = torch.outer(torch.arange(T).float(), inv_freq)  # [T, Dh/2]
cos, sin = ang.cos(), ang.sin()
OUT["rope.x"], OUT["rope.g"], OUT["rope.cos"], OUT["rope.sin"] = x, gx, cos, sin
for conv in ("half", "interleaved"):
    xd = x.double().requires_grad_()
    if conv == "half":
        c = torch.cat((cos, cos), -1).double().view(1, T, 1, Dh)
        s = torch.cat((sin, sin), -1).double().view(1, T, 1, Dh)
        y = xd * c + rotate_half(xd) * s
    else:
        c = cos.repeat_interleave(2, -1).double().view(1, T, 1, Dh)
        s = sin.repeat_interleave(2, -1).double().view(1, T, 1, Dh)
        y = xd * c + rotate_every_two(xd) * s
    y.backward(gx.double())
    OUT["rope.%s.y" % conv] = y.float()
    OUT["rope.%s.dx" % conv] = xd.grad.float()

# ---------------------------------------------------------------- ALiBi slopes, T5 buckets
for n in (8, 12, 6):
    OUT["alibi.%d" % n] = torch.tensor(get_slopes(n), dtype=torch.float32)
rel = torch.arange(-300, 301)
OUT["t5.rel"] = rel.to(torch.int32)
OUT["t5.bidirectional"] = relative_position_bucket(rel, True, 32, 128).to(torch.int32)
OUT["t5.causal"] = relative_position_bucket(rel, False, 32, 128).to(torch.int32)

save(out_path(), OUT)
