/* Per-sequence modulation of token features: the broadcasts of adaLN (DiT) and of a
 * conditioning vector added to every token.
 *
 * x is [B, ..., D]: B sequences of R = numel / (B·D) tokens. A per-sequence vector v[B, D]
 * applies to every token of its sequence; its gradient sums over those R tokens, in token
 * order with a double accumulator (genc_colsum_add), so it does not depend on the thread
 * count. */
#include "genc/ops.h"

#include "colsum.h"

#define PAR_MIN 32768

static void check_vec(const genc_tensor *x, const genc_tensor *v, const char *op) {
    GENC_ASSERT(x->ndim >= 2, "%s: x must be [B, ..., D]", op);
    GENC_ASSERT(!v || v->n == (int64_t)x->shape[0] * genc_dim(x, -1),
                "%s: per-sequence vector must be [B, D] = [%d, %d]", op, x->shape[0], genc_dim(x, -1));
}

/* ---------------------------------------------------------------- modulate */

/* y = x·(1 + scale_b) + shift_b:
 *   dx += dy·(1 + scale_b),  dshift_b += Σ_t dy,  dscale_b += Σ_t dy·x */
static void modulate_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *shift = nd->in[1], *scale = nd->in[2];
    const float *g = nd->out->grad;
    int B = x->shape[0], D = genc_dim(x, -1);
    int64_t R = x->n / ((int64_t)B * D);
    if (x->requires_grad) {
        float *gx = genc_grad(c, x);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
        for (int64_t r = 0; r < (int64_t)B * R; r++) {
            const float *sc = scale ? scale->data + (r / R) * D : NULL;
            const float *gr = g + r * D;
            float *gxr = gx + r * D;
            if (sc) {
#pragma omp simd
                for (int j = 0; j < D; j++) gxr[j] += gr[j] * (1.f + sc[j]);
            } else {
#pragma omp simd
                for (int j = 0; j < D; j++) gxr[j] += gr[j];
            }
        }
    }
    for (int b = 0; b < B; b++) {
        const float *gb = g + (int64_t)b * R * D;
        if (shift && shift->requires_grad) genc_colsum_add(gb, NULL, R, D, genc_grad(c, shift) + (int64_t)b * D, 1.f);
        if (scale && scale->requires_grad)
            genc_colsum_add(gb, x->data + (int64_t)b * R * D, R, D, genc_grad(c, scale) + (int64_t)b * D, 1.f);
    }
}

genc_tensor *genc_modulate(genc_ctx *c, genc_tensor *x, genc_tensor *shift, genc_tensor *scale) {
    check_vec(x, shift, "modulate");
    check_vec(x, scale, "modulate");
    int B = x->shape[0], D = genc_dim(x, -1);
    int64_t R = x->n / ((int64_t)B * D);
    genc_tensor *y = genc_new_like(c, x);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < (int64_t)B * R; r++) {
        const float *xr = x->data + r * D;
        const float *sh = shift ? shift->data + (r / R) * D : NULL, *sc = scale ? scale->data + (r / R) * D : NULL;
        float *yr = y->data + r * D;
        if (sc && sh) {
#pragma omp simd
            for (int j = 0; j < D; j++) yr[j] = xr[j] * (1.f + sc[j]) + sh[j];
        } else if (sc) {
#pragma omp simd
            for (int j = 0; j < D; j++) yr[j] = xr[j] * (1.f + sc[j]);
        } else if (sh) {
#pragma omp simd
            for (int j = 0; j < D; j++) yr[j] = xr[j] + sh[j];
        } else {
#pragma omp simd
            for (int j = 0; j < D; j++) yr[j] = xr[j];
        }
    }
    genc_record(c, modulate_backward, y, 3, (genc_tensor *[]){x, shift, scale});
    return y;
}

/* ---------------------------------------------------------------- gated residual */

/* out = x + gate_b ⊙ y:  dx += dout,  dy += dout·gate_b,  dgate_b += Σ_t dout·y */
static void gated_add_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *gate = nd->in[1], *y = nd->in[2];
    const float *g = nd->out->grad;
    int B = x->shape[0], D = genc_dim(x, -1);
    int64_t R = x->n / ((int64_t)B * D);
    float *gx = x->requires_grad ? genc_grad(c, x) : NULL, *gy = y->requires_grad ? genc_grad(c, y) : NULL;
    if (gx || gy) {
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
        for (int64_t r = 0; r < (int64_t)B * R; r++) {
            const float *gr = g + r * D, *ga = gate->data + (r / R) * D;
            if (gx) {
#pragma omp simd
                for (int j = 0; j < D; j++) gx[r * D + j] += gr[j];
            }
            if (gy) {
#pragma omp simd
                for (int j = 0; j < D; j++) gy[r * D + j] += gr[j] * ga[j];
            }
        }
    }
    if (gate->requires_grad)
        for (int b = 0; b < B; b++)
            genc_colsum_add(g + (int64_t)b * R * D, y->data + (int64_t)b * R * D, R, D,
                            genc_grad(c, gate) + (int64_t)b * D, 1.f);
}

genc_tensor *genc_gated_add(genc_ctx *c, genc_tensor *x, genc_tensor *gate, genc_tensor *y) {
    GENC_ASSERT(gate, "gated_add: gate required");
    check_vec(x, gate, "gated_add");
    GENC_ASSERT(x->n == y->n && genc_dim(x, -1) == genc_dim(y, -1), "gated_add: x and y differ in size");
    int B = x->shape[0], D = genc_dim(x, -1);
    int64_t R = x->n / ((int64_t)B * D);
    genc_tensor *out = genc_new_like(c, x);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < (int64_t)B * R; r++) {
        const float *xr = x->data + r * D, *yr = y->data + r * D, *ga = gate->data + (r / R) * D;
        float *o = out->data + r * D;
#pragma omp simd
        for (int j = 0; j < D; j++) o[j] = xr[j] + ga[j] * yr[j];
    }
    genc_record(c, gated_add_backward, out, 3, (genc_tensor *[]){x, gate, y});
    return out;
}
