/* Data parallelism over MPI (genc/dist.h): start and end the job, the collectives the trainer
 * and the contrastive losses need, and the batch share a context carries. Built without MPI
 * (GENC_HAVE_MPI undefined) every collective is the identity on one rank.
 *
 * Errors: communicators keep MPI_ERRORS_ARE_FATAL. A rank that dies (killed, crashed) makes
 * the launcher end the job: mpirun sees the dead child and kills the other ranks, so nobody
 * waits forever in a collective. The checkpoint on disk stays valid (written atomically by
 * rank 0 between steps). */
#include "genc/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef GENC_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1;
#ifdef GENC_HAVE_MPI
static int g_mpi = 0; /* MPI_Init was called by us */
#endif
static double g_comm_s = 0, g_comm_bytes = 0;

int genc_dist_built(void) {
#ifdef GENC_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int genc_dist_rank(void) { return g_rank; }
int genc_dist_size(void) { return g_size; }
double genc_dist_comm_seconds(void) { return g_comm_s; }
double genc_dist_comm_bytes(void) { return g_comm_bytes; }

#ifdef GENC_HAVE_MPI
/* Started by a launcher: Open MPI's mpirun (OMPI_COMM_WORLD_SIZE), a PMIx launcher such as
 * srun --mpi=pmix (PMIX_RANK) or a PMI-1/2 one (PMI_RANK). A plain `genc ...` calls no MPI
 * at all (an Open MPI singleton would start a daemon, and change nothing). GENC_MPI=0 turns
 * MPI off even under a launcher. */
static int launched(void) {
    const char *off = getenv("GENC_MPI");
    if (off && strcmp(off, "0") == 0) return 0;
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}
#endif

int genc_dist_init(int *argc, char ***argv) {
#ifdef GENC_HAVE_MPI
    if (g_mpi || !launched()) return GENC_OK;
    int ok = 0;
    MPI_Initialized(&ok);
    if (!ok && MPI_Init(argc, argv) != MPI_SUCCESS) return genc_set_error("MPI_Init failed");
    g_mpi = !ok;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
#else
    (void)argc;
    (void)argv;
#endif
    return GENC_OK;
}

void genc_dist_finish(int code, int every_rank_agrees) {
#ifdef GENC_HAVE_MPI
    if (!g_mpi) return;
    /* A rank that fails alone must not enter MPI_Finalize (a collective: it would wait for
     * ranks that wait for it). It leaves at once; the launcher sees a rank end with a non-zero
     * code without finalizing and ends the job (mpirun always; srun with --kill-on-bad-exit).
     * MPI_Abort would do the same, but Open MPI 4.1 garbles its message. */
    if (code != 0 && !every_rank_agrees && g_size > 1) {
        fflush(NULL);
        _exit(code);
    }
    MPI_Finalize();
    g_mpi = 0;
#else
    (void)code;
    (void)every_rank_agrees;
#endif
    g_rank = 0;
    g_size = 1;
}

/* ---------------------------------------------------------------- collectives */

#ifdef GENC_HAVE_MPI
static int mpi_fail(const char *what, int rc) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return genc_set_error("%s failed on rank %d of %d: %s", what, g_rank, g_size, msg);
}
#define TIMED(what, bytes, call)                                   \
    do {                                                           \
        double t0_ = MPI_Wtime();                                  \
        int rc_ = (call);                                          \
        g_comm_s += MPI_Wtime() - t0_;                             \
        g_comm_bytes += (double)(bytes);                           \
        if (rc_ != MPI_SUCCESS) return mpi_fail(what, rc_);        \
    } while (0)
#endif

