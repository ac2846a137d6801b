/* Gradient checks for the broadcasting binary ops, the axis reductions, the unary ops added with
 * them, l2 normalisation and mse against central finite differences; then what a gradient
 * check cannot see: closed forms (ties of max, logsumexp far outside exp's range, softplus
 * tails, a zero row under l2 normalisation), results that do not depend on the thread count,
 * and the message of a shape mismatch.
 *
 * Tolerances are those of test_ops_grad.c, for the same reasons: eps = 1e-2 keeps the float
 * loss's rounding (ulp(loss)/2eps ≈ 1e-4 for |loss| < 30) well under atol 1e-3 + rtol 1e-3,
 * and the inputs keep the truncation error eps²·f'''/6 near 1e-4: divisors and the arguments of
 * sqrt/rsqrt are at least 1 in magnitude (|f'''| ≤ 6|a|/|b|⁴ and 105/16), inputs of abs, relu
 * and leaky relu stay 0.1 away from their kink, the values under max are 0.1 apart so no step
 * changes the argmax, and no row under l2 normalisation crosses eps. Each check also requires
 * some gradient entry above 0.1, so that none passes vacuously. */
#include "testutil.h"

#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EPS 1e-2f
#define ATOL 1e-3f
#define RTOL 1e-3f

static genc_ctx *g_ctx; /* holds the inputs of every check */

#define RND(seed, ...) TU_RND(g_ctx, seed, __VA_ARGS__)

/* |x| + m with x's sign (away from 0 by m) */
static genc_tensor *away(genc_tensor *t, float m) {
    for (int64_t i = 0; i < t->n; i++) t->data[i] += t->data[i] < 0 ? -m : m;
    return t;
}

static void gc(const char *name, tu_fn fn, void *user, genc_tensor **in, int n_in) {
    tu_gradcheck_nonzero(name, fn, user, in, n_in, EPS, ATOL, RTOL, 0.1f);
}

/* ---------------------------------------------------------------- binary ops */

typedef genc_tensor *(*binary_fn)(genc_ctx *, genc_tensor *, genc_tensor *);
static genc_tensor *f_binary(genc_ctx *c, genc_tensor **in, void *u) {
    return tu_project(c, (*(binary_fn *)u)(c, in[0], in[1]), 1);
}

static void test_binary(void) {
    static binary_fn fns[4] = {genc_add, genc_sub, genc_mul, genc_div};
    static const char *names[4] = {"add", "sub", "mul", "div"};
    /* one operand broadcast in trailing, middle or leading dims; both at once (3-D and 4-D);
     * different ranks; a one-element operand on either side */
    genc_tensor *pairs[][2] = {
        {RND(1, 2, 3, 4, 5), RND(2, 2, 3, 1, 1)}, {RND(3, 2, 1, 4), RND(4, 1, 3, 4)},
        {RND(5, 2, 1, 3, 1), RND(6, 1, 4, 1, 3)}, {RND(7, 3, 1), RND(8, 4)},
        {RND(9, 1), RND(10, 2, 3)},               {RND(11, 2, 3, 4), RND(12, 3, 4)},
        {RND(13, 2, 3), RND(17, 1)},              {RND(15, 2, 3, 1), RND(16, 2, 1, 4)},
    };
    for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++) {
        away(pairs[p][1], 1.0f); /* divisors */
        for (int k = 0; k < 4; k++) {
            char name[96], sa[32], sb[32];
            snprintf(name, sizeof name, "%s %s %s", names[k], genc_shape_str(pairs[p][0], sa, sizeof sa),
                     genc_shape_str(pairs[p][1], sb, sizeof sb));
            gc(name, f_binary, &fns[k], pairs[p], 2);
        }
    }
}

/* ---------------------------------------------------------------- reductions */

typedef struct red_args {
    genc_tensor *(*fn)(genc_ctx *, genc_tensor *, int, int);
    int axis, keepdim;
} red_args;

static genc_tensor *f_reduce(genc_ctx *c, genc_tensor **in, void *u) {
    const red_args *r = u;
    return tu_project(c, r->fn(c, in[0], r->axis, r->keepdim), 2);
}

