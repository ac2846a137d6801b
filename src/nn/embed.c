/* The embed stage of the backbone: whatever the tokens are (ids through the embedding table,
 * image patches, 2D points), it puts the class token in front, adds absolute positions and a
 * per-sequence conditioning vector, and applies dropout: x[B, T, D] → [B, T', D]. */
#include "genc/nn.h"

#include "nn/tf_positions.h"

#include <string.h>

static const genc_tf_run NO_RUN = {0};

/* tok[D] in front of every sequence. The broadcast to [B, D] is a gather of row 0 B times,
 * so backward sums the B rows into tok's gradient. */
genc_tensor *genc_prepend_token(genc_ctx *c, genc_tensor *x, genc_tensor *tok) {
    GENC_ASSERT(x->ndim == 3 && tok->n == x->shape[2], "prepend_token: x [B, T, D] and tok [D]");
    int B = x->shape[0], D = x->shape[2];
    int32_t *zero = genc_scratch(c, sizeof(int32_t) * (size_t)B);
    memset(zero, 0, sizeof(int32_t) * (size_t)B);
    genc_tensor *t = genc_embedding(c, genc_reshape(c, tok, 2, (int[]){1, D}), zero, B);
    return genc_concat(c, genc_reshape(c, t, 3, (int[]){B, 1, D}), x, 1);
}

genc_tensor *genc_token_at(genc_ctx *c, genc_tensor *x, int t) {
    GENC_ASSERT(x->ndim == 3, "token_at: x must be [B, T, D]");
    return genc_reshape(c, genc_slice(c, x, 1, t, 1), 2, (int[]){x->shape[0], x->shape[2]});
}

/* Learned axial 2D positions for the h·w patches x[B, h·w, D]: row[y] + col[x]. */
static genc_tensor *add_learned2d(genc_ctx *c, genc_transformer *m, genc_tensor *x) {
    int h = m->cfg.grid_h, w = m->cfg.grid_w, N = h * w;
    GENC_ASSERT(x->shape[1] == N, "learned2d: %d tokens for a %dx%d grid (the class token is added after)",
                x->shape[1], h, w);
    int32_t *ry = genc_scratch(c, sizeof(int32_t) * (size_t)N), *rx = genc_scratch(c, sizeof(int32_t) * (size_t)N);
    for (int p = 0; p < N; p++) {
        ry[p] = p / w;
        rx[p] = p % w;
    }
    genc_tensor *pe = genc_add(c, genc_embedding(c, m->pos_row, ry, N), genc_embedding(c, m->pos_col, rx, N));
    return genc_add(c, x, pe);
}

/* Sinusoidal or learned 1D positions of the run, the first token (class token or not) at the
 * first position: x[B, T, D] + pe[T, D]. */
static genc_tensor *add_positions(genc_ctx *c, genc_transformer *m, genc_tensor *x, const genc_tf_run *run) {
    const genc_tf_config *cfg = &m->cfg;
    int T = x->shape[1], D = cfg->dim;
    int *pos = genc_tf_positions(c, run, T);
    genc_tensor *pe;
    if (cfg->pos == GENC_POS_LEARNED) {
        for (int t = 0; t < T; t++)
            GENC_ASSERT(pos[t] >= 0 && pos[t] < cfg->max_pos, "position %d beyond the learned table (%d)", pos[t],
                        cfg->max_pos);
        pe = genc_embedding(c, m->pos_emb, pos, T);
    } else {
        pe = genc_new2(c, T, D);
        for (int t = 0; t < T; t++) genc_sinusoidal_table(1, D, pos[t], pe->data + (size_t)t * D);
    }
    return genc_add(c, x, pe);
}

genc_tensor *genc_tf_embed(genc_ctx *c, genc_transformer *m, genc_tensor *x, const genc_tf_run *run) {
    const genc_tf_config *cfg = &m->cfg;
    if (!run) run = &NO_RUN;
    GENC_ASSERT(x->ndim == 3 && x->shape[2] == cfg->dim, "embed: x must be [B, T, %d]", cfg->dim);
    int B = x->shape[0];
    if (cfg->pos == GENC_POS_LEARNED2D) x = add_learned2d(c, m, x);
    if (cfg->cls_token) x = genc_prepend_token(c, x, m->cls);
    if (cfg->pos == GENC_POS_SINUSOIDAL || cfg->pos == GENC_POS_LEARNED) x = add_positions(c, m, x, run);
    if (cfg->cond == GENC_COND_ADD) {
        /* a per-sequence vector (SEDD: the noise level's embedding) on each of its tokens */
        GENC_ASSERT(run->cond && run->cond->n == (int64_t)B * cfg->dim,
                    "this model adds a conditioning vector [B, %d] to every token (genc_tf_run.cond)", cfg->dim);
        /* gathered per token through genc_embedding, whose scatter-add backward sums the T
         * tokens' gradients in float, in order: the numbers of SEDD models trained before
         * the conditioning path existed (a broadcast add would sum in double) */
        int T = x->shape[1], D = cfg->dim;
        int32_t *rows = genc_scratch(c, sizeof(int32_t) * (size_t)B * T);
        for (int64_t i = 0; i < (int64_t)B * T; i++) rows[i] = (int32_t)(i / T);
        genc_tensor *cond = genc_reshape(c, run->cond, 2, (int[]){B, D});
        x = genc_add(c, x, genc_reshape(c, genc_embedding(c, cond, rows, B * T), 3, (int[]){B, T, D}));
    }
    return genc_dropout(c, x, cfg->dropout);
}

genc_tensor *genc_tf_embed_ids(genc_ctx *c, genc_transformer *m, const int32_t *ids, int B, int T,
                               const genc_tf_run *run) {
    GENC_ASSERT(m->tok_emb, "embed: this model has no token embedding (vocab = 0)");
    genc_tensor *x = genc_embedding(c, m->tok_emb, ids, B * T); /* [B·T, D] */
    return genc_tf_embed(c, m, genc_reshape(c, x, 3, (int[]){B, T, m->cfg.dim}), run);
}
