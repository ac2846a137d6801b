/* A model as the shared denoiser, with a random small network (no training needed):
 * 1. Ray invariance: D(x; α, β) = D(k·x; k·α, k·β) for every process — the sampler's choice
 *    of normalisation (σ-space, variance preserving, flow path) does not change the denoiser.
 *    Float tolerance 1e-5 relative + 1e-5 absolute: the two calls differ only in the rounding
 *    of x·k and of the network input.
 * 2. The divergence by backpropagation equals central differences of the denoiser, exactly
 *    (mlp, per dimension) and along a probe (unet, Hutchinson form pᵀJp). Step h = 1e-2 in
 *    float: rounding of D (~1e-7·|D|/h ≈ 1e-5 per difference) plus truncation h²·D''' ≲ 1e-4;
 *    tolerance 2e-3 + 1e-3 relative.
 * 3. The configuration survives JSON; a config whose parameter count does not match the
 *    tensors, or with out-of-range sizes, is refused with a message.
 * 4. The training loss is finite, and differs between parameterisations at the same noise
 *    (the target really changes).
 * 5. Classifier-free guidance: scale 0 is the null class alone, scale 1 the conditional model
 *    alone (one pass each), scale 3 is F(∅) + 3·(F(c) − F(∅)) — checked through x0, which is
 *    affine in F: x0(3) = x0(∅) + 3·(x0(c) − x0(∅)). */
#include "genc/diffusion.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static genc_dmodel mk(genc_dnet net, genc_dproc proc, int C, int H, int W) {
    genc_dm_config cfg;
    genc_dm_config_default(&cfg, net, C, H, W);
    cfg.process = proc;
    cfg.pred = genc_dproc_default_pred(proc);
    cfg.hidden = net == GENC_DNET_UNET ? 8 : 16;
    cfg.groups = 4;
    cfg.heads = 2;
    genc_dmodel m;
    if (genc_dmodel_init(&m, &cfg, 3)) fprintf(stderr, "init: %s\n", genc_error());
    /* the zero-initialised output layers would make D trivially linear: give them weights */
    genc_rng r = genc_rng_make(9, 0);
    for (int i = 0; i < m.params.n; i++) genc_param_init_normal(m.params.list[i], &r, 0.3f);
    return m;
}

static void rays(void) {
    for (int k = 0; k < GENC_DPROC_COUNT; k++) {
        genc_dmodel m = mk(GENC_DNET_MLP, (genc_dproc)k, 2, 1, 1);
        genc_ctx *c = genc_ctx_new(0);
        genc_dm_denoiser d = {.m = &m, .c = c, .cfg = 1};
        float x[16], y[16], a[16], b[16];
        tu_randn(x, 16, 5, 1);
        for (int i = 0; i < 16; i++) y[i] = 0.37f * x[i];
        genc_dm_denoise(&d, x, 8, 2, 0.8, 0.6, a);
        genc_dm_denoise(&d, y, 8, 2, 0.8 * 0.37, 0.6 * 0.37, b);
        char what[64];
        snprintf(what, sizeof what, "%s: ray invariance", genc_dproc_name((genc_dproc)k));
        CHECK(tu_close(what, b, a, 16, 1e-5f, 1e-5f), "%s", what);
        genc_ctx_free(c);
        genc_dmodel_free(&m);
    }
}

/* clip = 1 clamps the estimate x0 elementwise to [−1, 1] and changes nothing else: the
 * unclamped estimate at a large noise level (where an ε-model's x0 = (x − β·ε)/α is far out of
 * range) clamped by hand equals the clamped one bit for bit */
