/* genc caption DIR --image FILE.png: captions of a picture by a BLIP model, by nucleus
 * sampling (default) or beam search. The picture is converted as for genc classify. */
#include "blip_cli.h"
#include "classifier_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char HELP[] =
    "usage: genc caption DIR --image PICTURE.png [--beam K | --top-p P] [--n N] [--seed S]\n"
    "                    [--invert auto|yes|no]\n"
    "\n"
    "Captions of a picture by a BLIP model (genc train blip). The picture is converted to the\n"
    "model's 28x28 grey input as genc classify does (alpha over white, luma, centre crop, area\n"
    "resampling, light backgrounds inverted unless --invert says otherwise).\n"
    "  --top-p P    nucleus sampling with top-p P (default 0.9)\n"
    "  --beam K     beam search of width K instead (1: greedy); one caption\n"
    "  --n N        nucleus captions to draw (default 1, at most 100)\n"
    "  --seed S     sampling seed (default 1)\n";

int cmd_caption(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(HELP);
    if (argc < 1 || argv[0][0] == '-') return usage_error("caption needs a BLIP run folder: genc caption DIR --image FILE.png");
    const char *image = NULL;
    int invert = -1, n = 1, beam_given = 0, top_p_given = 0;
    genc_caption_opts co = {0, 0.9f, 1};
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(HELP);
        else if (flag(&a, "--image")) image = val_str(&a, "--image");
        else if (flag(&a, "--n")) n = val_int(&a, "--n", 1, 100);
        else if (caption_flag(&a, &co, &beam_given, &top_p_given)) {
        } else if (flag(&a, "--invert")) invert = val_invert(&a, "--invert");
        else return usage_error("unknown flag '%s' for caption (see genc caption --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!image) return usage_error("caption needs --image FILE.png");
    if (beam_given && top_p_given) return usage_error("--beam and --top-p are two ways of decoding: give one");
    if (beam_given && n > 1) return usage_error("--n draws several nucleus captions; beam search gives one");
    genc_st_file f;
    if (genc_checkpoint_open(argv[0], &f)) return runtime_error("%s", genc_error());
    genc_blip m;
    int rc = genc_blip_load_file(&f, &m, NULL);
    genc_st_free(&f);
    if (rc) return runtime_error("%s: %s", argv[0], genc_error());
    const genc_clip_config *c = &m.base.cfg;
    int64_t per = (int64_t)c->channels * c->height * c->width;
    float *x = malloc(sizeof(float) * (size_t)(per * n));
    char **out = calloc((size_t)n, sizeof(char *));
    int inverted = 0;
    rc = EXIT_RUNTIME;
    if (!x || !out) runtime_error("out of memory");
    else if (clip_picture(&m.base, image, invert, x, &inverted)) runtime_error("%s", genc_error());
    else {
        /* n copies of the picture: draw i comes from stream (seed, i) */
        for (int i = 1; i < n; i++) memcpy(x + i * per, x, sizeof(float) * (size_t)per);
        if (genc_blip_caption(&m, x, n, 0, &co, out)) runtime_error("%s", genc_error());
        else {
            printf("%s%s:\n", image, inverted ? " (inverted)" : "");
            for (int i = 0; i < n; i++) { /* control bytes a sampled caption may hold are shown as '?' */
                for (char *q = out[i]; *q; q++)
                    if ((unsigned char)*q < 32 || *q == 127) *q = '?';
                printf("  %s\n", out[i]);
            }
            rc = 0;
        }
    }
    for (int i = 0; out && i < n; i++) free(out[i]);
    free(out);
    free(x);
    genc_blip_free(&m);
    return rc;
}
