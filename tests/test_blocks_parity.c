/* Parity with PyTorch (tests/parity/blocks.py, a float64 reference written with
 * torch.nn.functional) for the composable transformer pieces: a pre-LN block with
 * cross-attention, a DiT-style adaLN-Zero stack with non-zero modulation, ViT-style stacks
 * with a class token and axial 2D RoPE (both pair conventions), learned 2D positions; forward
 * and every parameter and input gradient. Plus: a zero-initialised adaLN block is exactly the
 * identity, the 2D RoPE comparison notices a transposed grid, and a language-model checkpoint
 * in the format written before the conditioning path ("time_cond") loads and matches.
 *
 * Tolerances. The reference runs in float64, so the differences are genc's float32 rounding
 * alone. Each output is a chain of dot products of length <= 4·D = 128 (linear, attention),
 * a softmax and a norm per sub-block, over 1 to 2 blocks: with 2^-24 relative rounding per
 * operation the accumulated error is ~1e-6 relative to the O(1) activations (so ~1e-6
 * absolute on small elements). Forward: atol 1e-5, rtol 1e-4. Gradients are sums over
 * B·T <= 26 positions of such products (loss Σ out·R, R ~ N(0, 1)): atol 5e-5, rtol 2e-4.
 * The worst element over all cases uses 6% of its tolerance (measured: 5e-7 absolute on
 * outputs of 1e-3, 3e-6 on gradients of 2e-2). Mutations of the code (padding ignored, shift
 * and scale swapped, x and y swapped) fail 28 to 74 checks: a wrong formula — a missing
 * (1 + scale), an unmasked padded key — moves outputs by O(0.1..1), far outside.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/lm.h"

#define F_ATOL 1e-5f
#define F_RTOL 1e-4f
#define G_ATOL 5e-5f
#define G_RTOL 2e-4f

static const genc_st_file *FX;

static float *get(int ci, const char *what, int64_t *n) {
    char key[256];
    snprintf(key, sizeof key, "case%d.%s", ci, what);
    return tu_get(FX, key, n);
}

/* An input tensor on c from the fixture, shaped like the reference's, optionally a leaf that
 * collects its gradient. */
static genc_tensor *input(genc_ctx *c, int ci, const char *what, int ndim, const int *shape, int grad) {
    genc_tensor *t = genc_new(c, ndim, shape);
    float *v = get(ci, what, NULL);
    memcpy(t->data, v, sizeof(float) * (size_t)t->n);
    free(v);
    t->requires_grad = grad;
    return t;
}

static uint8_t *mask(int ci, const char *what) {
    int64_t n;
    float *v = get(ci, what, &n);
    uint8_t *m = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) m[i] = v[i] != 0;
    free(v);
    return m;
}

static void compare(int ci, const char *what, const float *got, int64_t n, float atol, float rtol) {
    int64_t m;
    float *ref = get(ci, what, &m);
    char label[256];
    snprintf(label, sizeof label, "case %d %s", ci, what);
    CHECK(m == n, "%s: %lld values, reference has %lld", label, (long long)n, (long long)m);
    if (m == n) tu_close(label, got, ref, n, atol, rtol);
    free(ref);
}

/* The case's model with the reference's parameter values. */
static int load_model(int ci, genc_transformer *m, genc_tf_config *cfg) {
    char key[256];
    snprintf(key, sizeof key, "case%d.config", ci);
    const char *js = genc_st_meta(FX, key);
    if (!js || genc_tf_config_from_json(js, cfg) || genc_transformer_init(m, cfg, 1)) {
        CHECK(0, "case %d: %s", ci, js ? genc_error() : "no config");
        return GENC_ERR;
    }
    snprintf(key, sizeof key, "case%d.nparams", ci);
    CHECK(atoi(genc_st_meta(FX, key)) == m->params.n, "case %d: genc has %d parameters, the reference %s", ci,
          m->params.n, genc_st_meta(FX, key));
    for (int i = 0; i < m->params.n; i++) {
        genc_tensor *p = m->params.list[i];
        snprintf(key, sizeof key, "case%d.param.%s", ci, p->name);
        if (genc_st_get_f32(FX, key, p->data, p->n)) {
            CHECK(0, "case %d: %s", ci, genc_error());
            genc_transformer_free(m);
            return GENC_ERR;
        }
    }
    return GENC_OK;
}

