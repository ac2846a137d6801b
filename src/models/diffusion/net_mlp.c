/* The point network: x[B, D] → F[B, D] with the time (and class) embedding e[B, h]:
 *   h = W_in x + b_in + e;   h ← h + W_i SiLU(h + e)  (i < layers);   F = W_out SiLU(h) + b_out
 * Adding e before every layer, not just at the input, lets each layer bend with the noise
 * level, which the small residual MLPs of the 2D flow-matching papers need. */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int genc_dm_mlp_build(genc_dmodel *m, genc_rng *r) {
    const genc_dm_config *c = &m->cfg;
    int D = c->channels * c->height * c->width, h = c->hidden;
    if (genc_linear_m_init(&m->in, &m->params, "in", D, h, 1, r, 1.f / sqrtf((float)D))) return GENC_ERR;
    m->hid = calloc((size_t)c->layers, sizeof *m->hid);
    if (!m->hid) return genc_set_error("out of memory");
    for (int i = 0; i < c->layers; i++) {
        char name[32];
        snprintf(name, sizeof name, "hid.%d", i);
        if (genc_linear_m_init(&m->hid[i], &m->params, name, h, h, 1, r, 1.f / sqrtf((float)h))) return GENC_ERR;
    }
    return genc_linear_m_init(&m->out, &m->params, "out", h, D, 1, r, 1.f / sqrtf((float)h));
}

genc_tensor *genc_dm_mlp_fwd(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels) {
    int B = x->shape[0];
    genc_tensor *e = genc_dm_embed(c, m, cnoise, labels, B);
    genc_tensor *h = genc_add(c, genc_linear_m_fwd(c, &m->in, x), e);
    for (int i = 0; i < m->cfg.layers; i++) h = genc_add(c, h, genc_linear_m_fwd(c, &m->hid[i], genc_silu(c, genc_add(c, h, e))));
    return genc_linear_m_fwd(c, &m->out, genc_silu(c, h));
}
