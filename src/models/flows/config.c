/* Flow configuration: names, per-architecture defaults, validation and JSON (the checkpoint's
 * "config"; keys in docs/flows.md). Checkpoint configs are untrusted: from_json checks every
 * field before anything is built. */
#include "genc/flows.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows_internal.h"
#include "nn/json_get.h"

static const char *const ARCH[] = {"nice", "realnvp", "glow"};
static const char *const PRIOR[] = {"gaussian", "logistic"};
static const char *const COUPLING[] = {"additive", "affine"};
static const char *const PRE[] = {"none", "center", "logit"};
static const char *const PRIOR_NET[] = {"none", "conv"};

static int parse_name(const char *s, const char *const *names, int n, const char *what, int *out) {
    for (int i = 0; i < n; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *out = i;
            return GENC_OK;
        }
    char list[128] = "";
    for (int i = 0; i < n; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "|" : "", names[i]);
    return genc_set_error("unknown %s '%s' (expected %s)", what, s ? s : "", list);
}

const char *genc_flow_arch_name(genc_flow_arch a) { return (unsigned)a < 3 ? ARCH[a] : "?"; }
const char *genc_flow_prior_name(genc_flow_prior p) { return (unsigned)p < 2 ? PRIOR[p] : "?"; }
const char *genc_flow_coupling_name(genc_flow_coupling k) { return (unsigned)k < 2 ? COUPLING[k] : "?"; }
const char *genc_flow_pre_name(genc_flow_pre p) { return (unsigned)p < 3 ? PRE[p] : "?"; }
const char *genc_flow_prior_net_name(genc_flow_prior_net p) { return (unsigned)p < 2 ? PRIOR_NET[p] : "?"; }
int genc_flow_arch_parse(const char *s, genc_flow_arch *a) { return parse_name(s, ARCH, 3, "architecture", (int *)a); }
int genc_flow_prior_parse(const char *s, genc_flow_prior *p) { return parse_name(s, PRIOR, 2, "prior", (int *)p); }
int genc_flow_pre_parse(const char *s, genc_flow_pre *p) { return parse_name(s, PRE, 3, "input", (int *)p); }
int genc_flow_prior_net_parse(const char *s, genc_flow_prior_net *p) {
    return parse_name(s, PRIOR_NET, 2, "prior network", (int *)p);
}
int genc_flow_coupling_parse(const char *s, genc_flow_coupling *k) {
    return parse_name(s, COUPLING, 2, "coupling", (int *)k);
}

void genc_flow_config_unset(genc_flow_config *cfg, genc_flow_arch arch) {
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = arch;
    cfg->coupling = (genc_flow_coupling)-1;
    cfg->prior = (genc_flow_prior)-1;
    cfg->pre = (genc_flow_pre)-1;
    cfg->prior_net = (genc_flow_prior_net)-1;
    cfg->toy = -1;
    cfg->C = cfg->H = cfg->W = 1;
}

/* The papers' choices at CPU-minutes sizes: NICE (Dinh et al. 2014) four additive couplings
 * of ReLU MLPs, a diagonal scaling and the logistic prior; RealNVP (Dinh et al. 2016) affine
 * checkerboard and channel couplings over squeezes with logit inputs; Glow (Kingma &
 * Dhariwal 2018) ActNorm → 1×1 conv → affine coupling steps on centred inputs. */
