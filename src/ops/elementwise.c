/* Elementwise arithmetic with trailing-dim broadcasting, and sum/mean reductions.
 * b broadcasts over a's leading dims: b.n divides a.n and b's shape equals a's trailing dims
 * (or b has one element). Backward reduces the gradient of b over the broadcast rows. */
#include "genc/ops.h"

#include "colsum.h"

#include <string.h>

static void check_bcast(const genc_tensor *a, const genc_tensor *b, const char *op) {
    if (b->n == 1 || b->n == a->n) {
        if (b->n == a->n && b->n != 1)
            GENC_ASSERT(genc_same_shape(a, b) || b->ndim < a->ndim || a->ndim < b->ndim,
                        "%s: shapes differ", op);
        return;
    }
    GENC_ASSERT(b->ndim <= a->ndim, "%s: cannot broadcast rank %d onto rank %d", op, b->ndim, a->ndim);
    for (int i = 0; i < b->ndim; i++)
        GENC_ASSERT(b->shape[b->ndim - 1 - i] == a->shape[a->ndim - 1 - i],
                    "%s: trailing dims do not match for broadcasting", op);
}

enum { OP_ADD, OP_SUB, OP_MUL };

/* add: da += g, db += g;  sub: da += g, db −= g;  mul: da += g·b, db += g·a.
 * A broadcast b (m < n elements) gets its gradient summed over a's leading rows. */
static void binary_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *a = nd->in[0], *b = nd->in[1], *out = nd->out;
    int op = (int)nd->iarg[0];
    const float *g = out->grad;
    int64_t n = a->n, m = b->n, rows = n / m;
    if (a->requires_grad) {
        float *ga = genc_grad(c, a);
        if (op != OP_MUL) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
            for (int64_t i = 0; i < n; i++) ga[i] += g[i];
        } else if (m == n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
            for (int64_t i = 0; i < n; i++) ga[i] += g[i] * b->data[i];
        } else if (m == 1) {
            float y0 = b->data[0];
#pragma omp parallel for simd schedule(static) if (n > 32768)
            for (int64_t i = 0; i < n; i++) ga[i] += g[i] * y0;
        } else {
            const float *y = b->data;
#pragma omp parallel for schedule(static) if (n > 32768)
            for (int64_t r = 0; r < rows; r++)
#pragma omp simd
                for (int64_t j = 0; j < m; j++) ga[r * m + j] += g[r * m + j] * y[j];
        }
    }
    if (b->requires_grad) {
        float *gb = genc_grad(c, b);
        float sign = op == OP_SUB ? -1.f : 1.f;
        const float *mul = op == OP_MUL ? a->data : NULL;
        if (m == n) {
            if (mul) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
                for (int64_t i = 0; i < n; i++) gb[i] += g[i] * mul[i];
            } else {
#pragma omp parallel for simd schedule(static) if (n > 32768)
                for (int64_t i = 0; i < n; i++) gb[i] += sign * g[i];
            }
        } else {
            genc_colsum_add(g, mul, rows, m, gb, sign);
        }
    }
}

static genc_tensor *binary(genc_ctx *c, genc_tensor *a, genc_tensor *b, int op, const char *name) {
    check_bcast(a, b, name);
    genc_tensor *out = genc_new_like(c, a);
    int64_t n = a->n, m = b->n;
    const float *x = a->data, *y = b->data;
    float *o = out->data;
    if (m == n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++)
            o[i] = op == OP_ADD ? x[i] + y[i] : op == OP_SUB ? x[i] - y[i] : x[i] * y[i];
    } else if (m == 1) { /* scalar operand: one flat loop, not n rows of one element */
        float y0 = y[0];
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (int64_t i = 0; i < n; i++)
            o[i] = op == OP_ADD ? x[i] + y0 : op == OP_SUB ? x[i] - y0 : x[i] * y0;
    } else {
        int64_t rows = n / m;
#pragma omp parallel for schedule(static) if (n > 32768)
        for (int64_t r = 0; r < rows; r++)
#pragma omp simd
            for (int64_t j = 0; j < m; j++) {
                int64_t i = r * m + j;
                o[i] = op == OP_ADD ? x[i] + y[j] : op == OP_SUB ? x[i] - y[j] : x[i] * y[j];
            }
    }
    genc_node *nd = genc_record(c, binary_backward, out, 2, (genc_tensor *[]){a, b});
    if (nd) nd->iarg[0] = op;
    return out;
}

genc_tensor *genc_add(genc_ctx *c, genc_tensor *a, genc_tensor *b) { return binary(c, a, b, OP_ADD, "add"); }
genc_tensor *genc_sub(genc_ctx *c, genc_tensor *a, genc_tensor *b) { return binary(c, a, b, OP_SUB, "sub"); }
genc_tensor *genc_mul(genc_ctx *c, genc_tensor *a, genc_tensor *b) { return binary(c, a, b, OP_MUL, "mul"); }

/* y = s·a + t */
static void affine_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *a = nd->in[0];
    float s = nd->farg[0];
    float *ga = genc_grad(c, a);
    const float *g = nd->out->grad;
#pragma omp parallel for simd schedule(static) if (a->n > 32768)
    for (int64_t i = 0; i < a->n; i++) ga[i] += s * g[i];
}

static genc_tensor *affine(genc_ctx *c, genc_tensor *a, float s, float t) {
    genc_tensor *out = genc_new_like(c, a);
#pragma omp parallel for simd schedule(static) if (a->n > 32768)
    for (int64_t i = 0; i < a->n; i++) out->data[i] = s * a->data[i] + t;
    genc_node *nd = genc_record(c, affine_backward, out, 1, &a);
    if (nd) nd->farg[0] = s;
    return out;
}

genc_tensor *genc_scale(genc_ctx *c, genc_tensor *a, float s) { return affine(c, a, s, 0.f); }
genc_tensor *genc_add_scalar(genc_ctx *c, genc_tensor *a, float s) { return affine(c, a, 1.f, s); }

static void sum_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *a = nd->in[0];
    float g = nd->out->grad[0] * nd->farg[0];
    float *ga = genc_grad(c, a);
#pragma omp parallel for simd schedule(static) if (a->n > 32768)
    for (int64_t i = 0; i < a->n; i++) ga[i] += g;
}

/* Σ a·mult. The sum runs over fixed chunks of 2^15 elements (vectorised, double accumulators)
 * whose partial sums are then added in chunk order: the result is the same for any thread
 * count, unlike an OpenMP reduction clause. */
static genc_tensor *reduce(genc_ctx *c, genc_tensor *a, float mult) {
    enum { CH = 1 << 15 };
    int64_t n = a->n, nch = (n + CH - 1) / CH;
    double *part = genc_scratch(c, (size_t)nch * sizeof(double));
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t k = 0; k < nch; k++) {
        const float *x = a->data + k * CH;
        int64_t len = n - k * CH < CH ? n - k * CH : CH;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < len; i++) s += x[i];
        part[k] = s;
    }
    double s = 0;
    for (int64_t k = 0; k < nch; k++) s += part[k];
    genc_tensor *out = genc_new1(c, 1);
    out->data[0] = (float)(s * mult);
    genc_node *nd = genc_record(c, sum_backward, out, 1, &a);
    if (nd) nd->farg[0] = mult;
    return out;
}

genc_tensor *genc_sum(genc_ctx *c, genc_tensor *a) { return reduce(c, a, 1.f); }
genc_tensor *genc_mean(genc_ctx *c, genc_tensor *a) { return reduce(c, a, 1.f / (float)a->n); }
