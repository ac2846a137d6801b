/* The blocks stage of the backbone: x[B, T, D] → pre-LN blocks → final norm → [B, T, D].
 * Block options (self-attention masks and position encodings, cross-attention, adaLN-Zero)
 * are described with genc_tf_block in include/genc/nn.h. Self- and cross-attention both run
 * on the fused kernel genc_attention. */
#include "genc/nn.h"

#include "nn/tf_positions.h"

#include <string.h>

static const genc_tf_run NO_RUN = {0};

/* What every block of one pass shares, computed once. */
typedef struct tf_pass {
    const genc_tf_run *run;
    int B, T;
    const float *cos, *sin;  /* RoPE tables [T, Dh/2], NULL without RoPE */
    int interleaved;
    genc_attn_opts self, cross;
    genc_tensor *cond_act;   /* SiLU(cond) [B, cond_dim] under adaLN */
} tf_pass;

static void pass_init(genc_ctx *c, const genc_transformer *m, int B, int T, const genc_tf_run *run, tf_pass *p) {
    const genc_tf_config *cfg = &m->cfg;
    int Dh = cfg->dim / cfg->heads;
    genc_kv_cache *kv = run->cache;
    GENC_ASSERT(!kv || !c->grad_enabled, "KV cache is for no-grad decoding");
    GENC_ASSERT(!kv || kv->len + T <= kv->max_T, "KV cache overflow (%d + %d > %d)", kv ? kv->len : 0, T,
                kv ? kv->max_T : 0);
    memset(p, 0, sizeof *p);
    p->run = run;
    p->B = B;
    p->T = T;
    if (genc_pos_is_rope(cfg->pos)) {
        float *cs = genc_scratch(c, sizeof(float) * (size_t)T * Dh / 2);
        float *sn = genc_scratch(c, sizeof(float) * (size_t)T * Dh / 2);
        if (genc_pos_is_2d(cfg->pos)) {
            int n_patch = cfg->grid_h * cfg->grid_w;
            GENC_ASSERT(!kv && T >= n_patch, "2D RoPE: %d tokens for a %dx%d grid (no KV cache)", T, cfg->grid_h,
                        cfg->grid_w);
            genc_rope2d_tables(Dh, cfg->grid_h, cfg->grid_w, T - n_patch, cs, sn);
        } else {
            int offset = kv ? kv->len : run->pos_offset;
            genc_rope_tables(&cfg->rope, Dh, genc_tf_positions(c, run, T), 0, T,
                             run->cur_len > 0 ? run->cur_len : offset + T, cs, sn);
        }
        p->cos = cs;
        p->sin = sn;
        p->interleaved = cfg->pos == GENC_POS_ROPE || cfg->pos == GENC_POS_ROPE2D;
    }
    p->self.causal = run->bidirectional ? 0 : cfg->causal;
    p->self.block = run->block;
    p->self.mask = run->mask;
    p->self.key_pad = run->key_pad;
    p->self.alibi_slopes = cfg->pos == GENC_POS_ALIBI ? m->alibi_slopes : NULL;
    p->self.t5_table = cfg->pos == GENC_POS_T5 ? m->t5_table : NULL;
    p->self.t5_bidirectional = !p->self.causal;
    p->self.t5_max_distance = cfg->t5_max_distance;
    if (cfg->cross_attn && run->ctx) { /* without a context the sub-blocks are skipped */
        int Dc = cfg->ctx_dim ? cfg->ctx_dim : cfg->dim;
        GENC_ASSERT(run->ctx->ndim == 3 && run->ctx->shape[0] == B && run->ctx->shape[2] == Dc,
                    "cross-attention needs a context [B, S, %d] (genc_tf_run.ctx)", Dc);
        GENC_ASSERT(!kv || !kv->ctx_len || kv->ctx_len == run->ctx->shape[1],
                    "KV cache: a context of %d tokens after %d", run->ctx->shape[1], kv ? kv->ctx_len : 0);
        p->cross.key_pad = run->ctx_pad; /* every query sees every (real) context token */
    }
    if (cfg->cond == GENC_COND_ADALN) {
        int Dn = cfg->cond_dim ? cfg->cond_dim : cfg->dim;
        GENC_ASSERT(run->cond && run->cond->n == (int64_t)B * Dn,
                    "adaLN needs a conditioning vector [B, %d] (genc_tf_run.cond)", Dn);
        p->cond_act = genc_silu(c, run->cond);
    }
}

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

