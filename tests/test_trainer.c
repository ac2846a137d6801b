/* The shared trainer on a tiny synthetic family, linear regression y ≈ x·w + b, whose optimum
 * is known in closed form (ordinary least squares). Checked: training reaches the OLS
 * solution; the EMA equals one computed by hand, with the warm-up decay and the constant one;
 * weight decay applies to exactly the tensors the family chose (against a hand AdamW step); a
 * non-finite loss or gradient stops the run naming the step and leaves the last good
 * checkpoint; a checkpoint holding a non-finite value is never written; resume (after
 * --stop-at or a SIGINT) is bit-exact, and a checkpoint from before the EMA warm-up resumes
 * with its constant decay; an existing run is not
 * overwritten; a run too large for the machine is refused up front; stale temporaries of a
 * killed save are removed. */
#include "testutil.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "genc/train.h"

enum { D = 4, N = 64 };
enum { PLAIN = 0, NOISY = 1, BIAS_DECAYS = 2 }; /* NOISY: dropout and jittered targets;
                                                  BIAS_DECAYS: the decay choice is b only (the
                                                  opposite of a rank rule) */
enum { NO_POISON = 0, POISON_LOSS, POISON_GRAD, RAISE_SIGINT };

typedef struct linreg {
    genc_params ps;
    genc_tensor *W, *b;        /* [1, D], [1] */
    float X[N * D], Y[N];      /* the data set */
    float bx[N * D], by[N];    /* the batch: the data set rotated by a random offset */
    float zero[D];
    int mode, poison;
    int64_t poison_at, calls;  /* batches drawn by this instance */
} linreg;

static const double W_TRUE[D] = {1.0, -2.0, 0.5, 3.0}, B_TRUE = 0.7;

static void linreg_init(linreg *m, int mode) {
    memset(m, 0, sizeof *m);
    genc_params_init(&m->ps);
    m->W = genc_param_new(&m->ps, "w", 2, (int[]){1, D});
    m->b = genc_param_new(&m->ps, "b", 1, (int[]){1});
    genc_rng r = genc_rng_make(11, 0);
    genc_param_init_normal(m->W, &r, 0.1f);
    tu_randn(m->X, N * D, 5, 1.0f);
    float eps[N];
    tu_randn(eps, N, 6, 0.1f);
    for (int i = 0; i < N; i++) {
        double y = B_TRUE + eps[i];
        for (int j = 0; j < D; j++) y += W_TRUE[j] * m->X[i * D + j];
        m->Y[i] = (float)y;
    }
    m->mode = mode;
}

static int lr_batch(void *self, genc_rng *r) {
    linreg *m = self;
    int off = (int)genc_rng_below(r, N);
    for (int i = 0; i < N; i++) {
        int k = (i + off) % N;
        memcpy(m->bx + i * D, m->X + k * D, sizeof(float) * D);
        m->by[i] = m->Y[k];
    }
    m->calls++;
    if (m->poison == POISON_LOSS && m->calls >= m->poison_at) m->by[0] = NAN;
    if (m->poison == RAISE_SIGINT && m->calls == m->poison_at) raise(SIGINT);
    return GENC_OK;
}

/* mean over the batch of (x·wᵀ + b − y)²; NOISY: dropout on the prediction and targets scaled by
 * (1 + 0.01·n), n ~ N(0, 1) from the noise stream, so all three streams matter. POISON_GRAD
 * adds mean(1e30·1e30·(w ⊙ 0)): zero in the forward pass, NaN in the gradient of w. */