void genc_flow_config_resolve(genc_flow_config *cfg) {
    int toy = cfg->toy >= 0, nice = cfg->arch == GENC_FLOW_NICE, glow = cfg->arch == GENC_FLOW_GLOW;
    if ((int)cfg->coupling < 0) cfg->coupling = nice ? GENC_COUPLING_ADDITIVE : GENC_COUPLING_AFFINE;
    if ((int)cfg->prior < 0) cfg->prior = nice ? GENC_PRIOR_LOGISTIC : GENC_PRIOR_GAUSSIAN;
    if ((int)cfg->pre < 0) cfg->pre = toy || nice ? GENC_PRE_NONE : glow ? GENC_PRE_CENTER : GENC_PRE_LOGIT;
    /* Glow's learned prior on its multi-scale image flows (a Gaussian: not with --prior
     * logistic); on 2D there is nothing to factor out and it would be one learned diagonal
     * Gaussian at the end */
    if ((int)cfg->prior_net < 0)
        cfg->prior_net = glow && !toy && cfg->prior == GENC_PRIOR_GAUSSIAN ? GENC_PRIOR_NET_CONV : GENC_PRIOR_NET_NONE;
    if (cfg->logit_alpha <= 0) cfg->logit_alpha = 0.05f;
    if (cfg->scale_bound <= 0) cfg->scale_bound = 1.0f;
    if (cfg->depth <= 0) cfg->depth = toy ? 8 : nice ? 4 : glow ? 4 : 3;
    if (cfg->levels <= 0) cfg->levels = toy || nice ? 1 : 2;
    if (cfg->width <= 0) cfg->width = toy ? 64 : nice ? 256 : glow ? 64 : 16;
    if (cfg->hidden <= 0) cfg->hidden = toy ? 2 : 3;
}

int genc_flow_config_validate(const genc_flow_config *c) {
    if ((unsigned)c->arch > 2 || (unsigned)c->coupling > 1 || (unsigned)c->prior > 1 || (unsigned)c->pre > 2)
        return genc_set_error("flow config: unknown architecture, coupling, prior or preprocessing");
    if ((unsigned)c->prior_net > 1) return genc_set_error("flow config: unknown prior network");
    if (c->prior_net == GENC_PRIOR_NET_CONV && c->prior != GENC_PRIOR_GAUSSIAN)
        return genc_set_error("--prior-net conv learns a Gaussian's mean and scale: it needs --prior gaussian");
    if (c->depth < 1 || c->depth > 64) return genc_set_error("--depth %d out of range [1, 64]", c->depth);
    if (c->levels < 1 || c->levels > 6) return genc_set_error("--levels %d out of range [1, 6]", c->levels);
    if (c->width < 1 || c->width > 4096) return genc_set_error("--width %d out of range [1, 4096]", c->width);
    if (c->hidden < 1 || c->hidden > 15) return genc_set_error("flow config: hidden %d out of range [1, 15]", c->hidden);
    if (c->C < 1 || c->C > 16 || c->H < 1 || c->H > 1024 || c->W < 1 || c->W > 1024)
        return genc_set_error("flow data: shape %dx%dx%d outside 1..16 channels, 1..1024 pixels a side", c->C, c->H, c->W);
    if (!(c->logit_alpha > 0 && c->logit_alpha < 0.5f)) return genc_set_error("flow config: logit_alpha must be in (0, 0.5)");
    if (!(c->scale_bound > 0 && c->scale_bound <= 10)) return genc_set_error("flow config: scale_bound must be in (0, 10]");
    if (c->toy >= GENC_TOY_COUNT) return genc_set_error("flow config: unknown toy %d", c->toy);
    if (c->toy >= 0 && (c->C != 2 || c->H != 1 || c->W != 1)) return genc_set_error("flow config: 2D data must be 2x1x1");
    int vec = c->toy >= 0 || c->arch == GENC_FLOW_NICE;
    if (vec && c->levels != 1) return genc_set_error("--levels %d: NICE and 2D flows have one level", c->levels);
    int64_t D = (int64_t)c->C * c->H * c->W;
    if (vec && D < 2) return genc_set_error("flow data: a coupling needs at least 2 dimensions");
    if (!vec) {
        int f = 1 << c->levels;
        if (c->H % f || c->W % f)
            return genc_set_error("--levels %d: %d squeezes need height and width divisible by %d (data is %dx%d)", c->levels,
                                  c->levels, f, c->H, c->W);
    }
    if (vec && c->arch == GENC_FLOW_NICE && c->toy < 0 && (c->H % 2 || c->W % 2))
        return genc_set_error("NICE on images interleaves rows: height and width must be even (data is %dx%d)", c->H, c->W);
    if (genc_flow_param_count(c) > ((int64_t)1 << 31))
        return genc_set_error("flow config: %lld parameters is too many", (long long)genc_flow_param_count(c));
    return GENC_OK;
}

