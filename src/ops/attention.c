/* Fused scaled dot-product attention: one tiled kernel with an online softmax, forward and
 * backward (FlashAttention: Dao et al. 2022; FlashAttention-2: Dao 2023).
 *
 * Per (batch b, head h), with Qs = scale·Q:
 *   S = Qs Kᵀ + bias,  S_ij = −inf where key j is hidden from query i
 *   P = softmax_rows(S),  O = P V,  lse_i = log Σ_j exp S_ij
 * Forward walks key tiles for each query tile, keeping a running max m_i, running sum l_i and
 * an unnormalised O tile (online softmax: Milakov & Gimelshein 2018), so memory is O(T·Dh):
 * the only T-sized state saved for backward is lse (the output itself is the node's output).
 * Backward recomputes P = exp(S − lse) tile by tile:
 *   dV = Pᵀ dO,  dP = dO Vᵀ,  D_i = Σ_d dO_id O_id,  dS = P ∘ (dP − D),
 *   dQs = dS K (so dQ = scale·dS K),  dK = dSᵀ Qs,  d bias = dS.
 *
 * Layout: q[B, Tq, H, Dh], k, v[B, Tk, H, Dh] (what a linear projection produces), so the rows
 * of one head are strided by H·Dh. Tiles are packed into contiguous, zero-padded buffers:
 * Q rows scaled, Kᵀ and Vᵀ as [Dp][BK] column blocks, so that every inner product becomes a
 * run of broadcast-FMAs over 16-float vectors (Dp = Dh rounded up to 16).
 *
 * Masks (causal with q_offset, block-causal, boolean [Tq, Tk], key padding) become −inf logits.
 * Under causal/block masks the key tiles after the last visible key are never visited, which
 * halves causal work, and tiles that are entirely visible skip the per-element mask test.
 * Biases (ALiBi slope·distance, T5 table lookup by relative position) are added on the fly. */
#include "genc/ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BQ 64 /* query rows per tile */
#define BK 64 /* key columns per tile */

/* ---------------------------------------------------------------- vectors
 * GCC vector extensions: 16 floats, which is one AVX-512 register or two AVX2 registers;
 * the compiler picks instructions for -march, so this stays portable C. */
typedef float vf __attribute__((vector_size(64)));
#define VL 16

