#include "testutil.h"

#include <stdlib.h>
#include <string.h>

int tu_passed, tu_failed;

/* Tests run with the same BLAS kernel as the genc program (see genc_blas_ensure_fast_kernel). */
__attribute__((constructor)) static void tu_fast_blas(void) { genc_blas_ensure_fast_kernel(); }

int tu_finish(void) {
    printf("%d passed, %d failed\n", tu_passed, tu_failed);
    return tu_failed ? 1 : 0;
}

int tu_close(const char *what, const float *a, const float *b, int64_t n, float atol, float rtol) {
    double worst = 0;
    int64_t wi = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double r = d / (atol + rtol * fabs((double)b[i]));
        if (!(r <= worst) || isnan(a[i]) != isnan(b[i])) {
            if (!(r <= worst)) worst = r;
            wi = i;
            if (isnan(r)) break;
        }
    }
    int ok = worst <= 1.0 && !(wi >= 0 && isnan(worst));
    if (!ok)
        fprintf(stderr, "  %s: mismatch at %lld: got %.7g want %.7g (ratio %.3g, n=%lld)\n", what,
                (long long)wi, wi >= 0 ? a[wi] : 0.f, wi >= 0 ? b[wi] : 0.f, worst, (long long)n);
    CHECK(ok, "%s within atol %g rtol %g", what, atol, rtol);
    return ok;
}

void tu_randn(float *x, int64_t n, uint64_t seed, float std) {
    genc_rng r = genc_rng_make(seed, 7);
    genc_rng_fill_normal(&r, x, n, 0.f, std);
}

genc_tensor *tu_project(genc_ctx *c, genc_tensor *out, uint64_t seed) {
    genc_tensor *w = genc_new_like(c, out);
    tu_randn(w->data, w->n, seed, 1.f);
    return genc_sum(c, genc_mul(c, out, w));
}

/* Evaluate fn on copies of the saved inputs; returns the loss in double. */
static double eval_loss(genc_ctx *c, tu_fn fn, void *user, genc_tensor **in, int n_in,
                        float **vals, int grad) {
    genc_ctx_reset(c);
    genc_tensor *tmp[16];
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) { tmp[i] = NULL; continue; }
        tmp[i] = genc_new(c, in[i]->ndim, in[i]->shape);
        memcpy(tmp[i]->data, vals[i], (size_t)in[i]->n * sizeof(float));
        tmp[i]->requires_grad = grad && in[i]->requires_grad;
    }
    int prev = grad ? c->grad_enabled : genc_no_grad(c);
    genc_tensor *loss = fn(c, tmp, user);
    double l = loss->data[0];
    if (grad) {
        genc_backward(c, loss);
        for (int i = 0; i < n_in; i++)
            if (in[i] && in[i]->requires_grad) {
                float *g = tmp[i]->grad;
                for (int64_t j = 0; j < in[i]->n; j++) vals[n_in + i][j] = g ? g[j] : 0.f;
            }
    } else {
        genc_restore_grad(c, prev);
    }
    return l;
}

int tu_gradcheck(const char *name, tu_fn fn, void *user, genc_tensor **in, int n_in, float eps,
                 float atol, float rtol) {
    return tu_gradcheck_nonzero(name, fn, user, in, n_in, eps, atol, rtol, 0.f);
}

int tu_gradcheck_nonzero(const char *name, tu_fn fn, void *user, genc_tensor **in, int n_in, float eps,
                         float atol, float rtol, float min_abs) {
    GENC_ASSERT(n_in <= 8, "gradcheck: too many inputs");
    genc_ctx *c = genc_ctx_new(16 << 20);
    float *vals[16] = {0};
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) continue;
        vals[i] = malloc((size_t)in[i]->n * sizeof(float));
        memcpy(vals[i], in[i]->data, (size_t)in[i]->n * sizeof(float));
        vals[n_in + i] = calloc((size_t)in[i]->n, sizeof(float));
    }
    eval_loss(c, fn, user, in, n_in, vals, 1);
    int ok = 1;
    for (int i = 0; i < n_in; i++) {
        if (!in[i] || !in[i]->requires_grad) continue;
        float *num = malloc((size_t)in[i]->n * sizeof(float));
        for (int64_t j = 0; j < in[i]->n; j++) {
            float x0 = vals[i][j];
            vals[i][j] = x0 + eps;
            double lp = eval_loss(c, fn, user, in, n_in, vals, 0);
            vals[i][j] = x0 - eps;
            double lm = eval_loss(c, fn, user, in, n_in, vals, 0);
            vals[i][j] = x0;
            num[j] = (float)((lp - lm) / (2.0 * eps));
        }
        char what[128];
        snprintf(what, sizeof what, "gradcheck %s input %d", name, i);
        ok &= tu_close(what, vals[n_in + i], num, in[i]->n, atol, rtol);
        if (min_abs > 0) {
            float mx = 0;
            for (int64_t j = 0; j < in[i]->n; j++) mx = fmaxf(mx, fabsf(vals[n_in + i][j]));
            CHECK(mx > min_abs, "%s: gradient too small to test (max %g)", what, mx);
            ok &= mx > min_abs;
        }
        free(num);
    }
    for (int i = 0; i < 2 * n_in; i++) free(vals[i]);
    genc_ctx_free(c);
    return ok;
}

