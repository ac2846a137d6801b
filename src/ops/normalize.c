/* L2 normalisation over the last dim (torch.nn.functional.normalize with p = 2):
 *   y = x / d,   d = max(‖x‖₂, eps)
 * Backward, per row with g = dy:
 *   ‖x‖ ≥ eps:  dx = (g − y·(g·y)) / d        (the projection of g off y, scaled)
 *   ‖x‖ < eps:  dx = g / eps                   (d is the constant eps there)
 * At ‖x‖ = eps exactly the gradient flows through the norm, as PyTorch's clamp_min does. */
#include "genc/ops.h"

#include <math.h>

#define PAR_MIN 16384

static void l2_normalize_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    const float *y = nd->out->data, *g = nd->out->grad, *norm = nd->saved;
    float eps = nd->farg[0];
    int64_t R = genc_rows(x), D = genc_dim(x, -1);
    float *gx = genc_grad(c, x);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *yr = y + r * D, *gr = g + r * D;
        float *out = gx + r * D, d = norm[r] > eps ? norm[r] : eps;
        double dot = 0;
        if (norm[r] >= eps) {
#pragma omp simd reduction(+ : dot)
            for (int64_t j = 0; j < D; j++) dot += gr[j] * yr[j];
        }
        float gy = (float)dot;
#pragma omp simd
        for (int64_t j = 0; j < D; j++) out[j] += (gr[j] - yr[j] * gy) / d;
    }
}

genc_tensor *genc_l2_normalize(genc_ctx *c, genc_tensor *x, float eps) {
    int64_t R = genc_rows(x), D = genc_dim(x, -1);
    genc_tensor *out = genc_new_like(c, x);
    float *norm = genc_scratch(c, (size_t)R * sizeof(float));
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * D;
        double ss = 0;
#pragma omp simd reduction(+ : ss)
        for (int64_t j = 0; j < D; j++) ss += (double)xr[j] * xr[j];
        norm[r] = (float)sqrt(ss);
        float d = norm[r] > eps ? norm[r] : eps, *yr = out->data + r * D;
#pragma omp simd
        for (int64_t j = 0; j < D; j++) yr[j] = xr[j] / d;
    }
    genc_node *nd = genc_record(c, l2_normalize_backward, out, 1, &x);
    if (nd) {
        nd->saved = norm;
        nd->farg[0] = eps;
    }
    return out;
}
