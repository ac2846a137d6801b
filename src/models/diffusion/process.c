/* Forward processes as (α, β) pairs: DDPM (linear, cosine), VP, VE, EDM, flow matching.
 * Each is fixed by its noise level σ(t) = β/α along its own time t; the formulas and their
 * sources are in genc/diffusion.h. */
#include "genc/diffusion.h"

#include <math.h>
#include <string.h>

static const char *const NAMES[GENC_DPROC_COUNT] = {"ddpm-linear", "ddpm-cosine", "vp", "ve", "edm", "flow"};

const char *genc_dproc_name(genc_dproc k) { return k >= 0 && k < GENC_DPROC_COUNT ? NAMES[k] : "?"; }

int genc_dproc_parse(const char *s, genc_dproc *k) {
    for (int i = 0; i < GENC_DPROC_COUNT; i++)
        if (strcmp(s, NAMES[i]) == 0) { *k = (genc_dproc)i; return GENC_OK; }
    return genc_set_error("unknown process '%s' (ddpm-linear, ddpm-cosine, vp, ve, edm, flow)", s);
}

static int is_ddpm(const genc_process *p) { return p->kind == GENC_DPROC_DDPM_LINEAR || p->kind == GENC_DPROC_DDPM_COSINE; }

/* Products in double: over 1000 factors a float product drifts by ~1e-5 relative. */
void genc_ddpm_abar(genc_dproc kind, int T, double *abar) {
    double prod = 1;
    for (int i = 0; i < T; i++) {
        double beta;
        if (kind == GENC_DPROC_DDPM_COSINE) {
            double f0 = cos(((double)i / T + 0.008) / 1.008 * M_PI / 2);
            double f1 = cos(((double)(i + 1) / T + 0.008) / 1.008 * M_PI / 2);
            beta = fmin(1 - (f1 * f1) / (f0 * f0), 0.999);
        } else {
            beta = 1e-4 + (0.02 - 1e-4) * (T > 1 ? (double)i / (T - 1) : 0);
        }
        prod *= 1 - beta;
        abar[i] = prod;
    }
}

static double vp_sigma(const genc_process *p, double t) {
    return sqrt(expm1(0.5 * p->beta_d * t * t + p->beta_min * t));
}

int genc_process_init(genc_process *p, genc_dproc kind, int T) {
    memset(p, 0, sizeof *p);
    if (kind < 0 || kind >= GENC_DPROC_COUNT) return genc_set_error("unknown process %d", (int)kind);
    p->kind = kind;
    p->beta_min = 0.1;
    p->beta_d = 19.9;
    p->p_mean = -1.2;
    p->p_std = 1.2;
    p->t_eps = 1e-5;
    switch (kind) {
    case GENC_DPROC_DDPM_LINEAR:
    case GENC_DPROC_DDPM_COSINE:
        if (T < 2 || T > GENC_DDPM_MAX_T) return genc_set_error("DDPM steps T = %d: must be in 2..%d", T, GENC_DDPM_MAX_T);
        p->T = T;
        genc_ddpm_abar(kind, T, p->abar);
        p->sigma_min = sqrt((1 - p->abar[0]) / p->abar[0]);
        p->sigma_max = sqrt((1 - p->abar[T - 1]) / p->abar[T - 1]);
        break;
    case GENC_DPROC_VP:
        p->sigma_min = vp_sigma(p, 1e-3);
        p->sigma_max = vp_sigma(p, 1);
        break;
    case GENC_DPROC_VE: p->sigma_min = 0.02; p->sigma_max = 100; break;
    case GENC_DPROC_EDM: p->sigma_min = 0.002; p->sigma_max = 80; break;
    case GENC_DPROC_FLOW: p->sigma_min = 1e-3; p->sigma_max = INFINITY; break;
    default: break;
    }
    return GENC_OK;
}

/* DDPM σ_i = √((1 − ᾱ_i)/ᾱ_i), increasing in i. */
static double ddpm_sigma_at(const genc_process *p, int i) { return sqrt((1 - p->abar[i]) / p->abar[i]); }

