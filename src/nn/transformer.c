/* The transformer backbone shared by every family: pre-LN blocks
 *   x += Attn(LN1(x));  x += MLP(LN2(x));  final LN, head
 * with every position encoding of spec/transformer.md chosen by one config field. */
#include "genc/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *MLP_NAMES[] = {"gelu", "gelu-tanh", "quickgelu", "swiglu"};
const char *genc_mlp_name(genc_mlp_kind k) { return (unsigned)k < 4 ? MLP_NAMES[k] : "?"; }
int genc_mlp_parse(const char *s, genc_mlp_kind *k) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, MLP_NAMES[i]) == 0) { *k = (genc_mlp_kind)i; return GENC_OK; }
    return genc_set_error("unknown MLP '%s' (choose gelu, gelu-tanh, quickgelu, swiglu)", s);
}

void genc_tf_config_default(genc_tf_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->vocab = 260;
    cfg->dim = 256;
    cfg->layers = 4;
    cfg->heads = 4;
    cfg->max_pos = 1024;
    cfg->causal = 1;
    cfg->pos = GENC_POS_ROPE;
    cfg->rope.base = 10000.f;
    cfg->rope.scaling = GENC_ROPE_SCALE_NONE;
    cfg->rope.factor = 1.f;
    cfg->rope.trained_len = 256;
    cfg->t5_buckets = 32;
    cfg->t5_max_distance = 128;
    cfg->norm_rms = 0;
    cfg->norm_eps = 1e-5f;
    cfg->mlp = GENC_MLP_GELU;
    cfg->bias = 1;
    cfg->tie_embeddings = 0;
    cfg->dropout = 0.f;
    cfg->init_std = 0.02f;
}

static int mlp_hidden(const genc_tf_config *cfg) {
    if (cfg->mlp_hidden > 0) return cfg->mlp_hidden;
    if (cfg->mlp == GENC_MLP_SWIGLU) return (8 * cfg->dim / 3 + 31) / 32 * 32;
    return 4 * cfg->dim;
}

int genc_tf_config_validate(const genc_tf_config *c) {
    if (c->vocab < 2 || c->vocab > 1 << 20) return genc_set_error("vocab %d out of range", c->vocab);
    if (c->dim < 2 || c->dim > 16384) return genc_set_error("--dim %d out of range [2, 16384]", c->dim);
    if (c->layers < 1 || c->layers > 256) return genc_set_error("--layers %d out of range [1, 256]", c->layers);
    if (c->heads < 1 || c->dim % c->heads)
        return genc_set_error("--heads %d must be positive and divide --dim %d", c->heads, c->dim);
    int dh = c->dim / c->heads;
    if ((c->pos == GENC_POS_ROPE || c->pos == GENC_POS_ROPE_HALF) && dh % 2)
        return genc_set_error("RoPE needs an even head dimension (dim/heads = %d)", dh);
    if (dh > 1024) return genc_set_error("head dimension %d too large (max 1024)", dh);
    if (c->pos == GENC_POS_SINUSOIDAL && c->dim % 2)
        return genc_set_error("sinusoidal positions need an even --dim (%d)", c->dim);
    if (c->max_pos < 1 || c->max_pos > 1 << 20) return genc_set_error("max_pos %d out of range", c->max_pos);
    if (c->mlp_hidden < 0) return genc_set_error("mlp_hidden %d is negative", c->mlp_hidden);
    if (c->rope.scaling != GENC_ROPE_SCALE_NONE && !(c->rope.factor >= 1.f && c->rope.factor <= 1024.f))
        return genc_set_error("--rope-factor %g must be in [1, 1024]", c->rope.factor);
    if (!(c->rope.base > 1.f)) return genc_set_error("rope base %g must be > 1", c->rope.base);
    if (c->rope.trained_len < 1) return genc_set_error("rope trained length must be positive");
    if (c->pos == GENC_POS_T5 && (c->t5_buckets < 4 || c->t5_max_distance < 2))
        return genc_set_error("T5 bias needs at least 4 buckets and max distance >= 2");
    if (!(c->dropout >= 0.f && c->dropout < 1.f)) return genc_set_error("--dropout %g must be in [0, 1)", c->dropout);
    if (!(c->norm_eps > 0.f)) return genc_set_error("norm eps must be positive");
    if (!(c->init_std > 0.f)) return genc_set_error("init std must be positive");
    if ((unsigned)c->pos > GENC_POS_T5 || (unsigned)c->mlp > GENC_MLP_SWIGLU ||
        (unsigned)c->rope.scaling > GENC_ROPE_SCALE_YARN)
        return genc_set_error("unknown enum value in config");
    return GENC_OK;
}

