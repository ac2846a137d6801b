/* BLIP pieces against closed forms and independent routes:
 *  - ITM hard negatives never pick a positive (the diagonal, or a column of the same key),
 *    with ties, −inf, +inf and NaN scores, batches of 2 and 1, one key everywhere; and they
 *    follow softmax(sim) over the candidates (frequencies against the closed form);
 *  - which class a caption names (word boundaries, a name inside a longer one, two names);
 *  - the KV cache: reordering its rows (beam search) equals running the reordered sequences
 *    from scratch, and the context's k/v are kept after the first pass;
 *  - beam search of width 1 equals greedy decoding by full forward passes (no cache);
 *  - a nucleus caption does not depend on the batch it is decoded in;
 *  - the configuration's JSON round trip and parameter count. */
#include "genc/blip.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n draws for every row of sim [B, B]; fails when one is a positive; counts picks into
 * hits [B, B] when given */
static void draw_many(const char *what, const float *sim, int B, const int32_t *keys, int n, int64_t *hits, int want_none) {
    genc_rng r = genc_rng_make(7, 1);
    int neg[16], bad = 0, none = 0;
    for (int it = 0; it < n; it++) {
        int found = genc_blip_hard_negatives(sim, B, keys, &r, neg);
        int count = 0;
        for (int i = 0; i < B; i++) {
            if (neg[i] < 0) { none++; continue; }
            count++;
            bad += neg[i] >= B || neg[i] == i || (keys && keys[neg[i]] == keys[i]);
            if (hits) hits[i * B + neg[i]]++;
        }
        bad += found != count;
    }
    CHECK(bad == 0, "%s: %d positives (or bad counts) drawn", what, bad);
    CHECK(want_none ? none == n * B : none == 0, "%s: %d rows without a negative", what, none);
}

