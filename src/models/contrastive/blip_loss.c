/* BLIP's pre-training loss (Li et al. 2022 §3.2): ITC + ITM + LM on one batch of image–caption
 * pairs, and the hard negatives ITM is trained on. */
#include "genc/blip.h"
#include "genc/dist.h"

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

/* A term that is a mean over the whole batch's items, computed on this rank's share of them
 * (genc/dist.h): its own mean × (its items / all items) × the number of ranks, so that the
 * trainer's average over the ranks is the whole batch's mean. Unchanged on one rank. */
static genc_tensor *share_of_mean(genc_ctx *c, genc_tensor *own_mean, int64_t own, int64_t all) {
    float N = genc_share_ranks(c);
    if (N == 1.0f && own == all) return own_mean;
    return genc_scale(c, own_mean, (float)((double)N * (double)own / (double)all));
}

/* ITM (BLIP §3.2): the B positives, for each image a hard negative text and for each text a
 * hard negative image, drawn from the ITC similarities sim [B, B] (scaled logits, image rows);
 * cross-entropy of "matched" over all of them. tokens [n, S, D] are the image tokens of this
 * rank's images [lo, lo + n) (all B on one rank): the negatives are drawn for the whole batch,
 * as one process draws them, and this rank scores the pairs whose image is its own. */
static genc_tensor *itm_loss(genc_ctx *c, genc_blip *m, genc_tensor *tokens, int lo, int B, const float *sim,
                             const int32_t *ids, const int *eos, const int32_t *keys, genc_rng *r, int *n_pairs) {
    int nb = tokens->shape[0], S = tokens->shape[1], D = tokens->shape[2], T = m->cfg.clip.ctx;
    int *neg_t = genc_scratch(c, sizeof(int) * (size_t)B), *neg_i = genc_scratch(c, sizeof(int) * (size_t)B);
    float *simT = genc_scratch(c, sizeof(float) * (size_t)B * B);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) simT[(int64_t)j * B + i] = sim[(int64_t)i * B + j];
    int n = B + genc_blip_hard_negatives(sim, B, keys, r, neg_t) + genc_blip_hard_negatives(simT, B, keys, r, neg_i);
    int32_t *rows = genc_scratch(c, sizeof(int32_t) * (size_t)n), *labels = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    int32_t *pids = genc_scratch(c, sizeof(int32_t) * (size_t)n * T);
    int *peos = genc_scratch(c, sizeof(int) * (size_t)n), k = 0;
    /* pair k: image rows[k] (a row of tokens), caption t, label; pairs of other ranks' images
     * are left out */
#define PAIR(img, txt, lab)                                                                  \
    do {                                                                                     \
        if ((img) < lo || (img) >= lo + nb) break;                                           \
        rows[k] = (img) - lo, labels[k] = (lab), peos[k] = eos[txt];                         \
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
    genc_tensor *ctx = genc_embedding(c, genc_reshape(c, tokens, 2, (int[]){nb, S * D}), rows, k);
    ctx = genc_reshape(c, ctx, 3, (int[]){k, S, D});
    *n_pairs = n;
    genc_tensor *ce = genc_cross_entropy(c, genc_blip_itm_logits(c, m, ctx, pids, peos, k), labels, -1, 0.f, NULL, 0.f);
    return share_of_mean(c, ce, k, n);
}

/* LM: predict ids[t + 1] from ids[..t] and the image for t < eos (the bytes and EOS after
 * BOS; PAD ignored), with label smoothing: the mean over the whole batch's predicted tokens,
 * of which this rank computes those of its captions [lo, lo + n) (tokens [n, S, D]). */
static genc_tensor *lm_loss(genc_ctx *c, genc_blip *m, genc_tensor *tokens, int lo, int B, const int32_t *ids,
                            const int *eos) {
    int nb = tokens->shape[0], T = m->cfg.clip.ctx;
    const int32_t *own = ids + (int64_t)lo * T;
    int32_t *target = genc_scratch(c, sizeof(int32_t) * (size_t)nb * T);
    int64_t n_own = 0, n_all = 0;
    for (int b = 0; b < B; b++) n_all += eos[b] < T ? eos[b] : T;
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < T; t++) {
            int keep = t < eos[lo + b];
            target[(int64_t)b * T + t] = keep ? own[(int64_t)b * T + t + 1] : -1;
            n_own += keep;
        }
    genc_tensor *logits = genc_blip_lm_logits(c, m, tokens, own, nb, T, NULL);
    return share_of_mean(c, genc_cross_entropy(c, logits, target, -1, m->cfg.label_smoothing, NULL, 0.f), n_own, n_all);
}

genc_tensor *genc_blip_loss(genc_ctx *c, genc_blip *m, genc_tensor *x, const int32_t *ids, const int *eos,
                            const int32_t *keys, genc_rng *r, genc_blip_losses *parts) {
    genc_clip *base = &m->base;
    int B = genc_dim(x, 0), E = m->cfg.clip.embed, T = m->cfg.clip.ctx;
    /* under data parallelism this rank embeds its pairs [lo, lo + nb) (genc/dist.h); the ITC
     * term and the negatives' similarities need every rank's embeddings, all-gathered */
    int lo, nb = genc_batch_share(c, B, &lo);
    genc_tensor *xs = x;
    if (nb < B) {
        int64_t per = x->n / B;
        xs = genc_wrap(c, x->data + lo * per, 4, (int[]){nb, genc_dim(x, 1), genc_dim(x, 2), genc_dim(x, 3)});
    }
    genc_tensor *tokens = genc_clip_image_tokens(c, base, xs);
    genc_tensor *xi = genc_gather_rows(c, genc_clip_image_embedding(c, base, tokens));
    genc_tensor *yt = genc_gather_rows(c, genc_clip_embed_texts(c, base, ids + (int64_t)lo * T, eos + lo, nb)); /* unimodal */
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
    genc_tensor *itm = itm_loss(c, m, tokens, lo, B, sim, ids, eos, keys, r, &n_pairs);
    genc_tensor *lm = lm_loss(c, m, tokens, lo, B, ids, eos);
    if (parts) *parts = (genc_blip_losses){itc->data[0], itm->data[0], lm->data[0], n_pairs};
    return genc_add(c, genc_add(c, itc, itm), lm);
}
