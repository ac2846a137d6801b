/* Softmax, log-softmax and the fused softmax cross-entropy loss, all over the last dim.
 *
 * Every row is shifted by its maximum before exponentiating (e^{x−max} ≤ 1, no overflow) and
 * its sum of exponentials is accumulated in double. Rows run in parallel; per-row results
 * that feed a scalar (the loss) are summed afterwards in row order, so the loss does not
 * depend on the thread count. */
#include "genc/ops.h"

#include "fastmath.h"
#include "rowstats.h"

#include <math.h>

#define PAR_MIN 16384

/* Σ_j e^{x_j − m}, also storing the terms in y when y is not NULL. Blocks of 256 terms are
 * summed in float (16 terms per vector lane) and the block sums in double: gcc does not
 * vectorise a double reduction around the inlined exp, and this keeps the accuracy of a
 * double sum at the speed of a float one. */
static double row_sumexp(const float *x, int V, float m, float *y) {
    enum { BLK = 256 };
    double s = 0;
    for (int j0 = 0; j0 < V; j0 += BLK) {
        int j1 = j0 + BLK < V ? j0 + BLK : V;
        float bs = 0;
        if (y) {
#pragma omp simd reduction(+ : bs)
            for (int j = j0; j < j1; j++) {
                float e = genc_fexp(x[j] - m);
                y[j] = e;
                bs += e;
            }
        } else {
#pragma omp simd reduction(+ : bs)
            for (int j = j0; j < j1; j++) bs += genc_fexp(x[j] - m);
        }
        s += bs;
    }
    return s;
}

/* log Σ_j e^{x_j}, computed as max + log Σ e^{x − max} */
static float row_logsumexp(const float *x, int V) {
    float m = genc_row_max(x, V);
    return m + (float)log(row_sumexp(x, V, m, NULL));
}

/* ---------------------------------------------------------------- softmax */

/* y = softmax(x):  dx = y ⊙ (dy − Σ dy·y) */
static void softmax_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    const float *Y = nd->out->data, *G = nd->out->grad;
    float *GX = genc_grad(c, x);
    int64_t R = genc_rows(x);
    int V = genc_dim(x, -1);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *y = Y + r * V, *g = G + r * V;
        float *gx = GX + r * V;
        double dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < V; j++) dot += g[j] * y[j];
        float d = (float)dot;
#pragma omp simd
        for (int j = 0; j < V; j++) gx[j] += y[j] * (g[j] - d);
    }
}

/* x[..., V] → y_j = e^{x_j} / Σ_k e^{x_k} */
genc_tensor *genc_softmax(genc_ctx *c, genc_tensor *x) {
    genc_tensor *out = genc_new_like(c, x);
    int64_t R = genc_rows(x);
    int V = genc_dim(x, -1);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * V;
        float *y = out->data + r * V;
        float inv = (float)(1.0 / row_sumexp(xr, V, genc_row_max(xr, V), y));
#pragma omp simd
        for (int j = 0; j < V; j++) y[j] *= inv;
    }
    genc_record(c, softmax_backward, out, 1, &x);
    return out;
}

/* y = log_softmax(x):  dx = dy − softmax(x)·Σ dy,  softmax(x) = e^y */
static void log_softmax_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    const float *Y = nd->out->data, *G = nd->out->grad;
    float *GX = genc_grad(c, x);
    int64_t R = genc_rows(x);
    int V = genc_dim(x, -1);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *y = Y + r * V, *g = G + r * V;
        float *gx = GX + r * V;
        double sg = 0;
#pragma omp simd reduction(+ : sg)
        for (int j = 0; j < V; j++) sg += g[j];
        float s = (float)sg;
#pragma omp simd
        for (int j = 0; j < V; j++) gx[j] += g[j] - genc_fexp(y[j]) * s;
    }
}

/* x[..., V] → y_j = x_j − log Σ_k e^{x_k} */
genc_tensor *genc_log_softmax(genc_ctx *c, genc_tensor *x) {
    genc_tensor *out = genc_new_like(c, x);
    int64_t R = genc_rows(x);
    int V = genc_dim(x, -1);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x->data + r * V;
        float *y = out->data + r * V;
        float lse = row_logsumexp(xr, V);
#pragma omp simd
        for (int j = 0; j < V; j++) y[j] = xr[j] - lse;
    }
    genc_record(c, log_softmax_backward, out, 1, &x);
    return out;
}

