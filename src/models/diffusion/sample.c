/* Samplers over the one denoiser D(x; α, β). Each keeps its state in the normalisation its
 * paper writes it in (genc/diffusion.h): σ-space x̂ = x/α for Euler, Euler-ancestral and
 * Heun; variance preserving (α² + β² = 1) for DDPM, DDIM and DPM-Solver++(2M); the flow path
 * (α + β = 1) for the flow samplers. All grids end at σ = 0, where every normalisation has
 * α = 1, β = 0: the state is the sample. */
#include "genc/diffusion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[GENC_DS_COUNT] = {"ddpm", "ddim", "euler", "euler-a", "heun", "dpmpp-2m",
                                                      "flow-euler", "flow-heun"};

const char *genc_diffusion_sampler_name(genc_sampler_kind k) { return k >= 0 && k < GENC_DS_COUNT ? NAMES[k] : "?"; }

int genc_diffusion_sampler_parse(const char *s, genc_sampler_kind *k) {
    for (int i = 0; i < GENC_DS_COUNT; i++)
        if (strcmp(s, NAMES[i]) == 0) { *k = (genc_sampler_kind)i; return GENC_OK; }
    return genc_set_error("unknown sampler '%s' (ddpm, ddim, euler, euler-a, heun, dpmpp-2m, flow-euler, flow-heun)", s);
}

int genc_sampler_is_deterministic(genc_sampler_kind k, double eta, double churn) {
    switch (k) {
    case GENC_DS_DDPM:
    case GENC_DS_EULER_A: return 0;
    case GENC_DS_DDIM: return eta == 0;
    case GENC_DS_HEUN: return churn == 0;
    default: return 1;
    }
}

void genc_sampler_opts_default(genc_sampler_opts *o, genc_sampler_kind k) {
    memset(o, 0, sizeof *o);
    o->kind = k;
    o->s_tmax = INFINITY;
    o->s_noise = 1;
}

/* The (α, β) of noise level σ in each normalisation; σ = ∞ is (0, 1) in the finite ones. */
static void vp_ab(double s, double *a, double *b) {
    if (isinf(s)) { *a = 0; *b = 1; return; }
    *a = 1 / sqrt(1 + s * s);
    *b = s * *a;
}
static void flow_ab(double s, double *a, double *b) {
    if (isinf(s)) { *a = 0; *b = 1; return; }
    *a = 1 / (1 + s);
    *b = s * *a;
}

typedef struct run {
    const genc_denoiser *d;
    int64_t n, m;             /* points, floats */
    int dim;
    float *x0, *aux, *old;    /* scratch; old carries DPM-Solver++'s previous D across steps */
    double h_prev;            /* DPM-Solver++(2M): the previous step's h */
} run;

static int denoise(run *u, const float *x, double a, double b, float *x0) {
    return u->d->fn(u->d->self, x, u->n, u->dim, a, b, x0);
}

/* ---- the noise each stochastic step adds, shared by its step and genc_sampler_step_noisy ---- */

/* Euler-ancestral (k-diffusion, η = 1): σ_up = min(σ', √(σ'²(σ² − σ'²)/σ²)), σ_down = √(σ'² − σ_up²). */
static void euler_a_split(double s, double sn, double *up, double *down) {
    *up = fmin(sn, sqrt(sn * sn * (s * s - sn * sn) / (s * s)));
    *down = sqrt(sn * sn - *up * *up);
}

/* EDM Algorithm 2's γ_i = min(S_churn/N, √2 − 1) for σ in [S_tmin, S_tmax], else 0. */
static double heun_gamma(const genc_sampler_opts *o, double s, int N) {
    return o->s_churn > 0 && s >= o->s_tmin && s <= o->s_tmax ? fmin(o->s_churn / N, sqrt(2.0) - 1) : 0;
}

/* DDIM's noise s_t = η·√((1 − ᾱ')/(1 − ᾱ))·√(1 − ᾱ/ᾱ') (zero into σ' = 0). */
static double ddim_noise(double eta, double s, double sn) {
    double a, b, an, bn;
    vp_ab(s, &a, &b);
    vp_ab(sn, &an, &bn);
    double ab = a * a, abn = an * an;
    return eta > 0 && sn > 0 ? eta * sqrt((1 - abn) / (1 - ab)) * sqrt(1 - ab / abn) : 0;
}

