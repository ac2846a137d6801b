/* Broadcast iteration: the shape rule, the elementwise map and the reduction over broadcast
 * dims (see broadcast.h). */
#include "broadcast.h"

/* Below this many elements the OpenMP fork/join costs more than the loop. */
#define PAR_MIN 32768

void genc_bcast_shape(const char *op, const genc_tensor *a, const genc_tensor *b, int *ndim, int *shape) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int k = 1; k <= nd; k++) {
        int da = k <= a->ndim ? a->shape[a->ndim - k] : 1;
        int db = k <= b->ndim ? b->shape[b->ndim - k] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[64], sb[64];
            genc_fatal("%s: shapes %s and %s do not broadcast (dim %d from the end: %d vs %d)", op,
                       genc_shape_str(a, sa, sizeof sa), genc_shape_str(b, sb, sizeof sb), k, da, db);
        }
        shape[nd - k] = da == 1 ? db : da;
    }
    *ndim = nd;
}

/* The iteration space of an op over the shape os with two operands s0 and s1 (already known to
 * broadcast to os): four dims, outermost first, padded in front with size 1. st[k][d] is
 * operand k's element stride in dim d, 0 where it is broadcast. Size-1 dims of os are dropped
 * and neighbours that both operands broadcast the same way are merged: inside such a run an
 * operand is either contiguous or constant. */
typedef struct {
    int64_t n[4], st[2][4];
} geom;

static void geometry(geom *g, const genc_tensor *os, const genc_tensor *s0, const genc_tensor *s1) {
    const genc_tensor *opd[2] = {s0, s1};
    int64_t n[4], st[2][4], run[2] = {1, 1}; /* run: operand elements inside the dims seen */
    int m = 0;                                /* merged dims so far, innermost first */
    for (int k = 1; k <= os->ndim; k++) {
        int64_t s[2];
        for (int o = 0; o < 2; o++) {
            int64_t d = k <= opd[o]->ndim ? opd[o]->shape[opd[o]->ndim - k] : 1;
            s[o] = d == 1 ? 0 : run[o];
            run[o] *= d;
        }
        int64_t d = os->shape[os->ndim - k];
        if (d == 1) continue;
        if (m > 0 && (s[0] == 0) == (st[0][m - 1] == 0) && (s[1] == 0) == (st[1][m - 1] == 0)) {
            n[m - 1] *= d; /* contiguous with the inner run in every operand that has it */
        } else {
            n[m] = d;
            st[0][m] = s[0];
            st[1][m] = s[1];
            m++;
        }
    }
    for (int d = 0; d < 4; d++) {
        int i = 3 - d; /* innermost-first index */
        g->n[d] = i < m ? n[i] : 1;
        g->st[0][d] = i < m ? st[0][i] : 0;
        g->st[1][d] = i < m ? st[1][i] : 0;
    }
}

/* One contiguous run of the output: x and y step by ix, iy ∈ {0, 1}. One loop per op and
 * stride pattern, so each is a plain vectorised loop with the operation known. */
#define RUN(STMT)                                                                        \
    do {                                                                                 \
        if (ix && iy) {                                                                  \
            _Pragma("omp simd") for (int64_t i = 0; i < len; i++) {                      \
                float u = x[i], v = y[i];                                                \
                STMT;                                                                    \
            }                                                                            \
        } else if (ix) {                                                                 \
            const float v = y[0];                                                        \
            _Pragma("omp simd") for (int64_t i = 0; i < len; i++) {                      \
                float u = x[i];                                                          \
                STMT;                                                                    \
            }                                                                            \
        } else {                                                                         \
            const float u = x[0];                                                        \
            _Pragma("omp simd") for (int64_t i = 0; i < len; i++) {                      \
                float v = y[i];                                                          \
                STMT;                                                                    \
            }                                                                            \
        }                                                                                \
    } while (0)

static void run(int op, const float *x, int ix, const float *y, int iy, float *o, int64_t len, float s) {
    switch (op) {
    case GENC_BC_ADD: RUN(o[i] = u + v); break;
    case GENC_BC_SUB: RUN(o[i] = u - v); break;
    case GENC_BC_MUL: RUN(o[i] = u * v); break;
    case GENC_BC_DIV: RUN(o[i] = u / v); break;
    case GENC_BC_MUL_ACC: RUN(o[i] += s * (u * v)); break;
    case GENC_BC_DIV_ACC: RUN(o[i] += s * (u / v)); break;
    default: genc_fatal("broadcast: unknown op %d", op);
    }
}

