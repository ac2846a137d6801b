/* Parity with PyTorch (tests/parity/ops_broadcast.py) for the broadcasting binary ops, the axis
 * reductions, the unary ops added with them, l2 normalisation and mse: the output (shape and
 * values) and the gradient of every input under the fixture's upstream gradient dy (we
 * backprop sum(out · dy)). Also: results independent of the thread count, and the message of
 * a shape mismatch.
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

#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* ---------------------------------------------------------------- threads, errors */

static genc_tensor *rnd(genc_ctx *c, int ndim, const int *shape, uint64_t seed) {
    genc_tensor *t = genc_new(c, ndim, shape);
    tu_randn(t->data, t->n, seed, 1.f);
    t->requires_grad = 1;
    return t;
}
#define RND(seed, ...) rnd(c, sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__}, seed)

/* Every threaded kernel (all sizes above their 32768-element thresholds) with 1 and with 2
 * threads: outputs and input gradients must be the same bits. */
static void thread_independence(void) {
    enum { NIN = 9, NOUT = 9 };
    float *res[2] = {NULL, NULL};
    int64_t len = 0;
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        genc_ctx *c = genc_ctx_new(0);
        genc_tensor *in[NIN] = {RND(1, 8, 64, 96), RND(2, 8, 1, 96),        RND(3, 8, 32, 16, 17),
                                RND(4, 8, 32, 1, 1), RND(5, 1, 32, 1, 24),   RND(6, 8, 1, 12, 1),
                                RND(7, 64, 1024),   RND(8, 512, 128),        RND(9, 300, 200)};
        for (int64_t i = 0; i < in[5]->n; i++) in[5]->data[i] += in[5]->data[i] > 0 ? 0.5f : -0.5f;
        genc_tensor *out[NOUT] = {genc_add(c, in[0], in[1]),
                                  genc_mul(c, in[2], in[3]),
                                  genc_div(c, in[4], in[5]),
                                  genc_sum_axis(c, in[6], 0, 0),
                                  genc_max_axis(c, in[6], 1, 1),
                                  genc_logsumexp_axis(c, in[7], 0, 0),
                                  genc_logsumexp_axis(c, in[7], -1, 1),
                                  genc_l2_normalize(c, in[8], 1e-6f),
                                  genc_softplus(c, in[8])};
        genc_tensor *loss = NULL;
        for (int k = 0; k < NOUT; k++) {
            genc_tensor *l = tu_project(c, out[k], 100 + k);
            loss = loss ? genc_add(c, loss, l) : l;
        }
        genc_backward(c, loss);
        len = 0;
        for (int k = 0; k < NOUT; k++) len += out[k]->n;
        for (int k = 0; k < NIN; k++) len += in[k]->n;
        float *r = res[th - 1] = malloc((size_t)len * sizeof(float));
        for (int k = 0; k < NOUT; k++, r += out[k - 1]->n) memcpy(r, out[k]->data, (size_t)out[k]->n * sizeof(float));
        for (int k = 0; k < NIN; k++, r += in[k - 1]->n) memcpy(r, in[k]->grad, (size_t)in[k]->n * sizeof(float));
        genc_ctx_free(c);
    }
    omp_set_num_threads(1);
    CHECK(memcmp(res[0], res[1], (size_t)len * sizeof(float)) == 0, "1 and 2 threads give the same bits");
    free(res[0]);
    free(res[1]);
}

/* Shapes that do not broadcast are a wiring error: the process aborts with both shapes named.
 * Run in a child so the abort can be observed. */
static void mismatch_message(void) {
    int fd[2];
    CHECK(pipe(fd) == 0, "pipe");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        genc_ctx *c = genc_ctx_new(1 << 20);
        genc_mul(c, genc_new4(c, 2, 3, 4, 5), genc_new3(c, 2, 1, 6));
        _exit(0);
    }
    close(fd[1]);
    char buf[512] = {0};
    size_t got = 0;
    ssize_t k;
    while (got < sizeof buf - 1 && (k = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)k;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "a shape mismatch aborts (status %d)", st);
    CHECK(strstr(buf, "mul: shapes [2, 3, 4, 5] and [2, 1, 6] do not broadcast") != NULL,
          "the message names the op and both shapes: %s", buf);
}

int main(void) {
    mismatch_message();
    thread_independence();
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
