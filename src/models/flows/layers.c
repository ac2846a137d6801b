/* The invertible layers, forward (x → y, log|det| per example) and inverse (y → x), written
 * with differentiable ops so the tape gives every gradient. h is [B, C, H, W].
 *
 *   ActNorm (Glow)        y = (x + b_c)·e^{logs_c}                 log-det H·W·Σ_c logs_c
 *   1×1 conv (Glow)       y = W x at every pixel, W = P·L·(U + diag(sign·e^{log_s}))
 *                                                                   log-det H·W·Σ log_s
 *   coupling (NICE/RealNVP/Glow), x split into a conditioning part x_c and the rest x_t:
 *     additive            y_t = x_t + m(x_c)                        log-det 0
 *     affine              y_t = x_t·e^{s} + t,  s = a·tanh(raw)     log-det Σ s
 *     (raw, t) = net(x_c); the learned bound a keeps |s| ≤ |a| per layer (RealNVP's tanh
 *     scale), the usual cure for exploding scales.
 *   diagonal scaling      y = x·e^{s}                               log-det Σ s
 *   squeeze, flatten, split: volume preserving (split moves half the channels to the latent). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flows_internal.h"

/* [B, ...] → [B] per-example sum */
static genc_tensor *sum_per_example(genc_ctx *c, genc_tensor *x) {
    int B = x->shape[0], sh[2] = {B, (int)(x->n / B)};
    return genc_sum_axis(c, genc_reshape(c, x, 2, sh), 1, 0);
}

static genc_tensor *chan_view(genc_ctx *c, genc_tensor *p) {
    int sh[4] = {1, (int)p->n, 1, 1};
    return genc_reshape(c, p, 4, sh);
}

/* A constant tensor holding the data of p (no gradient flows into it). */
static genc_tensor *constant(genc_ctx *c, genc_tensor *p) { return genc_wrap(c, p->data, p->ndim, p->shape); }

/* net(x_c) → [B, cout, H, W]: ReLU MLP on [B, cin] (1×1 pixels) or conv3×3 → ReLU → conv1×1
 * → ReLU → conv3×3 */
static genc_tensor *coupling_net(genc_ctx *c, const genc_flow_layer *l, genc_tensor *x) {
    int B = x->shape[0];
    genc_tensor *h = x;
    if (l->mlp) {
        int sh[2] = {B, x->shape[1]};
        h = genc_reshape(c, x, 2, sh);
    }
    for (int j = 0; j < l->n_net; j++) {
        if (l->mlp) h = genc_linear(c, h, l->net[j].W, l->net[j].b);
        else h = genc_conv2d(c, h, l->net[j].W, l->net[j].b, 1, l->net[j].W->shape[2] / 2);
        if (j < l->n_net - 1) h = genc_relu(c, h);
    }
    if (l->mlp) {
        int sh[4] = {B, h->shape[1], 1, 1};
        h = genc_reshape(c, h, 4, sh);
    }
    return h;
}

/* checkerboard mask [1, 1, H, W]: 1 on the conditioning pixels ((h + w) % 2 == parity) */
static genc_tensor *checker(genc_ctx *c, const genc_flow_layer *l, int cond) {
    int sh[4] = {1, 1, l->H, l->W};
    genc_tensor *m = genc_new(c, 4, sh);
    for (int h = 0; h < l->H; h++)
        for (int w = 0; w < l->W; w++) m->data[h * l->W + w] = (((h + w) % 2 == l->parity) == cond) ? 1.f : 0.f;
    return m;
}

/* (s, t) of an affine coupling, or m = t of an additive one (s = NULL), from the
 * conditioning input; checkerboard: masked to the transformed pixels. */
static void coupling_st(genc_ctx *c, const genc_flow_layer *l, genc_tensor *xc, genc_tensor **s, genc_tensor **t) {
    int cin, ct, cout;
    genc_flow_coupling_dims(l, &cin, &ct, &cout);
    genc_tensor *h = coupling_net(c, l, xc);
    *s = NULL;
    *t = h;
    if (l->affine) {
        *s = genc_mul(c, genc_tanh(c, genc_slice(c, h, 1, 0, ct)), chan_view(c, l->a));
        *t = genc_slice(c, h, 1, ct, ct);
    }
    if (l->kind == GENC_FL_COUPLING_CB) {
        genc_tensor *nb = checker(c, l, 0);
        if (*s) *s = genc_mul(c, *s, nb);
        *t = genc_mul(c, *t, nb);
    }
}

