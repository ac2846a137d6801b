/* Parity with PyTorch (tests/parity/conv.py) for the image ops: conv2d (3×3, 1×1, 5×3,
 * stride 1, 2 and 4, pad 0, 1 and 2, with and without bias, H ≠ W, a Fashion-MNIST layer and
 * an image large enough to be cut into column tiles), nearest ×2 upsampling, average pooling,
 * GroupNorm (1, 2 and C groups; 4-D and 3-D; with and without affine parameters),
 * pixel_unshuffle / pixel_shuffle, and patches: a Linear on patchify(x) against F.conv2d with
 * kernel = stride = p, unpatchify against torch's 6-D reshape-permute, and
 * unpatchify(patchify(x)) == x bit for bit. Each case compares the output and the gradient of
 * every input under the fixture's upstream gradient dy (we backprop sum(out · dy)).
 *
 * The reference is float64, so the differences are genc's float32 rounding alone.
 * Tolerances (atol + rtol·|want| per element):
 * - Copies (upsample forward, space/depth, patches) are bit-exact, and so are their gradients
 *   when each input element receives exactly one upstream value (space/depth, patches).
 * - Sums of a few terms (upsample backward: 4; average pooling: k² ≤ 9) carry a few ulp of
 *   values ~1: 1e-6 absolute + 1e-6 relative.
 * - conv2d: every output and gradient is a float32 dot product. y and dx sum K = C·kh·kw ≤ 432
 *   terms with weights ~ N(0, 1/K): the sums are O(1) and their rounding a few 1e-7, so the
 *   tolerance of the other ops, 1e-5 + 1e-4 relative, holds with a wide margin (worst ratio
 *   printed with TU_VERBOSE=1: 0.2). dw and db sum n = B·Ho·Wo ≤ 9000 products of size ~1:
 *   the partial sums wander like √n, so the rounding error grows like n·2⁻²⁴ (a random walk
 *   of √n steps each of √n·2⁻²⁴). PyTorch's own float32 conv misses the float64 result by up
 *   to 2·n·2⁻²⁴ on these inputs, so dw and db get atol 4·n·2⁻²⁴ (1.5e-3 at n = 6272), plus
 *   1e-4 relative. A wrong tap, pad or stride moves values by O(1) and still fails.
 * - GroupNorm: statistics in double; outputs are O(1) and gradients sum over a group's
 *   ≤ 210 values: 1e-5 absolute + 1e-4 relative, the tolerance of the other norms. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static genc_st_file F;

static const char *key(const char *cs, const char *t) {
    static char nm[128];
    snprintf(nm, sizeof nm, "%s.%s", cs, t);
    return nm;
}

/* Fixture tensor <cs>.<t> as an arena tensor of its shape. */
static genc_tensor *load(genc_ctx *c, const char *cs, const char *t, int requires_grad) {
    const genc_st_tensor *st = genc_st_find(&F, key(cs, t));
    if (!st) {
        fprintf(stderr, "FAIL: fixture has no tensor %s.%s\n", cs, t);
        exit(1);
    }
    int shape[GENC_MAX_DIMS];
    for (int i = 0; i < st->ndim; i++) shape[i] = (int)st->shape[i];
    genc_tensor *x = genc_new(c, st->ndim, shape);
    float *d = tu_get(&F, key(cs, t), NULL);
    memcpy(x->data, d, (size_t)x->n * sizeof(float));
    free(d);
    x->requires_grad = requires_grad;
    return x;
}

/* The case's integer arguments (stored as I32, read exactly through the float converter). */
static void args(const char *cs, int *a, int n) {
    int64_t m;
    float *d = tu_get(&F, key(cs, "args"), &m);
    for (int i = 0; i < n; i++) a[i] = i < m ? (int)d[i] : 0;
    free(d);
}

static void expect(const char *cs, const char *t, const float *got, int64_t n, float atol, float rtol) {
    int64_t m;
    float *want = tu_get(&F, key(cs, t), &m);
    char what[160];
    snprintf(what, sizeof what, "%s %s", cs, t);
    CHECK(got && m == n, "%s: %lld elements (or no gradient), fixture has %lld", what, (long long)n, (long long)m);
    if (got && m == n && atol == 0 && rtol == 0)
        CHECK(memcmp(got, want, (size_t)n * sizeof(float)) == 0, "%s: bit-exact", what);
    else if (got && m == n)
        tu_close(what, got, want, n, atol, rtol);
    if (got && m == n && getenv("TU_VERBOSE")) {
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double r = fabs((double)got[i] - want[i]) / (atol + rtol * fabs((double)want[i]));
            worst = r > worst ? r : worst;
        }
        printf("  %-28s worst ratio %.3f\n", what, worst);
    }
    free(want);
}

/* Backprop sum(y · dy), then compare y and the gradient of every listed input. */
static void check_case(genc_ctx *c, const char *cs, genc_tensor *y, genc_tensor **in, const char **names,
                       int n_in, float atol, float rtol, float gatol, float grtol) {
    expect(cs, "out", y->data, y->n, atol, rtol);
    genc_tensor *dy = load(c, cs, "dy", 0);
    genc_backward(c, genc_sum(c, genc_mul(c, genc_reshape(c, y, dy->ndim, dy->shape), dy)));
    for (int i = 0; i < n_in; i++) {
        char g[32];
        snprintf(g, sizeof g, "g%s", names[i]);
        expect(cs, g, in[i]->grad, in[i]->n, gatol, grtol);
    }
}