/* DDPM's posterior variance: β̃ = β_s (1 − ᾱ')/(1 − ᾱ) (fixed small) or β_s (fixed large),
 * β_s = 1 − ᾱ/ᾱ'; zero into σ' = 0. */
static double ddpm_var(int large, double s, double sn) {
    double a, b, an, bn;
    vp_ab(s, &a, &b);
    vp_ab(sn, &an, &bn);
    double ab = a * a, abn = an * an, bs = 1 - ab / abn;
    return sn > 0 ? (large ? bs : bs * (1 - abn) / (1 - ab)) : 0;
}

int genc_sampler_step_noisy(const genc_sampler_opts *o, const double *sig, int N, int i) {
    double s = sig[i], sn = sig[i + 1], up, down;
    switch (o->kind) {
    case GENC_DS_DDPM: return ddpm_var(o->large_variance, s, sn) > 0;
    case GENC_DS_DDIM: return ddim_noise(o->eta, s, sn) > 0;
    case GENC_DS_EULER_A: euler_a_split(s, sn, &up, &down); return up > 0;
    case GENC_DS_HEUN: return heun_gamma(o, s, N) > 0;
    default: return 0;
    }
}

/* ---- σ-space samplers: x̂ = x0 + σ ε, D(x̂; 1, σ) ---- */

/* Euler on dx̂/dσ = (x̂ − D)/σ. */
static int euler(run *u, double s, double sn, float *x) {
    if (denoise(u, x, 1, s, u->x0)) return GENC_ERR;
    float h = (float)((sn - s) / s);
    for (int64_t k = 0; k < u->m; k++) x[k] += h * (x[k] - u->x0[k]);
    return GENC_OK;
}

/* Euler down to σ_down, then the fresh noise z scaled by σ_up. */
static int euler_a(run *u, double s, double sn, float *x, const float *z) {
    double up, down;
    euler_a_split(s, sn, &up, &down);
    if (euler(u, s, down, x)) return GENC_ERR;
    if (up > 0)
        for (int64_t k = 0; k < u->m; k++) x[k] += (float)up * z[k];
    return GENC_OK;
}

/* EDM Algorithm 2: churn raises σ to σ̂ = σ(1 + γ) with the fresh noise z of standard deviation
 * S_noise·√(σ̂² − σ²), an Euler step to σ', then the trapezoid correction unless σ' = 0. */
static int heun(run *u, const genc_sampler_opts *o, double s, double sn, int N, float *x, const float *z) {
    double g = heun_gamma(o, s, N), sh = s * (1 + g);
    if (g > 0) {
        float c = (float)(sqrt(sh * sh - s * s) * o->s_noise);
        for (int64_t k = 0; k < u->m; k++) x[k] += c * z[k];
    }
    if (denoise(u, x, 1, sh, u->x0)) return GENC_ERR;
    float h = (float)(sn - sh);
    for (int64_t k = 0; k < u->m; k++) {
        u->old[k] = (x[k] - u->x0[k]) / (float)sh;            /* d */
        u->aux[k] = x[k] + h * u->old[k];                      /* Euler proposal */
    }
    if (sn == 0) { memcpy(x, u->aux, sizeof(float) * u->m); return GENC_OK; }
    if (denoise(u, u->aux, 1, sn, u->x0)) return GENC_ERR;
    for (int64_t k = 0; k < u->m; k++) x[k] += h * 0.5f * (u->old[k] + (u->aux[k] - u->x0[k]) / (float)sn);
    return GENC_OK;
}

/* ---- variance-preserving samplers: x = α x0 + β ε, α² + β² = 1 ---- */

/* DDIM (Song et al. 2021, eq. 12): x' = α' x̂0 + √(β'² − s²)·ε̂ + s·z, ε̂ = (x − α x̂0)/β. */
static int ddim(run *u, double eta, double s, double sn, float *x, const float *z) {
    double a, b, an, bn;
    vp_ab(s, &a, &b);
    vp_ab(sn, &an, &bn);
    if (denoise(u, x, a, b, u->x0)) return GENC_ERR;
    double st = ddim_noise(eta, s, sn), ce = sqrt(fmax(bn * bn - st * st, 0)) / b;
    for (int64_t k = 0; k < u->m; k++) {
        float e = (float)ce * (x[k] - (float)a * u->x0[k]);
        x[k] = (float)an * u->x0[k] + e + (st > 0 ? (float)st * z[k] : 0.f);
    }
    return GENC_OK;
}

