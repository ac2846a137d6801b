/* LayerNorm and RMSNorm over the last dimension.
 *
 * The forward pass saves per-row statistics (mean and 1/std) so backward does not recompute
 * them. Row statistics are accumulated in double: D floats summed in float lose digits that
 * the normalised output then amplifies.
 *
 * Backward also needs Σ_rows of weight/bias gradients. Rows are split into at most NCHUNK
 * fixed chunks (independent of the thread count); each chunk writes its partial sums to its
 * own scratch row and genc_colsum_add reduces the partials in chunk order. dx, dw and db thus
 * come out of one pass over x and dy, race-free and deterministic. */
#include "genc/ops.h"

#include "colsum.h"
#include "rowstats.h"

#include <math.h>
#include <string.h>

#define NCHUNK 64
#define PAR_MIN 16384

/* rows [R] split into chunks of ceil(R / NCHUNK) rows */
static int64_t chunk_rows(int64_t R) { return (R + NCHUNK - 1) / NCHUNK; }

/* ---------------------------------------------------------------- LayerNorm */

/* x̂ = (x − μ)·rstd,  dx̂ = dy·w:
 *   dx = rstd · (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)),  dw = Σ_rows dy·x̂,  db = Σ_rows dy */
static void layernorm_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const float *mean = nd->saved, *rstd = mean + genc_rows(x);
    const float *G = nd->out->grad;
    int64_t R = genc_rows(x);
    int D = genc_dim(x, -1);
    int fresh = 0; /* x's first gradient is stored, not added (genc_grad_fresh) */
    float *gx = x->requires_grad ? genc_grad_fresh(c, x, &fresh) : NULL;
    int want_w = w->requires_grad, want_b = b && b->requires_grad;
    int64_t cr = chunk_rows(R), nchunk = (R + cr - 1) / cr;
    float *pw = want_w ? genc_scratch(c, (size_t)(nchunk * D) * sizeof(float)) : NULL;
    float *pb = want_b ? genc_scratch(c, (size_t)(nchunk * D) * sizeof(float)) : NULL;
#pragma omp parallel for schedule(static) if (R * D > PAR_MIN)
    for (int64_t k = 0; k < nchunk; k++) {
        float *pwk = pw ? pw + k * D : NULL, *pbk = pb ? pb + k * D : NULL;
        if (pwk) memset(pwk, 0, (size_t)D * sizeof(float));
        if (pbk) memset(pbk, 0, (size_t)D * sizeof(float));
        int64_t r1 = (k + 1) * cr < R ? (k + 1) * cr : R;
        for (int64_t r = k * cr; r < r1; r++) {
            const float *xr = x->data + r * D, *g = G + r * D;
            float mu = mean[r], rs = rstd[r];
            if (gx) {
                double s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
                for (int j = 0; j < D; j++) {
                    float dxh = g[j] * w->data[j];
                    s1 += dxh;
                    s2 += dxh * ((xr[j] - mu) * rs);
                }
                float m1 = (float)(s1 / D), m2 = (float)(s2 / D);
                float *gxr = gx + r * D;
                if (fresh) {
#pragma omp simd
                    for (int j = 0; j < D; j++) {
                        float xh = (xr[j] - mu) * rs;
                        gxr[j] = rs * (g[j] * w->data[j] - m1 - xh * m2);
                    }
                } else {
#pragma omp simd
                    for (int j = 0; j < D; j++) {
                        float xh = (xr[j] - mu) * rs;
                        gxr[j] += rs * (g[j] * w->data[j] - m1 - xh * m2);
                    }
                }
            }
            if (pwk) {
#pragma omp simd
                for (int j = 0; j < D; j++) pwk[j] += g[j] * ((xr[j] - mu) * rs);
            }
            if (pbk) {
#pragma omp simd
                for (int j = 0; j < D; j++) pbk[j] += g[j];
            }
        }
    }
    if (pw) genc_colsum_add(pw, NULL, nchunk, D, genc_grad(c, w), 1.0f);
    if (pb) genc_colsum_add(pb, NULL, nchunk, D, genc_grad(c, b), 1.0f);
}

/* x[..., D], w[D], b[D] or NULL → y = (x − μ)/√(σ² + eps)·w + b  (biased variance, as
 * PyTorch's nn.LayerNorm) */