double genc_process_sigma(const genc_process *p, double t) {
    switch (p->kind) {
    case GENC_DPROC_DDPM_LINEAR:
    case GENC_DPROC_DDPM_COSINE: {
        if (t <= 0) return ddpm_sigma_at(p, 0);
        if (t >= p->T - 1) return ddpm_sigma_at(p, p->T - 1);
        int i = (int)floor(t);
        double w = t - i, a = log(ddpm_sigma_at(p, i)), b = log(ddpm_sigma_at(p, i + 1));
        return exp(a + w * (b - a));
    }
    case GENC_DPROC_VP: return vp_sigma(p, t);
    case GENC_DPROC_VE: return sqrt(t);
    case GENC_DPROC_EDM: return t;
    case GENC_DPROC_FLOW: return t >= 1 ? INFINITY : t / (1 - t);
    default: return NAN;
    }
}

double genc_process_time(const genc_process *p, double sigma) {
    switch (p->kind) {
    case GENC_DPROC_DDPM_LINEAR:
    case GENC_DPROC_DDPM_COSINE: {
        if (!(sigma > ddpm_sigma_at(p, 0))) return 0;
        if (sigma >= ddpm_sigma_at(p, p->T - 1)) return p->T - 1;
        double ls = log(sigma);
        int lo = 0, hi = p->T - 1;              /* log σ_lo < ls ≤ log σ_hi */
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (log(ddpm_sigma_at(p, mid)) < ls) lo = mid; else hi = mid;
        }
        double a = log(ddpm_sigma_at(p, lo)), b = log(ddpm_sigma_at(p, hi));
        return lo + (ls - a) / (b - a);
    }
    case GENC_DPROC_VP: {
        double s = fmin(fmax(sigma, 0), vp_sigma(p, 1));
        double c = log1p(s * s);                /* ½β_d t² + β_min t = ln(1 + σ²) */
        return (-p->beta_min + sqrt(p->beta_min * p->beta_min + 2 * p->beta_d * c)) / p->beta_d;
    }
    case GENC_DPROC_VE: { double s = fmin(fmax(sigma, 0), p->sigma_max); return s * s; }
    case GENC_DPROC_EDM: return fmax(sigma, 0);
    case GENC_DPROC_FLOW: return isinf(sigma) ? 1 : sigma / (1 + sigma);
    default: return NAN;
    }
}

void genc_process_coefs(const genc_process *p, double t, double *alpha, double *beta) {
    if (p->kind == GENC_DPROC_FLOW) {
        *alpha = 1 - t;
        *beta = t;
        return;
    }
    double s = genc_process_sigma(p, t);
    if (p->kind == GENC_DPROC_VE || p->kind == GENC_DPROC_EDM) {
        *alpha = 1;
        *beta = s;
    } else {                                    /* variance preserving: α² + β² = 1 */
        *alpha = 1 / sqrt(1 + s * s);
        *beta = s * *alpha;
    }
}

double genc_process_cnoise(const genc_process *p, double t) {
    if (is_ddpm(p)) return t;
    if (p->kind == GENC_DPROC_VP || p->kind == GENC_DPROC_FLOW) return 1000 * t;
    return 250 * log(genc_process_sigma(p, t));
}

double genc_process_draw_t(const genc_process *p, genc_rng *r) {
    switch (p->kind) {
    case GENC_DPROC_DDPM_LINEAR:
    case GENC_DPROC_DDPM_COSINE: return (double)genc_rng_below(r, (uint32_t)p->T);
    case GENC_DPROC_VP: return p->t_eps + (1 - p->t_eps) * genc_rng_uniform(r);
    case GENC_DPROC_VE: {
        double s = exp(log(p->sigma_min) + (log(p->sigma_max) - log(p->sigma_min)) * genc_rng_uniform(r));
        return s * s;
    }
    case GENC_DPROC_EDM: return exp(p->p_mean + p->p_std * genc_rng_normal(r));
    case GENC_DPROC_FLOW: return 1 / (1 + exp(-(double)genc_rng_normal(r)));
    default: return NAN;
    }
}
