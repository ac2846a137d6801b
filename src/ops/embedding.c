/* Embedding lookup: a row gather forward, a scatter-add backward. */
#include "genc/ops.h"

#include <omp.h>
#include <string.h>

#define PAR_MIN 32768

/* dtable[ids[i]] += dout[i] for every i.
 * Repeated ids make a plain parallel loop over i race. Instead each thread owns the table
 * rows with id % nthreads == its number and scans all ids, skipping the others: whole rows
 * are added with contiguous vector loads, no two threads touch the same row, and each row
 * still sums its contributions in increasing i, so the result is the same for any thread
 * count. Scanning n ints per thread is negligible next to the n·D adds. */
static void embedding_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *table = nd->in[0];
    const int32_t *ids = nd->parg[0];
    int n = (int)nd->iarg[0], D = table->shape[1];
    const float *G = nd->out->grad;
    float *GT = genc_grad(c, table);
#pragma omp parallel if ((int64_t)n * D > PAR_MIN)
    {
        int T = omp_get_num_threads(), me = omp_get_thread_num();
        for (int i = 0; i < n; i++) {
            int id = ids[i];
            if (id % T != me) continue;
            float *dst = GT + (int64_t)id * D;
            const float *src = G + (int64_t)i * D;
#pragma omp simd
            for (int j = 0; j < D; j++) dst[j] += src[j];
        }
    }
}

/* table[V, D], ids[n] → out[n, D],  out[i] = table[ids[i]] */
genc_tensor *genc_embedding(genc_ctx *c, genc_tensor *table, const int32_t *ids, int n) {
    GENC_ASSERT(table->ndim == 2, "embedding: table must be [V, D]");
    int V = table->shape[0], D = table->shape[1];
    genc_tensor *out = genc_new2(c, n, D);
#pragma omp parallel for schedule(static) if ((int64_t)n * D > PAR_MIN)
    for (int i = 0; i < n; i++) {
        GENC_ASSERT(ids[i] >= 0 && ids[i] < V, "embedding: id %d outside [0, %d)", ids[i], V);
        memcpy(out->data + (int64_t)i * D, table->data + (int64_t)ids[i] * D, (size_t)D * sizeof(float));
    }
    genc_node *nd = genc_record(c, embedding_backward, out, 1, &table);
    if (nd) {
        nd->parg[0] = ids;
        nd->iarg[0] = n;
    }
    return out;
}
