/* Attention, RoPE and linear attention:
 *  1. the fused kernel against genc_attention_reference for every mask kind and bias, tile
 *     remainders (T = 67, 130), Dh = 8/16/24/32/64/80/128/256, KV-cache offsets, empty rows;
 *  2. its backward against a materialised double-precision backward (all cases of 1, with
 *     one and two threads, which exercise both backward schedules), and finite differences
 *     of q, k, v and the T5 table on small cases;
 *  3. RoPE against the textbook formula and by gradcheck, both conventions;
 *  4. the two RoPE conventions agree up to a fixed permutation of head features;
 *  5. linear attention with RoPE against the quadratic form, causal and not, and gradcheck. */
#include "testutil.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct acase {
    const char *name;
    int B, Tq, Tk, H, Dh;
    int causal, block, q_offset;
    int mask;    /* 1: random boolean mask with one all-hidden row; 2: BD3's block-causal
                    2L mask (blocks of 16), which hides whole tiles */
    int key_pad; /* 1: pad the tail of batch 1 and the first key of batch 0 */
    int alibi;
    int t5;      /* 1: bidirectional buckets, 2: causal buckets */
    float scale;
} acase;

static const acase CASES[] = {
    {"bidirectional", 2, 67, 67, 3, 32, 0, 0, 0, 0, 0, 0, 0, 0},
    {"causal Dh16", 2, 67, 67, 2, 16, 1, 0, 0, 0, 0, 0, 0, 0},
    {"causal T130 Dh64", 1, 130, 130, 3, 64, 1, 0, 0, 0, 0, 0, 0, 0},
    {"causal Dh128", 1, 70, 70, 2, 128, 1, 0, 0, 0, 0, 0, 0, 0},
    {"kv cache Tq5 Tk70", 2, 5, 70, 2, 64, 1, 0, 65, 0, 0, 0, 0, 0},
    {"kv cache Tq1 Tk130", 2, 1, 130, 2, 32, 1, 0, 129, 0, 0, 0, 0, 0},
    {"kv cache Tq67 Tk140", 1, 67, 140, 2, 32, 1, 0, 73, 0, 0, 0, 0, 0},
    {"block 16", 2, 67, 67, 2, 32, 0, 16, 0, 0, 0, 0, 0, 0},
    {"block 24 + causal", 1, 100, 100, 2, 32, 1, 24, 0, 0, 0, 0, 0, 0},
    {"mask", 2, 67, 67, 2, 32, 0, 0, 0, 1, 0, 0, 0, 0},
    {"mask + causal", 1, 67, 67, 2, 16, 1, 0, 0, 1, 0, 0, 0, 0},
    {"bd3 2L mask T200", 2, 200, 200, 2, 32, 0, 0, 0, 2, 0, 0, 0, 0},
    {"key_pad", 2, 67, 67, 2, 32, 0, 0, 0, 0, 1, 0, 0, 0},
    {"key_pad + causal", 2, 67, 67, 2, 32, 1, 0, 0, 0, 1, 0, 0, 0},
    {"alibi causal H6", 1, 130, 130, 6, 64, 1, 0, 0, 0, 0, 1, 0, 0},
    {"alibi bidirectional", 2, 67, 67, 3, 32, 0, 0, 0, 0, 0, 1, 0, 0},
    {"t5 bidirectional", 2, 67, 67, 3, 32, 0, 0, 0, 0, 0, 0, 1, 0},
    {"t5 causal kv cache", 1, 20, 90, 2, 32, 1, 0, 70, 0, 0, 0, 2, 0},
    {"Dh24 causal", 2, 67, 67, 2, 24, 1, 0, 0, 0, 0, 0, 0, 0},
    {"Dh80 everything", 2, 67, 67, 3, 80, 1, 0, 0, 1, 1, 1, 2, 0},
    {"scale 0.3", 1, 67, 67, 2, 32, 0, 0, 0, 0, 0, 0, 0, 0.3f},
    {"Dh8 block 5", 2, 67, 67, 2, 8, 0, 5, 0, 0, 0, 0, 0, 0},
    {"Dh256 causal", 1, 70, 70, 1, 256, 1, 0, 0, 0, 0, 0, 0, 0},
};
#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

