/* Patch ViT (Dosovitskiy et al., 2021) on the shared transformer backbone, with axial 2D RoPE
 * (genc_rope2d_tables) instead of learned positions:
 *   t = patchify(x, p) · Wpᵀ + bp                  [B, N, D], N = (H/p)(W/p) patches, row-major
 *   t = blocks(embed(t))                           the class token in front, pre-LN blocks with
 *                                                  bidirectional attention, final LayerNorm
 *   features = t[:, 0]                             the class token's output [B, D] */
#include "vit.h"

void genc_classifier_vit_config(const genc_classifier_config *cfg, genc_tf_config *tf) {
    genc_tf_config_default(tf);
    tf->vocab = 0; /* inputs are patch embeddings, the head is the classifier's */
    tf->dim = cfg->dim;
    tf->layers = cfg->layers;
    tf->heads = cfg->heads;
    tf->mlp_hidden = cfg->mlp_hidden;
    tf->causal = 0;
    tf->pos = GENC_POS_ROPE2D;
    tf->norm_eps = cfg->norm_eps;
    tf->cls_token = 1;
    tf->grid_h = cfg->height / cfg->patch;
    tf->grid_w = cfg->width / cfg->patch;
}

int genc_classifier_vit_init(genc_classifier *m, genc_rng *r) {
    const genc_classifier_config *cfg = &m->cfg;
    genc_tf_config tf;
    genc_classifier_vit_config(cfg, &tf);
    if (genc_linear_m_init(&m->patch_emb, &m->params, "patch_emb", cfg->channels * cfg->patch * cfg->patch, cfg->dim,
                           1, r, tf.init_std))
        return GENC_ERR;
    return genc_tf_build(&m->vit, &m->params, "", &tf, r);
}

genc_tensor *genc_classifier_vit_features(genc_ctx *c, genc_classifier *m, genc_tensor *x) {
    genc_tensor *t = genc_linear_m_fwd(c, &m->patch_emb, genc_patchify(c, x, m->cfg.patch));
    t = genc_tf_blocks_forward(c, &m->vit, genc_tf_embed(c, &m->vit, t, NULL), NULL);
    return genc_token_at(c, t, 0);
}
