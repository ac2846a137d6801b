/* Parity with PyTorch (tests/parity/ops.py): every op's output and input gradients on fixed
 * inputs, with the upstream gradient dy saved in the fixture (we backprop sum(out · dy), whose
 * gradient with respect to out is exactly dy).
 *
 * Tolerances: 1e-5 absolute + 1e-4 relative everywhere. Reductions (norm statistics, softmax
 * sums, dot products, gradients summed over rows) add in a different order than PyTorch --
 * double accumulators, blocked sgemm, per-chunk partial sums -- but with the inputs here
 * (|x| up to ~8, sums of up to 240 terms) that costs a few ulp, and the worst case measured
 * uses a quarter of the tolerance (layernorm's bias gradient, 240 rows of terms ~3).
 * Copies (embedding forward, permute, broadcast mul) must be bit-exact. Cross-entropy
 * gradients are small (≤ 1/160 per element) so their absolute tolerance is scaled down with
 * them; run with TU_VERBOSE=1 to print how much of each tolerance is used. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static genc_st_file F;
static char nm[128];

static const char *key(const char *cs, const char *t) {
    snprintf(nm, sizeof nm, "%s.%s", cs, t);
    return nm;
}

/* Fixture tensor <cs>.<t> as an arena tensor of the same shape. */
static genc_tensor *load(genc_ctx *c, const char *cs, const char *t, int requires_grad) {
    const genc_st_tensor *st = genc_st_find(&F, key(cs, t));
    if (!st) {
        fprintf(stderr, "FAIL: fixture has no tensor %s\n", nm);
        exit(1);
    }
    int shape[GENC_MAX_DIMS];
    for (int i = 0; i < st->ndim; i++) shape[i] = (int)st->shape[i];
    genc_tensor *x = genc_new(c, st->ndim, shape);
    float *d = tu_get(&F, nm, NULL);
    memcpy(x->data, d, (size_t)x->n * sizeof(float));
    free(d);
    x->requires_grad = requires_grad;
    return x;
}

/* Integer ids stored as I32 in the fixture (read through the float converter: exact). */
static int32_t *load_ids(genc_ctx *c, const char *cs, const char *t, int64_t *n) {
    float *d = tu_get(&F, key(cs, t), n);
    int32_t *ids = genc_scratch(c, (size_t)*n * sizeof(int32_t));
    for (int64_t i = 0; i < *n; i++) ids[i] = (int32_t)d[i];
    free(d);
    return ids;
}

static void expect(const char *cs, const char *t, const float *got, int64_t n, float atol, float rtol) {
    int64_t m;
    float *want = tu_get(&F, key(cs, t), &m);
    char what[160];
    snprintf(what, sizeof what, "%s %s", cs, t);
    CHECK(m == n, "%s: %lld elements, fixture has %lld", what, (long long)n, (long long)m);
    if (m == n && atol == 0 && rtol == 0)
        CHECK(memcmp(got, want, (size_t)n * sizeof(float)) == 0, "%s: bit-exact", what);
    else if (m == n)
        tu_close(what, got, want, n, atol, rtol);
    if (m == n && getenv("TU_VERBOSE")) { /* how much of the tolerance is used */
        double worst = 0, wd = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - want[i]), r = d / (atol + rtol * fabs((double)want[i]));
            if (r > worst) worst = r;
            if (d > wd) wd = d;
        }
        printf("  %-24s worst ratio %.3f  max abs diff %.3g\n", what, worst, wd);
    }
    free(want);
}

/* backprop sum(out · dy) */
static void backprop(genc_ctx *c, const char *cs, genc_tensor *out) {
    genc_tensor *dy = load(c, cs, "dy", 0);
    genc_backward(c, genc_sum(c, genc_mul(c, out, dy)));
}

static void expect_grad(const char *cs, const char *t, genc_tensor *x, float atol, float rtol) {
    CHECK(x->grad != NULL, "%s %s: no gradient", cs, t);
    if (x->grad) expect(cs, t, x->grad, x->n, atol, rtol);
}

/* ---------------------------------------------------------------- cases */

