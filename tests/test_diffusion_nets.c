/* The diffusion networks against PyTorch on the same weights (tests/parity/diffusion_nets.py):
 * the point MLP, the small U-Net (GroupNorm, time embedding, self-attention at the lowest
 * resolution, skip concatenations, class embedding) and the DiT (patches, learned 2D
 * positions, adaLN-Zero blocks with every projection non-zero, modulated final norm). Each
 * compares the output and the gradients of sum(F·dy) for the input and every parameter;
 * every genc parameter must be in the fixture under its name, and the fixture must hold no
 * other, so the names in docs/diffusion.md are what PyTorch sees.
 *
 * Tolerance: the reference is float64, so the difference is genc's float32 rounding through
 * ~25 layers (U-Net) of dot products of ≤ 432 terms with O(1) values, each a few 1e-7
 * relative; GroupNorm/LayerNorm of small groups amplify it by 1/σ of the group (≤ ~10 here).
 * Outputs and input gradients: 1e-4 absolute + 1e-3 relative. Parameter gradients sum over the
 * batch and every pixel (≤ 128 terms of magnitude ≤ ~10): 5e-4 absolute + 1e-3 relative. A
 * wrong wire (a missing skip, transposed head split, swapped shift/scale) moves values by
 * O(0.1–1). The test also passes at a tenth of these tolerances (checked when written). */
#include "genc/diffusion.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void run_case(const genc_st_file *F, const char *name, const genc_dm_config *cfg) {
    genc_dmodel m;
    if (genc_dmodel_init(&m, cfg, 1)) {
        CHECK(0, "%s: init: %s", name, genc_error());
        return;
    }
    char key[256];
    int found = 0;
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.list[i];
        snprintf(key, sizeof key, "%s.P.%s", name, p->name);
        const genc_st_tensor *t = genc_st_find(F, key);
        CHECK(t != NULL, "%s: parameter %s is not in the PyTorch model", name, p->name);
        if (!t) continue;
        found++;
        CHECK(genc_st_get_f32(F, key, p->data, p->n) == GENC_OK, "%s: %s: %s", name, p->name, genc_error());
    }
    int in_fixture = 0;
    snprintf(key, sizeof key, "%s.P.", name);
    for (int i = 0; i < F->n_tensors; i++) in_fixture += strncmp(F->tensors[i].name, key, strlen(key)) == 0;
    CHECK(found == in_fixture, "%s: the PyTorch model has %d tensors, genc %d", name, in_fixture, found);
    CHECK(genc_dm_param_count(cfg) == genc_params_count(&m.params), "%s: param count %lld vs %lld", name,
          (long long)genc_dm_param_count(cfg), (long long)genc_params_count(&m.params));

    genc_ctx *c = genc_ctx_new(0);
    snprintf(key, sizeof key, "%s.x", name);
    genc_tensor *x = tu_load(c, F, key, 1);
    if (cfg->net == GENC_DNET_MLP) x = genc_reshape(c, x, 2, (int[]){x->shape[0], (int)(x->n / x->shape[0])});
    int64_t n;
    snprintf(key, sizeof key, "%s.cn", name);
    float *cn = tu_get(F, key, &n);
    snprintf(key, sizeof key, "%s.labels", name);
    const genc_st_tensor *lt = genc_st_find(F, key);
    const int32_t *labels = cfg->n_classes ? (const int32_t *)lt->data : NULL;
    genc_tensor *out = genc_dmodel_net(c, &m, x, cn, labels);
    snprintf(key, sizeof key, "%s.dy", name);
    genc_tensor *dy = tu_load(c, F, key, 0);
    genc_tensor *loss = genc_sum(c, genc_mul(c, out, genc_reshape(c, dy, out->ndim, out->shape)));
    genc_backward(c, loss);
    snprintf(key, sizeof key, "%s.out", name);
    float *want = tu_get(F, key, &n);
    CHECK(n == out->n && tu_close(key, out->data, want, n, 1e-4f, 1e-3f), "%s output", name);
    snprintf(key, sizeof key, "%s.gx", name);
    float *gx = tu_get(F, key, &n);
    CHECK(n == x->n && x->grad && tu_close(key, x->grad, gx, n, 1e-4f, 1e-3f), "%s input gradient", name);
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.list[i];
        snprintf(key, sizeof key, "%s.g.%s", name, p->name);
        if (!genc_st_find(F, key)) continue;
        float *gw = tu_get(F, key, &n);
        CHECK(n == p->n && tu_close(key, p->grad, gw, n, 5e-4f, 1e-3f), "%s gradient", key);
        free(gw);
    }
    free(cn);
    free(want);
    free(gx);
    genc_ctx_free(c);
    genc_dmodel_free(&m);
}

int main(void) {
    genc_st_file F;
    if (tu_fixture("diffusion_nets.py", "diffusion_nets_fixture.safetensors", &F) != GENC_OK) return tu_finish();
    genc_dm_config cfg;
    genc_dm_config_default(&cfg, GENC_DNET_MLP, 2, 1, 1);
    cfg.hidden = 16;
    cfg.layers = 2;
    run_case(&F, "mlp", &cfg);
    genc_dm_config_default(&cfg, GENC_DNET_UNET, 1, 8, 8);
    cfg.hidden = 8;
    cfg.groups = 4;
    cfg.heads = 2;
    cfg.n_classes = 3;
    run_case(&F, "unet", &cfg);
    genc_dm_config_default(&cfg, GENC_DNET_DIT, 2, 8, 8);
    cfg.hidden = 16;
    cfg.layers = 2;
    cfg.heads = 2;
    cfg.patch = 4;
    cfg.n_classes = 3;
    run_case(&F, "dit", &cfg);
    genc_st_free(&F);
    return tu_finish();
}