/* Inputs and options of one case; masks are deterministic functions of the indices. */
typedef struct ainst {
    acase k;
    float *q, *kk, *v, *w, *slopes;
    uint8_t *mask, *pad;
    genc_tensor t5; /* table [32, H] (data malloc'd) */
    genc_attn_opts o;
} ainst;

static void inst_make(ainst *a, const acase *k, uint64_t seed) {
    memset(a, 0, sizeof *a);
    a->k = *k;
    int64_t nq = (int64_t)k->B * k->Tq * k->H * k->Dh, nk = (int64_t)k->B * k->Tk * k->H * k->Dh;
    a->q = malloc(nq * sizeof(float));
    a->kk = malloc(nk * sizeof(float));
    a->v = malloc(nk * sizeof(float));
    a->w = malloc(nq * sizeof(float));
    tu_randn(a->q, nq, seed, 1.f);
    tu_randn(a->kk, nk, seed + 1, 1.f);
    tu_randn(a->v, nk, seed + 2, 1.f);
    tu_randn(a->w, nq, seed + 3, 1.f);
    a->o.causal = k->causal;
    a->o.block = k->block;
    a->o.q_offset = k->q_offset;
    a->o.scale = k->scale;
    if (k->mask) {
        a->mask = malloc((size_t)k->Tq * k->Tk);
        genc_rng r = genc_rng_make(seed + 4, 0);
        if (k->mask == 2) { /* x_t block b sees x_t block b and x0 blocks < b; x0 block b sees x0 ≤ b */
            int L = k->Tq / 2;
            for (int i = 0; i < k->Tq; i++)
                for (int j = 0; j < k->Tk; j++) {
                    int xt_i = i < L, xt_j = j < L, bi = (xt_i ? i : i - L) / 16, bj = (xt_j ? j : j - L) / 16;
                    a->mask[i * k->Tk + j] = xt_i ? (xt_j ? bi == bj : bj < bi) : (!xt_j && bj <= bi);
                }
        } else {
            for (int i = 0; i < k->Tq * k->Tk; i++) a->mask[i] = genc_rng_uniform(&r) < 0.7f;
            memset(a->mask + (size_t)(k->Tq / 2) * k->Tk, 0, (size_t)k->Tk); /* a row with no key */
        }
        a->o.mask = a->mask;
    }
    if (k->key_pad) {
        a->pad = malloc((size_t)k->B * k->Tk);
        for (int b = 0; b < k->B; b++)
            for (int j = 0; j < k->Tk; j++) a->pad[b * k->Tk + j] = b == 0 ? j != 0 : j < k->Tk - 20;
        a->o.key_pad = a->pad; /* causal: query 0 of batch 0 then sees no key */
    }
    if (k->alibi) {
        a->slopes = malloc(k->H * sizeof(float));
        genc_alibi_slopes(k->H, a->slopes);
        a->o.alibi_slopes = a->slopes;
    }
    if (k->t5) {
        a->t5.ndim = 2;
        a->t5.shape[0] = 32;
        a->t5.shape[1] = k->H;
        a->t5.n = 32 * k->H;
        a->t5.data = malloc(a->t5.n * sizeof(float));
        tu_randn(a->t5.data, a->t5.n, seed + 5, 1.f);
        a->o.t5_table = &a->t5;
        a->o.t5_bidirectional = k->t5 == 1;
        a->o.t5_max_distance = 128;
    }
}

static void inst_free(ainst *a) {
    free(a->q); free(a->kk); free(a->v); free(a->w); free(a->slopes);
    free(a->mask); free(a->pad); free(a->t5.data);
}

/* Materialised backward in double for loss = Σ out·w: dV = Pᵀ dO, dP = dO Vᵀ,
 * dS = P ∘ (dP − rowsum(dO ∘ O)), dQ = scale·dS K, dK = scale·dSᵀ Q, dT5[bucket, h] += dS. */
