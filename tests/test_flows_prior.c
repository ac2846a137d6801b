/* Glow's learned prior (--prior-net conv): each factored-out piece z ~ N(μ(h), e^{2·logs(h)})
 * from a 3×3 convolution of the kept half h, the last piece with learned per-channel (μ, logs).
 * The latent genc writes is the standardised ε = (z − μ)·e^{−logs}. Checked here:
 * - zero-initialised, the prior is the standard Gaussian: log p(x) and the latent equal those
 *   of the same flow without a prior net (whose pieces are scored by Σ −z²/2 − ½ ln 2π);
 * - decode(encode(x)) == x for a whole three-level flow with a trained-looking prior;
 * - sampling at temperature T: the decoded sample's last piece is μ + T·e^{logs}·ε exactly;
 * - configs: an older checkpoint's config without "prior_net" means none, the JSON round trip
 *   keeps it, and conv with the logistic prior or an unknown name is refused.
 * The log-det of x → ε against a numeric Jacobian and the parity with PyTorch are in
 * test_flows and test_flows_parity. */
#include "genc/flows.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/flows/flows_internal.h"

static genc_flow_config glow_cfg(int levels, int side, genc_flow_prior_net pn) {
    genc_flow_config cfg;
    genc_flow_config_unset(&cfg, GENC_FLOW_GLOW);
    cfg.C = 1, cfg.H = cfg.W = side;
    cfg.depth = 2, cfg.width = 8, cfg.levels = levels;
    cfg.prior_net = pn;
    genc_flow_config_resolve(&cfg);
    return cfg;
}

/* Small random values on every trained tensor of f (perm and sign are fixed). */
static void perturb(genc_flow *f, uint64_t seed, float std) {
    genc_rng r = genc_rng_make(seed, 0);
    for (int i = 0; i < f->params.n; i++) {
        genc_tensor *p = f->params.list[i];
        if (strstr(p->name, "perm") || strstr(p->name, "sign")) continue;
        for (int64_t k = 0; k < p->n; k++) p->data[k] += std * genc_rng_normal(&r);
    }
    f->actnorm_pending = 0;
}

static void zero_init_is_standard(void) {
    genc_flow_config cn = glow_cfg(3, 8, GENC_PRIOR_NET_NONE), cc = glow_cfg(3, 8, GENC_PRIOR_NET_CONV);
    genc_flow fn, fc;
    CHECK(genc_flow_init(&fn, &cn, 4) == GENC_OK && genc_flow_init(&fc, &cc, 4) == GENC_OK, "init: %s", genc_error());
    CHECK(cc.prior_net == GENC_PRIOR_NET_CONV && glow_cfg(3, 8, (genc_flow_prior_net)-1).prior_net == GENC_PRIOR_NET_CONV,
          "glow on images defaults to the learned prior");
    /* the same trained-looking flow in both; the conv flow's prior tensors stay at zero */
    perturb(&fn, 5, 0.1f);
    for (int i = 0; i < fn.params.n; i++) {
        genc_tensor *p = fn.params.list[i], *q = genc_params_find(&fc.params, p->name);
        CHECK(q && q->n == p->n, "%s missing in the conv flow", p->name);
        if (q && q->n == p->n) memcpy(q->data, p->data, sizeof(float) * (size_t)p->n);
    }
    fc.actnorm_pending = 0;
    CHECK(fc.params.n == fn.params.n + 2 * 2 + 1, "two split convs (weight, bias) and the top: %d vs %d tensors",
          fc.params.n, fn.params.n);
    genc_ctx *c = genc_ctx_new(0);
    int B = 3, sh[4] = {B, 1, 8, 8};
    genc_tensor *x = genc_new(c, 4, sh);
    tu_randn(x->data, x->n, 6, 1.0f);
    float zn[3 * 64], zc[3 * 64];
    genc_tensor *ln = genc_flow_log_prob(c, &fn, x, zn), *lc = genc_flow_log_prob(c, &fc, x, zc);
    /* μ = 0 and logs = 0: (z − 0)·e^{−0} = z and Σ logs = 0 exactly, so equal bit for bit */
    CHECK(memcmp(zn, zc, sizeof zn) == 0, "zero-initialised prior: the latent is the raw z");
    CHECK(memcmp(lc->data, ln->data, sizeof(float) * B) == 0, "zero prior: log p %.9g vs standard Gaussian %.9g",
          lc->data[0], ln->data[0]);
    genc_ctx_free(c);
    genc_flow_free(&fn);
    genc_flow_free(&fc);
}

static void invertible(void) {
    genc_flow_config cfg = glow_cfg(3, 8, GENC_PRIOR_NET_CONV);
    genc_flow f;
    genc_flow_init(&f, &cfg, 7);
    perturb(&f, 8, 0.1f);
    genc_ctx *c = genc_ctx_new(0);
    int B = 4, sh[4] = {B, 1, 8, 8};
    genc_tensor *x = genc_new(c, 4, sh);
    tu_randn(x->data, x->n, 9, 1.0f);
    float *z = malloc(sizeof(float) * (size_t)x->n);
    genc_flow_log_prob(c, &f, x, z);
    double worst = 0;
    for (int64_t i = 0; i < x->n; i++) worst = fmax(worst, fabs(z[i]));
    genc_tensor *xr = genc_flow_inverse(c, &f, z, B);
    /* each of the 3 levels' layers round-trips to a few ulps of O(1) values (test_flows: 1e-5
     * per layer); ~20 layers and two prior convs compound to 1e-4 */
    CHECK(tu_close("decode(encode(x)) with the learned prior", xr->data, x->data, x->n, 1e-4f, 1e-4f), "round trip");
    CHECK(worst > 0 && worst < 50, "latents are finite and O(1) (max %g)", worst);
    free(z);
    genc_ctx_free(c);
    genc_flow_free(&f);
}

