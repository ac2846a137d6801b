/* The transformer backbone shared by every family: building its parameters, the KV cache,
 * the head, and the language model's forward = head(blocks(embed(ids))). The stages live in
 * embed.c and block.c; the configuration in config.c. */
#include "genc/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- building */

/* Where parameters go: ps, names under prefix, initial values from r; the parts in share
 * are taken from `from` instead. */
typedef struct builder {
    genc_params *ps;
    const char *prefix;
    genc_rng *r;
    const genc_transformer *from;
    unsigned share;
} builder;

/* "<prefix>.blocks.<layer>.<sub>", or "<prefix>.<sub>" for layer < 0 (the prefix may be empty). */
static int full_name(const builder *b, char *buf, size_t cap, int layer, const char *sub) {
    char local[192];
    int n = layer >= 0 ? snprintf(local, sizeof local, "blocks.%d.%s", layer, sub)
                       : snprintf(local, sizeof local, "%s", sub);
    if (n < 0 || (size_t)n >= sizeof local) return genc_set_error("parameter name '%s' too long", sub);
    return genc_param_name(buf, cap, b->prefix, local);
}

/* A zero-initialised parameter, or NULL with the error set. */
static genc_tensor *tensor(const builder *b, int layer, const char *sub, int ndim, const int *shape) {
    char nm[256];
    if (full_name(b, nm, sizeof nm, layer, sub)) return NULL;
    return genc_param_new(b->ps, nm, ndim, shape);
}

static int lin(const builder *b, genc_linear_m *m, int layer, const char *sub, int in, int out, int bias, float std) {
    char nm[256];
    if (full_name(b, nm, sizeof nm, layer, sub)) return GENC_ERR;
    return genc_linear_m_init(m, b->ps, nm, in, out, bias, b->r, std);
}

static int norm(const builder *b, genc_norm_m *m, int layer, const char *sub, const genc_tf_config *cfg) {
    char nm[256];
    if (full_name(b, nm, sizeof nm, layer, sub)) return GENC_ERR;
    return genc_norm_m_init(m, b->ps, nm, cfg->dim, cfg->norm_rms, cfg->norm_eps);
}

/* An adaLN projection [out, in] with bias, all zero so the modulation starts as the identity
 * (nothing drawn from r). */
static int ada(const builder *b, genc_linear_m *m, int layer, const char *sub, int in, int out) {
    char w[192], bias[192];
    snprintf(w, sizeof w, "%s.weight", sub);
    snprintf(bias, sizeof bias, "%s.bias", sub);
    m->W = tensor(b, layer, w, 2, (int[]){out, in});
    m->b = m->W ? tensor(b, layer, bias, 1, (int[]){out}) : NULL;
    return m->b ? GENC_OK : GENC_ERR;
}

/* One block; the draw order (ln1, q, k, v, o, [cross-attention], ln2, fc1, fc2) keeps models
 * without the new options identical to the ones built before they existed. */