genc_tensor *genc_layernorm(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, float eps) {
    int D = genc_dim(x, -1);
    GENC_ASSERT(w && w->n == D, "layernorm: weight must have %d elements", D);
    GENC_ASSERT(!b || b->n == D, "layernorm: bias must have %d elements", D);
    int64_t R = genc_rows(x);
    genc_tensor *y = genc_new_like(c, x);
    float *stats = genc_scratch(c, (size_t)(2 * R) * sizeof(float)); /* mean[R], rstd[R] */
#pragma omp parallel for schedule(static) if (R * D > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * D;
        float *yr = y->data + r * D;
        float muf, rs;
        genc_row_stats(xr, D, eps, &muf, &rs);
        stats[r] = muf;
        stats[R + r] = rs;
        if (b) {
#pragma omp simd
            for (int j = 0; j < D; j++) yr[j] = (xr[j] - muf) * rs * w->data[j] + b->data[j];
        } else {
#pragma omp simd
            for (int j = 0; j < D; j++) yr[j] = (xr[j] - muf) * rs * w->data[j];
        }
    }
    genc_node *nd = genc_record(c, layernorm_backward, y, 3, (genc_tensor *[]){x, w, b});
    if (nd) nd->saved = stats;
    return y;
}

/* ---------------------------------------------------------------- RMSNorm */

/* x̂ = x·rstd,  dx̂ = dy·w:  dx = rstd · (dx̂ − x̂·mean(dx̂·x̂)),  dw = Σ_rows dy·x̂ */
static void rmsnorm_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *w = nd->in[1];
    const float *rstd = nd->saved;
    const float *G = nd->out->grad;
    int64_t R = genc_rows(x);
    int D = genc_dim(x, -1);
    int fresh = 0; /* x's first gradient is stored, not added (genc_grad_fresh) */
    float *gx = x->requires_grad ? genc_grad_fresh(c, x, &fresh) : NULL;
    int64_t cr = chunk_rows(R), nchunk = (R + cr - 1) / cr;
    float *pw = w->requires_grad ? genc_scratch(c, (size_t)(nchunk * D) * sizeof(float)) : NULL;
#pragma omp parallel for schedule(static) if (R * D > PAR_MIN)
    for (int64_t k = 0; k < nchunk; k++) {
        float *pwk = pw ? pw + k * D : NULL;
        if (pwk) memset(pwk, 0, (size_t)D * sizeof(float));
        int64_t r1 = (k + 1) * cr < R ? (k + 1) * cr : R;
        for (int64_t r = k * cr; r < r1; r++) {
            const float *xr = x->data + r * D, *g = G + r * D;
            float rs = rstd[r];
            if (gx) {
                double s2 = 0;
#pragma omp simd reduction(+ : s2)
                for (int j = 0; j < D; j++) s2 += g[j] * w->data[j] * (xr[j] * rs);
                float m2 = (float)(s2 / D);
                float *gxr = gx + r * D;
                if (fresh) {
#pragma omp simd
                    for (int j = 0; j < D; j++) gxr[j] = rs * (g[j] * w->data[j] - xr[j] * rs * m2);
                } else {
#pragma omp simd
                    for (int j = 0; j < D; j++) gxr[j] += rs * (g[j] * w->data[j] - xr[j] * rs * m2);
                }
            }
            if (pwk) {
#pragma omp simd
                for (int j = 0; j < D; j++) pwk[j] += g[j] * (xr[j] * rs);
            }
        }
    }
    if (pw) genc_colsum_add(pw, NULL, nchunk, D, genc_grad(c, w), 1.0f);
}

/* x[..., D], w[D] → y = x / √(mean(x²) + eps) · w   (Zhang & Sennrich; LLaMA) */
genc_tensor *genc_rmsnorm(genc_ctx *c, genc_tensor *x, genc_tensor *w, float eps) {
    int D = genc_dim(x, -1);
    GENC_ASSERT(w && w->n == D, "rmsnorm: weight must have %d elements", D);
    int64_t R = genc_rows(x);
    genc_tensor *y = genc_new_like(c, x);
    float *rstd = genc_scratch(c, (size_t)R * sizeof(float));
#pragma omp parallel for schedule(static) if (R * D > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * D;
        float *yr = y->data + r * D;
        double ss = 0;
#pragma omp simd reduction(+ : ss)
        for (int j = 0; j < D; j++) ss += (double)xr[j] * xr[j];
        float rs = (float)(1.0 / sqrt(ss / D + eps));
        rstd[r] = rs;
#pragma omp simd
        for (int j = 0; j < D; j++) yr[j] = xr[j] * rs * w->data[j];
    }
    genc_node *nd = genc_record(c, rmsnorm_backward, y, 2, (genc_tensor *[]){x, w});
    if (nd) nd->saved = rstd;
    return y;
}
