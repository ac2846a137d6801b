/* Parameterisations: what the network outputs (ε, x0, v, flow velocity, EDM's F) and the
 * exact maps between each and the denoised x0 at a point x = α·x0 + β·ε. Formulas in
 * genc/diffusion.h. Coefficients are computed once in double, then applied in float. */
#include "genc/diffusion.h"

#include <math.h>
#include <string.h>

static const char *const NAMES[GENC_DPRED_COUNT] = {"eps", "x0", "v", "velocity", "edm"};

const char *genc_dpred_name(genc_dpred k) { return k >= 0 && k < GENC_DPRED_COUNT ? NAMES[k] : "?"; }

int genc_dpred_parse(const char *s, genc_dpred *k) {
    for (int i = 0; i < GENC_DPRED_COUNT; i++)
        if (strcmp(s, NAMES[i]) == 0) { *k = (genc_dpred)i; return GENC_OK; }
    return genc_set_error("unknown parameterisation '%s' (eps, x0, v, velocity, edm)", s);
}

/* EDM's preconditioning with x̂ = x/α, σ = β/α, written in α and β:
 *   c_skip·x̂ = α σd²/(β² + α² σd²) · x,   c_out = β σd/√(β² + α² σd²),
 *   c_in·x̂ = x/√(β² + α² σd²). */
static void edm_coefs(double a, double b, double sd, double *skip, double *out) {
    double q = b * b + a * a * sd * sd;
    *skip = a * sd * sd / q;
    *out = b * sd / sqrt(q);
}

double genc_dpred_in_scale(genc_dpred k, double a, double b, double sd) {
    return k == GENC_DPRED_EDM ? 1 / sqrt(b * b + a * a * sd * sd) : 1;
}

/* Every map is x0 = cx·x + cf·F. */
static void to_x0_coefs(genc_dpred k, double a, double b, double sd, double *cx, double *cf) {
    double r2 = a * a + b * b;
    switch (k) {
    case GENC_DPRED_EPS: *cx = 1 / a; *cf = -b / a; break;
    case GENC_DPRED_X0: *cx = 0; *cf = 1; break;
    case GENC_DPRED_V: *cx = a / r2; *cf = -b * sqrt(r2) / r2; break;
    case GENC_DPRED_VELOCITY: *cx = 1 / (a + b); *cf = -b / (a + b); break;
    case GENC_DPRED_EDM: edm_coefs(a, b, sd, cx, cf); break;
    default: *cx = NAN; *cf = NAN; break;
    }
}

void genc_dpred_x0_coefs(genc_dpred k, double a, double b, double sd, double *cx, double *cf) {
    to_x0_coefs(k, a, b, sd, cx, cf);
}

void genc_dpred_to_x0(genc_dpred k, const float *f, const float *x, double a, double b, double sd, int64_t n,
                      float *x0) {
    double cx, cf;
    to_x0_coefs(k, a, b, sd, &cx, &cf);
    float fx = (float)cx, ff = (float)cf;
    for (int64_t i = 0; i < n; i++) x0[i] = fx * x[i] + ff * f[i];
}

/* Every target is F = c0·x0 + ce·ε: the inverse of to_x0 with x = α·x0 + β·ε substituted. */
static void target_coefs(genc_dpred k, double a, double b, double sd, double *c0, double *ce) {
    double r = sqrt(a * a + b * b), skip, out;
    switch (k) {
    case GENC_DPRED_EPS: *c0 = 0; *ce = 1; break;
    case GENC_DPRED_X0: *c0 = 1; *ce = 0; break;
    case GENC_DPRED_V: *c0 = -b / r; *ce = a / r; break;
    case GENC_DPRED_VELOCITY: *c0 = -1; *ce = 1; break;
    case GENC_DPRED_EDM:                        /* F = (x0 − skip·(α x0 + β ε))/out */
        edm_coefs(a, b, sd, &skip, &out);
        *c0 = (1 - skip * a) / out;
        *ce = -skip * b / out;
        break;
    default: *c0 = NAN; *ce = NAN; break;
    }
}

void genc_dpred_target(genc_dpred k, const float *x0, const float *eps, double a, double b, double sd,
                       int64_t n, float *f) {
    double c0, ce;
    target_coefs(k, a, b, sd, &c0, &ce);
    float f0 = (float)c0, fe = (float)ce;
    for (int64_t i = 0; i < n; i++) f[i] = f0 * x0[i] + fe * eps[i];
}

/* F_to = c0·x0 + ce·ε with x0 = cx·x + cf·F_from and ε = (x − α·x0)/β, folded into one
 * affine map in double so the round trip loses only the final float rounding. */
void genc_dpred_convert(genc_dpred from, genc_dpred to, const float *f, const float *x, double a, double b,
                        double sd, int64_t n, float *out) {
    double cx, cf, c0, ce;
    to_x0_coefs(from, a, b, sd, &cx, &cf);
    target_coefs(to, a, b, sd, &c0, &ce);
    /* x0 = cx x + cf F;  ε = (x − α x0)/β = ((1 − α cx) x − α cf F)/β */
    double kx = c0 * cx + ce * (1 - a * cx) / b, kf = c0 * cf - ce * a * cf / b;
    float fx = (float)kx, ff = (float)kf;
    for (int64_t i = 0; i < n; i++) out[i] = fx * x[i] + ff * f[i];
}

double genc_dpred_x0_weight(genc_dpred k, double a, double b, double sd) {
    double cx, cf;
    to_x0_coefs(k, a, b, sd, &cx, &cf);
    return cf * cf;
}
