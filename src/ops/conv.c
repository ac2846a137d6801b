/* 2-D convolution as PyTorch's Conv2d with zero padding, dilation 1 and groups 1, on CBLAS
 * sgemm, one image at a time (never an im2col of the whole batch).
 *
 * x[B, C, H, W], w[O, C, kh, kw], b[O] → y[B, O, Ho, Wo],  Ho = (H + 2p − kh)/s + 1.
 * With K = C·kh·kw and the N = Ho·Wo output pixels n = (oh, ow) of one image,
 *   col[k = (c, i, j), n] = x[c, oh·s − p + i, ow·s − p + j]      (0 outside the image)
 *   y_b[O, N]  = w[O, K] · col[K, N] + b                            (w flattened as stored)
 *   dw        += dy_b[O, N] · col[K, N]ᵀ,  db += Σ_n dy_b
 *   dcol[K, N] = wᵀ · dy_b,  dx_b += col2im(dcol)   (the transpose of the gather)
 * The products are [O, K]·[K, N]: O and K are in the tens to hundreds and N is every pixel
 * of the image, large enough for sgemm to run well. A 1×1, stride 1, unpadded conv needs no col at all: x_b is
 * already col[C, H·W], and dx_b is one sgemm.
 *
 * Padding is applied once per image (a zero-framed copy, [C, H + 2p, W + 2p]), so building
 * the columns is a plain strided copy with no bounds tests.
 *
 * Peak scratch. col is built for a tile of output rows holding at most COL_CAP floats (at
 * least one row), one buffer per thread: T·(K·Nt + C·(H + 2p)·(W + 2p)) floats for T threads
 * and Nt tile pixels, e.g. 2.0 MB per thread for 64 channels of 3×3 on a 28×28 image (one
 * tile: the whole image), against 231 MB for an im2col of a batch of 128. Backward reuses the
 * same buffers (the padded one for dx) and adds nchunk·O·(K + 1) floats of weight and bias
 * gradient partials (nchunk ≤ 32, fewer when O·K is large: genc_conv_chunks).
 *
 * Threads. Images run in parallel, each with a single-threaded sgemm (OpenBLAS does not nest
 * inside an OpenMP region), when there are at least as many as threads; otherwise they run
 * one after another and sgemm uses the threads. dw and db must not depend on the thread
 * count: the batch is split into nchunk fixed chunks, a function of the shapes alone; a
 * chunk sums its images in order into its own partial, and the partials are added in chunk
 * order. dx needs no such care: an image's dx is written by the thread that owns the image. */
#include "genc/ops.h"

#include "colsum.h"
#include "conv_internal.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

#define COL_CAP (1 << 20)   /* floats of col per thread (4 MiB) */

typedef struct conv_geom {
    int B, C, H, W, O, kh, kw, s, p, Ho, Wo;
    int Hp, Wp;     /* H + 2p, W + 2p */
    int64_t K, N;   /* C·kh·kw, Ho·Wo */
    int rows;       /* output rows per col tile */
    int direct;     /* 1×1, stride 1, pad 0: col is x itself */
} conv_geom;


static int64_t col_floats(const conv_geom *g) { return g->direct ? 0 : g->K * g->rows * g->Wo; }
static int64_t pad_floats(const conv_geom *g) { return g->direct || !g->p ? 0 : (int64_t)g->C * g->Hp * g->Wp; }

/* xp[C, Hp, Wp] = x_b[C, H, W] framed by p zeros */
static void pad_image(const conv_geom *g, const float *xb, float *xp) {
    memset(xp, 0, (size_t)pad_floats(g) * sizeof(float));
    for (int c = 0; c < g->C; c++)
        for (int h = 0; h < g->H; h++)
            memcpy(xp + ((int64_t)c * g->Hp + h + g->p) * g->Wp + g->p, xb + ((int64_t)c * g->H + h) * g->W,
                   (size_t)g->W * sizeof(float));
}