static void hard_negatives(void) {
    enum { B = 6 };
    float sim[B * B];
    /* the diagonal dominates: a sampler that zeroed it by a probability, or forgot it, fails */
    for (int i = 0; i < B * B; i++) sim[i] = i % (B + 1) == 0 ? 50.f : (float)(i % 5) * 0.3f;
    draw_many("dominant diagonal", sim, B, NULL, 2000, NULL, 0);
    for (int i = 0; i < B * B; i++) sim[i] = 1.f; /* ties everywhere */
    draw_many("ties", sim, B, NULL, 2000, NULL, 0);
    for (int i = 0; i < B * B; i++) sim[i] = i % (B + 1) == 0 ? INFINITY : -INFINITY;
    draw_many("+inf diagonal, -inf elsewhere", sim, B, NULL, 2000, NULL, 0);
    for (int i = 0; i < B * B; i++) sim[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : 0.f;
    draw_many("NaN and inf", sim, B, NULL, 2000, NULL, 0);
    int32_t keys[B] = {0, 1, 0, 2, 1, 0};
    for (int i = 0; i < B * B; i++) sim[i] = 5.f * (float)((i * 7) % 11);
    draw_many("same-class captions are positives", sim, B, keys, 2000, NULL, 0);
    /* a batch of 2: the other column, always */
    float two[4] = {9.f, -9.f, -9.f, 9.f};
    int64_t hits2[4] = {0};
    draw_many("batch of 2", two, 2, NULL, 1000, hits2, 0);
    CHECK(hits2[1] == 1000 && hits2[2] == 1000, "batch of 2: picks %lld %lld", (long long)hits2[1], (long long)hits2[2]);
    int32_t same[2] = {3, 3};
    draw_many("batch of 2, one class", two, 2, same, 100, NULL, 1);
    draw_many("batch of 1", two, 1, NULL, 100, NULL, 1);

    /* distribution: row 0 over columns 1, 2 with scores 0 and ln 3 → 1/4, 3/4. 20000 draws:
     * standard deviation sqrt(p(1−p)/n) = 0.0031; tolerance 5 of them */
    float s3[9] = {100.f, 0.f, logf(3.f), 0, 0, 0, 0, 0, 0};
    int64_t hits[9] = {0};
    draw_many("distribution", s3, 3, NULL, 20000, hits, 0);
    double f2 = (double)hits[2] / 20000;
    CHECK(fabs(f2 - 0.75) < 0.0155, "p(column 2) = %.4f, want 0.75 (softmax over the candidates)", f2);
}

static void caption_classes(void) {
    static const char *const names[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", "Boot"};
    struct { const char *text; int want; } cases[] = {
        {"a photo of a t-shirt/top.", 0}, {"a photo of a shirt.", 6},      {"A picture of an Ankle boot.", 9},
        {"a boot.", 10},                  {"a bag and a coat.", -1},       {"a shirtdress.", -1},
        {"nothing here", -1},             {"", -1},                        {"bag", 8},
        {"a close-up photo of a sandal, centred.", 5}, {"a sneakers.", -1}, {"a dress.", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = genc_caption_class(cases[i].text, names, 11);
        CHECK(got == cases[i].want, "'%s' names class %d, want %d", cases[i].text, got, cases[i].want);
    }
}

static void tiny(genc_blip_config *cfg) {
    genc_blip_config_default(cfg);
    cfg->clip.dim = 16, cfg->clip.heads = 2, cfg->clip.embed = 8, cfg->clip.patch = 7;
    cfg->clip.image_layers = 1, cfg->clip.text_layers = 2, cfg->clip.ctx = 16;
}

/* Reordering the cache's rows = decoding the reordered histories from scratch. The same float32
 * products in another grouping (cache vs one pass): atol 1e-5, rtol 1e-4 as in test_kv_cache. */
static void cache_reorder(genc_blip *m) {
    enum { B = 3, P = 4, S = 17, D = 16 };
    int V = GENC_VOCAB;
    genc_ctx *c = genc_ctx_new(0);
    genc_no_grad(c);
    genc_tensor *img = genc_new3(c, B, S, D);
    tu_randn(img->data, img->n, 3, 1.f);
    int32_t ids[B * (P + 1)];
    genc_rng r = genc_rng_make(4, 0);
    for (int i = 0; i < B * (P + 1); i++) ids[i] = 1 + (int32_t)genc_rng_below(&r, 255);
    genc_kv_cache kv;
    CHECK(genc_kv_cache_init(&kv, &m->decoder, B, 16) == GENC_OK, "%s", genc_error());
    int32_t pre[B * P], next[B];
    for (int b = 0; b < B; b++) memcpy(pre + b * P, ids + b * (P + 1), sizeof(int32_t) * P);
    genc_blip_lm_logits(c, m, img, pre, B, P, &kv);
    CHECK(kv.ctx_len == S && kv.xk && kv.xk[0] && kv.xv[1], "the context's k/v are cached after the first pass");
    const int src[B] = {2, 0, 0};
    CHECK(genc_kv_cache_reorder(&kv, src) == GENC_OK, "reorder: %s", genc_error());
    /* row b continues history src[b] (and its image) with its own next token */
    int32_t full[B * (P + 1)];
    genc_tensor *img2 = genc_new3(c, B, S, D);
    for (int b = 0; b < B; b++) {
        next[b] = ids[b * (P + 1) + P];
        memcpy(full + b * (P + 1), pre + src[b] * P, sizeof(int32_t) * P);
        full[b * (P + 1) + P] = next[b];
        memcpy(img2->data + (int64_t)b * S * D, img->data + (int64_t)src[b] * S * D, sizeof(float) * S * D);
    }
    /* the cache holds img's k/v in reordered rows; feeding img (not img2) checks they moved too */
    genc_tensor *inc = genc_blip_lm_logits(c, m, img, next, B, 1, &kv);
    genc_tensor *ref = genc_blip_lm_logits(c, m, img2, full, B, P + 1, NULL);
    float *last = malloc(sizeof(float) * B * V);
    for (int b = 0; b < B; b++) memcpy(last + b * V, ref->data + ((int64_t)b * (P + 1) + P) * V, sizeof(float) * V);
    tu_close("reordered cache = reordered histories", inc->data, last, (int64_t)B * V, 1e-5f, 1e-4f);
    free(last);
    genc_kv_cache_free(&kv);
    genc_ctx_free(c);
}

/* beam 1 = greedy argmax by full forward passes over the growing prefix (no cache) */
static void greedy_is_beam1(genc_blip *m) {
    enum { N = 2 };
    int T = m->cfg.clip.ctx, V = GENC_VOCAB;
    float x[N * 784];
    tu_randn(x, N * 784, 9, 0.5f);
    char *out[N];
    genc_caption_opts o = {1, 0.9f, 1};
    CHECK(genc_blip_caption(m, x, N, 0, &o, out) == GENC_OK, "beam 1: %s", genc_error());
    genc_ctx *c = genc_ctx_new(0);
    genc_no_grad(c);
    for (int i = 0; i < N; i++) {
        genc_tensor *img = genc_clip_image_tokens(c, &m->base, genc_wrap(c, x + i * 784, 4, (int[]){1, 1, 28, 28}));
        int32_t seq[64] = {GENC_TOK_BOS};
        char want[64];
        int n = 0;
        for (;;) {
            genc_tensor *lg = genc_blip_lm_logits(c, m, img, seq, 1, n + 1, NULL);
            const float *l = lg->data + (int64_t)n * V;
            int best = -1;
            for (int t = 1; t < V; t++)
                if ((t < 256 || t == GENC_TOK_EOS) && (best < 0 || l[t] > l[best])) best = t;
            if (n == T - 2) best = GENC_TOK_EOS;
            if (best == GENC_TOK_EOS) break;
            seq[++n] = best;
            want[n - 1] = (char)best;
        }
        want[n] = 0;
        CHECK(strcmp(out[i], want) == 0, "image %d: beam 1 '%s', greedy '%s'", i, out[i], want);
        free(out[i]);
    }
    genc_ctx_free(c);
}

/* caption i of a batch = the same image decoded alone with first = i */
static void nucleus_batch_independent(genc_blip *m) {
    enum { N = 3 };
    float x[N * 784];
    tu_randn(x, N * 784, 11, 0.5f);
    char *all[N], *one[1];
    genc_caption_opts o = {0, 0.9f, 5};
    CHECK(genc_blip_caption(m, x, N, 0, &o, all) == GENC_OK, "nucleus: %s", genc_error());
    CHECK(genc_blip_caption(m, x + 2 * 784, 1, 2, &o, one) == GENC_OK, "nucleus: %s", genc_error());
    CHECK(strcmp(all[2], one[0]) == 0, "nucleus caption of image 2: '%s' in a batch, '%s' alone", all[2], one[0]);
    CHECK(strcmp(all[0], all[1]) != 0, "different images draw different captions ('%s')", all[0]);
    for (int i = 0; i < N; i++) free(all[i]);
    free(one[0]);
    o.top_p = 0.f;
    CHECK(genc_blip_caption(m, x, 1, 0, &o, one) == GENC_ERR, "top-p 0 is refused");
    o.beam = 17;
    CHECK(genc_blip_caption(m, x, 1, 0, &o, one) == GENC_ERR, "beam 17 is refused");
}

static void config(void) {
    genc_blip_config a, b;
    tiny(&a);
    a.label_smoothing = 0.25f;
    char *js = genc_blip_config_to_json(&a);
    CHECK(js && genc_blip_config_from_json(js, &b) == GENC_OK && b.clip.dim == 16 && b.clip.text_layers == 2 &&
              b.label_smoothing == 0.25f,
          "JSON round trip: %s", js ? js : "(null)");
    free(js);
    CHECK(genc_blip_config_from_json("{\"label_smoothing\": 1.5}", &b) == GENC_ERR, "smoothing 1.5 refused");
    CHECK(genc_blip_config_from_json("{\"loss\": \"sigmoid\"}", &b) == GENC_ERR, "a sigmoid BLIP is refused");
    genc_blip m;
    CHECK(genc_blip_init(&m, &a, 3) == GENC_OK, "init: %s", genc_error());
    CHECK(genc_params_count(&m.base.params) == genc_blip_param_count(&a), "param count %lld, config says %lld",
          (long long)genc_params_count(&m.base.params), (long long)genc_blip_param_count(&a));
    genc_blip_free(&m);
}

int main(void) {
    hard_negatives();
    caption_classes();
    config();
    genc_blip_config cfg;
    tiny(&cfg);
    genc_blip m;
    if (genc_blip_init(&m, &cfg, 2)) {
        CHECK(0, "init: %s", genc_error());
        return tu_finish();
    }
    cache_reorder(&m);
    greedy_is_beam1(&m);
    nucleus_batch_independent(&m);
    genc_blip_free(&m);
    return tu_finish();
}
