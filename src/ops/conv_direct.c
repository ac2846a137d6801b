/* conv2d for the "same" convolutions of the image models (stride 1, square kernel k = 2p + 1:
 * 3×3 pad 1, 5×5 pad 2; see genc_conv_direct_fits) by a direct kernel on a padded layout of a group of images:
 * no im2col, no sgemm packing, every input value read from cache by vector loads.
 *
 * Layout. A group of G images is stored channel-major with each image in a slot of (H + p)
 * rows of Wq = W + p columns: pixel (b, h, w) at column n = (b·(H + p) + h)·Wq + w of a row of
 * N = G·(H + p)·Wq columns. The p extra columns after each image row and the p extra rows after
 * each image hold zeros, and so do M = p·Wq + p columns (rounded up to a vector in front) before
 * and after the row. A pixel's
 * neighbour at offset (i − p, j − p) is then column n + (i − p)·Wq + (j − p), and a neighbour
 * outside the image lands in a zero column (the previous or next slot's padding, or the
 * margin): the zero frame between two images is shared, so the extra columns computed are
 * (H + p)(W + p)/(HW) − 1: 7 % on 28×28, 31 % on 7×7.
 *
 * With X[C, M + N + M] an input group in this layout, off_t = (i − p)·Wq + (j − p) for the tap
 * t = (i, j) and w[o, c, t] the weights,
 *   Y[o, n]       = Σ_c Σ_t w[o, c, t] · X[c, M + n + off_t]          y = Y at the pixels, + b
 *   dX[c, n]      = Σ_o Σ_t w[o, c, t] · dY[o, M + n − off_t]          (dY in the layout, zero padding)
 *   dw[o, c, t]  += Σ_n dY[o, M + n] · X[c, M + n + off_t]
 * The first two are one kernel (tap_kernel): a register tile of OB output channels × NV
 * vectors of columns, accumulated over (input channel, tap) with one broadcast weight and NV
 * unaligned loads per step, so it runs from L1 at near the FMA rate. Columns are walked in
 * chunks of NC so the input rows of a chunk stay in L2 across the output channel blocks. The
 * third is dw_kernel: OB output channels × the k taps of one kernel row as vector
 * accumulators over the columns, summed across lanes at the end in a fixed order.
 *
 * Threads and determinism: groups run in parallel when there are at least as many as threads;
 * otherwise groups run in sequence and each kernel splits its output channel blocks over the
 * threads. Either way each output value is summed by one thread in one fixed order. The
 * weight gradient is summed per fixed chunk of groups (a function of the shapes alone) and
 * the chunks are added in order, so no result depends on the thread count. */
#include "conv_internal.h"

#include "colsum.h"

#include <string.h>

#if defined(__AVX512F__)
#define VL 16 /* floats per vector register */
#define NV 6  /* vectors of columns per register tile: 4 × 6 accumulators of the 32 registers */
#elif defined(__AVX__)
#define VL 8
#define NV 3 /* 4 × 3 of 16 registers */
#else
#define VL 4
#define NV 3
#endif
#define OB 4                  /* output channels per register tile */
#define BLK (VL * NV)         /* columns per register tile */
#define NC (4 * BLK)          /* columns per cache chunk */
#define GROUP_COLS 2048       /* columns of a group of images (at least one image) */

typedef float vf __attribute__((vector_size(VL * 4)));

