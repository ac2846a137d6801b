/* Elementwise arithmetic with numpy-style broadcasting, and sum/mean/mse reductions to a
 * scalar. The broadcast iteration itself is in broadcast.c. */
#include "genc/ops.h"

#include "broadcast.h"

#include <string.h>

/* A one-element b is a scalar: the output keeps a's shape whatever b's rank (the LM adds [1]
 * losses and scales this way). The header is a copy with no dims, same data. */
static genc_tensor operand_b(const genc_tensor *b, int scalar) {
    genc_tensor h = *b;
    if (scalar) h.ndim = 0;
    return h;
}

/* Gradient of the operand t (shape ts, gradient gt) of out = t ∘ y or y ∘ t:
 *   gt += s · Σ_broadcast g ∘ y       with ∘ = × or ÷ (op GENC_BC_MUL or GENC_BC_DIV).
 * Fused when t has out's shape (nothing to sum) or, for ×, when y does (a weighted column
 * sum); otherwise g ∘ y is formed in scratch and then summed. */
static void grad_through(genc_ctx *c, int op, const float *g, const genc_tensor *out, const float *y,
                         const genc_tensor *ys, float *gt, const genc_tensor *ts, float s) {
    if (ts->n == out->n) {
        genc_bcast_map(op == GENC_BC_MUL ? GENC_BC_MUL_ACC : GENC_BC_DIV_ACC, g, out, y, ys, gt, ts, s);
    } else if (op == GENC_BC_MUL && ys->n == out->n) {
        genc_bcast_sum(g, y, out, gt, ts, s);
    } else {
        float *tmp = genc_scratch(c, (size_t)out->n * sizeof(float));
        genc_bcast_map(op, g, out, y, ys, tmp, out, 1.f);
        genc_bcast_sum(tmp, NULL, out, gt, ts, s);
    }
}

/* gt += s·g summed over the dims t broadcasts: the gradient of an operand of add (s = 1) or
 * sub (s = −1 for b). An operand of out's shape that receives its first gradient gets it
 * stored, not added (genc_grad_fresh). */
static void add_grad(genc_ctx *c, const float *g, const genc_tensor *out, genc_tensor *t, const genc_tensor *ts,
                     float s) {
    int fresh = 0;
    float *gt = t->n == out->n ? genc_grad_fresh(c, t, &fresh) : genc_grad(c, t);
    if (!fresh) {
        genc_bcast_sum(g, NULL, out, gt, ts, s);
        return;
    }
#pragma omp parallel for simd schedule(static) if (t->n > 32768)
    for (int64_t i = 0; i < t->n; i++) gt[i] = s * g[i];
}

/* add: da += g, db += g;  sub: da += g, db −= g;  mul: da += g·b, db += g·a;
 * div: da += g/b, db −= g·a/b² = g·out/b.  Each summed over the dims its operand broadcasts. */
static void binary_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *a = nd->in[0], *b = nd->in[1], *out = nd->out;
    genc_tensor bs = operand_b(b, (int)nd->iarg[1]);
    int op = (int)nd->iarg[0];
    const float *g = out->grad;
    int additive = op == GENC_BC_ADD || op == GENC_BC_SUB;
    if (a->requires_grad && additive && !a->grad && a->n == out->n) {
        /* a's gradient is g itself: a takes over out's buffer instead of a copy (a residual
         * stream passes one buffer down through all its adds). out's gradient is complete,
         * since every op that reads out ran before this node, and nothing reads it later;
         * b's share below is taken from g before anything else adds into a. */
        a->grad = out->grad;
    } else if (a->requires_grad) {
        if (additive) add_grad(c, g, out, a, a, 1.f);
        else grad_through(c, op, g, out, b->data, &bs, genc_grad(c, a), a, 1.f);
    }
    if (b->requires_grad && additive) {
        add_grad(c, g, out, b, &bs, op == GENC_BC_SUB ? -1.f : 1.f);
    } else if (b->requires_grad) {
        float *gb = genc_grad(c, b);
        if (op == GENC_BC_MUL) {
            grad_through(c, op, g, out, a->data, a, gb, &bs, 1.f);
        } else {
            float *go = genc_scratch(c, (size_t)out->n * sizeof(float));
            genc_bcast_map(GENC_BC_MUL, g, out, out->data, out, go, out, 1.f);
            grad_through(c, GENC_BC_DIV, go, out, b->data, &bs, gb, &bs, -1.f);
        }
    }
}