static genc_tensor *coupling(genc_ctx *c, const genc_flow_layer *l, genc_tensor *x, genc_tensor **logdet, int inverse) {
    genc_tensor *xc, *xt;
    int ca = l->C / 2;
    if (l->kind == GENC_FL_COUPLING_CB) {
        xc = genc_mul(c, x, checker(c, l, 1));
        xt = x;
    } else {
        genc_tensor *a = genc_slice(c, x, 1, 0, ca), *b = genc_slice(c, x, 1, ca, l->C - ca);
        xc = l->parity ? b : a;
        xt = l->parity ? a : b;
    }
    genc_tensor *s, *t;
    coupling_st(c, l, xc, &s, &t);
    genc_tensor *y;
    if (!inverse) {
        y = s ? genc_add(c, genc_mul(c, xt, genc_exp(c, s)), t) : genc_add(c, xt, t);
        if (s) *logdet = genc_add(c, *logdet, sum_per_example(c, s));
    } else {
        y = genc_sub(c, xt, t);
        if (s) y = genc_mul(c, y, genc_exp(c, genc_scale(c, s, -1.f)));
    }
    if (l->kind == GENC_FL_COUPLING_CB) return y;
    return l->parity ? genc_concat(c, y, xc, 1) : genc_concat(c, xc, y, 1);
}

genc_tensor *genc_flow_invconv_matrix(genc_ctx *c, const genc_flow_layer *l) {
    int C = l->C, sh[2] = {C, C}, row[2] = {1, C};
    genc_tensor *lo = genc_new(c, 2, sh), *up = genc_new(c, 2, sh), *eye = genc_new(c, 2, sh);
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++) {
            lo->data[i * C + j] = j < i;
            up->data[i * C + j] = j > i;
            eye->data[i * C + j] = i == j;
        }
    genc_tensor *L = genc_add(c, genc_mul(c, l->p0, lo), eye);
    genc_tensor *d = genc_mul(c, genc_exp(c, l->p2), constant(c, l->sign));
    genc_tensor *U = genc_add(c, genc_mul(c, l->p1, up), genc_mul(c, eye, genc_reshape(c, d, 2, row)));
    return genc_matmul(c, constant(c, l->perm), genc_matmul(c, L, U, 0, 0), 0, 0);
}

/* Inverse of a C×C matrix by Gauss–Jordan with partial pivoting, in double. */
static void invert(const float *W, float *Wi, int C, double *A) {
    double *I = A + (int64_t)C * C;
    for (int64_t i = 0; i < (int64_t)C * C; i++) A[i] = W[i], I[i] = 0;
    for (int i = 0; i < C; i++) I[(int64_t)i * C + i] = 1;
    for (int k = 0; k < C; k++) {
        int p = k;
        for (int i = k + 1; i < C; i++)
            if (fabs(A[(int64_t)i * C + k]) > fabs(A[(int64_t)p * C + k])) p = i;
        for (int j = 0; j < C; j++) {
            double t = A[(int64_t)k * C + j];
            A[(int64_t)k * C + j] = A[(int64_t)p * C + j], A[(int64_t)p * C + j] = t;
            t = I[(int64_t)k * C + j];
            I[(int64_t)k * C + j] = I[(int64_t)p * C + j], I[(int64_t)p * C + j] = t;
        }
        double piv = A[(int64_t)k * C + k];
        for (int j = 0; j < C; j++) A[(int64_t)k * C + j] /= piv, I[(int64_t)k * C + j] /= piv;
        for (int i = 0; i < C; i++) {
            if (i == k) continue;
            double m = A[(int64_t)i * C + k];
            if (m == 0) continue;
            for (int j = 0; j < C; j++) A[(int64_t)i * C + j] -= m * A[(int64_t)k * C + j], I[(int64_t)i * C + j] -= m * I[(int64_t)k * C + j];
        }
    }
    for (int64_t i = 0; i < (int64_t)C * C; i++) Wi[i] = (float)I[i];
}

static genc_tensor *invconv(genc_ctx *c, const genc_flow_layer *l, genc_tensor *x, genc_tensor **logdet, int inverse) {
    int C = l->C, ws[4] = {C, C, 1, 1};
    genc_tensor *W = genc_flow_invconv_matrix(c, l);
    if (inverse) {
        genc_tensor *Wi = genc_new(c, 2, W->shape);
        invert(W->data, Wi->data, C, genc_scratch(c, sizeof(double) * 2 * (size_t)C * C));
        W = Wi;
    } else {
        genc_tensor *ld = genc_scale(c, genc_sum(c, l->p2), (float)l->H * l->W);
        *logdet = genc_add(c, *logdet, ld);
    }
    if (l->H == 1 && l->W == 1) {   /* vectors: one matrix product, y = x·Wᵀ */
        int B = x->shape[0], v[2] = {B, C};
        return genc_reshape(c, genc_linear(c, genc_reshape(c, x, 2, v), W, NULL), 4, x->shape);
    }
    return genc_conv2d(c, x, genc_reshape(c, W, 4, ws), NULL, 1, 0);
}

/* Data-dependent ActNorm initialisation (Glow §3.1): per channel b = −mean, logs = −log(std)
 * over the batch and pixels, so the first batch leaves with zero mean and unit variance. */
