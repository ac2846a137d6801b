/* A real LM checkpoint to mutate: two steps of a tiny AR model (dim 8, one layer, two heads,
 * windows of 8, batch 2) trained into out_dir, with an EMA of the given decay (0: none).
 * Shared by the hostile-checkpoint tests. Returns 0, or prints the error and returns 1. */
#ifndef GENC_TESTS_TINY_LM_RUN_H
#define GENC_TESTS_TINY_LM_RUN_H

#include "genc/lm.h"

#include <stdio.h>

static int tiny_lm_run(const char *out_dir, float ema) {
    genc_tf_config cfg;
    genc_lm_train_cfg tc;
    genc_tf_config_default(&cfg);
    genc_lm_train_cfg_default(&tc);
    cfg.dim = 8;
    cfg.layers = 1;
    cfg.heads = 2;
    tc.seq = 8;
    tc.common.batch = 2;
    tc.common.steps = 2;
    tc.common.ema = ema;
    genc_run_opts run = {0};
    run.out_dir = out_dir;
    if (genc_lm_train(&cfg, &tc, &run, NULL)) {
        fprintf(stderr, "FAIL: %s\n", genc_error());
        return 1;
    }
    return 0;
}

#endif