static genc_tensor *lr_loss(genc_ctx *c, void *self, genc_rng *noise) {
    linreg *m = self;
    genc_tensor *x = genc_wrap(c, m->bx, 2, (int[]){N, D});
    genc_tensor *pred = genc_linear(c, x, m->W, m->b);
    float *y = genc_scratch(c, sizeof(float) * N);
    memcpy(y, m->by, sizeof(float) * N);
    if (m->mode & NOISY) {
        pred = genc_dropout(c, pred, 0.1f);
        float n[N];
        genc_rng_fill_normal(noise, n, N, 0.f, 1.f);
        for (int i = 0; i < N; i++) y[i] *= 1.0f + 0.01f * n[i];
    }
    genc_tensor *d = genc_sub(c, pred, genc_wrap(c, y, 2, (int[]){N, 1}));
    genc_tensor *loss = genc_mean(c, genc_mul(c, d, d));
    if (m->poison == POISON_GRAD && m->calls >= m->poison_at) {
        genc_tensor *z = genc_mul(c, m->W, genc_wrap(c, m->zero, 2, (int[]){1, D}));
        loss = genc_add(c, loss, genc_mean(c, genc_scale(c, genc_scale(c, z, 1e30f), 1e30f)));
    }
    return loss;
}

static int lr_decays(const genc_tensor *p, void *self) {
    linreg *m = self;
    return m->mode & BIAS_DECAYS ? p == m->b : p == m->W;
}

static char *lr_config(void *self) { return strdup("{\"dim\":4}"); }
static char *lr_train(void *self) { return strdup("{\"mode\":\"test\"}"); }

static genc_train_family family(linreg *m) {
    genc_train_family f = {0};
    f.name = "linreg";
    f.params = &m->ps;
    f.self = m;
    f.batch = lr_batch;
    f.loss = lr_loss;
    f.decays = lr_decays;
    f.config_json = lr_config;
    f.train_json = lr_train;
    f.items_per_step = N;
    f.items = "examples";
    return f;
}

static genc_train_cfg config(int64_t steps) {
    genc_train_cfg c;
    genc_train_cfg_default(&c);
    c.batch = N;
    c.steps = steps;
    c.warmup = 5;
    c.lr = 0.05f;
    c.min_lr = 0.f;
    c.seed = 9;
    return c;
}

/* A linreg instance with its family and a new trainer: the set-up of every test. */
typedef struct setup {
    linreg m;
    genc_train_family fam;
    genc_trainer t;
} setup;

static void start(setup *s, int mode, genc_train_cfg cfg) {
    linreg_init(&s->m, mode);
    s->fam = family(&s->m);
    CHECK(genc_trainer_init(&s->t, &s->fam, &cfg) == GENC_OK, "trainer init: %s", genc_error());
}

static void finish_setup(setup *s) {
    genc_trainer_free(&s->t);
    genc_params_free(&s->m.ps);
}