int tu_fixture(const char *script, const char *out_path, genc_st_file *f) {
    const char *py = getenv("GENC_PYTHON");
    const char *src = getenv("GENC_SOURCE_DIR");
    if (!py || !*py) py = "/usr/bin/python3";
    if (!src) src = "..";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "\"%s\" \"%s/tests/parity/%s\" \"%s\"", py, src, script, out_path);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "FAIL: reference script failed (%s, exit %d). PyTorch parity needs "
                        "Debian's python3-torch: make test installs it.\n", cmd, rc);
        tu_failed++;
        return GENC_ERR;
    }
    if (genc_st_read(out_path, f) != GENC_OK) {
        fprintf(stderr, "FAIL: %s\n", genc_error());
        tu_failed++;
        return GENC_ERR;
    }
    return GENC_OK;
}

float *tu_get(const genc_st_file *f, const char *name, int64_t *n) {
    const genc_st_tensor *t = genc_st_find(f, name);
    if (!t) {
        fprintf(stderr, "FAIL: fixture has no tensor %s\n", name);
        exit(1);
    }
    int64_t m = 1;
    for (int i = 0; i < t->ndim; i++) m *= t->shape[i];
    float *x = malloc((size_t)(m ? m : 1) * sizeof(float));
    if (genc_st_get_f32(f, name, x, m) != GENC_OK) {
        fprintf(stderr, "FAIL: %s\n", genc_error());
        exit(1);
    }
    if (n) *n = m;
    return x;
}

/* ---------------------------------------------------------------- fixture tensors by name */

static int fixture_shape(const genc_st_file *f, const char *name, int *shape) {
    const genc_st_tensor *st = genc_st_find(f, name);
    if (!st || st->ndim > GENC_MAX_DIMS) {
        fprintf(stderr, "FAIL: fixture has no tensor %s of rank <= %d\n", name, GENC_MAX_DIMS);
        exit(1);
    }
    shape[0] = 1;
    for (int i = 0; i < st->ndim; i++) shape[i] = (int)st->shape[i];
    return st->ndim ? st->ndim : 1;
}

genc_tensor *tu_load(genc_ctx *c, const genc_st_file *f, const char *name, int requires_grad) {
    int shape[GENC_MAX_DIMS], nd = fixture_shape(f, name, shape);
    genc_tensor *x = genc_new(c, nd, shape);
    float *d = tu_get(f, name, NULL);
    memcpy(x->data, d, (size_t)x->n * sizeof(float));
    free(d);
    x->requires_grad = requires_grad;
    return x;
}

void tu_expect(const genc_st_file *f, const char *name, const genc_tensor *t, const float *got,
               float atol, float rtol) {
    int shape[GENC_MAX_DIMS], nd = fixture_shape(f, name, shape);
    genc_tensor want_shape = {.ndim = nd};
    memcpy(want_shape.shape, shape, sizeof shape);
    char sg[64], sw[64];
    int same = genc_same_shape(t, &want_shape);
    CHECK(same, "%s: shape %s, fixture has %s", name, genc_shape_str(t, sg, sizeof sg),
          genc_shape_str(&want_shape, sw, sizeof sw));
    CHECK(got != NULL, "%s: no values (a gradient that never arrived)", name);
    if (!same || !got) return;
    float *want = tu_get(f, name, NULL);
    if (atol == 0 && rtol == 0) {
        int64_t bad = -1;
        for (int64_t i = 0; i < t->n && bad < 0; i++)
            if (!(got[i] == want[i]) && !(isnan(got[i]) && isnan(want[i]))) bad = i;
        CHECK(bad < 0, "%s: exact (first difference at %lld: %.9g vs %.9g)", name, (long long)bad,
              bad < 0 ? 0. : got[bad], bad < 0 ? 0. : want[bad]);
    } else
        tu_close(name, got, want, t->n, atol, rtol);
    if (getenv("TU_VERBOSE")) {
        double worst = 0, wd = 0;
        for (int64_t i = 0; i < t->n; i++) {
            double d = fabs((double)got[i] - want[i]);
            if (atol + rtol > 0 && d / (atol + rtol * fabs((double)want[i])) > worst)
                worst = d / (atol + rtol * fabs((double)want[i]));
            if (d > wd) wd = d;
        }
        printf("  %-24s worst ratio %.3f  max abs diff %.3g\n", name, worst, wd);
    }
    free(want);
}

genc_tensor *tu_randn_tensor(genc_ctx *c, int ndim, const int *shape, uint64_t seed) {
    genc_tensor *t = genc_new(c, ndim, shape);
    tu_randn(t->data, t->n, seed, 1.0f);
    t->requires_grad = 1;
    return t;
}

void tu_expect_grads(const genc_st_file *f, const char *prefix, const genc_params *ps, float atol, float rtol) {
    for (int i = 0; i < ps->n; i++) {
        char key[256];
        snprintf(key, sizeof key, "%sgrad.%s", prefix, ps->list[i]->name);
        tu_expect(f, key, ps->list[i], ps->list[i]->grad, atol, rtol);
    }
}

int tu_cases(const genc_st_file *f, int want) {
    const char *ns = genc_st_meta(f, "cases");
    int n = ns ? atoi(ns) : 0;
    CHECK(n == want, "fixture has %d cases, want %d", n, want);
    return n;
}
