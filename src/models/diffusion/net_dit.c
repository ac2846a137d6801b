/* DiT (Peebles & Xie 2023) from the shared transformer blocks: x[B, C, H, W] → patches
 * [B, N, C·p²] → linear to width D → learned 2D positions → blocks with adaLN-Zero on the
 * conditioning vector e[B, D] (time plus class embedding) → final norm modulated by e →
 * linear back to C·p² (zero-initialised, as DiT's final layer) → unpatchify. */
#include "net.h"

#include <math.h>
#include <string.h>

void genc_dm_dit_tf_config(const genc_dm_config *c, genc_tf_config *tc) {
    genc_tf_config_patches(tc, c->hidden, c->heads, c->layers, c->height, c->width, c->patch, GENC_POS_LEARNED2D);
    tc->max_pos = tc->grid_h * tc->grid_w > 0 ? tc->grid_h * tc->grid_w : 1;
    tc->mlp = GENC_MLP_GELU_TANH;
    tc->cond = GENC_COND_ADALN;
    tc->cond_dim = c->hidden;
}

int genc_dm_dit_build(genc_dmodel *m, genc_rng *r) {
    const genc_dm_config *c = &m->cfg;
    int pd = c->channels * c->patch * c->patch;
    genc_tf_config tc;
    genc_dm_dit_tf_config(c, &tc);
    if (genc_linear_m_init(&m->patch_in, &m->params, "dit.patch_in", pd, c->hidden, 1, r, 1.f / sqrtf((float)pd)))
        return GENC_ERR;
    if (genc_tf_build(&m->tf, &m->params, "dit.tf", &tc, r)) return GENC_ERR;
    return genc_linear_m_init(&m->patch_out, &m->params, "dit.patch_out", c->hidden, pd, 1, r, 0);
}

genc_tensor *genc_dm_dit_fwd(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels) {
    const genc_dm_config *cfg = &m->cfg;
    int B = x->shape[0];
    genc_tensor *e = genc_dm_embed(c, m, cnoise, labels, B);
    genc_tf_run run;
    memset(&run, 0, sizeof run);
    run.cond = e;
    genc_tensor *h = genc_linear_m_fwd(c, &m->patch_in, genc_patchify(c, x, cfg->patch));
    h = genc_tf_blocks_forward(c, &m->tf, genc_tf_embed(c, &m->tf, h, &run), &run);
    return genc_unpatchify(c, genc_linear_m_fwd(c, &m->patch_out, h), cfg->channels, cfg->height, cfg->width, cfg->patch);
}
