/* AdamW (Loshchilov & Hutter) with a decayed and an undecayed parameter group, gradient
 * clipping, the shared tail of a training step, learning-rate schedules. */
#include "genc/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int genc_adamw_init_groups(genc_adamw *o, genc_params *ps, float beta1, float beta2, float eps,
                           float weight_decay, const uint8_t *decay) {
    memset(o, 0, sizeof *o);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    o->ps = ps;
    o->m = calloc((size_t)ps->n, sizeof(float *));
    o->v = calloc((size_t)ps->n, sizeof(float *));
    o->decay = calloc((size_t)ps->n, 1);
    if (!o->m || !o->v || !o->decay) return genc_set_error("out of memory for the optimizer");
    for (int i = 0; i < ps->n; i++) {
        o->m[i] = genc_aligned_alloc((size_t)ps->list[i]->n * sizeof(float));
        o->v[i] = genc_aligned_alloc((size_t)ps->list[i]->n * sizeof(float));
        if (!o->m[i] || !o->v[i]) return genc_wrap_error("optimizer state");
        o->decay[i] = decay && decay[i];
    }
    return GENC_OK;
}

int genc_adamw_init(genc_adamw *o, genc_params *ps, float beta1, float beta2, float eps,
                    float weight_decay) {
    uint8_t *decay = malloc((size_t)(ps->n ? ps->n : 1));
    if (!decay) {
        memset(o, 0, sizeof *o);
        return genc_set_error("out of memory for the optimizer");
    }
    for (int i = 0; i < ps->n; i++) decay[i] = ps->list[i]->ndim >= 2;
    int rc = genc_adamw_init_groups(o, ps, beta1, beta2, eps, weight_decay, decay);
    free(decay);
    return rc;
}

void genc_adamw_free(genc_adamw *o) {
    if (o->ps)
        for (int i = 0; i < o->ps->n; i++) {
            if (o->m) genc_aligned_free(o->m[i]);
            if (o->v) genc_aligned_free(o->v[i]);
        }
    free(o->m);
    free(o->v);
    free(o->decay);
    memset(o, 0, sizeof *o);
}

/* PyTorch's AdamW step:
 *   p ← p·(1 − lr·λ);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
 *   p ← p − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε) */
void genc_adamw_step(genc_adamw *o, float lr) {
    o->t++;
    double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    for (int i = 0; i < o->ps->n; i++) {
        genc_tensor *p = o->ps->list[i];
        float *w = p->data, *g = p->grad, *m = o->m[i], *v = o->v[i];
        float decay = o->decay[i] ? 1.0f - lr * o->weight_decay : 1.0f;
        int64_t n = p->n;
#pragma omp parallel for simd schedule(static) if (n > 65536)
        for (int64_t j = 0; j < n; j++) {
            float gj = g[j];
            m[j] = b1 * m[j] + (1 - b1) * gj;
            v[j] = b2 * v[j] + (1 - b2) * gj * gj;
            w[j] = w[j] * decay - step * m[j] / (sqrtf(v[j]) * rbc2 + eps);
        }
    }
}

float genc_clip_grad_norm(genc_params *ps, float max_norm) {
    double ss = 0;
    for (int i = 0; i < ps->n; i++) {
        const float *g = ps->list[i]->grad;
        int64_t n = ps->list[i]->n;
        double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > 65536)
        for (int64_t j = 0; j < n; j++) s += (double)g[j] * g[j];
        ss += s;
    }
    float norm = (float)sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        float k = max_norm / (norm + 1e-6f); /* PyTorch's clip_grad_norm_ adds 1e-6 */
        for (int i = 0; i < ps->n; i++) {
            float *g = ps->list[i]->grad;
            for (int64_t j = 0; j < ps->list[i]->n; j++) g[j] *= k;
        }
    }
    return norm;
}

/* "NaN", "+inf" or "-inf" (printf's "%g" may say "-nan") */
static const char *nonfinite_name(float x) { return isnan(x) ? "NaN" : x > 0 ? "+inf" : "-inf"; }

int genc_optim_step(genc_ctx *c, genc_tensor *loss, genc_adamw *o, float lr, float clip, float *grad_norm) {
    return genc_optim_step_reduced(c, loss, loss->data[0], NULL, NULL, o, lr, clip, grad_norm);
}

int genc_optim_step_reduced(genc_ctx *c, genc_tensor *loss, float loss_value, int (*reduce)(genc_params *ps, void *user),
                            void *user, genc_adamw *o, float lr, float clip, float *grad_norm) {
    float lv = loss_value;
    if (!isfinite(lv)) return genc_set_error("the loss is %s", nonfinite_name(lv));
    genc_backward(c, loss);
    if (reduce && reduce(o->ps, user)) {
        genc_params_zero_grad(o->ps);
        return GENC_ERR;
    }
    float gn = genc_clip_grad_norm(o->ps, clip);
    if (grad_norm) *grad_norm = gn;
    if (!isfinite(gn)) {
        genc_params_zero_grad(o->ps);
        return genc_set_error("the gradient norm is %s", nonfinite_name(gn));
    }
    genc_adamw_step(o, lr);
    genc_params_zero_grad(o->ps);
    return GENC_OK;
}

float genc_lr_at(const genc_lr_schedule *s, int64_t step) {
    if (s->warmup > 0 && step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->kind == GENC_LR_CONSTANT || s->total <= s->warmup) return s->lr;
    double p = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    if (p > 1) p = 1;
    return (float)(s->min_lr + 0.5 * (s->lr - s->min_lr) * (1 + cos(M_PI * p)));
}
