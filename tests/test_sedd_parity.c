/* Parity with PyTorch (tests/parity/sedd.py): SEDD noise schedules and Monte-Carlo levels, the
 * prior KL, the denoising
 * score entropy loss with its per-sequence sums and its gradient with respect to the network
 * outputs (absorbing and uniform), and one reverse step of the Euler, Tweedie τ-leaping and
 * denoising samplers. The reference derives everything from explicit rate matrices with
 * torch.matrix_exp and autograd in float64; the C code uses closed forms in double.
 *
 * Tolerances: relative 1e-5 on every value (float32 storage of the expectations costs 6e-8).
 * Gradients: relative 1e-5 plus an absolute floor of 1e-6·max|grad|, because their entries span
 * ten decades (s − r with r up to ~1e6 next to scores ~1e-3) and the tiny ones are sums of
 * terms that cancel. The uniform prior KL is ~1e-16, below what matrix_exp resolves, so it is
 * compared with an absolute 1e-12. TU_VERBOSE=1 prints the worst ratio of each check. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "models/lm/sedd.h"

static genc_st_file F;

static float *get(const char *pre, const char *name, int64_t *n) {
    char key[128];
    snprintf(key, sizeof key, "%s%s", pre, name);
    return tu_get(&F, key, n);
}

static void close_verbose(const char *what, const float *got, const float *want, int64_t n, float atol, float rtol) {
    tu_close(what, got, want, n, atol, rtol);
    if (getenv("TU_VERBOSE")) {
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double r = fabs((double)got[i] - want[i]) / (atol + rtol * fabs((double)want[i]));
            if (r > worst) worst = r;
        }
        printf("  %-34s worst ratio %.3f\n", what, worst);
    }
}

static void schedules(const char *g_name, genc_sedd_graph g) {
    char pre[64], what[128];
    snprintf(pre, sizeof pre, "%s.", g_name);
    int64_t n;
    float *t = get(pre, "t", &n);
    float got[10][16], *u = get(pre, "u", NULL);
    for (int i = 0; i < n; i++) {
        got[0][i] = (float)genc_sedd_sigma(g, t[i]);
        got[1][i] = (float)genc_sedd_dsigma(g, t[i]);
        for (int k = 0; k < 4; k++) { /* ranges [0, 1] and [0.2, 0.7]; coins 0.2 (t part), 0.8 (m part) */
            double s, w;
            genc_sedd_mc_level(g, u[i], k % 2 ? 0.8 : 0.2, k / 2 ? 0.2 : 0.0, k / 2 ? 0.7 : 1.0, &s, &w);
            got[2 + 2 * k][i] = (float)s;
            got[3 + 2 * k][i] = (float)w;
        }
    }
    static const char *names[] = {"sigma", "dsigma", "mc0.t.sigma", "mc0.t.weight", "mc0.m.sigma", "mc0.m.weight",
                                  "mc1.t.sigma", "mc1.t.weight", "mc1.m.sigma", "mc1.m.weight"};
    for (int k = 0; k < 10; k++) {
        float *want = get(pre, names[k], NULL);
        snprintf(what, sizeof what, "%s %s", g_name, names[k]);
        close_verbose(what, got[k], want, n, 1e-7f, 1e-5f);
        free(want);
    }
    float *kl = get(pre, "prior_kl", NULL), mine = (float)genc_sedd_prior_kl(g);
    snprintf(what, sizeof what, "%s prior KL", g_name);
    if (g == GENC_SEDD_ABSORB) close_verbose(what, &mine, kl, 1, 0.f, 1e-5f);
    else close_verbose(what, &mine, kl, 1, 1e-12f, 0.f);
    free(kl);
    free(t);
    free(u);
}