static void test_reductions(void) {
    genc_tensor *xs[2] = {RND(20, 2, 3, 4), RND(21, 3, 2, 4, 5)};
    /* for max: a permutation of multiples of 0.1 (i·7 mod n, with n not a multiple of 7) */
    genc_tensor *xm[2] = {RND(22, 2, 3, 4), RND(23, 3, 2, 4, 5)};
    for (int t = 0; t < 2; t++)
        for (int64_t i = 0; i < xm[t]->n; i++) xm[t]->data[i] = 0.1f * (float)((i * 7) % xm[t]->n) - 3.0f;
    static const struct {
        const char *name;
        genc_tensor *(*fn)(genc_ctx *, genc_tensor *, int, int);
    } ops[4] = {{"sum_axis", genc_sum_axis}, {"mean_axis", genc_mean_axis},
                {"max_axis", genc_max_axis}, {"logsumexp_axis", genc_logsumexp_axis}};
    for (int k = 0; k < 4; k++)
        for (int t = 0; t < 2; t++) {
            genc_tensor *x = k == 2 ? xm[t] : xs[t];
            for (int axis = -1; axis < x->ndim; axis++) {
                red_args r = {ops[k].fn, axis, (axis + t) % 2};
                char name[96];
                snprintf(name, sizeof name, "%s rank %d axis %d keepdim %d", ops[k].name, x->ndim, axis, r.keepdim);
                gc(name, f_reduce, &r, &x, 1);
            }
        }
}

/* ---------------------------------------------------------------- unary, l2 normalize, mse */

typedef genc_tensor *(*unary_fn)(genc_ctx *, genc_tensor *);
static genc_tensor *f_unary(genc_ctx *c, genc_tensor **in, void *u) { return tu_project(c, (*(unary_fn *)u)(c, in[0]), 3); }
static genc_tensor *f_leaky(genc_ctx *c, genc_tensor **in, void *u) { return tu_project(c, genc_leaky_relu(c, in[0], 0.2f), 4); }
static genc_tensor *f_l2n(genc_ctx *c, genc_tensor **in, void *u) { return tu_project(c, genc_l2_normalize(c, in[0], 5.0f), 5); }
static genc_tensor *f_mse(genc_ctx *c, genc_tensor **in, void *u) { return genc_scale(c, genc_mse(c, in[0], in[1]), 10.0f); }

static void test_unary(void) {
    genc_tensor *pos = away(RND(30, 3, 4, 5), 1.0f), *kinked = away(RND(31, 3, 4, 5), 0.1f);
    for (int64_t i = 0; i < pos->n; i++) pos->data[i] = fabsf(pos->data[i]);
    genc_tensor *wide = RND(32, 3, 4, 5); /* softplus: both tails and both sides of 20 */
    for (int64_t i = 0; i < wide->n; i++) wide->data[i] *= i % 4 == 0 ? 12.0f : 3.0f;
    static const struct {
        const char *name;
        unary_fn fn;
        int input; /* 0: positive, 1: away from 0, 2: wide */
    } U[] = {{"sqrt", genc_sqrt, 0}, {"rsqrt", genc_rsqrt, 0},       {"abs", genc_abs, 1},
             {"square", genc_square, 1}, {"relu", genc_relu, 1},    {"softplus", genc_softplus, 2},
             {"log_sigmoid", genc_log_sigmoid, 2}};
    genc_tensor *inputs[3] = {pos, kinked, wide};
    for (size_t i = 0; i < sizeof U / sizeof *U; i++) {
        unary_fn fn = U[i].fn;
        gc(U[i].name, f_unary, &fn, &inputs[U[i].input], 1);
    }
    gc("leaky_relu", f_leaky, NULL, &kinked, 1);

    /* eps = 5: rows scaled to norms near 1 use the clamped branch, rows near 12 the other */
    genc_tensor *xn = RND(33, 2, 5, 6);
    for (int64_t r = 0; r < 10; r++)
        for (int j = 0; j < 6; j++) xn->data[r * 6 + j] *= r % 3 == 0 ? 0.4f : 5.0f;
    gc("l2_normalize", f_l2n, NULL, &xn, 1);
    gc("mse", f_mse, NULL, (genc_tensor *[]){RND(34, 3, 4, 5), RND(35, 3, 4, 5)}, 2);
}

/* ---------------------------------------------------------------- closed forms */

static genc_tensor *vec(genc_ctx *c, int n, const float *v) {
    genc_tensor *t = genc_new1(c, n);
    memcpy(t->data, v, (size_t)n * sizeof(float));
    t->requires_grad = 1;
    return t;
}

