/* Matrix products: the nn.Linear layer and batched matmul, both on CBLAS sgemm (OpenBLAS).
 * Backward passes call sgemm with beta = 1 so gradients accumulate in place: no temporary
 * buffer and no extra pass over memory. */
#include "genc/ops.h"

#include "colsum.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

/* C[M, N] = op(A)·op(B) + beta·C, all row-major; op(A) is M×K (A stored K×M when ta),
 * op(B) is K×N (B stored N×K when tb). Leading dims follow from the stored shapes. */
static void gemm(int ta, int tb, int M, int N, int K, const float *A, const float *B, float beta,
                 float *C) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
                N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

/* C = op(A)·op(B) for a C not yet written (beta = 0), as the column-major product
 * Cᵀ = op(B)ᵀ·op(A)ᵀ: what OpenBLAS computes internally for a row-major call anyway. A row-major
 * beta = 0 call without transposes may take OpenBLAS's "direct" SkylakeX kernel instead, which
 * sums in another order (and is chosen by a size rule that counts the threads); this keeps the
 * result bit for bit that of beta = 1 on a zeroed C. */
static void gemm_store(int ta, int tb, int M, int N, int K, const float *A, const float *B, float *C) {
    cblas_sgemm(CblasColMajor, tb ? CblasTrans : CblasNoTrans, ta ? CblasTrans : CblasNoTrans, N, M, K,
                1.0f, B, tb ? K : N, A, ta ? M : K, 0.0f, C, N);
}

/* ---------------------------------------------------------------- linear
 * x may have more rows than CBLAS's int can count (rows = all leading dims): the products
 * then run over blocks of GEMM_ROWS rows. One block in every ordinary case. */
#define GEMM_ROWS ((int64_t)1 << 30)

static int block_rows(int64_t M, int64_t r0) { return (int)(M - r0 < GEMM_ROWS ? M - r0 : GEMM_ROWS); }

/* y = x·Wᵀ + b  ⇒  dx += dy·W,  dW += dyᵀ·x,  db += Σ_rows dy */
static void linear_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *W = nd->in[1], *b = nd->in[2];
    const float *dy = nd->out->grad;
    int64_t M = genc_rows(x);
    int K = genc_dim(x, -1), N = W->shape[0];
    int fresh = 0;
    float *gx = x->requires_grad ? genc_grad_fresh(c, x, &fresh) : NULL;
    float *gw = W->requires_grad ? genc_grad(c, W) : NULL;
    for (int64_t r0 = 0; r0 < M; r0 += GEMM_ROWS) {
        int m = block_rows(M, r0);
        if (gx && fresh) gemm_store(0, 0, m, K, N, dy + r0 * N, W->data, gx + r0 * K); /* genc_grad_fresh */
        else if (gx) gemm(0, 0, m, K, N, dy + r0 * N, W->data, 1.0f, gx + r0 * K);
        if (gw) gemm(1, 0, N, K, m, dy + r0 * N, x->data + r0 * K, 1.0f, gw);
    }
    if (b && b->requires_grad) genc_colsum_add(dy, NULL, M, N, genc_grad(c, b), 1.0f);
}