static void dse(const char *g_name, genc_sedd_graph g) {
    char pre[64], what[128];
    snprintf(pre, sizeof pre, "dse_%s.", g_name);
    int64_t n, nx, nb;
    float *out = get(pre, "out", &n), *x0f = get(pre, "x0", &nx), *xtf = get(pre, "xt", NULL);
    float *sigma = get(pre, "sigma", &nb), *weight = get(pre, "weight", NULL);
    int B = (int)nb, T = (int)(nx / nb), V = (int)(n / nx);
    int32_t *x0 = malloc(sizeof(int32_t) * nx), *xt = malloc(sizeof(int32_t) * nx);
    for (int64_t i = 0; i < nx; i++) { x0[i] = (int32_t)x0f[i]; xt[i] = (int32_t)xtf[i]; }
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *o = genc_new2(c, B * T, V);
    memcpy(o->data, out, sizeof(float) * n);
    o->requires_grad = 1;
    double per_seq[16];
    genc_tensor *loss = genc_sedd_dse(c, g, o, x0, xt, sigma, weight, B, T, (float)(B * T), per_seq);
    genc_backward(c, loss);
    float *want = get(pre, "loss", NULL);
    snprintf(what, sizeof what, "%s DSE loss", g_name);
    close_verbose(what, loss->data, want, 1, 0.f, 1e-5f);
    free(want);
    want = get(pre, "per_seq", NULL);
    float ps[16];
    for (int b = 0; b < B; b++) ps[b] = (float)per_seq[b];
    snprintf(what, sizeof what, "%s DSE per sequence", g_name);
    close_verbose(what, ps, want, B, 0.f, 1e-5f);
    free(want);
    want = get(pre, "grad", NULL);
    float gmax = 0;
    for (int64_t i = 0; i < n; i++) gmax = fmaxf(gmax, fabsf(want[i]));
    snprintf(what, sizeof what, "%s DSE grad (max |g| %.3g)", g_name, gmax);
    close_verbose(what, o->grad, want, n, 1e-6f * gmax, 1e-5f);
    free(want);
    genc_ctx_free(c);
    free(out); free(x0f); free(xtf); free(sigma); free(weight); free(x0); free(xt);
}

static void steps(void) {
    int ns = atoi(genc_st_meta(&F, "steps") ? genc_st_meta(&F, "steps") : "0");
    CHECK(ns > 0, "fixture has sampler steps");
    for (int k = 0; k < ns; k++) {
        char pre[32], key[64], what[128];
        snprintf(pre, sizeof pre, "step%d.", k);
        snprintf(key, sizeof key, "%sgraph", pre);
        genc_sedd_graph g = strcmp(genc_st_meta(&F, key), "absorb") == 0 ? GENC_SEDD_ABSORB : GENC_SEDD_UNIFORM;
        snprintf(key, sizeof key, "%skind", pre);
        const char *kn = genc_st_meta(&F, key);
        genc_sedd_step kind = strcmp(kn, "euler") == 0 ? GENC_SEDD_STEP_EULER
                              : strcmp(kn, "tweedie") == 0 ? GENC_SEDD_STEP_TWEEDIE : GENC_SEDD_STEP_DENOISE;
        int64_t V;
        float *o = get(pre, "o", &V), *x = get(pre, "x", NULL), *s = get(pre, "sigma", NULL);
        float *ds = get(pre, "dsigma", NULL), *want = get(pre, "probs", NULL);
        double p[GENC_VOCAB];
        double sum = genc_sedd_step_probs(g, kind, o, (int)V, (int)x[0], s[0], ds[0], p);
        float got[GENC_VOCAB];
        for (int y = 0; y < V; y++) got[y] = (float)(p[y] / sum);
        snprintf(what, sizeof what, "step %d (%s %s, x=%d, sigma %.3g, dsigma %.3g)", k,
                 g == GENC_SEDD_ABSORB ? "absorb" : "uniform", kn, (int)x[0], s[0], ds[0]);
        close_verbose(what, got, want, V, 1e-7f, 1e-5f);
        free(o); free(x); free(s); free(ds); free(want);
    }
}

int main(void) {
    if (tu_fixture("sedd.py", "sedd_parity.safetensors", &F)) return tu_finish();
    schedules("absorb", GENC_SEDD_ABSORB);
    schedules("uniform", GENC_SEDD_UNIFORM);
    dse("absorb", GENC_SEDD_ABSORB);
    dse("uniform", GENC_SEDD_UNIFORM);
    steps();
    genc_st_free(&F);
    return tu_finish();
}
