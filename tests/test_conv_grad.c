/* Gradient checks for the image ops (conv2d, upsample2x, avg_pool2d, group_norm,
 * space_to_depth / depth_to_space, patchify / unpatchify) against central finite differences,
 * and what a gradient check cannot see: results that do not depend on the thread count, and
 * conv2d's scratch memory staying per image.
 *
 * Tolerances are those of test_ops_grad.c, for the same reasons: with eps = 1e-2 the float
 * loss's rounding costs at most ulp(loss)/(2·eps) ≤ 2e-4 (|loss| < 40 here: conv weights are
 * scaled by 1/√fan-in), well under atol 1e-3 + rtol 1e-3. Every op but GroupNorm is linear in each input, so central differences
 * have no truncation error at all; GroupNorm's third derivatives are O(rstd³) and its inputs
 * have std ~1, so the eps²·f'''/6 truncation stays near 1e-5. Each check also requires some
 * gradient entry above 0.1, so that none passes vacuously. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define EPS 1e-2f
#define ATOL 1e-3f
#define RTOL 1e-3f

static genc_ctx *g_ctx; /* holds the inputs of every check */

#define RND(seed, ...) TU_RND(g_ctx, seed, __VA_ARGS__)

/* The largest |gradient| each input gets from one backward of fn must exceed 0.1, then the
 * finite-difference check. */
static void gc(const char *name, tu_fn fn, void *user, genc_tensor **in, int n_in) {
    genc_ctx *c = genc_ctx_new(1 << 20);
    genc_tensor *tmp[4] = {0};
    for (int i = 0; i < n_in; i++)
        if (in[i]) {
            tmp[i] = genc_new(c, in[i]->ndim, in[i]->shape);
            memcpy(tmp[i]->data, in[i]->data, (size_t)in[i]->n * sizeof(float));
            tmp[i]->requires_grad = 1;
        }
    genc_backward(c, fn(c, tmp, user));
    for (int i = 0; i < n_in; i++) {
        float mx = 0;
        for (int64_t j = 0; in[i] && tmp[i]->grad && j < in[i]->n; j++) mx = fmaxf(mx, fabsf(tmp[i]->grad[j]));
        CHECK(!in[i] || mx > 0.1f, "%s: input %d gets a negligible gradient (max %g)", name, i, mx);
    }
    genc_ctx_free(c);
    tu_gradcheck(name, fn, user, in, n_in, EPS, ATOL, RTOL);
}

/* ---------------------------------------------------------------- conv2d */

typedef struct conv_args {
    int stride, pad;
} conv_args;

static genc_tensor *f_conv(genc_ctx *c, genc_tensor **in, void *u) {
    const conv_args *a = u;
    return tu_project(c, genc_conv2d(c, in[0], in[1], in[2], a->stride, a->pad), 1);
}

/* conv weight [O, C, kh, kw] ~ N(0, 1/(C·kh·kw)): outputs, and so the losses, stay O(10) */
static genc_tensor *weight(uint64_t seed, int O, int C, int kh, int kw) {
    genc_tensor *w = RND(seed, O, C, kh, kw);
    for (int64_t i = 0; i < w->n; i++) w->data[i] /= sqrtf((float)(C * kh * kw));
    return w;
}

static void test_conv(void) {
    static const conv_args s1p1 = {1, 1}, s2p1 = {2, 1}, s1p0 = {1, 0}, s2p0 = {2, 0}, s3p2 = {3, 2};
    gc("conv 3x3 s1 p1, H != W", f_conv, (void *)&s1p1,
       (genc_tensor *[]){RND(1, 2, 3, 5, 4), weight(2, 4, 3, 3, 3), RND(3, 4)}, 3);
    gc("conv 3x3 s2 p1", f_conv, (void *)&s2p1, (genc_tensor *[]){RND(4, 2, 2, 7, 6), weight(5, 3, 2, 3, 3), RND(6, 3)}, 3);
    gc("conv 3x3 s1 p0 no bias", f_conv, (void *)&s1p0, (genc_tensor *[]){RND(7, 1, 3, 6, 5), weight(8, 2, 3, 3, 3), NULL}, 3);
    gc("conv 1x1", f_conv, (void *)&s1p0, (genc_tensor *[]){RND(9, 2, 4, 3, 5), weight(10, 3, 4, 1, 1), RND(11, 3)}, 3);
    gc("conv 1x1 s2", f_conv, (void *)&s2p0, (genc_tensor *[]){RND(12, 1, 4, 5, 4), weight(13, 3, 4, 1, 1), NULL}, 3);
    gc("conv 2x3 s3 p2", f_conv, (void *)&s3p2, (genc_tensor *[]){RND(14, 2, 2, 6, 7), weight(15, 3, 2, 2, 3), RND(16, 3)}, 3);
    /* 40 images: more than the 32 weight-gradient chunks, so some chunks sum two images */
    gc("conv 40 images", f_conv, (void *)&s1p1, (genc_tensor *[]){RND(17, 40, 1, 3, 3), weight(18, 2, 1, 3, 3), RND(19, 2)}, 3);
    /* the direct kernel (16+ input channels, 3×3 or 5×5 "same"): 6 output channels, not a
     * multiple of its 4-channel tile */
    static const conv_args s1p2 = {1, 2};
    gc("conv direct 3x3", f_conv, (void *)&s1p1, (genc_tensor *[]){RND(20, 2, 16, 3, 4), weight(21, 6, 16, 3, 3), RND(22, 6)}, 3);
    gc("conv direct 5x5", f_conv, (void *)&s1p2, (genc_tensor *[]){RND(23, 1, 16, 4, 3), weight(24, 3, 16, 5, 5), NULL}, 3);
}