typedef genc_tensor *(*unary_fn)(genc_ctx *, genc_tensor *);

static void unary(genc_ctx *c, const char *cs, unary_fn fn, float atol, float rtol) {
    genc_ctx_reset(c);
    genc_tensor *x = load(c, cs, "x", 1), *y = fn(c, x);
    expect(cs, "out", y->data, y->n, atol, rtol);
    backprop(c, cs, y);
    expect_grad(cs, "gx", x, atol, rtol);
}

static void norms(genc_ctx *c) {
    const float atol = 1e-5f, rtol = 1e-4f;
    genc_ctx_reset(c);
    genc_tensor *x = load(c, "layernorm", "x", 1), *w = load(c, "layernorm", "w", 1),
                *b = load(c, "layernorm", "b", 1);
    genc_tensor *y = genc_layernorm(c, x, w, b, 1e-5f);
    expect("layernorm", "out", y->data, y->n, atol, rtol);
    backprop(c, "layernorm", y);
    expect_grad("layernorm", "gx", x, atol, rtol);
    expect_grad("layernorm", "gw", w, atol, rtol);
    expect_grad("layernorm", "gb", b, atol, rtol);

    genc_ctx_reset(c);
    x = load(c, "layernorm_nobias", "x", 1);
    w = load(c, "layernorm_nobias", "w", 1);
    y = genc_layernorm(c, x, w, NULL, 1e-5f);
    expect("layernorm_nobias", "out", y->data, y->n, atol, rtol);
    backprop(c, "layernorm_nobias", y);
    expect_grad("layernorm_nobias", "gx", x, atol, rtol);
    expect_grad("layernorm_nobias", "gw", w, atol, rtol);

    genc_ctx_reset(c);
    x = load(c, "rmsnorm", "x", 1);
    w = load(c, "rmsnorm", "w", 1);
    y = genc_rmsnorm(c, x, w, 1e-5f);
    expect("rmsnorm", "out", y->data, y->n, atol, rtol);
    backprop(c, "rmsnorm", y);
    expect_grad("rmsnorm", "gx", x, atol, rtol);
    expect_grad("rmsnorm", "gw", w, atol, rtol);
}

static void swiglu(genc_ctx *c) {
    genc_ctx_reset(c);
    genc_tensor *x = load(c, "swiglu", "x", 1), *y = genc_swiglu(c, x);
    expect("swiglu", "out", y->data, y->n, 1e-5f, 1e-4f);
    backprop(c, "swiglu", y);
    expect_grad("swiglu", "gx", x, 1e-5f, 1e-4f);
}

static void losses(genc_ctx *c) {
    unary(c, "softmax", genc_softmax, 1e-5f, 1e-4f);
    unary(c, "log_softmax", genc_log_softmax, 1e-5f, 1e-4f);

    int64_t R;
    genc_ctx_reset(c);
    int32_t *tg = load_ids(c, "ce", "targets", &R);
    genc_tensor *lg = load(c, "ce", "logits", 1);
    genc_tensor *loss = genc_cross_entropy(c, lg, tg, -100, 0.1f, NULL, 0);
    expect("ce", "out", loss->data, 1, 1e-5f, 1e-5f);
    backprop(c, "ce", loss);
    /* the gradients are p/160 ≤ 6e-3: atol scaled down with them, or the check is vacuous */
    expect_grad("ce", "glogits", lg, 1e-7f, 1e-4f);

    genc_ctx_reset(c);
    tg = load_ids(c, "ce", "targets", &R);
    lg = load(c, "ce_w", "logits", 1);
    float *w = tu_get(&F, "ce_w.weights", NULL);
    loss = genc_cross_entropy(c, lg, tg, -100, 0.1f, w, 7.5f);
    expect("ce_w", "out", loss->data, 1, 1e-5f, 1e-5f);
    backprop(c, "ce_w", loss);
    expect_grad("ce_w", "glogits", lg, 1e-6f, 1e-4f); /* gradients ≤ w/7.5 ≈ 0.25 */

    float *nll = malloc((size_t)R * sizeof(float));
    genc_nll_rows(lg, tg, nll);
    expect("nll", "out", nll, R, 1e-5f, 1e-5f);
    free(nll);
    free(w);
}

