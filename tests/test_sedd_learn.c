/* Learning test: a tiny SEDD model (64 wide, 2 layers, windows of 64, batch 16; absorbing:
 * 400 steps at lr 3e-3; uniform: 600 at 5e-3 in test_sedd_learn_uniform.c, which includes
 * this file) trained for a few seconds on the default corpus. Its held-out Monte-Carlo ELBO
 * (an upper bound on the negative log-likelihood; 4 draws per window on the first 256
 * held-out windows) must lie two standard errors below an independent closed-form baseline:
 * an add-one-smoothed unigram model over the 258 token states fitted to the training split,
 * scored on the same held-out tokens in the same unit (nats of every token, BOS/EOS included,
 * per byte). Even a perfect context-free model would only match it; beating it needs context.
 *
 * Before training the loss has a closed form: outputs o ≈ 0 give the exact scores of "every
 * state equally likely" (absorbing r/N, uniform 1), for which the bound is tight, so the
 * expected loss is log N minus the prior term per position: (1−ε)·log N = 5.547 (absorbing:
 * a masked position costs σ̄'·r·log N = log N / t) and 5.553 (uniform). Checked on 16
 * batches, ±0.25 for the Monte-Carlo noise. */
#ifndef SEDD_LEARN_OBJ
#define SEDD_LEARN_OBJ GENC_OBJ_SEDD_ABSORB
#define SEDD_LEARN_STEPS 400
#define SEDD_LEARN_LR 3e-3f
#endif
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genc/lm.h"
#include "models/lm/sedd.h"

static double unigram_bpc(const genc_corpus *tr, const int32_t *te, int64_t n) {
    double cnt[GENC_VOCAB] = {0}, tot = 0;
    for (int64_t i = 0; i < tr->n_tokens; i++) cnt[tr->tokens[i]] += 1, tot += 1;
    double nats = 0;
    int64_t bytes = 0;
    for (int64_t i = 0; i < n; i++) {
        nats -= log((cnt[te[i]] + 1) / (tot + GENC_SEDD_N));
        bytes += te[i] < 256;
    }
    return nats / (log(2.0) * bytes);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void learn(genc_lm_objective obj, int steps, float lr, const genc_corpus *tr, const genc_corpus *te) {
    const char *name = genc_objective_name(obj);
    double t0 = now();
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    cfg.dim = 64;
    cfg.layers = 2;
    cfg.heads = 4;
    cfg.causal = 0;
    cfg.cond = GENC_COND_ADD;
    cfg.rope.trained_len = 64;
    genc_lm lm;
    memset(&lm, 0, sizeof lm);
    genc_lm_train_cfg_default(&lm.train);
    lm.train.objective = obj;
    int B = 16, T = 64;
    CHECK(genc_lm_model_init(&lm, &cfg, 3) == GENC_OK, "init");
    genc_adamw_init(&lm.opt, &lm.model.params, 0.9f, 0.95f, 1e-8f, 0.01f);
    lm.has_opt = 1;
    genc_lr_schedule sched = {GENC_LR_COSINE, lr, lr / 10, 20, steps};
    genc_rng data = genc_rng_make(5, 1), noise = genc_rng_make(5, 3);
    genc_ctx *c = genc_ctx_new(0);
    int32_t *x = malloc(sizeof(int32_t) * B * T), *y = malloc(sizeof(int32_t) * B * T);
    /* the loss before training, averaged over 16 batches without updates */
    double init = 0;
    for (int s = 0; s < 16; s++) {
        genc_ctx_reset(c);
        genc_corpus_batch(tr, &data, B, T, x, y);
        init += genc_lm_loss(c, &lm, x, y, B, T, &noise)->data[0] / 16.0;
    }
    double first = 0, last = 0;
    for (int s = 0; s < steps; s++) {
        genc_corpus_batch(tr, &data, B, T, x, y);
        float lv = genc_lm_step(c, &lm, x, y, B, T, genc_lr_at(&sched, s), 1.0f, &noise, NULL);
        if (s < 20) first += lv / 20.0;
        if (s >= steps - 50) last += lv / 50.0;
    }
    double t_train = now() - t0;
    double init_want = log(GENC_SEDD_N) - genc_sedd_prior_kl(genc_sedd_graph_of(obj));
    CHECK(fabs(init - init_want) < 0.25, "%s: initial loss %.3f near %.3f", name, init, init_want);
    /* held-out: the first 256 windows of 64 tokens, 4 Monte-Carlo samples each */
    int64_t n = te->n_tokens < 256 * T ? te->n_tokens : 256 * T;
    genc_lm_eval_result r;
    CHECK(genc_lm_eval_elbo(&lm, te->tokens, n, T, 64, 4, 9, &r) == GENC_OK, "eval: %s", genc_error());
    double base = unigram_bpc(tr, te->tokens, n / T * T);
    printf("%s: initial loss %.3f; %d steps in %.1f s, train loss %.3f -> %.3f; held-out ELBO %.3f ± %.3f bpc vs unigram %.3f "
           "(%lld bytes, %.1f s in all)\n", name, init, steps, t_train, first, last, r.bpc, r.bpc_stderr, base,
           (long long)r.bytes, now() - t0);
    CHECK(r.bpc + 2 * r.bpc_stderr < base, "%s: ELBO %.3f ± %.3f bpc beats the unigram baseline %.3f", name, r.bpc,
          r.bpc_stderr, base);
    CHECK(r.bytes > 10000, "evaluated on %lld bytes", (long long)r.bytes);
    free(x);
    free(y);
    genc_ctx_free(c);
    genc_lm_free(&lm);
}

int main(void) {
    const char *path = GENC_DEFAULT_CORPUS;
    genc_corpus tr, te;
    if (genc_corpus_load(path, GENC_SPLIT_TRAIN, 100, &tr) || genc_corpus_load(path, GENC_SPLIT_TEST, 100, &te)) {
        fprintf(stderr, "FAIL: %s (the fortunes package is installed by make test)\n", genc_error());
        return 1;
    }
    learn(SEDD_LEARN_OBJ, SEDD_LEARN_STEPS, SEDD_LEARN_LR, &tr, &te);
    genc_corpus_free(&tr);
    genc_corpus_free(&te);
    return tu_finish();
}
