/* The BLIP family at the command line: train flags, eval (ITC zero-shot and retrieval, ITM
 * re-ranking, caption accuracy), info's summary line, and its FAMILIES entry. */
#include "blip_cli.h"
#include "classifier_cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char TRAIN_HELP[] =
    "  BLIP pre-training (ITC + ITM with hard negatives + a caption decoder) on Fashion-MNIST\n"
    "  training images with captions from templates over the class names; test images are\n"
    "  never seen. The towers take the flags of genc train clip (without --loss):\n"
    "  --patch P            image tower patch side, divides 28 (default 4)\n"
    "  --image-layers N     image tower blocks (default 2)\n"
    "  --text-layers N      text encoder = decoder blocks (default 2)\n"
    "  --dim D              width of both towers (default 64)\n"
    "  --heads H            attention heads; dim/heads must be a multiple of 4 (default 4)\n"
    "  --embed E            ITC embedding size (default 64)\n"
    "  --label-smoothing S  of the caption loss, in [0, 1) (default 0.1)\n";

static const char EVAL_HELP[] =
    "  Zero-shot top-1 through ITC (one template and the ensemble), retrieval R@1/5/10 on\n"
    "  held-out pairs, zero-shot re-ranked by ITM, and caption accuracy: the fraction of test\n"
    "  images whose caption names their class (and no other).\n"
    "  --images N   zero-shot on the first N test images (default: all 10 000)\n"
    "  --pairs N    held-out retrieval pairs (default 1000)\n"
    "  --rerank K   re-rank ITC's top K classes by ITM's p(matched) (default 3; 0: off)\n"
    "  --captions N caption the first N test images (default 1000; 0: none)\n"
    "  --beam K     beam search of width K for the captions (default 3)\n"
    "  --top-p P    nucleus sampling instead, with top-p P\n"
    "  --seed S     nucleus sampling seed (default 1)\n"
    "  --json       one JSON object as the last line of stdout: {\"zero_shot_top1\",\n"
    "               \"zero_shot_top1_ensemble\", \"zero_shot_top1_itm\", \"rerank\", \"i2t_r1\",\n"
    "               \"t2i_r1\", \"caption_accuracy\", \"captions\", \"images\", \"step\", \"seconds\"}\n";

int blip_flag(args *a, void *state) {
    genc_blip_config *c = state;
    if (flag(a, "--loss")) {
        usage_error("BLIP's ITC is the softmax loss: --loss is for genc train clip");
        a->bad = 1;
        return 1;
    }
    if (flag(a, "--label-smoothing")) {
        c->label_smoothing = (float)val_num(a, "--label-smoothing", 0, 0.999);
        return 1;
    }
    return clip_flag(a, &c->clip);
}

int blip_check_config(const genc_blip_config *cfg) {
    if (genc_blip_config_validate(cfg)) return usage_error("%s", genc_error());
    return 0;
}

static int blip_train(const cli_family *fam, int argc, char **argv) {
    genc_blip_config cfg;
    genc_blip_config_default(&cfg);
    train_opts o;
    int rc = train_parse(fam, argc, argv, &o, blip_flag, &cfg);
    if (rc >= 0) return rc;
    if (blip_check_config(&cfg)) return EXIT_USAGE;
    genc_train_result res = {0};
    return train_exit(genc_blip_train(&cfg, &o.cfg, &o.run, NULL, &res), &res);
}

/* --beam K | --top-p P: the caption flags shared by eval and caption; 1 if consumed */
int caption_flag(args *a, genc_caption_opts *o, int *beam_given, int *top_p_given) {
    if (flag(a, "--beam")) o->beam = val_int(a, "--beam", 1, 16), *beam_given = 1;
    else if (flag(a, "--top-p")) o->top_p = (float)val_num(a, "--top-p", 1e-6, 1), *top_p_given = 1;
    else if (flag(a, "--seed")) o->seed = val_u64(a, "--seed");
    else return 0;
    return 1;
}

static void jnum(const char *key, double v) {
    printf(", \"%s\": ", key);
    if (isfinite(v)) printf("%.6f", v);
    else printf("null");
}

