/* The language models' network: the shared backbone, and for SEDD an embedding of the noise
 * level that the backbone adds to every token (its conditioning "add" mode). The embedding
 * belongs to the LM, not to the backbone: other families condition the same backbone on
 * their own vectors. Names and initial values are those of models built before the split
 * ("time_emb.fc1", "time_emb.fc2", drawn after the backbone from the same stream). */
#include "genc/lm.h"

#include <string.h>

int genc_lm_model_init(genc_lm *lm, const genc_tf_config *cfg, uint64_t seed) {
    genc_transformer *m = &lm->model;
    memset(m, 0, sizeof *m);
    memset(&lm->time_emb, 0, sizeof lm->time_emb);
    genc_params_init(&m->params);
    genc_rng r = genc_tf_init_rng(seed);
    int D = cfg->dim;
    if (genc_tf_build(m, &m->params, "", cfg, &r) ||
        (cfg->cond == GENC_COND_ADD &&
         genc_time_embed_m_init(&lm->time_emb, &m->params, "time_emb", D, D, D, &r, cfg->init_std))) {
        genc_transformer_free(m);
        return GENC_ERR;
    }
    return GENC_OK;
}