static inline vf vload(const float *p) {
    vf v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
static inline void vstore(float *p, vf v) { __builtin_memcpy(p, &v, sizeof v); }

static inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* exp(x) for the softmax, written so the compiler vectorises it (libm's expf does not without
 * -ffast-math). exp(x) = 2^n·e^r with n = round(x·log2 e), r = x − n·ln 2 in two parts
 * (Cody–Waite), |r| ≤ ln2/2; degree-7 Taylor for e^r has relative error < 2e-8.
 * Inputs below −87 (including −inf from masks) return 0: they would be denormal and are
 * negligible next to the row maximum, which contributes exp(0) = 1. */
static inline float fexp(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
    float n = (xc * 1.44269504088896341f + shifter) - shifter;
    float r = xc - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-6f;
    float p = 1.f / 5040;
    p = p * r + 1.f / 720;
    p = p * r + 1.f / 120;
    p = p * r + 1.f / 24;
    p = p * r + 1.f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.f;
    p = p * r + 1.f;
    int32_t e = ((int32_t)n + 127) << 23;
    float s;
    __builtin_memcpy(&s, &e, sizeof s);
    return x < -87.0f ? 0.0f : p * s;
}

/* ---------------------------------------------------------------- tile kernels */

/* S[m, 0:BK] = Σ_d A[m, d] · Bt[d, 0:BK]  for m < rows (a multiple of 4).
 * A is [rows][Dp] (packed query or dO rows), Bt is [Dp][BK] (packed Kᵀ or Vᵀ).
 * 4 rows × 64 columns = 16 vector accumulators; each Bt row is loaded once per 4 rows. */
static void kern_abt(float *restrict S, const float *restrict A, const float *restrict Bt, int rows,
                     int Dp) {
    for (int m = 0; m < rows; m += 4) {
        const float *a0 = A + (int64_t)m * Dp, *a1 = a0 + Dp, *a2 = a1 + Dp, *a3 = a2 + Dp;
        vf c00 = {0}, c01 = {0}, c02 = {0}, c03 = {0}, c10 = {0}, c11 = {0}, c12 = {0}, c13 = {0};
        vf c20 = {0}, c21 = {0}, c22 = {0}, c23 = {0}, c30 = {0}, c31 = {0}, c32 = {0}, c33 = {0};
        for (int d = 0; d < Dp; d++) {
            const float *b = Bt + (int64_t)d * BK;
            vf b0 = vload(b), b1 = vload(b + 16), b2 = vload(b + 32), b3 = vload(b + 48);
            float x0 = a0[d], x1 = a1[d], x2 = a2[d], x3 = a3[d];
            c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
            c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
            c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
            c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
        }
        float *s = S + (int64_t)m * BK;
        vstore(s, c00); vstore(s + 16, c01); vstore(s + 32, c02); vstore(s + 48, c03);
        s += BK;
        vstore(s, c10); vstore(s + 16, c11); vstore(s + 32, c12); vstore(s + 48, c13);
        s += BK;
        vstore(s, c20); vstore(s + 16, c21); vstore(s + 32, c22); vstore(s + 48, c23);
        s += BK;
        vstore(s, c30); vstore(s + 16, c31); vstore(s + 32, c32); vstore(s + 48, c33);
    }
}

/* out[r, 0:16W] += Σ_{n < cnt} coef[r·sm + n·sn] · X[n·ldx + 0:16W] for r < 4.
 * W (vectors per row) is a compile-time constant after inlining, so the 4×W accumulators
 * live in registers. */
static inline __attribute__((always_inline)) void acc_block(float *restrict out, int ldo,
                                                            const float *restrict coef, int sm,
                                                            int sn, const float *restrict X,
                                                            int64_t ldx, int cnt, const int W) {
    vf a[4][4];
    for (int r = 0; r < 4; r++)
        for (int w = 0; w < W; w++) a[r][w] = vload(out + (int64_t)r * ldo + w * VL);
    for (int n = 0; n < cnt; n++) {
        const float *x = X + (int64_t)n * ldx;
        vf xv[4];
        for (int w = 0; w < W; w++) xv[w] = vload(x + w * VL);
        for (int r = 0; r < 4; r++) {
            float cr = coef[r * sm + n * sn];
            for (int w = 0; w < W; w++) a[r][w] += cr * xv[w];
        }
    }
    for (int r = 0; r < 4; r++)
        for (int w = 0; w < W; w++) vstore(out + (int64_t)r * ldo + w * VL, a[r][w]);
}

/* out[m, 0:Dp] += Σ_{n < cnt} coef[m·sm + n·sn] · X[n, 0:Dp]   for m < rows (multiple of 4).
 * One kernel for all four products of the tile algebra:
 *   O += P V (sm = BK, sn = 1),  dV += Pᵀ dO and dK += dSᵀ Qs (sm = 1, sn = BK),
 *   dQs += dS K (sm = BK, sn = 1).  X rows must be finite (they meet zero coefficients). */
static void kern_acc(float *restrict out, const float *restrict coef, int sm, int sn,
                     const float *restrict X, int64_t ldx, int rows, int cnt, int Dp) {
    for (int m = 0; m < rows; m += 4) {
        float *o = out + (int64_t)m * Dp;
        const float *cf = coef + (int64_t)m * sm;
        int w = 0, nv = Dp / VL;
        for (; w + 4 <= nv; w += 4) acc_block(o + w * VL, Dp, cf, sm, sn, X + w * VL, ldx, cnt, 4);
        for (; w + 2 <= nv; w += 2) acc_block(o + w * VL, Dp, cf, sm, sn, X + w * VL, ldx, cnt, 2);
        for (; w < nv; w++) acc_block(o + w * VL, Dp, cf, sm, sn, X + w * VL, ldx, cnt, 1);
    }
}

/* ---------------------------------------------------------------- geometry and masks */

typedef struct attn_plan {
    int B, Tq, Tk, H, Dh, Dp, nqt, nkt;
    int causal, block, q_offset;
    const uint8_t *mask, *key_pad;
    const float *alibi;
    float scale;
    /* T5: bias per (head, relative position) so a tile row reads it contiguously:
     * t5b[h·R + (j − p) + roff] for key j, query position p; buckets[idx] for backward. */
    float *t5b;
    int *buckets;
    int R, roff;
    genc_tensor *t5;
} attn_plan;

/* Last key position visible to query position p under the causal/block rules. */
static inline int key_limit(const attn_plan *pl, int p) {
    int lim = pl->Tk - 1;
    if (pl->causal && p < lim) lim = p;
    if (pl->block > 0) {
        int e = (p / pl->block + 1) * pl->block - 1;
        if (e < lim) lim = e;
    }
    return lim;
}

/* Number of keys a query tile can see at all: keys [0, key_end) may hold visible entries. */
static inline int key_end(const attn_plan *pl, int i0, int nq) {
    return key_limit(pl, pl->q_offset + i0 + nq - 1) + 1;
}

/* Add the biases and hide invisible keys in a logit tile S[BQ][BK] for query rows
 * [i0, i0+nq) and key columns [j0, j0+nk); columns ≥ nk become −inf too. */
static void tile_logits(const attn_plan *pl, int b, int h, int i0, int nq, int j0, int nk,
                        float *S) {
    if (pl->alibi) {
        /* −m·|p − j|: the causal form −m·(p − j) wherever j ≤ p, symmetric otherwise */
        float slope = pl->alibi[h];
        for (int r = 0; r < nq; r++) {
            float *s = S + r * BK;
            float pj = (float)(pl->q_offset + i0 + r - j0);
#pragma omp simd
            for (int c = 0; c < BK; c++) s[c] -= slope * fabsf(pj - (float)c);
        }
    }
    if (pl->t5b) {
        for (int r = 0; r < nq; r++) {
            float *s = S + r * BK;
            const float *tb = pl->t5b + (int64_t)h * pl->R + (j0 - (pl->q_offset + i0 + r)) + pl->roff;
#pragma omp simd
            for (int c = 0; c < BK; c++) s[c] += tb[c];
        }
    }
    int full = nk == BK && !pl->mask && !pl->key_pad &&
               key_limit(pl, pl->q_offset + i0) >= j0 + nk - 1;
    if (full) return;
    for (int r = 0; r < nq; r++) {
        float *s = S + r * BK;
        int lim = key_limit(pl, pl->q_offset + i0 + r) - j0; /* last visible column */
        if (lim > nk - 1) lim = nk - 1;
        if (lim < -1) lim = -1;
        for (int c = lim + 1; c < BK; c++) s[c] = -INFINITY;
        if (pl->mask) {
            const uint8_t *mr = pl->mask + (int64_t)(i0 + r) * pl->Tk + j0;
            for (int c = 0; c <= lim; c++)
                if (!mr[c]) s[c] = -INFINITY;
        }
        if (pl->key_pad) {
            const uint8_t *kp = pl->key_pad + (int64_t)b * pl->Tk + j0;
            for (int c = 0; c <= lim; c++)
                if (!kp[c]) s[c] = -INFINITY;
        }
    }
}

/* Copy rows of one head into a zero-padded [rows_pad][Dp] buffer, times mult.
 * src points at row 0 of the head; rows are ld floats apart. */
static void pack_rows(float *dst, const float *src, int64_t ld, int n, int rows_pad, int Dh, int Dp,
                      float mult) {
    for (int r = 0; r < rows_pad; r++) {
        float *d = dst + (int64_t)r * Dp;
        if (r < n) {
            const float *s = src + r * ld;
            for (int i = 0; i < Dh; i++) d[i] = mult * s[i];
            for (int i = Dh; i < Dp; i++) d[i] = 0.f;
        } else {
            memset(d, 0, (size_t)Dp * sizeof(float));
        }
    }
}

/* Transpose up to BK rows of one head into a zero-padded [Dp][BK] block (Kᵀ or Vᵀ tile). */
static void pack_cols(float *dst, const float *src, int64_t ld, int n, int Dh, int Dp) {
    memset(dst, 0, (size_t)Dp * BK * sizeof(float));
    for (int c = 0; c < n; c++) {
        const float *s = src + c * ld;
        for (int d = 0; d < Dh; d++) dst[(int64_t)d * BK + c] = s[d];
    }
}

/* Kᵀ (or Vᵀ) tiles of every (b, h): out[((b·H + h)·nkt + kt)·Dp·BK]. */
static void pack_all_cols(float *out, const float *x, const attn_plan *pl) {
    int64_t ld = (int64_t)pl->H * pl->Dh, tile = (int64_t)pl->Dp * BK;
    int64_t items = (int64_t)pl->B * pl->H * pl->nkt;
#pragma omp parallel for schedule(static)
    for (int64_t w = 0; w < items; w++) {
        int kt = (int)(w % pl->nkt), bh = (int)(w / pl->nkt), b = bh / pl->H, h = bh % pl->H;
        int j0 = kt * BK, nk = pl->Tk - j0 < BK ? pl->Tk - j0 : BK;
        const float *src = x + (((int64_t)b * pl->Tk + j0) * pl->H + h) * pl->Dh;
        pack_cols(out + w * tile, src, ld, nk, pl->Dh, pl->Dp);
    }
}

/* Rows of one head of k or v ready for kern_acc: straight from the tensor when Dh is a
 * multiple of 16 (no copy needed), else from a padded copy [B][H][Tk][Dp]. */
typedef struct row_src {
    const float *base;
    int64_t ld;
    int padded;
    const attn_plan *pl;
} row_src;

static row_src make_row_src(genc_ctx *c, const float *x, const attn_plan *pl) {
    row_src rs = {x, (int64_t)pl->H * pl->Dh, 0, pl};
    if (pl->Dh == pl->Dp) return rs;
    float *p = genc_scratch(c, (size_t)pl->B * pl->H * pl->Tk * pl->Dp * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < pl->B * pl->H; bh++) {
        int b = bh / pl->H, h = bh % pl->H;
        pack_rows(p + (int64_t)bh * pl->Tk * pl->Dp, x + ((int64_t)b * pl->Tk * pl->H + h) * pl->Dh,
                  rs.ld, pl->Tk, pl->Tk, pl->Dh, pl->Dp, 1.f);
    }
    rs.base = p;
    rs.ld = pl->Dp;
    rs.padded = 1;
    return rs;
}

/* Pointer to key row j of head (b, h). */
static inline const float *row_at(const row_src *rs, int b, int h, int j) {
    const attn_plan *pl = rs->pl;
    if (rs->padded) return rs->base + (((int64_t)b * pl->H + h) * pl->Tk + j) * pl->Dp;
    return rs->base + (((int64_t)b * pl->Tk + j) * pl->H + h) * pl->Dh;
}

/* T5 bias per (head, relative position): rel = j − p ranges over [−(q_offset + Tq − 1),
 * Tk − 1 + BK) (the BK slack lets a tile row read a full vector past the last key). */
static void plan_t5(genc_ctx *c, attn_plan *pl, const genc_attn_opts *o) {
    genc_tensor *tab = o->t5_table;
    pl->t5 = tab;
    if (!tab) return;
    GENC_ASSERT(tab->ndim == 2 && tab->shape[1] == pl->H, "attention: t5_table must be [NB, H]");
    int nb = tab->shape[0], maxd = o->t5_max_distance > 0 ? o->t5_max_distance : 128;
    pl->roff = pl->q_offset + pl->Tq - 1;
    pl->R = pl->roff + pl->Tk + BK;
    pl->buckets = genc_scratch(c, (size_t)pl->R * sizeof(int));
    pl->t5b = genc_scratch(c, (size_t)pl->R * pl->H * sizeof(float));
    for (int i = 0; i < pl->R; i++)
        pl->buckets[i] = genc_t5_bucket(i - pl->roff, o->t5_bidirectional, nb, maxd);
    for (int h = 0; h < pl->H; h++)
        for (int i = 0; i < pl->R; i++) pl->t5b[(int64_t)h * pl->R + i] = tab->data[pl->buckets[i] * pl->H + h];
}

/* ---------------------------------------------------------------- forward */

/* One query tile of one head: O = softmax(S) V with the online softmax over key tiles.
 * Writes out rows and lse (+inf marks a row that sees no key; its output is zero). */
static void fwd_tile(const attn_plan *pl, int b, int h, int qt, const float *q, const float *KT,
                     const row_src *V, float *out, float *lse, float *buf) {
    int Dp = pl->Dp, i0 = qt * BQ, nq = pl->Tq - i0 < BQ ? pl->Tq - i0 : BQ, nq4 = round_up(nq, 4);
    float *Qs = buf, *S = Qs + BQ * Dp, *O = S + BQ * BK, *m = O + BQ * Dp, *l = m + BQ;
    int64_t ld = (int64_t)pl->H * pl->Dh;
    pack_rows(Qs, q + (((int64_t)b * pl->Tq + i0) * pl->H + h) * pl->Dh, ld, nq, nq4, pl->Dh, Dp,
              pl->scale);
    memset(O, 0, (size_t)nq4 * Dp * sizeof(float));
    for (int r = 0; r < BQ; r++) { m[r] = -INFINITY; l[r] = 0.f; }

    int kend = key_end(pl, i0, nq), nkt = (kend + BK - 1) / BK;
    const float *KTbh = KT + ((int64_t)b * pl->H + h) * pl->nkt * Dp * BK;
    for (int kt = 0; kt < nkt; kt++) {
        int j0 = kt * BK, nk = pl->Tk - j0 < BK ? pl->Tk - j0 : BK;
        kern_abt(S, Qs, KTbh + (int64_t)kt * Dp * BK, nq4, Dp);
        tile_logits(pl, b, h, i0, nq, j0, nk, S);
        for (int r = 0; r < nq4; r++) {
            float *s = S + r * BK;
            float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
            for (int c = 0; c < BK; c++) mx = s[c] > mx ? s[c] : mx;
            float mn = mx > m[r] ? mx : m[r];
            if (r >= nq || mn == -INFINITY) { /* padding row, or nothing visible yet */
                memset(s, 0, BK * sizeof(float));
                continue;
            }
            float alpha = expf(m[r] - mn), sum = 0.f; /* rescales what was summed so far */
#pragma omp simd reduction(+ : sum)
            for (int c = 0; c < BK; c++) {
                float p = fexp(s[c] - mn);
                s[c] = p;
                sum += p;
            }
            l[r] = l[r] * alpha + sum;
            m[r] = mn;
            if (alpha != 1.f) {
                float *o = O + (int64_t)r * Dp;
#pragma omp simd
                for (int d = 0; d < Dp; d++) o[d] *= alpha;
            }
        }
        kern_acc(O, S, BK, 1, row_at(V, b, h, j0), V->ld, nq4, nk, Dp);
    }
    for (int r = 0; r < nq; r++) {
        float *dst = out + (((int64_t)b * pl->Tq + i0 + r) * pl->H + h) * pl->Dh;
        float *lr = lse + ((int64_t)b * pl->H + h) * pl->Tq + i0 + r;
        if (l[r] > 0.f) {
            float inv = 1.f / l[r];
            for (int d = 0; d < pl->Dh; d++) dst[d] = O[(int64_t)r * Dp + d] * inv;
            *lr = m[r] + logf(l[r]);
        } else {
            memset(dst, 0, (size_t)pl->Dh * sizeof(float));
            *lr = INFINITY;
        }
    }
}

/* ---------------------------------------------------------------- backward */

typedef struct attn_saved {
    attn_plan pl;
    float *lse; /* [B, H, Tq] */
} attn_saved;

/* Packed operands shared by all backward work items. */
typedef struct bwd_ops {
    float *Qs, *dO, *D; /* [B][H][TqP][Dp] scaled q and dO rows; D [B][H][Tq] */
    float *KT, *VT;     /* [B][H][nkt][Dp][BK] */
    row_src K;
    const float *lse;
} bwd_ops;

/* Per-thread tile scratch for one (query tile, key tile) pair. */
typedef struct bwd_buf {
    float *S, *dP;       /* [BQ][BK] */
    float *dK, *dV;      /* [BK][Dp] accumulators of the current key tile */
    float *dQ;           /* [rows][Dp] accumulator, indexed by query row within the head */
    float *t5g;          /* [H][R] bias gradient, or NULL */
} bwd_buf;

/* One (query tile qt, key tile kt) pair of head (b, h). Accumulates, for each non-NULL
 * target: dV and dK of the key tile ([BK][Dp]), dQs of the query tile ([BQ][Dp], not yet
 * multiplied by scale) and the T5 bias gradient per (head, relative position). */
static void bwd_pair(const attn_plan *pl, const bwd_ops *op, int b, int h, int qt, int kt,
                     bwd_buf *buf, float *dK, float *dV, float *dQ, float *t5g) {
    int Dp = pl->Dp, TqP = pl->nqt * BQ;
    int i0 = qt * BQ, nq = pl->Tq - i0 < BQ ? pl->Tq - i0 : BQ, nq4 = round_up(nq, 4);
    int j0 = kt * BK, nk = pl->Tk - j0 < BK ? pl->Tk - j0 : BK, nk4 = round_up(nk, 4);
    int64_t bh = (int64_t)b * pl->H + h;
    const float *Qs = op->Qs + (bh * TqP + i0) * Dp, *dO = op->dO + (bh * TqP + i0) * Dp;
    const float *KT = op->KT + (bh * pl->nkt + kt) * Dp * BK;
    const float *VT = op->VT + (bh * pl->nkt + kt) * Dp * BK;
    const float *lse = op->lse + bh * pl->Tq + i0, *D = op->D + bh * pl->Tq + i0;
    float *S = buf->S, *dP = buf->dP;

    /* P = exp(S − lse), zero for padding rows and rows that see nothing */
    kern_abt(S, Qs, KT, nq4, Dp);
    tile_logits(pl, b, h, i0, nq, j0, nk, S);
    for (int r = 0; r < nq4; r++) {
        float *s = S + r * BK;
        if (r >= nq || isinf(lse[r])) { memset(s, 0, BK * sizeof(float)); continue; }
        float L = lse[r];
#pragma omp simd
        for (int c = 0; c < BK; c++) s[c] = fexp(s[c] - L);
    }
    if (dV) kern_acc(dV, S, 1, BK, dO, Dp, nk4, nq, Dp);
    if (!dK && !dQ && !t5g) return;
    /* dS = P ∘ (dO Vᵀ − D), written over dP */
    kern_abt(dP, dO, VT, nq4, Dp);
    for (int r = 0; r < nq4; r++) {
        float *p = S + r * BK, *g = dP + r * BK, Dr = r < nq ? D[r] : 0.f;
#pragma omp simd
        for (int c = 0; c < BK; c++) g[c] = p[c] * (g[c] - Dr);
    }
    if (t5g) {
        float *tg = t5g + (int64_t)h * pl->R + pl->roff + j0;
        for (int r = 0; r < nq; r++) {
            float *g = dP + r * BK, *t = tg - (pl->q_offset + i0 + r);
#pragma omp simd
            for (int c = 0; c < nk; c++) t[c] += g[c];
        }
    }
    if (dK) kern_acc(dK, dP, 1, BK, Qs, Dp, nk4, nq, Dp);
    if (dQ) kern_acc(dQ, dP, BK, 1, row_at(&op->K, b, h, j0), op->K.ld, nq4, nk, Dp);
}

/* grad[row (b, j, h)] += acc[j − j0] for j in [j0, j0 + n), times mult */
static void scatter_add(float *grad, const float *acc, const attn_plan *pl, int b, int h, int T,
                        int j0, int n, float mult) {
    for (int c = 0; c < n; c++) {
        float *g = grad + (((int64_t)b * T + j0 + c) * pl->H + h) * pl->Dh;
        const float *a = acc + (int64_t)c * pl->Dp;
#pragma omp simd
        for (int d = 0; d < pl->Dh; d++) g[d] += mult * a[d];
    }
}

static void attention_backward(genc_ctx *c, genc_node *nd) {
    attn_saved *sv = nd->saved;
    const attn_plan *pl = &sv->pl;
    genc_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *t5 = nd->in[3];
    const float *dout = nd->out->grad, *out = nd->out->data;
    int B = pl->B, H = pl->H, Dh = pl->Dh, Dp = pl->Dp, TqP = pl->nqt * BQ, BHn = B * H;
    int need_q = q->requires_grad, need_k = k->requires_grad, need_v = v->requires_grad;
    int need_t5 = t5 && t5->requires_grad;
    int need_kv = need_k || need_v || need_t5;
    int nthr = omp_get_max_threads();

    /* pack scaled Q and dO rows per head; D_i = dO_i · O_i */
    bwd_ops op = {0};
    op.lse = sv->lse;
    op.Qs = genc_scratch(c, (size_t)BHn * TqP * Dp * sizeof(float));
    op.dO = genc_scratch(c, (size_t)BHn * TqP * Dp * sizeof(float));
    op.D = genc_scratch(c, (size_t)BHn * pl->Tq * sizeof(float));
    op.KT = genc_scratch(c, (size_t)BHn * pl->nkt * Dp * BK * sizeof(float));
    op.VT = genc_scratch(c, (size_t)BHn * pl->nkt * Dp * BK * sizeof(float));
    int64_t ld = (int64_t)H * Dh;
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < BHn; bh++) {
        int b = bh / H, h = bh % H;
        int64_t src = ((int64_t)b * pl->Tq * H + h) * Dh;
        pack_rows(op.Qs + (int64_t)bh * TqP * Dp, q->data + src, ld, pl->Tq, TqP, Dh, Dp, pl->scale);
        pack_rows(op.dO + (int64_t)bh * TqP * Dp, dout + src, ld, pl->Tq, TqP, Dh, Dp, 1.f);
        for (int i = 0; i < pl->Tq; i++) {
            const float *g = dout + src + i * ld, *o = out + src + i * ld;
            float s = 0.f;
            for (int d = 0; d < Dh; d++) s += g[d] * o[d];
            op.D[(int64_t)bh * pl->Tq + i] = s;
        }
    }
    pack_all_cols(op.KT, k->data, pl);
    pack_all_cols(op.VT, v->data, pl);
    op.K = make_row_src(c, k->data, pl);

    float *gq = need_q ? genc_grad(c, q) : NULL, *gk = need_k ? genc_grad(c, k) : NULL;
    float *gv = need_v ? genc_grad(c, v) : NULL;
    float *t5g = NULL;
    if (need_t5) {
        t5g = genc_scratch(c, (size_t)nthr * H * pl->R * sizeof(float));
        memset(t5g, 0, (size_t)nthr * H * pl->R * sizeof(float));
    }
    /* One pass per head computes dQ, dK, dV together (5 tile products per pair) when there
     * are enough heads to keep every thread busy; otherwise split into a key-tile pass
     * (dK, dV) and a query-tile pass (dQ), which parallelise finely but redo S and dP. */
    int fused = need_q && need_kv && (nthr == 1 || BHn % nthr == 0 || BHn >= 4 * nthr);
    int dq_rows = fused ? TqP : BQ;
    float *scratch = genc_scratch(c, (size_t)nthr * (2 * BQ * BK + 2 * BK * Dp + dq_rows * Dp) * sizeof(float));

    if (need_kv) {
        int64_t items = fused ? BHn : (int64_t)BHn * pl->nkt;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t w = 0; w < items; w++) {
            int tid = omp_get_thread_num();
            float *tb = scratch + (size_t)tid * (2 * BQ * BK + 2 * BK * Dp + dq_rows * Dp);
            bwd_buf buf = {tb, tb + BQ * BK, tb + 2 * BQ * BK, tb + 2 * BQ * BK + BK * Dp,
                           tb + 2 * BQ * BK + 2 * BK * Dp, t5g ? t5g + (size_t)tid * H * pl->R : NULL};
            int bh = fused ? (int)w : (int)(w / pl->nkt), b = bh / H, h = bh % H;
            int kt_lo = fused ? 0 : (int)(w % pl->nkt), kt_hi = fused ? pl->nkt : kt_lo + 1;
            if (fused) memset(buf.dQ, 0, (size_t)TqP * Dp * sizeof(float));
            for (int kt = kt_lo; kt < kt_hi; kt++) {
                int j0 = kt * BK, nk = pl->Tk - j0 < BK ? pl->Tk - j0 : BK;
                memset(buf.dK, 0, (size_t)2 * BK * Dp * sizeof(float));
                for (int qt = 0; qt < pl->nqt; qt++) {
                    int i0 = qt * BQ, nq = pl->Tq - i0 < BQ ? pl->Tq - i0 : BQ;
                    if (key_end(pl, i0, nq) <= j0) continue; /* tile entirely masked */
                    bwd_pair(pl, &op, b, h, qt, kt, &buf, need_k ? buf.dK : NULL, need_v ? buf.dV : NULL,
                             fused ? buf.dQ + (int64_t)i0 * Dp : NULL, buf.t5g);
                }
                if (need_k) scatter_add(gk, buf.dK, pl, b, h, pl->Tk, j0, nk, 1.f);
                if (need_v) scatter_add(gv, buf.dV, pl, b, h, pl->Tk, j0, nk, 1.f);
            }
            if (fused) scatter_add(gq, buf.dQ, pl, b, h, pl->Tq, 0, pl->Tq, pl->scale);
        }
    }
    if (need_q && !fused) {
        int64_t items = (int64_t)BHn * pl->nqt;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t w = 0; w < items; w++) {
            int tid = omp_get_thread_num();
            float *tb = scratch + (size_t)tid * (2 * BQ * BK + 2 * BK * Dp + dq_rows * Dp);
            bwd_buf buf = {tb, tb + BQ * BK, NULL, NULL, tb + 2 * BQ * BK + 2 * BK * Dp, NULL};
            int qt = pl->nqt - 1 - (int)(w / BHn), bh = (int)(w % BHn), b = bh / H, h = bh % H;
            int i0 = qt * BQ, nq = pl->Tq - i0 < BQ ? pl->Tq - i0 : BQ;
            int nkt = (key_end(pl, i0, nq) + BK - 1) / BK;
            memset(buf.dQ, 0, (size_t)BQ * Dp * sizeof(float));
            for (int kt = 0; kt < nkt; kt++) bwd_pair(pl, &op, b, h, qt, kt, &buf, NULL, NULL, buf.dQ, NULL);
            scatter_add(gq, buf.dQ, pl, b, h, pl->Tq, i0, nq, pl->scale);
        }
    }
    if (need_t5) {
        /* reduce the per-thread (head, rel) sums, then fold relative positions into buckets */
        float *gt = genc_grad(c, t5);
        for (int h = 0; h < H; h++)
            for (int i = 0; i < pl->R; i++) {
                double s = 0;
                for (int t = 0; t < nthr; t++) s += t5g[((size_t)t * H + h) * pl->R + i];
                if (s != 0) gt[pl->buckets[i] * H + h] += (float)s;
            }
    }
}