/* DDPM ancestral (Ho et al. 2020, eqs. 6–7) over a strided grid: with α_s = ᾱ/ᾱ' and
 * β_s = 1 − α_s, x' = μ̃ + √v·z,  μ̃ = √ᾱ' β_s/(1 − ᾱ)·x̂0 + √α_s (1 − ᾱ')/(1 − ᾱ)·x. */
static int ddpm(run *u, int large, double s, double sn, float *x, const float *z) {
    double a, b, an, bn;
    vp_ab(s, &a, &b);
    vp_ab(sn, &an, &bn);
    if (denoise(u, x, a, b, u->x0)) return GENC_ERR;
    double ab = a * a, abn = an * an, as = ab / abn, bs = 1 - as;
    double c0 = an * bs / (1 - ab), cx = sqrt(as) * (1 - abn) / (1 - ab), v = ddpm_var(large, s, sn);
    float sd = (float)sqrt(v);
    for (int64_t k = 0; k < u->m; k++) x[k] = (float)c0 * u->x0[k] + (float)cx * x[k] + (v > 0 ? sd * z[k] : 0.f);
    return GENC_OK;
}

/* DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) in λ = ln(α/β), h = λ' − λ:
 *   x' = (β'/β)·x − α'·(e^(−h) − 1)·D̄,  D̄ = (1 + 1/(2r))·D − 1/(2r)·D_prev,  r = h_prev/h;
 * first order (D̄ = D) on the first step and into σ' = 0. α = 0 (σ = ∞) gives h = ∞. */
static int dpmpp_2m(run *u, int first, double s, double sn, float *x) {
    double a, b, an, bn;
    vp_ab(s, &a, &b);
    vp_ab(sn, &an, &bn);
    if (denoise(u, x, a, b, u->x0)) return GENC_ERR;
    double lam = a > 0 ? log(a / b) : -INFINITY, lamn = bn > 0 ? log(an / bn) : INFINITY;
    double h = lamn - lam, em = isinf(h) ? -1 : expm1(-h);
    double w = 1, wo = 0;
    if (!first && sn > 0 && isfinite(u->h_prev)) {
        double r = u->h_prev / h;
        w = 1 + 1 / (2 * r);
        wo = -1 / (2 * r);
    }
    float cx = (float)(bn / b), cd = (float)(-an * em);
    for (int64_t k = 0; k < u->m; k++) {
        float dbar = (float)w * u->x0[k] + (float)wo * u->old[k];
        u->old[k] = u->x0[k];
        x[k] = cx * x[k] + cd * dbar;
    }
    u->h_prev = h;
    return GENC_OK;
}

/* ---- flow path: x = (1 − t)·x0 + t·ε, velocity v = ε̂ − x̂0 = (x − x̂0)/t ---- */

/* v from x (v may be x: each v[k] reads only x[k]) */
static int velocity(run *u, const float *x, double s, float *v) {
    double a, t;
    flow_ab(s, &a, &t);
    if (denoise(u, x, a, t, u->x0)) return GENC_ERR;
    for (int64_t k = 0; k < u->m; k++) v[k] = (x[k] - u->x0[k]) / (float)t;
    return GENC_OK;
}

static int flow(run *u, int second, double s, double sn, float *x) {
    double a, t, tn;
    flow_ab(s, &a, &t);
    flow_ab(sn, &a, &tn);
    if (velocity(u, x, s, u->old)) return GENC_ERR;
    float h = (float)(tn - t);
    if (!second || tn == 0) {
        for (int64_t k = 0; k < u->m; k++) x[k] += h * u->old[k];
        return GENC_OK;
    }
    for (int64_t k = 0; k < u->m; k++) u->aux[k] = x[k] + h * u->old[k];
    if (velocity(u, u->aux, sn, u->aux)) return GENC_ERR;
    for (int64_t k = 0; k < u->m; k++) x[k] += h * 0.5f * (u->old[k] + u->aux[k]);
    return GENC_OK;
}