static inline vf vload(const float *p) {
    vf v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
static inline void vstore(float *p, vf v) { __builtin_memcpy(p, &v, sizeof v); }

/* the sum of a vector's lanes as a halving tree (log2 VL vector adds, not VL dependent scalar
 * adds; the order is fixed) */
static inline float hsum(vf v) {
    float t[VL];
    __builtin_memcpy(t, &v, sizeof t);
    for (int w = VL / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] += t[l + w];
    return t[0];
}

typedef struct direct_geom {
    int B, C, H, W, O, k, p, kk;
    int Wq;          /* W + p: columns per slot row */
    int G;           /* images per group */
    int ngroups;
    int Cp, Op;      /* C and O rounded up to OB */
    int64_t slot;    /* (H + p)·Wq columns per image */
    int64_t M;       /* margin p·Wq + p */
    int64_t M0;      /* the front margin: M rounded up to a vector, so column 0 of a row and
                      * the rows of dY (read at every tap) start on a vector boundary */
    int64_t Npad;    /* G·slot rounded up to BLK: the columns a full group computes */
    int64_t ld;      /* M0 + Npad + M rounded up to a vector: row stride of a group */
    int64_t off[25]; /* off_t, k ≤ 5 */
    float *wf;       /* [Op/OB][C][kk][OB] forward weights, zero rows past O */
} direct_geom;

/* 3×3 and 5×5 "same" convolutions of at least 16 input channels. With fewer, or for 1×1,
 * im2col + sgemm was as fast or faster (bench/bench_conv.c: a 1-channel 3×3 0.7×, a 2- or
 * 4-channel one 0.8-0.9×, a 64-channel 1×1 0.6× of im2col's speed; 32 and 64 channels 1.1-2.5×). */
int genc_conv_direct_fits(int C, int kh, int kw, int stride, int pad) {
    return stride == 1 && kh == kw && kh == 2 * pad + 1 && (kh == 3 || kh == 5) && C >= 16;
}

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static int group_images(const direct_geom *g, int grp) {
    int b0 = grp * g->G;
    return g->B - b0 < g->G ? g->B - b0 : g->G;
}

/* buf[Rp, ld] = the R-channel images src[b0 .. b0 + nb) ([B, R, H, W]) in the layout, zero
 * elsewhere (including rows R .. Rp, which a register tile may read) */
static void load(const direct_geom *g, const float *src, int R, int Rp, int b0, int nb, float *buf) {
    int64_t img = (int64_t)R * g->H * g->W;
    memset(buf, 0, (size_t)(Rp * g->ld) * sizeof(float));
    for (int r = 0; r < R; r++)
        for (int b = 0; b < nb; b++) {
            const float *s = src + (b0 + b) * img + (int64_t)r * g->H * g->W;
            float *d = buf + r * g->ld + g->M0 + b * g->slot;
            for (int h = 0; h < g->H; h++) memcpy(d + (int64_t)h * g->Wq, s + (int64_t)h * g->W, (size_t)g->W * sizeof(float));
        }
}

/* dst[b0 .. b0 + nb] ([B, R, H, W]) = (or += when add) buf[R, Npad] at the images' pixels, + bias */
static void store(const direct_geom *g, const float *buf, int R, int b0, int nb, const float *bias, float *dst, int add) {
    int64_t img = (int64_t)R * g->H * g->W;
    for (int r = 0; r < R; r++)
        for (int b = 0; b < nb; b++) {
            const float *s = buf + r * g->Npad + b * g->slot;
            float *d = dst + (b0 + b) * img + (int64_t)r * g->H * g->W;
            float bv = bias ? bias[r] : 0;
            for (int h = 0; h < g->H; h++) {
                const float *sr = s + (int64_t)h * g->Wq;
                float *dr = d + (int64_t)h * g->W;
                if (add) {
#pragma omp simd
                    for (int w = 0; w < g->W; w++) dr[w] += sr[w];
                } else {
#pragma omp simd
                    for (int w = 0; w < g->W; w++) dr[w] = sr[w] + bv;
                }
            }
        }
}

/* out[q, n] = Σ_r Σ_t A[q/OB][r][t][q mod OB] · in[r, base + sign·off_t + n] for the output
 * channel blocks [qb0, qb1) and the columns n < ncols (a multiple of BLK). out has row stride
 * Npad; in has row stride ld. */
static void tap_kernel(const direct_geom *g, const float *A, int R, const float *in, int sign, int qb0, int qb1,
                       int64_t ncols, float *out) {
    int kk = g->kk;
    int64_t off[25];
    for (int t = 0; t < kk; t++) off[t] = g->M0 + sign * g->off[t];
    for (int64_t nc = 0; nc < ncols; nc += NC)
        for (int qb = qb0; qb < qb1; qb++) {
            const float *Aq = A + (int64_t)qb * R * kk * OB;
            for (int64_t n0 = nc; n0 < ncols && n0 < nc + NC; n0 += BLK) {
                vf acc[OB][NV];
                for (int q = 0; q < OB; q++)
                    for (int v = 0; v < NV; v++) acc[q][v] = (vf){0};
                for (int r = 0; r < R; r++) {
                    const float *xr = in + r * g->ld + n0, *ar = Aq + (int64_t)r * kk * OB;
                    for (int t = 0; t < kk; t++) {
                        vf x[NV];
                        for (int v = 0; v < NV; v++) x[v] = vload(xr + off[t] + v * VL);
                        for (int q = 0; q < OB; q++) {
                            float wv = ar[t * OB + q];
                            for (int v = 0; v < NV; v++) acc[q][v] += x[v] * wv;
                        }
                    }
                }
                for (int q = 0; q < OB; q++)
                    for (int v = 0; v < NV; v++) vstore(out + (int64_t)(qb * OB + q) * g->Npad + n0 + v * VL, acc[q][v]);
            }
        }
}

/* dw[o, c, t] += Σ_{n < ncols} dY[o, M + n] · X[c, M + n + off_t] for the output channel
 * blocks [ob0, ob1); dw is [O, C, kk] (rows past O are not written). k is a constant in each
 * caller (dw_kernel below), so the OB × k accumulators live in registers. */
static inline __attribute__((always_inline)) void dw_kernel_k(const direct_geom *g, const int k, const float *dY,
                                                               const float *X, int ob0, int ob1, int64_t ncols, float *dw) {
    int64_t ld = g->ld;
    for (int ob = ob0; ob < ob1; ob++)
        for (int c = 0; c < g->C; c++)
            for (int i = 0; i < k; i++) {
                vf acc[OB][5];
                for (int q = 0; q < OB; q++)
                    for (int j = 0; j < k; j++) acc[q][j] = (vf){0};
                const float *xr = X + c * ld + g->M0 + g->off[i * k];
                const float *dy = dY + (int64_t)ob * OB * ld + g->M0;
                for (int64_t n = 0; n < ncols; n += VL) {
                    vf d[OB];
                    for (int q = 0; q < OB; q++) d[q] = vload(dy + q * ld + n);
                    for (int j = 0; j < k; j++) {
                        vf xv = vload(xr + n + j);
                        for (int q = 0; q < OB; q++) acc[q][j] += d[q] * xv;
                    }
                }
                for (int q = 0; q < OB && ob * OB + q < g->O; q++)
                    for (int j = 0; j < k; j++) dw[((int64_t)(ob * OB + q) * g->C + c) * g->kk + i * k + j] += hsum(acc[q][j]);
            }
}

static void dw_kernel(const direct_geom *g, const float *dY, const float *X, int ob0, int ob1, int64_t ncols, float *dw) {
    switch (g->k) {
    case 1: dw_kernel_k(g, 1, dY, X, ob0, ob1, ncols, dw); break;
    case 3: dw_kernel_k(g, 3, dY, X, ob0, ob1, ncols, dw); break;
    default: dw_kernel_k(g, 5, dY, X, ob0, ob1, ncols, dw); break;
    }
}

/* The weights w[O, C, kk] as the tap kernel reads them, blocks of OB output channels of the
 * pass: forward (by_input 0) [Op/OB][C][kk][OB], zero rows past O; for dX (by_input 1), where
 * the input channels are the outputs, [Cp/OB][O][kk][OB]. */
static float *pack_weights(genc_ctx *c, const float *w, int O, int C, int kk, int by_input) {
    int Q = by_input ? C : O, R = by_input ? O : C;
    int64_t n = round_up(Q, OB) * R * kk;
    float *p = genc_scratch(c, (size_t)n * sizeof(float));
    memset(p, 0, (size_t)n * sizeof(float));
    for (int o = 0; o < O; o++)
        for (int ci = 0; ci < C; ci++)
            for (int t = 0; t < kk; t++) {
                int q = by_input ? ci : o, r = by_input ? o : ci;
                p[(((int64_t)(q / OB) * R + r) * kk + t) * OB + q % OB] = w[((int64_t)o * C + ci) * kk + t];
            }
    return p;
}

static direct_geom geometry(genc_ctx *c, const genc_tensor *x, const genc_tensor *w, int pad) {
    direct_geom g = {.B = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3], .O = w->shape[0],
                     .k = w->shape[2], .p = pad};
    g.kk = g.k * g.k;
    g.Wq = g.W + g.p;
    g.slot = (int64_t)(g.H + g.p) * g.Wq;
    int64_t G = GROUP_COLS / g.slot;
    g.G = G < 1 ? 1 : G > g.B ? g.B : (int)G;
    g.ngroups = (g.B + g.G - 1) / g.G;
    g.M = (int64_t)g.p * g.Wq + g.p;
    g.Npad = round_up(g.G * g.slot, BLK);
    g.M0 = round_up(g.M, VL);
    g.ld = round_up(g.M0 + g.Npad + g.M, VL);
    g.Cp = (int)round_up(g.C, OB);
    g.Op = (int)round_up(g.O, OB);
    for (int t = 0; t < g.kk; t++) g.off[t] = (int64_t)(t / g.k - g.p) * g.Wq + (t % g.k - g.p);
    g.wf = pack_weights(c, w->data, g.O, g.C, g.kk, 0);
    return g;
}