char *genc_flow_config_to_json(const genc_flow_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", genc_flow_arch_name(c->arch));
    cJSON_AddStringToObject(o, "coupling", genc_flow_coupling_name(c->coupling));
    cJSON_AddStringToObject(o, "prior", genc_flow_prior_name(c->prior));
    cJSON_AddStringToObject(o, "pre", genc_flow_pre_name(c->pre));
    cJSON_AddStringToObject(o, "prior_net", genc_flow_prior_net_name(c->prior_net));
    cJSON_AddNumberToObject(o, "logit_alpha", genc_json_float(c->logit_alpha));
    cJSON_AddNumberToObject(o, "depth", c->depth);
    cJSON_AddNumberToObject(o, "levels", c->levels);
    cJSON_AddNumberToObject(o, "width", c->width);
    cJSON_AddNumberToObject(o, "hidden", c->hidden);
    cJSON_AddNumberToObject(o, "channels", c->C);
    cJSON_AddNumberToObject(o, "height", c->H);
    cJSON_AddNumberToObject(o, "width_px", c->W);
    cJSON_AddStringToObject(o, "toy", c->toy >= 0 ? genc_toy_name((genc_toy)c->toy) : "");
    cJSON_AddNumberToObject(o, "scale_bound", genc_json_float(c->scale_bound));
    cJSON_AddStringToObject(o, "data", c->data);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int get_enum(const cJSON *o, const char *key, const char *const *names, int n, int *dst) {
    const char *s = NULL;
    if (genc_json_get_str(o, "flow config", key, &s)) return GENC_ERR;
    if (!s) return genc_set_error("flow config: \"%s\" missing", key);
    return parse_name(s, names, n, key, dst) ? genc_wrap_error("flow config") : GENC_OK;
}

int genc_flow_config_from_json(const char *json, genc_flow_config *c) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return genc_set_error("flow config: not a JSON object");
    }
    genc_flow_config_unset(c, GENC_FLOW_NICE);
    int arch, coup, prior, pre, pnet = GENC_PRIOR_NET_NONE;
    const char *toy = NULL, *data = NULL, *pn = NULL;
    const char *w = "flow config";
    int rc = get_enum(o, "arch", ARCH, 3, &arch) || get_enum(o, "coupling", COUPLING, 2, &coup) ||
             get_enum(o, "prior", PRIOR, 2, &prior) || get_enum(o, "pre", PRE, 3, &pre) ||
             genc_json_get_str(o, w, "prior_net", &pn) ||
             (pn && parse_name(pn, PRIOR_NET, 2, "prior_net", &pnet) && genc_wrap_error("flow config")) ||
             genc_json_get_f32(o, w, "logit_alpha", 1e-6, 0.5, &c->logit_alpha) ||
             genc_json_get_int(o, w, "depth", 1, 64, &c->depth) || genc_json_get_int(o, w, "levels", 1, 6, &c->levels) ||
             genc_json_get_int(o, w, "width", 1, 4096, &c->width) || genc_json_get_int(o, w, "hidden", 1, 15, &c->hidden) ||
             genc_json_get_int(o, w, "channels", 1, 16, &c->C) || genc_json_get_int(o, w, "height", 1, 1024, &c->H) ||
             genc_json_get_int(o, w, "width_px", 1, 1024, &c->W) ||
             genc_json_get_f32(o, w, "scale_bound", 1e-6, 10, &c->scale_bound) || genc_json_get_str(o, w, "toy", &toy) ||
             genc_json_get_str(o, w, "data", &data);
    if (rc == GENC_OK) {
        c->arch = (genc_flow_arch)arch;
        c->coupling = (genc_flow_coupling)coup;
        c->prior = (genc_flow_prior)prior;
        c->pre = (genc_flow_pre)pre;
        c->prior_net = (genc_flow_prior_net)pnet;   /* older checkpoints have none */
        if (toy && toy[0]) {
            genc_toy t;
            if (genc_toy_parse(toy, &t)) rc = genc_wrap_error("flow config");
            else c->toy = (int)t;
        }
        if (data) snprintf(c->data, sizeof c->data, "%s", data);
    }
    cJSON_Delete(o);
    if (rc == GENC_OK && (c->depth <= 0 || c->width <= 0 || c->hidden <= 0 || c->levels <= 0))
        rc = genc_set_error("flow config: depth, levels, width or hidden missing");
    return rc ? GENC_ERR : genc_flow_config_validate(c);
}
