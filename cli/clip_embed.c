/* genc embed: the normalised embeddings of texts, PNG pictures and IDX image files by an
 * image-text model, written as safetensors ("text" [n_text, E] and "image" [n_image, E], in
 * the order given), for use outside genc (cosines are their dot products). */
#include "classifier_cli.h"
#include "genc/contrastive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 256

static const char EMBED_HELP[] =
    "usage: genc embed DIR (--text \"...\" | --image FILE.png | --images FILE)... --out FILE.safetensors\n"
    "\n"
    "Embeddings of an image-text model (genc train clip), L2-normalised: tensor \"text\"\n"
    "[texts, E] and tensor \"image\" [images, E], in the order the flags are given (each flag\n"
    "may repeat, at most 256 of each). A text is used as written (no template) and must fit\n"
    "the text tower's context; pictures (--image) are converted as genc classify does.\n"
    "--images FILE adds every image of an IDX file (gzipped or not; (n, height, width) or\n"
    "(n, height, width, channels) of the model's size, 28x28 gray for Fashion-MNIST), as they\n"
    "are, like training images; a PNG given to --images is one picture, as --image.\n";

/* a PNG file starts with these 8 bytes; anything else given to --images is read as IDX */
static int is_png(const char *path) {
    unsigned char b[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(b, 1, 8, f) : 0;
    if (f) fclose(f);
    return n == 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8);
}

/* the image sources in order: a PNG picture, or an IDX file (loaded) of n images */
typedef struct source {
    const char *path;
    genc_images idx; /* .n == 0 for a PNG */
} source;

int cmd_embed(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(EMBED_HELP);
    if (argc < 1 || argv[0][0] == '-') return usage_error("embed needs an image-text run folder: genc embed DIR --text ... --out F");
    const char *texts[MAX_ITEMS], *out = NULL;
    static source src[MAX_ITEMS];
    int nt = 0, ns = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(EMBED_HELP);
        else if (flag(&a, "--text")) {
            const char *v = val_str(&a, "--text");
            if (!a.bad && nt == MAX_ITEMS) return usage_error("more than %d --text", MAX_ITEMS);
            if (!a.bad) texts[nt++] = v;
        } else if (flag(&a, "--image") || flag(&a, "--images")) {
            const char *v = val_str(&a, a.argv[a.i - 1]);
            if (!a.bad && ns == MAX_ITEMS) return usage_error("more than %d --image and --images", MAX_ITEMS);
            if (!a.bad) src[ns++] = (source){.path = v};
        } else if (flag(&a, "--out")) out = val_str(&a, "--out");
        else return usage_error("unknown flag '%s' for embed (see genc embed --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!nt && !ns) return usage_error("embed needs at least one --text, --image or --images");
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
    /* IDX files are loaded whole first: the output size is known before any work */
    int64_t ni = 0, per = (int64_t)m.cfg.channels * m.cfg.height * m.cfg.width;
    float *te = NULL, *ie = NULL, *x = NULL;
    genc_ctx *c = NULL;
    rc = EXIT_RUNTIME;
    for (int s = 0; s < ns; s++) {
        if (is_png(src[s].path)) {
            ni++;
            continue;
        }
        if (genc_images_load(src[s].path, GENC_SPLIT_ALL, &src[s].idx)) {
            runtime_error("--images %s: %s", src[s].path, genc_error());
            goto done;
        }
        const genc_images *im = &src[s].idx;
        if (im->channels != m.cfg.channels || im->height != m.cfg.height || im->width != m.cfg.width) {
            runtime_error("--images %s: its images are %dx%dx%d, the model takes %dx%dx%d (give pictures of other sizes "
                          "as PNG with --image: they are converted)",
                          src[s].path, im->height, im->width, im->channels, m.cfg.height, m.cfg.width, m.cfg.channels);
            goto done;
        }
        ni += im->n;
    }
    te = malloc(sizeof(float) * (size_t)(nt ? nt : 1) * E);
    ie = malloc(sizeof(float) * (size_t)(ni ? ni : 1) * E);
    x = malloc(sizeof(float) * (size_t)per);
    c = genc_ctx_new(0);
    if (!te || !ie || !x || !c) {
        runtime_error("out of memory for %lld image embeddings", (long long)ni);
        goto done;
    }
    if (nt && genc_clip_text_embeddings(&m, texts, nt, te)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    genc_no_grad(c);
    int64_t row = 0;
    for (int s = 0; s < ns; s++) {
        float *dst = ie + row * E;
        if (src[s].idx.n) {
            if (genc_clip_image_embeddings(&m, &src[s].idx, src[s].idx.n, dst)) {
                runtime_error("--images %s: %s", src[s].path, genc_error());
                goto done;
            }
            row += src[s].idx.n;
            continue;
        }
        if (clip_picture(&m, src[s].path, -1, x, NULL)) {
            runtime_error("%s", genc_error());
            goto done;
        }
        genc_tensor *e = genc_clip_embed_images(c, &m, genc_wrap(c, x, 4, (int[]){1, m.cfg.channels, m.cfg.height, m.cfg.width}));
        memcpy(dst, e->data, sizeof(float) * (size_t)E);
        genc_ctx_reset(c);
        row++;
    }
    genc_st_entry ent[2];
    int n = 0;
    if (nt) ent[n++] = (genc_st_entry){"text", GENC_DT_F32, 2, {nt, E}, te};
    if (ni) ent[n++] = (genc_st_entry){"image", GENC_DT_F32, 2, {ni, E}, ie};
    if (genc_st_write(out, ent, n, NULL, 0)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    printf("%s: %d text and %lld image embeddings of size %d\n", out, nt, (long long)ni, E);
    rc = 0;
done:
    for (int s = 0; s < ns; s++)
        if (src[s].idx.n) genc_images_free(&src[s].idx);
    if (c) genc_ctx_free(c);
    free(te);
    free(ie);
    free(x);
    genc_clip_free(&m);
    return rc;
}