/* One group's backward into the thread's buffers: dY and X in the layout, then the weight
 * gradient into pw and dx. inner: split the kernels' channel blocks over the threads. */
static void backward_group(const direct_geom *g, const float *wb, const float *xd, const float *dy, int grp, float *buf,
                           float *pw, float *dx, int fresh, int inner) {
    int b0 = grp * g->G, nb = group_images(g, grp);
    int64_t ncols = round_up(nb * g->slot, BLK);
    float *dY = buf, *X = dY + g->Op * g->ld, *dX = X + g->C * g->ld;
    load(g, dy, g->O, g->Op, b0, nb, dY);
    if (pw) {
        load(g, xd, g->C, g->C, b0, nb, X);
        int nob = g->Op / OB;
#pragma omp parallel for schedule(static) if (inner && nob > 1)
        for (int ob = 0; ob < nob; ob++) dw_kernel(g, dY, X, ob, ob + 1, ncols, pw);
    }
    if (dx) {
        int ncb = g->Cp / OB;
#pragma omp parallel for schedule(static) if (inner && ncb > 1)
        for (int cb = 0; cb < ncb; cb++) tap_kernel(g, wb, g->O, dY, -1, cb, cb + 1, ncols, dX);
        store(g, dX, g->C, b0, nb, NULL, dx, !fresh);
    }
}

