/* The classifier's ViT (vit.c), behind genc_classifier_init and genc_classifier_forward. */
#ifndef GENC_CLASSIFIER_VIT_H
#define GENC_CLASSIFIER_VIT_H

#include "genc/classifier.h"

/* The backbone's config for a classifier config: no vocabulary (inputs are patch embeddings,
 * the head is the classifier's), bidirectional, axial 2D RoPE, a class token, LayerNorm. */
void genc_classifier_vit_config(const genc_classifier_config *cfg, genc_tf_config *tf);
/* Registers patch_emb, then the backbone's cls_token, blocks.* and ln_f (the head is the
 * caller's). */
int genc_classifier_vit_init(genc_classifier *m, genc_rng *r);
/* x [B, C, H, W] → the class token's final LayerNorm state [B, dim]. */
genc_tensor *genc_classifier_vit_features(genc_ctx *c, genc_classifier *m, genc_tensor *x);

#endif
