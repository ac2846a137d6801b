/* BLIP's pre-training loss (Li et al. 2022 §3.2): ITC + ITM + LM on one batch of image–caption
 * pairs, and the hard negatives ITM is trained on. */
#include "genc/blip.h"

#include <math.h>
#include <string.h>

static int is_candidate(int i, int j, const int32_t *keys) { return j != i && (!keys || keys[j] != keys[i]); }

/* One row: a candidate column drawn ∝ exp(s_j − max) (softmax), or uniformly when the scores
 * give no usable weights (all −inf or NaN); −1 without candidates. */
static int draw(const float *s, int B, int i, const int32_t *keys, genc_rng *r) {
    double mx = -INFINITY;
    int nc = 0;
    for (int j = 0; j < B; j++)
        if (is_candidate(i, j, keys)) {
            nc++;
            if (s[j] > mx) mx = s[j]; /* NaN compares false */
        }
    if (!nc) return -1;
    double total = 0;
    if (isfinite(mx) || mx > 0)
        for (int j = 0; j < B; j++)
            if (is_candidate(i, j, keys) && !isnan(s[j])) total += isfinite(mx) ? exp(s[j] - mx) : (s[j] == mx);
    double u = genc_rng_uniform(r) * total;
    int pick = (int)genc_rng_below(r, (uint32_t)nc), k = 0, last = -1;
    for (int j = 0; j < B; j++) {
        if (!is_candidate(i, j, keys)) continue;
        if (!(total > 0)) { /* uniform: the pick-th candidate */
            if (k++ == pick) return j;
            continue;
        }
        double w = isnan(s[j]) ? 0 : isfinite(mx) ? exp(s[j] - mx) : (s[j] == mx);
        if (w > 0) last = j;
        if (w > 0 && (u -= w) < 0) return j;
    }
    return last; /* rounding left u >= 0 after the last weight: the last weighted candidate */
}

int genc_blip_hard_negatives(const float *sim, int B, const int32_t *keys, genc_rng *r, int *neg) {
    int found = 0;
    for (int i = 0; i < B; i++) {
        neg[i] = draw(sim + (int64_t)i * B, B, i, keys, r);
        found += neg[i] >= 0;
    }
    return found;
}

/* ITM (BLIP §3.2): the B positives, for each image a hard negative text and for each text a
 * hard negative image, drawn from the ITC similarities sim [B, B] (scaled logits, image rows);
 * cross-entropy of "matched" over all of them. tokens [B, S, D] are the image tokens. */
static genc_tensor *itm_loss(genc_ctx *c, genc_blip *m, genc_tensor *tokens, const float *sim, const int32_t *ids,
                             const int *eos, const int32_t *keys, genc_rng *r, int *n_pairs) {
    int B = tokens->shape[0], S = tokens->shape[1], D = tokens->shape[2], T = m->cfg.clip.ctx;
    int *neg_t = genc_scratch(c, sizeof(int) * (size_t)B), *neg_i = genc_scratch(c, sizeof(int) * (size_t)B);
    float *simT = genc_scratch(c, sizeof(float) * (size_t)B * B);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) simT[(int64_t)j * B + i] = sim[(int64_t)i * B + j];
    int n = B + genc_blip_hard_negatives(sim, B, keys, r, neg_t) + genc_blip_hard_negatives(simT, B, keys, r, neg_i);
    int32_t *rows = genc_scratch(c, sizeof(int32_t) * (size_t)n), *labels = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    int32_t *pids = genc_scratch(c, sizeof(int32_t) * (size_t)n * T);
    int *peos = genc_scratch(c, sizeof(int) * (size_t)n), k = 0;
    /* pair k: image rows[k], caption t, label */
#define PAIR(img, txt, lab)                                                                  \
    do {                                                                                     \
        rows[k] = (img), labels[k] = (lab), peos[k] = eos[txt];                              \
        memcpy(pids + (int64_t)k * T, ids + (int64_t)(txt) * T, sizeof(int32_t) * (size_t)T); \
        k++;                                                                                 \
    } while (0)
    for (int i = 0; i < B; i++) PAIR(i, i, 1);
    for (int i = 0; i < B; i++)
        if (neg_t[i] >= 0) PAIR(i, neg_t[i], 0);
    for (int j = 0; j < B; j++)
        if (neg_i[j] >= 0) PAIR(neg_i[j], j, 0);
#undef PAIR
    /* the pairs' image tokens: rows of tokens seen as a table [B, S·D] (gradients flow back) */
    genc_tensor *ctx = genc_embedding(c, genc_reshape(c, tokens, 2, (int[]){B, S * D}), rows, n);
    ctx = genc_reshape(c, ctx, 3, (int[]){n, S, D});
    *n_pairs = n;
    return genc_cross_entropy(c, genc_blip_itm_logits(c, m, ctx, pids, peos, n), labels, -1, 0.f, NULL, 0.f);
}

/* LM: predict ids[t + 1] from ids[..t] and the image for t < eos (the bytes and EOS after
 * BOS; PAD ignored), with label smoothing. */
static genc_tensor *lm_loss(genc_ctx *c, genc_blip *m, genc_tensor *tokens, const int32_t *ids, const int *eos) {
    int B = tokens->shape[0], T = m->cfg.clip.ctx;
    int32_t *target = genc_scratch(c, sizeof(int32_t) * (size_t)B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) target[(int64_t)b * T + t] = t < eos[b] ? ids[(int64_t)b * T + t + 1] : -1;
    genc_tensor *logits = genc_blip_lm_logits(c, m, tokens, ids, B, T, NULL);
    return genc_cross_entropy(c, logits, target, -1, m->cfg.label_smoothing, NULL, 0.f);
}

genc_tensor *genc_blip_loss(genc_ctx *c, genc_blip *m, genc_tensor *x, const int32_t *ids, const int *eos,
                            const int32_t *keys, genc_rng *r, genc_blip_losses *parts) {
    genc_clip *base = &m->base;
    int B = genc_dim(x, 0), E = m->cfg.clip.embed;
    genc_tensor *tokens = genc_clip_image_tokens(c, base, x);
    genc_tensor *xi = genc_clip_image_embedding(c, base, tokens);
    genc_tensor *yt = genc_clip_embed_texts(c, base, ids, eos, B); /* no context: unimodal */
    genc_clip_clamp_scale(base->scale);
    genc_tensor *itc = genc_clip_loss(c, xi, yt, base->scale);
    /* the ITC logits as plain numbers, for drawing the negatives */
    float *sim = genc_scratch(c, sizeof(float) * (size_t)B * B), s = expf(base->scale->data[0]);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            double d = 0;
            for (int e = 0; e < E; e++) d += (double)xi->data[(int64_t)i * E + e] * yt->data[(int64_t)j * E + e];
            sim[(int64_t)i * B + j] = s * (float)d;
        }
    int n_pairs = 0;
    genc_tensor *itm = itm_loss(c, m, tokens, sim, ids, eos, keys, r, &n_pairs);
    genc_tensor *lm = lm_loss(c, m, tokens, ids, eos);
    if (parts) *parts = (genc_blip_losses){itc->data[0], itm->data[0], lm->data[0], n_pairs};
    return genc_add(c, genc_add(c, itc, itm), lm);
}
