/* Captioning with the BLIP decoder: nucleus sampling (Holtzman et al. 2020) or beam search,
 * over the byte tokens and EOS, one KV cache per batch of images (the image tokens' keys and
 * values are projected at the first step only, genc_kv_cache). And which class a caption
 * names. */
#include "genc/blip.h"
#include "genc/lm.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 128 }; /* decoder rows per batch (images × beams) */

/* Only bytes 1..255 and EOS can be generated: not NUL (a C string ends there), not BOS, PAD,
 * MASK. */
static void allowed_only(float *l, int V) {
    l[0] = -INFINITY;
    for (int t = 256; t < V; t++)
        if (t != GENC_TOK_EOS) l[t] = -INFINITY;
}

static char *text_of(const int32_t *bytes, int n) {
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    for (int i = 0; i < n; i++) s[i] = (char)bytes[i];
    s[n] = 0;
    return s;
}

/* Nucleus sampling of B captions for image tokens [B, S, D]; image b draws from stream
 * (seed, first + b). seq [B, T] holds the bytes so far. */
static int nucleus(genc_ctx *c, genc_blip *m, genc_tensor *img, int64_t first, const genc_caption_opts *o,
                   char **out) {
    int B = img->shape[0], T = m->cfg.clip.ctx, V = GENC_VOCAB;
    genc_kv_cache kv;
    if (genc_kv_cache_init(&kv, &m->decoder, B, T)) return GENC_ERR;
    int32_t *cur = genc_scratch(c, sizeof(int32_t) * (size_t)B), *seq = genc_scratch(c, sizeof(int32_t) * (size_t)B * T);
    int *len = genc_scratch(c, sizeof(int) * (size_t)B), *done = genc_scratch(c, sizeof(int) * (size_t)B);
    genc_rng *rng = genc_scratch(c, sizeof(genc_rng) * (size_t)B);
    float *work = genc_scratch(c, sizeof(float) * 2 * (size_t)V);
    for (int b = 0; b < B; b++) cur[b] = GENC_TOK_BOS, len[b] = done[b] = 0, rng[b] = genc_rng_make(o->seed, (uint64_t)(first + b));
    for (int left = B; left > 0;) {
        genc_tensor *lg = genc_blip_lm_logits(c, m, img, cur, B, 1, &kv); /* [B, V] */
        for (int b = 0; b < B; b++) {
            if (done[b]) { cur[b] = GENC_TOK_PAD; continue; }
            float *l = lg->data + (int64_t)b * V;
            allowed_only(l, V);
            /* BOS + T − 2 bytes fed so far: only EOS still fits */
            int32_t tok = len[b] == T - 2 ? GENC_TOK_EOS : genc_sample_logits(l, V, 1.f, 0, o->top_p, genc_rng_uniform(&rng[b]), work);
            if (tok == GENC_TOK_EOS) done[b] = 1, left--;
            else seq[(int64_t)b * T + len[b]++] = tok;
            cur[b] = tok;
        }
    }
    genc_kv_cache_free(&kv);
    for (int b = 0; b < B; b++)
        if (!(out[b] = text_of(seq + (int64_t)b * T, len[b]))) return genc_set_error("out of memory");
    return GENC_OK;
}

/* log-softmax of row l[V] into lp (−inf where l is) */
static void log_softmax_row(const float *l, int V, double *lp) {
    double mx = -INFINITY, z = 0;
    for (int t = 0; t < V; t++) mx = l[t] > mx ? l[t] : mx;
    for (int t = 0; t < V; t++) z += exp(l[t] - mx);
    for (int t = 0; t < V; t++) lp[t] = l[t] - mx - log(z);
}

typedef struct cand { double score; int beam, tok; } cand;

/* insert (score, beam, tok) into best[0..*n) sorted by descending score, keeping at most cap */
static void keep_best(cand *best, int *n, int cap, double score, int beam, int tok) {
    if (*n == cap && score <= best[cap - 1].score) return;
    int i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && best[i - 1].score < score) best[i] = best[i - 1], i--;
    best[i] = (cand){score, beam, tok};
}