static void linalg(genc_ctx *c) {
    const char *cases[2] = {"linear", "linear_nobias"};
    for (int k = 0; k < 2; k++) {
        genc_ctx_reset(c);
        genc_tensor *x = load(c, cases[k], "x", 1), *W = load(c, cases[k], "W", 1);
        genc_tensor *b = k == 0 ? load(c, cases[k], "b", 1) : NULL;
        genc_tensor *y = genc_linear(c, x, W, b);
        expect(cases[k], "out", y->data, y->n, 1e-5f, 1e-4f);
        backprop(c, cases[k], y);
        expect_grad(cases[k], "gx", x, 1e-5f, 1e-4f);
        expect_grad(cases[k], "gW", W, 1e-5f, 1e-4f);
        if (b) expect_grad(cases[k], "gb", b, 1e-5f, 1e-4f);
    }
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            char cs[16];
            snprintf(cs, sizeof cs, "matmul%d%d", ta, tb);
            genc_ctx_reset(c);
            genc_tensor *a = load(c, cs, "a", 1), *b = load(c, cs, "b", 1);
            genc_tensor *y = genc_matmul(c, a, b, ta, tb);
            expect(cs, "out", y->data, y->n, 1e-5f, 1e-4f);
            backprop(c, cs, y);
            expect_grad(cs, "ga", a, 1e-5f, 1e-4f);
            expect_grad(cs, "gb", b, 1e-5f, 1e-4f);
        }
}

static void layout(genc_ctx *c) {
    int64_t n;
    genc_ctx_reset(c);
    int32_t *ids = load_ids(c, "embedding", "ids", &n);
    genc_tensor *tab = load(c, "embedding", "table", 1);
    genc_tensor *y = genc_embedding(c, tab, ids, (int)n);
    expect("embedding", "out", y->data, y->n, 0, 0); /* a copy: exact */
    backprop(c, "embedding", y);
    expect_grad("embedding", "gtable", tab, 1e-5f, 1e-4f); /* sums of repeated rows */

    genc_ctx_reset(c);
    genc_tensor *x = load(c, "permute", "x", 1);
    y = genc_permute(c, x, (const int[]){0, 2, 1, 3});
    expect("permute", "out", y->data, y->n, 0, 0);
    backprop(c, "permute", y);
    expect_grad("permute", "gx", x, 0, 0);

    genc_ctx_reset(c);
    genc_tensor *a = load(c, "mul_bcast", "a", 1), *b = load(c, "mul_bcast", "b", 1);
    y = genc_mul(c, a, b);
    expect("mul_bcast", "out", y->data, y->n, 0, 0);
    backprop(c, "mul_bcast", y);
    expect_grad("mul_bcast", "ga", a, 0, 0);
    expect_grad("mul_bcast", "gb", b, 1e-5f, 1e-4f); /* summed over 4 broadcast rows */
}

int main(void) {
    if (tu_fixture("ops.py", "ops_fixture.safetensors", &F) != GENC_OK) return tu_finish();
    genc_ctx *c = genc_ctx_new(0);
    unary(c, "gelu", genc_gelu, 1e-5f, 1e-4f);
    unary(c, "gelu_tanh", genc_gelu_tanh, 1e-5f, 1e-4f);
    unary(c, "quickgelu", genc_quickgelu, 1e-5f, 1e-4f);
    unary(c, "silu", genc_silu, 1e-5f, 1e-4f);
    unary(c, "sigmoid", genc_sigmoid, 1e-5f, 1e-4f);
    unary(c, "tanh", genc_tanh, 1e-5f, 1e-4f);
    unary(c, "exp", genc_exp, 1e-5f, 1e-4f);
    unary(c, "log", genc_log, 1e-5f, 1e-4f);
    unary(c, "elu1", genc_elu1, 1e-5f, 1e-4f);
    swiglu(c);
    norms(c);
    losses(c);
    linalg(c);
    layout(c);
    genc_ctx_free(c);
    genc_st_free(&F);
    return tu_finish();
}
