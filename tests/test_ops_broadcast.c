/* Parity with PyTorch (tests/parity/ops_broadcast.py) for the broadcasting binary ops, the axis
 * reductions, the unary ops added with them, l2 normalisation and mse: the output (shape and
 * values) and the gradient of every input under the fixture's upstream gradient dy (we
 * backprop sum(out · dy)).
 *
 * Tolerances (atol + rtol·|want| per element; TU_VERBOSE=1 prints how much of each is used):
 * - Exact (−0 and +0 count as equal): the outputs of add/sub/mul/div, max, abs, square, relu,
 *   leaky relu -- one IEEE operation or a copy per element, as in PyTorch -- and every
 *   gradient that involves no sum: g, −g, g·b, g·a, g/b, max's routed g, g·sign x, g·2x,
 *   g or g·slope.
 * - Sums of N terms (the gradient of a broadcast operand, N = output size / operand size;
 *   sum and mean over an axis of length N): genc adds in double, so its result is the float
 *   rounding of the exact sum; PyTorch adds in float32, with an error that grows like N·2⁻²⁴
 *   for terms of size ~1 (√N roundings of partial sums of size ~√N). atol = 4·N·2⁻²⁴, plus
 *   rtol 1e-6 for div's terms g·a/b², up to 4 times larger. Worst use: 32% (div_big.gb).
 * - The same value by a different rounding order (PyTorch's −g·a/b² against genc's −g·(a/b)/b,
 *   g/(2y) against g·(0.5/y) for sqrt, mean's g/N against g·(1/N), mse): a few ulp, so rtol
 *   1e-6 (~16 ulp). Worst use: 18% (mse).
 * - softplus and log σ: genc's vectorised exp and log1p series are good to a few ulp: atol 1e-7
 *   + rtol 1e-6. Worst use: 20%.
 * - logsumexp: the output, up to |y| ≈ 150, is rounded on both sides (ulp 1.5e-5): rtol 1e-6
 *   (~8 ulp) + atol 1e-6 near 0. The gradient e^(x − y) turns y's absolute rounding into a
 *   relative error up to |y|·2⁻²³ ≈ 2e-5 on each side: rtol 1e-4. Worst use: 11% and 7%.
 * - l2 normalisation: the norm is a double sum here and a float one in PyTorch: rtol 1e-6 on
 *   the output; the gradient (g − y(g·y))/d partly cancels in the projection: rtol 1e-5 with
 *   atol 1e-6. Worst use: 13% and 3%. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static genc_st_file F;

static const char *key(const char *cs, const char *t) {
    static char nm[128];
    snprintf(nm, sizeof nm, "%s.%s", cs, t);
    return nm;
}

static genc_tensor *load(genc_ctx *c, const char *cs, const char *t, int requires_grad) {
    return tu_load(c, &F, key(cs, t), requires_grad);
}

static void expect(const char *cs, const char *t, const genc_tensor *x, const float *v, float atol, float rtol) {
    tu_expect(&F, key(cs, t), x, v, atol, rtol);
}

/* backprop sum(out · dy) with dy from the fixture */
static void backprop(genc_ctx *c, const char *cs, genc_tensor *out) {
    genc_backward(c, genc_sum(c, genc_mul(c, out, load(c, cs, "dy", 0))));
}

/* ---------------------------------------------------------------- binary ops */

typedef genc_tensor *(*binary_fn)(genc_ctx *, genc_tensor *, genc_tensor *);
static const char *PAIRS[] = {"same", "trail", "bscalar", "ascalar", "bchw", "btd", "both",
                              "both4", "rank", "mid", "big", "bigc", "bigboth"};
static const char *BIN_NAMES[] = {"add", "sub", "mul", "div"};
static const binary_fn BIN_FNS[] = {genc_add, genc_sub, genc_mul, genc_div};

/* Absolute tolerance of a sum of `terms` values of size ~1 (see the header); 0 for no sum. */
static float sum_atol(int64_t terms) { return terms > 1 ? 4.0f * (float)terms * 0x1p-24f : 0.f; }

static void binary(genc_ctx *c) {
    for (size_t p = 0; p < sizeof PAIRS / sizeof *PAIRS; p++)
        for (int k = 0; k < 4; k++) {
            char cs[64];
            snprintf(cs, sizeof cs, "%s_%s", BIN_NAMES[k], PAIRS[p]);
            genc_ctx_reset(c);
            genc_tensor *a = load(c, PAIRS[p], "a", 1), *b = load(c, PAIRS[p], "b", 1);
            genc_tensor *y = BIN_FNS[k](c, a, b);
            expect(cs, "out", y, y->data, 0, 0); /* one IEEE operation per element */
            backprop(c, PAIRS[p], y); /* the pair's dy, shared by its four ops */
            int64_t ta = y->n / a->n, tb = y->n / b->n;
            /* unsummed: g, −g, g·b, g·a, g/b are exact; −g·a/b² (PyTorch) vs −g·(a/b)/b (genc)
             * differ in rounding only */
            float ra = ta > 1 ? 1e-6f : 0.f, rb = tb > 1 || k == 3 ? 1e-6f : 0.f;
            expect(cs, "ga", a, a->grad, sum_atol(ta) + (ra > 0) * 1e-12f, ra);
            expect(cs, "gb", b, b->grad, sum_atol(tb) + (rb > 0) * 1e-12f, rb);
        }
}

