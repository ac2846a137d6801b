/* Exact test likelihood of a flow. Images: each test image dequantised once, the NLL of the
 * 8-bit data in nats per image, −(log p_flow(y) + log|∂y/∂v|) (flow.c), and bits/dim = that
 * / (D ln 2). With uniform noise this is the standard single-sample variational bound on the
 * discrete NLL that the flow papers report. 2D: the mean NLL of fresh points, next to the
 * toy's true entropy (no model can go below it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flows_internal.h"

#define EVAL_BATCH 250
#define TOY_POINTS 20000

/* Σ over examples of −log p in nats, for B examples whose flow inputs are in y. */
static double batch_nll(genc_ctx *c, genc_flow *f, const float *y, const double *jac, int B) {
    genc_ctx_reset(c);
    int sh[4] = {B, f->cfg.C, f->cfg.H, f->cfg.W};
    genc_tensor *x = genc_new(c, 4, sh);
    memcpy(x->data, y, sizeof(float) * (size_t)x->n);
    genc_tensor *lp = genc_flow_log_prob(c, f, x, NULL);
    double s = 0;
    for (int b = 0; b < B; b++) s -= lp->data[b] + (jac ? jac[b] : 0);
    return s;
}

int genc_flow_evaluate(genc_flow *f, int64_t max_n, uint64_t seed, genc_flow_eval_result *r) {
    memset(r, 0, sizeof *r);
    r->dims = f->D;
    r->entropy = NAN;
    genc_images test;
    memset(&test, 0, sizeof test);
    int toy = f->cfg.toy >= 0;
    if (!toy && genc_images_load(f->cfg.data, GENC_SPLIT_TEST, &test)) return genc_wrap_error("test data");
    if (!toy && (test.channels != f->cfg.C || test.height != f->cfg.H || test.width != f->cfg.W)) {
        genc_images_free(&test);
        return genc_set_error("test data %s: images are %dx%dx%d, the flow takes %dx%dx%d", f->cfg.data, test.channels,
                              test.height, test.width, f->cfg.C, f->cfg.H, f->cfg.W);
    }
    int64_t n = toy ? TOY_POINTS : test.n;
    if (max_n > 0 && max_n < n) n = max_n;
    int64_t bd = (int64_t)EVAL_BATCH * f->D;
    float *pix = malloc(sizeof(float) * (size_t)bd), *u = malloc(sizeof(float) * (size_t)bd), *y = malloc(sizeof(float) * (size_t)bd);
    double *jac = malloc(sizeof(double) * EVAL_BATCH);
    genc_ctx *c = genc_ctx_new(0);
    if (!pix || !u || !y || !jac || !c) {
        free(pix), free(u), free(y), free(jac);
        genc_ctx_free(c);
        genc_images_free(&test);
        return genc_set_error("out of memory: flow evaluation");
    }
    int prev = genc_no_grad(c);
    genc_rng rng = genc_rng_make(seed, 7);
    double total = 0;
    for (int64_t first = 0; first < n; first += EVAL_BATCH) {
        int B = (int)(n - first < EVAL_BATCH ? n - first : EVAL_BATCH);
        if (toy) genc_toy_sample((genc_toy)f->cfg.toy, &rng, B, pix);
        else {
            genc_images_get(&test, first, B, 0.f, 255.f, pix, NULL);
            for (int64_t i = 0; i < (int64_t)B * f->D; i++) pix[i] = rintf(pix[i]);
            genc_rng_fill_uniform(&rng, u, (int64_t)B * f->D);
        }
        genc_flow_preprocess(&f->cfg, pix, u, B, y, jac);
        total += batch_nll(c, f, y, jac, B);
    }
    genc_restore_grad(c, prev);
    r->n = n;
    r->nll = total / (double)n;
    r->bpd = r->nll / ((double)f->D * log(2.0));
    if (toy && genc_toy_has_density((genc_toy)f->cfg.toy)) r->entropy = genc_toy_entropy((genc_toy)f->cfg.toy);
    free(pix), free(u), free(y), free(jac);
    genc_ctx_free(c);
    genc_images_free(&test);
    return isfinite(r->nll) ? GENC_OK : genc_set_error("the test NLL is not finite");
}

int genc_flow_density_grid(genc_flow *f, double lo, double hi, int nx, int ny, double *out) {
    if (f->cfg.toy < 0 || f->D != 2) return genc_set_error("a density grid needs a 2D flow");
    genc_ctx *c = genc_ctx_new(0);
    float *xy = malloc(sizeof(float) * 2 * (size_t)nx);
    if (!c || !xy) {
        genc_ctx_free(c);
        free(xy);
        return genc_set_error("out of memory: density grid");
    }
    int prev = genc_no_grad(c);
    for (int j = 0; j < ny; j++) {
        for (int i = 0; i < nx; i++) {
            xy[2 * i] = (float)(lo + (hi - lo) * (i + 0.5) / nx);
            xy[2 * i + 1] = (float)(lo + (hi - lo) * (j + 0.5) / ny);
        }
        genc_ctx_reset(c);
        int sh[4] = {nx, 2, 1, 1};
        genc_tensor *x = genc_new(c, 4, sh);
        memcpy(x->data, xy, sizeof(float) * 2 * (size_t)nx);
        genc_tensor *lp = genc_flow_log_prob(c, f, x, NULL);
        for (int i = 0; i < nx; i++) out[(int64_t)j * nx + i] = lp->data[i];
    }
    genc_restore_grad(c, prev);
    genc_ctx_free(c);
    free(xy);
    return GENC_OK;
}