static void test_closed_forms(void) {
    genc_ctx *c = genc_ctx_new(1 << 20);

    /* max: ties send the whole gradient to the first maximal element, along the last axis and
     * along a leading axis (the column path) */
    genc_tensor *x = vec(c, 5, (const float[]){1, 3, -2, 3, 2});
    genc_tensor *m = genc_max_axis(c, x, 0, 0);
    genc_backward(c, m);
    CHECK(m->data[0] == 3 && x->grad[1] == 1 && x->grad[3] == 0 && x->grad[0] == 0,
          "max: value 3, gradient on the first 3 only (%g %g)", x->grad[1], x->grad[3]);
    genc_ctx_reset(c);
    x = genc_new2(c, 3, 2);
    memcpy(x->data, (const float[]){1, 5, 4, 5, 4, 2}, 6 * sizeof(float));
    x->requires_grad = 1;
    genc_backward(c, genc_sum(c, genc_max_axis(c, x, 0, 1)));
    CHECK(x->grad[2] == 1 && x->grad[4] == 0 && x->grad[1] == 1 && x->grad[3] == 0,
          "max over a leading axis: first maximal row per column");

    /* logsumexp far outside exp's float range, and with −∞ entries */
    genc_ctx_reset(c);
    genc_tensor *l = genc_logsumexp_axis(c, genc_new1(c, 2), 0, 0);
    const float rows[4][2] = {{1000, 1000}, {-1000, -1000}, {-INFINITY, 0}, {-INFINITY, -INFINITY}};
    const float want[4] = {1000 + 0.6931472f, -1000 + 0.6931472f, 0, -INFINITY};
    for (int i = 0; i < 4; i++) {
        genc_ctx_reset(c);
        l = genc_logsumexp_axis(c, vec(c, 2, rows[i]), 0, 0);
        CHECK(l->data[0] == want[i] || fabsf(l->data[0] - want[i]) <= 1e-6f * fabsf(want[i]),
              "logsumexp row %d: %g, want %g", i, l->data[0], want[i]);
    }
    genc_ctx_reset(c);
    x = vec(c, 3, (const float[]){-INFINITY, 0, 0});
    genc_backward(c, genc_logsumexp_axis(c, x, 0, 0));
    CHECK(x->grad[0] == 0 && fabsf(x->grad[1] - 0.5f) < 1e-6f, "logsumexp gradient is the softmax");

    /* softplus and log σ in their tails: exact asymptotes, no overflow, no log(0) */
    genc_ctx_reset(c);
    x = vec(c, 4, (const float[]){100, -100, 30, -30});
    genc_tensor *sp = genc_softplus(c, x), *ls = genc_log_sigmoid(c, x);
    CHECK(sp->data[0] == 100 && sp->data[2] == 30 && fabsf(sp->data[1]) < 1e-30f,
          "softplus tails: %g %g %g", sp->data[0], sp->data[1], sp->data[2]);
    CHECK(fabsf(sp->data[3] - 9.357623e-14f) < 1e-19f, "softplus(-30) = e^-30: %g", sp->data[3]);
    CHECK(ls->data[1] == -100 && ls->data[3] == -30 && fabsf(ls->data[2] + 9.357623e-14f) < 1e-19f,
          "log_sigmoid tails: %g %g %g", ls->data[1], ls->data[3], ls->data[2]);

    /* l2 normalise: a zero row stays zero with the finite gradient g/eps */
    genc_ctx_reset(c);
    x = vec(c, 3, (const float[]){0, 0, 0});
    genc_tensor *y = genc_l2_normalize(c, x, 1e-3f);
    genc_backward(c, genc_sum(c, y));
    CHECK(y->data[0] == 0 && x->grad[0] == 1.0f / 1e-3f && x->grad[2] == 1.0f / 1e-3f, "l2_normalize of 0: %g, grad %g",
          y->data[0], x->grad[0]);
    genc_ctx_free(c);
}

/* ---------------------------------------------------------------- threads, errors */

/* Every threaded kernel (all sizes above their 32768-element thresholds) with 1 and with 2
 * threads: outputs and input gradients must be the same bits. */
static void thread_independence(void) {
    enum { NIN = 9, NOUT = 9 };
    float *res[2] = {NULL, NULL};
    int64_t len = 0;
    genc_tensor *in[NIN] = {RND(40, 8, 64, 96), RND(41, 8, 1, 96),      RND(42, 8, 32, 16, 17),
                            RND(43, 8, 32, 1, 1), RND(44, 1, 32, 1, 24), away(RND(45, 8, 1, 12, 1), 0.5f),
                            RND(46, 64, 1024),  RND(47, 512, 128),      RND(48, 300, 200)};
    for (int th = 1; th <= 2; th++) {
        omp_set_num_threads(th);
        genc_ctx *c = genc_ctx_new(0);
        for (int k = 0; k < NIN; k++) in[k]->grad = NULL; /* the gradients live in c */
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
    g_ctx = genc_ctx_new(1 << 22);
    test_binary();
    test_reductions();
    test_unary();
    test_closed_forms();
    thread_independence();
    mismatch_message();
    genc_ctx_free(g_ctx);
    return tu_finish();
}