/* dx_b[C, H, W] += the interior of the padded gradient dxp[C, Hp, Wp] (= when fresh: x's
 * first gradient, see genc_grad_fresh) */
static void unpad_add(const conv_geom *g, const float *dxp, float *dxb, int fresh) {
    for (int c = 0; c < g->C; c++)
        for (int h = 0; h < g->H; h++) {
            const float *src = dxp + ((int64_t)c * g->Hp + h + g->p) * g->Wp + g->p;
            float *dst = dxb + ((int64_t)c * g->H + h) * g->W;
            if (fresh) {
#pragma omp simd
                for (int w = 0; w < g->W; w++) dst[w] = src[w];
                continue;
            }
#pragma omp simd
            for (int w = 0; w < g->W; w++) dst[w] += src[w];
        }
}

/* Output rows [oh0, oh0 + nr) of one (padded) image img[C, Hp, Wp] and their columns
 * col[K, nr·Wo], row k = (c, i, j) holding img[c, oh·s + i, ow·s + j].
 * back = 0: col = im2col(img);  back = 1: img += col2im(col).
 * Padding was applied once to the whole image, so every piece is a plain strided copy of one
 * output row. Within a row k no two pixels touch the same input, so the scatter is a plain
 * loop; rows run in order, so its sums are deterministic. omp simd keeps gcc from turning the
 * stride-1 copy into a memcpy call, whose overhead would rival a copy of a few dozen floats. */
static void col_run(const conv_geom *g, float *img, int oh0, int nr, float *col, int back) {
    int s = g->s, Wo = g->Wo;
    int64_t nt = (int64_t)nr * Wo;
    for (int c = 0; c < g->C; c++)
        for (int i = 0; i < g->kh; i++)
            for (int j = 0; j < g->kw; j++) {
                float *d = col + ((int64_t)(c * g->kh + i) * g->kw + j) * nt;
                for (int r = 0; r < nr; r++, d += Wo) {
                    float *row = img + ((int64_t)c * g->Hp + (int64_t)(oh0 + r) * s + i) * g->Wp + j;
                    if (back && s == 1) {
#pragma omp simd
                        for (int ow = 0; ow < Wo; ow++) row[ow] += d[ow];
                    } else if (back) {
                        for (int ow = 0; ow < Wo; ow++) row[ow * s] += d[ow];
                    } else if (s == 1) {
#pragma omp simd
                        for (int ow = 0; ow < Wo; ow++) d[ow] = row[ow];
                    } else {
                        for (int ow = 0; ow < Wo; ow++) d[ow] = row[ow * s];
                    }
                }
            }
}

/* The thread's padded-image buffer (after its col tile), NULL when there is no padding. */
static float *pad_buffer(const conv_geom *g, float *work) { return pad_floats(g) ? work + col_floats(g) : NULL; }

/* The image the columns are read from: x_b itself, or x_b padded into the thread's buffer. */
static const float *source(const conv_geom *g, const float *xb, float *work) {
    float *padbuf = pad_buffer(g, work);
    if (!padbuf) return xb;
    pad_image(g, xb, padbuf);
    return padbuf;
}

/* The columns of output rows [oh0, oh0 + nr) with their leading dimension: for a direct conv
 * a view of x_b ([C, H·W] already), else built into col. */
static const float *cols(const conv_geom *g, const float *img, int oh0, int nr, float *col, int *ld) {
    if (g->direct) {
        *ld = (int)g->N;
        return img + (int64_t)oh0 * g->Wo;
    }
    col_run(g, (float *)img, oh0, nr, col, 0);
    *ld = nr * g->Wo;
    return col;
}

static int tile_rows(const conv_geom *g, int oh0) { return g->Ho - oh0 < g->rows ? g->Ho - oh0 : g->rows; }

/* y_b[O, N] = w · col + b for one image, tile by tile (y_b's leading dimension stays N).
 * work: the thread's col tile followed by its padded image. */