static void ref_backward(const ainst *a, float *dq, float *dk, float *dv, float *dt5) {
    const acase *k = &a->k;
    int B = k->B, Tq = k->Tq, Tk = k->Tk, H = k->H, Dh = k->Dh;
    double scale = k->scale != 0 ? k->scale : 1.0 / sqrt((double)Dh);
    double *P = malloc((size_t)Tq * Tk * sizeof(double)), *dS = malloc((size_t)Tq * Tk * sizeof(double));
    memset(dq, 0, (size_t)B * Tq * H * Dh * sizeof(float));
    memset(dk, 0, (size_t)B * Tk * H * Dh * sizeof(float));
    memset(dv, 0, (size_t)B * Tk * H * Dh * sizeof(float));
    if (dt5) memset(dt5, 0, (size_t)32 * H * sizeof(float));
#define Q(b, i, h) (a->q + (((int64_t)(b) * Tq + (i)) * H + (h)) * Dh)
#define K(b, j, h) (a->kk + (((int64_t)(b) * Tk + (j)) * H + (h)) * Dh)
#define V(b, j, h) (a->v + (((int64_t)(b) * Tk + (j)) * H + (h)) * Dh)
#define G(b, i, h) (a->w + (((int64_t)(b) * Tq + (i)) * H + (h)) * Dh)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            for (int i = 0; i < Tq; i++) {
                int p = k->q_offset + i;
                double mx = -INFINITY, *row = P + (size_t)i * Tk;
                for (int j = 0; j < Tk; j++) {
                    int vis = (!k->causal || j <= p) && (k->block <= 0 || j / k->block <= p / k->block) &&
                              (!a->mask || a->mask[i * Tk + j]) && (!a->pad || a->pad[b * Tk + j]);
                    if (!vis) { row[j] = -INFINITY; continue; }
                    double s = 0;
                    for (int d = 0; d < Dh; d++) s += (double)Q(b, i, h)[d] * K(b, j, h)[d];
                    s *= scale;
                    if (a->slopes) s -= a->slopes[h] * fabs((double)(p - j));
                    if (k->t5) s += a->t5.data[genc_t5_bucket(j - p, k->t5 == 1, 32, 128) * H + h];
                    row[j] = s;
                    if (s > mx) mx = s;
                }
                double z = 0;
                for (int j = 0; j < Tk; j++) z += row[j] = mx == -INFINITY ? 0 : exp(row[j] - mx);
                for (int j = 0; j < Tk; j++) row[j] = z > 0 ? row[j] / z : 0;
                /* D_i = dO_i · O_i with O_i = Σ_j P_ij v_j */
                double D = 0;
                for (int d = 0; d < Dh; d++) {
                    double o = 0;
                    for (int j = 0; j < Tk; j++) o += row[j] * V(b, j, h)[d];
                    D += o * G(b, i, h)[d];
                }
                for (int j = 0; j < Tk; j++) {
                    double dp = 0;
                    for (int d = 0; d < Dh; d++) dp += (double)G(b, i, h)[d] * V(b, j, h)[d];
                    dS[(size_t)i * Tk + j] = row[j] * (dp - D);
                }
            }
            for (int i = 0; i < Tq; i++)
                for (int j = 0; j < Tk; j++) {
                    double pij = P[(size_t)i * Tk + j], ds = dS[(size_t)i * Tk + j];
                    if (pij == 0 && ds == 0) continue;
                    for (int d = 0; d < Dh; d++) {
                        dv[(((int64_t)b * Tk + j) * H + h) * Dh + d] += (float)(pij * G(b, i, h)[d]);
                        dq[(((int64_t)b * Tq + i) * H + h) * Dh + d] += (float)(scale * ds * K(b, j, h)[d]);
                        dk[(((int64_t)b * Tk + j) * H + h) * Dh + d] += (float)(scale * ds * Q(b, i, h)[d]);
                    }
                    if (dt5) dt5[genc_t5_bucket(j - (k->q_offset + i), k->t5 == 1, 32, 128) * H + h] += (float)ds;
                }
        }
#undef Q
#undef K
#undef V
#undef G
    free(P);
    free(dS);
}

