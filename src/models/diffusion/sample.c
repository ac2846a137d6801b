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
    genc_rng *r;
    float *x0, *aux, *z, *old;
} run;

static int denoise(run *u, const float *x, double a, double b, float *x0) {
    return u->d->fn(u->d->self, x, u->n, u->dim, a, b, x0);
}

/* ---- σ-space samplers: x̂ = x0 + σ ε, D(x̂; 1, σ) ---- */

/* Euler on dx̂/dσ = (x̂ − D)/σ. */
static int euler(run *u, const double *sig, int N, float *x) {
    for (int i = 0; i < N; i++) {
        if (denoise(u, x, 1, sig[i], u->x0)) return GENC_ERR;
        float h = (float)((sig[i + 1] - sig[i]) / sig[i]);
        for (int64_t k = 0; k < u->m; k++) x[k] += h * (x[k] - u->x0[k]);
    }
    return GENC_OK;
}

/* Euler down to σ_down, then fresh noise of σ_up (k-diffusion's euler_ancestral, η = 1):
 * σ_up = min(σ', √(σ'²(σ² − σ'²)/σ²)), σ_down = √(σ'² − σ_up²). */
static int euler_a(run *u, const double *sig, int N, float *x) {
    for (int i = 0; i < N; i++) {
        double s = sig[i], sn = sig[i + 1];
        double up = fmin(sn, sqrt(sn * sn * (s * s - sn * sn) / (s * s))), down = sqrt(sn * sn - up * up);
        if (denoise(u, x, 1, s, u->x0)) return GENC_ERR;
        float h = (float)((down - s) / s);
        for (int64_t k = 0; k < u->m; k++) x[k] += h * (x[k] - u->x0[k]);
        if (up > 0) {
            genc_rng_fill_normal(u->r, u->z, u->m, 0, 1);
            for (int64_t k = 0; k < u->m; k++) x[k] += (float)up * u->z[k];
        }
    }
    return GENC_OK;
}

/* EDM Algorithm 2: optional churn raises σ to σ̂ = σ(1 + γ) with fresh noise, an Euler step
 * to σ', then the trapezoid correction unless σ' = 0. */
static int heun(run *u, const genc_sampler_opts *o, const double *sig, int N, float *x) {
    for (int i = 0; i < N; i++) {
        double s = sig[i], sn = sig[i + 1], g = 0;
        if (o->s_churn > 0 && s >= o->s_tmin && s <= o->s_tmax) g = fmin(o->s_churn / N, sqrt(2.0) - 1);
        double sh = s * (1 + g);
        if (g > 0) {
            genc_rng_fill_normal(u->r, u->z, u->m, 0, 1);
            float c = (float)(sqrt(sh * sh - s * s) * o->s_noise);
            for (int64_t k = 0; k < u->m; k++) x[k] += c * u->z[k];
        }
        if (denoise(u, x, 1, sh, u->x0)) return GENC_ERR;
        float h = (float)(sn - sh);
        for (int64_t k = 0; k < u->m; k++) {
            u->old[k] = (x[k] - u->x0[k]) / (float)sh;            /* d */
            u->aux[k] = x[k] + h * u->old[k];                      /* Euler proposal */
        }
        if (sn == 0) { memcpy(x, u->aux, sizeof(float) * u->m); continue; }
        if (denoise(u, u->aux, 1, sn, u->x0)) return GENC_ERR;
        for (int64_t k = 0; k < u->m; k++) x[k] += h * 0.5f * (u->old[k] + (u->aux[k] - u->x0[k]) / (float)sn);
    }
    return GENC_OK;
}

/* ---- variance-preserving samplers: x = α x0 + β ε, α² + β² = 1 ---- */

