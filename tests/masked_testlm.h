/* A small diffusion LM for the masked/block diffusion tests: 2 layers, d=32, 4 heads, with
 * matrices redrawn at N(0, std²) so logits are peaked and depend on position. */
#ifndef GENC_TESTS_MASKED_TESTLM_H
#define GENC_TESTS_MASKED_TESTLM_H

#include "testutil.h"

#include <string.h>

#include "genc/lm.h"

static void make_test_lm(genc_lm *lm, genc_lm_objective obj, genc_pos pos, int blk, int causal, int max_pos,
                         float std, uint64_t seed) {
    memset(lm, 0, sizeof *lm);
    genc_lm_train_cfg_default(&lm->train);
    lm->train.objective = obj;
    lm->train.block = blk;
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    cfg.dim = 32;
    cfg.layers = 2;
    cfg.heads = 4;
    cfg.max_pos = max_pos;
    cfg.pos = pos;
    cfg.causal = causal;
    cfg.rope.trained_len = 16;
    genc_transformer_init(&lm->model, &cfg, seed);
    for (int i = 0; i < lm->model.params.n; i++) {
        genc_tensor *p = lm->model.params.list[i];
        if (p->ndim == 2) tu_randn(p->data, p->n, seed * 100 + i, std);
    }
}

#endif