/* ---------------------------------------------------------------- resampling and layout */

typedef genc_tensor *(*int_op)(genc_ctx *c, genc_tensor *x, int f);
typedef struct op_arg {
    int_op fn;
    int f;
} op_arg;

static genc_tensor *f_int_op(genc_ctx *c, genc_tensor **in, void *u) {
    const op_arg *a = u;
    return tu_project(c, a->fn(c, in[0], a->f), 2);
}
static genc_tensor *upsample(genc_ctx *c, genc_tensor *x, int f) { return genc_upsample2x(c, x); }
static genc_tensor *unpatchify_3x4x6(genc_ctx *c, genc_tensor *x, int p) {
    return genc_unpatchify(c, x, 3, 4, 6, p);
}

static void test_resample(void) {
    struct { const char *name; op_arg a; genc_tensor *x; } cases[] = {
        {"upsample2x", {upsample, 2}, RND(20, 2, 3, 3, 4)},
        {"avg_pool2d k=2", {genc_avg_pool2d, 2}, RND(21, 2, 2, 4, 6)},
        {"avg_pool2d k=3", {genc_avg_pool2d, 3}, RND(22, 2, 2, 6, 9)},
        {"space_to_depth f=2", {genc_space_to_depth, 2}, RND(23, 2, 3, 4, 6)},
        {"space_to_depth f=3", {genc_space_to_depth, 3}, RND(24, 1, 2, 3, 6)},
        {"depth_to_space f=2", {genc_depth_to_space, 2}, RND(25, 2, 8, 2, 3)},
        {"patchify p=2", {genc_patchify, 2}, RND(26, 2, 3, 4, 6)},
        {"unpatchify p=2", {unpatchify_3x4x6, 2}, RND(27, 2, 6, 12)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        gc(cases[i].name, f_int_op, &cases[i].a, &cases[i].x, 1);
}

/* ---------------------------------------------------------------- GroupNorm */

static genc_tensor *f_group_norm(genc_ctx *c, genc_tensor **in, void *u) {
    return tu_project(c, genc_group_norm(c, in[0], *(const int *)u, in[1], in[2], 1e-5f), 3);
}

static void test_group_norm(void) {
    genc_tensor *x = RND(30, 2, 4, 3, 5), *w = RND(31, 4), *b = RND(32, 4);
    for (int64_t i = 0; i < x->n; i++) x->data[i] = 2.0f * x->data[i] + 0.5f; /* nonzero mean */
    for (int64_t i = 0; i < w->n; i++) w->data[i] += 1.0f;
    static const int g1 = 1, g2 = 2, g4 = 4, g3 = 3;
    gc("group_norm groups=1", f_group_norm, (void *)&g1, (genc_tensor *[]){x, w, b}, 3);
    gc("group_norm groups=2", f_group_norm, (void *)&g2, (genc_tensor *[]){x, w, b}, 3);
    gc("group_norm groups=C", f_group_norm, (void *)&g4, (genc_tensor *[]){x, w, b}, 3);
    genc_tensor *x3 = RND(33, 2, 6, 5), *w3 = RND(34, 6);
    gc("group_norm [B, C, L] weight only", f_group_norm, (void *)&g3, (genc_tensor *[]){x3, w3, NULL}, 3);
    gc("group_norm [B, C, L] no affine", f_group_norm, (void *)&g3, (genc_tensor *[]){x3, NULL, NULL}, 3);
}

/* ---------------------------------------------------------------- threads and memory */

/* Forward and backward of conv2d (or GroupNorm when groups > 0) on fixed inputs with n
 * threads; returns y, dx, dw, db concatenated (malloc'd, *len floats). */
static float *run_threads(int threads, int groups, const int *xs, const int *ws, int64_t *len) {
    genc_set_threads(threads);
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *x = genc_new(c, 4, xs);
    genc_tensor *w = groups ? genc_new1(c, xs[1]) : genc_new(c, 4, ws);
    genc_tensor *b = genc_new1(c, groups ? xs[1] : ws[0]);
    genc_tensor *in[3] = {x, w, b};
    for (int i = 0; i < 3; i++) {
        tu_randn(in[i]->data, in[i]->n, 40 + i, 1.0f);
        in[i]->requires_grad = 1;
    }
    genc_tensor *y = groups ? genc_group_norm(c, x, groups, w, b, 1e-5f) : genc_conv2d(c, x, w, b, 1, 1);
    genc_backward(c, tu_project(c, y, 4));
    *len = y->n + x->n + w->n + b->n;
    float *out = malloc((size_t)*len * sizeof(float)), *o = out;
    const float *parts[4] = {y->data, x->grad, w->grad, b->grad};
    int64_t sizes[4] = {y->n, x->n, w->n, b->n};
    for (int i = 0; i < 4; i++) {
        memcpy(o, parts[i], (size_t)sizes[i] * sizeof(float));
        o += sizes[i];
    }
    genc_ctx_free(c);
    return out;
}

static void same_for_threads(const char *what, int groups, const int *xs, const int *ws) {
    int64_t n1, n2;
    float *a = run_threads(1, groups, xs, ws, &n1), *b = run_threads(2, groups, xs, ws, &n2);
    CHECK(n1 == n2 && memcmp(a, b, (size_t)n1 * sizeof(float)) == 0, "%s: 1 and 2 threads agree bit for bit", what);
    free(a);
    free(b);
}

static void test_threads_and_memory(void) {
    /* batch-parallel path (one image per thread) and its weight-gradient chunks */
    same_for_threads("conv2d 40 images", 0, (int[]){40, 8, 12, 10}, (int[]){16, 8, 3, 3});
    /* the direct kernel: 40 images in groups of 14, and one group (its channel blocks split
     * over the threads) */
    same_for_threads("conv2d direct 40 images", 0, (int[]){40, 16, 12, 10}, (int[]){18, 16, 3, 3});
    same_for_threads("conv2d direct 1 image", 0, (int[]){1, 16, 9, 9}, (int[]){18, 16, 5, 5});
    /* one image: images in sequence, sgemm multithreaded */
    same_for_threads("conv2d 1 image", 0, (int[]){1, 32, 32, 32}, (int[]){32, 32, 3, 3});
    same_for_threads("group_norm", 8, (int[]){8, 32, 16, 16}, NULL);

    /* conv2d's forward scratch is one image's columns and padded copy per thread, never the
     * whole batch's: the arena grows by y and T·(K·Ho·Wo + C·(H + 2)·(W + 2)) floats (plus
     * alignment), here 1/64 of an im2col of the batch */
    genc_set_threads(2);
    genc_ctx *c = genc_ctx_new(0);
    int B = 64, C = 16, H = 28, O = 32;
    genc_tensor *x = genc_new4(c, B, C, H, H), *w = genc_new4(c, O, C, 3, 3);
    tu_randn(x->data, x->n, 50, 1.0f);
    tu_randn(w->data, w->n, 51, 1.0f);
    size_t before = genc_arena_used(c->arena);
    genc_tensor *y = genc_conv2d(c, x, w, NULL, 1, 1);
    size_t grown = genc_arena_used(c->arena) - before;
    size_t col = (size_t)C * (9 * H * H + (H + 2) * (H + 2)) * sizeof(float);
    size_t bound = (size_t)y->n * sizeof(float) + (size_t)genc_get_threads() * col + 1024;
    CHECK(grown <= bound, "conv2d forward used %zu bytes of scratch, bound %zu", grown, bound);
    genc_ctx_free(c);
    genc_set_threads(1);
}

int main(void) {
    g_ctx = genc_ctx_new(1 << 22);
    test_conv();
    test_resample();
    test_group_norm();
    test_threads_and_memory();
    genc_ctx_free(g_ctx);
    return tu_finish();
}
