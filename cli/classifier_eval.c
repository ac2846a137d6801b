/* genc eval of a classifier checkpoint (test accuracy, per class, confusion matrix) and
 * genc classify (the top classes of one picture). */
#include "classifier_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char CLASSIFIER_EVAL_HELP[] =
    "  Test-set accuracy, accuracy per class and the confusion matrix (rows: true class,\n"
    "  columns: predicted). Without --data: the test split of the data the model was trained\n"
    "  on (fashion-mnist: the 10 000 t10k images); with --data: all images of D.\n"
    "\n"
    "  --data D     fashion-mnist or an IDX images file with its labels beside it\n"
    "  --batch B    images per forward pass (default 250)\n"
    "  --json       print one JSON object as the last line of stdout:\n"
    "               {\"accuracy\", \"correct\", \"images\", \"loss\", \"seconds\", \"step\", \"net\",\n"
    "                \"data\", \"classes\", \"per_class\" (null for a class with no image),\n"
    "                \"confusion\" (rows: true class)}\n";

/* A string as a JSON string literal (class names and paths come from files). */
static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

/* A number, or null where JSON has no value for it (NaN, infinities). */
static void json_num(double v) {
    if (isfinite(v)) printf("%.6f", v);
    else printf("null");
}

static void print_json(const genc_classifier_eval_result *r, const genc_classifier *m, const genc_classifier_info *info,
                       const char *data) {
    char buf[32];
    int K = r->classes;
    printf("{\"accuracy\": ");
    json_num(r->accuracy);
    printf(", \"correct\": %lld, \"images\": %lld, \"loss\": ", (long long)r->correct, (long long)r->n);
    json_num(r->loss);
    printf(", \"seconds\": %.3f, \"step\": %lld, \"net\": \"%s\", \"data\": ", r->seconds, (long long)info->step,
           genc_net_name(m->cfg.net));
    json_str(data);
    printf(", \"classes\": [");
    for (int k = 0; k < K; k++) {
        printf(k ? ", " : "");
        json_str(genc_classifier_class_name(info, k, buf, sizeof buf));
    }
    printf("], \"per_class\": [");
    for (int k = 0; k < K; k++) {
        printf(k ? ", " : "");
        json_num(genc_classifier_class_accuracy(r, k));
    }
    printf("], \"confusion\": [");
    for (int k = 0; k < K; k++) {
        printf(k ? ", [" : "[");
        for (int j = 0; j < K; j++) printf(j ? ", %lld" : "%lld", (long long)r->confusion[(int64_t)k * K + j]);
        printf("]");
    }
    printf("]}\n");
}

static void print_table(const genc_classifier_eval_result *r, const genc_classifier_info *info) {
    char buf[32];
    int K = r->classes;
    printf("per-class accuracy:\n");
    for (int k = 0; k < K; k++) {
        double a = genc_classifier_class_accuracy(r, k);
        printf("  %3d %-16s %s\n", k, genc_classifier_class_name(info, k, buf, sizeof buf),
               isfinite(a) ? (snprintf(buf, sizeof buf, "%.3f", a), buf) : "no images");
    }
    printf("confusion matrix (rows: true class, columns: predicted):\n     ");
    for (int j = 0; j < K; j++) printf(" %5d", j);
    printf("\n");
    for (int k = 0; k < K; k++) {
        printf("  %3d", k);
        for (int j = 0; j < K; j++) printf(" %5lld", (long long)r->confusion[(int64_t)k * K + j]);
        printf("\n");
    }
}