/* Split a linear's output [B, T, D] into heads [B, T, H, Dh] (a view). */
static genc_tensor *heads(genc_ctx *c, const genc_linear_m *lin, genc_tensor *x, int H) {
    genc_tensor *y = genc_linear_m_fwd(c, lin, x);
    return genc_reshape(c, y, 4, (int[]){x->shape[0], x->shape[1], H, genc_dim(y, -1) / H});
}

/* The context's keys and values of layer l: projected from ctx, or with a KV cache projected
 * at its first pass, kept, and read back at every later one (the context does not change
 * while a caption is decoded, so re-projecting it each token would repeat the same S·Dc·D
 * products). Out of memory for the cache: projected every time, as without one. */
static void cross_kv(genc_ctx *c, const genc_tf_block *bl, genc_kv_cache *kv, int l, genc_tensor *ctx, int H,
                     genc_tensor **k, genc_tensor **v) {
    int B = ctx->shape[0], S = ctx->shape[1], D = genc_dim(bl->xk.W, 0);
    if (kv && kv->xk && kv->xk[l]) {
        *k = genc_wrap(c, kv->xk[l], 4, (int[]){B, S, H, D / H});
        *v = genc_wrap(c, kv->xv[l], 4, (int[]){B, S, H, D / H});
        return;
    }
    *k = heads(c, &bl->xk, ctx, H);
    *v = heads(c, &bl->xv, ctx, H);
    if (!kv || !kv->xk) return;
    size_t bytes = sizeof(float) * (size_t)(*k)->n;
    kv->xk[l] = genc_aligned_alloc(bytes);
    kv->xv[l] = genc_aligned_alloc(bytes);
    if (!kv->xk[l] || !kv->xv[l]) {
        genc_aligned_free(kv->xk[l]);
        genc_aligned_free(kv->xv[l]);
        kv->xk[l] = kv->xv[l] = NULL;
        return;
    }
    memcpy(kv->xk[l], (*k)->data, bytes);
    memcpy(kv->xv[l], (*v)->data, bytes);
    kv->ctx_len = S;
}

/* x + drop(y), or x + gate ⊙ drop(y) under adaLN */
static genc_tensor *residual(genc_ctx *c, genc_tensor *x, genc_tensor *gate, genc_tensor *y, float p) {
    y = genc_dropout(c, y, p);
    return gate ? genc_gated_add(c, x, gate, y) : genc_add(c, x, y);
}

static genc_tensor *mlp(genc_ctx *c, const genc_tf_block *bl, genc_mlp_kind kind, genc_tensor *h) {
    h = genc_linear_m_fwd(c, &bl->fc1, h);
    switch (kind) {
    case GENC_MLP_GELU: h = genc_gelu(c, h); break;
    case GENC_MLP_GELU_TANH: h = genc_gelu_tanh(c, h); break;
    case GENC_MLP_QUICKGELU: h = genc_quickgelu(c, h); break;
    case GENC_MLP_SWIGLU: h = genc_swiglu(c, h); break;
    }
    return genc_linear_m_fwd(c, &bl->fc2, h);
}

/* One block on x[B, T, D]:
 *   x += [γ1 ⊙] Attn(mod(LN1(x)));  x += XAttn(LNx(x), ctx);  x += [γ2 ⊙] MLP(mod(LN2(x)))
 * mod is the adaLN modulation ·(1 + β) + α (identity without adaLN). */
