/* Linear probe (Radford et al. 2021, §3.2): multinomial logistic regression on frozen image
 * embeddings, trained full-batch, measured on held-out embeddings. Features are normalised
 * embeddings (|x| = 1), so one fixed schedule serves every model: Adam, 300 steps at 0.05,
 * L2 weight 1e-4 (no bias on the weights' scale is needed beyond a per-class bias). */
#include "genc/contrastive.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* logits[n, K] = x[n, E] · Wᵀ + b, into p as softmax probabilities */
static void probs(const float *x, int64_t n, int E, int K, const double *W, const double *b, double *p) {
    for (int64_t i = 0; i < n; i++) {
        double *r = p + i * K, mx = -INFINITY, s = 0;
        for (int k = 0; k < K; k++) {
            double z = b[k];
            for (int e = 0; e < E; e++) z += W[(int64_t)k * E + e] * x[i * E + e];
            r[k] = z;
            if (z > mx) mx = z;
        }
        for (int k = 0; k < K; k++) s += (r[k] = exp(r[k] - mx));
        for (int k = 0; k < K; k++) r[k] /= s;
    }
}

int genc_linear_probe(const float *xtr, const int32_t *ytr, int64_t ntr, const float *xte, const int32_t *yte,
                      int64_t nte, int E, int K, double *accuracy) {
    int64_t nw = (int64_t)K * (E + 1), np = (ntr > nte ? ntr : nte) * K;
    double *w = calloc((size_t)nw, sizeof(double)), *g = malloc(sizeof(double) * (size_t)nw),
           *m = calloc((size_t)nw, sizeof(double)), *v = calloc((size_t)nw, sizeof(double)),
           *p = malloc(sizeof(double) * (size_t)np);
    if (!w || !g || !m || !v || !p) {
        free(w); free(g); free(m); free(v); free(p);
        return genc_set_error("out of memory");
    }
    double *W = w, *b = w + (int64_t)K * E;
    const double lr = 0.05, l2 = 1e-4, b1 = 0.9, b2 = 0.999;
    for (int step = 1; step <= 300; step++) {
        probs(xtr, ntr, E, K, W, b, p);
        memset(g, 0, sizeof(double) * (size_t)nw);
        for (int64_t i = 0; i < ntr; i++)
            for (int k = 0; k < K; k++) {
                double d = (p[i * K + k] - (ytr[i] == k)) / (double)ntr; /* dCE/dlogit */
                for (int e = 0; e < E; e++) g[(int64_t)k * E + e] += d * xtr[i * E + e];
                g[(int64_t)K * E + k] += d;
            }
        for (int64_t j = 0; j < (int64_t)K * E; j++) g[j] += l2 * w[j];
        for (int64_t j = 0; j < nw; j++) {
            m[j] = b1 * m[j] + (1 - b1) * g[j];
            v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
            w[j] -= lr * (m[j] / (1 - pow(b1, step))) / (sqrt(v[j] / (1 - pow(b2, step))) + 1e-8);
        }
    }
    probs(xte, nte, E, K, W, b, p);
    int64_t ok = 0;
    for (int64_t i = 0; i < nte; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (p[i * K + k] > p[i * K + best]) best = k;
        ok += best == yte[i];
    }
    *accuracy = nte > 0 ? (double)ok / (double)nte : NAN;
    free(w); free(g); free(m); free(v); free(p);
    return GENC_OK;
}
