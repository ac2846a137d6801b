/* Building a flow: the layer list of each architecture, its parameters and their
 * initialisation (coupling nets end in a zero layer, so every coupling starts as the
 * identity; 1×1 convolutions start as a random rotation in LU form; a learned prior starts
 * at zero, the standard Gaussian). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows_internal.h"

static int push(genc_flow_layer *out, int *n, int cap, genc_flow_layer_kind k, int *C, int *H, int *W, int parity,
                const genc_flow_config *cfg) {
    if (*n >= cap) return -1;
    genc_flow_layer *l = &out[(*n)++];
    memset(l, 0, sizeof *l);
    l->kind = k;
    l->C = *C, l->H = *H, l->W = *W;
    l->parity = parity;
    l->affine = cfg->coupling == GENC_COUPLING_AFFINE;
    l->mlp = *H == 1 && *W == 1;
    l->n_net = l->mlp ? cfg->hidden + 1 : 3;
    if (k == GENC_FL_SQUEEZE) *C *= 4, *H /= 2, *W /= 2;
    if (k == GENC_FL_SPLIT) *C -= *C / 2;
    if (k == GENC_FL_FLATTEN) *C = *C * *H * *W, *H = *W = 1;
    return 0;
}

int genc_flow_plan(const genc_flow_config *cfg, genc_flow_layer *out, int cap) {
    int n = 0, C = cfg->C, H = cfg->H, W = cfg->W, K = cfg->depth, rc = 0;
#define PUSH(k, p) rc |= push(out, &n, cap, k, &C, &H, &W, p, cfg)
    if (cfg->toy >= 0 || cfg->arch == GENC_FLOW_NICE) {
        /* vectors: NICE's images are squeezed first, so the two halves are the even and the
         * odd rows (an interleaved partition, as in the paper) */
        if (cfg->toy < 0) {
            PUSH(GENC_FL_SQUEEZE, 0);
            PUSH(GENC_FL_FLATTEN, 0);
        }
        for (int k = 0; k < K; k++) {
            if (cfg->arch == GENC_FLOW_GLOW) {
                PUSH(GENC_FL_ACTNORM, 0);
                PUSH(GENC_FL_INVCONV, 0);
                PUSH(GENC_FL_COUPLING_CH, 0);
            } else PUSH(GENC_FL_COUPLING_CH, k % 2);
        }
        if (cfg->arch == GENC_FLOW_NICE) PUSH(GENC_FL_SCALE, 0);
    } else if (cfg->arch == GENC_FLOW_REALNVP) {
        for (int lv = 0; lv < cfg->levels; lv++) {
            for (int k = 0; k < K; k++) PUSH(GENC_FL_COUPLING_CB, k % 2);
            if (lv == cfg->levels - 1) break;
            PUSH(GENC_FL_SQUEEZE, 0);
            for (int k = 0; k < K; k++) PUSH(GENC_FL_COUPLING_CH, k % 2);
            PUSH(GENC_FL_SPLIT, 0);
        }
    } else {
        for (int lv = 0; lv < cfg->levels; lv++) {
            PUSH(GENC_FL_SQUEEZE, 0);
            for (int k = 0; k < K; k++) {
                PUSH(GENC_FL_ACTNORM, 0);
                PUSH(GENC_FL_INVCONV, 0);
                PUSH(GENC_FL_COUPLING_CH, 0);
            }
            if (lv < cfg->levels - 1) PUSH(GENC_FL_SPLIT, 0);
        }
    }
#undef PUSH
    return rc ? -1 : n;
}

/* Channel couplings: the first ⌊C/2⌋ channels are half a, the rest half b; parity 0
 * transforms b given a, parity 1 a given b. Checkerboard: all channels in and out. Affine
 * networks output (raw s, t) stacked on the channel axis. */
void genc_flow_coupling_dims(const genc_flow_layer *l, int *cin, int *ct, int *cout) {
    int ca = l->C / 2, cb = l->C - ca;
    if (l->kind == GENC_FL_COUPLING_CB) *cin = *ct = l->C;
    else *cin = l->parity ? cb : ca, *ct = l->parity ? ca : cb;
    *cout = l->affine ? 2 * *ct : *ct;
}

/* Network layer j of a coupling: [out, in, k] (k = 0 for a linear layer). */
static void net_layer(const genc_flow_layer *l, int width, int j, int *o, int *in, int *k) {
    int cin, ct, cout;
    genc_flow_coupling_dims(l, &cin, &ct, &cout);
    int last = j == l->n_net - 1;
    *in = j == 0 ? cin : width;
    *o = last ? cout : width;
    *k = l->mlp ? 0 : (j == 1 ? 1 : 3);
}