static char g_dir[256];
static const char *dir(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static genc_run_opts run_in(const char *name) {
    genc_run_opts r = {0};
    r.out_dir = dir(name);
    return r;
}

static int64_t saved_step(const char *name) {
    genc_st_file f;
    if (genc_checkpoint_open(dir(name), &f)) return -1;
    int64_t s = atoll(genc_st_meta(&f, "step"));
    genc_st_free(&f);
    return s;
}

/* A fresh instance resumed from the checkpoint in name (parameters come from the file). */
static int resume_run(const char *name, int mode, float ema, genc_train_result *res) {
    setup x;
    linreg_init(&x.m, mode);
    genc_param_fill(x.m.W, 123.f); /* must be overwritten by the checkpoint */
    x.fam = family(&x.m);
    genc_st_file f;
    genc_run_opts run = run_in(name);
    run.resume = 1;
    run.catch_signals = 1;
    int rc = genc_checkpoint_open(run.out_dir, &f);
    if (rc == GENC_OK) {
        rc = genc_trainer_resume(&x.t, &x.fam, &f);
        genc_st_free(&f);
    }
    CHECK(rc == GENC_OK && x.t.cfg.ema == ema, "resume %s: %s", name, rc ? genc_error() : "ema");
    if (rc == GENC_OK) rc = genc_train_run(&x.t, &x.fam, &run, res);
    finish_setup(&x);
    return rc;
}

/* OLS: solve [X 1]ᵀ[X 1] θ = [X 1]ᵀ y by Gaussian elimination with partial pivoting. */
static void ols(const linreg *m, double theta[D + 1]) {
    enum { K = D + 1 };
    double A[K][K + 1] = {{0}};
    for (int i = 0; i < N; i++) {
        double a[K];
        for (int j = 0; j < D; j++) a[j] = m->X[i * D + j];
        a[D] = 1;
        for (int r = 0; r < K; r++) {
            for (int c = 0; c < K; c++) A[r][c] += a[r] * a[c];
            A[r][K] += a[r] * m->Y[i];
        }
    }
    for (int p = 0; p < K; p++) {
        int best = p;
        for (int r = p + 1; r < K; r++) if (fabs(A[r][p]) > fabs(A[best][p])) best = r;
        for (int c = 0; c <= K; c++) { double t = A[p][c]; A[p][c] = A[best][c]; A[best][c] = t; }
        for (int r = 0; r < K; r++) {
            if (r == p) continue;
            double f = A[r][p] / A[p][p];
            for (int c = p; c <= K; c++) A[r][c] -= f * A[p][c];
        }
    }
    for (int r = 0; r < K; r++) theta[r] = A[r][K] / A[r][r];
}

static void test_converges_to_ols(void) {
    genc_train_cfg cfg = config(600);
    cfg.weight_decay = 0.f; /* decay would move the optimum away from OLS */
    cfg.clip = 0.f;
    setup x;
    start(&x, PLAIN, cfg);
    linreg *m = &x.m;
    genc_run_opts run = run_in("ols");
    genc_train_result res;
    CHECK(genc_train_run(&x.t, &x.fam, &run, &res) == GENC_OK, "run: %s", genc_error());
    double theta[D + 1];
    ols(m, theta);
    /* Adam moves a coordinate by about lr per step; over the last 5% of a cosine from 0.05 to 0
     * the rate is below 0.025·(1 + cos(0.95π)) = 3.1e-4, so the iterate ends within ~1e-3. */
    double worst = 0;
    for (int j = 0; j < D; j++) worst = fmax(worst, fabs(m->W->data[j] - theta[j]));
    worst = fmax(worst, fabs(m->b->data[0] - theta[D]));
    CHECK(worst < 1e-3, "trained parameters within %.2g of the OLS solution (want < 1e-3)", worst);
    CHECK(res.step == 600 && saved_step("ols") == 600, "ran to step %lld", (long long)res.step);
    FILE *f = fopen(dir("ols/metrics.csv"), "r");
    char line[256];
    double first = -1, last = -1, st, l;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%lf,%lf", &st, &l) == 2) { if (first < 0) first = l; last = l; }
    if (f) fclose(f);
    CHECK(first > 10 * last, "logged loss decreased: %g -> %g", first, last);
    struct stat sb;
    CHECK(stat(dir("ols/loss.png"), &sb) == 0, "loss.png written");
    finish_setup(&x);
}

/* The EMA against a hand computation in double, after every one of 20 steps:
 *   w_ema ← d_t·w_ema + (1 − d_t)·w,  d_t = min(D, (1 + t)/(10 + t)) (warm-up) or D,
 * from the initial weights, t = 1 at the first step (d_1 = 2/11, as latent diffusion's LitEma).
 * D = 0.6 with warm-up covers both branches: the ramp is below 0.6 for t ≤ 12 and capped after.
 * Tolerance: each float update rounds d, 1 − d, two products and a sum, at most 5·2⁻²⁴
 * relative to max(|w_ema|, |w|) < 4 here; earlier errors shrink by d_t ≤ 0.9 per step, so the
 * error stays below 5·2⁻²⁴·4/(1 − 0.9) = 1.2e-5. The other rule's EMA must be 100 times that
 * far away at some step, so running the wrong rule cannot pass. */
static void ema_case(float dmax, int warmup) {
    genc_train_cfg cfg = config(20);
    cfg.ema = dmax;
    cfg.ema_warmup = warmup;
    setup x;
    start(&x, PLAIN, cfg);
    const linreg *m = &x.m;
    double ref[D + 1], other[D + 1];
    for (int j = 0; j <= D; j++) ref[j] = other[j] = j < D ? m->W->data[j] : m->b->data[0];
    genc_ctx *c = genc_ctx_new(0);
    double worst = 0, apart = 0;
    for (int t = 1; t <= 20; t++) {
        CHECK(genc_trainer_step(&x.t, &x.fam, c, 0.05f, NULL, NULL) == GENC_OK, "step: %s", genc_error());
        double ramp = fmin(dmax, (1.0 + t) / (10.0 + t));
        double d = warmup ? ramp : dmax, e = warmup ? dmax : ramp; /* this rule, the other */
        double got_t = 0, apart_t = 0;
        for (int j = 0; j <= D; j++) {
            double w = j < D ? m->W->data[j] : m->b->data[0];
            double g = j < D ? x.t.ema.w[0][j] : x.t.ema.w[1][0];
            ref[j] = d * ref[j] + (1 - d) * w;
            other[j] = e * other[j] + (1 - e) * w;
            got_t = fmax(got_t, fabs(g - ref[j]));
            apart_t = fmax(apart_t, fabs(g - other[j]));
        }
        worst = fmax(worst, got_t);
        apart = fmax(apart, apart_t);
    }
    CHECK(worst < 1.2e-5, "EMA (D %g, %s) within %.2g of the hand computation (want < 1.2e-5)", dmax,
          warmup ? "warm-up" : "constant", worst);
    CHECK(apart > 1.2e-3, "the other rule's EMA is %.2g away at worst (want > 1.2e-3)", apart);
    CHECK(fabsf(x.t.ema.w[0][0] - m->W->data[0]) > 1e-3f, "the EMA trails the weights");
    genc_ctx_free(c);
    finish_setup(&x);
}

/* The decay itself: 2/11 at the first step, the ramp's value rounded to float up to t = 12
 * for D = 0.6, exactly D from there on (and for any step without warm-up). */
static void test_ema_decay_at(void) {
    genc_ema e = {.decay = 0.6f, .warmup = 1};
    CHECK(genc_ema_decay_at(&e, 1) == (float)(2.0 / 11.0), "d_1 = 2/11: %.9g", genc_ema_decay_at(&e, 1));
    CHECK(genc_ema_decay_at(&e, 12) == (float)(13.0 / 22.0), "d_12 = 13/22: %.9g", genc_ema_decay_at(&e, 12));
    CHECK(genc_ema_decay_at(&e, 13) == 0.6f && genc_ema_decay_at(&e, 1000000000000) == 0.6f, "capped at D");
    e.warmup = 0;
    CHECK(genc_ema_decay_at(&e, 1) == 0.6f, "constant rule: d_1 = D");
}

/* The rule in "train": new runs warm up; a "train" without "ema_warmup" (written before the
 * key existed) keeps the constant decay; anything but a JSON boolean is refused. */
static void test_ema_rule_json(void) {
    genc_train_cfg t;
    genc_train_cfg_default(&t);
    CHECK(t.ema_warmup == 1, "new runs use the warm-up");
    CHECK(genc_train_cfg_from_json("{\"ema\":0.5}", &t) == GENC_OK && t.ema_warmup == 0 && t.ema == 0.5f,
          "no \"ema_warmup\": the constant rule");
    CHECK(genc_train_cfg_from_json("{\"ema\":0.5,\"ema_warmup\":true}", &t) == GENC_OK && t.ema_warmup == 1,
          "\"ema_warmup\": true");
    CHECK(genc_train_cfg_from_json("{\"ema\":0.5,\"ema_warmup\":1}", &t) == GENC_ERR &&
              strstr(genc_error(), "ema_warmup"),
          "a non-boolean \"ema_warmup\" is refused: %s", genc_error());
}

/* One trainer step against AdamW by hand at t = 1 (m̂ = g, v̂ = g²):
 *   w ← w·(1 − lr·λ·[w decays]) − lr·g / (|g| + ε)
 * with the family choosing to decay the bias b and not the matrix w (the opposite of a rank
 * rule), so only an explicit choice can pass. */
static void test_decay_groups(void) {
    genc_train_cfg cfg = config(10);
    cfg.weight_decay = 0.5f;
    cfg.clip = 0.f;
    setup x;
    start(&x, PLAIN | BIAS_DECAYS, cfg);
    linreg *m = &x.m;
    genc_param_fill(m->b, 0.5f);
    CHECK(x.t.opt.decay[0] == 0 && x.t.opt.decay[1] == 1, "groups: w undecayed, b decayed");
    /* the gradient of the batch the step will draw */
    genc_ctx *c = genc_ctx_new(0);
    genc_rng data = x.t.rng_data, noise = x.t.rng_noise;
    lr_batch(m, &data);
    genc_backward(c, lr_loss(c, m, &noise));
    double g[D + 1], w0[D + 1];
    for (int j = 0; j < D; j++) { g[j] = m->W->grad[j]; w0[j] = m->W->data[j]; }
    g[D] = m->b->grad[0];
    w0[D] = m->b->data[0];
    genc_params_zero_grad(&m->ps);
    const double lr = 0.1, wd = 0.5, eps = 1e-8;
    CHECK(genc_trainer_step(&x.t, &x.fam, c, (float)lr, NULL, NULL) == GENC_OK, "step: %s", genc_error());
    float got[D + 1], want[D + 1];
    for (int j = 0; j <= D; j++) {
        double decay = j == D ? 1 - lr * wd : 1;
        want[j] = (float)(w0[j] * decay - lr * g[j] / (fabs(g[j]) + eps));
        got[j] = j < D ? m->W->data[j] : m->b->data[0];
    }
    /* a handful of float roundings of values of size ~0.5 */
    tu_close("AdamW step with the family's decay groups", got, want, D + 1, 1e-6f, 1e-6f);
    genc_ctx_free(c);
    finish_setup(&x);

    /* no decays hook: nothing decays */
    linreg_init(&x.m, PLAIN);
    x.fam = family(&x.m);
    x.fam.decays = NULL;
    CHECK(genc_trainer_init(&x.t, &x.fam, &cfg) == GENC_OK && !x.t.opt.decay[0] && !x.t.opt.decay[1],
          "no hook: no decay");
    finish_setup(&x);
}

/* A run poisoned at step 8 with checkpoints every 5 steps: it stops with an error naming the
 * step and what went wrong, and the checkpoint of step 5 stays. */
static void test_nonfinite_stops(int poison, const char *name, const char *want) {
    setup x;
    start(&x, PLAIN, config(20));
    x.m.poison = poison;
    x.m.poison_at = 8;
    genc_run_opts run = run_in(name);
    run.save_every = 5;
    genc_train_result res;
    int rc = genc_train_run(&x.t, &x.fam, &run, &res);
    const char *msg = genc_error();
    CHECK(rc == GENC_ERR && strstr(msg, "step 8") && strstr(msg, want) && strstr(msg, "still holds step 5"),
          "%s: stops naming the step: %s", name, msg);
    CHECK(res.step == 7 && saved_step(name) == 5, "%s: the last good checkpoint (step 5) stays", name);
    genc_st_file f;
    int finite = genc_checkpoint_open(dir(name), &f) == GENC_OK;
    for (int i = 0; finite && i < f.n_tensors; i++) {
        const float *x = f.tensors[i].data;
        for (int64_t k = 0; k < (int64_t)(f.tensors[i].nbytes / 4); k++) finite &= isfinite(x[k]) != 0;
    }
    if (finite) genc_st_free(&f);
    CHECK(finite, "%s: the checkpoint on disk holds finite values only", name);
    finish_setup(&x);

    /* failing before the first checkpoint: says so and writes nothing */
    start(&x, PLAIN, config(20));
    x.m.poison = poison;
    x.m.poison_at = 3;
    char early[64];
    snprintf(early, sizeof early, "%s-early", name);
    run = run_in(early);
    run.save_every = 5;
    rc = genc_train_run(&x.t, &x.fam, &run, NULL);
    CHECK(rc == GENC_ERR && strstr(genc_error(), "no checkpoint was written") && saved_step(early) == -1,
          "%s: no checkpoint before the first save: %s", name, genc_error());
    finish_setup(&x);
}

/* genc_trainer_save never writes a non-finite tensor: the file on disk stays as it was. */
static void test_save_refuses_nonfinite(void) {
    genc_train_cfg cfg = config(3);
    cfg.ema = 0.5f;
    setup x;
    start(&x, PLAIN, cfg);
    genc_run_opts run = run_in("nan-save");
    CHECK(genc_train_run(&x.t, &x.fam, &run, NULL) == GENC_OK, "run: %s", genc_error());
    const char *path = dir("nan-save/model.safetensors");
    for (int where = 0; where < 3; where++) {
        float *v = where == 0 ? x.m.W->data : where == 1 ? x.t.opt.v[1] : x.t.ema.w[0];
        float keep = v[0];
        v[0] = where == 1 ? INFINITY : NAN;
        CHECK(genc_trainer_save(&x.t, &x.fam, path) == GENC_ERR && strstr(genc_error(), "NaN or an infinity"),
              "save with a non-finite %s is refused", where == 0 ? "weight" : where == 1 ? "moment" : "EMA value");
        v[0] = keep;
    }
    CHECK(saved_step("nan-save") == 3, "the good checkpoint stays");
    finish_setup(&x);
}

/* Straight to 30 steps vs stopped at 12 (--stop-at) or interrupted by SIGINT at step 9, then
 * resumed from the file into a fresh instance: the same checkpoint, byte for byte (weights,
 * moments, EMA, step, streams), and the same metrics rows. */
static char *slurp(const char *path, size_t *n) {
    void *d = NULL;
    *n = 0;
    genc_read_file(path, &d, n);
    return d;
}

static int same_file(const char *a, const char *b, int csv_cols) {
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y;
    if (same && csv_cols) { /* compare the first csv_cols columns of every row (the rest is timing) */
        char *sa, *sb, *la = strtok_r(x, "\n", &sa), *lb = strtok_r(y, "\n", &sb);
        int rows = 0;
        for (; same && la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb), rows++) {
            char *ea = la, *eb = lb;
            for (int c = 0; c < csv_cols && ea && eb; c++) { ea = strchr(ea + 1, ','); eb = strchr(eb + 1, ','); }
            same = ea && eb && ea - la == eb - lb && memcmp(la, lb, (size_t)(ea - la)) == 0;
        }
        same = same && !la && !lb && rows > 2;
    } else if (same) same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void test_exact_resume(void) {
    const float ema = 0.8f;
    for (int variant = 0; variant < 3; variant++) {
        const char *name = variant == 0 ? "straight" : variant == 1 ? "stopped" : "sigint";
        genc_train_cfg cfg = config(30);
        cfg.ema = ema;
        setup x;
        start(&x, NOISY, cfg);
        if (variant == 2) { x.m.poison = RAISE_SIGINT; x.m.poison_at = 9; }
        genc_run_opts run = run_in(name);
        run.stop_at = variant == 1 ? 12 : 0;
        run.catch_signals = 1;
        genc_train_result res;
        CHECK(genc_train_run(&x.t, &x.fam, &run, &res) == GENC_OK, "%s: %s", name, genc_error());
        if (variant == 2)
            CHECK(res.signal == SIGINT && res.step == 9 && saved_step(name) == 9,
                  "SIGINT at step 9: signal %d, checkpoint at step %lld", res.signal, (long long)saved_step(name));
        finish_setup(&x);
        if (variant == 0) continue;
        CHECK(resume_run(name, NOISY, ema, &res) == GENC_OK && res.step == 30 && res.signal == 0,
              "%s resumed to the end: %s", name, genc_error());
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/model.safetensors", dir("straight"));
        snprintf(b, sizeof b, "%s/model.safetensors", dir(name));
        CHECK(same_file(a, b, 0), "%s + resume: the same checkpoint as the straight run, byte for byte", name);
        snprintf(a, sizeof a, "%s/metrics.csv", dir("straight"));
        snprintf(b, sizeof b, "%s/metrics.csv", dir(name));
        CHECK(same_file(a, b, 4), "%s + resume: the same step, loss, lr and grad_norm rows", name);
    }
    CHECK(signal(SIGINT, SIG_DFL) == SIG_DFL, "the previous SIGINT handler is back after the run");
}

/* The checkpoint in run `name` as genc wrote it before the EMA warm-up existed: the same
 * tensors and metadata with "ema_warmup" taken out of "train". */
static int drop_ema_warmup(const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir(name));
    genc_st_file f;
    if (genc_st_read(path, &f)) return GENC_ERR;
    genc_st_entry *e = calloc((size_t)f.n_tensors, sizeof *e);
    genc_st_kv *kv = calloc((size_t)f.n_meta, sizeof *kv);
    char train[4096] = "";
    int rc = e && kv ? GENC_OK : GENC_ERR;
    for (int i = 0; rc == GENC_OK && i < f.n_tensors; i++) {
        const genc_st_tensor *t = &f.tensors[i];
        e[i].name = t->name;
        e[i].dtype = t->dtype;
        e[i].ndim = t->ndim;
        memcpy(e[i].shape, t->shape, sizeof t->shape);
        e[i].data = t->data;
    }
    for (int i = 0; rc == GENC_OK && i < f.n_meta; i++) {
        kv[i] = f.meta[i];
        if (strcmp(kv[i].key, "train") != 0) continue;
        const char *key = ",\"ema_warmup\":false";
        char *at = strstr(kv[i].value, key);
        if (!at || strlen(kv[i].value) >= sizeof train) { rc = GENC_ERR; break; }
        snprintf(train, sizeof train, "%.*s%s", (int)(at - kv[i].value), kv[i].value, at + strlen(key));
        kv[i].value = train;
    }
    if (rc == GENC_OK) rc = genc_st_write(path, e, f.n_tensors, kv, f.n_meta);
    free(e);
    free(kv);
    genc_st_free(&f);
    return rc;
}

