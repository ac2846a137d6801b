/* Inverted dropout (Srivastava et al. 2014): y = x·m/(1 − p), m_i ~ Bernoulli(1 − p), so
 * evaluation needs no rescaling. The mask is drawn from c->rng with genc_rng_fill_uniform's
 * numbering (element i uses Philox block counter + i/4), so it does not depend on the
 * thread count, and is kept as one byte per element for backward. */
#include "genc/ops.h"

#include <string.h>

/* Elements per chunk when drawing the mask: a multiple of 4 (one Philox block gives four
 * uniforms), small enough for a stack buffer. */
#define CHUNK 4096

/* dx += dy · m / (1 − p) */
static void dropout_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    const uint8_t *mask = nd->saved;
    const float *G = nd->out->grad;
    float *GX = genc_grad(c, x);
    float scale = nd->farg[0];
#pragma omp parallel for simd schedule(static) if (x->n > 32768)
    for (int64_t i = 0; i < x->n; i++) GX[i] += G[i] * (mask[i] ? scale : 0.0f);
}

/* Under data parallelism (genc/dist.h) a rank holds examples [share_lo, share_lo + share_n)
 * of the global batch, x batch-major: its element i is element g0 + i of the whole batch's
 * tensor, and draws that element's uniform, so the masks equal one process's. */
static void global_place(const genc_ctx *c, int64_t n, int64_t *g0, int64_t *n_all) {
    *g0 = 0;
    *n_all = n;
    if (c->share_n > 0 && c->share_n < c->share_total && n % c->share_n == 0) {
        int64_t per = n / c->share_n;
        *g0 = per * c->share_lo;
        *n_all = per * c->share_total;
    }
}

genc_tensor *genc_dropout(genc_ctx *c, genc_tensor *x, float p) {
    if (!c->training || p <= 0) return x; /* identity: no copy, no tape node */
    genc_tensor *out = genc_new_like(c, x);
    uint8_t *mask = genc_scratch(c, (size_t)x->n);
    float scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f; /* p >= 1 drops everything */
    int64_t n = x->n, nchunks = (n + CHUNK - 1) / CHUNK, g0, n_all;
    global_place(c, n, &g0, &n_all);
    genc_rng base = c->rng;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t k = 0; k < nchunks; k++) {
        float buf[CHUNK + 4];
        int64_t i0 = k * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
        int64_t g = g0 + i0, skip = g % 4; /* a block of 4 uniforms starts at a multiple of 4 */
        genc_rng r = base;
        r.counter += (uint64_t)(g / 4); /* the blocks elements g.. would use in one big fill */
        genc_rng_fill_uniform(&r, buf, len + skip);
        const float *u = buf + skip;
        const float *xs = x->data + i0;
        float *ys = out->data + i0;
        uint8_t *ms = mask + i0;
#pragma omp simd
        for (int64_t j = 0; j < len; j++) {
            ms[j] = u[j] >= p;
            ys[j] = xs[j] * (u[j] >= p ? scale : 0.0f);
        }
    }
    c->rng.counter += (uint64_t)((n_all + 3) / 4);
    genc_node *nd = genc_record(c, dropout_backward, out, 1, &x);
    if (nd) {
        nd->saved = mask;
        nd->farg[0] = scale;
    }
    return out;
}
