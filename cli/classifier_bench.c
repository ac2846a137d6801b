/* genc bench classifier: time full training steps (forward, backward, clip, AdamW) of a
 * classifier on random images. bench/bench_classifier.py runs this and the same PyTorch net in
 * one go and prints the ratio of images per second. */
#include "classifier_cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char *HELP =
    "usage: genc bench classifier [--net mlp|cnn|vit] [--batch B] [--steps N] [--warmup-steps W]\n"
    "                             [--threads N] [--json]\n"
    "\n"
    "Time training steps (forward + backward + clipping + AdamW) of the net with its default\n"
    "sizes on random 28x28 gray images in [-1, 1] with random labels of 10 classes, and print\n"
    "images per second. Defaults: cnn, batch 128, 3 warm-up steps then 20 timed steps. With\n"
    "--json the last line is {\"images_per_s\", \"ms_per_step\", \"forward_ms\", \"backward_ms\",\n"
    "\"params\", \"threads\", \"config\"} (config: the net, as in a checkpoint).\n";

struct cls_bench {
    genc_classifier *m;
    const genc_classifier_config *cfg;
    float *x;
    int32_t *y;
    int B;
};

static genc_tensor *cls_loss(genc_ctx *c, void *self) {
    struct cls_bench *k = self;
    genc_tensor *xt = genc_wrap(c, k->x, 4, (int[]){k->B, k->cfg->channels, k->cfg->height, k->cfg->width});
    return genc_classifier_loss(c, k->m, xt, k->y);
}

int classifier_bench(int argc, char **argv) {
    genc_net_kind net = GENC_NET_CNN;
    int B = 128, steps = 20, warm = 3, threads = 0, json = 0;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(HELP);
        else if (flag(&a, "--net")) {
            const char *s = val_str(&a, "--net");
            if (!a.bad && genc_net_parse(s, &net)) return usage_error("--net: %s", genc_error());
        } else if (flag(&a, "--batch")) B = val_int(&a, "--batch", 1, 65536);
        else if (flag(&a, "--steps")) steps = val_int(&a, "--steps", 1, 100000);
        else if (flag(&a, "--warmup-steps")) warm = val_int(&a, "--warmup-steps", 0, 100000);
        else if (flag(&a, "--threads")) threads = val_int(&a, "--threads", 1, 1024);
        else if (flag(&a, "--json")) json = 1;
        else return usage_error("unknown flag '%s' for bench classifier", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (threads) genc_set_threads(threads);
    genc_classifier_config cfg;
    genc_classifier_config_default(&cfg, net);
    genc_classifier m;
    genc_adamw opt;
    if (genc_classifier_init(&m, &cfg, 1)) return runtime_error("%s", genc_error());
    if (genc_adamw_init(&opt, &m.params, 0.9f, 0.999f, 1e-8f, 0.05f)) {
        genc_classifier_free(&m);
        return runtime_error("%s", genc_error());
    }
    int64_t pix = (int64_t)cfg.channels * cfg.height * cfg.width;
    genc_ctx *c = genc_ctx_new(0);
    float *x = malloc(sizeof(float) * (size_t)(B * pix));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
    int rc = 0;
    if (!c || !x || !y) {
        rc = runtime_error("out of memory");
        goto done;
    }
    genc_rng r = genc_rng_make(1, 9);
    genc_rng_fill_uniform(&r, x, B * pix);
    for (int64_t i = 0; i < B * pix; i++) x[i] = 2 * x[i] - 1;
    for (int i = 0; i < B; i++) y[i] = (int32_t)genc_rng_below(&r, (uint32_t)cfg.classes);
    struct cls_bench k = {&m, &cfg, x, y, B};
    bench_times t;
    if ((rc = bench_steps(c, &opt, cls_loss, &k, B, warm, steps, &t))) goto done;
    char what[64], *cj = genc_classifier_config_to_json(&cfg);
    snprintf(what, sizeof what, "%s classifier", genc_net_name(net));
    bench_report(what, genc_params_count(&m.params), B, "images", &t, json, cj);
    free(cj);
done:
    free(x);
    free(y);
    genc_ctx_free(c);
    genc_adamw_free(&opt);
    genc_classifier_free(&m);
    return rc;
}
