"""PyTorch reference for continuous diffusion (tests/test_diffusion_schedule.c).

Written from the papers' formulas, in float64, independently of the C code:
- DDPM β schedules: linear 1e-4..0.02 (Ho et al. 2020), cosine (Nichol & Dhariwal 2021, eq. 17);
- VP σ(t) (Song et al. 2021), flow σ = t/(1-t), Karras σ grid (Karras et al. 2022, eq. 5);
- diffusers' DDPM step spacings (linspace, leading, trailing: Lin et al. 2024, Table 2);
- the parameterisation targets (ε, x0, v, velocity, EDM F);
- whole runs of the deterministic samplers (DDIM η=0, Euler, Heun, DPM-Solver++(2M),
  flow Euler, flow Heun) with the closed-form denoiser of a two-component Gaussian mixture,
  written as in each paper (k-diffusion style for σ-space samplers);
- single steps of the stochastic samplers (DDPM fixed-small and fixed-large variance, DDIM
  with η > 0, Euler-ancestral, Heun with EDM's churn) with given noise."""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import out_path, save  # noqa: E402

torch.set_default_dtype(torch.float64)
T = {}
NT = 1000

# ---- DDPM schedules
betas = torch.linspace(1e-4, 0.02, NT)
T["abar.linear"] = torch.cumprod(1 - betas, 0)
f = lambda u: torch.cos((u / NT + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
steps = torch.arange(NT + 1, dtype=torch.float64)
bc = torch.clamp(1 - f(steps[1:]) / f(steps[:-1]), max=0.999)
T["abar.cosine"] = torch.cumprod(1 - bc, 0)

# ---- continuous σ(t)
tv = torch.tensor([1e-5, 1e-3, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0])
T["vp.t"] = tv
T["vp.sigma"] = torch.sqrt(torch.exp(0.5 * 19.9 * tv ** 2 + 0.1 * tv) - 1)
tf = torch.tensor([0.0, 0.1, 0.5, 0.9, 0.99])
T["flow.t"] = tf
T["flow.sigma"] = tf / (1 - tf)
T["flow.shift3"] = 3 * tf / (1 + 2 * tf)

# ---- Karras grid
for n in (2, 10, 40):
    ramp = torch.linspace(0, 1, n)
    mx, mn = 80 ** (1 / 7), 0.002 ** (1 / 7)
    T[f"karras.{n}"] = torch.cat([(mx + ramp * (mn - mx)) ** 7, torch.zeros(1)])

# ---- diffusers spacings
for n in (10, 50, 7):
    T[f"linspace.{n}"] = torch.tensor(np.linspace(0, NT - 1, n).round()[::-1].copy(), dtype=torch.int32)
    T[f"leading.{n}"] = torch.tensor((np.arange(0, n) * (NT // n)).round()[::-1].copy(), dtype=torch.int32)
    T[f"trailing.{n}"] = torch.tensor(np.round(np.arange(NT, 0, -NT / n)).astype(np.int64) - 1, dtype=torch.int32)

# ---- parameterisation targets at a few (α, β): x0, ε → F
g = torch.Generator().manual_seed(7)
x0 = torch.randn(64, generator=g) * 0.5
eps = torch.randn(64, generator=g)
T["pred.x0"] = x0
T["pred.eps"] = eps
sd = 0.5
AB = [(0.9, math.sqrt(1 - 0.81)), (1.0, 2.5), (0.3, 0.7), (0.05, 0.998)]
for i, (a, b) in enumerate(AB):
    r = math.sqrt(a * a + b * b)
    sig = b / a
    cs, co, ci = sd ** 2 / (sig ** 2 + sd ** 2), sig * sd / math.sqrt(sig ** 2 + sd ** 2), 1 / math.sqrt(sig ** 2 + sd ** 2)
    x = a * x0 + b * eps
    T[f"pred.{i}.ab"] = torch.tensor([a, b])
    T[f"pred.{i}.x"] = x
    T[f"pred.{i}.eps"] = eps
    T[f"pred.{i}.x0"] = x0
    T[f"pred.{i}.v"] = (a * eps - b * x0) / r       # Salimans & Ho, normalised to the VP ray
    T[f"pred.{i}.velocity"] = eps - x0
    T[f"pred.{i}.edm"] = (x0 - cs * (x / a)) / co   # D = c_skip x̂ + c_out F
    T[f"pred.{i}.edm_cin"] = torch.tensor([ci / a])

# ---- deterministic samplers with the exact denoiser of a 2-component mixture in 2D
W = torch.tensor([0.3, 0.7])
MU = torch.tensor([[-1.0, 0.5], [1.0, -0.25]])
S = torch.tensor([0.3, 0.5])


def D(x, a, b):
    v = a * a * S ** 2 + b * b                               # [K]
    d2 = ((x[:, None, :] - a * MU[None]) ** 2).sum(-1)       # [n, K]
    logr = torch.log(W) - 0.5 * 2 * torch.log(v) - 0.5 * d2 / v
    r = torch.softmax(logr, -1)
    m = MU[None] + (a * S ** 2 / v)[None, :, None] * (x[:, None, :] - a * MU[None])
    return (r[..., None] * m).sum(1)


def vp(s):
    return (0.0, 1.0) if math.isinf(s) else (1 / math.sqrt(1 + s * s), s / math.sqrt(1 + s * s))


def run_euler(x, sig):
    x = x * sig[0]
    for i in range(len(sig) - 1):
        d = (x - D(x, 1.0, sig[i])) / sig[i]
        x = x + (sig[i + 1] - sig[i]) * d
    return x


def run_heun(x, sig):
    x = x * sig[0]
    for i in range(len(sig) - 1):
        d = (x - D(x, 1.0, sig[i])) / sig[i]
        x2 = x + (sig[i + 1] - sig[i]) * d
        if sig[i + 1] > 0:
            d2 = (x2 - D(x2, 1.0, sig[i + 1])) / sig[i + 1]
            x2 = x + (sig[i + 1] - sig[i]) * (d + d2) / 2
        x = x2
    return x


def run_ddim(x, sig):
    # DDIM eq. 12 with η = 0 in ᾱ notation
    x = x * vp(sig[0])[1]
    for i in range(len(sig) - 1):
        ab, abn = vp(sig[i])[0] ** 2, vp(sig[i + 1])[0] ** 2
        x0 = D(x, math.sqrt(ab), math.sqrt(1 - ab))
        e = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
        x = math.sqrt(abn) * x0 + math.sqrt(1 - abn) * e
    return x


def run_dpmpp(x, sig):
    # k-diffusion's sample_dpmpp_2m, in x̂ = x/α (σ space): t = −ln σ
    x = x * sig[0]
    old, hl = None, None
    for i in range(len(sig) - 1):
        den = D(x, 1.0, sig[i])
        if sig[i + 1] == 0:
            x = den
            break
        t, tn = -math.log(sig[i]), -math.log(sig[i + 1])
        h = tn - t
        if old is None:
            x = (sig[i + 1] / sig[i]) * x - math.expm1(-h) * den
        else:
            r = hl / h
            dd = (1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old
            x = (sig[i + 1] / sig[i]) * x - math.expm1(-h) * dd
        old, hl = den, h
    return x


def run_flow(x, ts, heun):
    # dx/dt = ε̂ − x̂0 on x = (1−t) x0 + t ε
    def vel(x, t):
        x0 = D(x, 1 - t, t)
        return (x - x0) / t
    for i in range(len(ts) - 1):
        v = vel(x, ts[i])
        h = ts[i + 1] - ts[i]
        if heun and ts[i + 1] > 0:
            x = x + h * (v + vel(x + h * v, ts[i + 1])) / 2
        else:
            x = x + h * v
    return x


x_init = torch.randn(32, 2, generator=g)
T["samp.x"] = x_init
ks = [float(s) for s in T["karras.10"]]
T["samp.sig"] = torch.tensor(ks)
T["samp.euler"] = run_euler(x_init, ks)
T["samp.heun"] = run_heun(x_init, ks)
T["samp.ddim"] = run_ddim(x_init, ks)
T["samp.dpmpp"] = run_dpmpp(x_init, ks)
ts = [3 * (1 - i / 8) / (1 + 2 * (1 - i / 8)) for i in range(9)]
T["samp.flow_t"] = torch.tensor(ts)
T["samp.flow_euler"] = run_flow(x_init, ts, False)
T["samp.flow_heun"] = run_flow(x_init, ts, True)



# ---- single steps of the stochastic samplers, with given unit noise z, each as its paper
# writes it. cfg = [i, eta, large_variance, S_churn, S_tmin, S_tmax, S_noise, noisy] on the
# Karras grid ks (N = 10); x is the state at σ_i in the sampler's normalisation.
def f32(t):
    return t.float().double()   # inputs as the fixture stores them, so both sides start equal


def step_ddpm(x, z, s, sn, large):
    # Ho et al. 2020, eqs. 6-7, between ᾱ = ᾱ_t and ᾱ' = ᾱ_{t-1} of a strided grid
    ab, abn = vp(s)[0] ** 2, vp(sn)[0] ** 2
    alpha_t = ab / abn
    beta_t = 1 - alpha_t
    x0 = D(x, math.sqrt(ab), math.sqrt(1 - ab))
    mean = (math.sqrt(abn) * beta_t / (1 - ab)) * x0 + (math.sqrt(alpha_t) * (1 - abn) / (1 - ab)) * x
    var = beta_t if large else (1 - abn) / (1 - ab) * beta_t
    return mean + math.sqrt(var) * z if sn > 0 else mean, sn > 0


def step_ddim(x, z, s, sn, eta):
    # Song et al. 2021, eq. 12 with σ_t(η) of eq. 16
    ab, abn = vp(s)[0] ** 2, vp(sn)[0] ** 2
    x0 = D(x, math.sqrt(ab), math.sqrt(1 - ab))
    e = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
    st = eta * math.sqrt((1 - abn) / (1 - ab)) * math.sqrt(1 - ab / abn) if sn > 0 else 0.0
    return math.sqrt(abn) * x0 + math.sqrt(1 - abn - st ** 2) * e + st * z, st > 0


def step_euler_a(x, z, s, sn):
    # k-diffusion's get_ancestral_step (η = 1) and sample_euler_ancestral
    up = min(sn, math.sqrt(sn ** 2 * (s ** 2 - sn ** 2) / s ** 2))
    down = math.sqrt(sn ** 2 - up ** 2)
    d = (x - D(x, 1.0, s)) / s
    return x + d * (down - s) + z * up, up > 0


def step_heun(x, z, s, sn, N, churn, tmin, tmax, snoise):
    # Karras et al. 2022, Algorithm 2, lines 4-10
    gamma = min(churn / N, math.sqrt(2) - 1) if tmin <= s <= tmax else 0.0
    th = s + gamma * s
    xh = x + math.sqrt(th ** 2 - s ** 2) * snoise * z
    d = (xh - D(xh, 1.0, th)) / th
    xn = xh + (sn - th) * d
    if sn != 0:
        d2 = (xn - D(xn, 1.0, sn)) / sn
        xn = xh + (sn - th) * (0.5 * d + 0.5 * d2)
    return xn, gamma > 0


inf = float("inf")
STEPS = {  # name: (i, eta, large, churn, tmin, tmax, snoise)
    "ddpm": (2, 0, 0, 0, 0, inf, 1), "ddpm_last": (9, 0, 0, 0, 0, inf, 1),
    "ddpm_large": (4, 0, 1, 0, 0, inf, 1),
    "ddim_eta": (3, 0.5, 0, 0, 0, inf, 1), "ddim_eta1": (6, 1.0, 0, 0, 0, inf, 1),
    "euler_a": (2, 0, 0, 0, 0, inf, 1), "euler_a_last": (9, 0, 0, 0, 0, inf, 1),
    "heun_churn": (3, 0, 0, 40, 0.05, 50, 1.007), "heun_churn_out": (0, 0, 0, 40, 0.05, 50, 1.007),
    "heun_churn_small": (5, 0, 0, 2, 0, inf, 1), "heun_churn_last": (9, 0, 0, 40, 0, inf, 1),
}
for name, (i, eta, large, churn, tmin, tmax, snoise) in STEPS.items():
    s, sn = ks[i], ks[i + 1]
    vp_space = name.startswith("dd")
    a, b = vp(s) if vp_space else (1.0, s)
    x0 = torch.randn(32, 2, generator=g) * 0.8
    x = f32(a * x0 + b * torch.randn(32, 2, generator=g))
    z = f32(torch.randn(32, 2, generator=g))
    if name.startswith("ddpm"):
        out, noisy = step_ddpm(x, z, s, sn, large)
    elif name.startswith("ddim"):
        out, noisy = step_ddim(x, z, s, sn, eta)
    elif name.startswith("euler_a"):
        out, noisy = step_euler_a(x, z, s, sn)
    else:
        out, noisy = step_heun(x, z, s, sn, len(ks) - 1, churn, tmin, tmax, snoise)
    T[f"step.{name}.cfg"] = torch.tensor([i, eta, large, churn, tmin, min(tmax, 1e30), snoise, float(noisy)])
    T[f"step.{name}.x"] = x
    T[f"step.{name}.z"] = z
    T[f"step.{name}.out"] = out

save(out_path(), T)
