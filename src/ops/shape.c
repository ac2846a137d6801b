/* Layout ops. Reshape is a view (same data, shared gradient buffer, no tape node); permute,
 * transpose, concat and slice copy into a new contiguous tensor, because every kernel in
 * genc assumes contiguous row-major data. */
#include "genc/ops.h"

#include <string.h>

#define PAR_MIN 32768

static int norm_dim(int d, int ndim, const char *op) {
    int r = d < 0 ? d + ndim : d;
    GENC_ASSERT(r >= 0 && r < ndim, "%s: dim %d out of range for rank %d", op, d, ndim);
    return r;
}

/* ---------------------------------------------------------------- reshape */

/* A view with a new shape; one entry may be -1 (inferred). When x needs grad the view's
 * grad pointer is x's grad buffer: whatever accumulates into the view accumulates into x,
 * which is exactly reshape's backward, so nothing goes on the tape. */
genc_tensor *genc_reshape(genc_ctx *c, genc_tensor *x, int ndim, const int *shape) {
    GENC_ASSERT(ndim >= 1 && ndim <= GENC_MAX_DIMS, "reshape: rank %d", ndim);
    int s[GENC_MAX_DIMS], infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1) {
            GENC_ASSERT(infer < 0, "reshape: more than one -1");
            infer = i;
        } else {
            known *= s[i];
        }
    }
    if (infer >= 0) {
        GENC_ASSERT(known > 0 && x->n % known == 0, "reshape: cannot infer dim");
        s[infer] = (int)(x->n / known);
    }
    GENC_ASSERT(genc_shape_numel(ndim, s) == x->n, "reshape: %lld elements into a shape of %lld",
                (long long)x->n, (long long)genc_shape_numel(ndim, s));
    genc_tensor *v = genc_wrap(c, x->data, ndim, s);
    if (x->requires_grad && c->grad_enabled) {
        v->grad = genc_grad(c, x);
        v->requires_grad = 1;
    }
    return v;
}

/* ---------------------------------------------------------------- permute */

/* Shapes and strides padded to 4 dims: out[i0, i1, i2, i3] = x[Σ_k i_k · xstride[k]] */
typedef struct perm_plan {
    int os[4];
    int64_t xs[4];
} perm_plan;

/* Walks the output in order (contiguous writes); the innermost read is contiguous whenever
 * the last dim stays last, the common case (e.g. [B, T, H, D] → [B, H, T, D]).
 * back = 0: out = gather(x);  back = 1: x_grad += scatter(out_grad) (each x element is hit
 * exactly once, so the parallel scatter is race-free). */
static void permute_run(const perm_plan *p, float *xbuf, float *obuf, int back) {
    const int *os = p->os;
    const int64_t *xs = p->xs;
    int64_t n = (int64_t)os[0] * os[1] * os[2] * os[3];
#pragma omp parallel for collapse(3) schedule(static) if (n > PAR_MIN)
    for (int i0 = 0; i0 < os[0]; i0++)
        for (int i1 = 0; i1 < os[1]; i1++)
            for (int i2 = 0; i2 < os[2]; i2++) {
                int64_t src = i0 * xs[0] + i1 * xs[1] + i2 * xs[2];
                int64_t dst = (((int64_t)i0 * os[1] + i1) * os[2] + i2) * os[3];
                float *o = obuf + dst, *xp = xbuf + src;
                int64_t s3 = xs[3];
                if (s3 == 1) { /* contiguous rows: plain vector copy / add */
                    if (!back) memcpy(o, xp, (size_t)os[3] * sizeof(float));
                    else {
#pragma omp simd
                        for (int i3 = 0; i3 < os[3]; i3++) xp[i3] += o[i3];
                    }
                } else if (!back) {
                    for (int i3 = 0; i3 < os[3]; i3++) o[i3] = xp[i3 * s3];
                } else {
                    for (int i3 = 0; i3 < os[3]; i3++) xp[i3 * s3] += o[i3];
                }
            }
}

static void permute_backward(genc_ctx *c, genc_node *nd) {
    permute_run(nd->saved, genc_grad(c, nd->in[0]), nd->out->grad, 1);
}

/* out.shape[i] = x.shape[perm[i]] */
genc_tensor *genc_permute(genc_ctx *c, genc_tensor *x, const int *perm) {
    int nd = x->ndim, off = 4 - nd, seen = 0;
    int xs4[4] = {1, 1, 1, 1}, p4[4] = {0, 1, 2, 3};
    for (int i = 0; i < nd; i++) {
        GENC_ASSERT(perm[i] >= 0 && perm[i] < nd && !(seen & (1 << perm[i])),
                    "permute: not a permutation of %d dims", nd);
        seen |= 1 << perm[i];
        xs4[off + i] = x->shape[i];
        p4[off + i] = off + perm[i];
    }
    int64_t stride[4];
    stride[3] = 1;
    for (int k = 2; k >= 0; k--) stride[k] = stride[k + 1] * xs4[k + 1];
    perm_plan *plan = genc_scratch(c, sizeof *plan);
    int shape[GENC_MAX_DIMS];
    for (int i = 0; i < 4; i++) {
        plan->os[i] = xs4[p4[i]];
        plan->xs[i] = stride[p4[i]];
    }
    for (int i = 0; i < nd; i++) shape[i] = x->shape[perm[i]];
    genc_tensor *out = genc_new(c, nd, shape);
    permute_run(plan, x->data, out->data, 0);
    genc_node *n = genc_record(c, permute_backward, out, 1, &x);
    if (n) n->saved = plan;
    return out;
}