/* ---------------------------------------------------------------- entry point */

genc_tensor *genc_attention(genc_ctx *c, genc_tensor *q, genc_tensor *k, genc_tensor *v,
                            const genc_attn_opts *o) {
    static const genc_attn_opts none = {0};
    if (!o) o = &none;
    GENC_ASSERT(q->ndim == 4 && k->ndim == 4 && v->ndim == 4, "attention: q, k, v must be [B, T, H, Dh]");
    GENC_ASSERT(genc_same_shape(k, v), "attention: k and v shapes differ");
    GENC_ASSERT(q->shape[0] == k->shape[0] && q->shape[2] == k->shape[2] && q->shape[3] == k->shape[3],
                "attention: q and k disagree on batch, heads or head dim");
    GENC_ASSERT(o->q_offset >= 0 && o->block >= 0, "attention: negative q_offset or block");
    attn_plan pl = {0};
    pl.B = q->shape[0];
    pl.Tq = q->shape[1];
    pl.Tk = k->shape[1];
    pl.H = q->shape[2];
    pl.Dh = q->shape[3];
    pl.Dp = round_up(pl.Dh, VL);
    pl.nqt = (pl.Tq + BQ - 1) / BQ;
    pl.nkt = (pl.Tk + BK - 1) / BK;
    pl.causal = o->causal;
    pl.block = o->block;
    pl.q_offset = o->q_offset;
    pl.mask = o->mask;
    pl.key_pad = o->key_pad;
    pl.alibi = o->alibi_slopes;
    pl.scale = o->scale != 0.f ? o->scale : 1.f / sqrtf((float)pl.Dh);
    plan_t5(c, &pl, o);

    genc_tensor *out = genc_new_like(c, q);
    float *lse = genc_scratch(c, (size_t)pl.B * pl.H * pl.Tq * sizeof(float));
    float *KT = genc_scratch(c, (size_t)pl.B * pl.H * pl.nkt * pl.Dp * BK * sizeof(float));
    pack_all_cols(KT, k->data, &pl);
    row_src V = make_row_src(c, v->data, &pl);

    int nthr = omp_get_max_threads(), BHn = pl.B * pl.H;
    size_t per = (size_t)(2 * BQ * pl.Dp + BQ * BK + 2 * BQ);
    float *scratch = genc_scratch(c, (size_t)nthr * per * sizeof(float));
    int64_t items = (int64_t)BHn * pl.nqt;
    /* heaviest query tiles (the last ones under a causal mask) first, for dynamic balance */
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t w = 0; w < items; w++) {
        int qt = pl.nqt - 1 - (int)(w / BHn), bh = (int)(w % BHn);
        fwd_tile(&pl, bh / pl.H, bh % pl.H, qt, q->data, KT, &V, out->data, lse,
                 scratch + (size_t)omp_get_thread_num() * per);
    }

    genc_node *nd = genc_record(c, attention_backward, out, 4, (genc_tensor *[]){q, k, v, o->t5_table});
    if (nd) {
        attn_saved *sv = genc_scratch(c, sizeof *sv);
        sv->pl = pl;
        sv->lse = lse;
        nd->saved = sv;
    }
    return out;
}

