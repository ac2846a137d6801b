/* The lm family at the command line: its train flags (data, objective, architecture), its
 * FAMILIES entry, info's summary line and the shared loader of eval and sample. */
#include "lm_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char TRAIN_HELP[] =
    "  --data PATH          a text file, a folder of text files, or a fortune-style file of\n"
    "                       documents separated by lines holding only % (default: Debian's\n"
    "                       fortunes, " GENC_DEFAULT_CORPUS "). Held out for eval: every\n"
    "                       20th document, or the last 5% of fewer than 20 (docs/data.md)\n"
    "  --seq T              context length in bytes (default 256)\n"
    "  --objective O        ar (next-byte prediction, default), mdlm, llada (masked\n"
    "                       diffusion), bd3 (block diffusion), sedd-absorb, sedd-uniform\n"
    "                       (score-entropy diffusion); see docs/language-models.md\n"
    "  --block N            bd3 block size (default 4; must divide --seq)\n"
    "  --clip-schedule LO,HI  diffusion: train on noise levels t ~ U[LO, HI] (BD3's clipped\n"
    "                       schedules, e.g. 0.5,1 for block 4); evaluation uses the full range\n"
    "  --layers N           transformer blocks (default 4)\n"
    "  --dim D              model width (default 256)\n"
    "  --heads H            attention heads (default 4; must divide --dim)\n"
    "  --pos P              none|sinusoidal|learned|rope|rope-half|alibi|t5 (default rope)\n"
    "  --rope-scaling S     none|linear|ntk|dynamic-ntk|yarn context extension (default none)\n"
    "  --rope-factor F      scale factor s for --rope-scaling (default 1)\n"
    "  --rope-base B        RoPE base (default 10000)\n"
    "  --max-pos N          learned position table size / longest input (default 1024)\n"
    "  --norm layer|rms     LayerNorm or RMSNorm (default layer)\n"
    "  --mlp M              gelu|gelu-tanh|quickgelu|swiglu (default gelu)\n"
    "  --no-bias            linear layers without bias\n"
    "  --tie                tie the output head to the token embedding\n"
    "  --dropout P          dropout probability (default 0)\n"
    "Weight decay applies to the matrices (linear weights, embeddings, position tables).\n";

typedef struct lm_flags {
    genc_tf_config cfg;
    genc_lm_train_cfg tc;
} lm_flags;

/* A parse error of a named value: print it, mark the cursor bad. */
static void bad_value(args *a, const char *what) {
    usage_error("%s: %s", what, genc_error());
    a->bad = 1;
}

static int lm_flag(args *a, void *state) {
    lm_flags *s = state;
    genc_tf_config *cfg = &s->cfg;
    const char *v;
    if (flag(a, "--data")) { v = val_str(a, "--data"); snprintf(s->tc.data, sizeof s->tc.data, "%s", v); }
    else if (flag(a, "--seq")) s->tc.seq = val_int(a, "--seq", 2, 65536);
    else if (flag(a, "--objective")) {
        v = val_str(a, "--objective");
        if (!a->bad && genc_objective_parse(v, &s->tc.objective)) bad_value(a, "--objective");
    } else if (flag(a, "--block")) s->tc.block = val_int(a, "--block", 1, 65536);
    else if (flag(a, "--clip-schedule")) {
        v = val_str(a, "--clip-schedule");
        if (a->bad) return 1;
        char *end;
        double lo = strtod(v, &end), hi = -1;
        if (*end == ',') hi = strtod(end + 1, &end);
        if (*end || !(lo >= 0 && lo < hi && hi <= 1)) {
            usage_error("--clip-schedule expects LO,HI with 0 <= LO < HI <= 1, got '%s'", v);
            a->bad = 1;
        }
        s->tc.t_lo = (float)lo;
        s->tc.t_hi = (float)hi;
    } else if (flag(a, "--layers")) cfg->layers = val_int(a, "--layers", 1, 256);
    else if (flag(a, "--dim")) cfg->dim = val_int(a, "--dim", 2, 16384);
    else if (flag(a, "--heads")) cfg->heads = val_int(a, "--heads", 1, 1024);
    else if (flag(a, "--pos")) {
        v = val_str(a, "--pos");
        if (!a->bad && genc_pos_parse(v, &cfg->pos)) bad_value(a, "--pos");
    } else if (flag(a, "--rope-scaling")) {
        v = val_str(a, "--rope-scaling");
        if (!a->bad && genc_rope_scaling_parse(v, &cfg->rope.scaling)) bad_value(a, "--rope-scaling");
    } else if (flag(a, "--rope-factor")) cfg->rope.factor = (float)val_num(a, "--rope-factor", 1, 1024);
    else if (flag(a, "--rope-base")) cfg->rope.base = (float)val_num(a, "--rope-base", 1.0001, 1e9);
    else if (flag(a, "--max-pos")) cfg->max_pos = val_int(a, "--max-pos", 1, 1 << 20);
    else if (flag(a, "--norm")) {
        v = val_str(a, "--norm");
        if (a->bad) return 1;
        if (strcmp(v, "rms") == 0) cfg->norm_rms = 1;
        else if (strcmp(v, "layer") == 0) cfg->norm_rms = 0;
        else { usage_error("--norm expects layer or rms, got '%s'", v); a->bad = 1; }
    } else if (flag(a, "--mlp")) {
        v = val_str(a, "--mlp");
        if (!a->bad && genc_mlp_parse(v, &cfg->mlp)) bad_value(a, "--mlp");
    } else if (flag(a, "--no-bias")) cfg->bias = 0;
    else if (flag(a, "--tie")) cfg->tie_embeddings = 1;
    else if (flag(a, "--dropout")) cfg->dropout = (float)val_num(a, "--dropout", 0, 0.99);
    else return 0;
    return 1;
}

