/* genc bench clip: time full training steps (both towers forward and backward, the contrastive
 * loss, clipping, AdamW) of an image-text model on random images and random byte captions.
 * bench/bench_clip.py runs this and the same PyTorch model (tests/parity/clip_ref.py) in one
 * go and prints the ratio of pairs per second. */
#include "classifier_cli.h"
#include "genc/contrastive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: genc bench clip [--loss softmax|sigmoid] [--batch B] [--steps N] [--warmup-steps W]\n"
    "                       [--threads N] [--json] [model flags of genc train clip]\n"
    "\n"
    "Time training steps (both towers forward + backward, the loss, clipping, AdamW with\n"
    "betas (0.9, 0.98) and weight decay 0.1 on matrices) of the image-text model on random\n"
    "28x28 gray images in [-1, 1] and random printable-byte captions of random length\n"
    "(BOS, bytes, EOS, PAD), and print image-caption pairs per second. Defaults: the model\n"
    "of genc train clip, softmax, batch 64, 3 warm-up steps then 20 timed steps. With --json\n"
    "the last line is {\"pairs_per_s\", \"ms_per_step\", \"forward_ms\", \"backward_ms\",\n"
    "\"params\", \"threads\", \"config\"} (config: the model, as in a checkpoint).\n";

struct clip_bench {
    genc_clip *m;
    float *x;
    int32_t *ids;
    int *eos;
    int B;
};

static genc_tensor *clip_loss_fn(genc_ctx *c, void *self) {
    struct clip_bench *k = self;
    const genc_clip_config *g = &k->m->cfg;
    return genc_clip_pair_loss(c, k->m, genc_wrap(c, k->x, 4, (int[]){k->B, g->channels, g->height, g->width}), k->ids, k->eos);
}

int clip_bench(int argc, char **argv) {
    genc_clip_config cfg;
    genc_clip_config_default(&cfg);
    int B = 64, steps = 20, warm = 3, threads = 0, json = 0;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(HELP);
        else if (flag(&a, "--loss")) {
            const char *s = val_str(&a, "--loss");
            if (!a.bad && genc_clip_loss_parse(s, &cfg.loss)) return usage_error("--loss: %s", genc_error());
        } else if (flag(&a, "--batch")) B = val_int(&a, "--batch", 2, 65536);
        else if (flag(&a, "--steps")) steps = val_int(&a, "--steps", 1, 100000);
        else if (flag(&a, "--warmup-steps")) warm = val_int(&a, "--warmup-steps", 0, 100000);
        else if (flag(&a, "--threads")) threads = val_int(&a, "--threads", 1, 1024);
        else if (flag(&a, "--json")) json = 1;
        else if (flag(&a, "--patch")) cfg.patch = val_int(&a, "--patch", 1, 28);
        else if (flag(&a, "--image-layers")) cfg.image_layers = val_int(&a, "--image-layers", 1, 64);
        else if (flag(&a, "--text-layers")) cfg.text_layers = val_int(&a, "--text-layers", 1, 64);
        else if (flag(&a, "--dim")) cfg.dim = val_int(&a, "--dim", 4, 4096);
        else if (flag(&a, "--heads")) cfg.heads = val_int(&a, "--heads", 1, 256);
        else if (flag(&a, "--embed")) cfg.embed = val_int(&a, "--embed", 1, 4096);
        else return usage_error("unknown flag '%s' for bench clip", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (genc_clip_config_validate(&cfg)) return usage_error("%s", genc_error());
    if (threads) genc_set_threads(threads);
    genc_clip m;
    genc_adamw opt;
    if (genc_clip_init(&m, &cfg, 1)) return runtime_error("%s", genc_error());
    if (genc_adamw_init(&opt, &m.params, 0.9f, 0.98f, 1e-8f, 0.1f)) {
        genc_clip_free(&m);
        return runtime_error("%s", genc_error());
    }
    int64_t pix = (int64_t)cfg.channels * cfg.height * cfg.width;
    int T = cfg.ctx;
    genc_ctx *c = genc_ctx_new(0);
    float *x = malloc(sizeof(float) * (size_t)(B * pix));
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * T);
    int *eos = malloc(sizeof(int) * (size_t)B);
    int rc = 0;
    if (!c || !x || !ids || !eos) {
        rc = runtime_error("out of memory");
        goto done;
    }
    genc_rng r = genc_rng_make(1, 9);
    genc_rng_fill_uniform(&r, x, B * pix);
    for (int64_t i = 0; i < B * pix; i++) x[i] = 2 * x[i] - 1;
    for (int b = 0; b < B; b++) {
        int32_t *t = ids + (int64_t)b * T;
        eos[b] = 3 + (int)genc_rng_below(&r, (uint32_t)(T - 3));
        t[0] = GENC_TOK_BOS;
        for (int j = 1; j < T; j++) t[j] = j < eos[b] ? 32 + (int32_t)genc_rng_below(&r, 95) : GENC_TOK_PAD;
        t[eos[b]] = GENC_TOK_EOS;
    }
    struct clip_bench k = {&m, x, ids, eos, B};
    bench_times t;
    if ((rc = bench_steps(c, &opt, clip_loss_fn, &k, B, warm, steps, &t))) goto done;
    char what[64], *cj = genc_clip_config_to_json(&cfg);
    snprintf(what, sizeof what, "image-text (%s loss)", genc_clip_loss_name(cfg.loss));
    bench_report(what, genc_params_count(&m.params), B, "pairs", &t, json, cj);
    free(cj);
done:
    free(x);
    free(ids);
    free(eos);
    genc_ctx_free(c);
    genc_adamw_free(&opt);
    genc_clip_free(&m);
    return rc;
}
