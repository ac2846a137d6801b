/* Exponential moving average of the weights (Polyak averaging as used by DDPM, EDM and most
 * diffusion and image models): a second copy of every parameter that trails the trained one,
 *   w_ema ← d_t·w_ema + (1 − d_t)·w     after optimizer step t = 1, 2, ...,
 * starting from the initial weights. Evaluation and sampling use it when a checkpoint has it.
 *
 * With warm-up, d_t = min(D, (1 + t)/(10 + t)): the rule of TensorFlow's
 * ExponentialMovingAverage(num_updates) and of the LitEma class of latent diffusion, with t
 * counting updates from 1 as LitEma does (d_1 = 2/11). Early averages then follow the weights
 * closely: the initial weights keep ∏ d_t = 10!·(t + 1)!/(t + 10)! of the average after t
 * steps (4e-21 at t = 984) instead of D^t (37 % for D = 0.999), and D is reached at
 * t = (10D − 1)/(1 − D) (8990 steps for 0.999). Without warm-up d_t = D, the rule of
 * checkpoints written before the warm-up existed. */
#include "genc/nn.h"

#include <stdlib.h>
#include <string.h>

int genc_ema_init(genc_ema *e, const genc_params *ps, float decay) {
    memset(e, 0, sizeof *e);
    if (!(decay > 0.f && decay < 1.f)) return genc_set_error("EMA decay %g must be in (0, 1)", decay);
    e->w = calloc((size_t)(ps->n ? ps->n : 1), sizeof *e->w);
    if (!e->w) return genc_set_error("out of memory for the EMA weights");
    e->ps = ps;
    e->decay = decay;
    for (int i = 0; i < ps->n; i++) {
        size_t bytes = (size_t)ps->list[i]->n * sizeof(float);
        e->w[i] = genc_aligned_alloc(bytes);
        if (!e->w[i]) {
            genc_ema_free(e);
            return genc_wrap_error("EMA weights");
        }
        memcpy(e->w[i], ps->list[i]->data, bytes);
    }
    return GENC_OK;
}

float genc_ema_decay_at(const genc_ema *e, int64_t t) {
    if (!e->warmup) return e->decay;
    /* in double: exact enough for any t up to 2⁵³; then the one rounding to float */
    double ramp = (1.0 + (double)t) / (10.0 + (double)t);
    return ramp < (double)e->decay ? (float)ramp : e->decay;
}

void genc_ema_update(genc_ema *e) {
    if (!e->w) return;
    e->t++;
    const float d = genc_ema_decay_at(e, e->t), k = 1.0f - d;
    for (int i = 0; i < e->ps->n; i++) {
        float *w = e->w[i];
        const float *p = e->ps->list[i]->data;
        int64_t n = e->ps->list[i]->n;
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (int64_t j = 0; j < n; j++) w[j] = d * w[j] + k * p[j];
    }
}

void genc_ema_free(genc_ema *e) {
    if (e->w && e->ps)
        for (int i = 0; i < e->ps->n; i++) genc_aligned_free(e->w[i]);
    free(e->w);
    memset(e, 0, sizeof *e);
}
