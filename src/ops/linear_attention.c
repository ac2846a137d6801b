/* Linear attention with rotary positions (Su et al., "RoFormer", §3.3; linear attention of
 * Katharopoulos et al., "Transformers are RNNs", 2020).
 *
 * With φ(x) = elu(x) + 1 > 0, q̂_i = φ(q_i), k̂_j = φ(k_j) and R_t the RoPE rotation of
 * token t, per (batch, head):
 *   out_i = Σ_j (R_i q̂_i)·(R_j k̂_j) v_j / Σ_j q̂_i·k̂_j
 * The numerator carries the relative position (R_iᵀR_j depends on j − i only); the
 * denominator is left unrotated so it stays positive. Both sums factor through the state
 *   S = Σ_j (R_j k̂_j) ⊗ v_j   [Dh × Dh],   z = Σ_j k̂_j   [Dh]
 *   out_i = ((R_i q̂_i)ᵀ S) / (q̂_i · z)
 * over all j, or over j ≤ i (causal) as running prefix sums: O(T·Dh²) instead of O(T²·Dh).
 *
 * Backward, with num_i = (R_i q̂_i)ᵀS_i, den_i = q̂_i·z_i, g_i = ∂L/∂out_i:
 *   ∂num_i = g_i / den_i,   ∂den_i = −(g_i·out_i) / den_i
 *   ∂q̂_i = R_iᵀ (S_i ∂num_i) + ∂den_i z_i
 *   with U_j = Σ_{i ≥ j} (R_i q̂_i) ⊗ ∂num_i and W_j = Σ_{i ≥ j} ∂den_i q̂_i (suffix sums):
 *   ∂k̂_j = R_jᵀ (U_j v_j) + W_j,   ∂v_j = U_jᵀ (R_j k̂_j)
 *   ∂x = ∂x̂ · φ'(x),  φ'(x) = 1 if x > 0 else eˣ.
 * A forward sweep gives ∂q (it needs the prefix state S_i), a backward sweep ∂k and ∂v. */
#include "genc/ops.h"
#include "ops/rope_rotate.h"

#include <math.h>
#include <omp.h>
#include <string.h>

static inline float phi(float x) { return x > 0.f ? x + 1.f : expf(x); }
static inline float dphi(float x) { return x > 0.f ? 1.f : expf(x); }

typedef struct la_shape {
    int B, T, H, Dh, interleaved, causal;
    const float *cos, *sin;
} la_shape;

/* Features of one head: xp[t] = φ(x_t), xr[t] = R_t φ(x_t), both [T][Dh]. */
static void la_features(const la_shape *s, const float *x, int b, int h, float *xp, float *xr) {
    int Dh = s->Dh, half = Dh / 2;
    for (int t = 0; t < s->T; t++) {
        const float *row = x + (((int64_t)b * s->T + t) * s->H + h) * Dh;
        float *p = xp + (int64_t)t * Dh;
        for (int d = 0; d < Dh; d++) p[d] = phi(row[d]);
        genc_rope_rotate(xr + (int64_t)t * Dh, p, s->cos + (int64_t)t * half, s->sin + (int64_t)t * half,
                         half, s->interleaved, 1.f, 0);
    }
}

/* S += a ⊗ v,  S [Dh][Dh] */
static inline void outer_add(float *S, const float *a, const float *v, float w, int Dh) {
    for (int i = 0; i < Dh; i++) {
        float ai = w * a[i];
        float *row = S + (int64_t)i * Dh;
#pragma omp simd
        for (int j = 0; j < Dh; j++) row[j] += ai * v[j];
    }
}

/* y = aᵀ S  (y_j = Σ_i a_i S_ij) */
static inline void vec_mat(float *y, const float *a, const float *S, int Dh) {
    memset(y, 0, (size_t)Dh * sizeof(float));
    for (int i = 0; i < Dh; i++) {
        float ai = a[i];
        const float *row = S + (int64_t)i * Dh;
#pragma omp simd
        for (int j = 0; j < Dh; j++) y[j] += ai * row[j];
    }
}

/* y = S a  (y_i = Σ_j S_ij a_j) */
static inline void mat_vec(float *y, const float *S, const float *a, int Dh) {
    for (int i = 0; i < Dh; i++) {
        const float *row = S + (int64_t)i * Dh;
        float acc = 0.f;
#pragma omp simd reduction(+ : acc)
        for (int j = 0; j < Dh; j++) acc += row[j] * a[j];
        y[i] = acc;
    }
}

