/* Diffusion models: configuration (validated, JSON), building the network, the training loss.
 * The networks themselves are in net_mlp.c, net_unet.c and net_dit.c. */
#include "genc/diffusion.h"
#include "genc/dist.h"
#include "nn/json_get.h"
#include "net.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const NETS[GENC_DNET_COUNT] = {"mlp", "unet", "dit"};

const char *genc_dnet_name(genc_dnet k) { return k >= 0 && k < GENC_DNET_COUNT ? NETS[k] : "?"; }

int genc_dnet_parse(const char *s, genc_dnet *k) {
    for (int i = 0; i < GENC_DNET_COUNT; i++)
        if (strcmp(s, NETS[i]) == 0) { *k = (genc_dnet)i; return GENC_OK; }
    return genc_set_error("unknown network '%s' (mlp, unet, dit)", s);
}

genc_dpred genc_dproc_default_pred(genc_dproc k) {
    switch (k) {
    case GENC_DPROC_VE:
    case GENC_DPROC_EDM: return GENC_DPRED_EDM;
    case GENC_DPROC_FLOW: return GENC_DPRED_VELOCITY;
    default: return GENC_DPRED_EPS;
    }
}

void genc_dm_config_default(genc_dm_config *c, genc_dnet net, int channels, int height, int width) {
    memset(c, 0, sizeof *c);
    c->process = GENC_DPROC_EDM;
    c->T = 1000;
    c->pred = GENC_DPRED_EDM;
    c->net = net;
    c->channels = channels;
    c->height = height;
    c->width = width;
    c->hidden = net == GENC_DNET_UNET ? 32 : 128;
    c->layers = net == GENC_DNET_MLP ? 3 : 4;
    c->heads = 4;
    c->patch = 4;
    c->groups = 8;
    c->sigma_data = 0.5f;
}

int64_t genc_dm_param_count(const genc_dm_config *c) {
    int64_t D = (int64_t)c->channels * c->height * c->width, h = c->hidden, n = 0, E = genc_dm_embed_dim(c);
    int64_t F = genc_dm_freq_dim(c);
    n += E * F + E + E * E + E;                               /* time embedding: fc1, fc2 */
    if (c->n_classes > 0) n += (int64_t)(c->n_classes + 1) * E;
    switch (c->net) {
    case GENC_DNET_MLP: n += h * D + h + (int64_t)c->layers * (h * h + h) + D * h + D; break;
    case GENC_DNET_UNET: n += genc_dm_unet_count(c); break;
    case GENC_DNET_DIT: {
        genc_tf_config tc;
        genc_dm_dit_tf_config(c, &tc);
        int64_t pd = (int64_t)c->channels * c->patch * c->patch;
        n += h * pd + h + genc_tf_param_count(&tc) + pd * h + pd;
        break;
    }
    default: break;
    }
    return n;
}

int genc_dm_config_validate(const genc_dm_config *c) {
    if ((unsigned)c->process >= GENC_DPROC_COUNT || (unsigned)c->pred >= GENC_DPRED_COUNT || (unsigned)c->net >= GENC_DNET_COUNT)
        return genc_set_error("unknown process, parameterisation or network in config");
    if ((c->process == GENC_DPROC_DDPM_LINEAR || c->process == GENC_DPROC_DDPM_COSINE) && (c->T < 2 || c->T > GENC_DDPM_MAX_T))
        return genc_set_error("DDPM steps T = %d out of range [2, %d]", c->T, GENC_DDPM_MAX_T);
    if (c->channels < 1 || c->channels > 64 || c->height < 1 || c->height > 1024 || c->width < 1 || c->width > 1024)
        return genc_set_error("example shape %d×%d×%d out of range", c->channels, c->height, c->width);
    if (c->hidden < 4 || c->hidden > 4096) return genc_set_error("--hidden %d out of range [4, 4096]", c->hidden);
    if (c->layers < 1 || c->layers > 64) return genc_set_error("--layers %d out of range [1, 64]", c->layers);
    if (c->n_classes < 0 || c->n_classes > 100000) return genc_set_error("%d classes out of range", c->n_classes);
    if (!(c->sigma_data > 0 && c->sigma_data < 1e4)) return genc_set_error("sigma_data %g out of range", c->sigma_data);
    if (c->net == GENC_DNET_UNET) {
        if (c->height % 4 || c->width % 4)
            return genc_set_error("unet: image sides %d×%d must be multiples of 4 (two halvings)", c->height, c->width);
        if (c->groups < 1 || c->hidden % c->groups)
            return genc_set_error("unet: --groups %d must divide the %d base channels", c->groups, c->hidden);
        if (c->heads < 1 || (2 * c->hidden) % c->heads)
            return genc_set_error("unet: --heads %d must divide the %d channels of the attention", c->heads, 2 * c->hidden);
    }
    if (c->net == GENC_DNET_DIT) {
        if (c->patch < 1 || c->height % c->patch || c->width % c->patch)
            return genc_set_error("dit: --patch %d must divide the image sides %d×%d", c->patch, c->height, c->width);
        genc_tf_config tc;
        genc_dm_dit_tf_config(c, &tc);
        if (genc_tf_config_validate(&tc)) return genc_wrap_error("dit");
    }
    if (c->net != GENC_DNET_MLP && c->height * c->width < 16)
        return genc_set_error("--net %s is for images; use mlp for points", genc_dnet_name(c->net));
    int64_t n = genc_dm_param_count(c);
    if (n > ((int64_t)1 << 31)) return genc_set_error("config has %lld parameters; at most 2^31 are accepted", (long long)n);
    return GENC_OK;
}