/* Beam search of width K for the N = rows / K images of tokens [N, S, D]: rows i·K .. i·K+K−1
 * are image i's beams. A hypothesis that emits EOS is finished with score log p / (bytes + 1);
 * an image is done with K finished ones or at the length limit. */
static int beam_search(genc_ctx *c, genc_blip *m, genc_tensor *img, int K, char **out) {
    int N = img->shape[0], R = N * K, T = m->cfg.clip.ctx, V = GENC_VOCAB, S = img->shape[1], D = img->shape[2];
    /* every beam attends to its image: the image rows repeated K times */
    int32_t *rep = genc_scratch(c, sizeof(int32_t) * (size_t)R);
    for (int r = 0; r < R; r++) rep[r] = r / K;
    genc_tensor *ctx = genc_embedding(c, genc_reshape(c, img, 2, (int[]){N, S * D}), rep, R);
    ctx = genc_reshape(c, ctx, 3, (int[]){R, S, D});
    genc_kv_cache kv;
    if (genc_kv_cache_init(&kv, &m->decoder, R, T)) return GENC_ERR;
    int32_t *cur = genc_scratch(c, sizeof(int32_t) * (size_t)R), *seq = genc_scratch(c, sizeof(int32_t) * (size_t)R * T);
    int32_t *nseq = genc_scratch(c, sizeof(int32_t) * (size_t)R * T), *best_seq = genc_scratch(c, sizeof(int32_t) * (size_t)N * T);
    double *score = genc_scratch(c, sizeof(double) * (size_t)R), *nscore = genc_scratch(c, sizeof(double) * (size_t)R);
    double *best = genc_scratch(c, sizeof(double) * (size_t)N), *lp = genc_scratch(c, sizeof(double) * (size_t)V);
    int *src = genc_scratch(c, sizeof(int) * (size_t)R), *n_fin = genc_scratch(c, sizeof(int) * (size_t)N);
    int *best_len = genc_scratch(c, sizeof(int) * (size_t)N);
    cand *top = genc_scratch(c, sizeof(cand) * 2 * (size_t)K);
    for (int r = 0; r < R; r++) cur[r] = GENC_TOK_BOS, score[r] = r % K ? -INFINITY : 0; /* one live beam at first */
    for (int i = 0; i < N; i++) n_fin[i] = 0, best[i] = -INFINITY, best_len[i] = -1;
    int rc = GENC_OK, left = N;
    for (int len = 0; left > 0 && rc == GENC_OK; len++) { /* len bytes in every live beam */
        genc_tensor *lg = genc_blip_lm_logits(c, m, ctx, cur, R, 1, &kv);
        for (int i = 0; i < N; i++) {
            int n_top = 0;
            for (int k = 0; k < K; k++) {
                int r = i * K + k;
                src[r] = r, nscore[r] = -INFINITY, cur[r] = GENC_TOK_PAD;
                if (n_fin[i] >= K || score[r] == -INFINITY) continue;
                float *l = lg->data + (int64_t)r * V;
                allowed_only(l, V);
                if (len == T - 2) /* only EOS still fits */
                    for (int t = 0; t < V; t++) l[t] = t == GENC_TOK_EOS ? 0.f : -INFINITY;
                log_softmax_row(l, V, lp);
                for (int t = 0; t < V; t++)
                    if (lp[t] > -INFINITY) keep_best(top, &n_top, 2 * K, score[r] + lp[t], k, t);
            }
            if (n_fin[i] >= K) continue;
            int kept = 0;
            for (int j = 0; j < n_top && kept < K; j++) {
                int from = i * K + top[j].beam;
                if (top[j].tok == GENC_TOK_EOS) {
                    double s = top[j].score / (len + 1);
                    if (s > best[i]) {
                        best[i] = s, best_len[i] = len;
                        memcpy(best_seq + (int64_t)i * T, seq + (int64_t)from * T, sizeof(int32_t) * (size_t)len);
                    }
                    n_fin[i]++;
                    continue;
                }
                int r = i * K + kept++;
                src[r] = from, nscore[r] = top[j].score, cur[r] = top[j].tok;
                memcpy(nseq + (int64_t)r * T, seq + (int64_t)from * T, sizeof(int32_t) * (size_t)len);
                nseq[(int64_t)r * T + len] = top[j].tok;
            }
            if (n_fin[i] >= K || kept == 0) n_fin[i] = K, left--;
        }
        memcpy(seq, nseq, sizeof(int32_t) * (size_t)R * T);
        memcpy(score, nscore, sizeof(double) * (size_t)R);
        rc = genc_kv_cache_reorder(&kv, src);
    }
    genc_kv_cache_free(&kv);
    for (int i = 0; i < N && rc == GENC_OK; i++)
        if (!(out[i] = text_of(best_seq + (int64_t)i * T, best_len[i] < 0 ? 0 : best_len[i]))) rc = genc_set_error("out of memory");
    return rc;
}