/* A run saved with the constant-decay rule by an older genc ("train" without "ema_warmup")
 * resumes with that rule: stopped at step 12, the key removed, resumed to 30, it gives the
 * uninterrupted constant-rule run's checkpoint byte for byte (which keeps "ema_warmup": false),
 * and its EMA is not the warm-up run's (test_exact_resume's "straight", same data and seed). */
static void test_old_rule_resume(void) {
    const float ema = 0.8f;
    for (int variant = 0; variant < 2; variant++) {
        const char *name = variant == 0 ? "old-straight" : "old-stopped";
        genc_train_cfg cfg = config(30);
        cfg.ema = ema;
        cfg.ema_warmup = 0;
        setup x;
        start(&x, NOISY, cfg);
        genc_run_opts run = run_in(name);
        run.stop_at = variant == 1 ? 12 : 0;
        CHECK(genc_train_run(&x.t, &x.fam, &run, NULL) == GENC_OK, "%s: %s", name, genc_error());
        finish_setup(&x);
    }
    CHECK(drop_ema_warmup("old-stopped") == GENC_OK, "rewrite without \"ema_warmup\": %s", genc_error());
    genc_st_file f;
    genc_train_cfg got;
    int old = genc_checkpoint_open(dir("old-stopped"), &f) == GENC_OK;
    if (old) {
        old = !strstr(genc_st_meta(&f, "train"), "ema_warmup") &&
              genc_train_cfg_from_json(genc_st_meta(&f, "train"), &got) == GENC_OK && got.ema_warmup == 0;
        genc_st_free(&f);
    }
    CHECK(old, "the rewritten file has no \"ema_warmup\" and reads as the constant rule");
    genc_train_result res;
    CHECK(resume_run("old-stopped", NOISY, ema, &res) == GENC_OK && res.step == 30, "resumed: %s", genc_error());
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/model.safetensors", dir("old-straight"));
    snprintf(b, sizeof b, "%s/model.safetensors", dir("old-stopped"));
    CHECK(same_file(a, b, 0), "old rule + resume: the constant-rule run's checkpoint, byte for byte");
    float w_old[D], w_new[D];
    genc_st_file fo, fn;
    int ok = genc_checkpoint_open(dir("old-straight"), &fo) == GENC_OK;
    if (ok) {
        ok = genc_checkpoint_open(dir("straight"), &fn) == GENC_OK;
        if (ok) {
            ok = genc_st_get_f32(&fo, "ema.w", w_old, D) == GENC_OK && genc_st_get_f32(&fn, "ema.w", w_new, D) == GENC_OK;
            genc_st_free(&fn);
        }
        genc_st_free(&fo);
    }
    double apart = 0;
    for (int j = 0; ok && j < D; j++) apart = fmax(apart, fabs((double)w_old[j] - w_new[j]));
    CHECK(ok && apart > 1e-3, "the two rules' EMAs differ (by %.2g)", apart);
}

