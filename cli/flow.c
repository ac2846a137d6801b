/* The flow family at the command line: train flags, eval (exact test NLL), info, the
 * FAMILIES entry, and the loader shared with sampling and encode/decode (flow_sample.c,
 * flow_codec.c). */
#include "flow_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char TRAIN_HELP[] =
    "  --arch A             nice | realnvp | glow (default glow)\n"
    "  --data D             fashion-mnist (default), PATH.idx[.gz] (8-bit images), or\n"
    "                       toy:NAME (2D: checkerboard, 8gaussians, moons, pinwheel, rings,\n"
    "                       swissroll, circles, 2spirals)\n"
    "  --prior P            gaussian | logistic (default: logistic for nice, else gaussian)\n"
    "  --prior-net N        none | conv: Glow's learned prior, each factored-out half\n"
    "                       N(mu, sigma^2) from a zero-initialised 3x3 conv of the half that\n"
    "                       stays, the last one with learned mu, sigma per channel\n"
    "                       (default: conv for glow on images, else none)\n"
    "  --coupling K         additive | affine (default: additive for nice, else affine)\n"
    "  --depth K            couplings (nice, realnvp) or steps (glow) per level\n"
    "                       (default: 4 nice, 3 realnvp, 4 glow; 8 on 2D data)\n"
    "  --levels L           multi-scale levels of realnvp and glow on images (default 2)\n"
    "  --width W            hidden channels / units of the coupling networks\n"
    "                       (default: 256 nice, 16 realnvp, 64 glow; 64 on 2D data)\n"
    "  --hidden N           hidden layers of the MLP coupling networks (default 3; 2D: 2)\n"
    "  --scale-bound A      affine couplings: s = a·tanh(raw), a learned, starting at A\n"
    "                       (default 1)\n"
    "  --input X            how dequantised pixels x in [0, 1) enter: none (x), center\n"
    "                       (x - 1/2), logit (logit(0.05 + 0.95x), its Jacobian counted)\n"
    "                       (default: none for nice, center for glow, logit for realnvp)\n"
    "The loss is the exact negative log-likelihood of the training batch: bits/dim of the\n"
    "dequantised 8-bit images, nats per point on 2D data. See docs/flows.md.\n";

typedef struct flow_flags {
    genc_flow_config cfg;
} flow_flags;

static void bad(args *a, const char *what) {
    usage_error("%s: %s", what, genc_error());
    a->bad = 1;
}

static int flow_flag(args *a, void *state) {
    genc_flow_config *c = &((flow_flags *)state)->cfg;
    const char *v;
    if (flag(a, "--arch")) {
        v = val_str(a, "--arch");
        if (!a->bad && genc_flow_arch_parse(v, &c->arch)) bad(a, "--arch");
    } else if (flag(a, "--data")) {
        v = val_str(a, "--data");
        if (!a->bad && strlen(v) >= sizeof c->data) {
            usage_error("--data: a name of at most %zu bytes", sizeof c->data - 1);
            a->bad = 1;
        } else if (!a->bad) snprintf(c->data, sizeof c->data, "%s", v);
    } else if (flag(a, "--prior")) {
        v = val_str(a, "--prior");
        if (!a->bad && genc_flow_prior_parse(v, &c->prior)) bad(a, "--prior");
    } else if (flag(a, "--prior-net")) {
        v = val_str(a, "--prior-net");
        if (!a->bad && genc_flow_prior_net_parse(v, &c->prior_net)) bad(a, "--prior-net");
    } else if (flag(a, "--coupling")) {
        v = val_str(a, "--coupling");
        if (!a->bad && genc_flow_coupling_parse(v, &c->coupling)) bad(a, "--coupling");
    } else if (flag(a, "--depth")) c->depth = val_int(a, "--depth", 1, 64);
    else if (flag(a, "--levels")) c->levels = val_int(a, "--levels", 1, 6);
    else if (flag(a, "--width")) c->width = val_int(a, "--width", 1, 4096);
    else if (flag(a, "--hidden")) c->hidden = val_int(a, "--hidden", 1, 15);
    else if (flag(a, "--scale-bound")) c->scale_bound = (float)val_num(a, "--scale-bound", 0.01, 10);
    else if (flag(a, "--input")) {
        v = val_str(a, "--input");
        if (!a->bad && genc_flow_pre_parse(v, &c->pre)) bad(a, "--input");
    } else return 0;
    return 1;
}

/* Adam at 1e-3 (NICE, Glow), no weight decay, a loose clip that only catches spikes. */
static void flow_defaults(genc_train_cfg *c) {
    c->batch = 64;
    c->lr = 1e-3f;
    c->min_lr = 1e-4f;
    c->warmup = 50;
    c->weight_decay = 0;
    c->clip = 50;
    c->beta2 = 0.999f;
}

static int flow_train(const cli_family *fam, int argc, char **argv) {
    flow_flags s;
    /* the arch is read first so every other unset field takes that arch's default */
    genc_flow_config_unset(&s.cfg, GENC_FLOW_GLOW);
    snprintf(s.cfg.data, sizeof s.cfg.data, "fashion-mnist");
    train_opts o;
    int rc = train_parse(fam, argc, argv, &o, flow_flag, &s);
    if (rc >= 0) return rc;
    genc_train_result res = {0};
    return train_exit(genc_flow_train(&s.cfg, &o.cfg, &o.run, &res), &res);
}