static int build_block(const builder *b, genc_tf_block *bl, int l, const genc_tf_config *cfg) {
    int D = cfg->dim, H = genc_tf_mlp_hidden(cfg), Dc = cfg->ctx_dim ? cfg->ctx_dim : D;
    int Dn = cfg->cond_dim ? cfg->cond_dim : D, adaln = cfg->cond == GENC_COND_ADALN;
    float std = cfg->init_std, out_std = std / sqrtf(2.0f * cfg->layers);
    genc_norm_m plain = {NULL, NULL, cfg->norm_rms, cfg->norm_eps};
    const genc_tf_block *src = b->from ? &b->from->blocks[l] : NULL;
    if (b->share & GENC_TF_SHARE_SELF_ATTN) {
        bl->ln1 = src->ln1, bl->q = src->q, bl->k = src->k, bl->v = src->v, bl->o = src->o;
    } else {
        if (adaln) bl->ln1 = plain;
        else if (norm(b, &bl->ln1, l, "ln1", cfg)) return GENC_ERR;
        if (lin(b, &bl->q, l, "attn.q", D, D, cfg->bias, std) || lin(b, &bl->k, l, "attn.k", D, D, cfg->bias, std) ||
            lin(b, &bl->v, l, "attn.v", D, D, cfg->bias, std) || lin(b, &bl->o, l, "attn.o", D, D, cfg->bias, out_std))
            return GENC_ERR;
    }
    if (cfg->cross_attn && (b->share & GENC_TF_SHARE_CROSS_ATTN)) {
        bl->ln_x = src->ln_x, bl->xq = src->xq, bl->xk = src->xk, bl->xv = src->xv, bl->xo = src->xo;
    } else if (cfg->cross_attn &&
               (norm(b, &bl->ln_x, l, "ln_x", cfg) || lin(b, &bl->xq, l, "xattn.q", D, D, cfg->bias, std) ||
                lin(b, &bl->xk, l, "xattn.k", Dc, D, cfg->bias, std) ||
                lin(b, &bl->xv, l, "xattn.v", Dc, D, cfg->bias, std) ||
                lin(b, &bl->xo, l, "xattn.o", D, D, cfg->bias, out_std))) {
        return GENC_ERR;
    }
    if (b->share & GENC_TF_SHARE_MLP) {
        bl->ln2 = src->ln2, bl->fc1 = src->fc1, bl->fc2 = src->fc2;
    } else {
        if (adaln) bl->ln2 = plain;
        else if (norm(b, &bl->ln2, l, "ln2", cfg)) return GENC_ERR;
        if (lin(b, &bl->fc1, l, "mlp.fc1", D, cfg->mlp == GENC_MLP_SWIGLU ? 2 * H : H, cfg->bias, std) ||
            lin(b, &bl->fc2, l, "mlp.fc2", H, D, cfg->bias, out_std))
            return GENC_ERR;
    }
    if (adaln && ada(b, &bl->ada, l, "ada", Dn, 6 * D)) return GENC_ERR;
    return GENC_OK;
}

static int build_embed(genc_transformer *m, const builder *b, const genc_tf_config *cfg);

static int build(genc_transformer *m, const builder *b, const genc_tf_config *cfg) {
    int D = cfg->dim, Dn = cfg->cond_dim ? cfg->cond_dim : D;
    float std = cfg->init_std;
    if (b->share & GENC_TF_SHARE_EMBED) {
        m->tok_emb = b->from->tok_emb, m->pos_emb = b->from->pos_emb, m->pos_row = b->from->pos_row;
        m->pos_col = b->from->pos_col, m->cls = b->from->cls, m->t5_table = b->from->t5_table;
    } else if (build_embed(m, b, cfg)) {
        return GENC_ERR;
    }
    m->blocks = calloc((size_t)cfg->layers, sizeof *m->blocks);
    if (!m->blocks) return genc_set_error("out of memory");
    for (int l = 0; l < cfg->layers; l++)
        if (build_block(b, &m->blocks[l], l, cfg)) return GENC_ERR;
    if (b->share & GENC_TF_SHARE_FINAL) {
        m->ln_f = b->from->ln_f, m->head = b->from->head;
    } else if (cfg->cond == GENC_COND_ADALN) {
        m->ln_f = (genc_norm_m){NULL, NULL, cfg->norm_rms, cfg->norm_eps};
        if (ada(b, &m->ln_f_ada, -1, "ln_f.ada", Dn, 2 * D)) return GENC_ERR;
    } else if (norm(b, &m->ln_f, -1, "ln_f", cfg)) {
        return GENC_ERR;
    }
    if (!(b->share & GENC_TF_SHARE_FINAL) && cfg->vocab > 0 && !cfg->tie_embeddings &&
        lin(b, &m->head, -1, "head", D, cfg->vocab, 0, std))
        return GENC_ERR;
    if (cfg->pos == GENC_POS_ALIBI) {
        m->alibi_slopes = malloc(sizeof(float) * (size_t)cfg->heads);
        if (!m->alibi_slopes) return genc_set_error("out of memory");
        genc_alibi_slopes(cfg->heads, m->alibi_slopes);
    }
    return GENC_OK;
}

