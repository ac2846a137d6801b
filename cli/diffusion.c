/* The diffusion family at the command line: train flags, the FAMILIES entry, info's line and
 * the shared loader of eval and sample. */
#include "diffusion_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char TRAIN_HELP[] =
    "  --data D             toy:NAME (checkerboard, 8gaussians, moons, pinwheel, rings,\n"
    "                       swissroll, circles, 2spirals), fashion-mnist, or an IDX images\n"
    "                       file (default toy:checkerboard)\n"
    "  --process P          ddpm-linear, ddpm-cosine, vp, ve, edm (default), flow\n"
    "  --pred K             what the network predicts: eps, x0, v, velocity, edm (default:\n"
    "                       eps for ddpm-*/vp, edm for ve/edm, velocity for flow)\n"
    "  --net N              mlp (default for 2D data), unet (default for images), dit\n"
    "  --hidden N           mlp width / unet base channels / dit width (default 128/32/128)\n"
    "  --layers N           mlp residual layers / dit blocks (default 3/4)\n"
    "  --heads N            attention heads of unet and dit (default 4)\n"
    "  --patch P            dit patch side (default 4; must divide the image sides)\n"
    "  --groups G           unet GroupNorm groups (default 8)\n"
    "  --T N                DDPM discrete steps (default 1000)\n"
    "  --cond class         condition on the images' class labels\n"
    "  --label-dropout P    with --cond class: train the null class with probability P\n"
    "                       (classifier-free guidance; default 0.1)\n"
    "The shared --ema D keeps an EMA of the weights that sample and eval then use.\n";

typedef struct dflags {
    genc_dm_config cfg;
    genc_dm_train_cfg tc;
    int pred_given, net_given, cond, dropout_given;
    int hidden, layers, heads, patch, groups, T;
} dflags;

static int d_flag(args *a, void *state) {
    dflags *s = state;
    const char *v;
    if (flag(a, "--data")) {
        v = val_str(a, "--data");
        if (!a->bad && strlen(v) >= sizeof s->tc.data) { usage_error("--data: the path is longer than %zu bytes", sizeof s->tc.data - 1); a->bad = 1; }
        else if (!a->bad) snprintf(s->tc.data, sizeof s->tc.data, "%s", v);
    } else if (flag(a, "--process")) {
        v = val_str(a, "--process");
        if (!a->bad && genc_dproc_parse(v, &s->cfg.process)) { usage_error("--process: %s", genc_error()); a->bad = 1; }
    } else if (flag(a, "--pred")) {
        v = val_str(a, "--pred");
        if (!a->bad && genc_dpred_parse(v, &s->cfg.pred)) { usage_error("--pred: %s", genc_error()); a->bad = 1; }
        s->pred_given = 1;
    } else if (flag(a, "--net")) {
        v = val_str(a, "--net");
        if (!a->bad && genc_dnet_parse(v, &s->cfg.net)) { usage_error("--net: %s", genc_error()); a->bad = 1; }
        s->net_given = 1;
    } else if (flag(a, "--cond")) {
        v = val_str(a, "--cond");
        if (a->bad) return 1;
        if (strcmp(v, "class") == 0) s->cond = 1;
        else if (strcmp(v, "none") == 0) s->cond = 0;
        else { usage_error("--cond expects class or none, got '%s'", v); a->bad = 1; }
    } else if (flag(a, "--label-dropout")) {
        s->tc.label_dropout = (float)val_num(a, "--label-dropout", 0, 1);
        s->dropout_given = 1;
    } else if (flag(a, "--hidden")) s->hidden = val_int(a, "--hidden", 4, 4096);
    else if (flag(a, "--layers")) s->layers = val_int(a, "--layers", 1, 64);
    else if (flag(a, "--heads")) s->heads = val_int(a, "--heads", 1, 4096);
    else if (flag(a, "--patch")) s->patch = val_int(a, "--patch", 1, 1024);
    else if (flag(a, "--groups")) s->groups = val_int(a, "--groups", 1, 4096);
    else if (flag(a, "--T")) s->T = val_int(a, "--T", 2, GENC_DDPM_MAX_T);
    else return 0;
    return 1;
}

static void d_defaults(genc_train_cfg *c) {
    genc_dm_train_cfg t;
    genc_dm_train_cfg_default(&t);
    *c = t.common;
}

