/* Reductions over one axis: sum, mean, max, logsumexp.
 *
 * x is viewed as [outer, L, inner] with L the reduced axis; the output is [outer, inner] with
 * the axis kept as 1 (keepdim) or dropped (a 1-D input gives [1]). Every output element is
 * reduced by one thread in a fixed order, so results do not depend on the thread count. */
#include "genc/ops.h"

#include "broadcast.h"
#include "fastmath.h"
#include "rowstats.h"

#include <math.h>

#define PAR_MIN 32768

typedef struct {
    int64_t outer, L, inner;
} axis_view;

static int norm_axis(const genc_tensor *x, int axis, const char *op) {
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim) {
        char sx[64];
        genc_fatal("%s: axis %d out of range for shape %s", op, axis, genc_shape_str(x, sx, sizeof sx));
    }
    return a;
}

static axis_view view_of(const genc_tensor *x, int a) {
    axis_view v = {1, x->shape[a], 1};
    for (int i = 0; i < a; i++) v.outer *= x->shape[i];
    for (int i = a + 1; i < x->ndim; i++) v.inner *= x->shape[i];
    return v;
}

/* x's header with the axis set to 1: the keepdim shape, which the broadcast kernels use */
static genc_tensor kept_shape(const genc_tensor *x, int a) {
    genc_tensor h = *x;
    h.shape[a] = 1;
    h.n = x->n / x->shape[a];
    return h;
}

static genc_tensor *new_reduced(genc_ctx *c, const genc_tensor *x, int a, int keepdim) {
    if (keepdim || x->ndim == 1) {
        genc_tensor h = kept_shape(x, a);
        return genc_new(c, h.ndim, h.shape);
    }
    int shape[GENC_MAX_DIMS], nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != a) shape[nd++] = x->shape[i];
    return genc_new(c, nd, shape);
}

/* ---------------------------------------------------------------- sum, mean */

/* y = Σ_axis x;  dx += dy broadcast back over the axis */
static void sum_axis_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], kd = kept_shape(x, (int)nd->iarg[0]);
    float *gx = genc_grad(c, x);
    genc_bcast_map(GENC_BC_ADD, gx, x, nd->out->grad, &kd, gx, x, 1.f);
}

genc_tensor *genc_sum_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim) {
    int a = norm_axis(x, axis, "sum_axis");
    genc_tensor kd = kept_shape(x, a), *out = new_reduced(c, x, a, keepdim);
    for (int64_t i = 0; i < out->n; i++) out->data[i] = 0.f;
    genc_bcast_sum(x->data, NULL, x, out->data, &kd, 1.f);
    genc_node *nd = genc_record(c, sum_axis_backward, out, 1, &x);
    if (nd) nd->iarg[0] = a;
    return out;
}

genc_tensor *genc_mean_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim) {
    int a = norm_axis(x, axis, "mean_axis");
    return genc_scale(c, genc_sum_axis(c, x, a, keepdim), 1.0f / (float)x->shape[a]);
}

/* ---------------------------------------------------------------- max */

/* max and logsumexp split the work into tasks of one outer index and a block of up to BLK
 * inner columns, so the inner loops run over contiguous columns; task t covers columns
 * [*j0, *j0 + return value) of outer index *o. */
enum { BLK = 256 };
static inline int64_t task_cols(axis_view v, int64_t t, int64_t *o, int64_t *j0) {
    int64_t nblk = (v.inner + BLK - 1) / BLK;
    *o = t / nblk;
    *j0 = t % nblk * BLK;
    return v.inner - *j0 < BLK ? v.inner - *j0 : BLK;
}
static inline int64_t n_tasks(axis_view v) { return v.outer * ((v.inner + BLK - 1) / BLK); }

/* m[o, j] = max_l x[o, l, j] and idx[o, j] = the first l that attains it. For inner == 1 (the
 * last axis) a task is one contiguous row: a vectorised max, then a scan for its first
 * position. NaN inputs give an unspecified result. */
static void axis_max(const float *x, axis_view v, float *m, int32_t *idx) {
    int64_t tasks = n_tasks(v);
#pragma omp parallel for schedule(static) if (v.outer * v.L * v.inner > PAR_MIN && tasks > 1)
    for (int64_t t = 0; t < tasks; t++) {
        int64_t o, j0, w = task_cols(v, t, &o, &j0);
        const float *base = x + o * v.L * v.inner + j0;
        float *mo = m + o * v.inner + j0;
        int32_t *io = idx + o * v.inner + j0;
        if (v.inner == 1) {
            float mx = genc_row_max(base, v.L);
            int64_t l = 0;
            while (l < v.L - 1 && base[l] != mx) l++;
            mo[0] = base[l];
            io[0] = (int32_t)l;
            continue;
        }
        for (int64_t j = 0; j < w; j++) {
            mo[j] = base[j];
            io[j] = 0;
        }
        for (int64_t l = 1; l < v.L; l++) {
            const float *row = base + l * v.inner;
#pragma omp simd
            for (int64_t j = 0; j < w; j++) {
                int gt = row[j] > mo[j]; /* strict: ties keep the first */
                mo[j] = gt ? row[j] : mo[j];
                io[j] = gt ? (int32_t)l : io[j];
            }
        }
    }
}

