/* Resampling and layout ops on images x[B, C, H, W]: nearest ×2 upsampling, average pooling,
 * space-to-depth (Glow's squeeze) and ViT/DiT patches, with their inverses.
 *
 * Tensors have at most 4 dimensions, so the reshape-permute-reshape chains other frameworks
 * write for these (a 6-D permute) are single copying ops here. Every op touches each element
 * once per pass and works plane by plane (one (b, c) image channel at a time), in parallel
 * over planes; backward of a copy is the transposed copy, accumulated (+=). */
#include "genc/ops.h"

#include <string.h>

#define PAR_MIN 32768

static void check_image(const genc_tensor *x, int f, const char *op) {
    char s[64];
    GENC_ASSERT(x->ndim == 4 && f >= 1 && x->shape[2] % f == 0 && x->shape[3] % f == 0,
                "%s: input %s is not [B, C, H, W] with H and W divisible by %d", op,
                genc_shape_str(x, s, sizeof s), f);
}

/* ---------------------------------------------------------------- nearest ×2 upsampling */

/* dx[h, w] += the four dy that copy it */
static void upsample2x_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    int H = x->shape[2], W = x->shape[3];
    int64_t planes = x->n / ((int64_t)H * W);
    const float *dy = nd->out->grad;
    float *dx = genc_grad(c, x);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t p = 0; p < planes; p++)
        for (int h = 0; h < H; h++) {
            const float *r0 = dy + (p * 2 * H + 2 * h) * 2 * W, *r1 = r0 + 2 * W;
            float *d = dx + (p * H + h) * W;
            for (int w = 0; w < W; w++) d[w] += (r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1]);
        }
}

/* x[B, C, H, W] → y[B, C, 2H, 2W],  y[2h + i, 2w + j] = x[h, w]
 * (F.interpolate(scale_factor=2, mode="nearest")) */
genc_tensor *genc_upsample2x(genc_ctx *c, genc_tensor *x) {
    check_image(x, 1, "upsample2x");
    int H = x->shape[2], W = x->shape[3];
    int64_t planes = x->n / ((int64_t)H * W);
    genc_tensor *y = genc_new4(c, x->shape[0], x->shape[1], 2 * H, 2 * W);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t p = 0; p < planes; p++)
        for (int h = 0; h < H; h++) {
            const float *s = x->data + (p * H + h) * W;
            float *r0 = y->data + (p * 2 * H + 2 * h) * 2 * W;
            for (int w = 0; w < W; w++) r0[2 * w] = r0[2 * w + 1] = s[w];
            memcpy(r0 + 2 * W, r0, (size_t)(2 * W) * sizeof(float));
        }
    genc_record(c, upsample2x_backward, y, 1, &x);
    return y;
}

/* ---------------------------------------------------------------- average pooling */

/* dx[k·h + i, k·w + j] += dy[h, w] / k² */
static void avg_pool2d_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    int k = (int)nd->iarg[0], H = x->shape[2], W = x->shape[3], Ho = H / k, Wo = W / k;
    int64_t planes = x->n / ((int64_t)H * W);
    const float *dy = nd->out->grad;
    int fresh;
    float *dx = genc_grad_fresh(c, x, &fresh), inv = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t p = 0; p < planes; p++)
        for (int r = 0; r < H; r++) {
            const float *g = dy + (p * Ho + r / k) * Wo;
            float *d = dx + (p * H + r) * W;
            if (k == 2 && fresh) { /* x's first gradient: stored, not added (genc_grad_fresh) */
#pragma omp simd
                for (int w = 0; w < Wo; w++) d[2 * w] = d[2 * w + 1] = g[w] * inv;
            } else if (k == 2) { /* the common case, unrolled so it vectorises */
#pragma omp simd
                for (int w = 0; w < Wo; w++) {
                    float v = g[w] * inv;
                    d[2 * w] += v;
                    d[2 * w + 1] += v;
                }
            } else {
                for (int w = 0; w < Wo; w++) {
                    float v = g[w] * inv;
                    for (int j = 0; j < k; j++) d[w * k + j] = fresh ? v : d[w * k + j] + v;
                }
            }
        }
}

