/* The classifier family at the command line: its train flags (data, net and its sizes), its
 * FAMILIES entry, info's summary line and the loader eval and classify share. */
#include "classifier_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char TRAIN_HELP[] =
    "  --data D             fashion-mnist (default: Debian's dataset-fashion-mnist) or an IDX\n"
    "                       images file (.gz or not) with its labels file beside it\n"
    "                       (docs/data.md); image size and class count come from the data\n"
    "  --net N              mlp | cnn (default) | vit; see docs/classifier.md\n"
    "  --hidden N           mlp: width of both hidden layers (default 256)\n"
    "  --channels C1,C2,..  cnn: output channels of each conv stage, 1 to 4 stages; each\n"
    "                       halves the image (default 32,64)\n"
    "  --groups G           cnn: GroupNorm groups, must divide every stage (default 8)\n"
    "  --fc N               cnn: width of the penultimate layer, the features (default 128)\n"
    "  --patch P            vit: patch side, must divide the image side (default 4)\n"
    "  --dim D              vit: width (default 64)\n"
    "  --layers N           vit: blocks (default 4)\n"
    "  --heads H            vit: attention heads; dim/heads must be a multiple of 4 (default 4)\n"
    "  --mlp-hidden N       vit: MLP width of a block (default 256)\n"
    "Inputs are scaled to [-1, 1]. Weight decay applies to conv kernels and linear weights.\n";

typedef struct cls_flags {
    genc_classifier_config cfg;
    genc_classifier_train_cfg tc;
    int net_given;
    const char *sizes_flag;      /* the first size flag, checked against the net */
    genc_net_kind sizes_net;
} cls_flags;

/* "32,64" → conv[], n_conv; GENC_ERR on anything else. */
static int parse_channels(const char *s, genc_classifier_config *cfg) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || n == GENC_CLS_MAX_STAGES || (*end && *end != ','))
            return genc_set_error("expects 1 to %d channel counts in [1, 4096] separated by commas, got '%s'",
                                  GENC_CLS_MAX_STAGES, s);
        cfg->conv[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) return genc_set_error("expects channel counts such as 32,64");
    cfg->n_conv = n;
    return GENC_OK;
}

static void size_flag(cls_flags *s, const char *name, genc_net_kind net) {
    if (!s->sizes_flag) {
        s->sizes_flag = name;
        s->sizes_net = net;
    }
}

static int cls_flag(args *a, void *state) {
    cls_flags *s = state;
    genc_classifier_config *cfg = &s->cfg;
    const char *v;
    if (flag(a, "--data")) {
        v = val_str(a, "--data");
        if (!a->bad) snprintf(s->tc.data, sizeof s->tc.data, "%s", v);
    } else if (flag(a, "--net")) {
        v = val_str(a, "--net");
        if (!a->bad && genc_net_parse(v, &cfg->net)) {
            usage_error("--net: %s", genc_error());
            a->bad = 1;
        }
        s->net_given = 1;
    } else if (flag(a, "--hidden")) { cfg->hidden = val_int(a, "--hidden", 1, 16384); size_flag(s, "--hidden", GENC_NET_MLP); }
    else if (flag(a, "--channels")) {
        v = val_str(a, "--channels");
        if (!a->bad && parse_channels(v, cfg)) {
            usage_error("--channels %s", genc_error());
            a->bad = 1;
        }
        size_flag(s, "--channels", GENC_NET_CNN);
    } else if (flag(a, "--groups")) { cfg->groups = val_int(a, "--groups", 1, 4096); size_flag(s, "--groups", GENC_NET_CNN); }
    else if (flag(a, "--fc")) { cfg->fc = val_int(a, "--fc", 1, 16384); size_flag(s, "--fc", GENC_NET_CNN); }
    else if (flag(a, "--patch")) { cfg->patch = val_int(a, "--patch", 1, 64); size_flag(s, "--patch", GENC_NET_VIT); }
    else if (flag(a, "--dim")) { cfg->dim = val_int(a, "--dim", 4, 4096); size_flag(s, "--dim", GENC_NET_VIT); }
    else if (flag(a, "--layers")) { cfg->layers = val_int(a, "--layers", 1, 64); size_flag(s, "--layers", GENC_NET_VIT); }
    else if (flag(a, "--heads")) { cfg->heads = val_int(a, "--heads", 1, 256); size_flag(s, "--heads", GENC_NET_VIT); }
    else if (flag(a, "--mlp-hidden")) { cfg->mlp_hidden = val_int(a, "--mlp-hidden", 1, 16384); size_flag(s, "--mlp-hidden", GENC_NET_VIT); }
    else return 0;
    return 1;
}