/* The whole gradient goes to the first maximal element (torch.max(dim) does the same; amax
 * would split it evenly among ties). */
static void max_axis_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    axis_view v = view_of(x, (int)nd->iarg[0]);
    const int32_t *idx = nd->saved;
    const float *g = nd->out->grad;
    float *gx = genc_grad(c, x);
    int64_t n = v.outer * v.inner;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        int64_t o = i / v.inner, j = i % v.inner;
        gx[(o * v.L + idx[i]) * v.inner + j] += g[i];
    }
}

genc_tensor *genc_max_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim) {
    int a = norm_axis(x, axis, "max_axis");
    axis_view v = view_of(x, a);
    genc_tensor *out = new_reduced(c, x, a, keepdim);
    int32_t *idx = genc_scratch(c, (size_t)out->n * sizeof(int32_t));
    axis_max(x->data, v, out->data, idx);
    genc_node *nd = genc_record(c, max_axis_backward, out, 1, &x);
    if (nd) {
        nd->iarg[0] = a;
        nd->saved = idx;
    }
    return out;
}

/* ---------------------------------------------------------------- logsumexp */

/* y = m + log Σ_l e^(x_l − m) with m the maximum (no overflow; the largest term is 1 so the
 * sum is ≥ 1 and the log is well conditioned). A row of −∞ gives −∞; +∞ and NaN inputs are not
 * supported.  dx_l += dy · e^(x_l − y) (the softmax). */
static void logsumexp_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    axis_view v = view_of(x, (int)nd->iarg[0]);
    const float *y = nd->out->data, *g = nd->out->grad, *xd = x->data;
    float *gx = genc_grad(c, x);
    if (v.inner == 1) { /* rows along the last axis: vectorise along the row */
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
        for (int64_t o = 0; o < v.outer; o++) {
            const float *xr = xd + o * v.L, yo = y[o], go = g[o];
            float *gr = gx + o * v.L;
#pragma omp simd
            for (int64_t l = 0; l < v.L; l++) gr[l] += go * genc_fexp(xr[l] - yo);
        }
        return;
    }
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < v.outer * v.L; r++) {
        int64_t o = r / v.L;
        const float *yo = y + o * v.inner, *go = g + o * v.inner, *xr = xd + r * v.inner;
        float *gr = gx + r * v.inner;
#pragma omp simd
        for (int64_t j = 0; j < v.inner; j++) gr[j] += go[j] * genc_fexp(xr[j] - yo[j]);
    }
}

genc_tensor *genc_logsumexp_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim) {
    int a = norm_axis(x, axis, "logsumexp_axis");
    axis_view v = view_of(x, a);
    genc_tensor *out = new_reduced(c, x, a, keepdim);
    float *m = out->data;
    axis_max(x->data, v, m, genc_scratch(c, (size_t)out->n * sizeof(int32_t)));
    int64_t tasks = n_tasks(v);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN && tasks > 1)
    for (int64_t t = 0; t < tasks; t++) {
        int64_t o, j0, w = task_cols(v, t, &o, &j0);
        const float *base = x->data + o * v.L * v.inner + j0;
        float *mo = m + o * v.inner + j0, shift[BLK];
        double acc[BLK];
        for (int64_t j = 0; j < w; j++) {
            shift[j] = isfinite(mo[j]) ? mo[j] : 0.f;
            acc[j] = 0;
        }
        if (v.inner == 1) {
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t l = 0; l < v.L; l++) s += genc_fexp(base[l] - shift[0]);
            acc[0] = s;
        } else {
            for (int64_t l = 0; l < v.L; l++) {
                const float *row = base + l * v.inner;
#pragma omp simd
                for (int64_t j = 0; j < w; j++) acc[j] += genc_fexp(row[j] - shift[j]);
            }
        }
        for (int64_t j = 0; j < w; j++) mo[j] = shift[j] + (float)log(acc[j]);
    }
    genc_node *nd = genc_record(c, logsumexp_backward, out, 1, &x);
    if (nd) nd->iarg[0] = a;
    return out;
}
