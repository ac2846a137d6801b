/* genc bench lm: time full training steps (forward, backward, AdamW) on random bytes.
 * bench/bench_lm.py runs this and the same PyTorch model in one go and prints the ratio. */
#include "cli.h"
#include "classifier_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genc/lm.h"

static const char *HELP =
    "usage: genc bench lm [--dim D] [--layers N] [--heads H] [--seq T] [--batch B] [--pos P]\n"
    "                     [--mlp M] [--steps N] [--warmup-steps W] [--threads N] [--json]\n"
    "\n"
    "Time training steps (forward + backward + AdamW) of a transformer LM on random bytes and\n"
    "print tokens per second. Defaults: d=256, 4 layers, 4 heads, T=256, batch 8, RoPE,\n"
    "3 warm-up steps then 10 timed steps. With --json the last line is\n"
    "{\"tokens_per_s\", \"ms_per_step\", ...}.\n"
    "\n"
    "genc bench classifier: the same for an image classifier (genc bench classifier --help).\n"
    "genc bench clip: the same for an image-text model (genc bench clip --help).\n";

int cmd_bench(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(HELP);
    if (argc >= 1 && strcmp(argv[0], "classifier") == 0) return classifier_bench(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "clip") == 0) return clip_bench(argc - 1, argv + 1);
    if (argc < 1 || strcmp(argv[0], "lm") != 0)
        return usage_error("bench needs a family: genc bench lm|classifier|clip (see --help)");
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    int T = 256, B = 8, steps = 10, warm = 3, threads = 0, json = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        const char *s;
        if (flag(&a, "--help")) return show_help(HELP);
        else if (flag(&a, "--dim")) cfg.dim = val_int(&a, "--dim", 2, 16384);
        else if (flag(&a, "--layers")) cfg.layers = val_int(&a, "--layers", 1, 256);
        else if (flag(&a, "--heads")) cfg.heads = val_int(&a, "--heads", 1, 1024);
        else if (flag(&a, "--seq")) T = val_int(&a, "--seq", 2, 65536);
        else if (flag(&a, "--batch")) B = val_int(&a, "--batch", 1, 65536);
        else if (flag(&a, "--steps")) steps = val_int(&a, "--steps", 1, 100000);
        else if (flag(&a, "--warmup-steps")) warm = val_int(&a, "--warmup-steps", 0, 100000);
        else if (flag(&a, "--threads")) threads = val_int(&a, "--threads", 1, 1024);
        else if (flag(&a, "--json")) json = 1;
        else if (flag(&a, "--pos")) {
            s = val_str(&a, "--pos");
            if (!a.bad && genc_pos_parse(s, &cfg.pos)) return usage_error("--pos: %s", genc_error());
        } else if (flag(&a, "--mlp")) {
            s = val_str(&a, "--mlp");
            if (!a.bad && genc_mlp_parse(s, &cfg.mlp)) return usage_error("--mlp: %s", genc_error());
        } else return usage_error("unknown flag '%s' for bench lm", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    cfg.rope.trained_len = T;
    if (cfg.max_pos < T) cfg.max_pos = T;
    if (genc_tf_config_validate(&cfg)) return usage_error("%s", genc_error());
    if (threads) genc_set_threads(threads);
    genc_lm lm;
    memset(&lm, 0, sizeof lm);
    genc_lm_train_cfg_default(&lm.train);
    if (genc_transformer_init(&lm.model, &cfg, 1) ||
        genc_adamw_init(&lm.opt, &lm.model.params, 0.9f, 0.95f, 1e-8f, 0.1f))
        return runtime_error("%s", genc_error());
    lm.has_opt = 1;
    genc_ctx *c = genc_ctx_new(0);
    int32_t *x = malloc(sizeof(int32_t) * (size_t)B * T), *y = malloc(sizeof(int32_t) * (size_t)B * T);
    if (!c || !x || !y) {
        genc_ctx_free(c);
        free(x);
        free(y);
        genc_lm_free(&lm);
        return runtime_error("out of memory for the benchmark batch");
    }
    genc_rng r = genc_rng_make(1, 9);
    for (int i = 0; i < B * T; i++) {
        x[i] = (int32_t)genc_rng_below(&r, 256);
        y[i] = (int32_t)genc_rng_below(&r, 256);
    }
    double t0 = 0, fwd = 0, bwd = 0;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) t0 = genc_time_s();
        double ta = genc_time_s();
        genc_ctx_reset(c);
        genc_tensor *loss = genc_lm_loss(c, &lm, x, y, B, T, NULL);
        double tb = genc_time_s();
        genc_backward(c, loss);
        genc_clip_grad_norm(&lm.model.params, 1.0f);
        genc_adamw_step(&lm.opt, 1e-4f);
        genc_params_zero_grad(&lm.model.params);
        if (s >= warm) { fwd += tb - ta; bwd += genc_time_s() - tb; }
    }
    double el = genc_time_s() - t0;
    double tps = (double)steps * B * T / el;
    printf("genc: %lld params, d=%d L=%d H=%d T=%d B=%d pos=%s threads=%d: %.1f ms/step "
           "(forward %.1f, backward+adamw %.1f), %.0f tokens/s\n",
           (long long)genc_params_count(&lm.model.params), cfg.dim, cfg.layers, cfg.heads, T, B,
           genc_pos_name(cfg.pos), genc_get_threads(), 1e3 * el / steps, 1e3 * fwd / steps,
           1e3 * bwd / steps, tps);
    if (json)
        printf("{\"tokens_per_s\": %.1f, \"ms_per_step\": %.3f, \"forward_ms\": %.3f, \"backward_ms\": %.3f, "
               "\"params\": %lld, \"threads\": %d}\n",
               tps, 1e3 * el / steps, 1e3 * fwd / steps, 1e3 * bwd / steps,
               (long long)genc_params_count(&lm.model.params), genc_get_threads());
    free(x);
    free(y);
    genc_ctx_free(c);
    genc_lm_free(&lm);
    return 0;
}