void genc_bcast_map(int op, const float *x, const genc_tensor *xs, const float *y, const genc_tensor *ys,
                    float *o, const genc_tensor *os, float s) {
    enum { CHUNK = 8192 }; /* long runs are split so a flat op still spreads over the threads */
    geom g;
    geometry(&g, os, xs, ys);
    const int64_t *n = g.n, *sx = g.st[0], *sy = g.st[1];
    int64_t inner = n[3], nch = (inner + CHUNK - 1) / CHUNK, rows = n[0] * n[1] * n[2];
    int ix = sx[3] != 0, iy = sy[3] != 0;
    if (!ix && !iy) iy = 1; /* only when everything is one element: then y[i] is y[0] */
#pragma omp parallel for schedule(static) if (rows * inner > PAR_MIN)
    for (int64_t t = 0; t < rows * nch; t++) {
        int64_t r = t / nch, j0 = t % nch * CHUNK, len = inner - j0 < CHUNK ? inner - j0 : CHUNK;
        int64_t i2 = r % n[2], i1 = r / n[2] % n[1], i0 = r / (n[2] * n[1]);
        const float *xr = x + i0 * sx[0] + i1 * sx[1] + i2 * sx[2] + j0 * ix;
        const float *yr = y + i0 * sy[0] + i1 * sy[1] + i2 * sy[2] + j0 * iy;
        run(op, xr, ix, yr, iy, o + r * inner + j0, len, s);
    }
}

/* After merging, the dims kept by dst and the dims it sums over alternate, so padded to four
 * dims the space is either [R0, K1, R2, K3] (innermost dim kept) or [K0, R1, K2, R3]. */
void genc_bcast_sum(const float *src, const float *mul, const genc_tensor *ss, float *dst,
                    const genc_tensor *ds, float s) {
    geom g;
    geometry(&g, ss, ss, ds);
    const int64_t *n = g.n, *sx = g.st[0], *sd = g.st[1];
    int64_t total = n[0] * n[1] * n[2] * n[3];
    if (sd[3] != 0 && n[0] * n[2] == 1) { /* nothing to sum: dst has src's shape */
        if (mul) {
#pragma omp parallel for simd schedule(static) if (total > PAR_MIN)
            for (int64_t i = 0; i < total; i++) dst[i] += s * (src[i] * mul[i]);
        } else {
#pragma omp parallel for simd schedule(static) if (total > PAR_MIN)
            for (int64_t i = 0; i < total; i++) dst[i] += s * src[i];
        }
    } else if (sd[3] != 0) {
        /* column sums: a task owns 64 columns of one K1 slice and walks all its rows in order */
        enum { BLK = 64 };
        int64_t nblk = (n[3] + BLK - 1) / BLK, tasks = n[1] * nblk;
#pragma omp parallel for schedule(static) if (total > 2 * PAR_MIN && tasks > 1)
        for (int64_t t = 0; t < tasks; t++) {
            int64_t k1 = t / nblk, j0 = t % nblk * BLK, w = n[3] - j0 < BLK ? n[3] - j0 : BLK;
            double acc[BLK] = {0};
            for (int64_t r0 = 0; r0 < n[0]; r0++)
                for (int64_t r2 = 0; r2 < n[2]; r2++) {
                    int64_t off = r0 * sx[0] + k1 * sx[1] + r2 * sx[2] + j0;
                    const float *a = src + off, *m = mul ? mul + off : NULL;
                    if (m) {
#pragma omp simd
                        for (int64_t j = 0; j < w; j++) acc[j] += a[j] * m[j];
                    } else {
#pragma omp simd
                        for (int64_t j = 0; j < w; j++) acc[j] += a[j];
                    }
                }
            float *d = dst + k1 * sd[1] + j0;
            for (int64_t j = 0; j < w; j++) d[j] += (float)(s * acc[j]);
        }
    } else {
        /* row sums: a task owns one output element and sums its R1 runs of R3 in order */
        int64_t tasks = n[0] * n[2];
#pragma omp parallel for schedule(static) if (total > 2 * PAR_MIN && tasks > 1)
        for (int64_t t = 0; t < tasks; t++) {
            int64_t k0 = t / n[2], k2 = t % n[2];
            double acc = 0;
            for (int64_t r1 = 0; r1 < n[1]; r1++) {
                int64_t off = k0 * sx[0] + r1 * sx[1] + k2 * sx[2];
                const float *a = src + off, *m = mul ? mul + off : NULL;
                if (m) {
#pragma omp simd reduction(+ : acc)
                    for (int64_t j = 0; j < n[3]; j++) acc += a[j] * m[j];
                } else {
#pragma omp simd reduction(+ : acc)
                    for (int64_t j = 0; j < n[3]; j++) acc += a[j];
                }
            }
            dst[k0 * sd[0] + k2 * sd[2]] += (float)(s * acc);
        }
    }
}