int genc_blip_caption(genc_blip *m, const float *x, int n, int64_t first, const genc_caption_opts *o, char **out) {
    if (o->beam < 0 || o->beam > 16) return genc_set_error("beam width %d is outside [0, 16]", o->beam);
    if (o->beam == 0 && !(o->top_p > 0 && o->top_p <= 1)) return genc_set_error("top-p %g is outside (0, 1]", (double)o->top_p);
    const genc_clip_config *cfg = &m->cfg.clip;
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width;
    int chunk = o->beam > 0 ? ROWS / o->beam : ROWS, rc = GENC_OK;
    for (int i = 0; i < n; i++) out[i] = NULL;
    genc_ctx *c = genc_ctx_new(0);
    if (!c) return genc_set_error("out of memory");
    genc_no_grad(c);
    for (int i0 = 0; i0 < n && rc == GENC_OK; i0 += chunk) {
        int b = n - i0 < chunk ? n - i0 : chunk;
        genc_tensor *xi = genc_wrap(c, (float *)x + i0 * per, 4, (int[]){b, cfg->channels, cfg->height, cfg->width});
        genc_tensor *img = genc_clip_image_tokens(c, &m->base, xi);
        rc = o->beam > 0 ? beam_search(c, m, img, o->beam, out + i0) : nucleus(c, m, img, first + i0, o, out + i0);
        genc_ctx_reset(c);
    }
    genc_ctx_free(c);
    if (rc)
        for (int i = 0; i < n; i++) free(out[i]), out[i] = NULL;
    return rc;
}

/* names[k] occurs in text (both lower case) bounded by characters that cannot continue a name */
static int has_word(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        char a = p == text ? ' ' : p[-1], z = p[n];
        if (!isalnum((unsigned char)a) && a != '-' && a != '/' && !isalnum((unsigned char)z) && z != '-' && z != '/')
            return 1;
    }
    return 0;
}

static void lower(const char *s, char *buf, size_t cap) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) buf[i] = (char)tolower((unsigned char)s[i]);
    buf[i] = 0;
}

int genc_caption_class(const char *text, const char *const *names, int K) {
    char t[1024], a[128], b[128];
    lower(text, t, sizeof t);
    int found = -1;
    for (int k = 0; k < K; k++) {
        lower(names[k], a, sizeof a);
        if (!a[0] || !has_word(t, a)) continue;
        int inside = 0; /* "boot" found only because "ankle boot" is */
        for (int j = 0; j < K && !inside; j++) {
            lower(names[j], b, sizeof b);
            inside = j != k && strlen(b) > strlen(a) && strstr(b, a) && has_word(t, b);
        }
        if (inside) continue;
        if (found >= 0) return -1;
        found = k;
    }
    return found;
}
