/* Patch ViT (Dosovitskiy et al., 2021) on the shared transformer backbone, with axial 2D RoPE
 * (genc_rope2d_tables) instead of learned positions:
 *   t = patchify(x, p) · Wpᵀ + bp                  [B, N, D], N = (H/p)(W/p) patches, row-major
 *   t = blocks(embed(t))                           the class token in front, pre-LN blocks with
 *                                                  bidirectional attention, final LayerNorm
 *   features = t[:, 0]                             the class token's output [B, D] */
#include "vit.h"

void genc_classifier_vit_config(const genc_classifier_config *cfg, genc_tf_config *tf) {
    /* the head is the classifier's */
    genc_tf_config_patches(tf, cfg->dim, cfg->heads, cfg->layers, cfg->height, cfg->width, cfg->patch, GENC_POS_ROPE2D);
    tf->mlp_hidden = cfg->mlp_hidden;
    tf->norm_eps = cfg->norm_eps;
    tf->cls_token = 1;
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