char *genc_dm_config_to_json(const genc_dm_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", "diffusion");
    cJSON_AddStringToObject(o, "process", genc_dproc_name(c->process));
    cJSON_AddNumberToObject(o, "T", c->T);
    cJSON_AddStringToObject(o, "pred", genc_dpred_name(c->pred));
    cJSON_AddStringToObject(o, "net", genc_dnet_name(c->net));
    cJSON_AddNumberToObject(o, "channels", c->channels);
    cJSON_AddNumberToObject(o, "height", c->height);
    cJSON_AddNumberToObject(o, "width", c->width);
    cJSON_AddNumberToObject(o, "hidden", c->hidden);
    cJSON_AddNumberToObject(o, "layers", c->layers);
    cJSON_AddNumberToObject(o, "heads", c->heads);
    cJSON_AddNumberToObject(o, "patch", c->patch);
    cJSON_AddNumberToObject(o, "groups", c->groups);
    cJSON_AddNumberToObject(o, "n_classes", c->n_classes);
    cJSON_AddNumberToObject(o, "sigma_data", genc_json_float(c->sigma_data));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int genc_dm_config_from_json(const char *json, genc_dm_config *c) {
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) { cJSON_Delete(o); return genc_set_error("config: not a JSON object"); }
    const char *proc = NULL, *pred = NULL, *net = NULL, *W = "config";
    int rc = genc_json_get_str(o, W, "process", &proc) || genc_json_get_str(o, W, "pred", &pred) ||
             genc_json_get_str(o, W, "net", &net);
    genc_dnet nk = GENC_DNET_MLP;
    if (!rc && (!proc || !pred || !net)) rc = genc_set_error("config: \"process\", \"pred\" and \"net\" are required");
    if (!rc) rc = genc_dnet_parse(net, &nk);
    if (!rc) {
        genc_dm_config_default(c, nk, 2, 1, 1);
        rc = genc_dproc_parse(proc, &c->process) || genc_dpred_parse(pred, &c->pred) ||
             genc_json_get_int(o, W, "T", 2, GENC_DDPM_MAX_T, &c->T) ||
             genc_json_get_int(o, W, "channels", 1, 64, &c->channels) ||
             genc_json_get_int(o, W, "height", 1, 1024, &c->height) ||
             genc_json_get_int(o, W, "width", 1, 1024, &c->width) ||
             genc_json_get_int(o, W, "hidden", 4, 4096, &c->hidden) ||
             genc_json_get_int(o, W, "layers", 1, 64, &c->layers) ||
             genc_json_get_int(o, W, "heads", 1, 4096, &c->heads) ||
             genc_json_get_int(o, W, "patch", 1, 1024, &c->patch) ||
             genc_json_get_int(o, W, "groups", 1, 4096, &c->groups) ||
             genc_json_get_int(o, W, "n_classes", 0, 100000, &c->n_classes) ||
             genc_json_get_f32(o, W, "sigma_data", 1e-6, 1e4, &c->sigma_data);
    }
    cJSON_Delete(o);
    if (rc) return GENC_ERR;
    return genc_dm_config_validate(c);
}

int genc_dmodel_init(genc_dmodel *m, const genc_dm_config *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    if (genc_dm_config_validate(cfg)) return GENC_ERR;
    m->cfg = *cfg;
    if (genc_process_init(&m->proc, cfg->process, cfg->T)) return GENC_ERR;
    genc_params_init(&m->params);
    genc_rng r = genc_rng_make(seed, 100);
    int E = genc_dm_embed_dim(cfg), rc;
    rc = genc_time_embed_m_init(&m->time, &m->params, "time", genc_dm_freq_dim(cfg), E, E, &r, 0.02f);
    if (!rc && cfg->n_classes > 0) {
        m->class_emb = genc_param_new(&m->params, "class_emb.weight", 2, (int[]){cfg->n_classes + 1, E});
        if (!m->class_emb) rc = GENC_ERR;
        else genc_param_init_normal(m->class_emb, &r, 0.02f);
    }
    if (!rc) {
        switch (cfg->net) {
        case GENC_DNET_MLP: rc = genc_dm_mlp_build(m, &r); break;
        case GENC_DNET_UNET: rc = genc_dm_unet_build(m, &r); break;
        case GENC_DNET_DIT: rc = genc_dm_dit_build(m, &r); break;
        default: rc = genc_set_error("unknown network"); break;
        }
    }
    if (rc) { genc_dmodel_free(m); return GENC_ERR; }
    return GENC_OK;
}

