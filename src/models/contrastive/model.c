/* The two-tower image–text model (CLIP/SigLIP) on the shared transformer backbone: a ViT image
 * tower (as the classifier's ViT: patches, class token, axial 2D RoPE) under "image.", a causal
 * byte-token text tower pooled at EOS under "text.", linear projections to the shared
 * embedding, and the learned temperature (and SigLIP bias). */
#include "genc/contrastive.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/json_get.h"

const char *genc_clip_loss_name(genc_clip_loss_kind k) { return k == GENC_CLIP_SIGMOID ? "sigmoid" : "softmax"; }

int genc_clip_loss_parse(const char *s, genc_clip_loss_kind *k) {
    if (!strcmp(s, "softmax")) *k = GENC_CLIP_SOFTMAX;
    else if (!strcmp(s, "sigmoid")) *k = GENC_CLIP_SIGMOID;
    else return genc_set_error("unknown loss '%s' (softmax or sigmoid)", s);
    return GENC_OK;
}

void genc_clip_config_default(genc_clip_config *cfg) {
    *cfg = (genc_clip_config){.loss = GENC_CLIP_SOFTMAX, .channels = 1, .height = 28, .width = 28, .patch = 4,
                              .dim = 64, .heads = 4, .image_layers = 2, .text_layers = 2, .embed = 64,
                              .ctx = GENC_CAPTION_CTX};
}

static void image_tf(const genc_clip_config *cfg, genc_tf_config *tf) {
    genc_tf_config_patches(tf, cfg->dim, cfg->heads, cfg->image_layers, cfg->height, cfg->width, cfg->patch,
                           GENC_POS_ROPE2D);
    tf->cls_token = 1;
}

/* causal, as CLIP's text encoder: the EOS output has read the whole caption and no padding */
static void text_tf(const genc_clip_config *cfg, genc_tf_config *tf) {
    genc_tf_config_default(tf);
    tf->vocab = GENC_VOCAB;
    tf->tie_embeddings = 1; /* no LM head: the tower's output is the EOS hidden state */
    tf->dim = cfg->dim;
    tf->heads = cfg->heads;
    tf->layers = cfg->text_layers;
    tf->causal = 1;
    tf->pos = GENC_POS_LEARNED;
    tf->max_pos = cfg->ctx;
}

int genc_clip_config_validate(const genc_clip_config *c) {
    if (c->loss != GENC_CLIP_SOFTMAX && c->loss != GENC_CLIP_SIGMOID) return genc_set_error("loss: unknown kind");
    if (c->channels < 1 || c->channels > 4 || c->height < 1 || c->height > 1024 || c->width < 1 || c->width > 1024)
        return genc_set_error("images: %dx%dx%d is outside 1..1024 pixels and 1..4 channels", c->height, c->width, c->channels);
    if (c->patch < 1 || c->height % c->patch || c->width % c->patch)
        return genc_set_error("patch: %d does not divide the %dx%d images", c->patch, c->height, c->width);
    if (c->embed < 1 || c->embed > 4096) return genc_set_error("embed: %d is outside [1, 4096]", c->embed);
    if (c->ctx < 4 || c->ctx > 1024) return genc_set_error("ctx: %d is outside [4, 1024]", c->ctx);
    genc_tf_config a, b;
    image_tf(c, &a);
    text_tf(c, &b);
    if (genc_tf_config_validate(&a)) return genc_wrap_error("image tower");
    if (genc_tf_config_validate(&b)) return genc_wrap_error("text tower");
    if (genc_clip_param_count(c) > ((int64_t)1 << 28)) return genc_set_error("the model has more than 2^28 parameters");
    return GENC_OK;
}

int64_t genc_clip_param_count(const genc_clip_config *c) {
    genc_tf_config a, b;
    image_tf(c, &a);
    text_tf(c, &b);
    int64_t pin = (int64_t)c->channels * c->patch * c->patch;
    return pin * c->dim + c->dim + genc_tf_param_count(&a) + genc_tf_param_count(&b) + 2 * (int64_t)c->embed * c->dim + 1 +
           (c->loss == GENC_CLIP_SIGMOID);
}

char *genc_clip_config_to_json(const genc_clip_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "loss", genc_clip_loss_name(c->loss));
    const char *k[] = {"channels", "height", "width", "patch", "dim", "heads", "image_layers", "text_layers", "embed", "ctx"};
    const int v[] = {c->channels, c->height, c->width, c->patch, c->dim, c->heads, c->image_layers, c->text_layers, c->embed, c->ctx};
    for (int i = 0; i < 10; i++) cJSON_AddNumberToObject(o, k[i], v[i]);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int genc_clip_config_from_json(const char *json, genc_clip_config *c) {
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return genc_set_error("config is not a JSON object");
    }
    genc_clip_config_default(c);
    const char *loss = NULL, *w = "config";
    int rc = genc_json_get_str(o, w, "loss", &loss);
    if (rc == GENC_OK && loss) rc = genc_clip_loss_parse(loss, &c->loss);
    const char *k[] = {"channels", "height", "width", "patch", "dim", "heads", "image_layers", "text_layers", "embed", "ctx"};
    int *v[] = {&c->channels, &c->height, &c->width, &c->patch, &c->dim, &c->heads, &c->image_layers, &c->text_layers, &c->embed, &c->ctx};
    for (int i = 0; i < 10 && rc == GENC_OK; i++) rc = genc_json_get_int(o, w, k[i], 0, 1 << 20, v[i]);
    cJSON_Delete(o);
    return rc ? rc : genc_clip_config_validate(c);
}

