/* The BLIP model (include/genc/blip.h): the CLIP towers with a grounded text encoder, a caption
 * decoder sharing all of it but the self-attention, the ITM head; its configuration. */
#include "genc/blip.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "nn/json_get.h"

/* BLIP §3.1: "the text encoder and text decoder share all parameters except for the SA layers" */
#define DECODER_SHARE (GENC_TF_SHARE_EMBED | GENC_TF_SHARE_CROSS_ATTN | GENC_TF_SHARE_MLP | GENC_TF_SHARE_FINAL)

void genc_blip_config_default(genc_blip_config *cfg) {
    genc_clip_config_default(&cfg->clip);
    cfg->label_smoothing = 0.1f;
}

/* the decoder: the grounded text encoder's configuration, causal (it already is) */
static void decoder_tf(const genc_blip_config *cfg, genc_tf_config *dec) {
    genc_tf_config img;
    genc_clip_tower_configs(&cfg->clip, 1, &img, dec);
    dec->causal = 1;
}

int genc_blip_config_validate(const genc_blip_config *cfg) {
    if (cfg->clip.loss != GENC_CLIP_SOFTMAX) return genc_set_error("loss: BLIP's ITC is the softmax loss");
    if (!(cfg->label_smoothing >= 0.f && cfg->label_smoothing < 1.f))
        return genc_set_error("label_smoothing: %g is outside [0, 1)", (double)cfg->label_smoothing);
    return genc_clip_config_validate(&cfg->clip);
}

int64_t genc_blip_param_count(const genc_blip_config *cfg) {
    genc_tf_config img, plain, grounded, dec;
    genc_clip_tower_configs(&cfg->clip, 0, &img, &plain);
    genc_clip_tower_configs(&cfg->clip, 1, &img, &grounded);
    decoder_tf(cfg, &dec);
    /* CLIP + the text tower's cross-attention + the decoder's self-attention + the ITM head */
    return genc_clip_param_count(&cfg->clip) + genc_tf_param_count(&grounded) - genc_tf_param_count(&plain) +
           genc_tf_param_count_owned(&dec, DECODER_SHARE) + 2 * (int64_t)cfg->clip.dim + 2;
}

char *genc_blip_config_to_json(const genc_blip_config *cfg) {
    char *clip = genc_clip_config_to_json(&cfg->clip);
    cJSON *o = clip ? cJSON_Parse(clip) : NULL;
    free(clip);
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "label_smoothing", cfg->label_smoothing);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int genc_blip_config_from_json(const char *json, genc_blip_config *cfg) {
    genc_blip_config_default(cfg);
    if (genc_clip_config_from_json(json, &cfg->clip)) return GENC_ERR;
    cJSON *o = cJSON_Parse(json);
    int rc = genc_json_get_f32(o, "config", "label_smoothing", 0.0, 0.999, &cfg->label_smoothing);
    cJSON_Delete(o);
    return rc ? rc : genc_blip_config_validate(cfg);
}

int genc_blip_init(genc_blip *m, const genc_blip_config *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    if (genc_blip_config_validate(cfg) || genc_clip_init_grounded(&m->base, &cfg->clip, seed, 1)) return GENC_ERR;
    m->cfg = *cfg;
    /* the decoder's self-attention and the ITM head from their own stream of the seed */
    genc_rng r = genc_rng_make(seed, 0x626c6970ull); /* "blip" */
    genc_tf_config dec;
    decoder_tf(cfg, &dec);
    genc_params *ps = &m->base.params;
    if (genc_tf_build_shared(&m->decoder, ps, "decoder", &dec, &r, &m->base.text, DECODER_SHARE) ||
        genc_linear_m_init(&m->itm_head, ps, "itm_head", cfg->clip.dim, 2, 1, &r, dec.init_std)) {
        genc_blip_free(m);
        return GENC_ERR;
    }
    return GENC_OK;
}

void genc_blip_free(genc_blip *m) {
    genc_transformer_free(&m->decoder); /* owns nothing in base.params' list: only its block array */
    genc_clip_free(&m->base);
    memset(m, 0, sizeof *m);
}

genc_tensor *genc_blip_itm_logits(genc_ctx *c, genc_blip *m, genc_tensor *ctx, const int32_t *ids, const int *eos,
                                  int n) {
    genc_transformer *t = &m->base.text;
    int T = m->cfg.clip.ctx, D = m->cfg.clip.dim;
    genc_tf_run run = {0};
    run.ctx = ctx;
    genc_tensor *h = genc_tf_blocks_forward(c, t, genc_tf_embed_ids(c, t, ids, n, T, &run), &run);
    /* row b·T + eos[b] of the hidden states [n·T, D], as the unimodal encoder pools */
    int32_t *rows = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    for (int b = 0; b < n; b++) rows[b] = b * T + eos[b];
    genc_tensor *pooled = genc_embedding(c, genc_reshape(c, h, 2, (int[]){n * T, D}), rows, n);
    return genc_linear_m_fwd(c, &m->itm_head, pooled);
}

genc_tensor *genc_blip_lm_logits(genc_ctx *c, genc_blip *m, genc_tensor *ctx, const int32_t *ids, int B, int T,
                                 genc_kv_cache *cache) {
    genc_tf_run run = {0};
    run.ctx = ctx;
    run.cache = cache;
    return genc_transformer_forward(c, &m->decoder, ids, B, T, &run);
}