void genc_dmodel_free(genc_dmodel *m) {
    free(m->hid);
    genc_transformer_free(&m->tf);
    genc_params_free(&m->params);
    memset(m, 0, sizeof *m);
}

/* The time embedding plus the class embedding: [B, E]. */
genc_tensor *genc_dm_embed(genc_ctx *c, genc_dmodel *m, const float *cnoise, const int32_t *labels, int B) {
    genc_tensor *e = genc_time_embed_m_fwd(c, &m->time, cnoise, B);
    if (!m->class_emb) return e;
    int32_t *ids = genc_scratch(c, sizeof(int32_t) * (size_t)B);
    for (int i = 0; i < B; i++) ids[i] = labels ? labels[i] : m->cfg.n_classes;
    return genc_add(c, e, genc_embedding(c, m->class_emb, ids, B));
}

genc_tensor *genc_dmodel_net(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels) {
    switch (m->cfg.net) {
    case GENC_DNET_MLP: return genc_dm_mlp_fwd(c, m, x, cnoise, labels);
    case GENC_DNET_UNET: return genc_dm_unet_fwd(c, m, x, cnoise, labels);
    default: return genc_dm_dit_fwd(c, m, x, cnoise, labels);
    }
}

static genc_tensor *example_tensor(genc_ctx *c, const genc_dm_config *cfg, int B) {
    if (cfg->net == GENC_DNET_MLP) return genc_new2(c, B, cfg->channels * cfg->height * cfg->width);
    return genc_new4(c, B, cfg->channels, cfg->height, cfg->width);
}

genc_tensor *genc_dm_example_tensor(genc_ctx *c, const genc_dm_config *cfg, int B) { return example_tensor(c, cfg, B); }

genc_tensor *genc_dmodel_loss(genc_ctx *c, genc_dmodel *m, const float *x0, const int32_t *labels, int B,
                              float label_dropout, genc_rng *r) {
    const genc_dm_config *cfg = &m->cfg;
    int64_t D = (int64_t)cfg->channels * cfg->height * cfg->width;
    genc_tensor *x = example_tensor(c, cfg, B), *target = example_tensor(c, cfg, B);
    float *eps = genc_scratch(c, sizeof(float) * (size_t)(B * D));
    float *cn = genc_scratch(c, sizeof(float) * (size_t)B);
    int32_t *lab = cfg->n_classes > 0 ? genc_scratch(c, sizeof(int32_t) * (size_t)B) : NULL;
    genc_rng_fill_normal(r, eps, B * D, 0, 1);
    for (int b = 0; b < B; b++) {
        double t = genc_process_draw_t(&m->proc, r), a, s;
        genc_process_coefs(&m->proc, t, &a, &s);
        cn[b] = (float)genc_process_cnoise(&m->proc, t);
        const float *xb = x0 + b * D, *eb = eps + b * D;
        float *xi = x->data + b * D;
        float fa = (float)a, fs = (float)s, k = (float)genc_dpred_in_scale(cfg->pred, a, s, cfg->sigma_data);
        for (int64_t j = 0; j < D; j++) xi[j] = k * (fa * xb[j] + fs * eb[j]);
        genc_dpred_target(cfg->pred, xb, eb, a, s, cfg->sigma_data, D, target->data + b * D);
        if (lab) {
            float u = genc_rng_uniform(r);
            lab[b] = labels && u >= label_dropout ? labels[b] : cfg->n_classes;
        }
    }
    /* the noise of the whole batch is drawn above; this rank denoises its examples (genc/dist.h) */
    int lo, nb = genc_batch_share(c, B, &lo);
    if (nb < B) {
        x = genc_wrap(c, x->data + lo * D, x->ndim, (int[]){nb, x->shape[1], x->shape[2], x->shape[3]});
        target = genc_wrap(c, target->data + lo * D, target->ndim,
                           (int[]){nb, target->shape[1], target->shape[2], target->shape[3]});
        cn += lo;
        if (lab) lab += lo;
    }
    return genc_mse(c, genc_dmodel_net(c, m, x, cn, lab), target);
}