/* ---------------------------------------------------------------- reductions */

typedef genc_tensor *(*reduce_fn)(genc_ctx *, genc_tensor *, int, int);
static const struct {
    const char *cs;
    int axis, keepdim;
} RED[] = {{"r4a0", 0, 1},      {"r4a1", 1, 0},   {"r4a2", -2, 1}, {"r4a3", -1, 0},
           {"r2last", -1, 1},   {"r2first", 0, 0}, {"r1", 0, 0},   {"rbiglast", 1, 0},
           {"rbigfirst", 0, 1}};

static void reductions(genc_ctx *c) {
    const char *names[4] = {"sum", "mean", "max", "lse"}, *inputs[4] = {"x", "x", "xm", "xl"};
    const reduce_fn fns[4] = {genc_sum_axis, genc_mean_axis, genc_max_axis, genc_logsumexp_axis};
    for (size_t r = 0; r < sizeof RED / sizeof *RED; r++)
        for (int k = 0; k < 4; k++) {
            char cs[64];
            snprintf(cs, sizeof cs, "%s_%s", names[k], RED[r].cs);
            genc_ctx_reset(c);
            genc_tensor *x = load(c, RED[r].cs, inputs[k], 1);
            genc_tensor *y = fns[k](c, x, RED[r].axis, RED[r].keepdim);
            int64_t L = x->n / y->n;
            if (k == 0 || k == 1) {
                expect(cs, "out", y, y->data, sum_atol(L), 1e-6f);
                backprop(c, cs, y);
                expect(cs, "gx", x, x->grad, 1e-12f, k == 0 ? 0.f : 1e-6f);
            } else if (k == 2) {
                expect(cs, "out", y, y->data, 0, 0);
                backprop(c, cs, y);
                expect(cs, "gx", x, x->grad, 0, 0);
            } else {
                expect(cs, "out", y, y->data, 1e-6f, 1e-6f);
                backprop(c, cs, y);
                expect(cs, "gx", x, x->grad, 1e-6f, 1e-4f);
            }
        }
}

/* ---------------------------------------------------------------- unary, l2 normalize, mse */

typedef genc_tensor *(*unary_fn)(genc_ctx *, genc_tensor *);
static genc_tensor *leaky01(genc_ctx *c, genc_tensor *x) { return genc_leaky_relu(c, x, 0.1f); }

static void unary(genc_ctx *c) {
    static const struct {
        const char *cs;
        unary_fn fn;
        float atol, rtol;
    } U[] = {{"sqrt", genc_sqrt, 1e-7f, 1e-6f},   {"rsqrt", genc_rsqrt, 1e-7f, 1e-6f},
             {"abs", genc_abs, 0, 0},             {"square", genc_square, 0, 0},
             {"relu", genc_relu, 0, 0},           {"leaky_relu", leaky01, 0, 0},
             {"softplus", genc_softplus, 1e-7f, 1e-6f}, {"log_sigmoid", genc_log_sigmoid, 1e-7f, 1e-6f}};
    for (size_t i = 0; i < sizeof U / sizeof *U; i++) {
        genc_ctx_reset(c);
        genc_tensor *x = load(c, U[i].cs, "x", 1), *y = U[i].fn(c, x);
        expect(U[i].cs, "out", y, y->data, U[i].atol, U[i].rtol);
        backprop(c, U[i].cs, y);
        expect(U[i].cs, "gx", x, x->grad, U[i].atol, U[i].rtol);
    }
}

static void l2n_mse(genc_ctx *c) {
    genc_ctx_reset(c);
    genc_tensor *x = load(c, "l2n", "x", 1), *y = genc_l2_normalize(c, x, 1e-3f);
    expect("l2n", "out", y, y->data, 1e-7f, 1e-6f);
    backprop(c, "l2n", y);
    expect("l2n", "gx", x, x->grad, 1e-6f, 1e-5f);

    genc_ctx_reset(c);
    genc_tensor *a = load(c, "mse", "a", 1), *b = load(c, "mse", "b", 1);
    y = genc_mse(c, a, b);
    expect("mse", "out", y, y->data, 0, 1e-6f);
    backprop(c, "mse", y);
    expect("mse", "ga", a, a->grad, 1e-12f, 1e-6f);
    expect("mse", "gb", b, b->grad, 1e-12f, 1e-6f);
}

int main(void) {
    if (tu_fixture("ops_broadcast.py", "ops_broadcast_fixture.safetensors", &F) != GENC_OK) return tu_finish();
    genc_ctx *c = genc_ctx_new(0);
    binary(c);
    reductions(c);
    unary(c);
    l2n_mse(c);
    genc_ctx_free(c);
    genc_st_free(&F);
    return tu_finish();
}