/* the embedding stage's tensors: token and position tables, class token, T5 bias */
static int build_embed(genc_transformer *m, const builder *b, const genc_tf_config *cfg) {
    int D = cfg->dim;
    float std = cfg->init_std;
    if (cfg->vocab > 0) {
        if (!(m->tok_emb = tensor(b, -1, "tok_emb.weight", 2, (int[]){cfg->vocab, D}))) return GENC_ERR;
        genc_param_init_normal(m->tok_emb, b->r, std);
    }
    if (cfg->pos == GENC_POS_LEARNED) {
        if (!(m->pos_emb = tensor(b, -1, "pos_emb.weight", 2, (int[]){cfg->max_pos, D}))) return GENC_ERR;
        genc_param_init_normal(m->pos_emb, b->r, std);
    }
    if (cfg->pos == GENC_POS_LEARNED2D) {
        if (!(m->pos_row = tensor(b, -1, "pos_emb.row.weight", 2, (int[]){cfg->grid_h, D})) ||
            !(m->pos_col = tensor(b, -1, "pos_emb.col.weight", 2, (int[]){cfg->grid_w, D})))
            return GENC_ERR;
        genc_param_init_normal(m->pos_row, b->r, std);
        genc_param_init_normal(m->pos_col, b->r, std);
    }
    if (cfg->cls_token) {
        if (!(m->cls = tensor(b, -1, "cls_token", 1, (int[]){D}))) return GENC_ERR;
        genc_param_init_normal(m->cls, b->r, std);
    }
    /* zero init: the model starts position-agnostic */
    if (cfg->pos == GENC_POS_T5 &&
        !(m->t5_table = tensor(b, -1, "t5_bias.weight", 2, (int[]){cfg->t5_buckets, cfg->heads})))
        return GENC_ERR;
    return GENC_OK;
}

genc_rng genc_tf_init_rng(uint64_t seed) { return genc_rng_make(seed, 0x696e6974ull); /* "init" */ }

/* GENC_ERR naming the first field in which a and b differ where the parts in share need
 * them equal. */
static int check_shareable(const genc_tf_config *a, const genc_tf_config *b, unsigned share) {
    if (a->cond == GENC_COND_ADALN || b->cond == GENC_COND_ADALN) return genc_set_error("sharing: not under adaLN");
    int blocks = (share & (GENC_TF_SHARE_SELF_ATTN | GENC_TF_SHARE_CROSS_ATTN | GENC_TF_SHARE_MLP)) != 0;
    if (a->dim != b->dim) return genc_set_error("sharing: dim %d and %d", a->dim, b->dim);
    if (a->norm_rms != b->norm_rms || a->norm_eps != b->norm_eps) return genc_set_error("sharing: different norms");
    if (a->bias != b->bias) return genc_set_error("sharing: bias in one model only");
    if (blocks && (a->layers != b->layers || a->heads != b->heads))
        return genc_set_error("sharing: %d layers x %d heads and %d x %d", a->layers, a->heads, b->layers, b->heads);
    if ((share & GENC_TF_SHARE_MLP) && (genc_tf_mlp_hidden(a) != genc_tf_mlp_hidden(b) || a->mlp != b->mlp))
        return genc_set_error("sharing: different MLPs");
    if ((share & GENC_TF_SHARE_CROSS_ATTN) && a->cross_attn &&
        (!b->cross_attn || (a->ctx_dim ? a->ctx_dim : a->dim) != (b->ctx_dim ? b->ctx_dim : b->dim)))
        return genc_set_error("sharing: cross-attention over different contexts");
    if ((share & GENC_TF_SHARE_EMBED) && (a->vocab != b->vocab || a->pos != b->pos || a->max_pos != b->max_pos ||
                                          a->cls_token != b->cls_token || a->grid_h != b->grid_h ||
                                          a->grid_w != b->grid_w || a->t5_buckets != b->t5_buckets))
        return genc_set_error("sharing: different embeddings (vocabulary, positions or class token)");
    if ((share & GENC_TF_SHARE_FINAL) && (a->vocab != b->vocab || a->tie_embeddings != b->tie_embeddings ||
                                          (a->tie_embeddings && !(share & GENC_TF_SHARE_EMBED))))
        return genc_set_error("sharing: different heads");
    return GENC_OK;
}

int genc_tf_build(genc_transformer *m, genc_params *ps, const char *prefix, const genc_tf_config *cfg,
                  genc_rng *r) {
    return genc_tf_build_shared(m, ps, prefix, cfg, r, NULL, 0);
}

int genc_tf_build_shared(genc_transformer *m, genc_params *ps, const char *prefix, const genc_tf_config *cfg,
                         genc_rng *r, const genc_transformer *from, unsigned share) {
    if (genc_tf_config_validate(cfg) != GENC_OK) return GENC_ERR;
    if (!from) share = 0;
    if (share && check_shareable(cfg, &from->cfg, share)) return GENC_ERR;
    m->cfg = *cfg;
    builder b = {ps, prefix, r, from, share};
    if (build(m, &b, cfg) == GENC_OK) return GENC_OK;
    free(m->blocks);
    free(m->alibi_slopes);
    m->blocks = NULL;
    m->alibi_slopes = NULL;
    return GENC_ERR;
}