/* The shape that leaves the last of the n planned layers L (the last latent piece). */
static void plan_output(const genc_flow_config *cfg, const genc_flow_layer *L, int n, int *C, int *H, int *W) {
    genc_flow_layer tail[1];
    *C = cfg->C, *H = cfg->H, *W = cfg->W;
    for (int i = 0; i < n; i++) {
        *C = L[i].C, *H = L[i].H, *W = L[i].W;
        push(tail, &(int){0}, 1, L[i].kind, C, H, W, 0, cfg);
    }
}

int64_t genc_flow_param_count(const genc_flow_config *cfg) {
    genc_flow_layer *L = malloc(sizeof *L * GENC_FLOW_MAX_LAYERS);
    if (!L) return INT64_MAX;
    int n = genc_flow_plan(cfg, L, GENC_FLOW_MAX_LAYERS);
    int64_t total = n < 0 ? INT64_MAX : 0;
    int prior_net = cfg->prior_net == GENC_PRIOR_NET_CONV;
    if (n >= 0 && prior_net) {
        int C, H, W;
        plan_output(cfg, L, n, &C, &H, &W);
        total += 2 * (int64_t)C;                                   /* the top's (μ, logs) */
    }
    for (int i = 0; i < n; i++) {
        const genc_flow_layer *l = &L[i];
        int64_t C = l->C;
        switch (l->kind) {
        case GENC_FL_SPLIT: total += prior_net ? 2 * (C / 2) * ((C - C / 2) * 9 + 1) : 0; break;
        case GENC_FL_ACTNORM: total += 2 * C; break;
        case GENC_FL_INVCONV: total += 3 * C * C + 2 * C; break;   /* lower, upper, perm; log_s, sign */
        case GENC_FL_SCALE: total += C * l->H * l->W; break;
        case GENC_FL_COUPLING_CH:
        case GENC_FL_COUPLING_CB: {
            int cin, ct, cout;
            genc_flow_coupling_dims(l, &cin, &ct, &cout);
            total += l->affine ? ct : 0;
            for (int j = 0; j < l->n_net; j++) {
                int o, in, k;
                net_layer(l, cfg->width, j, &o, &in, &k);
                total += (int64_t)o * in * (k ? k * k : 1) + o;
            }
            break;
        }
        default: break;
        }
    }
    free(L);
    return total;
}

/* A random orthogonal C×C matrix (Gram–Schmidt on Gaussian columns, in double) factored as
 * P·L·U with partial pivoting, into the layer's perm, lower, upper, sign and log_s. */
static void invconv_init(genc_flow_layer *l, genc_rng *r) {
    int C = l->C;
    double *A = calloc((size_t)C * C, sizeof *A);
    int *piv = malloc(sizeof *piv * C);
    for (int64_t i = 0; i < (int64_t)C * C; i++) A[i] = genc_rng_normal(r);
    for (int j = 0; j < C; j++) {   /* orthonormalise the columns */
        for (int p = 0; p < j; p++) {
            double d = 0;
            for (int i = 0; i < C; i++) d += A[i * C + j] * A[i * C + p];
            for (int i = 0; i < C; i++) A[i * C + j] -= d * A[i * C + p];
        }
        double nn = 0;
        for (int i = 0; i < C; i++) nn += A[i * C + j] * A[i * C + j];
        nn = sqrt(nn) > 1e-12 ? sqrt(nn) : 1;
        for (int i = 0; i < C; i++) A[i * C + j] /= nn;
    }
    /* Doolittle LU with row pivoting: rows piv[i] of A = (L U)[i] */
    for (int i = 0; i < C; i++) piv[i] = i;
    for (int k = 0; k < C; k++) {
        int best = k;
        for (int i = k + 1; i < C; i++)
            if (fabs(A[i * C + k]) > fabs(A[best * C + k])) best = i;
        if (best != k) {
            for (int j = 0; j < C; j++) {
                double t = A[k * C + j];
                A[k * C + j] = A[best * C + j];
                A[best * C + j] = t;
            }
            int t = piv[k];
            piv[k] = piv[best];
            piv[best] = t;
        }
        for (int i = k + 1; i < C; i++) {
            A[i * C + k] /= A[k * C + k];
            for (int j = k + 1; j < C; j++) A[i * C + j] -= A[i * C + k] * A[k * C + j];
        }
    }
    /* W = P·L·U with P[piv[i], i] = 1 (row i of L·U is row piv[i] of W) */
    for (int i = 0; i < C; i++) {
        l->perm->data[(int64_t)piv[i] * C + i] = 1;
        double d = A[i * C + i];
        l->sign->data[i] = d < 0 ? -1.f : 1.f;
        l->p2->data[i] = (float)log(fabs(d));
        for (int j = 0; j < C; j++) {
            if (j < i) l->p0->data[(int64_t)i * C + j] = (float)A[i * C + j];
            if (j > i) l->p1->data[(int64_t)i * C + j] = (float)A[i * C + j];
        }
    }
    free(A);
    free(piv);
}

static genc_tensor *param(genc_flow *f, int i, const char *what, int ndim, const int *shape) {
    char name[96];
    snprintf(name, sizeof name, "layers.%d.%s", i, what);
    return genc_param_new(&f->params, name, ndim, shape);
}