/* Step i of an N-step run; z is the step's unit noise (NULL when it takes none). */
static int step(run *u, const genc_sampler_opts *o, const double *sig, int N, int i, float *x, const float *z) {
    double s = sig[i], sn = sig[i + 1];
    switch (o->kind) {
    case GENC_DS_DDPM: return ddpm(u, o->large_variance, s, sn, x, z);
    case GENC_DS_DDIM: return ddim(u, o->eta, s, sn, x, z);
    case GENC_DS_EULER: return euler(u, s, sn, x);
    case GENC_DS_EULER_A: return euler_a(u, s, sn, x, z);
    case GENC_DS_HEUN: return heun(u, o, s, sn, N, x, z);
    case GENC_DS_DPMPP_2M: return dpmpp_2m(u, i == 0, s, sn, x);
    case GENC_DS_FLOW_EULER: return flow(u, 0, s, sn, x);
    case GENC_DS_FLOW_HEUN: return flow(u, 1, s, sn, x);
    default: return genc_set_error("unknown sampler %d", (int)o->kind);
    }
}

static int is_sigma_space(genc_sampler_kind k) { return k == GENC_DS_EULER || k == GENC_DS_EULER_A || k == GENC_DS_HEUN; }

static int run_open(run *u, const genc_denoiser *d, int64_t n, int dim) {
    *u = (run){.d = d, .n = n, .m = n * dim, .dim = dim};
    size_t bytes = sizeof(float) * (size_t)u->m;
    u->x0 = genc_aligned_alloc(bytes);
    u->aux = genc_aligned_alloc(bytes);
    u->old = genc_aligned_alloc(bytes);
    if (!u->x0 || !u->aux || !u->old) return genc_set_error("out of memory");
    memset(u->old, 0, bytes);   /* DPM-Solver++'s first step weighs it by 0: keep it finite */
    return GENC_OK;
}

static void run_close(run *u) {
    genc_aligned_free(u->x0);
    genc_aligned_free(u->aux);
    genc_aligned_free(u->old);
}

int genc_sampler_step(const genc_sampler_opts *o, const genc_denoiser *d, const double *sig, int N, int i, float *x,
                      int64_t n, int dim, const float *z) {
    if (i < 0 || i >= N) return genc_set_error("step %d of a %d-step run", i, N);
    if (o->kind == GENC_DS_DPMPP_2M) return genc_set_error("dpmpp-2m is multistep: run it with genc_sample");
    if (is_sigma_space(o->kind) && !isfinite(sig[i]))
        return genc_set_error("the %s sampler needs a finite σ", genc_diffusion_sampler_name(o->kind));
    if (!z && genc_sampler_step_noisy(o, sig, N, i)) return genc_set_error("this step needs noise");
    run u;
    int rc = run_open(&u, d, n, dim);
    if (!rc) rc = step(&u, o, sig, N, i, x, z);
    run_close(&u);
    return rc;
}

int genc_sample(const genc_sampler_opts *o, const genc_denoiser *d, const double *sig, int N, float *x, int64_t n,
                int dim, genc_rng *r) {
    if (N < 1 || sig[N] != 0) return genc_set_error("a sampling grid of %d steps must end at σ = 0", N);
    int sigma_space = is_sigma_space(o->kind);
    if (sigma_space && !isfinite(sig[0]))
        return genc_set_error("the %s sampler needs a finite σ_max; this grid starts at pure noise "
                              "(pick --schedule karras, or a flow sampler)", genc_diffusion_sampler_name(o->kind));
    run u;
    float *z = genc_aligned_alloc(sizeof(float) * (size_t)(n * dim));
    int rc = run_open(&u, d, n, dim);
    if (!rc && !z) rc = genc_set_error("out of memory");
    if (rc) goto done;
    /* the initial state: unit noise ε scaled into the sampler's normalisation at sig[0]
     * (the data's share of x at σ_max is ignored, as every paper does) */
    double a0, b0, s0 = sig[0];
    if (sigma_space) a0 = 1, b0 = s0;
    else if (o->kind == GENC_DS_FLOW_EULER || o->kind == GENC_DS_FLOW_HEUN) flow_ab(s0, &a0, &b0);
    else vp_ab(s0, &a0, &b0);
    for (int64_t k = 0; k < u.m; k++) x[k] *= (float)b0;
    /* each step's fresh noise is drawn here, in step order, so that a step is a function of
     * (x, z) alone (genc_sampler_step) */
    for (int i = 0; i < N && !rc; i++) {
        int noisy = genc_sampler_step_noisy(o, sig, N, i);
        if (noisy) genc_rng_fill_normal(r, z, u.m, 0, 1);
        rc = step(&u, o, sig, N, i, x, noisy ? z : NULL);
    }
done:
    run_close(&u);
    genc_aligned_free(z);
    return rc;
}
