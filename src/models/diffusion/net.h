/* Private to the diffusion family: the three networks and shared sizes. */
#ifndef GENC_DIFFUSION_NET_H
#define GENC_DIFFUSION_NET_H

#include "genc/diffusion.h"

/* Width of the time/class embedding: mlp and dit: hidden; unet: 4·hidden (DDPM). */
static inline int genc_dm_embed_dim(const genc_dm_config *c) { return c->net == GENC_DNET_UNET ? 4 * c->hidden : c->hidden; }
/* Sinusoidal features fed to the time embedding's first layer. */
static inline int genc_dm_freq_dim(const genc_dm_config *c) { return c->net == GENC_DNET_MLP ? 64 : c->hidden; }

genc_tensor *genc_dm_embed(genc_ctx *c, genc_dmodel *m, const float *cnoise, const int32_t *labels, int B);
genc_tensor *genc_dm_example_tensor(genc_ctx *c, const genc_dm_config *cfg, int B);

int genc_dm_mlp_build(genc_dmodel *m, genc_rng *r);
genc_tensor *genc_dm_mlp_fwd(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels);

int64_t genc_dm_unet_count(const genc_dm_config *c);
int genc_dm_unet_build(genc_dmodel *m, genc_rng *r);
genc_tensor *genc_dm_unet_fwd(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels);

void genc_dm_dit_tf_config(const genc_dm_config *c, genc_tf_config *tc);
int genc_dm_dit_build(genc_dmodel *m, genc_rng *r);
genc_tensor *genc_dm_dit_fwd(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels);

#endif
