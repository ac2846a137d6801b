/* PyTorch parity of the flows (tests/parity/flows.py): for a small NICE, RealNVP and Glow on
 * 4×4 images, a Glow with the learned prior on 16×16 images (three levels: two conv-scored
 * factor-outs and a learned top), and a Glow on 2D points without and with the learned top,
 * all with the same random weights, log p(v + u) per example (flow, preprocessing Jacobian,
 * ln 256 per dimension) and the gradient of −mean log p / D for every trained tensor. */
#include "genc/flows.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

typedef struct pcase {
    const char *name;
    genc_flow_arch arch;
    genc_flow_coupling coupling;
    genc_flow_prior prior;
    genc_flow_pre pre;
    int C, H, W, depth, levels, width, hidden, toy;
    genc_flow_prior_net prior_net;
} pcase;

static void run_case(const genc_st_file *fx, const pcase *k) {
    genc_flow_config cfg;
    genc_flow_config_unset(&cfg, k->arch);
    cfg.coupling = k->coupling, cfg.prior = k->prior, cfg.pre = k->pre, cfg.prior_net = k->prior_net;
    cfg.C = k->C, cfg.H = k->H, cfg.W = k->W;
    cfg.depth = k->depth, cfg.levels = k->levels, cfg.width = k->width, cfg.hidden = k->hidden;
    cfg.toy = k->toy ? GENC_TOY_8GAUSSIANS : -1;
    genc_flow_config_resolve(&cfg);
    genc_flow f;
    if (genc_flow_init(&f, &cfg, 1)) {
        CHECK(0, "%s: init: %s", k->name, genc_error());
        return;
    }
    f.actnorm_pending = 0;   /* the fixture's ActNorm values are the trained state */
    char nm[160];
    for (int i = 0; i < f.params.n; i++) {
        genc_tensor *p = f.params.list[i];
        snprintf(nm, sizeof nm, "%s.%s", k->name, p->name);
        int64_t n;
        float *v = tu_get(fx, nm, &n);
        CHECK(n == p->n, "%s: %lld values for %lld", nm, (long long)n, (long long)p->n);
        memcpy(p->data, v, sizeof(float) * (size_t)(n < p->n ? n : p->n));
        free(v);
    }
    int B = 3;
    int64_t n;
    snprintf(nm, sizeof nm, "%s.v", k->name);
    float *v = tu_get(fx, nm, &n);
    snprintf(nm, sizeof nm, "%s.u", k->name);
    float *u = tu_get(fx, nm, &n);
    genc_ctx *c = genc_ctx_new(0);
    int sh[4] = {B, cfg.C, cfg.H, cfg.W};
    genc_tensor *x = genc_new(c, 4, sh);
    double jac[3];
    genc_flow_preprocess(&cfg, v, u, B, x->data, jac);
    genc_tensor *lp = genc_flow_log_prob(c, &f, x, NULL);
    genc_tensor *j = genc_new1(c, B);
    for (int b = 0; b < B; b++) j->data[b] = (float)jac[b];
    genc_tensor *logp = genc_add(c, lp, j);
    double dn = k->toy ? 1.0 : (double)f.D;
    genc_tensor *loss = genc_scale(c, genc_mean(c, logp), (float)(-1.0 / dn));
    genc_params_zero_grad(&f.params);
    genc_backward(c, loss);
    snprintf(nm, sizeof nm, "%s.logp", k->name);
    /* log p ≈ −10³ nats summed over 16 (256) dims in float against double: 1e-5 relative, plus
     * the float rounding of the 8-bit accounting (16·ln 256 ≈ 89) at 1e-4 absolute; measured
     * worst 1e-7 relative, the learned-prior case included */
    tu_expect(fx, nm, logp, logp->data, 2e-3f, 1e-5f);
    for (int i = 0; i < f.params.n; i++) {
        genc_tensor *p = f.params.list[i];
        if (strstr(p->name, "perm") || strstr(p->name, "sign")) continue;
        snprintf(nm, sizeof nm, "%s.grad.%s", k->name, p->name);
        /* float backward through ~20 layers against double: gradients of size ~1 agree to
         * ~1e-5 (measured worst 2e-4 relative, on a 5e-4 entry); atol covers entries that are
         * sums of cancelling terms */
        tu_expect(fx, nm, p, p->grad, 2e-4f, 2e-3f);
    }
    free(v), free(u);
    genc_ctx_free(c);
    genc_flow_free(&f);
}

int main(void) {
    genc_st_file fx;
    if (tu_fixture("flows.py", "flows_parity.safetensors", &fx)) return 1;
    pcase cases[] = {
        {"nice", GENC_FLOW_NICE, GENC_COUPLING_ADDITIVE, GENC_PRIOR_LOGISTIC, GENC_PRE_NONE, 1, 4, 4, 4, 1, 8, 2, 0, 0},
        {"realnvp", GENC_FLOW_REALNVP, GENC_COUPLING_AFFINE, GENC_PRIOR_GAUSSIAN, GENC_PRE_LOGIT, 1, 4, 4, 2, 2, 8, 3, 0, 0},
        {"glow", GENC_FLOW_GLOW, GENC_COUPLING_AFFINE, GENC_PRIOR_GAUSSIAN, GENC_PRE_CENTER, 1, 4, 4, 2, 2, 8, 3, 0, 0},
        {"glow_prior", GENC_FLOW_GLOW, GENC_COUPLING_AFFINE, GENC_PRIOR_GAUSSIAN, GENC_PRE_CENTER, 1, 16, 16, 2, 3, 8, 3, 0,
         GENC_PRIOR_NET_CONV},
        {"glow2d", GENC_FLOW_GLOW, GENC_COUPLING_AFFINE, GENC_PRIOR_GAUSSIAN, GENC_PRE_NONE, 2, 1, 1, 2, 1, 8, 2, 1, 0},
        {"glow2d_prior", GENC_FLOW_GLOW, GENC_COUPLING_AFFINE, GENC_PRIOR_GAUSSIAN, GENC_PRE_NONE, 2, 1, 1, 2, 1, 8, 2, 1,
         GENC_PRIOR_NET_CONV},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&fx, &cases[i]);
    genc_st_free(&fx);
    return tu_finish();
}