/* DDIM (Song et al. 2021, eq. 12): x' = α' x̂0 + √(β'² − s²)·ε̂ + s·z, ε̂ = (x − α x̂0)/β. */
static int ddim(run *u, double eta, const double *sig, int N, float *x) {
    for (int i = 0; i < N; i++) {
        double a, b, an, bn;
        vp_ab(sig[i], &a, &b);
        vp_ab(sig[i + 1], &an, &bn);
        if (denoise(u, x, a, b, u->x0)) return GENC_ERR;
        double ab = a * a, abn = an * an;
        double st = eta > 0 && sig[i + 1] > 0 ? eta * sqrt((1 - abn) / (1 - ab)) * sqrt(1 - ab / abn) : 0;
        double ce = sqrt(fmax(bn * bn - st * st, 0)) / b;
        if (st > 0) genc_rng_fill_normal(u->r, u->z, u->m, 0, 1);
        for (int64_t k = 0; k < u->m; k++) {
            float e = (float)ce * (x[k] - (float)a * u->x0[k]);
            x[k] = (float)an * u->x0[k] + e + (st > 0 ? (float)st * u->z[k] : 0.f);
        }
    }
    return GENC_OK;
}

/* DDPM ancestral (Ho et al. 2020, eqs. 6–7) over a strided grid: with α_s = ᾱ/ᾱ' and
 * β_s = 1 − α_s, x' ~ N(μ̃, v),  μ̃ = √ᾱ' β_s/(1 − ᾱ)·x̂0 + √α_s (1 − ᾱ')/(1 − ᾱ)·x,
 * v = β̃ = β_s (1 − ᾱ')/(1 − ᾱ) (fixed small) or β_s (fixed large); no noise into σ' = 0. */
static int ddpm(run *u, int large, const double *sig, int N, float *x) {
    for (int i = 0; i < N; i++) {
        double a, b, an, bn;
        vp_ab(sig[i], &a, &b);
        vp_ab(sig[i + 1], &an, &bn);
        if (denoise(u, x, a, b, u->x0)) return GENC_ERR;
        double ab = a * a, abn = an * an, as = ab / abn, bs = 1 - as;
        double c0 = an * bs / (1 - ab), cx = sqrt(as) * (1 - abn) / (1 - ab);
        double v = sig[i + 1] > 0 ? (large ? bs : bs * (1 - abn) / (1 - ab)) : 0;
        if (v > 0) genc_rng_fill_normal(u->r, u->z, u->m, 0, 1);
        float sd = (float)sqrt(v);
        for (int64_t k = 0; k < u->m; k++) x[k] = (float)c0 * u->x0[k] + (float)cx * x[k] + (v > 0 ? sd * u->z[k] : 0.f);
    }
    return GENC_OK;
}

/* DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) in λ = ln(α/β), h = λ' − λ:
 *   x' = (β'/β)·x − α'·(e^(−h) − 1)·D̄,  D̄ = (1 + 1/(2r))·D − 1/(2r)·D_prev,  r = h_prev/h;
 * first order (D̄ = D) on the first step and into σ' = 0. α = 0 (σ = ∞) gives h = ∞. */
static int dpmpp_2m(run *u, const double *sig, int N, float *x) {
    double h_prev = 0;
    for (int i = 0; i < N; i++) {
        double a, b, an, bn;
        vp_ab(sig[i], &a, &b);
        vp_ab(sig[i + 1], &an, &bn);
        if (denoise(u, x, a, b, u->x0)) return GENC_ERR;
        double lam = a > 0 ? log(a / b) : -INFINITY, lamn = bn > 0 ? log(an / bn) : INFINITY;
        double h = lamn - lam, em = isinf(h) ? -1 : expm1(-h);
        double w = 1, wo = 0;
        if (i > 0 && sig[i + 1] > 0 && isfinite(h_prev)) {
            double r = h_prev / h;
            w = 1 + 1 / (2 * r);
            wo = -1 / (2 * r);
        }
        float cx = (float)(bn / b), cd = (float)(-an * em);
        for (int64_t k = 0; k < u->m; k++) {
            float dbar = (float)w * u->x0[k] + (float)wo * u->old[k];
            u->old[k] = u->x0[k];
            x[k] = cx * x[k] + cd * dbar;
        }
        h_prev = h;
    }
    return GENC_OK;
}

/* ---- flow path: x = (1 − t)·x0 + t·ε, velocity v = ε̂ − x̂0 = (x − x̂0)/t ---- */

