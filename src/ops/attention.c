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
 * halves causal work; inside a diagonal tile the products also stop, per 4-row block, at the
 * last visible 16-column chunk; tiles that are entirely visible skip the per-element test.
 * Biases (ALiBi slope·distance, T5 table lookup by relative position) are added on the fly.
 *
 * Parallel over (b, h) when that keeps every thread busy (each thread packs a head into its
 * own buffers, and owns that head's dQ, dK, dV: no races), else over (b, h, tile) with one
 * pass over key tiles for dK, dV and one over query tiles for dQ. The T5 table gradient is
 * summed per thread by relative position and folded into buckets at the end. */
#include "genc/ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BQ 64 /* query rows per tile */
#define BK 64 /* key columns per tile */
/* Below this many multiply-adds (B·H·Tq·Tk·Dh) a problem runs on one thread: forking a team
 * costs more than it saves, and under an oversubscribed machine every barrier can cost a
 * whole time slice. */
#define PAR_MIN_WORK (1 << 18)

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

/* S[r, 0:16W] = Σ_d A[r, d] · Bt[d, 0:16W] for r < 4. W is a compile-time constant after
 * inlining: 4×W vector accumulators stay in registers, each Bt row is loaded once per 4 rows
 * and each A element is broadcast once. */
static inline __attribute__((always_inline)) void abt_block(float *restrict S,
                                                            const float *restrict A,
                                                            const float *restrict Bt, int Dp,
                                                            const int W) {
    vf c[4][4];
    for (int r = 0; r < 4; r++)
        for (int w = 0; w < W; w++) c[r][w] = (vf){0};
    for (int d = 0; d < Dp; d++) {
        vf b[4];
        for (int w = 0; w < W; w++) b[w] = vload(Bt + (int64_t)d * BK + w * VL);
        for (int r = 0; r < 4; r++) {
            float x = A[(int64_t)r * Dp + d];
            for (int w = 0; w < W; w++) c[r][w] += x * b[w];
        }
    }
    for (int r = 0; r < 4; r++)
        for (int w = 0; w < W; w++) vstore(S + r * BK + w * VL, c[r][w]);
}

/* S[m, 0:BK] = Σ_d A[m, d] · Bt[d, 0:BK]  for m < rows (a multiple of 4).
 * A is [rows][Dp] (packed query or dO rows), Bt is [Dp][BK] (packed Kᵀ or Vᵀ).
 * cols[m/4] (when non-NULL) bounds the columns that can be visible to rows m..m+3; columns
 * past it (rounded up to 16) are left unwritten, for tile_logits to hide. On a causal
 * diagonal tile that skips almost half the products. */
static void kern_abt(float *restrict S, const float *restrict A, const float *restrict Bt, int rows,
                     int Dp, const int *cols) {
    for (int m = 0; m < rows; m += 4) {
        int W = cols ? (cols[m / 4] + VL - 1) / VL : BK / VL;
        float *s = S + (int64_t)m * BK;
        const float *a = A + (int64_t)m * Dp;
        switch (W) {
        case 4: abt_block(s, a, Bt, Dp, 4); break;
        case 3: abt_block(s, a, Bt, Dp, 3); break;
        case 2: abt_block(s, a, Bt, Dp, 2); break;
        case 1: abt_block(s, a, Bt, Dp, 1); break;
        default: break;
        }
    }
}

/* out[r, 0:16W] = rscale[r]·out[r, 0:16W] + Σ_{n < cnt} coef[r·sm + n·sn] · X[n·ldx + 0:16W]
 * for r < 4 (rscale NULL: 1).
 * W (vectors per row) is a compile-time constant after inlining, so the 4×W accumulators
 * live in registers. */
static inline __attribute__((always_inline)) void acc_block(float *restrict out, int ldo,
                                                            const float *restrict coef, int sm,
                                                            int sn, const float *restrict X,
                                                            int64_t ldx, int cnt,
                                                            const float *rscale, const int W) {
    vf a[4][4];
    for (int r = 0; r < 4; r++)
        for (int w = 0; w < W; w++) {
            a[r][w] = vload(out + (int64_t)r * ldo + w * VL);
            if (rscale) a[r][w] *= rscale[r];
        }
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

/* out[m, 0:Dp] = rscale[m]·out[m, 0:Dp] + Σ_n coef[m·sm + n·sn] · X[n, 0:Dp]
 * for m < rows (multiple of 4), rscale NULL meaning 1,
 * n over [lo[m/4], hi[m/4]) ∩ [0, cnt) (lo, hi may be NULL: no bound). The bounds skip
 * coefficients known to be zero (hidden keys). One kernel for all four products:
 *   O += P V (sm = BK, sn = 1),  dV += Pᵀ dO and dK += dSᵀ Qs (sm = 1, sn = BK),
 *   dQs += dS K (sm = BK, sn = 1).  X rows must be finite (they meet zero coefficients). */
static void kern_acc(float *restrict out, const float *restrict coef, int sm, int sn,
                     const float *restrict X, int64_t ldx, int rows, int cnt, const int *lo,
                     const int *hi, const float *rscale, int Dp) {
    for (int m = 0; m < rows; m += 4) {
        int n0 = lo ? lo[m / 4] : 0, n1 = hi && hi[m / 4] < cnt ? hi[m / 4] : cnt;
        if (n1 <= n0) continue;
        float *o = out + (int64_t)m * Dp;
        const float *cf = coef + (int64_t)m * sm + (int64_t)n0 * sn, *x = X + n0 * ldx;
        const float *rs = rscale ? rscale + m : NULL;
        int w = 0, nv = Dp / VL, n = n1 - n0;
        for (; w + 4 <= nv; w += 4) acc_block(o + w * VL, Dp, cf, sm, sn, x + w * VL, ldx, n, rs, 4);
        for (; w + 2 <= nv; w += 2) acc_block(o + w * VL, Dp, cf, sm, sn, x + w * VL, ldx, n, rs, 2);
        for (; w < nv; w++) acc_block(o + w * VL, Dp, cf, sm, sn, x + w * VL, ldx, n, rs, 1);
    }
}

/* ---------------------------------------------------------------- geometry and masks */

typedef struct attn_plan {
    int B, Tq, Tk, H, Dh, Dp, nqt, nkt;
    int causal, block, q_offset;
    const uint8_t *mask, *key_pad;
    const uint8_t *tile_live; /* with a mask: [nqt][nkt], 0 when the mask hides the whole tile */
    const float *alibi;
    float scale;
    /* T5: bias per (head, relative position) so a tile row reads it contiguously:
     * t5b[h·R + (j − p) + roff] for key j, query position p; buckets[idx] for backward. */
    float *t5b;
    int *buckets;
    int R, roff;
} attn_plan;

static inline int min_i(int a, int b) { return a < b ? a : b; }

/* A tile the boolean mask hides entirely contributes nothing (all its logits are −inf): the
 * loops skip it. Structured masks (BD3's block-causal 2L layout) hide about half the tiles. */
static inline int tile_dead(const attn_plan *pl, int qt, int kt) {
    return pl->tile_live && !pl->tile_live[(int64_t)qt * pl->nkt + kt];
}

static const uint8_t *plan_tile_live(genc_ctx *c, const attn_plan *pl) {
    uint8_t *live = genc_scratch(c, (size_t)pl->nqt * pl->nkt);
    memset(live, 0, (size_t)pl->nqt * pl->nkt);
    for (int i = 0; i < pl->Tq; i++) {
        const uint8_t *row = pl->mask + (int64_t)i * pl->Tk;
        uint8_t *lr = live + (int64_t)(i / BQ) * pl->nkt;
        for (int j = 0; j < pl->Tk; j++)
            if (row[j]) lr[j / BK] = 1;
    }
    return live;
}

/* Last key position visible to query position p under the causal/block rules. */
static inline int key_limit(const attn_plan *pl, int p) {
    int lim = pl->Tk - 1;
    if (pl->causal && p < lim) lim = p;
    if (pl->block > 0) lim = min_i(lim, (p / pl->block + 1) * pl->block - 1);
    return lim;
}

/* Keys [0, key_end) may be visible to some query of the tile [i0, i0 + nq). */
static inline int key_end(const attn_plan *pl, int i0, int nq) {
    return key_limit(pl, pl->q_offset + i0 + nq - 1) + 1;
}

/* Where a tile can be nonzero under the causal/block rules, in 4-row and 4-key blocks:
 * cols[g]: rows 4g..4g+3 may see columns [0, cols[g]) of the tile;
 * first[g]: keys 4g..4g+3 are hidden from the tile's rows before first[g]. */
typedef struct tile_span {
    int cols[BQ / 4], first[BK / 4];
} tile_span;

static void tile_span_of(const attn_plan *pl, int i0, int nq, int j0, int nk, tile_span *sp) {
    for (int g = 0; g < BQ / 4; g++) {
        int r = min_i(4 * g + 3, nq - 1), n = key_limit(pl, pl->q_offset + i0 + r) - j0 + 1;
        sp->cols[g] = n < 0 ? 0 : min_i(n, nk);
    }
    int r = 0; /* key_limit grows with the row, so one sweep finds every first row */
    for (int g = 0; g < BK / 4; g++) {
        while (r < nq && key_limit(pl, pl->q_offset + i0 + r) < j0 + 4 * g) r++;
        sp->first[g] = r;
    }
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

/* T5 bias per (head, relative position). rel = j − p uses the absolute query position
 * p = q_offset + i, like ALiBi, so a KV-cache step sees the same bias as the full sequence.
 * rel ranges over [−(q_offset + Tq − 1), Tk − 1 + BK) (the BK slack lets a tile row read a
 * full vector past the last key). t5_max_distance 0 means T5's default, 128. */
static void plan_t5(genc_ctx *c, attn_plan *pl, const genc_attn_opts *o) {
    genc_tensor *tab = o->t5_table;
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

/* ---------------------------------------------------------------- packing
 * Each (b, h) needs its operands as tiles: the Kᵀ (and in backward Vᵀ) column blocks, scaled
 * Q rows, dO rows. When there are enough heads for every thread, a thread packs one head into
 * its own buffers and runs all of that head's tiles (one parallel region, no shared packed
 * copy, good locality). With few heads the packing is shared and the tiles of a head are
 * spread over threads instead. */

/* Copy rows of one head into a zero-padded [rows_pad][Dp] buffer, times mult.
 * src points at row 0 of the head; rows are ld floats apart. */
static void pack_rows(float *dst, const float *src, int64_t ld, int n, int rows_pad, int Dh, int Dp,
                      float mult) {
    for (int r = 0; r < rows_pad; r++) {
        float *d = dst + (int64_t)r * Dp;
        if (r < n) {
            const float *s = src + r * ld;
#pragma omp simd
            for (int i = 0; i < Dh; i++) d[i] = mult * s[i];
            for (int i = Dh; i < Dp; i++) d[i] = 0.f;
        } else {
            memset(d, 0, (size_t)Dp * sizeof(float));
        }
    }
}

/* dst[i·ldd + 0:16] = column i of the 16×16 block src (rows ld apart): in registers, in four
 * stages that each swap the off-diagonal s×s sub-blocks (s = 8, 4, 2, 1) of every 2s×2s
 * block. Two-source shuffles become single vpermt2ps instructions on AVX-512.
 * __builtin_shufflevector (constant indices) is understood by clang and by GCC from 12 on;
 * older GCC only has __builtin_shuffle, which takes the indices as a vector. */
#if defined(__clang__) || __GNUC__ >= 12
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
typedef int vi __attribute__((vector_size(64)));
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (vi){__VA_ARGS__})
#endif
static inline void transpose16(float *dst, int64_t ldd, const float *src, int64_t ld) {
    vf r[16];
    for (int i = 0; i < 16; i++) r[i] = vload(src + i * ld);
#define STAGE(s, LO, HI)                                                                  \
    for (int i = 0; i < 16; i++)                                                          \
        if (!(i & (s))) {                                                                 \
            vf a = r[i], b = r[i + (s)];                                                  \
            r[i] = SHUF(a, b, LO);                                                        \
            r[i + (s)] = SHUF(a, b, HI);                                                  \
        }
    /* LO[c] = c has bit s clear ? a[c] : b[c − s];  HI[c] = bit clear ? a[c + s] : b[c]
     * (index 16 + j picks b[j]) */
#define S8_LO 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23
#define S8_HI 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31
#define S4_LO 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define S4_HI 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31
#define S2_LO 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define S2_HI 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define S1_LO 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30
#define S1_HI 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31
    STAGE(8, S8_LO, S8_HI)
    STAGE(4, S4_LO, S4_HI)
    STAGE(2, S2_LO, S2_HI)
    STAGE(1, S1_LO, S1_HI)
#undef STAGE
#undef S8_LO
#undef S8_HI
#undef S4_LO
#undef S4_HI
#undef S2_LO
#undef S2_HI
#undef S1_LO
#undef S1_HI
    for (int i = 0; i < 16; i++) vstore(dst + i * ldd, r[i]);
}

/* Kᵀ (or Vᵀ) tiles of one head: dst [nkt][Dp][BK], zero beyond Tk and Dh. src is row 0. */
static void pack_cols(float *dst, const float *src, const attn_plan *pl) {
    int64_t ld = (int64_t)pl->H * pl->Dh;
    for (int kt = 0; kt < pl->nkt; kt++) {
        float *t = dst + (int64_t)kt * pl->Dp * BK;
        int j0 = kt * BK, nk = min_i(pl->Tk - j0, BK), c16 = nk / 16 * 16, d16 = pl->Dh / 16 * 16;
        for (int c = 0; c < c16; c += 16)
            for (int d = 0; d < d16; d += 16) transpose16(t + (int64_t)d * BK + c, BK, src + (j0 + c) * ld + d, ld);
        for (int c = 0; c < nk; c++) { /* ragged edges */
            const float *s = src + (j0 + c) * ld;
            for (int d = c < c16 ? d16 : 0; d < pl->Dh; d++) t[(int64_t)d * BK + c] = s[d];
        }
        for (int d = 0; d < pl->Dh && nk < BK; d++) memset(t + (int64_t)d * BK + nk, 0, (size_t)(BK - nk) * sizeof(float));
        if (pl->Dp > pl->Dh) memset(t + (int64_t)pl->Dh * BK, 0, (size_t)(pl->Dp - pl->Dh) * BK * sizeof(float));
    }
}

/* Operands of one head, packed. Rows of K and V are read in place when Dh is a multiple of
 * 16 (K, V point into the tensors, ld = H·Dh), else from padded copies (ld = Dp). */
typedef struct head_ops {
    const float *KT, *VT;       /* [nkt][Dp][BK] */
    const float *K, *V;         /* row 0; row j at + j·ld */
    int64_t ld;
    const float *Qs, *dO, *D;   /* backward: [TqP][Dp] scaled q rows and dO rows, D [Tq] */
    const float *lse;           /* [Tq] */
} head_ops;

/* Floats of per-head packing space: KT (+ VT), padded K or V rows when needed. */
static size_t head_kv_floats(const attn_plan *pl, int with_vt) {
    size_t tiles = (size_t)pl->nkt * pl->Dp * BK;
    return tiles * (with_vt ? 2 : 1) + (pl->Dh != pl->Dp ? (size_t)pl->Tk * pl->Dp : 0);
}

/* Pack the K-side operands of head (b, h) into buf (head_kv_floats of them). Forward needs
 * Kᵀ tiles and V rows; backward Kᵀ and Vᵀ tiles and K rows. */
static void pack_head_kv(head_ops *hd, float *buf, const attn_plan *pl, const float *k,
                         const float *v, int b, int h, int backward) {
    int64_t row0 = ((int64_t)b * pl->Tk * pl->H + h) * pl->Dh;
    size_t tiles = (size_t)pl->nkt * pl->Dp * BK;
    float *KT = buf, *rest = buf + tiles;
    pack_cols(KT, k + row0, pl);
    hd->KT = KT;
    if (backward) {
        pack_cols(rest, v + row0, pl);
        hd->VT = rest;
        rest += tiles;
    }
    const float *rows = backward ? k : v; /* backward multiplies dS by K rows, forward P by V */
    if (pl->Dh == pl->Dp) {
        hd->K = hd->V = rows + row0;
        hd->ld = (int64_t)pl->H * pl->Dh;
    } else {
        pack_rows(rest, rows + row0, (int64_t)pl->H * pl->Dh, pl->Tk, pl->Tk, pl->Dh, pl->Dp, 1.f);
        hd->K = hd->V = rest;
        hd->ld = pl->Dp;
    }
}

/* Head-major (one head per work item) keeps all threads busy when heads divide evenly. */
static int head_major(const attn_plan *pl, int nthr) {
    int64_t bh = (int64_t)pl->B * pl->H;
    return nthr == 1 || bh % nthr == 0 || bh >= 4 * nthr;
}

static int worth_parallel(const attn_plan *pl) {
    return (int64_t)pl->B * pl->H * pl->Tq * pl->Tk * pl->Dh >= PAR_MIN_WORK;
}

/* ---------------------------------------------------------------- forward */

/* One query tile of one head: O = softmax(S) V with the online softmax over key tiles.
 * Writes out rows and lse (+inf marks a row that sees no key; its output is zero). */
static void fwd_tile(const attn_plan *pl, const head_ops *hd, int b, int h, int qt, const float *q,
                     float *out, float *lse, float *buf) {
    int Dp = pl->Dp, i0 = qt * BQ, nq = min_i(pl->Tq - i0, BQ), nq4 = round_up(nq, 4);
    float *Qs = buf, *S = Qs + BQ * Dp, *O = S + BQ * BK, *m = O + BQ * Dp, *l = m + BQ, *alpha = l + BQ;
    int64_t ld = (int64_t)pl->H * pl->Dh;
    pack_rows(Qs, q + (((int64_t)b * pl->Tq + i0) * pl->H + h) * pl->Dh, ld, nq, nq4, pl->Dh, Dp,
              pl->scale);
    memset(O, 0, (size_t)nq4 * Dp * sizeof(float));
    for (int r = 0; r < BQ; r++) { m[r] = -INFINITY; l[r] = 0.f; }

    int nkt = (key_end(pl, i0, nq) + BK - 1) / BK;
    for (int kt = 0; kt < nkt; kt++) {
        if (tile_dead(pl, qt, kt)) continue;
        int j0 = kt * BK, nk = min_i(pl->Tk - j0, BK);
        tile_span sp;
        tile_span_of(pl, i0, nq, j0, nk, &sp);
        kern_abt(S, Qs, hd->KT + (int64_t)kt * Dp * BK, nq4, Dp, sp.cols);
        tile_logits(pl, b, h, i0, nq, j0, nk, S);
        for (int r = 0; r < nq4; r++) {
            float *s = S + r * BK;
            float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
            for (int c = 0; c < BK; c++) mx = s[c] > mx ? s[c] : mx;
            float mn = mx > m[r] ? mx : m[r];
            alpha[r] = 1.f;
            if (r >= nq || mn == -INFINITY) { /* padding row, or nothing visible yet */
                memset(s, 0, BK * sizeof(float));
                continue;
            }
            float sum = 0.f;
#pragma omp simd reduction(+ : sum)
            for (int c = 0; c < BK; c++) {
                float p = fexp(s[c] - mn);
                s[c] = p;
                sum += p;
            }
            /* alpha rescales what was summed under the old maximum; kern_acc applies it to
             * the O row as it loads it. A row with no column in this tile keeps m, so 1. */
            alpha[r] = expf(m[r] - mn);
            l[r] = l[r] * alpha[r] + sum;
            m[r] = mn;
        }
        kern_acc(O, S, BK, 1, hd->V + j0 * hd->ld, hd->ld, nq4, nk, NULL, sp.cols, alpha, Dp);
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

static void attention_forward(genc_ctx *c, const attn_plan *pl, const float *q, const float *k,
                              const float *v, float *out, float *lse) {
    int nthr = omp_get_max_threads(), hm = head_major(pl, nthr);
    int64_t BHn = (int64_t)pl->B * pl->H;
    size_t tile = (size_t)(2 * BQ * pl->Dp + BQ * BK + 3 * BQ), kvf = head_kv_floats(pl, 0);
    float *tbuf = genc_scratch(c, (size_t)nthr * tile * sizeof(float));
    /* head-major: per-thread packing space; else packed once for all heads */
    float *kv = genc_scratch(c, (hm ? (size_t)nthr : (size_t)BHn) * kvf * sizeof(float));
    head_ops *hds = hm ? NULL : genc_scratch(c, (size_t)BHn * sizeof(head_ops));
#pragma omp parallel if (worth_parallel(pl))
    {
        int tid = omp_get_thread_num();
        float *tb = tbuf + (size_t)tid * tile;
        if (hm) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t bh = 0; bh < BHn; bh++) {
                int b = (int)(bh / pl->H), h = (int)(bh % pl->H);
                head_ops hd;
                pack_head_kv(&hd, kv + (size_t)tid * kvf, pl, k, v, b, h, 0);
                for (int qt = pl->nqt - 1; qt >= 0; qt--) fwd_tile(pl, &hd, b, h, qt, q, out, lse, tb);
            }
        } else {
#pragma omp for schedule(static)
            for (int64_t bh = 0; bh < BHn; bh++)
                pack_head_kv(&hds[bh], kv + (size_t)bh * kvf, pl, k, v, (int)(bh / pl->H), (int)(bh % pl->H), 0);
            /* heaviest query tiles (the last ones under a causal mask) first */
#pragma omp for schedule(dynamic, 1)
            for (int64_t w = 0; w < BHn * pl->nqt; w++) {
                int qt = pl->nqt - 1 - (int)(w / BHn);
                int64_t bh = w % BHn;
                fwd_tile(pl, &hds[bh], (int)(bh / pl->H), (int)(bh % pl->H), qt, q, out, lse, tb);
            }
        }
    }
}

/* ---------------------------------------------------------------- backward */

typedef struct attn_saved {
    attn_plan pl;
    float *lse; /* [B, H, Tq] */
} attn_saved;

/* Per-thread tile scratch and accumulators. */
typedef struct bwd_buf {
    float *S, *dP;  /* [BQ][BK] */
    float *dK, *dV; /* [BK][Dp] accumulators of the current key tile */
    float *dQ;      /* [rows][Dp] */
    float *t5g;     /* [H][R] bias gradient per relative position, or NULL */
} bwd_buf;

/* One (query tile qt, key tile kt) pair of head (b, h). Accumulates, for each non-NULL
 * target: dV and dK of the key tile ([BK][Dp]), dQs of the query tile ([BQ][Dp], not yet
 * multiplied by scale) and the T5 bias gradient per (head, relative position). */
static void bwd_pair(const attn_plan *pl, const head_ops *hd, int b, int h, int qt, int kt,
                     bwd_buf *buf, float *dK, float *dV, float *dQ, float *t5g) {
    int Dp = pl->Dp;
    int i0 = qt * BQ, nq = min_i(pl->Tq - i0, BQ), nq4 = round_up(nq, 4);
    int j0 = kt * BK, nk = min_i(pl->Tk - j0, BK), nk4 = round_up(nk, 4);
    const float *Qs = hd->Qs + (int64_t)i0 * Dp, *dO = hd->dO + (int64_t)i0 * Dp;
    const float *KT = hd->KT + (int64_t)kt * Dp * BK, *VT = hd->VT + (int64_t)kt * Dp * BK;
    const float *lse = hd->lse + i0, *D = hd->D + i0;
    float *S = buf->S, *dP = buf->dP;

    /* P = exp(S − lse), zero for padding rows and rows that see nothing */
    tile_span sp;
    tile_span_of(pl, i0, nq, j0, nk, &sp);
    kern_abt(S, Qs, KT, nq4, Dp, sp.cols);
    tile_logits(pl, b, h, i0, nq, j0, nk, S);
    for (int r = 0; r < nq4; r++) {
        float *s = S + r * BK;
        if (r >= nq || isinf(lse[r])) { memset(s, 0, BK * sizeof(float)); continue; }
        float L = lse[r];
#pragma omp simd
        for (int c = 0; c < BK; c++) s[c] = fexp(s[c] - L);
    }
    if (dV) kern_acc(dV, S, 1, BK, dO, Dp, nk4, nq, sp.first, NULL, NULL, Dp);
    if (!dK && !dQ && !t5g) return;
    /* dS = P ∘ (dO Vᵀ − D), written over dP */
    kern_abt(dP, dO, VT, nq4, Dp, sp.cols);
    for (int r = 0; r < nq4; r++) {
        /* columns kern_abt skipped hold stale values: define them as 0 */
        float *p = S + r * BK, *g = dP + r * BK, Dr = r < nq ? D[r] : 0.f;
        int wc = round_up(sp.cols[r / 4], VL);
#pragma omp simd
        for (int c = 0; c < wc; c++) g[c] = p[c] * (g[c] - Dr);
        for (int c = wc; c < BK; c++) g[c] = 0.f;
    }
    if (t5g) {
        float *tg = t5g + (int64_t)h * pl->R + pl->roff + j0;
        for (int r = 0; r < nq; r++) {
            float *g = dP + r * BK, *t = tg - (pl->q_offset + i0 + r);
#pragma omp simd
            for (int c = 0; c < nk; c++) t[c] += g[c];
        }
    }
    if (dK) kern_acc(dK, dP, 1, BK, Qs, Dp, nk4, nq, sp.first, NULL, NULL, Dp);
    if (dQ) kern_acc(dQ, dP, BK, 1, hd->K + j0 * hd->ld, hd->ld, nq4, nk, NULL, sp.cols, NULL, Dp);
}

/* grad[row (b, j, h)] += mult · acc[j − j0] for j in [j0, j0 + n) */
static void scatter_add(float *grad, const float *acc, const attn_plan *pl, int b, int h, int T,
                        int j0, int n, float mult) {
    for (int c = 0; c < n; c++) {
        float *g = grad + (((int64_t)b * T + j0 + c) * pl->H + h) * pl->Dh;
        const float *a = acc + (int64_t)c * pl->Dp;
#pragma omp simd
        for (int d = 0; d < pl->Dh; d++) g[d] += mult * a[d];
    }
}

/* Pack the query side of head (b, h): Qs = scale·q rows and dO rows ([TqP][Dp] each) and
 * D_i = dO_i · O_i, into buf (2·TqP·Dp + TqP floats). */
static void pack_head_q(head_ops *hd, float *buf, const attn_plan *pl, const float *q,
                        const float *out, const float *dout, const float *lse, int b, int h) {
    int TqP = pl->nqt * BQ, Dh = pl->Dh, Dp = pl->Dp;
    int64_t ld = (int64_t)pl->H * Dh, row0 = ((int64_t)b * pl->Tq * pl->H + h) * Dh;
    float *Qs = buf, *dO = Qs + (size_t)TqP * Dp, *D = dO + (size_t)TqP * Dp;
    pack_rows(Qs, q + row0, ld, pl->Tq, TqP, Dh, Dp, pl->scale);
    pack_rows(dO, dout + row0, ld, pl->Tq, TqP, Dh, Dp, 1.f);
    for (int i = 0; i < pl->Tq; i++) {
        const float *g = dout + row0 + i * ld, *o = out + row0 + i * ld;
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int d = 0; d < Dh; d++) s += g[d] * o[d];
        D[i] = s;
    }
    hd->Qs = Qs;
    hd->dO = dO;
    hd->D = D;
    hd->lse = lse + ((int64_t)b * pl->H + h) * pl->Tq;
}

/* All pairs of key tile kt with the query tiles that can see it: dK, dV (and dQ when dq is
 * non-NULL, rows of the whole head) ; then add dK, dV into the gradients. */
static void bwd_key_tile(const attn_plan *pl, const head_ops *hd, int b, int h, int kt,
                         bwd_buf *buf, float *gk, float *gv, float *dq) {
    int j0 = kt * BK, nk = min_i(pl->Tk - j0, BK);
    memset(buf->dK, 0, (size_t)2 * BK * pl->Dp * sizeof(float)); /* dK and dV are adjacent */
    for (int qt = 0; qt < pl->nqt; qt++) {
        int i0 = qt * BQ, nq = min_i(pl->Tq - i0, BQ);
        if (key_end(pl, i0, nq) <= j0 || tile_dead(pl, qt, kt)) continue; /* every key hidden */
        bwd_pair(pl, hd, b, h, qt, kt, buf, gk ? buf->dK : NULL, gv ? buf->dV : NULL,
                 dq ? dq + (int64_t)i0 * pl->Dp : NULL, buf->t5g);
    }
    if (gk) scatter_add(gk, buf->dK, pl, b, h, pl->Tk, j0, nk, 1.f);
    if (gv) scatter_add(gv, buf->dV, pl, b, h, pl->Tk, j0, nk, 1.f);
}

static void attention_backward(genc_ctx *c, genc_node *nd) {
    attn_saved *sv = nd->saved;
    const attn_plan *pl = &sv->pl;
    genc_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *t5 = nd->in[3];
    const float *dout = nd->out->grad, *out = nd->out->data;
    int H = pl->H, Dp = pl->Dp, TqP = pl->nqt * BQ;
    int64_t BHn = (int64_t)pl->B * H;
    int need_t5 = t5 && t5->requires_grad;
    int need_kv = k->requires_grad || v->requires_grad || need_t5;
    float *gq = q->requires_grad ? genc_grad(c, q) : NULL, *gk = k->requires_grad ? genc_grad(c, k) : NULL;
    float *gv = v->requires_grad ? genc_grad(c, v) : NULL;
    int nthr = omp_get_max_threads(), hm = head_major(pl, nthr);

    size_t tile = (size_t)2 * BQ * BK + (size_t)2 * BK * Dp + (size_t)(hm ? TqP : BQ) * Dp;
    size_t qf = (size_t)2 * TqP * Dp + TqP, kvf = head_kv_floats(pl, 1);
    size_t nhead = hm ? (size_t)nthr : (size_t)BHn; /* packed heads held at once */
    float *tbuf = genc_scratch(c, (size_t)nthr * tile * sizeof(float));
    float *pk = genc_scratch(c, nhead * (qf + kvf) * sizeof(float));
    head_ops *hds = genc_scratch(c, nhead * sizeof(head_ops));
    float *t5g = NULL;
    if (need_t5) {
        t5g = genc_scratch(c, (size_t)nthr * H * pl->R * sizeof(float));
        memset(t5g, 0, (size_t)nthr * H * pl->R * sizeof(float));
    }
#pragma omp parallel if (worth_parallel(pl))
    {
        int tid = omp_get_thread_num();
        float *tb = tbuf + (size_t)tid * tile;
        bwd_buf buf = {tb, tb + BQ * BK, tb + 2 * BQ * BK, tb + 2 * BQ * BK + BK * Dp,
                       tb + 2 * BQ * BK + 2 * BK * Dp, t5g ? t5g + (size_t)tid * H * pl->R : NULL};
        if (hm) {
            /* one head per item: dQ of the whole head accumulates in buf.dQ, no races */
#pragma omp for schedule(dynamic, 1)
            for (int64_t bh = 0; bh < BHn; bh++) {
                int b = (int)(bh / H), h = (int)(bh % H);
                head_ops *hd = &hds[tid];
                float *p = pk + (size_t)tid * (qf + kvf);
                pack_head_q(hd, p, pl, q->data, out, dout, sv->lse, b, h);
                pack_head_kv(hd, p + qf, pl, k->data, v->data, b, h, 1);
                if (gq) memset(buf.dQ, 0, (size_t)TqP * Dp * sizeof(float));
                if (need_kv || gq)
                    for (int kt = 0; kt < pl->nkt; kt++) bwd_key_tile(pl, hd, b, h, kt, &buf, gk, gv, gq ? buf.dQ : NULL);
                if (gq) scatter_add(gq, buf.dQ, pl, b, h, pl->Tq, 0, pl->Tq, pl->scale);
            }
        } else {
            /* few heads: pack every head once, then a pass over key tiles (dK, dV, d bias)
             * and a pass over query tiles (dQ); each redoes S and dP for its own tiles */
#pragma omp for schedule(static)
            for (int64_t bh = 0; bh < BHn; bh++) {
                float *p = pk + (size_t)bh * (qf + kvf);
                int b = (int)(bh / H), h = (int)(bh % H);
                pack_head_q(&hds[bh], p, pl, q->data, out, dout, sv->lse, b, h);
                pack_head_kv(&hds[bh], p + qf, pl, k->data, v->data, b, h, 1);
            }
            if (need_kv) {
#pragma omp for schedule(dynamic, 1)
                for (int64_t w = 0; w < BHn * pl->nkt; w++) {
                    int64_t bh = w / pl->nkt;
                    int kt = (int)(w % pl->nkt);
                    bwd_key_tile(pl, &hds[bh], (int)(bh / H), (int)(bh % H), kt, &buf, gk, gv, NULL);
                }
            }
            if (gq) {
                buf.t5g = NULL;
#pragma omp for schedule(dynamic, 1)
                for (int64_t w = 0; w < BHn * pl->nqt; w++) {
                    int64_t bh = w % BHn;
                    int qt = pl->nqt - 1 - (int)(w / BHn), b = (int)(bh / H), h = (int)(bh % H);
                    int i0 = qt * BQ, nq = min_i(pl->Tq - i0, BQ);
                    int nkt = (key_end(pl, i0, nq) + BK - 1) / BK;
                    memset(buf.dQ, 0, (size_t)BQ * Dp * sizeof(float));
                    for (int kt = 0; kt < nkt; kt++)
                        if (!tile_dead(pl, qt, kt)) bwd_pair(pl, &hds[bh], b, h, qt, kt, &buf, NULL, NULL, buf.dQ, NULL);
                    scatter_add(gq, buf.dQ, pl, b, h, pl->Tq, i0, nq, pl->scale);
                }
            }
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
    pl.tile_live = o->mask ? plan_tile_live(c, &pl) : NULL;
    pl.key_pad = o->key_pad;
    pl.alibi = o->alibi_slopes;
    pl.scale = o->scale != 0.f ? o->scale : 1.f / sqrtf((float)pl.Dh);
    plan_t5(c, &pl, o);

    genc_tensor *out = genc_new_like(c, q);
    float *lse = genc_scratch(c, (size_t)pl.B * pl.H * pl.Tq * sizeof(float));
    attention_forward(c, &pl, q->data, k->data, v->data, out->data, lse);
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