static int d_train(const cli_family *fam, int argc, char **argv) {
    dflags s;
    memset(&s, 0, sizeof s);
    genc_dm_config_default(&s.cfg, GENC_DNET_MLP, 2, 1, 1);
    genc_dm_train_cfg_default(&s.tc);
    s.tc.label_dropout = 0.1f;
    train_opts o;
    int rc = train_parse(fam, argc, argv, &o, d_flag, &s);
    if (rc >= 0) return rc;
    s.tc.common = o.cfg;
    if (!o.run.resume) {
        genc_toy toy;
        int is_toy;
        if (genc_dm_data_is_toy(s.tc.data, &toy, &is_toy)) return usage_error("--data: %s", genc_error());
        if (!s.net_given) s.cfg.net = is_toy ? GENC_DNET_MLP : GENC_DNET_UNET;
        if (is_toy && s.cfg.net != GENC_DNET_MLP)
            return usage_error("--net %s is an image network; 2D data (%s) takes --net mlp", genc_dnet_name(s.cfg.net), s.tc.data);
        if (is_toy && s.cond) return usage_error("--cond class needs labelled images; %s has no classes", s.tc.data);
        if (s.dropout_given && !s.cond) return usage_error("--label-dropout applies to class-conditional models (--cond class)");
        genc_dm_config d;
        genc_dm_config_default(&d, s.cfg.net, 2, 1, 1);
        d.process = s.cfg.process;
        d.T = s.T ? s.T : 1000;
        d.pred = s.pred_given ? s.cfg.pred : genc_dproc_default_pred(s.cfg.process);
        if (s.hidden) d.hidden = s.hidden;
        if (s.layers) d.layers = s.layers;
        if (s.heads) d.heads = s.heads;
        if (s.patch) d.patch = s.patch;
        if (s.groups) d.groups = s.groups;
        d.n_classes = s.cond ? 1 : 0;         /* the data sets the count */
        if (s.T && s.cfg.process != GENC_DPROC_DDPM_LINEAR && s.cfg.process != GENC_DPROC_DDPM_COSINE)
            return usage_error("--T sets DDPM's discrete steps; the %s process is continuous", genc_dproc_name(s.cfg.process));
        if (!s.cond) s.tc.label_dropout = 0;
        s.cfg = d;
    }
    genc_train_result res = {0};
    return train_exit(genc_dm_train(&s.cfg, &s.tc, &o.run, &res), &res);
}

int diffusion_open(genc_st_file *f, const char *path, genc_dmodel *m, genc_dm_train_cfg *tc) {
    int ema = 0, rc = genc_dm_load_file(f, m, tc, &ema);
    genc_st_free(f);
    if (rc) return runtime_error("%s: %s", path, genc_error());
    if (ema) fprintf(stderr, "genc: %s: using the EMA weights (decay %g)\n", path, tc->common.ema);
    return 0;
}

static void d_info(const genc_st_file *f) {
    const char *cj = genc_st_meta(f, "config");
    genc_dm_config c;
    if (!cj || genc_dm_config_from_json(cj, &c)) {
        printf("model: unreadable config (%s)\n", cj ? genc_error() : "none");
        return;
    }
    int match = genc_dm_param_count(&c) == genc_checkpoint_param_count(f);
    printf("model: diffusion, process %s, prediction %s, %s net (hidden %d), examples %d×%d×%d, %s%s\n",
           genc_dproc_name(c.process), genc_dpred_name(c.pred), genc_dnet_name(c.net), c.hidden, c.channels, c.height,
           c.width, c.n_classes ? "class-conditional" : "unconditional", match ? "" : " (does NOT match the tensors in the file)");
}

const cli_family DIFFUSION_FAMILY = {
    .name = "diffusion",
    .summary = "continuous diffusion and flow matching: ddpm, ddim, vp, ve, edm, flow; 2D toys and images",
    .rate_unit = "ex/s",
    .train_help = TRAIN_HELP,
    .eval_help = DIFFUSION_EVAL_HELP,
    .sample_help = DIFFUSION_SAMPLE_HELP,
    .defaults = d_defaults,
    .train = d_train,
    .eval = diffusion_eval,
    .sample = diffusion_sample,
    .info = d_info,
};