/* x[..., K], W[N, K], b[N] or NULL → y[..., N] = x·Wᵀ + b  (PyTorch nn.Linear) */
genc_tensor *genc_linear(genc_ctx *c, genc_tensor *x, genc_tensor *W, genc_tensor *b) {
    int K = genc_dim(x, -1);
    GENC_ASSERT(W->ndim == 2 && W->shape[1] == K, "linear: weight [%d, %d] does not take %d inputs",
                W->shape[0], W->ndim > 1 ? W->shape[1] : 0, K);
    int N = W->shape[0];
    GENC_ASSERT(!b || b->n == N, "linear: bias has %lld elements, want %d", (long long)(b ? b->n : 0), N);
    int shape[GENC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = N;
    genc_tensor *y = genc_new(c, x->ndim, shape);
    int64_t M = genc_rows(x);
    /* Start y at the bias and let sgemm add onto it (beta = 1): one pass fewer than adding
     * the bias afterwards. */
    if (b) { /* omp simd: gcc would otherwise make the row copy a memcpy call, which costs as
              * much as the copy itself for rows of tens of floats */
#pragma omp parallel for schedule(static) if (M * N > 65536)
        for (int64_t r = 0; r < M; r++) {
            float *yr = y->data + r * N;
#pragma omp simd
            for (int j = 0; j < N; j++) yr[j] = b->data[j];
        }
    }
    for (int64_t r0 = 0; r0 < M; r0 += GEMM_ROWS)
        gemm(0, 1, block_rows(M, r0), N, K, x->data + r0 * K, W->data, b ? 1.0f : 0.0f,
             y->data + r0 * N);
    genc_record(c, linear_backward, y, 3, (genc_tensor *[]){x, W, b});
    return y;
}

/* ---------------------------------------------------------------- batched matmul */

typedef struct mm_dims {
    int64_t batch;
    int M, N, K;
    int ta, tb;
} mm_dims;

/* Batches run in parallel (each sgemm single-threaded: OpenBLAS does not nest inside an
 * OpenMP region) when there are at least as many batches as threads; otherwise one
 * multithreaded sgemm after another. Either way every output element is computed by the
 * same kernel, so results do not depend on the choice. */
static int batch_parallel(int64_t batch) { return batch > 1 && batch >= omp_get_max_threads(); }

/* C = op(A)·op(B):  dop(A) = dC·op(B)ᵀ,  dop(B) = op(A)ᵀ·dC.
 * When A is stored transposed its gradient is the transpose, dA = op(B)·dCᵀ (and likewise
 * dB = dCᵀ·op(A) when B is stored transposed): each case is one sgemm with beta = 1. */
static void matmul_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *a = nd->in[0], *b = nd->in[1];
    const mm_dims *d = nd->saved;
    int M = d->M, N = d->N, K = d->K, ta = d->ta, tb = d->tb;
    const float *G = nd->out->grad;
    float *ga = a->requires_grad ? genc_grad(c, a) : NULL;
    float *gb = b->requires_grad ? genc_grad(c, b) : NULL;
    int64_t sa = (int64_t)M * K, sb = (int64_t)K * N, sc = (int64_t)M * N;
    /* Two separate loops: alternating two different sgemm shapes inside one OpenMP loop
     * runs an order of magnitude slower with OpenBLAS 0.3.21 (measured), one shape per loop
     * does not. */
    if (ga) {
#pragma omp parallel for schedule(static) if (batch_parallel(d->batch))
        for (int64_t i = 0; i < d->batch; i++) {
            const float *B = b->data + i * sb, *Gi = G + i * sc;
            if (!ta) gemm(0, !tb, M, K, N, Gi, B, 1.0f, ga + i * sa);   /* dA[M,K] = G·op(B)ᵀ */
            else gemm(tb, 1, K, M, N, B, Gi, 1.0f, ga + i * sa);        /* dA[K,M] = op(B)·Gᵀ */
        }
    }
    if (gb) {
#pragma omp parallel for schedule(static) if (batch_parallel(d->batch))
        for (int64_t i = 0; i < d->batch; i++) {
            const float *A = a->data + i * sa, *Gi = G + i * sc;
            if (!tb) gemm(!ta, 0, K, N, M, A, Gi, 1.0f, gb + i * sb);   /* dB[K,N] = op(A)ᵀ·G */
            else gemm(1, ta, N, K, M, Gi, A, 1.0f, gb + i * sb);        /* dB[N,K] = Gᵀ·op(A) */
        }
    }
}

/* a[..., M, K], b[..., K, N] → [..., M, N] (last two dims transposed first when ta / tb). */
genc_tensor *genc_matmul(genc_ctx *c, genc_tensor *a, genc_tensor *b, int trans_a, int trans_b) {
    GENC_ASSERT(a->ndim >= 2 && a->ndim == b->ndim, "matmul: ranks %d and %d", a->ndim, b->ndim);
    int nd = a->ndim;
    for (int i = 0; i < nd - 2; i++)
        GENC_ASSERT(a->shape[i] == b->shape[i], "matmul: leading dim %d differs (%d vs %d)", i,
                    a->shape[i], b->shape[i]);
    mm_dims d;
    d.ta = trans_a != 0;
    d.tb = trans_b != 0;
    d.M = a->shape[nd - 2 + d.ta];
    d.K = a->shape[nd - 1 - d.ta];
    int kb = b->shape[nd - 2 + d.tb];
    d.N = b->shape[nd - 1 - d.tb];
    GENC_ASSERT(d.K == kb, "matmul: inner dims %d and %d differ", d.K, kb);
    d.batch = a->n / ((int64_t)d.M * d.K);
    int shape[GENC_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[nd - 2] = d.M;
    shape[nd - 1] = d.N;
    genc_tensor *out = genc_new(c, nd, shape);
    int64_t sa = (int64_t)d.M * d.K, sb = (int64_t)d.K * d.N, sc = (int64_t)d.M * d.N;
#pragma omp parallel for schedule(static) if (batch_parallel(d.batch))
    for (int64_t i = 0; i < d.batch; i++)
        gemm(d.ta, d.tb, d.M, d.N, d.K, a->data + i * sa, b->data + i * sb, 0.0f, out->data + i * sc);
    genc_node *n = genc_record(c, matmul_backward, out, 2, (genc_tensor *[]){a, b});
    if (n) {
        mm_dims *s = genc_scratch(c, sizeof *s);
        *s = d;
        n->saved = s;
    }
    return out;
}