/* Decode ε ~ N(0, T²) and run the layers forward again: the last piece is μ + e^{logs}·ε with
 * the top's learned (μ, logs), which the test sets. */
static void temperature(void) {
    genc_flow_config cfg = glow_cfg(2, 8, GENC_PRIOR_NET_CONV);
    genc_flow f;
    genc_flow_init(&f, &cfg, 10);
    perturb(&f, 11, 0.1f);
    int n = f.Cz, S = f.Hz * f.Wz;
    CHECK(n == 8 && S == 4, "two levels on 8×8: the last piece is 8×2×2 (%d×%d)", n, S);
    for (int k = 0; k < n; k++) {
        f.top->data[k] = 0.5f * (float)(k - 3);                 /* μ */
        f.top->data[n + k] = 0.3f * (float)(k % 3) - 0.3f;      /* logs */
    }
    genc_ctx *c = genc_ctx_new(0);
    int B = 5;
    const float T = 0.7f;
    float *eps = malloc(sizeof(float) * (size_t)B * f.D);
    genc_rng r = genc_rng_make(12, 0);
    genc_flow_prior_sample(GENC_PRIOR_GAUSSIAN, &r, T, eps, B * f.D);
    genc_tensor *h = genc_flow_inverse(c, &f, eps, B), *ld = genc_zeros(c, 1, &B);
    for (int i = 0; i < f.n_layers; i++) {
        genc_tensor *piece = NULL;
        h = genc_flow_layer_forward(c, &f, i, h, &ld, &piece);
    }
    float *want = malloc(sizeof(float) * (size_t)h->n);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < n; k++)
            for (int s = 0; s < S; s++)
                want[((int64_t)b * n + k) * S + s] =
                    f.top->data[k] + expf(f.top->data[n + k]) * eps[(int64_t)b * f.D + f.zoff_final + k * S + s];
    /* a decode and a forward pass through ~12 layers: 1e-4, as for the round trips */
    CHECK(h->n == (int64_t)B * n * S && tu_close("last piece = mu + e^logs * T eps", h->data, want, h->n, 1e-4f, 1e-4f),
          "sampling at temperature %g", T);
    free(eps), free(want);
    genc_ctx_free(c);
    genc_flow_free(&f);
}

/* js with its first `from` replaced by `to`, into out. */
static void replaced(const char *js, const char *from, const char *to, char *out, size_t cap) {
    const char *at = strstr(js, from);
    if (!at) {
        snprintf(out, cap, "%s", js);
        return;
    }
    snprintf(out, cap, "%.*s%s%s", (int)(at - js), js, to, at + strlen(from));
}

static void configs(void) {
    genc_flow_config cfg = glow_cfg(2, 8, GENC_PRIOR_NET_CONV), back;
    char *js = genc_flow_config_to_json(&cfg), buf[2048];
    CHECK(genc_flow_config_from_json(js, &back) == GENC_OK && back.prior_net == GENC_PRIOR_NET_CONV, "round trip: %s",
          genc_error());
    CHECK(genc_flow_param_count(&back) == genc_flow_param_count(&cfg), "same parameter count after the round trip");
    /* the same config as an older genc wrote it: without the key */
    const char *key = "\"prior_net\":\"conv\",";
    CHECK(strstr(js, key) != NULL, "config JSON holds %s: %s", key, js);
    replaced(js, key, "", buf, sizeof buf);
    CHECK(genc_flow_config_from_json(buf, &back) == GENC_OK && back.prior_net == GENC_PRIOR_NET_NONE,
          "a config without prior_net (older checkpoints) has none: %s", genc_error());
    const char *bad[][2] = {
        {"\"prior\":\"gaussian\"", "\"prior\":\"logistic\""},
        {key, "\"prior_net\":\"mlp\","},
        {key, "\"prior_net\":7,"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        replaced(js, bad[i][0], bad[i][1], buf, sizeof buf);
        genc_clear_error();
        CHECK(strcmp(buf, js) != 0 && genc_flow_config_from_json(buf, &back) == GENC_ERR && strstr(genc_error(), "prior"),
              "bad config %zu: %s", i, genc_error());
    }
    free(js);
    genc_flow_prior_net pn;
    CHECK(genc_flow_prior_net_parse("conv", &pn) == GENC_OK && pn == GENC_PRIOR_NET_CONV, "parse conv");
    CHECK(genc_flow_prior_net_parse("learned", &pn) == GENC_ERR, "unknown prior network refused");
}

int main(void) {
    zero_init_is_standard();
    invertible();
    temperature();
    configs();
    return tu_finish();
}
