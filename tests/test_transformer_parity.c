/* Parity with PyTorch (tests/parity/transformer.py → genc_ref.py): a whole transformer forward
 * and backward for every position encoding, scaling, norm and MLP kind on identical weights;
 * three AdamW steps; gradient clipping; RoPE and sinusoidal tables. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/nn.h"

static void check_case(const genc_st_file *f, int ci) {
    char key[256];
    snprintf(key, sizeof key, "case%d.config", ci);
    const char *js = genc_st_meta(f, key);
    genc_tf_config cfg;
    if (!js || genc_tf_config_from_json(js, &cfg)) {
        CHECK(0, "case %d: config: %s", ci, js ? genc_error() : "missing");
        return;
    }
    genc_transformer m;
    CHECK(genc_transformer_init(&m, &cfg, 1) == GENC_OK, "init case %d", ci);
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.list[i];
        snprintf(key, sizeof key, "case%d.param.%s", ci, p->name);
        if (genc_st_get_f32(f, key, p->data, p->n)) { CHECK(0, "%s", genc_error()); return; }
    }
    int64_t n;
    snprintf(key, sizeof key, "case%d.ids", ci);
    float *idf = tu_get(f, key, &n);
    snprintf(key, sizeof key, "case%d.targets", ci);
    float *tgf = tu_get(f, key, NULL);
    int B = 2, T = (int)(n / 2);
    int32_t *ids = malloc(sizeof(int32_t) * n), *tg = malloc(sizeof(int32_t) * n);
    for (int64_t i = 0; i < n; i++) { ids[i] = (int32_t)idf[i]; tg[i] = (int32_t)tgf[i]; }
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *logits = genc_transformer_forward(c, &m, ids, B, T, NULL);
    genc_tensor *loss = genc_cross_entropy(c, logits, tg, -1, 0.f, NULL, 0.f);
    genc_backward(c, loss);
    char what[256];
    snprintf(key, sizeof key, "case%d.logits", ci);
    float *ref = tu_get(f, key, NULL);
    snprintf(what, sizeof what, "case %d (%s, %s, %s) logits", ci, genc_pos_name(cfg.pos),
             genc_rope_scaling_name(cfg.rope.scaling), genc_mlp_name(cfg.mlp));
    tu_close(what, logits->data, ref, logits->n, 2e-5f, 1e-4f);
    free(ref);
    snprintf(key, sizeof key, "case%d.loss", ci);
    ref = tu_get(f, key, NULL);
    snprintf(what, sizeof what, "case %d loss", ci);
    tu_close(what, loss->data, ref, 1, 1e-6f, 1e-5f);
    free(ref);
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.list[i];
        snprintf(key, sizeof key, "case%d.grad.%s", ci, p->name);
        ref = tu_get(f, key, NULL);
        snprintf(what, sizeof what, "case %d grad %s", ci, p->name);
        /* gradients are sums over B·T positions: a slightly looser absolute floor */
        tu_close(what, p->grad, ref, p->n, 2e-5f, 2e-4f);
        free(ref);
    }
    free(idf); free(tgf); free(ids); free(tg);
    genc_ctx_free(c);
    genc_transformer_free(&m);
}

static void check_adamw(const genc_st_file *f) {
    genc_params ps;
    genc_params_init(&ps);
    genc_tensor *w = genc_param_new(&ps, "w", 2, (int[]){5, 7});
    genc_tensor *b = genc_param_new(&ps, "b", 1, (int[]){7});
    genc_st_get_f32(f, "adamw.w0", w->data, 35);
    genc_st_get_f32(f, "adamw.b0", b->data, 7);
    genc_adamw o;
    genc_adamw_init(&o, &ps, 0.9f, 0.95f, 1e-8f, 0.1f);
    char key[64];
    for (int s = 0; s < 3; s++) {
        snprintf(key, sizeof key, "adamw.gw%d", s);
        genc_st_get_f32(f, key, w->grad, 35);
        snprintf(key, sizeof key, "adamw.gb%d", s);
        genc_st_get_f32(f, key, b->grad, 7);
        genc_adamw_step(&o, 1e-2f);
    }
    float *rw = tu_get(f, "adamw.w3", NULL), *rb = tu_get(f, "adamw.b3", NULL);
    tu_close("adamw 3 steps, decayed matrix", w->data, rw, 35, 1e-6f, 1e-5f);
    tu_close("adamw 3 steps, undecayed vector", b->data, rb, 7, 1e-6f, 1e-5f);
    free(rw); free(rb);
    genc_adamw_free(&o);
    genc_params_free(&ps);

    genc_params_init(&ps);
    genc_tensor *g0 = genc_param_new(&ps, "g0", 2, (int[]){4, 3}), *g1 = genc_param_new(&ps, "g1", 1, (int[]){6});
    genc_st_get_f32(f, "clip.g0", g0->grad, 12);
    genc_st_get_f32(f, "clip.g1", g1->grad, 6);
    float norm = genc_clip_grad_norm(&ps, 0.5f);
    float *rn = tu_get(f, "clip.norm", NULL), *r0 = tu_get(f, "clip.out0", NULL), *r1 = tu_get(f, "clip.out1", NULL);
    tu_close("clip norm", &norm, rn, 1, 1e-6f, 1e-5f);
    tu_close("clipped grads", g0->grad, r0, 12, 1e-7f, 1e-5f);
    tu_close("clipped grads", g1->grad, r1, 6, 1e-7f, 1e-5f);
    free(rn); free(r0); free(r1);
    genc_params_free(&ps);
}

static void check_tables(const genc_st_file *f) {
    const char *names[] = {"none", "linear", "ntk", "dynamic-ntk", "yarn"};
    float facs[] = {1, 2, 4, 2, 4};
    float cs[64 * 8], sn[64 * 8];
    for (int s = 0; s < 5; s++) {
        genc_rope_cfg rc = {10000.f, (genc_rope_scaling)s, facs[s], 16};
        genc_rope_tables(&rc, 16, NULL, 0, 64, 64, cs, sn);
        char key[64], what[64];
        snprintf(key, sizeof key, "rope.%s.cos", names[s]);
        float *r = tu_get(f, key, NULL);
        snprintf(what, sizeof what, "rope %s cos table", names[s]);
        tu_close(what, cs, r, 64 * 8, 1e-6f, 1e-5f);
        free(r);
        snprintf(key, sizeof key, "rope.%s.sin", names[s]);
        r = tu_get(f, key, NULL);
        snprintf(what, sizeof what, "rope %s sin table", names[s]);
        tu_close(what, sn, r, 64 * 8, 1e-6f, 1e-5f);
        free(r);
    }
    float pe[50 * 24];
    genc_sinusoidal_table(50, 24, 3, pe);
    float *r = tu_get(f, "sinusoidal", NULL);
    tu_close("sinusoidal table", pe, r, 50 * 24, 1e-6f, 1e-5f);
    free(r);
}

int main(void) {
    genc_st_file f;
    if (tu_fixture("transformer.py", "transformer_fixture.safetensors", &f)) return tu_finish();
    int n = atoi(genc_st_meta(&f, "cases") ? genc_st_meta(&f, "cases") : "0");
    CHECK(n >= 13, "fixture has %d cases", n);
    for (int i = 0; i < n; i++) check_case(&f, i);
    check_adamw(&f);
    check_tables(&f);
    genc_st_free(&f);
    return tu_finish();
}