static inline float dot(const float *a, const float *b, int n) {
    float acc = 0.f;
#pragma omp simd reduction(+ : acc)
    for (int i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

static inline const float *row_of(const la_shape *s, const float *x, int b, int t, int h) {
    return x + (((int64_t)b * s->T + t) * s->H + h) * s->Dh;
}

/* Per-thread scratch: qp, qr, kp, kr, dnum [T][Dh], dden [T], S [Dh²], z, tmp, tmp2 [Dh] */
static size_t la_scratch_floats(const la_shape *s) {
    return (size_t)5 * s->T * s->Dh + s->T + (size_t)s->Dh * s->Dh + 3 * (size_t)s->Dh;
}

static void la_forward_head(const la_shape *s, const float *q, const float *k, const float *v,
                            float *out, int b, int h, float *buf) {
    int T = s->T, Dh = s->Dh;
    float *qp = buf, *qr = qp + (size_t)T * Dh, *kp = qr + (size_t)T * Dh, *kr = kp + (size_t)T * Dh;
    float *S = kr + (size_t)2 * T * Dh + T, *z = S + (size_t)Dh * Dh; /* same layout as backward */
    la_features(s, q, b, h, qp, qr);
    la_features(s, k, b, h, kp, kr);
    memset(S, 0, (size_t)Dh * Dh * sizeof(float));
    memset(z, 0, (size_t)Dh * sizeof(float));
    if (!s->causal)
        for (int t = 0; t < T; t++) {
            outer_add(S, kr + (size_t)t * Dh, row_of(s, v, b, t, h), 1.f, Dh);
            for (int d = 0; d < Dh; d++) z[d] += kp[(size_t)t * Dh + d];
        }
    for (int t = 0; t < T; t++) {
        if (s->causal) {
            outer_add(S, kr + (size_t)t * Dh, row_of(s, v, b, t, h), 1.f, Dh);
            for (int d = 0; d < Dh; d++) z[d] += kp[(size_t)t * Dh + d];
        }
        float *o = out + (((int64_t)b * T + t) * s->H + h) * Dh;
        vec_mat(o, qr + (size_t)t * Dh, S, Dh);
        float inv = 1.f / dot(qp + (size_t)t * Dh, z, Dh);
        for (int d = 0; d < Dh; d++) o[d] *= inv;
    }
}

static void la_backward_head(const la_shape *s, const genc_tensor *q, const genc_tensor *k,
                             const genc_tensor *v, const float *out, const float *g, float *gq,
                             float *gk, float *gv, int b, int h, float *buf) {
    int T = s->T, Dh = s->Dh, half = Dh / 2;
    float *qp = buf, *qr = qp + (size_t)T * Dh, *kp = qr + (size_t)T * Dh, *kr = kp + (size_t)T * Dh;
    float *dnum = kr + (size_t)T * Dh, *dden = dnum + (size_t)T * Dh;
    float *S = dden + T, *z = S + (size_t)Dh * Dh, *tmp = z + Dh, *tmp2 = tmp + Dh;
    la_features(s, q->data, b, h, qp, qr);
    la_features(s, k->data, b, h, kp, kr);

    /* forward sweep: state S_t, z_t as in the forward pass; ∂num, ∂den; ∂q */
    memset(S, 0, (size_t)Dh * Dh * sizeof(float));
    memset(z, 0, (size_t)Dh * sizeof(float));
    if (!s->causal)
        for (int t = 0; t < T; t++) {
            outer_add(S, kr + (size_t)t * Dh, row_of(s, v->data, b, t, h), 1.f, Dh);
            for (int d = 0; d < Dh; d++) z[d] += kp[(size_t)t * Dh + d];
        }
    for (int t = 0; t < T; t++) {
        if (s->causal) {
            outer_add(S, kr + (size_t)t * Dh, row_of(s, v->data, b, t, h), 1.f, Dh);
            for (int d = 0; d < Dh; d++) z[d] += kp[(size_t)t * Dh + d];
        }
        const float *gt = row_of(s, g, b, t, h), *ot = row_of(s, out, b, t, h);
        float den = dot(qp + (size_t)t * Dh, z, Dh);
        float *dn = dnum + (size_t)t * Dh;
        for (int d = 0; d < Dh; d++) dn[d] = gt[d] / den;
        dden[t] = -dot(gt, ot, Dh) / den;
        if (!gq) continue;
        mat_vec(tmp, S, dn, Dh); /* ∂(R q̂) */
        memset(tmp2, 0, (size_t)Dh * sizeof(float));
        genc_rope_rotate(tmp2, tmp, s->cos + (int64_t)t * half, s->sin + (int64_t)t * half, half,
                         s->interleaved, -1.f, 0);
        const float *qt = row_of(s, q->data, b, t, h);
        float *gqt = gq + (((int64_t)b * T + t) * s->H + h) * Dh;
        for (int d = 0; d < Dh; d++) gqt[d] += (tmp2[d] + dden[t] * z[d]) * dphi(qt[d]);
    }
    if (!gk && !gv) return;

    /* backward sweep: suffix states U (reusing S) and W (reusing z); ∂k, ∂v */
    float *U = S, *W = z;
    memset(U, 0, (size_t)Dh * Dh * sizeof(float));
    memset(W, 0, (size_t)Dh * sizeof(float));
    if (!s->causal)
        for (int t = 0; t < T; t++) {
            outer_add(U, qr + (size_t)t * Dh, dnum + (size_t)t * Dh, 1.f, Dh);
            for (int d = 0; d < Dh; d++) W[d] += dden[t] * qp[(size_t)t * Dh + d];
        }
    for (int t = T - 1; t >= 0; t--) {
        if (s->causal) {
            outer_add(U, qr + (size_t)t * Dh, dnum + (size_t)t * Dh, 1.f, Dh);
            for (int d = 0; d < Dh; d++) W[d] += dden[t] * qp[(size_t)t * Dh + d];
        }
        const float *vt = row_of(s, v->data, b, t, h);
        if (gv) {
            vec_mat(tmp, kr + (size_t)t * Dh, U, Dh); /* Uᵀ (R k̂) */
            float *gvt = gv + (((int64_t)b * T + t) * s->H + h) * Dh;
            for (int d = 0; d < Dh; d++) gvt[d] += tmp[d];
        }
        if (gk) {
            mat_vec(tmp, U, vt, Dh); /* ∂(R k̂) = U v */
            genc_rope_rotate(tmp2, tmp, s->cos + (int64_t)t * half, s->sin + (int64_t)t * half, half,
                             s->interleaved, -1.f, 0);
            const float *kt = row_of(s, k->data, b, t, h);
            float *gkt = gk + (((int64_t)b * T + t) * s->H + h) * Dh;
            for (int d = 0; d < Dh; d++) gkt[d] += (tmp2[d] + W[d]) * dphi(kt[d]);
        }
    }
}

static void la_backward(genc_ctx *c, genc_node *nd) {
    const la_shape *s = nd->saved;
    genc_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2];
    float *gq = q->requires_grad ? genc_grad(c, q) : NULL;
    float *gk = k->requires_grad ? genc_grad(c, k) : NULL;
    float *gv = v->requires_grad ? genc_grad(c, v) : NULL;
    size_t per = la_scratch_floats(s);
    float *scratch = genc_scratch(c, (size_t)omp_get_max_threads() * per * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1) if ((int64_t)s->B * s->H * s->T * s->Dh * s->Dh > (1 << 18))
    for (int64_t bh = 0; bh < (int64_t)s->B * s->H; bh++)
        la_backward_head(s, q, k, v, nd->out->data, nd->out->grad, gq, gk, gv, (int)(bh / s->H), (int)(bh % s->H),
                         scratch + (size_t)omp_get_thread_num() * per);
}

/* q, k, v [B, T, H, Dh], cos/sin [T, Dh/2] → [B, T, H, Dh] */
genc_tensor *genc_linear_attention_rope(genc_ctx *c, genc_tensor *q, genc_tensor *k,
                                        genc_tensor *v, const float *cos, const float *sin,
                                        int interleaved, int causal) {
    GENC_ASSERT(q->ndim == 4 && genc_same_shape(q, k) && genc_same_shape(q, v),
                "linear attention: q, k, v must all be [B, T, H, Dh]");
    GENC_ASSERT(q->shape[3] % 2 == 0, "linear attention: head dim %d is odd", q->shape[3]);
    la_shape *s = genc_scratch(c, sizeof *s);
    *s = (la_shape){q->shape[0], q->shape[1], q->shape[2], q->shape[3], interleaved, causal, cos, sin};
    genc_tensor *out = genc_new_like(c, q);
    size_t per = la_scratch_floats(s);
    float *scratch = genc_scratch(c, (size_t)omp_get_max_threads() * per * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1) if ((int64_t)s->B * s->H * s->T * s->Dh * s->Dh > (1 << 18))
    for (int64_t bh = 0; bh < (int64_t)s->B * s->H; bh++)
        la_forward_head(s, q->data, k->data, v->data, out->data, (int)(bh / s->H), (int)(bh % s->H),
                        scratch + (size_t)omp_get_thread_num() * per);
    genc_node *nd = genc_record(c, la_backward, out, 3, (genc_tensor *[]){q, k, v});
    if (nd) nd->saved = s;
    return out;
}