static int build_layer(genc_flow *f, int i, genc_rng *r) {
    genc_flow_layer *l = &f->layers[i];
    int C = l->C, CC[2] = {C, C}, chw = C * l->H * l->W;
    switch (l->kind) {
    case GENC_FL_ACTNORM:
        if (!(l->p0 = param(f, i, "bias", 1, &C)) || !(l->p1 = param(f, i, "logs", 1, &C))) return GENC_ERR;
        return GENC_OK;
    case GENC_FL_INVCONV:
        if (!(l->p0 = param(f, i, "lower", 2, CC)) || !(l->p1 = param(f, i, "upper", 2, CC)) ||
            !(l->p2 = param(f, i, "log_s", 1, &C)) || !(l->perm = param(f, i, "perm", 2, CC)) ||
            !(l->sign = param(f, i, "sign", 1, &C)))
            return GENC_ERR;
        invconv_init(l, r);
        return GENC_OK;
    case GENC_FL_SCALE: return (l->p0 = param(f, i, "s", 1, &chw)) ? GENC_OK : GENC_ERR;
    case GENC_FL_SPLIT: {   /* the learned prior's conv: zero, so it starts as N(0, I) */
        int ws[4] = {2 * (C / 2), C - C / 2, 3, 3};
        if (f->cfg.prior_net != GENC_PRIOR_NET_CONV) return GENC_OK;
        return (l->p0 = param(f, i, "prior.weight", 4, ws)) && (l->p1 = param(f, i, "prior.bias", 1, ws)) ? GENC_OK
                                                                                                         : GENC_ERR;
    }
    case GENC_FL_COUPLING_CH:
    case GENC_FL_COUPLING_CB: {
        int cin, ct, cout;
        genc_flow_coupling_dims(l, &cin, &ct, &cout);
        if (l->affine) {
            if (!(l->a = param(f, i, "scale", 1, &ct))) return GENC_ERR;
            genc_param_fill(l->a, f->cfg.scale_bound);
        }
        for (int j = 0; j < l->n_net; j++) {
            int o, in, k;
            net_layer(l, f->cfg.width, j, &o, &in, &k);
            int ws[4] = {o, in, k, k};
            char nm[32];
            snprintf(nm, sizeof nm, "net.%d.weight", j);
            if (!(l->net[j].W = param(f, i, nm, k ? 4 : 2, ws))) return GENC_ERR;
            snprintf(nm, sizeof nm, "net.%d.bias", j);
            if (!(l->net[j].b = param(f, i, nm, 1, &o))) return GENC_ERR;
            /* He init for the ReLU layers; the last one stays zero */
            if (j < l->n_net - 1) genc_param_init_normal(l->net[j].W, r, sqrtf(2.0f / (float)(in * (k ? k * k : 1))));
        }
        return GENC_OK;
    }
    default: return GENC_OK;
    }
}

int genc_flow_init(genc_flow *f, const genc_flow_config *cfg, uint64_t seed) {
    memset(f, 0, sizeof *f);
    if (genc_flow_config_validate(cfg)) return GENC_ERR;
    f->cfg = *cfg;
    genc_params_init(&f->params);
    f->layers = calloc(GENC_FLOW_MAX_LAYERS, sizeof *f->layers);
    if (!f->layers) return genc_set_error("out of memory: flow layers");
    f->n_layers = genc_flow_plan(cfg, f->layers, GENC_FLOW_MAX_LAYERS);
    if (f->n_layers < 0) {
        genc_flow_free(f);
        return genc_set_error("flow config: more than %d layers", GENC_FLOW_MAX_LAYERS);
    }
    f->D = (int64_t)cfg->C * cfg->H * cfg->W;
    genc_rng r = genc_rng_make(seed, 11);
    int64_t off = 0;
    for (int i = 0; i < f->n_layers; i++) {
        genc_flow_layer *l = &f->layers[i];
        if (build_layer(f, i, &r)) {
            genc_flow_free(f);
            return genc_wrap_error("flow");
        }
        if (l->kind == GENC_FL_SPLIT) {
            l->zoff = off;
            off += (int64_t)(l->C / 2) * l->H * l->W;
        }
        f->actnorm_pending |= l->kind == GENC_FL_ACTNORM || l->kind == GENC_FL_SCALE;
    }
    plan_output(cfg, f->layers, f->n_layers, &f->Cz, &f->Hz, &f->Wz);
    f->zoff_final = off;
    int two = 2 * f->Cz;
    if (cfg->prior_net == GENC_PRIOR_NET_CONV && !(f->top = genc_param_new(&f->params, "prior.top", 1, &two))) {
        genc_flow_free(f);
        return genc_wrap_error("flow");
    }
    return GENC_OK;
}

void genc_flow_free(genc_flow *f) {
    genc_params_free(&f->params);
    free(f->layers);
    f->layers = NULL;
    f->n_layers = 0;
}