static genc_tensor *binary(genc_ctx *c, genc_tensor *a, genc_tensor *b, int op, const char *name) {
    int scalar = b->n == 1, ndim, shape[GENC_MAX_DIMS];
    genc_tensor bs = operand_b(b, scalar);
    genc_bcast_shape(name, a, &bs, &ndim, shape);
    genc_tensor *out = genc_new(c, ndim, shape);
    genc_bcast_map(op, a->data, a, b->data, &bs, out->data, out, 1.f);
    genc_node *nd = genc_record(c, binary_backward, out, 2, (genc_tensor *[]){a, b});
    if (nd) {
        nd->iarg[0] = op;
        nd->iarg[1] = scalar;
    }
    return out;
}

genc_tensor *genc_add(genc_ctx *c, genc_tensor *a, genc_tensor *b) { return binary(c, a, b, GENC_BC_ADD, "add"); }
genc_tensor *genc_sub(genc_ctx *c, genc_tensor *a, genc_tensor *b) { return binary(c, a, b, GENC_BC_SUB, "sub"); }
genc_tensor *genc_mul(genc_ctx *c, genc_tensor *a, genc_tensor *b) { return binary(c, a, b, GENC_BC_MUL, "mul"); }
genc_tensor *genc_div(genc_ctx *c, genc_tensor *a, genc_tensor *b) { return binary(c, a, b, GENC_BC_DIV, "div"); }

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

/* Σ x_i, or Σ (x_i − y_i)² when y is given. The sum runs over fixed chunks of 2^15 elements
 * (vectorised, double accumulators) whose partial sums are then added in chunk order: the
 * result is the same for any thread count, unlike an OpenMP reduction clause. */
static double chunked_sum(genc_ctx *c, const float *x, const float *y, int64_t n) {
    enum { CH = 1 << 15 };
    int64_t nch = (n + CH - 1) / CH;
    double *part = genc_scratch(c, (size_t)nch * sizeof(double));
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t k = 0; k < nch; k++) {
        const float *xk = x + k * CH, *yk = y ? y + k * CH : NULL;
        int64_t len = n - k * CH < CH ? n - k * CH : CH;
        double s = 0;
        if (yk) {
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < len; i++) {
                float d = xk[i] - yk[i];
                s += d * d;
            }
        } else {
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < len; i++) s += xk[i];
        }
        part[k] = s;
    }
    double s = 0;
    for (int64_t k = 0; k < nch; k++) s += part[k];
    return s;
}

/* Σ a·mult */
static genc_tensor *reduce(genc_ctx *c, genc_tensor *a, float mult) {
    double s = chunked_sum(c, a->data, NULL, a->n);
    genc_tensor *out = genc_new1(c, 1);
    out->data[0] = (float)(s * mult);
    genc_node *nd = genc_record(c, sum_backward, out, 1, &a);
    if (nd) nd->farg[0] = mult;
    return out;
}

genc_tensor *genc_sum(genc_ctx *c, genc_tensor *a) { return reduce(c, a, 1.f); }
genc_tensor *genc_mean(genc_ctx *c, genc_tensor *a) { return reduce(c, a, 1.f / (float)a->n); }

/* mse = Σ (a − b)² / n;  da += g·2(a − b)/n,  db −= the same */
static void mse_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *a = nd->in[0], *b = nd->in[1];
    float k = nd->out->grad[0] * 2.0f / (float)a->n;
    float *ga = a->requires_grad ? genc_grad(c, a) : NULL, *gb = b->requires_grad ? genc_grad(c, b) : NULL;
    const float *x = a->data, *y = b->data;
#pragma omp parallel for simd schedule(static) if (a->n > 32768)
    for (int64_t i = 0; i < a->n; i++) {
        float d = k * (x[i] - y[i]);
        if (ga) ga[i] += d;
        if (gb) gb[i] -= d;
    }
}

genc_tensor *genc_mse(genc_ctx *c, genc_tensor *a, genc_tensor *b) {
    if (!genc_same_shape(a, b)) {
        char sa[64], sb[64];
        genc_fatal("mse: shapes %s and %s differ", genc_shape_str(a, sa, sizeof sa), genc_shape_str(b, sb, sizeof sb));
    }
    genc_tensor *out = genc_new1(c, 1);
    out->data[0] = (float)(chunked_sum(c, a->data, b->data, a->n) / (double)a->n);
    genc_record(c, mse_backward, out, 2, (genc_tensor *[]){a, b});
    return out;
}