/* Fused forward (vs reference) and backward (vs ref_backward) for one case. */
static void check_case(const acase *k, int threads) {
    ainst a;
    inst_make(&a, k, 1000 + (uint64_t)(k - CASES));
    omp_set_num_threads(threads);
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *q = genc_wrap(c, a.q, 4, (int[]){k->B, k->Tq, k->H, k->Dh});
    genc_tensor *kk = genc_wrap(c, a.kk, 4, (int[]){k->B, k->Tk, k->H, k->Dh});
    genc_tensor *v = genc_wrap(c, a.v, 4, (int[]){k->B, k->Tk, k->H, k->Dh});
    genc_tensor *w = genc_wrap(c, a.w, 4, (int[]){k->B, k->Tq, k->H, k->Dh});
    q->requires_grad = kk->requires_grad = v->requires_grad = 1;
    genc_tensor t5 = a.t5;
    float *t5g = NULL;
    if (k->t5) {
        t5g = calloc(t5.n, sizeof(float));
        t5.grad = t5g;
        t5.requires_grad = 1;
        a.o.t5_table = &t5;
    }
    genc_tensor *out = genc_attention(c, q, kk, v, &a.o);
    int64_t nq = q->n, nk = kk->n;
    float *ref = malloc(nq * sizeof(float));
    genc_attention_reference(a.q, a.kk, a.v, ref, k->B, k->Tq, k->Tk, k->H, k->Dh, &a.o);
    char what[160];
    snprintf(what, sizeof what, "attention %s (%d thr) forward", k->name, threads);
    tu_close(what, out->data, ref, nq, 2e-5f, 2e-4f);
    if (k->mask == 1) { /* the all-hidden row must be exactly zero */
        int b = 0, i = k->Tq / 2, ok = 1;
        for (int h = 0; h < k->H; h++)
            for (int d = 0; d < k->Dh; d++) ok &= out->data[(((int64_t)b * k->Tq + i) * k->H + h) * k->Dh + d] == 0.f;
        CHECK(ok, "%s: row with no visible key is zero", k->name);
    }

    genc_backward(c, genc_sum(c, genc_mul(c, out, w)));
    float *dq = malloc(nq * sizeof(float)), *dk = malloc(nk * sizeof(float)), *dv = malloc(nk * sizeof(float));
    float *dt5 = k->t5 ? malloc(t5.n * sizeof(float)) : NULL;
    ref_backward(&a, dq, dk, dv, dt5);
    snprintf(what, sizeof what, "attention %s (%d thr) dq", k->name, threads);
    tu_close(what, q->grad, dq, nq, 5e-5f, 5e-4f);
    snprintf(what, sizeof what, "attention %s (%d thr) dk", k->name, threads);
    tu_close(what, kk->grad, dk, nk, 5e-5f, 5e-4f);
    snprintf(what, sizeof what, "attention %s (%d thr) dv", k->name, threads);
    tu_close(what, v->grad, dv, nk, 5e-5f, 5e-4f);
    if (k->t5) {
        snprintf(what, sizeof what, "attention %s (%d thr) dt5", k->name, threads);
        tu_close(what, t5g, dt5, t5.n, 2e-4f, 5e-4f);
    }
    free(ref); free(dq); free(dk); free(dv); free(dt5); free(t5g);
    genc_ctx_free(c);
    inst_free(&a);
}

/* ---------------------------------------------------------------- gradcheck */

static genc_tensor *attn_loss(genc_ctx *c, genc_tensor **in, void *user) {
    genc_attn_opts o = *(const genc_attn_opts *)user;
    if (in[3]) o.t5_table = in[3];
    return tu_project(c, genc_attention(c, in[0], in[1], in[2], &o), 77);
}

static void gradcheck_case(const acase *k) {
    ainst a;
    inst_make(&a, k, 2000 + (uint64_t)(k - CASES));
    genc_ctx *c = genc_ctx_new(1 << 20);
    genc_tensor *in[4];
    in[0] = genc_new4(c, k->B, k->Tq, k->H, k->Dh);
    in[1] = genc_new4(c, k->B, k->Tk, k->H, k->Dh);
    in[2] = genc_new4(c, k->B, k->Tk, k->H, k->Dh);
    memcpy(in[0]->data, a.q, in[0]->n * sizeof(float));
    memcpy(in[1]->data, a.kk, in[1]->n * sizeof(float));
    memcpy(in[2]->data, a.v, in[2]->n * sizeof(float));
    in[3] = NULL;
    if (k->t5) {
        in[3] = genc_new2(c, 32, k->H);
        memcpy(in[3]->data, a.t5.data, in[3]->n * sizeof(float));
        in[3]->requires_grad = 1;
    }
    for (int i = 0; i < 3; i++) in[i]->requires_grad = 1;
    char what[96];
    snprintf(what, sizeof what, "attention %s", k->name);
    tu_gradcheck(what, attn_loss, &a.o, in, 4, 1e-2f, 2e-3f, 2e-2f);
    genc_ctx_free(c);
    inst_free(&a);
}