/* x[B, C, H, W] → y[B, C, H/k, W/k],  y[h, w] = (Σ_{i,j<k} x[k·h + i, k·w + j]) / k²
 * (F.avg_pool2d(x, k), kernel = stride = k, H and W divisible by k) */
genc_tensor *genc_avg_pool2d(genc_ctx *c, genc_tensor *x, int k) {
    check_image(x, k, "avg_pool2d");
    int H = x->shape[2], W = x->shape[3], Ho = H / k, Wo = W / k;
    int64_t planes = x->n / ((int64_t)H * W);
    genc_tensor *y = genc_new4(c, x->shape[0], x->shape[1], Ho, Wo);
    float inv = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t p = 0; p < planes; p++)
        for (int h = 0; h < Ho; h++) {
            /* row by row of the window (contiguous reads), summing each output in the order
             * i, j as a single loop over its window would */
            float *yr = y->data + (p * Ho + h) * Wo;
            if (k == 2) { /* the common case, unrolled so it vectorises (same order of sums) */
                const float *s0 = x->data + (p * H + (int64_t)h * 2) * W, *s1 = s0 + W;
#pragma omp simd
                for (int w = 0; w < Wo; w++) yr[w] = (((s0[2 * w] + s0[2 * w + 1]) + s1[2 * w]) + s1[2 * w + 1]) * inv;
                continue;
            }
            for (int w = 0; w < Wo; w++) yr[w] = 0;
            for (int i = 0; i < k; i++) {
                const float *s = x->data + (p * H + (int64_t)h * k + i) * W;
                for (int w = 0; w < Wo; w++)
                    for (int j = 0; j < k; j++) yr[w] += s[w * k + j];
            }
            for (int w = 0; w < Wo; w++) yr[w] *= inv;
        }
    genc_node *nd = genc_record(c, avg_pool2d_backward, y, 1, &x);
    if (nd) nd->iarg[0] = k;
    return y;
}

/* ---------------------------------------------------------------- blocks: space-to-depth, patches */

/* An image x[B, C, H, W] cut into f×f blocks, and the same numbers in "blocked" order z:
 * pixel (c, f·h + i, f·w + j) of image b sits at
 *   z[b·(C·H·W) + (c·f·f + i·f + j)·zf + (h·(W/f) + w)·zs]
 * space-to-depth: zf = (H/f)·(W/f), zs = 1    (z is [B, C·f·f, H/f, W/f])
 * patchify:       zf = 1, zs = C·f·f         (z is [B, (H/f)·(W/f), C·f·f])
 * to_z = 1 moves x into z, to_z = 0 moves z into x; add = 1 accumulates instead of
 * overwriting (the backward passes). Each element moves once: no races between planes. */
typedef struct blocks {
    int B, C, H, W, f;
    int64_t zf, zs;
} blocks;

static void blocks_run(const blocks *g, float *x, float *z, int to_z, int add) {
    int f = g->f, Wf = g->W / f;
    int64_t plane = (int64_t)g->H * g->W;
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)g->B * g->C * plane > PAR_MIN)
    for (int b = 0; b < g->B; b++)
        for (int ch = 0; ch < g->C; ch++)
            for (int r = 0; r < g->H; r++) {
                float *xr = x + ((int64_t)b * g->C + ch) * plane + (int64_t)r * g->W;
                float *zr = z + b * (int64_t)g->C * plane + (int64_t)(ch * f + r % f) * f * g->zf +
                            (int64_t)(r / f) * Wf * g->zs;
                for (int w = 0; w < Wf; w++)
                    for (int j = 0; j < f; j++) {
                        float *zp = zr + j * g->zf + w * g->zs, *xp = xr + w * f + j;
                        if (to_z) *zp = add ? *zp + *xp : *xp;
                        else *xp = add ? *xp + *zp : *zp;
                    }
            }
}

/* One node type for all four ops: iarg holds the geometry and the direction of the
 * forward copy (iarg[7] = to_z); backward runs the opposite direction, accumulating. */
