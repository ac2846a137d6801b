/* genc embed: the normalised embeddings of texts and PNG pictures by an image-text model,
 * written as safetensors ("text" [n_text, E] and "image" [n_image, E], in the order given),
 * for use outside genc (cosines are their dot products). */
#include "classifier_cli.h"
#include "genc/contrastive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 256

static const char EMBED_HELP[] =
    "usage: genc embed DIR (--text \"...\" | --image FILE.png)... --out FILE.safetensors\n"
    "\n"
    "Embeddings of an image-text model (genc train clip), L2-normalised: tensor \"text\"\n"
    "[texts, E] and tensor \"image\" [images, E], in the order the flags are given (each flag\n"
    "may repeat, at most 256 of each). A text is used as written (no template) and must fit\n"
    "the text tower's context; pictures are converted as genc classify does.\n";

int cmd_embed(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(EMBED_HELP);
    if (argc < 1 || argv[0][0] == '-') return usage_error("embed needs an image-text run folder: genc embed DIR --text ... --out F");
    const char *texts[MAX_ITEMS], *images[MAX_ITEMS], *out = NULL;
    int nt = 0, ni = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(EMBED_HELP);
        else if (flag(&a, "--text")) {
            const char *v = val_str(&a, "--text");
            if (!a.bad && nt == MAX_ITEMS) return usage_error("more than %d --text", MAX_ITEMS);
            if (!a.bad) texts[nt++] = v;
        } else if (flag(&a, "--image")) {
            const char *v = val_str(&a, "--image");
            if (!a.bad && ni == MAX_ITEMS) return usage_error("more than %d --image", MAX_ITEMS);
            if (!a.bad) images[ni++] = v;
        } else if (flag(&a, "--out")) out = val_str(&a, "--out");
        else return usage_error("unknown flag '%s' for embed (see genc embed --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!nt && !ni) return usage_error("embed needs at least one --text or --image");
    if (!out) return usage_error("embed needs --out FILE.safetensors");
    genc_st_file f;
    if (genc_checkpoint_open(argv[0], &f)) return runtime_error("%s", genc_error());
    const char *fam = genc_st_meta(&f, "family");
    if (!fam || strcmp(fam, "clip")) {
        int rc = usage_error("%s: embed needs an image-text checkpoint, this one is of family '%s'", argv[0], fam ? fam : "?");
        genc_st_free(&f);
        return rc;
    }
    genc_clip m;
    int rc = genc_clip_load_file(&f, &m, NULL);
    genc_st_free(&f);
    if (rc) return runtime_error("%s: %s", argv[0], genc_error());
    int E = m.cfg.embed;
    for (int i = 0; i < nt; i++)
        if ((int)strlen(texts[i]) + 2 > m.cfg.ctx || !texts[i][0]) {
            int most = m.cfg.ctx - 2;
            genc_clip_free(&m);
            return usage_error("--text '%.40s': %zu bytes; the text tower takes 1 to %d", texts[i], strlen(texts[i]), most);
        }
    int64_t per = (int64_t)m.cfg.channels * m.cfg.height * m.cfg.width;
    float *te = malloc(sizeof(float) * (size_t)(nt ? nt : 1) * E), *ie = malloc(sizeof(float) * (size_t)(ni ? ni : 1) * E);
    float *x = malloc(sizeof(float) * (size_t)((ni ? ni : 1) * per));
    genc_ctx *c = genc_ctx_new(0);
    rc = EXIT_RUNTIME;
    if (!te || !ie || !x || !c) {
        runtime_error("out of memory");
        goto done;
    }
    if (nt && genc_clip_text_embeddings(&m, texts, nt, te)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    for (int i = 0; i < ni; i++)
        if (clip_picture(&m, images[i], -1, x + i * per, NULL)) {
            runtime_error("%s", genc_error());
            goto done;
        }
    if (ni) {
        genc_no_grad(c);
        genc_tensor *e = genc_clip_embed_images(c, &m, genc_wrap(c, x, 4, (int[]){ni, m.cfg.channels, m.cfg.height, m.cfg.width}));
        memcpy(ie, e->data, sizeof(float) * (size_t)ni * E);
    }
    genc_st_entry ent[2];
    int n = 0;
    if (nt) ent[n++] = (genc_st_entry){"text", GENC_DT_F32, 2, {nt, E}, te};
    if (ni) ent[n++] = (genc_st_entry){"image", GENC_DT_F32, 2, {ni, E}, ie};
    if (genc_st_write(out, ent, n, NULL, 0)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    printf("%s: %d text and %d image embeddings of size %d\n", out, nt, ni, E);
    rc = 0;
done:
    if (c) genc_ctx_free(c);
    free(te);
    free(ie);
    free(x);
    genc_clip_free(&m);
    return rc;
}