static void forward_image(const conv_geom *g, const float *xb, const float *w, const float *bias,
                          float *work, float *yb) {
    const float *img = source(g, xb, work);
    for (int oh0 = 0; oh0 < g->Ho; oh0 += g->rows) {
        int nr = tile_rows(g, oh0), ld;
        int64_t n0 = (int64_t)oh0 * g->Wo, nt = (int64_t)nr * g->Wo;
        const float *col = cols(g, img, oh0, nr, work, &ld);
        if (bias)
            for (int o = 0; o < g->O; o++)
                for (int64_t n = 0; n < nt; n++) yb[o * g->N + n0 + n] = bias[o];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->O, (int)nt, (int)g->K, 1.0f, w,
                    (int)g->K, col, ld, bias ? 1.0f : 0.0f, yb + n0, (int)g->N);
    }
}

/* One image's share of the backward: pw[O, K] += dy_b·colᵀ and pb[O] += Σ_n dy_b (when not
 * NULL), then dx_b += col2im(wᵀ·dy_b) (when dxb is not NULL; = when fresh). With padding,
 * col2im scatters into the padded buffer (reused: the columns of x are no longer needed) and
 * its interior is added to dx_b. */
static void backward_image(const conv_geom *g, const float *xb, const float *w, const float *dyb,
                           float *work, float *pw, float *pb, float *dxb, int fresh) {
    int O = g->O, K = (int)g->K, N = (int)g->N;
    float *padbuf = pad_buffer(g, work);
    if (pb)
        for (int o = 0; o < O; o++) {
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int n = 0; n < N; n++) s += dyb[(int64_t)o * N + n];
            pb[o] += (float)s;
        }
    if (pw) {
        const float *img = source(g, xb, work);
        for (int oh0 = 0; oh0 < g->Ho; oh0 += g->rows) {
            int nr = tile_rows(g, oh0), ld;
            const float *col = cols(g, img, oh0, nr, work, &ld);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, nr * g->Wo, 1.0f, dyb + oh0 * g->Wo, N,
                        col, ld, 1.0f, pw, K);
        }
    }
    if (!dxb) return;
    float *target = padbuf ? padbuf : dxb;
    if (padbuf) memset(padbuf, 0, (size_t)pad_floats(g) * sizeof(float));
    else if (fresh && !g->direct) memset(dxb, 0, (size_t)g->C * g->H * g->W * sizeof(float)); /* col2im adds */
    for (int oh0 = 0; oh0 < g->Ho; oh0 += g->rows) {
        int nr = tile_rows(g, oh0), nt = nr * g->Wo, n0 = oh0 * g->Wo;
        if (g->direct) { /* dx_b[C, HW] += wᵀ · dy_b */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, nt, O, 1.0f, w, K, dyb + n0, N,
                        fresh ? 0.0f : 1.0f, dxb + n0, N);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, nt, O, 1.0f, w, K, dyb + n0, N, 0.0f, work, nt);
        col_run(g, target, oh0, nr, work, 1);
    }
    if (padbuf) unpad_add(g, padbuf, dxb, fresh);
}


static void conv2d_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const conv_geom *g = nd->saved;
    const float *dy = nd->out->grad;
    int want_w = w->requires_grad, want_b = b && b->requires_grad;
    int fresh = 0;
    float *dx = x->requires_grad ? genc_grad_fresh(c, x, &fresh) : NULL;
    int nch = genc_conv_chunks((int64_t)g->O * (g->K + 1), g->B), par = genc_conv_par_over(nch), nth = par ? omp_get_max_threads() : 1;
    int64_t per = col_floats(g) + pad_floats(g), xs = (int64_t)g->C * g->H * g->W;
    int64_t ys = g->O * g->N, OK = g->O * g->K;
    float *buf = per ? genc_scratch(c, (size_t)(nth * per) * sizeof(float)) : NULL;
    float *pw = want_w ? genc_scratch(c, (size_t)(nch * OK) * sizeof(float)) : NULL;
    float *pb = want_b ? genc_scratch(c, (size_t)(nch * g->O) * sizeof(float)) : NULL;