static int velocity(run *u, const float *x, double s, float *v) {
    double a, t;
    flow_ab(s, &a, &t);
    if (denoise(u, x, a, t, u->x0)) return GENC_ERR;
    for (int64_t k = 0; k < u->m; k++) v[k] = (x[k] - u->x0[k]) / (float)t;
    return GENC_OK;
}

static int flow(run *u, int second, const double *sig, int N, float *x) {
    for (int i = 0; i < N; i++) {
        double a, t, tn;
        flow_ab(sig[i], &a, &t);
        flow_ab(sig[i + 1], &a, &tn);
        if (velocity(u, x, sig[i], u->old)) return GENC_ERR;
        float h = (float)(tn - t);
        if (!second || tn == 0) {
            for (int64_t k = 0; k < u->m; k++) x[k] += h * u->old[k];
            continue;
        }
        for (int64_t k = 0; k < u->m; k++) u->aux[k] = x[k] + h * u->old[k];
        if (velocity(u, u->aux, sig[i + 1], u->z)) return GENC_ERR;
        for (int64_t k = 0; k < u->m; k++) x[k] += h * 0.5f * (u->old[k] + u->z[k]);
    }
    return GENC_OK;
}

int genc_sample(const genc_sampler_opts *o, const genc_denoiser *d, const double *sig, int N, float *x, int64_t n,
                int dim, genc_rng *r) {
    if (N < 1 || sig[N] != 0) return genc_set_error("a sampling grid of %d steps must end at σ = 0", N);
    int sigma_space = o->kind == GENC_DS_EULER || o->kind == GENC_DS_EULER_A || o->kind == GENC_DS_HEUN;
    if (sigma_space && !isfinite(sig[0]))
        return genc_set_error("the %s sampler needs a finite σ_max; this grid starts at pure noise "
                              "(pick --schedule karras, or a flow sampler)", genc_diffusion_sampler_name(o->kind));
    run u = {.d = d, .n = n, .m = n * dim, .dim = dim, .r = r};
    size_t bytes = sizeof(float) * (size_t)u.m;
    u.x0 = genc_aligned_alloc(bytes);
    u.aux = genc_aligned_alloc(bytes);
    u.z = genc_aligned_alloc(bytes);
    u.old = genc_aligned_alloc(bytes);
    int rc = GENC_ERR;
    if (!u.x0 || !u.aux || !u.z || !u.old) goto done;
    /* the initial state: unit noise ε scaled into the sampler's normalisation at sig[0]
     * (the data's share of x at σ_max is ignored, as every paper does) */
    double a0, b0, s0 = sig[0];
    if (sigma_space) a0 = 1, b0 = s0;
    else if (o->kind == GENC_DS_FLOW_EULER || o->kind == GENC_DS_FLOW_HEUN) flow_ab(s0, &a0, &b0);
    else vp_ab(s0, &a0, &b0);
    for (int64_t k = 0; k < u.m; k++) x[k] *= (float)b0;
    switch (o->kind) {
    case GENC_DS_DDPM: rc = ddpm(&u, o->large_variance, sig, N, x); break;
    case GENC_DS_DDIM: rc = ddim(&u, o->eta, sig, N, x); break;
    case GENC_DS_EULER: rc = euler(&u, sig, N, x); break;
    case GENC_DS_EULER_A: rc = euler_a(&u, sig, N, x); break;
    case GENC_DS_HEUN: rc = heun(&u, o, sig, N, x); break;
    case GENC_DS_DPMPP_2M: rc = dpmpp_2m(&u, sig, N, x); break;
    case GENC_DS_FLOW_EULER: rc = flow(&u, 0, sig, N, x); break;
    case GENC_DS_FLOW_HEUN: rc = flow(&u, 1, sig, N, x); break;
    default: genc_set_error("unknown sampler %d", (int)o->kind); break;
    }
done:
    genc_aligned_free(u.x0);
    genc_aligned_free(u.aux);
    genc_aligned_free(u.z);
    genc_aligned_free(u.old);
    return rc;
}