/* Σ out·R (+ Σ out[:, 0]·R0 for the towers that are read at their class token) */
static genc_tensor *loss_of(genc_ctx *c, int ci, genc_tensor *out, int with_cls) {
    genc_tensor *R = input(c, ci, "R", out->ndim, out->shape, 0);
    genc_tensor *loss = genc_sum(c, genc_mul(c, out, R));
    if (with_cls) {
        genc_tensor *cls = genc_token_at(c, out, 0);
        loss = genc_add(c, loss, genc_sum(c, genc_mul(c, cls, input(c, ci, "R0", 2, cls->shape, 0))));
    }
    return loss;
}

static void check_case(int ci) {
    char key[64];
    snprintf(key, sizeof key, "case%d.kind", ci);
    const char *kind = genc_st_meta(FX, key);
    genc_transformer m;
    genc_tf_config cfg;
    if (!kind || load_model(ci, &m, &cfg)) return;
    const genc_st_tensor *xt = genc_st_find(FX, (snprintf(key, sizeof key, "case%d.x", ci), key));
    int B = (int)xt->shape[0], T = (int)xt->shape[1], D = cfg.dim;
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *x = input(c, ci, "x", 3, (int[]){B, T, D}, 1), *ctx = NULL, *cond = NULL, *out;
    uint8_t *key_pad = NULL, *ctx_pad = NULL;
    genc_tf_run run = {0};
    if (strcmp(kind, "block") == 0) { /* block 1 alone, with cross-attention */
        const genc_st_tensor *ct = genc_st_find(FX, (snprintf(key, sizeof key, "case%d.ctx", ci), key));
        run.ctx = ctx = input(c, ci, "ctx", 3, (int[]){B, (int)ct->shape[1], (int)ct->shape[2]}, 1);
        run.key_pad = key_pad = mask(ci, "key_pad");
        run.ctx_pad = ctx_pad = mask(ci, "ctx_pad");
        out = genc_tf_block_forward(c, &m, 1, x, &run);
    } else {
        if (cfg.cond == GENC_COND_ADALN) run.cond = cond = input(c, ci, "cond", 2, (int[]){B, cfg.cond_dim}, 1);
        out = genc_tf_blocks_forward(c, &m, genc_tf_embed(c, &m, x, &run), &run);
    }
    genc_tensor *loss = loss_of(c, ci, out, strcmp(kind, "vit") == 0);
    genc_backward(c, loss);
    printf("case %d (%s, pos %s, cond %s): loss %.6f\n", ci, kind, genc_pos_name(cfg.pos), genc_cond_name(cfg.cond),
           loss->data[0]);
    compare(ci, "out", out->data, out->n, F_ATOL, F_RTOL);
    compare(ci, "loss", loss->data, 1, F_ATOL, F_RTOL);
    compare(ci, "grad_x", x->grad, x->n, G_ATOL, G_RTOL);
    if (ctx) compare(ci, "grad_ctx", ctx->grad, ctx->n, G_ATOL, G_RTOL);
    if (cond) compare(ci, "grad_cond", cond->grad, cond->n, G_ATOL, G_RTOL);
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.list[i];
        char what[200];
        snprintf(what, sizeof what, "grad.%s", p->name);
        compare(ci, what, p->grad, p->n, G_ATOL, G_RTOL);
    }
    free(key_pad);
    free(ctx_pad);
    genc_ctx_free(c);
    genc_transformer_free(&m);
}

/* The 2D RoPE case must be able to fail: the same weights on the transposed grid (4x3 for
 * 3x4) rotate the patches by other angles and the outputs move far outside the tolerance. */
static void transposed_grid_differs(int ci) {
    genc_transformer m;
    genc_tf_config cfg;
    if (load_model(ci, &m, &cfg)) return;
    genc_transformer_free(&m);
    int h = cfg.grid_h;
    cfg.grid_h = cfg.grid_w;
    cfg.grid_w = h;
    if (genc_transformer_init(&m, &cfg, 1)) {
        CHECK(0, "transposed grid: %s", genc_error());
        return;
    }
    for (int i = 0; i < m.params.n; i++) {
        char key[256];
        snprintf(key, sizeof key, "case%d.param.%s", ci, m.params.list[i]->name);
        genc_st_get_f32(FX, key, m.params.list[i]->data, m.params.list[i]->n);
    }
    genc_ctx *c = genc_ctx_new(0);
    int B = 2, N = cfg.grid_h * cfg.grid_w;
    genc_tensor *x = input(c, ci, "x", 3, (int[]){B, N, cfg.dim}, 0);
    genc_tensor *out = genc_tf_blocks_forward(c, &m, genc_tf_embed(c, &m, x, NULL), NULL);
    float *ref = get(ci, "out", NULL), worst = 0;
    for (int64_t i = 0; i < out->n; i++) worst = fmaxf(worst, fabsf(out->data[i] - ref[i]));
    CHECK(worst > 0.05f, "case %d on a transposed grid moves the output by only %g", ci, worst);
    free(ref);
    genc_ctx_free(c);
    genc_transformer_free(&m);
}