int classifier_eval(genc_st_file *f, const char *path, int argc, char **argv) {
    const char *data = NULL;
    int batch = 250, json = 0;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(CLASSIFIER_EVAL_HELP);
        else if (flag(&a, "--data")) data = val_str(&a, "--data");
        else if (flag(&a, "--batch")) batch = val_int(&a, "--batch", 1, 4096);
        else if (flag(&a, "--json")) json = 1;
        else return usage_error("unknown flag '%s' for eval of a classifier (see genc eval --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    genc_classifier m;
    genc_classifier_info info;
    if (classifier_open(f, path, &m, &info)) return EXIT_RUNTIME;
    const char *src = data ? data : info.train.data;
    genc_images im;
    genc_classifier_eval_result r;
    int rc = EXIT_RUNTIME;
    if (genc_images_load(src, data ? GENC_SPLIT_ALL : GENC_SPLIT_TEST, &im)) {
        runtime_error("--data %s: %s", src, genc_error());
        goto done;
    }
    if (genc_classifier_evaluate(&m, &im, batch, &r)) {
        runtime_error("%s on %s: %s", path, src, genc_error());
        genc_images_free(&im);
        goto done;
    }
    printf("%s: test accuracy %.4f (%lld of %lld images) on %s%s, loss %.4f nats (%s, step %lld, %.1f s)\n", path,
           r.accuracy, (long long)r.correct, (long long)r.n, src, data ? "" : " (test split)", r.loss,
           genc_net_name(m.cfg.net), (long long)info.step, r.seconds);
    print_table(&r, &info);
    if (json) print_json(&r, &m, &info, src);
    genc_classifier_eval_result_free(&r);
    genc_images_free(&im);
    rc = 0;
done:
    genc_classifier_info_free(&info);
    genc_classifier_free(&m);
    return rc;
}

/* ---------------------------------------------------------------- genc classify */

static const char *CLASSIFY_HELP =
    "usage: genc classify DIR|FILE --image PICTURE.png [--top K] [--invert auto|yes|no] [--json]\n"
    "\n"
    "The classes a trained classifier gives a picture, most probable first, with their\n"
    "probabilities in percent. Any PNG (gray, RGB or palette, with or without alpha, 1 to 16\n"
    "bits) is converted to the model's input as docs/classifier.md describes: alpha over white,\n"
    "gray by luma, the centre cropped to the model's aspect ratio and area-resampled to its\n"
    "size, inverted to a dark background when its border is light (Fashion-MNIST shows light\n"
    "objects on black). Pictures more than 16 times longer one way than the other are refused.\n"
    "\n"
    "  --top K         classes to show (default 3)\n"
    "  --invert M      auto (default), yes or no\n"
    "  --json          one JSON object as the last line: {\"image\", \"inverted\",\n"
    "                  \"top\": [{\"class\", \"name\", \"probability\"}, ...]}\n";

int cmd_classify(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(CLASSIFY_HELP);
    if (argc < 1 || argv[0][0] == '-')
        return usage_error("classify needs a classifier run folder or checkpoint: genc classify DIR --image FILE.png");
    {   /* an image-text checkpoint classifies zero-shot (cli/clip_classify.c) */
        genc_st_file g;
        if (genc_checkpoint_open(argv[0], &g) == GENC_OK) {
            const char *fam = genc_st_meta(&g, "family");
            int clip = fam && strcmp(fam, "clip") == 0;
            genc_st_free(&g);
            if (clip) return clip_classify(argc, argv);
        }
    }
    const char *image = NULL;
    int top = 3, invert = -1, json = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(CLASSIFY_HELP);
        else if (flag(&a, "--image")) image = val_str(&a, "--image");
        else if (flag(&a, "--top")) top = val_int(&a, "--top", 1, 1000);
        else if (flag(&a, "--json")) json = 1;
        else if (flag(&a, "--invert")) invert = val_invert(&a, "--invert");
        else return usage_error("unknown flag '%s' for classify (see genc classify --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!image) return usage_error("classify needs --image FILE.png");
    genc_st_file f;
    if (genc_checkpoint_open(argv[0], &f)) return runtime_error("%s", genc_error());
    const char *fam = genc_st_meta(&f, "family");
    if (!fam || strcmp(fam, "classifier") != 0) {
        int rc = usage_error("%s: classify needs a classifier checkpoint, this one is of family '%s'", argv[0],
                             fam ? fam : "?");
        genc_st_free(&f); /* fam points into it */
        return rc;
    }
    genc_classifier m;
    genc_classifier_info info;
    if (classifier_open(&f, argv[0], &m, &info)) return EXIT_RUNTIME;
    const genc_classifier_config *cfg = &m.cfg;
    int rc = EXIT_RUNTIME, inverted = 0, K = cfg->classes;
    genc_image pic = {0};
    float *x = malloc(sizeof(float) * (size_t)cfg->channels * cfg->height * cfg->width);
    float *p = malloc(sizeof(float) * (size_t)K);
    int *order = malloc(sizeof(int) * (size_t)K);
    if (!x || !p || !order) {
        runtime_error("out of memory");
        goto done;
    }
    if (genc_png_read(image, &pic)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    if (genc_classifier_picture_input(cfg, &pic, invert, x, &inverted)) {
        runtime_error("%s: %s", image, genc_error());
        goto done;
    }
    if (genc_classifier_probs(&m, x, 1, p)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    /* classes by probability, highest first (selection: K is small) */
    for (int k = 0; k < K; k++) order[k] = k;
    if (top > K) top = K;
    for (int i = 0; i < top; i++)
        for (int j = i + 1; j < K; j++)
            if (p[order[j]] > p[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    char buf[32];
    printf("%s (%dx%d %s → %dx%d %s%s):\n", image, pic.width, pic.height, pic.channels == 1 ? "gray" : "RGB",
           cfg->width, cfg->height, cfg->channels == 1 ? "gray" : "RGB", inverted ? ", inverted" : "");
    for (int i = 0; i < top; i++)
        printf("  %6.2f%%  %s\n", 100.0 * p[order[i]], genc_classifier_class_name(&info, order[i], buf, sizeof buf));
    if (json) {
        printf("{\"image\": ");
        json_str(image);
        printf(", \"inverted\": %s, \"top\": [", inverted ? "true" : "false");
        for (int i = 0; i < top; i++) {
            printf("%s{\"class\": %d, \"name\": ", i ? ", " : "", order[i]);
            json_str(genc_classifier_class_name(&info, order[i], buf, sizeof buf));
            printf(", \"probability\": %.6f}", p[order[i]]);
        }
        printf("]}\n");
    }
    rc = 0;
done:
    genc_image_free(&pic);
    free(x);
    free(p);
    free(order);
    genc_classifier_info_free(&info);
    genc_classifier_free(&m);
    return rc;
}