int flow_open(genc_st_file *f, const char *path, genc_flow *flow) {
    int ema = 0;
    int rc = genc_flow_from_file(f, flow, &ema);
    genc_st_free(f);
    if (rc) return runtime_error("%s: %s", path, genc_error());
    if (ema) fprintf(stderr, "genc: %s: using the EMA weights\n", path);
    return 0;
}

static const char EVAL_HELP[] =
    "  Exact test negative log-likelihood. Images: the test split of the training data, each\n"
    "  image dequantised once with uniform noise, in nats per image and bits per dimension\n"
    "  (the ln 256 per dimension and any logit preprocessing counted). 2D: fresh points, with\n"
    "  the true entropy of the distribution (the lowest NLL possible) and the gap to it.\n"
    "\n"
    "  --n N        evaluate the first N test images / N points (default all / 20000)\n"
    "  --seed S     seed of the dequantisation noise / the points (default 1)\n"
    "  --json       print one JSON object as the last line of stdout:\n"
    "               {\"nll_nats\", \"bpd\", \"entropy\", \"gap\", \"n\", \"dims\", \"arch\",\n"
    "                \"params\", \"step\", \"seconds\"}\n";

static int flow_eval(genc_st_file *f, const char *path, int argc, char **argv) {
    int json = 0;
    int64_t n = 0;
    uint64_t seed = 1;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(EVAL_HELP);
        else if (flag(&a, "--json")) json = 1;
        else if (flag(&a, "--n")) n = val_i64(&a, "--n", 1, (int64_t)1 << 30);
        else if (flag(&a, "--seed")) seed = val_u64(&a, "--seed");
        else return usage_error("unknown flag '%s' for eval (see genc eval --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    const char *st = genc_st_meta(f, "step");
    long long step = st ? atoll(st) : 0;
    genc_flow flow;
    if (flow_open(f, path, &flow)) return EXIT_RUNTIME;
    double t0 = genc_time_s();
    genc_flow_eval_result r;
    if (n == 0 && flow.cfg.toy >= 0) n = 20000;
    if (genc_flow_evaluate(&flow, n, seed, &r)) {
        genc_flow_free(&flow);
        return runtime_error("%s", genc_error());
    }
    double secs = genc_time_s() - t0;
    int toy = flow.cfg.toy >= 0;
    if (toy)
        printf("test NLL %.4f nats per point (%lld points); true entropy %.4f nats; gap %.4f\n", r.nll, (long long)r.n,
               r.entropy, r.nll - r.entropy);
    else
        printf("test NLL %.2f nats per image = %.4f bits/dim (%lld images of %lld dims, dequantised once)\n", r.nll, r.bpd,
               (long long)r.n, (long long)r.dims);
    if (json) {
        char ent[32] = "null", gap[32] = "null";
        if (isfinite(r.entropy)) {
            snprintf(ent, sizeof ent, "%.6f", r.entropy);
            snprintf(gap, sizeof gap, "%.6f", r.nll - r.entropy);
        }
        printf("{\"nll_nats\": %.6f, \"bpd\": %.6f, \"entropy\": %s, \"gap\": %s, \"n\": %lld, \"dims\": %lld, "
               "\"arch\": \"%s\", \"params\": %lld, \"step\": %lld, \"seconds\": %.3f}\n",
               r.nll, toy ? r.nll / (2 * log(2.0)) : r.bpd, ent, gap, (long long)r.n, (long long)r.dims,
               genc_flow_arch_name(flow.cfg.arch), (long long)genc_params_count(&flow.params), step, secs);
    }
    genc_flow_free(&flow);
    return 0;
}

static void flow_info(const genc_st_file *f) {
    const char *cj = genc_st_meta(f, "config");
    genc_flow_config c;
    if (!cj || genc_flow_config_from_json(cj, &c)) {
        printf("model: unreadable flow config (%s)\n", cj ? genc_error() : "none");
        return;
    }
    int match = genc_flow_param_count(&c) == genc_checkpoint_param_count(f);
    printf("model: %s flow, %s couplings, %s prior%s, depth %d, %d level%s, width %d, input %s, data %s (%dx%dx%d)%s\n",
           genc_flow_arch_name(c.arch), genc_flow_coupling_name(c.coupling), genc_flow_prior_name(c.prior),
           c.prior_net == GENC_PRIOR_NET_CONV ? " (learned, conv)" : "", c.depth,
           c.levels, c.levels > 1 ? "s" : "", c.width, genc_flow_pre_name(c.pre), c.data, c.C, c.H, c.W,
           match ? "" : " (does NOT match the tensors in the file)");
}

const cli_family FLOW_FAMILY = {
    .name = "flow",
    .summary = "normalizing flows with exact likelihood: nice, realnvp, glow (images, 2D toys)",
    .rate_unit = "img/s",
    .train_help = TRAIN_HELP,
    .eval_help = EVAL_HELP,
    .sample_help = FLOW_SAMPLE_HELP,
    .defaults = flow_defaults,
    .train = flow_train,
    .eval = flow_eval,
    .sample = flow_sample,
    .info = flow_info,
};