void genc_clip_tower_configs(const genc_clip_config *cfg, int grounded, genc_tf_config *image, genc_tf_config *text) {
    image_tf(cfg, image);
    text_tf(cfg, text);
    text->cross_attn = grounded;
}

int genc_clip_init(genc_clip *m, const genc_clip_config *cfg, uint64_t seed) {
    return genc_clip_init_grounded(m, cfg, seed, 0);
}

int genc_clip_init_grounded(genc_clip *m, const genc_clip_config *cfg, uint64_t seed, int grounded) {
    memset(m, 0, sizeof *m);
    if (genc_clip_config_validate(cfg)) return GENC_ERR;
    m->cfg = *cfg;
    genc_params_init(&m->params);
    genc_rng r = genc_tf_init_rng(seed);
    genc_tf_config a, b;
    genc_clip_tower_configs(cfg, grounded, &a, &b);
    /* CLIP: projections N(0, dim^-½) */
    float pstd = 1.0f / sqrtf((float)cfg->dim);
    int rc = genc_linear_m_init(&m->patch_emb, &m->params, "image.patch_emb", cfg->channels * cfg->patch * cfg->patch,
                                cfg->dim, 1, &r, a.init_std);
    if (rc == GENC_OK) rc = genc_tf_build(&m->image, &m->params, "image", &a, &r);
    if (rc == GENC_OK) rc = genc_tf_build(&m->text, &m->params, "text", &b, &r);
    if (rc == GENC_OK) rc = genc_linear_m_init(&m->image_proj, &m->params, "image.proj", cfg->dim, cfg->embed, 0, &r, pstd);
    if (rc == GENC_OK) rc = genc_linear_m_init(&m->text_proj, &m->params, "text.proj", cfg->dim, cfg->embed, 0, &r, pstd);
    if (rc == GENC_OK && !(m->scale = genc_param_new(&m->params, "logit_scale", 1, (int[]){1}))) rc = GENC_ERR;
    if (rc == GENC_OK && cfg->loss == GENC_CLIP_SIGMOID && !(m->bias = genc_param_new(&m->params, "logit_bias", 1, (int[]){1})))
        rc = GENC_ERR;
    if (rc) {
        genc_clip_free(m);
        return GENC_ERR;
    }
    m->scale->data[0] = cfg->loss == GENC_CLIP_SIGMOID ? GENC_SIGLIP_T_INIT : GENC_CLIP_SCALE_INIT;
    if (m->bias) m->bias->data[0] = GENC_SIGLIP_B_INIT;
    return GENC_OK;
}

void genc_clip_free(genc_clip *m) {
    genc_transformer_free(&m->image);
    genc_transformer_free(&m->text);
    genc_params_free(&m->params);
    memset(m, 0, sizeof *m);
}

genc_tensor *genc_clip_image_tokens(genc_ctx *c, genc_clip *m, genc_tensor *x) {
    genc_tensor *t = genc_linear_m_fwd(c, &m->patch_emb, genc_patchify(c, x, m->cfg.patch));
    return genc_tf_blocks_forward(c, &m->image, genc_tf_embed(c, &m->image, t, NULL), NULL);
}

genc_tensor *genc_clip_image_embedding(genc_ctx *c, genc_clip *m, genc_tensor *tokens) {
    return genc_l2_normalize(c, genc_linear_m_fwd(c, &m->image_proj, genc_token_at(c, tokens, 0)), 1e-12f);
}

genc_tensor *genc_clip_embed_images(genc_ctx *c, genc_clip *m, genc_tensor *x) {
    return genc_clip_image_embedding(c, m, genc_clip_image_tokens(c, m, x));
}

genc_tensor *genc_clip_embed_texts(genc_ctx *c, genc_clip *m, const int32_t *ids, const int *eos, int B) {
    int T = m->cfg.ctx, D = m->cfg.dim;
    genc_tensor *h = genc_tf_blocks_forward(c, &m->text, genc_tf_embed_ids(c, &m->text, ids, B, T, NULL), NULL);
    /* gather row b·T + eos[b] of the [B·T, D] hidden states (an embedding lookup into them) */
    int32_t *rows = genc_scratch(c, sizeof(int32_t) * (size_t)B);
    for (int b = 0; b < B; b++) rows[b] = b * T + eos[b];
    genc_tensor *pooled = genc_embedding(c, genc_reshape(c, h, 2, (int[]){B * T, D}), rows, B);
    return genc_l2_normalize(c, genc_linear_m_fwd(c, &m->text_proj, pooled), 1e-12f);
}

/* CLIP clamps its scale after every optimizer step; the trainer has no post-step hook, so the
 * clamp runs before every forward pass instead: the same values enter every step's loss. */
genc_tensor *genc_clip_pair_loss(genc_ctx *c, genc_clip *m, genc_tensor *x_img, const int32_t *ids, const int *eos) {
    int B = genc_dim(x_img, 0);
    genc_tensor *x = genc_clip_embed_images(c, m, x_img), *y = genc_clip_embed_texts(c, m, ids, eos, B);
    if (m->cfg.loss == GENC_CLIP_SIGMOID) return genc_siglip_loss_ranks(c, x, y, m->scale, m->bias, 0);
    genc_clip_clamp_scale(m->scale);
    return genc_clip_loss_ranks(c, x, y, m->scale);
}
