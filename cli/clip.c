/* The image–text family (CLIP, SigLIP) at the command line: train flags, eval (zero-shot
 * accuracy and retrieval), info's summary line, and its FAMILIES entry. */
#include "cli.h"
#include "genc/contrastive.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char TRAIN_HELP[] =
    "  Trains on Fashion-MNIST training images with captions from templates over the class\n"
    "  names (docs/data.md, \"Captions\"); test images are never seen.\n"
    "  --loss L             softmax (CLIP InfoNCE, default) | sigmoid (SigLIP)\n"
    "  --patch P            image tower patch side, divides 28 (default 4)\n"
    "  --image-layers N     image tower blocks (default 2)\n"
    "  --text-layers N      text tower blocks (default 2)\n"
    "  --dim D              width of both towers (default 64)\n"
    "  --heads H            attention heads; dim/heads must be a multiple of 4 (default 4)\n"
    "  --embed E            shared embedding size (default 64)\n"
    "  --pair-fraction F    share of each batch that are two-item pairs: two items side by\n"
    "                       side, captioned in order ('a sandal to the left of a shirt.')\n"
    "                       (default 0.25; 0: single items only)\n";

static const char EVAL_HELP[] =
    "  Zero-shot top-1 accuracy on the Fashion-MNIST test set with one template ('a photo of\n"
    "  a {name}.') and with the ensemble of the training templates; image->text and\n"
    "  text->image recall at 1, 5, 10 on held-out pairs (test images with held-out templates).\n"
    "  --images N   zero-shot on the first N test images (default: all 10 000)\n"
    "  --pairs N    held-out pairs: the first N test images (default 1000)\n"
    "  --order-pairs N  held-out two-item pairs (two test images side by side): how often\n"
    "               the image scores its caption strictly above the one with the names swapped,\n"
    "               and R@1 among all ordered pairs of class names (default 1000; 0: skip)\n"
    "  --probe N    linear probe (softmax regression on frozen image embeddings) trained on\n"
    "               the first N training images, tested on the zero-shot images (default\n"
    "               5000; 0: no probe)\n"
    "  --json       one JSON object as the last line of stdout: {\"zero_shot_top1\",\n"
    "               \"zero_shot_top1_ensemble\", \"images\", \"pairs\", \"i2t_r1\", \"i2t_r5\",\n"
    "               \"i2t_r10\", \"t2i_r1\", \"t2i_r5\", \"t2i_r10\", \"order_pairs\", \"order_acc\", \"pair_r1\",\n"
    "               \"pair_r1_unordered\", \"linear_probe\", \"loss\", \"step\", \"seconds\"}\n";

typedef struct clip_train_state {
    genc_clip_config cfg;
    double pair_fraction;
} clip_train_state;

/* the model's flags (shared with blip.c, whose towers are CLIP's) */
int clip_flag(args *a, void *state) {
    genc_clip_config *c = state;
    if (flag(a, "--loss")) {
        const char *v = val_str(a, "--loss");
        if (!a->bad && genc_clip_loss_parse(v, &c->loss)) {
            usage_error("--loss: %s", genc_error());
            a->bad = 1;
        }
    } else if (flag(a, "--patch")) c->patch = val_int(a, "--patch", 1, 28);
    else if (flag(a, "--image-layers")) c->image_layers = val_int(a, "--image-layers", 1, 64);
    else if (flag(a, "--text-layers")) c->text_layers = val_int(a, "--text-layers", 1, 64);
    else if (flag(a, "--dim")) c->dim = val_int(a, "--dim", 4, 4096);
    else if (flag(a, "--heads")) c->heads = val_int(a, "--heads", 1, 256);
    else if (flag(a, "--embed")) c->embed = val_int(a, "--embed", 1, 4096);
    else return 0;
    return 1;
}

static int clip_train_flag(args *a, void *state) {
    clip_train_state *st = state;
    if (flag(a, "--pair-fraction")) {
        st->pair_fraction = val_num(a, "--pair-fraction", 0, 1);
        return 1;
    }
    return clip_flag(a, &st->cfg);
}

static int clip_train(const cli_family *fam, int argc, char **argv) {
    clip_train_state st = {.pair_fraction = GENC_CLIP_PAIR_FRACTION};
    genc_clip_config_default(&st.cfg);
    genc_clip_config cfg;
    train_opts o;
    int rc = train_parse(fam, argc, argv, &o, clip_train_flag, &st);
    if (rc >= 0) return rc;
    cfg = st.cfg;
    if (cfg.dim % cfg.heads || (cfg.dim / cfg.heads) % 4)
        return usage_error("--dim %d / --heads %d must be a whole multiple of 4 (axial 2D RoPE)", cfg.dim, cfg.heads);
    if (28 % cfg.patch) return usage_error("--patch %d does not divide the 28-pixel images", cfg.patch);
    genc_train_result res = {0};
    return train_exit(genc_clip_train_pairs(&cfg, &o.cfg, st.pair_fraction, &o.run, &res), &res);
}

static void jnum(const char *key, double v) {
    printf(", \"%s\": ", key);
    if (isfinite(v)) printf("%.6f", v);
    else printf("null");
}