/* ---------------------------------------------------------------- reference */

/* Plain attention in double with the same semantics as genc_attention: for each (b, h, i)
 * the full logit row is materialised, softmaxed and multiplied into V. For tests. */
void genc_attention_reference(const float *q, const float *k, const float *v, float *out, int B,
                              int Tq, int Tk, int H, int Dh, const genc_attn_opts *o) {
    static const genc_attn_opts none = {0};
    if (!o) o = &none;
    double scale = o->scale != 0.f ? o->scale : 1.0 / sqrt((double)Dh);
    int nb = o->t5_table ? o->t5_table->shape[0] : 0;
    int maxd = o->t5_max_distance > 0 ? o->t5_max_distance : 128;
    double *s = malloc((size_t)Tk * sizeof(double));
    GENC_ASSERT(s, "attention reference: out of memory");
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                int p = o->q_offset + i;
                const float *qi = q + (((int64_t)b * Tq + i) * H + h) * Dh;
                double mx = -INFINITY;
                for (int j = 0; j < Tk; j++) {
                    int vis = (!o->causal || j <= p) && (o->block <= 0 || j / o->block <= p / o->block) &&
                              (!o->mask || o->mask[(int64_t)i * Tk + j]) &&
                              (!o->key_pad || o->key_pad[(int64_t)b * Tk + j]);
                    if (!vis) { s[j] = -INFINITY; continue; }
                    const float *kj = k + (((int64_t)b * Tk + j) * H + h) * Dh;
                    double d = 0;
                    for (int e = 0; e < Dh; e++) d += (double)qi[e] * kj[e];
                    d *= scale;
                    if (o->alibi_slopes) d -= o->alibi_slopes[h] * fabs((double)(p - j));
                    if (o->t5_table)
                        d += o->t5_table->data[genc_t5_bucket(j - p, o->t5_bidirectional, nb, maxd) * H + h];
                    s[j] = d;
                    if (d > mx) mx = d;
                }
                float *oi = out + (((int64_t)b * Tq + i) * H + h) * Dh;
                for (int e = 0; e < Dh; e++) oi[e] = 0.f;
                if (mx == -INFINITY) continue;
                double z = 0;
                for (int j = 0; j < Tk; j++) z += s[j] = exp(s[j] - mx);
                for (int e = 0; e < Dh; e++) {
                    double acc = 0;
                    for (int j = 0; j < Tk; j++)
                        if (s[j] != 0) acc += s[j] * v[(((int64_t)b * Tk + j) * H + h) * Dh + e];
                    oi[e] = (float)(acc / z);
                }
            }
    free(s);
}

