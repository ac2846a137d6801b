/* Parity with PyTorch (tests/parity/blip.py, float64, written from the formulas) for BLIP's
 * text side: the caption decoder (causal self-attention + cross-attention to image tokens,
 * tied head) and the image-grounded encoder read by the ITM head, which share every tensor but
 * the decoder's self-attention. Forward (decoder logits, ITM logits) and the gradient of
 * Σ logits·R1 + Σ itm·R2 with respect to every parameter and the image tokens: a shared
 * tensor's gradient is the sum of its two uses, so a sharing that copied instead of shared
 * (or shared the self-attention too) fails here.
 *
 * Tolerances, as in test_blocks_parity (same depth and widths): the reference is float64, so
 * the differences are genc's float32 rounding over dot products of length <= 4·D = 64 and
 * two blocks, ~1e-6 relative: forward atol 1e-5, rtol 1e-4; gradients are sums over B·T = 20
 * positions and two models: atol 5e-5, rtol 2e-4. The worst element uses 31% of its tolerance
 * (measured when written: the gradient of text.blocks.1.xattn.k.weight). */
#include "genc/blip.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define F_ATOL 1e-5f
#define F_RTOL 1e-4f
#define G_ATOL 5e-5f
#define G_RTOL 2e-4f

static int is_text_side(const char *name) {
    return (!strncmp(name, "text.", 5) && strcmp(name, "text.proj.weight")) || !strncmp(name, "decoder.", 8) ||
           !strncmp(name, "itm_head.", 9);
}

int main(void) {
    genc_st_file fx;
    if (tu_fixture("blip.py", "blip_fixture.safetensors", &fx)) return tu_finish();
    genc_blip_config cfg;
    genc_blip_config_default(&cfg);
    cfg.clip.dim = 16, cfg.clip.heads = 2, cfg.clip.text_layers = 2, cfg.clip.image_layers = 1;
    cfg.clip.patch = 7, cfg.clip.embed = 8, cfg.clip.ctx = 10;
    genc_blip m;
    if (genc_blip_init(&m, &cfg, 1)) {
        CHECK(0, "init: %s", genc_error());
        return tu_finish();
    }
    /* the decoder owns exactly its self-attention: ln1 and attn.{q,k,v,o}, weight and bias, per layer */
    int own = 0, n_text = 0;
    for (int i = 0; i < m.base.params.n; i++) {
        const char *nm = m.base.params.list[i]->name;
        own += !strncmp(nm, "decoder.", 8);
        n_text += is_text_side(nm);
    }
    CHECK(own == 2 * 10, "the decoder owns %d tensors, want 20 (its self-attention)", own);
    CHECK(m.decoder.blocks[1].fc1.W == m.base.text.blocks[1].fc1.W && m.decoder.blocks[0].xk.W == m.base.text.blocks[0].xk.W &&
              m.decoder.tok_emb == m.base.text.tok_emb && m.decoder.blocks[0].q.W != m.base.text.blocks[0].q.W,
          "the decoder shares the encoder's MLP, cross-attention and embedding, not its self-attention");
    CHECK(atoi(genc_st_meta(&fx, "nparams")) == n_text, "genc has %d text-side tensors, the reference %s", n_text,
          genc_st_meta(&fx, "nparams"));
    char key[256];
    for (int i = 0; i < m.base.params.n; i++) {
        genc_tensor *p = m.base.params.list[i];
        if (!is_text_side(p->name)) continue;
        snprintf(key, sizeof key, "param.%s", p->name);
        CHECK(genc_st_get_f32(&fx, key, p->data, p->n) == GENC_OK, "%s", genc_error());
    }
    enum { B = 2, T = 10, S = 5, D = 16 };
    int32_t ids[B * T];
    int eos[B];
    float *v = tu_get(&fx, "ids", NULL), *e = tu_get(&fx, "eos", NULL);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)v[i];
    for (int b = 0; b < B; b++) eos[b] = (int)e[b];
    free(v);
    free(e);

    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *ctx = tu_load(c, &fx, "ctx", 1);
    genc_tensor *logits = genc_blip_lm_logits(c, &m, ctx, ids, B, T, NULL);
    genc_tensor *itm = genc_blip_itm_logits(c, &m, ctx, ids, eos, B);
    genc_tensor *loss = genc_add(c, genc_sum(c, genc_mul(c, logits, tu_load(c, &fx, "R1", 0))),
                                 genc_sum(c, genc_mul(c, itm, tu_load(c, &fx, "R2", 0))));
    genc_backward(c, loss);
    tu_expect(&fx, "logits", logits, logits->data, F_ATOL, F_RTOL);
    tu_expect(&fx, "itm", itm, itm->data, F_ATOL, F_RTOL);
    tu_expect(&fx, "loss", loss, loss->data, F_ATOL, F_RTOL);
    tu_expect(&fx, "grad_ctx", ctx, ctx->grad, G_ATOL, G_RTOL);
    for (int i = 0; i < m.base.params.n; i++) {
        genc_tensor *p = m.base.params.list[i];
        if (!is_text_side(p->name)) continue;
        snprintf(key, sizeof key, "grad.%s", p->name);
        tu_expect(&fx, key, p, p->grad, G_ATOL, G_RTOL);
    }
    genc_ctx_free(c);
    genc_blip_free(&m);
    genc_st_free(&fx);
    return tu_finish();
}