static void blocks_backward(genc_ctx *c, genc_node *nd) {
    const int64_t *a = nd->iarg;
    blocks g = {(int)a[0], (int)a[1], (int)a[2], (int)a[3], (int)a[4], a[5], a[6]};
    int to_z = (int)a[7];
    float *gin = genc_grad(c, nd->in[0]), *gout = nd->out->grad;
    if (to_z) blocks_run(&g, gin, gout, 0, 1); /* x was copied into z: dx += unblock(dz) */
    else blocks_run(&g, gout, gin, 1, 1);      /* z was copied into x: dz += block(dx) */
}

static genc_tensor *blocks_op(genc_ctx *c, genc_tensor *in, genc_tensor *out, const blocks *g, int to_z) {
    if (to_z) blocks_run(g, in->data, out->data, 1, 0);
    else blocks_run(g, out->data, in->data, 0, 0);
    genc_node *nd = genc_record(c, blocks_backward, out, 1, &in);
    if (nd) {
        int64_t a[8] = {g->B, g->C, g->H, g->W, g->f, g->zf, g->zs, to_z};
        memcpy(nd->iarg, a, sizeof a);
    }
    return out;
}

static blocks space_blocks(int B, int C, int H, int W, int f) {
    return (blocks){B, C, H, W, f, (int64_t)(H / f) * (W / f), 1};
}
static blocks patch_blocks(int B, int C, int H, int W, int p) {
    return (blocks){B, C, H, W, p, 1, (int64_t)C * p * p};
}

/* x[B, C, H, W] → [B, C·f·f, H/f, W/f], channel c·f·f + i·f + j = x[c, f·h + i, f·w + j]
 * (torch's pixel_unshuffle; Glow's squeeze) */
genc_tensor *genc_space_to_depth(genc_ctx *c, genc_tensor *x, int f) {
    check_image(x, f, "space_to_depth");
    int B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    blocks g = space_blocks(B, C, H, W, f);
    return blocks_op(c, x, genc_new4(c, B, C * f * f, H / f, W / f), &g, 1);
}

/* x[B, C·f·f, H, W] → [B, C, H·f, W·f], the inverse of space_to_depth (pixel_shuffle) */
genc_tensor *genc_depth_to_space(genc_ctx *c, genc_tensor *x, int f) {
    char s[64];
    GENC_ASSERT(x->ndim == 4 && f >= 1 && x->shape[1] % (f * f) == 0,
                "depth_to_space: input %s is not [B, C·%d·%d, H, W]", genc_shape_str(x, s, sizeof s), f, f);
    int B = x->shape[0], C = x->shape[1] / (f * f), H = x->shape[2] * f, W = x->shape[3] * f;
    blocks g = space_blocks(B, C, H, W, f);
    return blocks_op(c, x, genc_new4(c, B, C, H, W), &g, 0);
}

/* x[B, C, H, W] → [B, (H/p)·(W/p), C·p·p]: patch (h, w) in row-major order, feature
 * c·p·p + i·p + j = x[c, p·h + i, p·w + j], the order of a Conv2d weight [D, C, p, p]
 * flattened, so Linear(patchify(x)) = Conv2d(x, kernel = stride = p) (ViT, DiT). */
genc_tensor *genc_patchify(genc_ctx *c, genc_tensor *x, int p) {
    check_image(x, p, "patchify");
    int B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    blocks g = patch_blocks(B, C, H, W, p);
    return blocks_op(c, x, genc_new3(c, B, (H / p) * (W / p), C * p * p), &g, 1);
}

/* x[B, (H/p)·(W/p), C·p·p] → [B, C, H, W], the inverse of patchify */
genc_tensor *genc_unpatchify(genc_ctx *c, genc_tensor *x, int C, int H, int W, int p) {
    char s[64];
    GENC_ASSERT(x->ndim == 3 && p >= 1 && C >= 1 && H % p == 0 && W % p == 0 && H > 0 && W > 0 &&
                    x->shape[1] == (H / p) * (W / p) && x->shape[2] == C * p * p,
                "unpatchify: input %s is not [B, %d, %d] (C %d, H %d, W %d, patch %d)",
                genc_shape_str(x, s, sizeof s), H > 0 && W > 0 && p > 0 ? (H / p) * (W / p) : 0, C * p * p,
                C, H, W, p);
    int B = x->shape[0];
    blocks g = patch_blocks(B, C, H, W, p);
    return blocks_op(c, x, genc_new4(c, B, C, H, W), &g, 0);
}