static void clipped(void) {
    genc_dmodel m = mk(GENC_DNET_MLP, GENC_DPROC_DDPM_COSINE, 2, 1, 1);
    genc_ctx *c = genc_ctx_new(0);
    genc_dm_denoiser free_d = {.m = &m, .c = c, .cfg = 1}, clip_d = {.m = &m, .c = c, .cfg = 1, .clip = 1};
    float x[64], a[64], b[64];
    tu_randn(x, 64, 6, 30);
    genc_dm_denoise(&free_d, x, 32, 2, 0.02, 0.9998, a);
    genc_dm_denoise(&clip_d, x, 32, 2, 0.02, 0.9998, b);
    int out = 0, same = 1;
    for (int i = 0; i < 64; i++) {
        out += fabsf(a[i]) > 1;
        float want = a[i] < -1 ? -1 : a[i] > 1 ? 1 : a[i];
        same &= b[i] == want;
    }
    CHECK(out > 0, "the unclamped estimate leaves [-1, 1] (%d of 64), so the clamp is exercised", out);
    CHECK(same, "clip = 1 is the elementwise clamp of the estimate to [-1, 1]");
    genc_ctx_free(c);
    genc_dmodel_free(&m);
}

static void divergence(genc_dnet net, int C, int H, int W, int probe) {
    genc_dmodel m = mk(net, GENC_DPROC_EDM, C, H, W);
    genc_ctx *c = genc_ctx_new(0);
    genc_dm_denoiser d = {.m = &m, .c = c, .cfg = 1};
    int dim = C * H * W, n = 3;
    float *x = malloc(sizeof(float) * n * dim), *p = malloc(sizeof(float) * n * dim), *x0 = malloc(sizeof(float) * n * dim);
    float *xp = malloc(sizeof(float) * n * dim), *xm = malloc(sizeof(float) * n * dim);
    float *dp = malloc(sizeof(float) * n * dim), *dm = malloc(sizeof(float) * n * dim);
    double tr[3], fd[3] = {0, 0, 0}, sigma = 0.7, h = 1e-2;
    tu_randn(x, n * dim, 8, 0.8f);
    tu_randn(p, n * dim, 9, 1);
    CHECK(genc_dm_div(&d, x, n, dim, sigma, probe ? p : NULL, x0, tr) == GENC_OK, "div: %s", genc_error());
    float *want = malloc(sizeof(float) * n * dim);
    genc_dm_denoise(&d, x, n, dim, 1, sigma, want);
    CHECK(tu_close("div's x0 = denoise", x0, want, n * dim, 1e-6f, 1e-5f), "x0 from the divergence pass");
    int dirs = probe ? 1 : dim;
    for (int j = 0; j < dirs; j++) {
        for (int i = 0; i < n * dim; i++) {
            float e = probe ? p[i] : (float)(i % dim == j);
            xp[i] = x[i] + (float)h * e;
            xm[i] = x[i] - (float)h * e;
        }
        genc_dm_denoise(&d, xp, n, dim, 1, sigma, dp);
        genc_dm_denoise(&d, xm, n, dim, 1, sigma, dm);
        for (int r = 0; r < n; r++)
            for (int q = 0; q < dim; q++) {
                double e = probe ? p[r * dim + q] : (q == j);
                fd[r] += e * (dp[r * dim + q] - dm[r * dim + q]) / (2 * h);
            }
    }
    for (int r = 0; r < n; r++)
        CHECK(fabs(tr[r] - fd[r]) < 2e-3 + 1e-3 * fabs(fd[r]), "%s divergence %s: backprop %.6f, differences %.6f",
              genc_dnet_name(net), probe ? "(probe)" : "(exact)", tr[r], fd[r]);
    free(x); free(p); free(x0); free(xp); free(xm); free(dp); free(dm); free(want);
    genc_ctx_free(c);
    genc_dmodel_free(&m);
}