#pragma omp parallel for schedule(static) if (par)
    for (int k = 0; k < nch; k++) {
        float *pwk = pw ? pw + k * OK : NULL, *pbk = pb ? pb + (int64_t)k * g->O : NULL;
        if (pwk) memset(pwk, 0, (size_t)OK * sizeof(float));
        if (pbk) memset(pbk, 0, (size_t)g->O * sizeof(float));
        float *mine = buf ? buf + omp_get_thread_num() * per : NULL;
        int b0 = (int)((int64_t)g->B * k / nch), b1 = (int)((int64_t)g->B * (k + 1) / nch);
        for (int i = b0; i < b1; i++)
            backward_image(g, x->data + i * xs, w->data, dy + i * ys, mine, pwk, pbk,
                           dx ? dx + i * xs : NULL, fresh);
    }
    if (pw) genc_colsum_add(pw, NULL, nch, OK, genc_grad(c, w), 1.0f);
    if (pb) genc_colsum_add(pb, NULL, nch, g->O, genc_grad(c, b), 1.0f);
}

genc_tensor *genc_conv2d(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int stride, int pad) {
    char xs[64], ws[64];
    GENC_ASSERT(x->ndim == 4 && w->ndim == 4 && w->shape[1] == x->shape[1] && stride >= 1 && pad >= 0 &&
                    x->shape[2] + 2 * pad >= w->shape[2] && x->shape[3] + 2 * pad >= w->shape[3],
                "conv2d: input %s, weight %s, stride %d, pad %d do not fit", genc_shape_str(x, xs, sizeof xs),
                genc_shape_str(w, ws, sizeof ws), stride, pad);
    GENC_ASSERT(!b || b->n == w->shape[0], "conv2d: bias has %lld elements for %d output channels",
                (long long)(b ? b->n : 0), w->shape[0]);
    if (genc_conv_direct_fits(x->shape[1], w->shape[2], w->shape[3], stride, pad)) return genc_conv_direct(c, x, w, b, pad);
    return genc_conv_im2col(c, x, w, b, stride, pad);
}

genc_tensor *genc_conv_im2col(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int stride, int pad) {
    conv_geom g = {.B = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3], .O = w->shape[0],
                   .kh = w->shape[2], .kw = w->shape[3], .s = stride, .p = pad};
    g.Ho = (g.H + 2 * pad - g.kh) / stride + 1;
    g.Wo = (g.W + 2 * pad - g.kw) / stride + 1;
    g.K = (int64_t)g.C * g.kh * g.kw;
    g.N = (int64_t)g.Ho * g.Wo;
    g.Hp = g.H + 2 * pad;
    g.Wp = g.W + 2 * pad;
    g.direct = g.kh == 1 && g.kw == 1 && stride == 1 && pad == 0;
    int64_t rows = COL_CAP / (g.K * g.Wo);
    g.rows = g.direct || rows >= g.Ho ? g.Ho : rows < 1 ? 1 : (int)rows;

    genc_tensor *y = genc_new4(c, g.B, g.O, g.Ho, g.Wo);
    int par = genc_conv_par_over(g.B), nth = par ? omp_get_max_threads() : 1;
    int64_t per = col_floats(&g) + pad_floats(&g), xstride = (int64_t)g.C * g.H * g.W;
    float *buf = per ? genc_scratch(c, (size_t)(nth * per) * sizeof(float)) : NULL;
#pragma omp parallel for schedule(static) if (par)
    for (int i = 0; i < g.B; i++)
        forward_image(&g, x->data + i * xstride, w->data, b ? b->data : NULL,
                      buf ? buf + omp_get_thread_num() * per : NULL, y->data + i * g.O * g.N);
    genc_node *nd = genc_record(c, conv2d_backward, y, 3, (genc_tensor *[]){x, w, b});
    if (nd) {
        conv_geom *s = genc_scratch(c, sizeof *s);
        *s = g;
        nd->saved = s;
    }
    return y;
}