static void lm_defaults(genc_train_cfg *c) {
    genc_lm_train_cfg t;
    genc_lm_train_cfg_default(&t);
    *c = t.common;
}

static int lm_train(const cli_family *fam, int argc, char **argv) {
    lm_flags s;
    genc_tf_config_default(&s.cfg);
    genc_lm_train_cfg_default(&s.tc);
    train_opts o;
    int rc = train_parse(fam, argc, argv, &o, lm_flag, &s);
    if (rc >= 0) return rc;
    s.tc.common = o.cfg;
    if (o.run.minutes > 0 && !o.eval_given) o.run.eval_every = GENC_EVAL_AUTO; /* held-out bpc as it trains */
    if (!o.run.resume && (genc_tf_config_validate(&s.cfg) || genc_lm_train_cfg_validate(&s.tc)))
        return usage_error("%s", genc_error());
    genc_train_result res = {0};
    return train_exit(genc_lm_train(&s.cfg, &s.tc, &o.run, &res), &res);
}

int lm_open(genc_st_file *f, const char *path, genc_lm *lm) {
    int rc = genc_lm_load_file(f, lm);
    genc_st_free(f);
    if (rc) return runtime_error("%s: %s", path, genc_error());
    if (lm->ema_weights)
        fprintf(stderr, "genc: %s: using the EMA weights (decay %g)\n", path, lm->train.common.ema);
    return 0;
}

typedef struct shown {
    const char *what;
    double t0, last;
} shown;
static shown g_shown;

static void on_lm_progress(int64_t done, int64_t total, void *user) {
    shown *s = user;
    double now = genc_time_s(), el = now - s->t0;
    if (done < total && now - s->last < 0.2) return;
    s->last = now;
    progress_show(done, total, s->what, el, done > 0 ? el * (double)(total - done) / (double)done : 0);
}

void lm_show_progress(genc_lm *lm, const char *what) {
    if (!isatty(2)) return; /* logs and pipes get the summary line only */
    g_shown = (shown){what, genc_time_s(), 0};
    lm->progress = on_lm_progress;
    lm->progress_user = &g_shown;
}

/* "model: ar transformer, 4 layers, dim 256, 4 heads, pos rope, LayerNorm", from the config
 * alone (nothing is allocated). */
static void lm_info(const genc_st_file *f) {
    const char *cj = genc_st_meta(f, "config"), *obj = genc_st_meta(f, "objective");
    genc_tf_config c;
    if (!cj || genc_tf_config_from_json(cj, &c)) {
        printf("model: unreadable config (%s)\n", cj ? genc_error() : "none");
        return;
    }
    int match = genc_lm_param_count(&c) == (double)genc_checkpoint_param_count(f);
    printf("model: %s transformer, %d layers, dim %d, %d heads, pos %s, %s%s\n", obj ? obj : "ar", c.layers, c.dim,
           c.heads, genc_pos_name(c.pos), c.norm_rms ? "RMSNorm" : "LayerNorm",
           match ? "" : " (does NOT match the tensors in the file)");
    if (genc_st_find(f, "ema.tok_emb.weight")) printf("weights: EMA kept; eval and sample use it\n");
}

const cli_family LM_FAMILY = {
    .name = "lm",
    .summary = "byte-level transformer language models: ar, mdlm, llada, bd3, sedd-absorb, sedd-uniform",
    .rate_unit = "tok/s",
    .train_help = TRAIN_HELP,
    .eval_help = LM_EVAL_HELP,
    .sample_help = LM_SAMPLE_HELP,
    .defaults = lm_defaults,
    .train = lm_train,
    .eval = lm_eval,
    .sample = lm_sample,
    .info = lm_info,
};
