/* Evaluation metrics on hand-made score matrices with known answers (ties counted against the
 * model; the swapped-order accuracy with a tie), and the model's wiring: the parameter count the config predicts is what the towers
 * register (names under "image." and "text."), the config survives JSON, and the text tower
 * reads a caption up to its EOS only (causal: what follows EOS changes nothing, bytes before
 * it do). */
#include "genc/contrastive.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

int main(void) {
    /* zero-shot: 4 images, 3 classes. Row 0 right, row 1 wrong, row 2 a tie between the label
     * and another class (wrong), row 3 right with a tie between two other classes. */
    const float S[12] = {0.9f, 0.1f, 0.0f,  0.5f, 0.7f, 0.1f,  0.3f, 0.3f, 0.1f,  0.2f, 0.2f, 0.8f};
    const int32_t lab[4] = {0, 0, 1, 2};
    double acc = genc_zero_shot_accuracy(S, 4, 3, lab);
    CHECK(fabs(acc - 0.5) < 1e-12, "zero-shot accuracy %g, want 2/4", acc);
    /* retrieval rank: keys of 6 candidates; the query's key 7 appears twice (best 0.6) */
    const float s[6] = {0.9f, 0.6f, 0.6f, 0.2f, 0.5f, 0.6f};
    const int32_t keys[6] = {1, 7, 2, 3, 7, 4};
    CHECK(genc_retrieval_rank(s, 6, keys, 7) == 4, "rank %lld, want 4 (0.9 above, two ties at 0.6)",
          (long long)genc_retrieval_rank(s, 6, keys, 7));
    CHECK(genc_retrieval_rank(s, 6, keys, 1) == 1, "the top candidate has rank 1");
    CHECK(genc_retrieval_rank(s, 6, keys, 9) == 7, "no match: nc + 1");
    const float flat[3] = {0, 0, 0};
    const int32_t k3[3] = {0, 1, 2};
    CHECK(genc_retrieval_rank(flat, 3, k3, 0) == 3, "all scores tied: last");

    /* swapped-order accuracy: 5 pairs; right, wrong, a tie (wrong), right by a hair, wrong */
    {
        const float st[5] = {0.8f, 0.1f, 0.4f, 0.30001f, -0.2f}, ss[5] = {0.3f, 0.5f, 0.4f, 0.3f, -0.1f};
        double o = genc_order_accuracy(st, ss, 5);
        CHECK(fabs(o - 0.4) < 1e-12, "order accuracy %g, want 2/5 (the tie counts as wrong)", o);
        CHECK(genc_order_accuracy(st, st, 5) == 0.0, "all ties: 0");
        CHECK(isnan(genc_order_accuracy(st, ss, 0)), "no pairs: NaN");
    }

    /* linear probe: 3 classes whose features are e_k plus N(0, 0.1²) noise (separable: every
     * test point is within 0.4 of its own axis with overwhelming probability) give accuracy 1;
     * with labels unrelated to the features, test accuracy stays near chance 1/3 (300 test
     * points: sd 0.027, so < 0.5 is 6 sd). */
    {
        enum { N = 300, E = 4, K = 3 };
        static float xa[N * E], xb[N * E];
        int32_t ya[N], yb[N], ra[N], rb[N];
        genc_rng r = genc_rng_make(9, 0);
        for (int i = 0; i < N; i++) {
            ya[i] = i % K, yb[i] = (i / 2) % K;
            ra[i] = (int32_t)genc_rng_below(&r, K), rb[i] = (int32_t)genc_rng_below(&r, K);
            for (int e = 0; e < E; e++) {
                xa[i * E + e] = (e == ya[i]) + 0.1f * genc_rng_normal(&r);
                xb[i * E + e] = (e == yb[i]) + 0.1f * genc_rng_normal(&r);
            }
        }
        double acc = 0;
        CHECK(genc_linear_probe(xa, ya, N, xb, yb, N, E, K, &acc) == GENC_OK && acc == 1.0, "separable probe %g", acc);
        CHECK(genc_linear_probe(xa, ra, N, xb, rb, N, E, K, &acc) == GENC_OK && acc < 0.5, "random labels probe %g", acc);
    }

    /* the model */
    genc_clip_config cfg;
    genc_clip_config_default(&cfg);
    cfg.dim = 16;
    cfg.heads = 2;
    cfg.embed = 8;
    cfg.patch = 7;
    cfg.image_layers = cfg.text_layers = 1;
    for (int loss = 0; loss < 2; loss++) {
        cfg.loss = (genc_clip_loss_kind)loss;
        genc_clip m;
        CHECK(genc_clip_init(&m, &cfg, 3) == GENC_OK, "init: %s", genc_error());
        CHECK(genc_params_count(&m.params) == genc_clip_param_count(&cfg), "%lld parameters, config says %lld",
              (long long)genc_params_count(&m.params), (long long)genc_clip_param_count(&cfg));
        int other = 0;
        for (int i = 0; i < m.params.n; i++) {
            const char *n = m.params.list[i]->name;
            if (strncmp(n, "image.", 6) && strncmp(n, "text.", 5) && strcmp(n, "logit_scale") && strcmp(n, "logit_bias")) other++;
        }
        CHECK(other == 0, "%d parameters outside image., text. and the logit scale/bias", other);
        CHECK(m.scale->data[0] == (loss ? GENC_SIGLIP_T_INIT : GENC_CLIP_SCALE_INIT), "scale init %g", m.scale->data[0]);
        CHECK(loss ? m.bias && m.bias->data[0] == -10.f : m.bias == NULL, "bias");
        char *j = genc_clip_config_to_json(&cfg);
        genc_clip_config back;
        CHECK(genc_clip_config_from_json(j, &back) == GENC_OK && !memcmp(&back, &cfg, sizeof cfg), "json %s", j);
        free(j);
        /* causal pooling at EOS */
        int T = cfg.ctx;
        int32_t *ids = malloc(sizeof(int32_t) * 3 * T);
        int eos[3];
        genc_caption_tokens("a bag.", T, ids, &eos[0]);
        memcpy(ids + T, ids, sizeof(int32_t) * T);
        eos[1] = eos[0];
        for (int t = eos[0] + 1; t < T; t++) ids[T + t] = 'z';  /* garbage after EOS */
        genc_caption_tokens("a hag.", T, ids + 2 * T, &eos[2]); /* one byte differs */
        genc_ctx *c = genc_ctx_new(0);
        genc_tensor *y = genc_clip_embed_texts(c, &m, ids, eos, 3);
        int E = cfg.embed;
        CHECK(tu_close("after EOS", y->data + E, y->data, E, 1e-6f, 1e-5f), "tokens after EOS change the embedding");
        float d = 0;
        for (int e = 0; e < E; e++) d += fabsf(y->data[2 * E + e] - y->data[e]);
        CHECK(d > 1e-4f, "a different byte before EOS changes the embedding (|diff| %g)", d);
        genc_ctx_free(c);
        free(ids);
        genc_clip_free(&m);
    }
    cfg.patch = 5;
    CHECK(genc_clip_config_validate(&cfg) == GENC_ERR, "patch 5 on 28x28 refused");
    return tu_finish();
}