int genc_transformer_init(genc_transformer *m, const genc_tf_config *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    genc_params_init(&m->params);
    genc_rng r = genc_tf_init_rng(seed);
    if (genc_tf_build(m, &m->params, "", cfg, &r) == GENC_OK) return GENC_OK;
    genc_transformer_free(m);
    return GENC_ERR;
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
    if (m->cfg.cross_attn) { /* the context's buffers come with the first pass (block.c) */
        kv->xk = calloc((size_t)kv->layers, sizeof(float *));
        kv->xv = calloc((size_t)kv->layers, sizeof(float *));
    }
    if (!kv->k || !kv->v || (m->cfg.cross_attn && (!kv->xk || !kv->xv))) {
        genc_kv_cache_free(kv);
        return genc_set_error("out of memory for the KV cache");
    }
    size_t bytes = (size_t)B * max_T * m->cfg.dim * sizeof(float);
    for (int l = 0; l < kv->layers; l++) {
        kv->k[l] = genc_aligned_alloc(bytes);
        kv->v[l] = genc_aligned_alloc(bytes);
        if (!kv->k[l] || !kv->v[l]) {
            genc_kv_cache_free(kv);
            return genc_wrap_error("KV cache");
        }
    }
    return GENC_OK;
}

void genc_kv_cache_free(genc_kv_cache *kv) {
    for (int l = 0; l < kv->layers; l++) {
        if (kv->k) genc_aligned_free(kv->k[l]);
        if (kv->v) genc_aligned_free(kv->v[l]);
        if (kv->xk) genc_aligned_free(kv->xk[l]);
        if (kv->xv) genc_aligned_free(kv->xv[l]);
    }
    free(kv->k);
    free(kv->v);
    free(kv->xk);
    free(kv->xv);
    memset(kv, 0, sizeof *kv);
}

/* rows b of buf [B, n] ← old rows src[b], through tmp [B, n] */
static void reorder_rows(float *buf, float *tmp, const int *src, int B, size_t n) {
    memcpy(tmp, buf, sizeof(float) * (size_t)B * n);
    for (int b = 0; b < B; b++) memcpy(buf + (size_t)b * n, tmp + (size_t)src[b] * n, sizeof(float) * n);
}

int genc_kv_cache_reorder(genc_kv_cache *kv, const int *src) {
    size_t row = (size_t)kv->heads * kv->head_dim, self = (size_t)kv->max_T * row, cross = (size_t)kv->ctx_len * row;
    float *tmp = genc_aligned_alloc(sizeof(float) * (size_t)kv->B * (self > cross ? self : cross));
    if (!tmp) return genc_wrap_error("reordering the KV cache");
    for (int l = 0; l < kv->layers; l++) {
        /* only [0, len) of each row is in use, but whole rows keep the copy one memcpy */
        reorder_rows(kv->k[l], tmp, src, kv->B, self);
        reorder_rows(kv->v[l], tmp, src, kv->B, self);
        if (kv->xk && kv->xk[l]) {
            reorder_rows(kv->xk[l], tmp, src, kv->B, cross);
            reorder_rows(kv->xv[l], tmp, src, kv->B, cross);
        }
    }
    genc_aligned_free(tmp);
    return GENC_OK;
}

/* ---------------------------------------------------------------- head and the LM forward */

genc_tensor *genc_transformer_logits(genc_ctx *c, genc_transformer *m, genc_tensor *h) {
    GENC_ASSERT(m->cfg.vocab > 0, "transformer: no head (vocab = 0)");
    return m->cfg.tie_embeddings ? genc_linear(c, h, m->tok_emb, NULL) : genc_linear_m_fwd(c, &m->head, h);
}

genc_tensor *genc_transformer_forward(genc_ctx *c, genc_transformer *m, const int32_t *ids, int B,
                                      int T, const genc_tf_run *run) {
    genc_tensor *x = genc_tf_blocks_forward(c, m, genc_tf_embed_ids(c, m, ids, B, T, run), run);
    x = genc_reshape(c, x, 2, (int[]){x->shape[0] * x->shape[1], m->cfg.dim}); /* [B·T', D] */
    if (run && run->return_hidden) return x;
    return genc_transformer_logits(c, m, x);
}