/* ---------------------------------------------------------------- init */

int genc_transformer_init(genc_transformer *m, const genc_tf_config *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    if (genc_tf_config_validate(cfg) != GENC_OK) return GENC_ERR;
    m->cfg = *cfg;
    genc_params_init(&m->params);
    genc_rng r = genc_rng_make(seed, 0x696e6974ull); /* "init" */
    int D = cfg->dim, H = mlp_hidden(cfg);
    float std = cfg->init_std, out_std = std / sqrtf(2.0f * cfg->layers);
    genc_params *ps = &m->params;
    m->tok_emb = genc_param_new(ps, "tok_emb.weight", 2, (int[]){cfg->vocab, D});
    genc_param_init_normal(m->tok_emb, &r, std);
    if (cfg->pos == GENC_POS_LEARNED) {
        m->pos_emb = genc_param_new(ps, "pos_emb.weight", 2, (int[]){cfg->max_pos, D});
        genc_param_init_normal(m->pos_emb, &r, std);
    }
    if (cfg->pos == GENC_POS_T5) /* zero init: the model starts position-agnostic */
        m->t5_table = genc_param_new(ps, "t5_bias.weight", 2, (int[]){cfg->t5_buckets, cfg->heads});
    m->blocks = calloc((size_t)cfg->layers, sizeof *m->blocks);
    if (!m->blocks) return genc_set_error("out of memory");
    char name[128];
    for (int l = 0; l < cfg->layers; l++) {
        genc_tf_block *b = &m->blocks[l];
#define NM(s) (snprintf(name, sizeof name, "blocks.%d.%s", l, s), name)
        genc_norm_m_init(&b->ln1, ps, NM("ln1"), D, cfg->norm_rms, cfg->norm_eps);
        genc_linear_m_init(&b->q, ps, NM("attn.q"), D, D, cfg->bias, &r, std);
        genc_linear_m_init(&b->k, ps, NM("attn.k"), D, D, cfg->bias, &r, std);
        genc_linear_m_init(&b->v, ps, NM("attn.v"), D, D, cfg->bias, &r, std);
        genc_linear_m_init(&b->o, ps, NM("attn.o"), D, D, cfg->bias, &r, out_std);
        genc_norm_m_init(&b->ln2, ps, NM("ln2"), D, cfg->norm_rms, cfg->norm_eps);
        genc_linear_m_init(&b->fc1, ps, NM("mlp.fc1"), D, cfg->mlp == GENC_MLP_SWIGLU ? 2 * H : H,
                           cfg->bias, &r, std);
        genc_linear_m_init(&b->fc2, ps, NM("mlp.fc2"), H, D, cfg->bias, &r, out_std);
#undef NM
    }
    genc_norm_m_init(&m->ln_f, ps, "ln_f", D, cfg->norm_rms, cfg->norm_eps);
    if (!cfg->tie_embeddings) genc_linear_m_init(&m->head, ps, "head", D, cfg->vocab, 0, &r, std);
    if (cfg->time_cond) {
        genc_linear_m_init(&m->time_fc1, ps, "time_emb.fc1", D, D, 1, &r, std);
        genc_linear_m_init(&m->time_fc2, ps, "time_emb.fc2", D, D, 1, &r, std);
    }
    if (cfg->pos == GENC_POS_ALIBI) {
        m->alibi_slopes = malloc(sizeof(float) * (size_t)cfg->heads);
        if (!m->alibi_slopes) return genc_set_error("out of memory");
        genc_alibi_slopes(cfg->heads, m->alibi_slopes);
    }
    return GENC_OK;
}