static genc_tensor *block_forward(genc_ctx *c, genc_transformer *m, int l, genc_tensor *x, const tf_pass *p) {
    const genc_tf_config *cfg = &m->cfg;
    const genc_tf_block *bl = &m->blocks[l];
    int B = p->B, T = p->T, D = cfg->dim, NH = cfg->heads;
    genc_kv_cache *kv = p->run->cache;
    genc_tensor *mod[6] = {NULL}; /* shift, scale, gate for attention; the same for the MLP */
    if (p->cond_act) {
        genc_tensor *all = genc_linear_m_fwd(c, &bl->ada, p->cond_act); /* [B, 6·D] */
        for (int i = 0; i < 6; i++) mod[i] = genc_slice(c, all, 1, i * D, D);
    }

    genc_tensor *h = genc_norm_m_fwd(c, &bl->ln1, x);
    if (p->cond_act) h = genc_modulate(c, h, mod[0], mod[1]);
    genc_tensor *q = heads(c, &bl->q, h, NH), *k = heads(c, &bl->k, h, NH), *v = heads(c, &bl->v, h, NH);
    if (p->cos) {
        q = genc_rope(c, q, p->cos, p->sin, p->interleaved);
        k = genc_rope(c, k, p->cos, p->sin, p->interleaved);
    }
    genc_attn_opts so = p->self;
    genc_tensor *a = kv ? cached_attention(c, kv, l, q, k, v, &so) : genc_attention(c, q, k, v, &so);
    a = genc_linear_m_fwd(c, &bl->o, genc_reshape(c, a, 3, (int[]){B, T, D}));
    x = residual(c, x, mod[2], a, cfg->dropout);

    if (cfg->cross_attn && p->run->ctx) {
        q = heads(c, &bl->xq, genc_norm_m_fwd(c, &bl->ln_x, x), NH);
        cross_kv(c, bl, kv, l, p->run->ctx, NH, &k, &v);
        a = genc_attention(c, q, k, v, &p->cross);
        a = genc_linear_m_fwd(c, &bl->xo, genc_reshape(c, a, 3, (int[]){B, T, D}));
        x = residual(c, x, NULL, a, cfg->dropout);
    }

    h = genc_norm_m_fwd(c, &bl->ln2, x);
    if (p->cond_act) h = genc_modulate(c, h, mod[3], mod[4]);
    return residual(c, x, mod[5], mlp(c, bl, cfg->mlp, h), cfg->dropout);
}

static void check_input(const genc_transformer *m, const genc_tensor *x) {
    GENC_ASSERT(x->ndim == 3 && x->shape[2] == m->cfg.dim, "transformer blocks: x must be [B, T, %d]", m->cfg.dim);
}

genc_tensor *genc_tf_block_forward(genc_ctx *c, genc_transformer *m, int layer, genc_tensor *x,
                                   const genc_tf_run *run) {
    if (!run) run = &NO_RUN;
    check_input(m, x);
    GENC_ASSERT(layer >= 0 && layer < m->cfg.layers, "block %d of %d", layer, m->cfg.layers);
    tf_pass p;
    pass_init(c, m, x->shape[0], x->shape[1], run, &p);
    return block_forward(c, m, layer, x, &p);
}

genc_tensor *genc_tf_blocks_forward(genc_ctx *c, genc_transformer *m, genc_tensor *x, const genc_tf_run *run) {
    if (!run) run = &NO_RUN;
    check_input(m, x);
    int D = m->cfg.dim;
    tf_pass p;
    pass_init(c, m, x->shape[0], x->shape[1], run, &p);
    for (int l = 0; l < m->cfg.layers; l++) x = block_forward(c, m, l, x, &p);
    if (run->cache && !run->cache_peek) run->cache->len += p.T;
    x = genc_norm_m_fwd(c, &m->ln_f, x);
    if (p.cond_act) { /* DiT's final layer: LN(x)·(1 + scale) + shift */
        genc_tensor *fm = genc_linear_m_fwd(c, &m->ln_f_ada, p.cond_act); /* [B, 2·D] */
        x = genc_modulate(c, x, genc_slice(c, fm, 1, 0, D), genc_slice(c, fm, 1, D, D));
    }
    return x;
}