int genc_dist_allreduce_sum(float *x, int64_t n) {
#ifdef GENC_HAVE_MPI
    if (g_size == 1) return GENC_OK;
    /* buckets: MPI counts are int, and a bounded message keeps the shared-memory and network
     * transports in their pipelined regime */
    for (int64_t i = 0; i < n; i += GENC_DIST_BUCKET) {
        int k = (int)(n - i < GENC_DIST_BUCKET ? n - i : GENC_DIST_BUCKET);
        TIMED("MPI_Allreduce", 4.0 * k, MPI_Allreduce(MPI_IN_PLACE, x + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    }
#else
    (void)x;
    (void)n;
#endif
    return GENC_OK;
}

#ifdef GENC_HAVE_MPI
/* one small in-place all-reduce of n values of size bytes each */
static int reduce_small(void *x, int n, int size, MPI_Datatype type, MPI_Op op) {
    if (g_size > 1) TIMED("MPI_Allreduce", (double)size * n, MPI_Allreduce(MPI_IN_PLACE, x, n, type, op, MPI_COMM_WORLD));
    return GENC_OK;
}
#endif

int genc_dist_allreduce_sum_f64(double *x, int n) {
#ifdef GENC_HAVE_MPI
    return reduce_small(x, n, 8, MPI_DOUBLE, MPI_SUM);
#else
    (void)x, (void)n;
    return GENC_OK;
#endif
}

int genc_dist_allreduce_max_i64(int64_t *x, int n) {
#ifdef GENC_HAVE_MPI
    return reduce_small(x, n, 8, MPI_INT64_T, MPI_MAX);
#else
    (void)x, (void)n;
    return GENC_OK;
#endif
}

int genc_dist_bcast(void *buf, int64_t bytes, int root) {
#ifdef GENC_HAVE_MPI
    if (g_size == 1) return GENC_OK;
    for (int64_t i = 0; i < bytes; i += (int64_t)1 << 30) {
        int k = (int)(bytes - i < ((int64_t)1 << 30) ? bytes - i : ((int64_t)1 << 30));
        TIMED("MPI_Bcast", k, MPI_Bcast((char *)buf + i, k, MPI_BYTE, root, MPI_COMM_WORLD));
    }
#else
    (void)buf;
    (void)bytes;
    (void)root;
#endif
    return GENC_OK;
}

int genc_dist_allgather(const float *mine, int64_t n, float *all) {
    if (g_size == 1) {
        if (all != mine) memmove(all, mine, sizeof(float) * (size_t)n);
        return GENC_OK;
    }
#ifdef GENC_HAVE_MPI
    if (n > 0x7fffffff) return genc_set_error("allgather of %lld floats: more than MPI's int count", (long long)n);
    TIMED("MPI_Allgather", 4.0 * n * (g_size - 1),
          MPI_Allgather(mine, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, MPI_COMM_WORLD));
#endif
    return GENC_OK;
}

int genc_dist_ring_shift(const float *send, float *recv, int64_t n) {
    if (g_size == 1) {
        memmove(recv, send, sizeof(float) * (size_t)n);
        return GENC_OK;
    }
#ifdef GENC_HAVE_MPI
    if (n > 0x7fffffff) return genc_set_error("ring exchange of %lld floats: more than MPI's int count", (long long)n);
    int next = (g_rank + 1) % g_size, prev = (g_rank + g_size - 1) % g_size;
    TIMED("MPI_Sendrecv", 4.0 * n,
          MPI_Sendrecv(send, (int)n, MPI_FLOAT, next, 7, recv, (int)n, MPI_FLOAT, prev, 7, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE));
#endif
    return GENC_OK;
}

/* ---------------------------------------------------------------- the batch share */

void genc_ctx_set_share(genc_ctx *c, int lo, int n, int total) {
    c->share_lo = lo;
    c->share_n = n;
    c->share_total = total;
}

int genc_batch_share(const genc_ctx *c, int B, int *lo) {
    if (c->share_total == B && c->share_n > 0 && c->share_n < B) {
        *lo = c->share_lo;
        return c->share_n;
    }
    *lo = 0;
    return B;
}

float genc_share_ranks(const genc_ctx *c) {
    return c->share_n > 0 && c->share_n < c->share_total ? (float)c->share_total / (float)c->share_n : 1.0f;
}
