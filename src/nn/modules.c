/* Linear, normalisation and time-embedding modules: parameters plus a forward that calls the
 * ops. Every init registers "<name>.<part>" and returns GENC_ERR when a parameter cannot be
 * allocated (genc_param_new returns NULL) or a name is too long. */
#include "genc/nn.h"

#include <stdio.h>
#include <string.h>

int genc_param_name(char *buf, size_t cap, const char *prefix, const char *name) {
    int n = prefix && *prefix ? snprintf(buf, cap, "%s.%s", prefix, name) : snprintf(buf, cap, "%s", name);
    if (n < 0 || (size_t)n >= cap) return genc_set_error("parameter name '%s.%s' too long", prefix ? prefix : "", name);
    return GENC_OK;
}

/* A registered parameter "<name>.<part>", or NULL with the error set. */
static genc_tensor *param(genc_params *ps, const char *name, const char *part, int ndim, const int *shape) {
    char buf[256];
    if (genc_param_name(buf, sizeof buf, name, part)) return NULL;
    return genc_param_new(ps, buf, ndim, shape);
}

int genc_linear_m_init(genc_linear_m *m, genc_params *ps, const char *name, int in, int out,
                       int bias, genc_rng *r, float std) {
    m->b = NULL;
    if (!(m->W = param(ps, name, "weight", 2, (int[]){out, in}))) return GENC_ERR;
    genc_param_init_normal(m->W, r, std);
    if (bias && !(m->b = param(ps, name, "bias", 1, (int[]){out}))) return GENC_ERR;
    return GENC_OK;
}

genc_tensor *genc_linear_m_fwd(genc_ctx *c, const genc_linear_m *m, genc_tensor *x) {
    return genc_linear(c, x, m->W, m->b);
}

int genc_norm_m_init(genc_norm_m *m, genc_params *ps, const char *name, int dim, int rms, float eps) {
    m->rms = rms;
    m->eps = eps;
    m->b = NULL;
    if (!(m->w = param(ps, name, "weight", 1, (int[]){dim}))) return GENC_ERR;
    genc_param_fill(m->w, 1.0f);
    if (!rms && !(m->b = param(ps, name, "bias", 1, (int[]){dim}))) return GENC_ERR;
    return GENC_OK;
}

/* A norm without affine (w NULL) multiplies by a constant 1 that takes no gradient: exact,
 * and the ops keep one code path. */
genc_tensor *genc_norm_m_fwd(genc_ctx *c, const genc_norm_m *m, genc_tensor *x) {
    genc_tensor *w = m->w;
    if (!w) {
        int D = genc_dim(x, -1);
        w = genc_new1(c, D);
        for (int j = 0; j < D; j++) w->data[j] = 1.f;
    }
    return m->rms ? genc_rmsnorm(c, x, w, m->eps) : genc_layernorm(c, x, w, m->b, m->eps);
}

int genc_time_embed_m_init(genc_time_embed_m *m, genc_params *ps, const char *name, int freq_dim,
                           int hidden, int out, genc_rng *r, float std) {
    char buf[256];
    m->freq_dim = freq_dim;
    if (genc_param_name(buf, sizeof buf, name, "fc1") ||
        genc_linear_m_init(&m->fc1, ps, buf, freq_dim, hidden, 1, r, std) ||
        genc_param_name(buf, sizeof buf, name, "fc2") || genc_linear_m_init(&m->fc2, ps, buf, hidden, out, 1, r, std))
        return GENC_ERR;
    return GENC_OK;
}

/* t[B] → sinusoidal features [B, F] → fc2(SiLU(fc1(·))) [B, out] */
genc_tensor *genc_time_embed_m_fwd(genc_ctx *c, const genc_time_embed_m *m, const float *t, int B) {
    genc_tensor *f = genc_new2(c, B, m->freq_dim);
    genc_timestep_embedding(t, B, m->freq_dim, f->data);
    return genc_linear_m_fwd(c, &m->fc2, genc_silu(c, genc_linear_m_fwd(c, &m->fc1, f)));
}