static void cls_defaults(genc_train_cfg *c) {
    genc_classifier_train_cfg t;
    genc_classifier_train_cfg_default(&t);
    *c = t.common;
}

static int cls_train(const cli_family *fam, int argc, char **argv) {
    cls_flags s;
    memset(&s, 0, sizeof s);
    genc_classifier_config_default(&s.cfg, GENC_NET_CNN);
    genc_classifier_train_cfg_default(&s.tc);
    train_opts o;
    int rc = train_parse(fam, argc, argv, &o, cls_flag, &s);
    if (rc >= 0) return rc;
    if (s.sizes_flag && s.sizes_net != s.cfg.net)
        return usage_error("%s is a size of --net %s, but the net is %s", s.sizes_flag, genc_net_name(s.sizes_net),
                           genc_net_name(s.cfg.net));
    s.tc.common = o.cfg;
    genc_train_result res = {0};
    return train_exit(genc_classifier_train(&s.cfg, &s.tc, &o.run, &res), &res);
}

int classifier_open(genc_st_file *f, const char *path, genc_classifier *m, genc_classifier_info *info) {
    int rc = genc_classifier_load_file(f, m, info);
    genc_st_free(f);
    if (rc) return runtime_error("%s: %s", path, genc_error());
    if (info->ema_weights)
        fprintf(stderr, "genc: %s: using the EMA weights (decay %g)\n", path, info->train.common.ema);
    return 0;
}

/* "model: cnn classifier, stages 32,64 (GroupNorm 8), fc 128; 28x28x1 images, 10 classes",
 * from the config alone (nothing is allocated). */
static void cls_info(const genc_st_file *f) {
    const char *cj = genc_st_meta(f, "config");
    genc_classifier_config c;
    if (!cj || genc_classifier_config_from_json(cj, &c)) {
        printf("model: unreadable config (%s)\n", cj ? genc_error() : "none");
        return;
    }
    char net[128] = "";
    if (c.net == GENC_NET_MLP) snprintf(net, sizeof net, "hidden %d, %d", c.hidden, c.hidden);
    else if (c.net == GENC_NET_CNN) {
        int o = snprintf(net, sizeof net, "conv stages ");
        for (int s = 0; s < c.n_conv; s++) o += snprintf(net + o, sizeof net - (size_t)o, s ? ",%d" : "%d", c.conv[s]);
        snprintf(net + o, sizeof net - (size_t)o, " (GroupNorm %d), fc %d", c.groups, c.fc);
    } else
        snprintf(net, sizeof net, "patch %d, dim %d, %d layers, %d heads, MLP %d, axial 2D RoPE", c.patch, c.dim,
                 c.layers, c.heads, c.mlp_hidden);
    int64_t want = genc_classifier_param_count(&c);
    printf("model: %s classifier, %s; %dx%dx%d images, %d classes, %lld parameters%s\n", genc_net_name(c.net), net,
           c.height, c.width, c.channels, c.classes, (long long)want,
           want == genc_checkpoint_param_count(f) ? "" : " (does NOT match the tensors in the file)");
    if (genc_st_find(f, "ema.head.weight")) printf("weights: EMA kept; eval and classify use it\n");
}

const cli_family CLASSIFIER_FAMILY = {
    .name = "classifier",
    .summary = "image classifiers (mlp, cnn, vit) on Fashion-MNIST or IDX images; eval, classify",
    .rate_unit = "img/s",
    .train_help = TRAIN_HELP,
    .eval_help = CLASSIFIER_EVAL_HELP,
    .sample_help = NULL,
    .defaults = cls_defaults,
    .train = cls_train,
    .eval = classifier_eval,
    .sample = NULL,
    .info = cls_info,
};