/* adaLN-Zero at initialisation: every gate is 0, so a block returns its input exactly, and the
 * stack's output is the affine-free norm of its input (final shift and scale 0). */
static void adaln_zero_is_identity(void) {
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    cfg.vocab = 0, cfg.dim = 32, cfg.heads = 4, cfg.layers = 3, cfg.causal = 0, cfg.pos = GENC_POS_ROPE2D;
    cfg.grid_h = 2, cfg.grid_w = 3, cfg.cond = GENC_COND_ADALN, cfg.cond_dim = 8;
    genc_transformer m;
    CHECK(genc_transformer_init(&m, &cfg, 5) == GENC_OK, "adaLN init: %s", genc_error());
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *x = genc_new3(c, 2, 6, 32), *cond = genc_new2(c, 2, 8);
    tu_randn(x->data, x->n, 1, 1.f);
    tu_randn(cond->data, cond->n, 2, 3.f);
    genc_tf_run run = {0};
    run.cond = cond;
    for (int l = 0; l < 3; l++) {
        genc_tensor *y = genc_tf_block_forward(c, &m, l, x, &run);
        CHECK(memcmp(y->data, x->data, sizeof(float) * (size_t)x->n) == 0,
              "zero-init adaLN block %d is the identity", l);
    }
    genc_tensor *ones = genc_new1(c, 32);
    for (int j = 0; j < 32; j++) ones->data[j] = 1.f;
    genc_tensor *ln = genc_layernorm(c, x, ones, NULL, cfg.norm_eps);
    genc_tensor *y = genc_tf_blocks_forward(c, &m, x, &run);
    CHECK(memcmp(y->data, ln->data, sizeof(float) * (size_t)x->n) == 0, "zero-init adaLN stack = LN(x)");
    genc_ctx_free(c);
    genc_transformer_free(&m);
}

/* A SEDD checkpoint in the format written before the conditioning path: the legacy key reads
 * as cond = add, time_emb.* load into the LM's time embedding, and the logits match. */
static void legacy_sedd_checkpoint(const char *path) {
    genc_lm lm;
    if (genc_lm_load(path, &lm)) {
        CHECK(0, "legacy checkpoint: %s", genc_error());
        return;
    }
    CHECK(lm.model.cfg.cond == GENC_COND_ADD, "\"time_cond\": true reads as cond = add");
    int64_t n;
    float *idf = tu_get(FX, "legacy.ids", &n), *sig = tu_get(FX, "legacy.sigma", NULL);
    int B = 2, T = (int)(n / 2);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)idf[i];
    genc_ctx *c = genc_ctx_new(0);
    genc_tf_run run = {0};
    run.bidirectional = 1;
    run.cond = genc_time_embed_m_fwd(c, &lm.time_emb, sig, B);
    genc_tensor *logits = genc_transformer_forward(c, &lm.model, ids, B, T, &run);
    float *ref = tu_get(FX, "legacy.logits", NULL);
    tu_close("legacy SEDD checkpoint logits", logits->data, ref, logits->n, F_ATOL, F_RTOL);
    free(ref); free(idf); free(sig); free(ids);
    genc_ctx_free(c);
    genc_lm_free(&lm);
}

int main(void) {
    const char *path = "blocks_fixture.safetensors";
    genc_st_file f;
    if (tu_fixture("blocks.py", path, &f)) return tu_finish();
    FX = &f;
    int n = atoi(genc_st_meta(&f, "cases") ? genc_st_meta(&f, "cases") : "0");
    CHECK(n == 5, "fixture has %d cases", n);
    for (int i = 0; i < n; i++) check_case(i);
    transposed_grid_differs(2);
    transposed_grid_differs(3);
    adaln_zero_is_identity();
    legacy_sedd_checkpoint("blocks_fixture.safetensors.sedd_legacy.safetensors");
    genc_st_free(&f);
    return tu_finish();
}
