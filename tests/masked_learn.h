/* Shared body of the masked and block diffusion learning tests (test_learn_{mdlm,llada,bd3}.c):
 * a tiny model trained for a few seconds on the default corpus must reach, on the held-out
 * documents, a Monte-Carlo ELBO bpc clearly below the unigram entropy of those held-out bytes.
 * The baseline is independent of genc and generous to itself: the entropy of the test bytes'
 * own frequencies (no unigram model fitted elsewhere does better), while the diffusion bound
 * also pays for BOS and EOS tokens. Beating it by the margin means the model uses context. */
#ifndef GENC_TESTS_MASKED_LEARN_H
#define GENC_TESTS_MASKED_LEARN_H

#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genc/lm.h"

static double unigram_entropy_bits(const genc_corpus *te) {
    double cnt[256] = {0}, n = 0, h = 0;
    for (int64_t i = 0; i < te->n_tokens; i++)
        if (te->tokens[i] < 256) { cnt[te->tokens[i]] += 1; n += 1; }
    for (int v = 0; v < 256; v++)
        if (cnt[v] > 0) h -= cnt[v] / n * log2(cnt[v] / n);
    return h;
}

static int masked_learn(genc_lm_objective obj, int block, int steps, float lr, double margin) {
    const char *path = GENC_DEFAULT_CORPUS;
    genc_corpus tr, te;
    if (genc_corpus_load(path, GENC_SPLIT_TRAIN, 100, &tr) || genc_corpus_load(path, GENC_SPLIT_TEST, 100, &te)) {
        fprintf(stderr, "FAIL: %s (the fortunes package is installed by make test)\n", genc_error());
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    cfg.dim = 64;
    cfg.layers = 2;
    cfg.heads = 4;
    cfg.causal = 0; /* diffusion: bidirectional */
    cfg.rope.trained_len = 32;
    genc_lm lm;
    memset(&lm, 0, sizeof lm);
    genc_lm_train_cfg_default(&lm.train);
    lm.train.objective = obj;
    lm.train.block = block;
    int B = 16, T = 32;
    lm.train.seq = T;
    CHECK(genc_transformer_init(&lm.model, &cfg, 3) == GENC_OK, "init");
    genc_adamw_init(&lm.opt, &lm.model.params, 0.9f, 0.95f, 1e-8f, 0.01f);
    lm.has_opt = 1;
    genc_lr_schedule sched = {GENC_LR_COSINE, lr, lr / 10, 30, steps};
    genc_rng data = genc_rng_make(5, 1), noise = genc_rng_make(5, 3);
    genc_ctx *c = genc_ctx_new(0);
    int32_t *x = malloc(sizeof(int32_t) * B * T), *y = malloc(sizeof(int32_t) * B * T);
    float first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        genc_corpus_batch(&tr, &data, B, T, x, y);
        last = genc_lm_step(c, &lm, x, y, B, T, genc_lr_at(&sched, s), 1.0f, &noise, NULL);
        if (s == 0) first = last;
    }
    /* untrained logits ≈ 0: each masked token costs ln 259 and the weights average to 1 per
     * position (≈ (1−ε) for mdlm and bd3), so the first loss is near ln 259 = 5.56 */
    CHECK(fabsf(first - logf(259.f)) < 0.6f, "initial loss %.3f near ln 259", first);
    genc_lm_eval_result r;
    CHECK(genc_lm_eval_elbo(&lm, te.tokens, te.n_tokens, T, 64, 1, 1, &r) == GENC_OK, "eval: %s", genc_error());
    double base = unigram_entropy_bits(&te);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    printf("%s (block %d): train loss %.3f -> %.3f in %d steps; held-out ELBO %.3f bpc vs unigram entropy %.3f "
           "(needs < %.3f), %lld bytes, %.1f s\n",
           genc_objective_name(obj), block, first, last, steps, r.bpc, base, base - margin, (long long)r.bytes, sec);
    CHECK(r.bpc < base - margin, "%s ELBO %.3f bpc beats the unigram entropy %.3f by %.2f bits", genc_objective_name(obj),
          r.bpc, base, margin);
    CHECK(r.bytes > 100000, "evaluated on %lld bytes", (long long)r.bytes);
    free(x);
    free(y);
    genc_ctx_free(c);
    genc_lm_free(&lm);
    genc_corpus_free(&tr);
    genc_corpus_free(&te);
    return tu_finish();
}

#endif