static void test_attention_gradcheck(void) {
    static const acase G[] = {
        {"gc bidirectional", 2, 9, 9, 2, 8, 0, 0, 0, 0, 0, 0, 0, 0},
        {"gc causal", 2, 9, 9, 2, 8, 1, 0, 0, 0, 0, 0, 0, 0},
        {"gc causal 2 tiles", 1, 70, 70, 1, 4, 1, 0, 0, 0, 0, 0, 0, 0},
        {"gc kv cache", 1, 3, 10, 2, 8, 1, 0, 7, 0, 0, 0, 0, 0},
        {"gc block", 2, 9, 9, 2, 8, 0, 3, 0, 0, 0, 0, 0, 0},
        {"gc mask", 2, 9, 9, 2, 8, 0, 0, 0, 1, 0, 0, 0, 0},
        {"gc key_pad", 2, 9, 30, 2, 8, 0, 0, 0, 0, 1, 0, 0, 0},
        {"gc alibi", 2, 9, 9, 3, 8, 1, 0, 0, 0, 0, 1, 0, 0},
        {"gc t5 bidirectional", 2, 9, 9, 2, 8, 0, 0, 0, 0, 0, 0, 1, 0},
        {"gc t5 causal", 1, 12, 12, 2, 8, 1, 0, 0, 0, 0, 0, 2, 0},
    };
    for (int i = 0; i < (int)(sizeof G / sizeof G[0]); i++) gradcheck_case(&G[i]);
}

/* ---------------------------------------------------------------- ALiBi, T5 */

static void test_alibi_t5(void) {
    float s[12];
    genc_alibi_slopes(8, s);
    for (int h = 0; h < 8; h++) CHECK(fabsf(s[h] - powf(2.f, -(h + 1.f))) < 1e-7f, "alibi 8 heads slope %d", h);
    genc_alibi_slopes(6, s); /* 4 heads: 2^-2, 2^-4, 2^-6, 2^-8; then 8-head slopes 1, 3: 2^-1, 2^-3 */
    const float want6[6] = {0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f, 0.125f};
    for (int h = 0; h < 6; h++) CHECK(fabsf(s[h] - want6[h]) < 1e-7f, "alibi 6 heads slope %d = %g", h, s[h]);
    /* T5, causal, 32 buckets, 128: exact below 16, log-spaced to 31 */
    CHECK(genc_t5_bucket(0, 0, 32, 128) == 0 && genc_t5_bucket(5, 0, 32, 128) == 0, "t5 causal future → 0");
    CHECK(genc_t5_bucket(-15, 0, 32, 128) == 15, "t5 causal exact");
    CHECK(genc_t5_bucket(-1000, 0, 32, 128) == 31, "t5 causal far");
    CHECK(genc_t5_bucket(3, 1, 32, 128) == 19 && genc_t5_bucket(-3, 1, 32, 128) == 3, "t5 bidirectional sides");
}

/* ---------------------------------------------------------------- RoPE */

static void rope_tables(int T, int Dh, float *cs, float *sn) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < Dh / 2; i++) {
            double th = t * pow(10000.0, -2.0 * i / Dh);
            cs[t * (Dh / 2) + i] = (float)cos(th);
            sn[t * (Dh / 2) + i] = (float)sin(th);
        }
}

typedef struct rope_user { const float *cs, *sn; int interleaved; } rope_user;

static genc_tensor *rope_loss(genc_ctx *c, genc_tensor **in, void *user) {
    rope_user *u = user;
    return tu_project(c, genc_rope(c, in[0], u->cs, u->sn, u->interleaved), 5);
}