static void configs(void) {
    genc_dm_config a, b;
    genc_dm_config_default(&a, GENC_DNET_DIT, 1, 28, 28);
    a.process = GENC_DPROC_FLOW;
    a.pred = GENC_DPRED_VELOCITY;
    a.patch = 7;
    a.n_classes = 10;
    a.sigma_data = 0.37f;
    char *js = genc_dm_config_to_json(&a);
    CHECK(genc_dm_config_from_json(js, &b) == GENC_OK && memcmp(&a, &b, sizeof a) == 0, "config JSON round trip: %s", js);
    free(js);
    const char *bad[] = {
        "{\"process\": \"edm\", \"pred\": \"edm\", \"net\": \"mlp\", \"hidden\": 100000}",
        "{\"process\": \"edm\", \"pred\": \"edm\", \"net\": \"unet\", \"height\": 30, \"width\": 28}",
        "{\"process\": \"nope\", \"pred\": \"edm\", \"net\": \"mlp\"}",
        "{\"pred\": \"edm\", \"net\": \"mlp\"}",
        "[1, 2]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(genc_dm_config_from_json(bad[i], &b) == GENC_ERR && strlen(genc_error()) > 0, "refused: %s", bad[i]);
}

static void losses(void) {
    float x0[64];
    tu_randn(x0, 64, 1, 0.5f);
    float l[GENC_DPRED_COUNT];
    for (int k = 0; k < GENC_DPRED_COUNT; k++) {
        genc_dmodel m = mk(GENC_DNET_MLP, GENC_DPROC_VP, 2, 1, 1);
        m.cfg.pred = (genc_dpred)k;
        genc_ctx *c = genc_ctx_new(0);
        genc_rng r = genc_rng_make(4, 0);
        l[k] = genc_dmodel_loss(c, &m, x0, NULL, 32, 0, &r)->data[0];
        CHECK(isfinite(l[k]), "%s loss %g", genc_dpred_name((genc_dpred)k), l[k]);
        genc_ctx_free(c);
        genc_dmodel_free(&m);
    }
    CHECK(l[GENC_DPRED_EPS] != l[GENC_DPRED_X0] && l[GENC_DPRED_X0] != l[GENC_DPRED_V], "targets differ per parameterisation");
}

static void guidance(void) {
    genc_dm_config cfg;
    genc_dm_config_default(&cfg, GENC_DNET_UNET, 1, 8, 8);
    cfg.hidden = 8;
    cfg.groups = 4;
    cfg.heads = 2;
    cfg.n_classes = 3;
    genc_dmodel m;
    genc_dmodel_init(&m, &cfg, 2);
    genc_rng r = genc_rng_make(9, 0);
    for (int i = 0; i < m.params.n; i++) genc_param_init_normal(m.params.list[i], &r, 0.3f);
    genc_ctx *c = genc_ctx_new(0);
    enum { n = 3, D = 64 };
    float x[n * D], u[n * D], cnd[n * D], g0[n * D], g1[n * D], g3[n * D], want[n * D];
    const int32_t lab[n] = {0, 2, 1};
    tu_randn(x, n * D, 4, 1);
    genc_dm_denoiser d = {.m = &m, .c = c, .cfg = 1};
    genc_dm_denoise(&d, x, n, D, 1, 0.8, u);                 /* labels NULL: null class */
    d.labels = lab;
    genc_dm_denoise(&d, x, n, D, 1, 0.8, cnd);
    genc_dm_denoise(&d, x, n, D, 1, 0.8, g1);
    d.cfg = 0;
    genc_dm_denoise(&d, x, n, D, 1, 0.8, g0);
    d.cfg = 3;
    genc_dm_denoise(&d, x, n, D, 1, 0.8, g3);
    for (int i = 0; i < n * D; i++) want[i] = u[i] + 3 * (cnd[i] - u[i]);
    CHECK(tu_close("cfg 0 = null class", g0, u, n * D, 1e-5f, 1e-5f), "cfg 0");
    CHECK(memcmp(g1, cnd, sizeof g1) == 0, "cfg 1 is the conditional pass itself");
    CHECK(tu_close("cfg 3", g3, want, n * D, 1e-4f, 1e-4f), "cfg 3");
    double diff = 0;
    for (int i = 0; i < n * D; i++) diff += fabs(cnd[i] - u[i]);
    CHECK(diff > 1e-2, "the class changes the output (%g)", diff);
    genc_ctx_free(c);
    genc_dmodel_free(&m);
}

int main(void) {
    rays();
    clipped();
    guidance();
    divergence(GENC_DNET_MLP, 2, 1, 1, 0);
    divergence(GENC_DNET_MLP, 2, 1, 1, 1);
    divergence(GENC_DNET_UNET, 1, 8, 8, 1);
    configs();
    losses();
    return tu_finish();
}