genc_tensor *genc_transpose(genc_ctx *c, genc_tensor *x, int d0, int d1) {
    d0 = norm_dim(d0, x->ndim, "transpose");
    d1 = norm_dim(d1, x->ndim, "transpose");
    int perm[GENC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[d0] = d1;
    perm[d1] = d0;
    return genc_permute(c, x, perm);
}

/* ---------------------------------------------------------------- concat and slice
 * Both see a tensor as [outer, dim·inner]: a row of `outer` holds one contiguous block per
 * operand, so each is a loop of memcpy / vector adds. */

static int64_t outer_of(const genc_tensor *t, int dim) {
    int64_t o = 1;
    for (int i = 0; i < dim; i++) o *= t->shape[i];
    return o;
}

/* dst[o, dcol0 : dcol0 + w] (+)= src[o, scol0 : scol0 + w] for every o, rows of length dw / sw */
static void copy_block(float *dst, int64_t dw, int64_t dcol0, const float *src, int64_t sw,
                       int64_t scol0, int64_t w, int64_t outer, int add) {
#pragma omp parallel for schedule(static) if (outer * w > PAR_MIN)
    for (int64_t o = 0; o < outer; o++) {
        float *d = dst + o * dw + dcol0;
        const float *s = src + o * sw + scol0;
        if (add) {
#pragma omp simd
            for (int64_t j = 0; j < w; j++) d[j] += s[j];
        } else {
            memcpy(d, s, (size_t)w * sizeof(float));
        }
    }
}

/* out = [a | b] along dim:  da += dout[..., :na, ...],  db += dout[..., na:, ...] */
static void concat_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *a = nd->in[0], *b = nd->in[1];
    int64_t outer = nd->iarg[0], wa = nd->iarg[1], wb = nd->iarg[2];
    const float *G = nd->out->grad;
    if (a->requires_grad) copy_block(genc_grad(c, a), wa, 0, G, wa + wb, 0, wa, outer, 1);
    if (b->requires_grad) copy_block(genc_grad(c, b), wb, 0, G, wa + wb, wa, wb, outer, 1);
}

/* a and b agree on every dim except dim; out.shape[dim] = a.shape[dim] + b.shape[dim] */
genc_tensor *genc_concat(genc_ctx *c, genc_tensor *a, genc_tensor *b, int dim) {
    GENC_ASSERT(a->ndim == b->ndim, "concat: ranks %d and %d", a->ndim, b->ndim);
    dim = norm_dim(dim, a->ndim, "concat");
    int shape[GENC_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++) {
        GENC_ASSERT(i == dim || a->shape[i] == b->shape[i], "concat: dim %d differs", i);
        shape[i] = a->shape[i];
    }
    shape[dim] = a->shape[dim] + b->shape[dim];
    genc_tensor *out = genc_new(c, a->ndim, shape);
    int64_t outer = outer_of(a, dim), wa = a->n / outer, wb = b->n / outer;
    copy_block(out->data, wa + wb, 0, a->data, wa, 0, wa, outer, 0);
    copy_block(out->data, wa + wb, wa, b->data, wb, 0, wb, outer, 0);
    genc_node *nd = genc_record(c, concat_backward, out, 2, (genc_tensor *[]){a, b});
    if (nd) {
        nd->iarg[0] = outer;
        nd->iarg[1] = wa;
        nd->iarg[2] = wb;
    }
    return out;
}

/* out = x[..., start : start + len, ...] along dim:  dx[..., start : start + len, ...] += dout */
static void slice_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    int64_t outer = nd->iarg[0], wx = nd->iarg[1], col0 = nd->iarg[2], w = nd->iarg[3];
    copy_block(genc_grad(c, x), wx, col0, nd->out->grad, w, 0, w, outer, 1);
}

genc_tensor *genc_slice(genc_ctx *c, genc_tensor *x, int dim, int start, int len) {
    dim = norm_dim(dim, x->ndim, "slice");
    GENC_ASSERT(start >= 0 && len > 0 && start + len <= x->shape[dim],
                "slice: [%d, %d) outside dim %d of size %d", start, start + len, dim, x->shape[dim]);
    int shape[GENC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = len;
    genc_tensor *out = genc_new(c, x->ndim, shape);
    int64_t outer = outer_of(x, dim), wx = x->n / outer, inner = wx / x->shape[dim];
    int64_t col0 = start * inner, w = len * inner;
    copy_block(out->data, w, 0, x->data, wx, col0, w, outer, 0);
    genc_node *nd = genc_record(c, slice_backward, out, 1, &x);
    if (nd) {
        nd->iarg[0] = outer;
        nd->iarg[1] = wx;
        nd->iarg[2] = col0;
        nd->iarg[3] = w;
    }
    return out;
}