static int clip_eval(genc_st_file *f, const char *path, int argc, char **argv) {
    int64_t n_images = 0, n_pairs = 1000, n_probe = 5000, n_order = 1000;
    int json = 0;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(EVAL_HELP);
        else if (flag(&a, "--images")) n_images = val_i64(&a, "--images", 1, 10000);
        else if (flag(&a, "--pairs")) n_pairs = val_i64(&a, "--pairs", 1, 10000);
        else if (flag(&a, "--order-pairs")) n_order = val_i64(&a, "--order-pairs", 0, 4000);
        else if (flag(&a, "--probe")) n_probe = val_i64(&a, "--probe", 0, 60000);
        else if (flag(&a, "--json")) json = 1;
        else return usage_error("unknown flag '%s' for eval of an image-text model (see genc eval --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    genc_clip m;
    int64_t step = 0;
    int rc = genc_clip_load_file(f, &m, &step);
    genc_st_free(f);
    if (rc) return runtime_error("%s: %s", path, genc_error());
    genc_images im;
    if (genc_images_load("fashion-mnist", GENC_SPLIT_TEST, &im)) {
        genc_clip_free(&m);
        return runtime_error("test images: %s", genc_error());
    }
    genc_clip_eval_result r;
    rc = genc_clip_evaluate(&m, &im, n_images, n_pairs, &r);
    genc_clip_order_result ord = {0};
    if (rc == GENC_OK && n_order > 0) rc = genc_clip_evaluate_order(&m, &im, n_order, &ord);
    double probe = NAN;
    if (rc == GENC_OK && n_probe > 0) {
        genc_images tr;
        rc = genc_images_load("fashion-mnist", GENC_SPLIT_TRAIN, &tr);
        if (rc == GENC_OK) {
            rc = genc_clip_probe(&m, &tr, n_probe, &im, r.images, &probe);
            genc_images_free(&tr);
        }
    }
    if (rc) {
        runtime_error("%s: %s", path, genc_error());
    } else {
        printf("%s: %s loss, step %lld\n", path, genc_clip_loss_name(m.cfg.loss), (long long)step);
        printf("zero-shot top-1 on %lld test images: %.4f (one template), %.4f (ensemble of %d); chance 0.1\n",
               (long long)r.images, r.top1_single, r.top1_ensemble, GENC_CAPTION_TRAIN_TEMPLATES);
        printf("retrieval on %lld held-out pairs: image->text R@1/5/10 %.3f %.3f %.3f, text->image %.3f %.3f %.3f (%.1f s)\n",
               (long long)r.pairs, r.i2t[0], r.i2t[1], r.i2t[2], r.t2i[0], r.t2i[1], r.t2i[2], r.seconds);
        if (ord.pairs)
            printf("two-item pairs (%lld held out): own caption above the swapped one %.3f (ties wrong; chance 0.5); "
                   "R@1 among %d ordered name pairs %.3f, either order %.3f\n",
                   (long long)ord.pairs, ord.order, im.n_classes * (im.n_classes - 1), ord.r1, ord.r1_unordered);
        if (isfinite(probe))
            printf("linear probe on frozen image embeddings (%lld training images): %.4f\n", (long long)n_probe, probe);
        if (json) {
            printf("{\"loss\": \"%s\", \"step\": %lld, \"images\": %lld, \"pairs\": %lld", genc_clip_loss_name(m.cfg.loss),
                   (long long)step, (long long)r.images, (long long)r.pairs);
            jnum("zero_shot_top1", r.top1_single);
            jnum("zero_shot_top1_ensemble", r.top1_ensemble);
            const char *k[3] = {"r1", "r5", "r10"};
            char key[16];
            for (int i = 0; i < 3; i++) jnum((snprintf(key, sizeof key, "i2t_%s", k[i]), key), r.i2t[i]);
            for (int i = 0; i < 3; i++) jnum((snprintf(key, sizeof key, "t2i_%s", k[i]), key), r.t2i[i]);
            printf(", \"order_pairs\": %lld", (long long)ord.pairs);
            jnum("order_acc", ord.pairs ? ord.order : NAN);
            jnum("pair_r1", ord.pairs ? ord.r1 : NAN);
            jnum("pair_r1_unordered", ord.pairs ? ord.r1_unordered : NAN);
            jnum("linear_probe", probe);
            jnum("seconds", r.seconds);
            printf("}\n");
        }
    }
    genc_images_free(&im);
    genc_clip_free(&m);
    return rc ? EXIT_RUNTIME : 0;
}

static void clip_info(const genc_st_file *f) {
    const char *cj = genc_st_meta(f, "config");
    genc_clip_config c;
    if (!cj || genc_clip_config_from_json(cj, &c)) {
        printf("model: unreadable config (%s)\n", cj ? genc_error() : "none");
        return;
    }
    int64_t want = genc_clip_param_count(&c);
    printf("model: image-text (%s loss); image ViT patch %d, %d layers; text %d layers over %d byte tokens; dim %d, "
           "%d heads, embedding %d; %dx%dx%d images; %lld parameters%s\n",
           genc_clip_loss_name(c.loss), c.patch, c.image_layers, c.text_layers, c.ctx, c.dim, c.heads, c.embed, c.height,
           c.width, c.channels, (long long)want,
           want == genc_checkpoint_param_count(f) ? "" : " (does NOT match the tensors in the file)");
}

static void clip_defaults(genc_train_cfg *c) { genc_clip_train_cfg_default(c); }

const cli_family CLIP_FAMILY = {
    .name = "clip",
    .summary = "image-text models (CLIP softmax, SigLIP sigmoid) on captioned Fashion-MNIST; zero-shot eval",
    .rate_unit = "pairs/s",
    .train_help = TRAIN_HELP,
    .eval_help = EVAL_HELP,
    .sample_help = NULL,
    .defaults = clip_defaults,
    .train = clip_train,
    .eval = clip_eval,
    .sample = NULL,
    .info = clip_info,
};