static void test_rope(void) {
    int B = 2, T = 11, H = 3, Dh = 16, half = Dh / 2;
    float cs[11 * 8], sn[11 * 8];
    rope_tables(T, Dh, cs, sn);
    genc_ctx *c = genc_ctx_new(1 << 20);
    for (int il = 0; il <= 1; il++) {
        genc_tensor *x = genc_new4(c, B, T, H, Dh);
        tu_randn(x->data, x->n, 31, 1.f);
        genc_tensor *y = genc_rope(c, x, cs, sn, il);
        float *want = malloc(x->n * sizeof(float));
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++) {
                    const float *xr = x->data + ((b * T + t) * H + h) * Dh;
                    float *wr = want + ((b * T + t) * H + h) * Dh;
                    for (int i = 0; i < half; i++) {
                        int ia = il ? 2 * i : i, ib = il ? 2 * i + 1 : i + half;
                        double co = cs[t * half + i], si = sn[t * half + i];
                        wr[ia] = (float)(xr[ia] * co - xr[ib] * si);
                        wr[ib] = (float)(xr[ib] * co + xr[ia] * si);
                    }
                }
        tu_close(il ? "rope interleaved forward" : "rope half-split forward", y->data, want, x->n, 1e-6f, 1e-6f);
        free(want);
        x->requires_grad = 1;
        rope_user u = {cs, sn, il};
        genc_tensor *in[1] = {x};
        tu_gradcheck(il ? "rope interleaved" : "rope half-split", rope_loss, &u, in, 1, 1e-2f, 1e-3f, 1e-2f);
    }
    genc_ctx_free(c);
}

/* Interleaved RoPE on features x equals half-split RoPE on the permuted features
 * x'[i] = x[2i], x'[i + Dh/2] = x[2i + 1] (the same permutation applied to the rows of W_q
 * and W_k), so every attention logit q_m·k_n agrees. */
static void test_rope_conventions(void) {
    int T = 13, H = 2, Dh = 32, half = Dh / 2;
    float cs[13 * 16], sn[13 * 16];
    rope_tables(T, Dh, cs, sn);
    genc_ctx *c = genc_ctx_new(1 << 20);
    genc_tensor *q = genc_new4(c, 1, T, H, Dh), *k = genc_new4(c, 1, T, H, Dh);
    genc_tensor *qp = genc_new4(c, 1, T, H, Dh), *kp = genc_new4(c, 1, T, H, Dh);
    tu_randn(q->data, q->n, 41, 1.f);
    tu_randn(k->data, k->n, 42, 1.f);
    for (int64_t r = 0; r < q->n / Dh; r++)
        for (int i = 0; i < half; i++) {
            qp->data[r * Dh + i] = q->data[r * Dh + 2 * i];
            qp->data[r * Dh + i + half] = q->data[r * Dh + 2 * i + 1];
            kp->data[r * Dh + i] = k->data[r * Dh + 2 * i];
            kp->data[r * Dh + i + half] = k->data[r * Dh + 2 * i + 1];
        }
    genc_tensor *qi = genc_rope(c, q, cs, sn, 1), *ki = genc_rope(c, k, cs, sn, 1);
    genc_tensor *qh = genc_rope(c, qp, cs, sn, 0), *kh = genc_rope(c, kp, cs, sn, 0);
    int n = T * T * H;
    float *li = malloc(n * sizeof(float)), *lh = malloc(n * sizeof(float));
    for (int h = 0; h < H; h++)
        for (int m = 0; m < T; m++)
            for (int j = 0; j < T; j++) {
                double a = 0, b = 0;
                for (int d = 0; d < Dh; d++) {
                    a += (double)qi->data[(m * H + h) * Dh + d] * ki->data[(j * H + h) * Dh + d];
                    b += (double)qh->data[(m * H + h) * Dh + d] * kh->data[(j * H + h) * Dh + d];
                }
                li[(h * T + m) * T + j] = (float)a;
                lh[(h * T + m) * T + j] = (float)b;
            }
    tu_close("rope conventions: q·k logits agree under the permutation", lh, li, n, 1e-5f, 1e-5f);
    free(li);
    free(lh);
    genc_ctx_free(c);
}

/* ---------------------------------------------------------------- linear attention */

static float phi(float x) { return x > 0 ? x + 1 : expf(x); }