static void actnorm_init(const genc_flow_layer *l, const genc_tensor *x) {
    int B = x->shape[0], C = l->C;
    int64_t S = (int64_t)l->H * l->W;
    for (int ch = 0; ch < C; ch++) {
        double s1 = 0, s2 = 0;
        for (int b = 0; b < B; b++) {
            const float *p = x->data + ((int64_t)b * C + ch) * S;
            for (int64_t k = 0; k < S; k++) s1 += p[k];
        }
        double mean = s1 / ((double)B * S);
        for (int b = 0; b < B; b++) {
            const float *p = x->data + ((int64_t)b * C + ch) * S;
            for (int64_t k = 0; k < S; k++) s2 += (p[k] - mean) * (p[k] - mean);
        }
        double sd = sqrt(s2 / ((double)B * S));
        l->p0->data[ch] = (float)-mean;
        l->p1->data[ch] = (float)-log(sd + 1e-6);
    }
}

/* NICE's diagonal scaling gets the same data-dependent start per dimension, s = −log(std):
 * dequantised 8-bit data has dimensions (the background) whose spread is only the noise,
 * std ≈ 1/(256·√12), and a scaling that starts at 1 would need thousands of Adam steps to
 * reach the e^6.8 they call for (genc's choice; the paper initialises s = 0). */
static void scale_init(const genc_flow_layer *l, const genc_tensor *x) {
    int B = x->shape[0];
    int64_t n = (int64_t)l->C * l->H * l->W;
    for (int64_t k = 0; k < n; k++) {
        double s1 = 0, s2 = 0;
        for (int b = 0; b < B; b++) s1 += x->data[(int64_t)b * n + k];
        double mean = s1 / B;
        for (int b = 0; b < B; b++) s2 += (x->data[(int64_t)b * n + k] - mean) * (x->data[(int64_t)b * n + k] - mean);
        l->p0->data[k] = (float)-log(sqrt(s2 / B) + 1e-6);
    }
}

genc_tensor *genc_flow_layer_forward(genc_ctx *c, genc_flow *f, int i, genc_tensor *x, genc_tensor **logdet,
                                     genc_tensor **out_z) {
    genc_flow_layer *l = &f->layers[i];
    int B = x->shape[0];
    switch (l->kind) {
    case GENC_FL_ACTNORM: {
        if (f->actnorm_pending) actnorm_init(l, x);
        genc_tensor *y = genc_mul(c, genc_add(c, x, chan_view(c, l->p0)), genc_exp(c, chan_view(c, l->p1)));
        *logdet = genc_add(c, *logdet, genc_scale(c, genc_sum(c, l->p1), (float)l->H * l->W));
        return y;
    }
    case GENC_FL_INVCONV: return invconv(c, l, x, logdet, 0);
    case GENC_FL_COUPLING_CH:
    case GENC_FL_COUPLING_CB: return coupling(c, l, x, logdet, 0);
    case GENC_FL_SCALE: {
        int sh[4] = {1, l->C, l->H, l->W};
        if (f->actnorm_pending) scale_init(l, x);
        *logdet = genc_add(c, *logdet, genc_sum(c, l->p0));
        return genc_mul(c, x, genc_exp(c, genc_reshape(c, l->p0, 4, sh)));
    }
    case GENC_FL_SQUEEZE: return genc_space_to_depth(c, x, 2);
    case GENC_FL_FLATTEN: {
        int sh[4] = {B, l->C * l->H * l->W, 1, 1};
        return genc_reshape(c, x, 4, sh);
    }
    case GENC_FL_SPLIT: {
        int keep = l->C - l->C / 2;
        *out_z = genc_slice(c, x, 1, keep, l->C / 2);
        return genc_slice(c, x, 1, 0, keep);
    }
    }
    return x;
}

genc_tensor *genc_flow_layer_inverse(genc_ctx *c, genc_flow *f, int i, genc_tensor *y, genc_tensor *z) {
    genc_flow_layer *l = &f->layers[i];
    int B = y->shape[0];
    genc_tensor *unused = NULL;
    switch (l->kind) {
    case GENC_FL_ACTNORM:
        return genc_sub(c, genc_mul(c, y, genc_exp(c, genc_scale(c, chan_view(c, l->p1), -1.f))), chan_view(c, l->p0));
    case GENC_FL_INVCONV: return invconv(c, l, y, &unused, 1);
    case GENC_FL_COUPLING_CH:
    case GENC_FL_COUPLING_CB: return coupling(c, l, y, &unused, 1);
    case GENC_FL_SCALE: {
        int sh[4] = {1, l->C, l->H, l->W};
        return genc_mul(c, y, genc_exp(c, genc_scale(c, genc_reshape(c, l->p0, 4, sh), -1.f)));
    }
    case GENC_FL_SQUEEZE: return genc_depth_to_space(c, y, 2);
    case GENC_FL_FLATTEN: {
        int sh[4] = {B, l->C, l->H, l->W};
        return genc_reshape(c, y, 4, sh);
    }
    case GENC_FL_SPLIT: return genc_concat(c, y, z, 1);
    }
    return y;
}