/* ---------------------------------------------------------------- ALiBi and T5 buckets */

/* Press et al., "Train Short, Test Long" (2022), reference get_slopes(): for n a power of
 * two the slopes are 2^(−8h/n), h = 1..n. Otherwise take the closest lower power of two
 * c = 2^floor(log2 n) and append the first n − c of the 2c-head slopes at even indices
 * (h = 1, 3, 5, ... of 2c), i.e. get_slopes(2c)[0::2][:n − c]. */
void genc_alibi_slopes(int n_heads, float *slopes) {
    int c = 1;
    while (c * 2 <= n_heads) c *= 2;
    for (int h = 0; h < c; h++) slopes[h] = (float)pow(2.0, -8.0 * (h + 1) / c);
    for (int i = 0; i < n_heads - c; i++) slopes[c + i] = (float)pow(2.0, -8.0 * (2 * i + 1) / (2 * c));
}

/* Raffel et al. (T5), as in Mesh TensorFlow and Hugging Face `_relative_position_bucket`,
 * for rel = key − query. Bidirectional: half the buckets for keys after the query. Within a
 * half, distances below max_exact = nb/2 get their own bucket; larger ones share buckets
 * spaced logarithmically up to max_distance. Computed in float32 like the references, so
 * bucket boundaries agree exactly. */
int genc_t5_bucket(int rel, int bidirectional, int n_buckets, int max_distance) {
    int bucket = 0, nb = n_buckets, n;
    if (bidirectional) {
        nb /= 2;
        if (rel > 0) bucket += nb;
        n = rel < 0 ? -rel : rel;
    } else {
        n = rel < 0 ? -rel : 0;
    }
    int max_exact = nb / 2;
    if (n < max_exact) return bucket + n;
    float ratio = (float)n / (float)max_exact;
    float lg = logf(ratio) / (float)log((double)max_distance / max_exact);
    float x = lg * (float)(nb - max_exact);
    int large = max_exact + (int)x;
    if (large > nb - 1) large = nb - 1;
    return bucket + large;
}