/* out_i = Σ_j (R_i φ(q_i))·(R_j φ(k_j)) v_j / Σ_j φ(q_i)·φ(k_j), j ≤ i when causal; double */
static void linattn_reference(const float *q, const float *k, const float *v, float *out, int B, int T,
                              int H, int Dh, const float *cs, const float *sn, int il, int causal) {
    int half = Dh / 2;
    double *qr = malloc(Dh * sizeof(double)), *kr = malloc(Dh * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const float *qi = q + ((b * T + i) * H + h) * Dh;
                double num[256] = {0}, den = 0;
                for (int j = 0; j < (causal ? i + 1 : T); j++) {
                    const float *kj = k + ((b * T + j) * H + h) * Dh, *vj = v + ((b * T + j) * H + h) * Dh;
                    for (int p = 0; p < half; p++) {
                        int a = il ? 2 * p : p, bb = il ? 2 * p + 1 : p + half;
                        double ci = cs[i * half + p], si = sn[i * half + p], cj = cs[j * half + p], sj = sn[j * half + p];
                        qr[a] = phi(qi[a]) * ci - phi(qi[bb]) * si;
                        qr[bb] = phi(qi[bb]) * ci + phi(qi[a]) * si;
                        kr[a] = phi(kj[a]) * cj - phi(kj[bb]) * sj;
                        kr[bb] = phi(kj[bb]) * cj + phi(kj[a]) * sj;
                    }
                    double sr = 0, s = 0;
                    for (int d = 0; d < Dh; d++) {
                        sr += qr[d] * kr[d];
                        s += (double)phi(qi[d]) * phi(kj[d]);
                    }
                    for (int d = 0; d < Dh; d++) num[d] += sr * vj[d];
                    den += s;
                }
                for (int d = 0; d < Dh; d++) out[((b * T + i) * H + h) * Dh + d] = (float)(num[d] / den);
            }
    free(qr);
    free(kr);
}

typedef struct la_user { const float *cs, *sn; int il, causal; } la_user;

static genc_tensor *la_loss(genc_ctx *c, genc_tensor **in, void *user) {
    la_user *u = user;
    return tu_project(c, genc_linear_attention_rope(c, in[0], in[1], in[2], u->cs, u->sn, u->il, u->causal), 9);
}

static void test_linear_attention(void) {
    int B = 2, T = 37, H = 2, Dh = 16;
    float *cs = malloc(T * Dh / 2 * sizeof(float)), *sn = malloc(T * Dh / 2 * sizeof(float));
    rope_tables(T, Dh, cs, sn);
    for (int il = 0; il <= 1; il++)
        for (int causal = 0; causal <= 1; causal++) {
            genc_ctx *c = genc_ctx_new(1 << 20);
            genc_tensor *in[3];
            for (int i = 0; i < 3; i++) {
                in[i] = genc_new4(c, B, T, H, Dh);
                tu_randn(in[i]->data, in[i]->n, 50 + i + 10 * il, 1.f);
            }
            genc_tensor *out = genc_linear_attention_rope(c, in[0], in[1], in[2], cs, sn, il, causal);
            float *ref = malloc(out->n * sizeof(float));
            linattn_reference(in[0]->data, in[1]->data, in[2]->data, ref, B, T, H, Dh, cs, sn, il, causal);
            char what[96];
            snprintf(what, sizeof what, "linear attention rope %s %s forward", il ? "interleaved" : "half-split",
                     causal ? "causal" : "full");
            tu_close(what, out->data, ref, out->n, 1e-5f, 1e-4f);
            free(ref);
            genc_ctx_free(c);

            /* gradcheck on a smaller problem */
            c = genc_ctx_new(1 << 20);
            int Ts = 6;
            for (int i = 0; i < 3; i++) {
                in[i] = genc_new4(c, 1, Ts, 2, 8);
                tu_randn(in[i]->data, in[i]->n, 60 + i, 1.f);
                in[i]->requires_grad = 1;
            }
            float cs2[6 * 4], sn2[6 * 4];
            rope_tables(Ts, 8, cs2, sn2);
            la_user u = {cs2, sn2, il, causal};
            snprintf(what, sizeof what, "linear attention rope %s %s", il ? "interleaved" : "half-split",
                     causal ? "causal" : "full");
            tu_gradcheck(what, la_loss, &u, in, 3, 1e-2f, 2e-3f, 2e-2f);
            genc_ctx_free(c);
        }
    free(cs);
    free(sn);
}

int main(void) {
    for (int i = 0; i < N_CASES; i++) {
        check_case(&CASES[i], 1);
        check_case(&CASES[i], 2);
        if (i % 4 == 0) check_case(&CASES[i], 3); /* another thread count, both schedules */
    }
    omp_set_num_threads(2);
    test_attention_gradcheck();
    test_alibi_t5();
    test_rope();
    test_rope_conventions();
    test_linear_attention();
    return tu_finish();
}