/* Leftover "<path>.tmp.<pid>" files of a dead writer are removed by the next save; one of a
 * live process is kept. */
static void test_stale_temps(void) {
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0); /* a pid whose process is gone */
    char stale[700], live[700];
    snprintf(stale, sizeof stale, "%s/model.safetensors.tmp.%d", dir("nan-save"), (int)child);
    snprintf(live, sizeof live, "%s/model.safetensors.tmp.%d", dir("nan-save"), (int)getppid());
    FILE *f = fopen(stale, "w"), *g = fopen(live, "w");
    if (f) fclose(f);
    if (g) fclose(g);
    setup x;
    start(&x, PLAIN, config(3));
    CHECK(genc_trainer_save(&x.t, &x.fam, dir("nan-save/model.safetensors")) == GENC_OK, "save: %s", genc_error());
    struct stat sb;
    CHECK(stat(stale, &sb) != 0, "the stale temporary is removed");
    CHECK(stat(live, &sb) == 0, "a live writer's temporary is kept");
    unlink(live);
    finish_setup(&x);
}

static void test_preflight(void) {
    genc_train_cfg cfg = config(10);
    genc_run_opts run = run_in("ols");
    CHECK(genc_train_preflight(&run, &cfg, 5, 0) == GENC_ERR && strstr(genc_error(), "already holds a run") &&
          strstr(genc_error(), "--resume") && strstr(genc_error(), "--out") && strstr(genc_error(), "--force"),
          "an existing run is refused, with the ways out: %s", genc_error());
    run.force = 1;
    CHECK(genc_train_preflight(&run, &cfg, 5, 0) == GENC_OK, "--force starts over");
    run.force = 0;
    run.resume = 1;
    CHECK(genc_train_preflight(&run, &cfg, 5, 0) == GENC_OK, "--resume continues");
    run = run_in("fresh");
    /* 8e11 parameters × 4 copies × 4 bytes = 12 TiB: more than any machine this runs on */
    CHECK(genc_train_preflight(&run, &cfg, 8e11, 1e9) == GENC_ERR && strstr(genc_error(), "GiB"),
          "a run larger than memory is refused with its size: %s", genc_error());
    double have = (double)genc_mem_limit() - (double)genc_mem_used();
    CHECK(have > 0 && genc_train_preflight(&run, &cfg, have / 64, 0) == GENC_OK,
          "a run of a quarter of the free limit is allowed (%.1f GiB free)", have / (1 << 30));
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/genc_test_trainer.XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_converges_to_ols();
    test_ema_decay_at();
    test_ema_rule_json();
    ema_case(0.6f, 1);
    ema_case(0.9f, 0);
    test_decay_groups();
    test_nonfinite_stops(POISON_LOSS, "nan-loss", "the loss is NaN");
    test_nonfinite_stops(POISON_GRAD, "nan-grad", "the gradient norm is NaN");
    test_save_refuses_nonfinite();
    test_exact_resume();
    test_old_rule_resume();
    test_stale_temps();
    test_preflight();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_dir);
    return tu_finish();
}