/* ---------------------------------------------------------------- cross-entropy */

/* With p = softmax(x_r), smoothing ε and target t:
 *   dCE_r/dx_v = p_v − (1 − ε)·[v = t] − ε/V
 * scaled by dloss · w_r / norm. p is recomputed from the saved log-sum-exp. */
static void cross_entropy_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    const float *lse = nd->saved;
    const int32_t *targets = nd->parg[0];
    const float *weights = nd->parg[1];
    int ignore = (int)nd->iarg[0];
    float norm = nd->farg[0], eps = nd->farg[1];
    float scale = nd->out->grad[0] / norm;
    int64_t R = genc_rows(x);
    int V = genc_dim(x, -1);
    float *GX = genc_grad(c, x);
    float smooth = eps / (float)V;
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        int t = targets[r];
        if (t == ignore) continue;
        const float *xr = x->data + r * V;
        float *gx = GX + r * V;
        float k = scale * (weights ? weights[r] : 1.0f), l = lse[r];
#pragma omp simd
        for (int j = 0; j < V; j++) gx[j] += k * (genc_fexp(xr[j] - l) - smooth);
        gx[t] -= k * (1.0f - eps);
    }
}

/* logits[..., V], targets[R] → Σ_r w_r·CE_r / norm, with
 *   CE_r = (1 − ε)(lse − x_t) + ε(lse − mean_v x_v)
 * since −log p_v = lse − x_v (lse = log Σ e^x): PyTorch's label_smoothing definition.
 * Rows whose target is ignore_index contribute nothing; norm <= 0 means their count. */
genc_tensor *genc_cross_entropy(genc_ctx *c, genc_tensor *logits, const int32_t *targets,
                                int ignore_index, float label_smoothing, const float *weights,
                                float norm) {
    int64_t R = genc_rows(logits);
    int V = genc_dim(logits, -1);
    float eps = label_smoothing;
    float *lse = genc_scratch(c, (size_t)R * sizeof(float));
    double *row_loss = genc_scratch(c, (size_t)R * sizeof(double));
#pragma omp parallel for schedule(static) if (logits->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        int t = targets[r];
        if (t == ignore_index) { row_loss[r] = 0; lse[r] = 0; continue; }
        GENC_ASSERT(t >= 0 && t < V, "cross_entropy: target %d of row %lld outside [0, %d)", t,
                    (long long)r, V);
        const float *xr = logits->data + r * V;
        float m = genc_row_max(xr, V);
        double l = m + log(row_sumexp(xr, V, m, NULL)); /* in double: the loss keeps digits */
        double ce = l - xr[t];
        if (eps != 0) {
            double sx = 0;
#pragma omp simd reduction(+ : sx)
            for (int j = 0; j < V; j++) sx += xr[j];
            ce = (1.0 - eps) * ce + eps * (l - sx / V);
        }
        lse[r] = (float)l;
        row_loss[r] = (weights ? weights[r] : 1.0) * ce;
    }
    double total = 0;
    int64_t count = 0;
    for (int64_t r = 0; r < R; r++) {
        total += row_loss[r];
        count += targets[r] != ignore_index;
    }
    if (norm <= 0) norm = (float)count;
    if (norm <= 0) norm = 1; /* every row ignored: loss 0 (PyTorch would give NaN) */
    genc_tensor *out = genc_new1(c, 1);
    out->data[0] = (float)(total / norm);
    genc_node *nd = genc_record(c, cross_entropy_backward, out, 1, &logits);
    if (nd) {
        nd->saved = lse;
        nd->parg[0] = targets;
        nd->parg[1] = weights;
        nd->iarg[0] = ignore_index;
        nd->farg[0] = norm;
        nd->farg[1] = eps;
    }
    return out;
}

/* out[r] = −log softmax(logits_r)[t_r] = lse_r − x_{r,t}; 0 for targets outside [0, V) (such
 * as an ignore_index). No tape: for evaluation. */
void genc_nll_rows(const genc_tensor *logits, const int32_t *targets, float *out) {
    int64_t R = genc_rows(logits);
    int V = genc_dim(logits, -1);
#pragma omp parallel for schedule(static) if (logits->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        int t = targets[r];
        const float *xr = logits->data + r * V;
        out[r] = (t >= 0 && t < V) ? row_logsumexp(xr, V) - xr[t] : 0.0f;
    }
}