static int blip_eval(genc_st_file *f, const char *path, int argc, char **argv) {
    int64_t n_images = 0, n_pairs = 1000, n_cap = 1000;
    int json = 0, rerank = 3, beam_given = 0, top_p_given = 0;
    genc_caption_opts co = {3, 0.9f, 1};
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(EVAL_HELP);
        else if (flag(&a, "--images")) n_images = val_i64(&a, "--images", 1, 10000);
        else if (flag(&a, "--pairs")) n_pairs = val_i64(&a, "--pairs", 1, 10000);
        else if (flag(&a, "--rerank")) rerank = val_int(&a, "--rerank", 0, 256);
        else if (flag(&a, "--captions")) n_cap = val_i64(&a, "--captions", 0, 10000);
        else if (flag(&a, "--json")) json = 1;
        else if (caption_flag(&a, &co, &beam_given, &top_p_given)) {
        } else return usage_error("unknown flag '%s' for eval of a BLIP model (see genc eval --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (beam_given && top_p_given) return usage_error("--beam and --top-p are two ways of decoding: give one");
    if (rerank == 1) return usage_error("--rerank needs at least 2 classes to re-rank (0: off)");
    if (top_p_given) co.beam = 0;
    genc_blip m;
    int64_t step = 0;
    int rc = genc_blip_load_file(f, &m, &step);
    genc_st_free(f);
    if (rc) return runtime_error("%s: %s", path, genc_error());
    genc_images im;
    if (genc_images_load("fashion-mnist", GENC_SPLIT_TEST, &im)) {
        genc_blip_free(&m);
        return runtime_error("test images: %s", genc_error());
    }
    genc_blip_eval_result r;
    rc = genc_blip_evaluate(&m, &im, n_images, n_pairs, rerank, n_cap, &co, &r);
    if (rc) {
        runtime_error("%s: %s", path, genc_error());
    } else {
        char how[64];
        if (co.beam) snprintf(how, sizeof how, "beam %d", co.beam);
        else snprintf(how, sizeof how, "nucleus, top-p %g", (double)co.top_p);
        printf("%s: BLIP, step %lld\n", path, (long long)step);
        printf("zero-shot top-1 on %lld test images (ITC): %.4f (one template), %.4f (ensemble of %d); chance 0.1\n",
               (long long)r.itc.images, r.itc.top1_single, r.itc.top1_ensemble, GENC_CAPTION_TRAIN_TEMPLATES);
        if (r.rerank_k) printf("zero-shot top-1, ITC's top %d re-ranked by ITM: %.4f\n", r.rerank_k, r.top1_itm);
        printf("retrieval on %lld held-out pairs (ITC): image->text R@1/5/10 %.3f %.3f %.3f, text->image %.3f %.3f %.3f\n",
               (long long)r.itc.pairs, r.itc.i2t[0], r.itc.i2t[1], r.itc.i2t[2], r.itc.t2i[0], r.itc.t2i[1], r.itc.t2i[2]);
        if (r.captioned)
            printf("captions (%s) naming the right class: %.4f of %lld test images\n", how, r.caption_accuracy,
                   (long long)r.captioned);
        printf("(%.1f s)\n", r.seconds);
        if (json) {
            printf("{\"step\": %lld, \"images\": %lld, \"rerank\": %d, \"captions\": %lld", (long long)step,
                   (long long)r.itc.images, r.rerank_k, (long long)r.captioned);
            jnum("zero_shot_top1", r.itc.top1_single);
            jnum("zero_shot_top1_ensemble", r.itc.top1_ensemble);
            jnum("zero_shot_top1_itm", r.top1_itm);
            jnum("i2t_r1", r.itc.i2t[0]);
            jnum("t2i_r1", r.itc.t2i[0]);
            jnum("caption_accuracy", r.caption_accuracy);
            jnum("seconds", r.seconds);
            printf("}\n");
        }
    }
    genc_images_free(&im);
    genc_blip_free(&m);
    return rc ? EXIT_RUNTIME : 0;
}

static void blip_info(const genc_st_file *f) {
    const char *cj = genc_st_meta(f, "config");
    genc_blip_config b;
    if (!cj || genc_blip_config_from_json(cj, &b)) {
        printf("model: unreadable config (%s)\n", cj ? genc_error() : "none");
        return;
    }
    const genc_clip_config *c = &b.clip;
    int64_t want = genc_blip_param_count(&b);
    printf("model: BLIP (ITC + ITM + captions); image ViT patch %d, %d layers; text encoder/decoder %d layers over %d "
           "byte tokens; dim %d, %d heads, embedding %d; %dx%dx%d images; %lld parameters%s\n",
           c->patch, c->image_layers, c->text_layers, c->ctx, c->dim, c->heads, c->embed, c->height, c->width,
           c->channels, (long long)want, want == genc_checkpoint_param_count(f) ? "" : " (does NOT match the tensors in the file)");
}

static void blip_defaults(genc_train_cfg *c) { genc_blip_train_cfg_default(c); }

const cli_family BLIP_FAMILY = {
    .name = "blip",
    .summary = "BLIP: ITC + ITM + a caption decoder on captioned Fashion-MNIST; genc caption, genc capfilt",
    .rate_unit = "pairs/s",
    .train_help = TRAIN_HELP,
    .eval_help = EVAL_HELP,
    .sample_help = NULL,
    .defaults = blip_defaults,
    .train = blip_train,
    .eval = blip_eval,
    .sample = NULL,
    .info = blip_info,
};
