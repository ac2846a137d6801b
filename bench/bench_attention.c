/* Times fused causal attention forward + backward at B=8, H=4, T=256, Dh=64 (the shape of a
 * small LM layer) and prints milliseconds per step. Not a test; compare with
 * bench/bench_attention.py, which times the plain PyTorch formulation on the same machine.
 * usage: bench_attention [B T H Dh iters] */
#include "genc/ops.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int B = 8, T = 256, H = 4, Dh = 64, iters = 50;
    if (argc == 6) {
        B = atoi(argv[1]); T = atoi(argv[2]); H = atoi(argv[3]); Dh = atoi(argv[4]); iters = atoi(argv[5]);
    }
    genc_ctx *c = genc_ctx_new(0);
    int shape[4] = {B, T, H, Dh};
    int64_t n = (int64_t)B * T * H * Dh;
    float *q = malloc(n * sizeof(float)), *k = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
    float *g = malloc(n * sizeof(float));
    genc_rng r = genc_rng_make(1, 0);
    genc_rng_fill_normal(&r, q, n, 0, 1);
    genc_rng_fill_normal(&r, k, n, 0, 1);
    genc_rng_fill_normal(&r, v, n, 0, 1);
    genc_rng_fill_normal(&r, g, n, 0, 1);
    genc_attn_opts o = {.causal = 1};
    double best_f = 1e30, best_fb = 1e30, sum_fb = 0;
    for (int it = 0; it < iters + 3; it++) {
        genc_ctx_reset(c);
        genc_tensor *tq = genc_wrap(c, q, 4, shape), *tk = genc_wrap(c, k, 4, shape), *tv = genc_wrap(c, v, 4, shape);
        tq->requires_grad = tk->requires_grad = tv->requires_grad = 1;
        double t0 = omp_get_wtime();
        genc_tensor *out = genc_attention(c, tq, tk, tv, &o);
        double t1 = omp_get_wtime();
        /* seed the output gradient directly: time attention alone, not a loss */
        out->grad = genc_scratch(c, n * sizeof(float));
        memcpy(out->grad, g, n * sizeof(float));
        c->nodes[c->n_nodes - 1].backward(c, &c->nodes[c->n_nodes - 1]);
        double t2 = omp_get_wtime();
        if (it < 3) continue; /* warm-up: arena growth, page faults */
        if (t1 - t0 < best_f) best_f = t1 - t0;
        if (t2 - t0 < best_fb) best_fb = t2 - t0;
        sum_fb += t2 - t0;
    }
    printf("genc attention B=%d T=%d H=%d Dh=%d causal, %d threads: forward %.3f ms, "
           "forward+backward %.3f ms (best), %.3f ms (mean)\n",
           B, T, H, Dh, omp_get_max_threads(), best_f * 1e3, best_fb * 1e3, sum_fb / iters * 1e3);
    free(q); free(k); free(v); free(g);
    genc_ctx_free(c);
    return 0;
}
