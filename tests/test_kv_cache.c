/* The KV cache is exact: for every position encoding, logits computed incrementally (a prompt,
 * then one token at a time) equal the logits of one full forward pass over the sequence. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/lm.h"

static void check_pos(genc_pos pos, genc_rope_scaling sc) {
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    cfg.dim = 32;
    cfg.layers = 2;
    cfg.heads = 4;
    cfg.pos = pos;
    cfg.rope.scaling = sc;
    cfg.rope.factor = sc ? 2.f : 1.f;
    cfg.rope.trained_len = 8;
    cfg.max_pos = 64;
    genc_transformer m;
    genc_transformer_init(&m, &cfg, 11);
    if (m.t5_table) tu_randn(m.t5_table->data, m.t5_table->n, 3, 0.5f); /* nonzero bias */
    int B = 2, T = 13, P = 5, V = cfg.vocab;
    int32_t ids[26];
    genc_rng r = genc_rng_make(1, 2);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)genc_rng_below(&r, 256);
    genc_ctx *c = genc_ctx_new(0);
    genc_no_grad(c);
    genc_tf_run full = {0};
    full.cur_len = T;
    genc_tensor *ref = genc_transformer_forward(c, &m, ids, B, T, &full);
    genc_kv_cache kv;
    genc_kv_cache_init(&kv, &m, B, T);
    float *inc = malloc(sizeof(float) * B * T * V);
    int32_t step_ids[26];
    for (int t0 = 0; t0 < T;) {
        int n = t0 == 0 ? P : 1;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < n; j++) step_ids[b * n + j] = ids[b * T + t0 + j];
        genc_tf_run run = {0};
        run.cache = &kv;
        run.cur_len = T; /* dynamic NTK must see the same length in both passes */
        genc_tensor *lg = genc_transformer_forward(c, &m, step_ids, B, n, &run);
        for (int b = 0; b < B; b++)
            memcpy(inc + ((size_t)b * T + t0) * V, lg->data + (size_t)b * n * V, sizeof(float) * n * V);
        t0 += n;
    }
    char what[96];
    snprintf(what, sizeof what, "kv cache logits, pos %s scaling %s", genc_pos_name(pos), genc_rope_scaling_name(sc));
    tu_close(what, inc, ref->data, (int64_t)B * T * V, 1e-5f, 1e-4f);
    free(inc);
    genc_kv_cache_free(&kv);
    genc_ctx_free(c);
    genc_transformer_free(&m);
}

int main(void) {
    for (int p = GENC_POS_NONE; p <= GENC_POS_T5; p++) check_pos((genc_pos)p, GENC_ROPE_SCALE_NONE);
    for (int s = GENC_ROPE_SCALE_LINEAR; s <= GENC_ROPE_SCALE_YARN; s++) check_pos(GENC_POS_ROPE_HALF, (genc_rope_scaling)s);
    return tu_finish();
}