static void conv(genc_ctx *c, const char *cs) {
    int a[3];
    args(cs, a, 3);
    genc_ctx_reset(c);
    genc_tensor *x = load(c, cs, "x", 1), *w = load(c, cs, "w", 1), *b = a[2] ? load(c, cs, "b", 1) : NULL;
    genc_tensor *y = genc_conv2d(c, x, w, b, a[0], a[1]);
    check_case(c, cs, y, &x, (const char *[]){"x"}, 1, 1e-5f, 1e-4f, 1e-5f, 1e-4f);
    /* dw and db sum over every output pixel of the batch: atol 4·n·2⁻²⁴ (see the top) */
    float atol = 4.0f * (float)(y->n / y->shape[1]) * 0x1p-24f;
    expect(cs, "gw", w->grad, w->n, atol, 1e-4f);
    if (b) expect(cs, "gb", b->grad, b->n, atol, 1e-4f);
}

static void group_norm(genc_ctx *c, const char *cs) {
    int a[3];
    args(cs, a, 3);
    genc_ctx_reset(c);
    genc_tensor *x = load(c, cs, "x", 1), *w = a[1] ? load(c, cs, "w", 1) : NULL, *b = a[2] ? load(c, cs, "b", 1) : NULL;
    genc_tensor *y = genc_group_norm(c, x, a[0], w, b, 1e-5f);
    genc_tensor *in[3] = {x, w, b};
    const char *names[3] = {"x", "w", "b"};
    check_case(c, cs, y, in, names, 1 + (w != NULL) + (b != NULL), 1e-5f, 1e-4f, 1e-5f, 1e-4f);
}

typedef genc_tensor *(*resample_fn)(genc_ctx *c, genc_tensor *x, int f);

static genc_tensor *upsample(genc_ctx *c, genc_tensor *x, int f) { return genc_upsample2x(c, x); }

/* A one-input op with one integer argument; tol = 0 asks for bit-exact outputs, gtol for gradients. */
static void resample(genc_ctx *c, const char *cs, resample_fn fn, float tol, float gtol) {
    int f;
    args(cs, &f, 1);
    genc_ctx_reset(c);
    genc_tensor *x = load(c, cs, "x", 1);
    check_case(c, cs, fn(c, x, f), &x, (const char *[]){"x"}, 1, tol, tol, gtol, gtol);
}

static void patches(genc_ctx *c) {
    int a[4]; /* p, C, H, W */
    args("patch_linear", a, 4);
    genc_ctx_reset(c);
    genc_tensor *x = load(c, "patch_linear", "x", 1), *w = load(c, "patch_linear", "w", 1),
                *b = load(c, "patch_linear", "b", 1);
    /* the conv weight [D, C, p, p] flattened is the Linear weight [D, C·p·p] */
    genc_tensor *wl = genc_reshape(c, w, 2, (int[]){w->shape[0], -1});
    genc_tensor *y = genc_linear(c, genc_patchify(c, x, a[0]), wl, b);
    /* dot products of C·p·p = 48 terms, dw over B·patches = 12: the conv tolerance */
    check_case(c, "patch_linear", y, (genc_tensor *[]){x, w, b}, (const char *[]){"x", "w", "b"}, 3, 1e-4f,
               1e-4f, 1e-4f, 1e-4f);

    args("unpatchify", a, 4);
    genc_ctx_reset(c);
    genc_tensor *z = load(c, "unpatchify", "x", 1);
    y = genc_unpatchify(c, z, a[1], a[2], a[3], a[0]);
    check_case(c, "unpatchify", y, &z, (const char *[]){"x"}, 1, 0, 0, 0, 0);

    /* the round trip is a pure copy both ways */
    genc_ctx_reset(c);
    x = load(c, "patch_linear", "x", 0);
    genc_tensor *back = genc_unpatchify(c, genc_patchify(c, x, a[0]), a[1], a[2], a[3], a[0]);
    CHECK(genc_same_shape(back, x) && memcmp(back->data, x->data, (size_t)x->n * sizeof(float)) == 0,
          "unpatchify(patchify(x)) == x bit for bit");
    genc_tensor *d = genc_depth_to_space(c, genc_space_to_depth(c, x, 2), 2);
    CHECK(genc_same_shape(d, x) && memcmp(d->data, x->data, (size_t)x->n * sizeof(float)) == 0,
          "depth_to_space(space_to_depth(x)) == x bit for bit");
}

int main(void) {
    if (tu_fixture("conv.py", "conv_fixture.safetensors", &F) != GENC_OK) return tu_finish();
    genc_ctx *c = genc_ctx_new(0);
    const char *convs[] = {"conv3x3", "conv3x3_s2", "conv3x3_p0", "conv1x1", "conv1x1_s2",
                           "conv5x3_s2p2", "conv_k4s4", "conv_fmnist", "conv5x5_p2",
                           "conv_direct_groups", "conv_tiled"};
    for (size_t i = 0; i < sizeof convs / sizeof *convs; i++) conv(c, convs[i]);
    resample(c, "upsample2x", upsample, 0, 1e-6f);
    resample(c, "avgpool2", genc_avg_pool2d, 1e-6f, 1e-6f);
    resample(c, "avgpool3", genc_avg_pool2d, 1e-6f, 1e-6f);
    resample(c, "s2d2", genc_space_to_depth, 0, 0);
    resample(c, "s2d3", genc_space_to_depth, 0, 0);
    resample(c, "d2s2", genc_depth_to_space, 0, 0);
    resample(c, "d2s3", genc_depth_to_space, 0, 0);
    const char *gns[] = {"groupnorm_g1", "groupnorm_g2", "groupnorm_g6", "groupnorm_1d_w", "groupnorm_1d_plain"};
    for (size_t i = 0; i < sizeof gns / sizeof *gns; i++) group_norm(c, gns[i]);
    patches(c);
    genc_ctx_free(c);
    genc_st_free(&F);
    return tu_finish();
}
