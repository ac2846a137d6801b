/* Times conv2d forward + backward (dx, dw, db) for the convolution shapes of genc's image
 * models, by each of genc's two implementations (src/ops/conv_direct.c: the direct kernel;
 * src/ops/conv.c: per-image im2col + sgemm), alternated in one process so that both see
 * the same machine. Prints the median milliseconds of each. Not a test.
 * usage: bench_conv [iters] */
#include "../src/ops/conv_internal.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shape { const char *what; int B, C, H, O, k, pad; } shape;

/* wall time, or with CPU=1 in the environment the process's CPU time: on a machine shared with
 * other work, CPU time at one thread is not inflated by the time the process waited */
static double now(void) {
    if (!getenv("CPU")) return omp_get_wtime();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double run(genc_ctx *c, const shape *s, int taps, float *xd, float *wd, float *bd, float *gd) {
    genc_ctx_reset(c);
    genc_tensor *x = genc_wrap(c, xd, 4, (int[]){s->B, s->C, s->H, s->H});
    genc_tensor *w = genc_wrap(c, wd, 4, (int[]){s->O, s->C, s->k, s->k}), *b = genc_wrap(c, bd, 1, (int[]){s->O});
    x->requires_grad = w->requires_grad = b->requires_grad = 1;
    double t0 = now();
    genc_tensor *y = taps ? genc_conv_direct(c, x, w, b, s->pad) : genc_conv_im2col(c, x, w, b, 1, s->pad);
    if (getenv("FWD_ONLY")) return now() - t0;
    y->grad = gd;
    c->nodes[c->n_nodes - 1].backward(c, &c->nodes[c->n_nodes - 1]);
    return now() - t0;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    genc_blas_ensure_fast_kernel();
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    const shape shapes[] = {
        {"classifier cnn conv1", 128, 1, 28, 32, 3, 1},  {"classifier cnn conv2", 128, 32, 14, 64, 3, 1},
        {"unet 28x28 h32", 32, 32, 28, 32, 3, 1},        {"unet 14x14 h64", 32, 64, 14, 64, 3, 1},
        {"unet 7x7 h64", 32, 64, 7, 64, 3, 1},           {"glow 14x14 in", 64, 2, 14, 64, 3, 1},
        {"glow 14x14 1x1", 64, 64, 14, 64, 1, 0},        {"glow 7x7 in", 64, 4, 7, 64, 3, 1},
        {"glow 7x7 out", 64, 64, 7, 16, 3, 1},          {"glow inv 1x1 14x14 c4", 64, 4, 14, 4, 1, 0},
        {"glow inv 1x1 7x7 c8", 64, 8, 7, 8, 1, 0},
    };
    genc_ctx *c = genc_ctx_new(0);
    printf("%-24s %10s %10s %8s   (median ms of fwd+bwd, %d threads, sgemm kernel %s)\n", "shape", "direct", "im2col",
           "ratio", omp_get_max_threads(), genc_blas_kernel());
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *s = &shapes[i];
        if (getenv("SHAPE") && !strstr(s->what, getenv("SHAPE"))) continue;
        int64_t nx = (int64_t)s->B * s->C * s->H * s->H, nw = (int64_t)s->O * s->C * s->k * s->k, ny = (int64_t)s->B * s->O * s->H * s->H;
        float *xd = malloc(nx * 4), *wd = malloc(nw * 4), *bd = malloc(s->O * 4), *gd = malloc(ny * 4);
        genc_rng r = genc_rng_make(1, 0);
        genc_rng_fill_normal(&r, xd, nx, 0, 1);
        genc_rng_fill_normal(&r, wd, nw, 0, 0.1f);
        genc_rng_fill_normal(&r, bd, s->O, 0, 1);
        genc_rng_fill_normal(&r, gd, ny, 0, 1);
        double *t[2];
        for (int m = 0; m < 2; m++) t[m] = malloc(sizeof(double) * iters);
        for (int it = -2; it < iters; it++)
            for (int m = 0; m < 2; m++) {
                double dt = run(c, s, m == 0, xd, wd, bd, gd);
                if (it >= 0) t[m][it] = dt;
            }
        qsort(t[0], iters, sizeof(double), cmp);
        qsort(t[1], iters, sizeof(double), cmp);
        int at = getenv("BEST") ? 0 : iters / 2;
        double a = t[0][at] * 1e3, b = t[1][at] * 1e3;
        printf("%-24s %10.3f %10.3f %7.2fx\n", s->what, a, b, b / a);
        free(xd); free(wd); free(bd); free(gd); free(t[0]); free(t[1]);
    }
    genc_ctx_free(c);
    return 0;
}