void genc_transformer_free(genc_transformer *m) {
    genc_params_free(&m->params);
    free(m->blocks);
    free(m->alibi_slopes);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- KV cache */

int genc_kv_cache_init(genc_kv_cache *kv, const genc_transformer *m, int B, int max_T) {
    memset(kv, 0, sizeof *kv);
    kv->B = B;
    kv->max_T = max_T;
    kv->layers = m->cfg.layers;
    kv->heads = m->cfg.heads;
    kv->head_dim = m->cfg.dim / m->cfg.heads;
    kv->k = calloc((size_t)kv->layers, sizeof(float *));
    kv->v = calloc((size_t)kv->layers, sizeof(float *));
    if (!kv->k || !kv->v) return genc_set_error("out of memory for the KV cache");
    size_t bytes = (size_t)B * max_T * m->cfg.dim * sizeof(float);
    for (int l = 0; l < kv->layers; l++) {
        kv->k[l] = genc_aligned_alloc(bytes);
        kv->v[l] = genc_aligned_alloc(bytes);
        if (!kv->k[l] || !kv->v[l]) {
            genc_kv_cache_free(kv);
            return genc_set_error("out of memory for the KV cache (%zu bytes per layer)", 2 * bytes);
        }
    }
    return GENC_OK;
}

void genc_kv_cache_free(genc_kv_cache *kv) {
    for (int l = 0; l < kv->layers; l++) {
        if (kv->k) genc_aligned_free(kv->k[l]);
        if (kv->v) genc_aligned_free(kv->v[l]);
    }
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

/* ---------------------------------------------------------------- forward */

/* Attention over the cache: store this pass's k/v rows at [len, len+T), then attend each
 * batch row's queries over its len+T cached keys (no grad: sampling only). */
static genc_tensor *cached_attention(genc_ctx *c, genc_kv_cache *kv, int layer, genc_tensor *q,
                                     genc_tensor *k, genc_tensor *v, genc_attn_opts *o) {
    int B = q->shape[0], T = q->shape[1], H = q->shape[2], Dh = q->shape[3];
    size_t row = (size_t)H * Dh, bstride = (size_t)kv->max_T * row;
    for (int b = 0; b < B; b++) {
        memcpy(kv->k[layer] + b * bstride + (size_t)kv->len * row, k->data + (size_t)b * T * row,
               (size_t)T * row * sizeof(float));
        memcpy(kv->v[layer] + b * bstride + (size_t)kv->len * row, v->data + (size_t)b * T * row,
               (size_t)T * row * sizeof(float));
    }
    genc_tensor *out = genc_new_like(c, q);
    int Tk = kv->len + T;
    o->q_offset = kv->len;
    for (int b = 0; b < B; b++) {
        genc_tensor *qb = genc_wrap(c, q->data + (size_t)b * T * row, 4, (int[]){1, T, H, Dh});
        genc_tensor *kb = genc_wrap(c, kv->k[layer] + b * bstride, 4, (int[]){1, Tk, H, Dh});
        genc_tensor *vb = genc_wrap(c, kv->v[layer] + b * bstride, 4, (int[]){1, Tk, H, Dh});
        genc_attn_opts ob = *o;
        if (o->key_pad) ob.key_pad = o->key_pad + (size_t)b * Tk;
        genc_tensor *ab = genc_attention(c, qb, kb, vb, &ob);
        memcpy(out->data + (size_t)b * T * row, ab->data, (size_t)T * row * sizeof(float));
    }
    return out;
}

genc_tensor *genc_transformer_logits(genc_ctx *c, genc_transformer *m, genc_tensor *h) {
    return m->cfg.tie_embeddings ? genc_linear(c, h, m->tok_emb, NULL) : genc_linear_m_fwd(c, &m->head, h);
}

genc_tensor *genc_transformer_forward(genc_ctx *c, genc_transformer *m, const int32_t *ids, int B,
                                      int T, const genc_tf_run *run) {
    static const genc_tf_run defaults = {0};
    if (!run) run = &defaults;
    const genc_tf_config *cfg = &m->cfg;
    int D = cfg->dim, NH = cfg->heads, Dh = D / NH;
    genc_kv_cache *kv = run->cache;
    GENC_ASSERT(!kv || !c->grad_enabled, "KV cache is for no-grad decoding");
    GENC_ASSERT(!kv || kv->len + T <= kv->max_T, "KV cache overflow (%d + %d > %d)", kv ? kv->len : 0,
                T, kv ? kv->max_T : 0);
    int offset = kv ? kv->len : run->pos_offset;
    int cur_len = run->cur_len > 0 ? run->cur_len : offset + T;

    /* absolute positions of this pass's tokens */
    int *pos = genc_scratch(c, sizeof(int) * (size_t)T);
    for (int t = 0; t < T; t++) pos[t] = run->pos ? run->pos[t] : offset + t;

    genc_tensor *x = genc_embedding(c, m->tok_emb, ids, B * T); /* [B·T, D] */
    if (cfg->pos == GENC_POS_SINUSOIDAL || cfg->pos == GENC_POS_LEARNED) {
        genc_tensor *pe;
        if (cfg->pos == GENC_POS_LEARNED) {
            for (int t = 0; t < T; t++)
                GENC_ASSERT(pos[t] >= 0 && pos[t] < cfg->max_pos, "position %d beyond the learned table (%d)",
                            pos[t], cfg->max_pos);
            pe = genc_embedding(c, m->pos_emb, pos, T);
        } else {
            pe = genc_new2(c, T, D);
            for (int t = 0; t < T; t++) genc_sinusoidal_table(1, D, pos[t], pe->data + (size_t)t * D);
        }
        x = genc_reshape(c, genc_add(c, genc_reshape(c, x, 3, (int[]){B, T, D}), pe), 2, (int[]){B * T, D});
    }
    if (cfg->time_cond) {
        /* per-sequence level → [B, D] vector, added to each of that sequence's tokens (the
         * gather through genc_embedding broadcasts it over T with a scatter-add backward) */
        GENC_ASSERT(run->time, "this model needs a noise level per sequence (genc_tf_run.time)");
        genc_tensor *f = genc_new2(c, B, D);
        genc_timestep_embedding(run->time, B, D, f->data);
        genc_tensor *h = genc_linear_m_fwd(c, &m->time_fc2, genc_silu(c, genc_linear_m_fwd(c, &m->time_fc1, f)));
        int32_t *rows = genc_scratch(c, sizeof(int32_t) * (size_t)B * T);
        for (int i = 0; i < B * T; i++) rows[i] = i / T;
        x = genc_add(c, x, genc_embedding(c, h, rows, B * T));
    }
    x = genc_dropout(c, x, cfg->dropout);

    float *cos_t = NULL, *sin_t = NULL;
    int rope = cfg->pos == GENC_POS_ROPE || cfg->pos == GENC_POS_ROPE_HALF;
    if (rope) {
        cos_t = genc_scratch(c, sizeof(float) * (size_t)T * Dh / 2);
        sin_t = genc_scratch(c, sizeof(float) * (size_t)T * Dh / 2);
        genc_rope_tables(&cfg->rope, Dh, pos, 0, T, cur_len, cos_t, sin_t);
    }
    genc_attn_opts ao = {0};
    ao.causal = run->bidirectional ? 0 : cfg->causal;
    ao.block = run->block;
    ao.q_offset = 0;
    ao.mask = run->mask;
    ao.key_pad = run->key_pad;
    ao.alibi_slopes = cfg->pos == GENC_POS_ALIBI ? m->alibi_slopes : NULL;
    ao.t5_table = cfg->pos == GENC_POS_T5 ? m->t5_table : NULL;
    ao.t5_bidirectional = !ao.causal;
    ao.t5_max_distance = cfg->t5_max_distance;

    int shape4[4] = {B, T, NH, Dh}, shape2[2] = {B * T, D};
    for (int l = 0; l < cfg->layers; l++) {
        genc_tf_block *bl = &m->blocks[l];
        genc_tensor *h = genc_norm_m_fwd(c, &bl->ln1, x);
        genc_tensor *q = genc_reshape(c, genc_linear_m_fwd(c, &bl->q, h), 4, shape4);
        genc_tensor *k = genc_reshape(c, genc_linear_m_fwd(c, &bl->k, h), 4, shape4);
        genc_tensor *v = genc_reshape(c, genc_linear_m_fwd(c, &bl->v, h), 4, shape4);
        if (rope) {
            int inter = cfg->pos == GENC_POS_ROPE;
            q = genc_rope(c, q, cos_t, sin_t, inter);
            k = genc_rope(c, k, cos_t, sin_t, inter);
        }
        genc_tensor *a = kv ? cached_attention(c, kv, l, q, k, v, &ao) : genc_attention(c, q, k, v, &ao);
        a = genc_linear_m_fwd(c, &bl->o, genc_reshape(c, a, 2, shape2));
        x = genc_add(c, x, genc_dropout(c, a, cfg->dropout));

        h = genc_norm_m_fwd(c, &bl->ln2, x);
        h = genc_linear_m_fwd(c, &bl->fc1, h);
        switch (cfg->mlp) {
        case GENC_MLP_GELU: h = genc_gelu(c, h); break;
        case GENC_MLP_GELU_TANH: h = genc_gelu_tanh(c, h); break;
        case GENC_MLP_QUICKGELU: h = genc_quickgelu(c, h); break;
        case GENC_MLP_SWIGLU: h = genc_swiglu(c, h); break;
        }
        h = genc_linear_m_fwd(c, &bl->fc2, h);
        x = genc_add(c, x, genc_dropout(c, h, cfg->dropout));
    }
    if (kv && !run->cache_peek) kv->len += T;
    x = genc_norm_m_fwd(c, &m->ln_f, x);
    if (run->return_hidden) return x;
    return genc_transformer_logits(c, m, x);
}