static void direct_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const direct_geom *g = nd->saved;
    const float *dy = nd->out->grad;
    int want_w = w->requires_grad, want_b = b && b->requires_grad;
    int fresh = 0;
    float *dx = x->requires_grad ? genc_grad_fresh(c, x, &fresh) : NULL;
    const float *wb = dx ? pack_weights(c, w->data, g->O, g->C, g->kk, 1) : NULL;
    int nch = genc_conv_chunks((int64_t)g->O * (g->C * g->kk + 1), g->ngroups), par = genc_conv_par_over(nch), nth = par ? omp_get_max_threads() : 1;
    int64_t per = (int64_t)(g->Op + g->C) * g->ld + (int64_t)g->Cp * g->Npad;
    int64_t OK = (int64_t)g->O * g->C * g->kk, HW = (int64_t)g->H * g->W;
    float *buf = genc_scratch(c, (size_t)(nth * per) * sizeof(float));
    float *pw = want_w ? genc_scratch(c, (size_t)(nch * OK) * sizeof(float)) : NULL;
    float *pb = want_b ? genc_scratch(c, (size_t)(nch * g->O) * sizeof(float)) : NULL;
#pragma omp parallel for schedule(static) if (par)
    for (int ch = 0; ch < nch; ch++) {
        float *pwk = pw ? pw + ch * OK : NULL, *pbk = pb ? pb + (int64_t)ch * g->O : NULL;
        if (pwk) memset(pwk, 0, (size_t)OK * sizeof(float));
        if (pbk) memset(pbk, 0, (size_t)g->O * sizeof(float));
        float *mine = buf + (par ? omp_get_thread_num() : 0) * per;
        int g0 = (int)((int64_t)g->ngroups * ch / nch), g1 = (int)((int64_t)g->ngroups * (ch + 1) / nch);
        for (int grp = g0; grp < g1; grp++) {
            if (pbk)
                for (int bi = grp * g->G; bi < grp * g->G + group_images(g, grp); bi++)
                    for (int o = 0; o < g->O; o++) {
                        const float *d = dy + ((int64_t)bi * g->O + o) * HW;
                        double s = 0;
#pragma omp simd reduction(+ : s)
                        for (int64_t i = 0; i < HW; i++) s += d[i];
                        pbk[o] += (float)s;
                    }
            if (pwk || dx) backward_group(g, wb, x->data, dy, grp, mine, pwk, dx, fresh, !par);
        }
    }
    if (pw) genc_colsum_add(pw, NULL, nch, OK, genc_grad(c, w), 1.0f);
    if (pb) genc_colsum_add(pb, NULL, nch, g->O, genc_grad(c, b), 1.0f);
}

genc_tensor *genc_conv_direct(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int pad) {
    direct_geom g = geometry(c, x, w, pad);
    genc_tensor *y = genc_new4(c, g.B, g.O, g.H, g.W);
    int par = genc_conv_par_over(g.ngroups), nth = par ? omp_get_max_threads() : 1, nob = g.Op / OB;
    int64_t per = (int64_t)g.C * g.ld + (int64_t)g.Op * g.Npad;
    float *buf = genc_scratch(c, (size_t)(nth * per) * sizeof(float));
#pragma omp parallel for schedule(static) if (par)
    for (int grp = 0; grp < g.ngroups; grp++) {
        float *X = buf + (par ? omp_get_thread_num() : 0) * per, *Y = X + g.C * g.ld;
        int b0 = grp * g.G, nb = group_images(&g, grp);
        int64_t ncols = round_up(nb * g.slot, BLK);
        load(&g, x->data, g.C, g.C, b0, nb, X);
#pragma omp parallel for schedule(static) if (!par && nob > 1)
        for (int ob = 0; ob < nob; ob++) tap_kernel(&g, g.wf, g.C, X, 1, ob, ob + 1, ncols, Y);
        store(&g, Y, g.O, b0, nb, b ? b->data : NULL, y->data, 0);
    }
    genc_node *nd = genc_record(c, direct_backward, y, 3, (genc_tensor *[]){x, w, b});
    if (nd) {
        direct_geom *s = genc_scratch(c, sizeof *s);
        *s = g;
        nd->saved = s;
    }
    return y;
}
