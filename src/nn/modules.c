/* Linear and normalisation modules: parameters plus a forward that calls the ops. */
#include "genc/nn.h"

#include <stdio.h>

void genc_linear_m_init(genc_linear_m *m, genc_params *ps, const char *name, int in, int out,
                        int bias, genc_rng *r, float std) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s.weight", name);
    m->W = genc_param_new(ps, buf, 2, (int[]){out, in});
    genc_param_init_normal(m->W, r, std);
    m->b = NULL;
    if (bias) {
        snprintf(buf, sizeof buf, "%s.bias", name);
        m->b = genc_param_new(ps, buf, 1, (int[]){out});
    }
}

genc_tensor *genc_linear_m_fwd(genc_ctx *c, const genc_linear_m *m, genc_tensor *x) {
    return genc_linear(c, x, m->W, m->b);
}

void genc_norm_m_init(genc_norm_m *m, genc_params *ps, const char *name, int dim, int rms, float eps) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s.weight", name);
    m->w = genc_param_new(ps, buf, 1, (int[]){dim});
    genc_param_fill(m->w, 1.0f);
    m->b = NULL;
    if (!rms) {
        snprintf(buf, sizeof buf, "%s.bias", name);
        m->b = genc_param_new(ps, buf, 1, (int[]){dim});
    }
    m->rms = rms;
    m->eps = eps;
}

genc_tensor *genc_norm_m_fwd(genc_ctx *c, const genc_norm_m *m, genc_tensor *x) {
    return m->rms ? genc_rmsnorm(c, x, m->w, m->eps) : genc_layernorm(c, x, m->w, m->b, m->eps);
}
