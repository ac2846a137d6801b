/* Data-parallel training over MPI: the one place genc talks to MPI (docs/distributed.md).
 *
 * Under `mpirun -np N genc train ...` every rank holds the whole model and draws the whole
 * global batch (examples and noise) from the same streams as one process would; it computes
 * the loss on its contiguous share of the examples, and the trainer averages the gradients
 * over the ranks with an all-reduce, so every rank takes the same optimizer step. Families
 * ask for their share with genc_batch_share; a contrastive loss that couples examples across
 * ranks exchanges embeddings through genc_dist_allgather and genc_dist_ring_shift.
 *
 * Without MPI support (genc_dist_built() == 0), or when genc was not started by an MPI
 * launcher, there is one rank and every call here is a no-op: nothing changes bit for bit. */
#ifndef GENC_DIST_H
#define GENC_DIST_H

#include "genc/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when genc was built with MPI support. */
int genc_dist_built(void);
/* Join the MPI job when started by an MPI launcher (mpirun, srun: the environment says so);
 * otherwise one rank and no MPI call at all. GENC_ERR when MPI fails to start. */
int genc_dist_init(int *argc, char ***argv);
/* The end of the program. code 0, or one every rank returns together (usage errors, a stop
 * by signal): MPI_Finalize. Otherwise (a runtime error that may be this rank's alone, so
 * the others may be waiting for it) the process exits at once with code and the launcher
 * ends every rank with a non-zero code. */
void genc_dist_finish(int code, int every_rank_agrees);
int genc_dist_rank(void);
int genc_dist_size(void);

/* In-place sum over the ranks of x[n], in buckets of GENC_DIST_BUCKET floats. */
#define GENC_DIST_BUCKET (1 << 20)
int genc_dist_allreduce_sum(float *x, int64_t n);
int genc_dist_allreduce_sum_f64(double *x, int n);
/* In-place maximum over the ranks (agreement on flags, checksums). */
int genc_dist_allreduce_max_i64(int64_t *x, int n);
/* bytes of buf from rank root to every rank. */
int genc_dist_bcast(void *buf, int64_t bytes, int root);
/* all[rank·n .. rank·n + n) = every rank's mine[n], in rank order. */
int genc_dist_allgather(const float *mine, int64_t n, float *all);
/* Send send[n] to rank + 1 and receive recv[n] from rank − 1 (modulo the size): one turn of
 * a ring. send and recv must not overlap. */
int genc_dist_ring_shift(const float *send, float *recv, int64_t n);

/* Wall seconds and bytes (sent per rank) of every exchange so far: the bench's figures. */
double genc_dist_comm_seconds(void);
double genc_dist_comm_bytes(void);

/* ---------------------------------------------------------------- the batch share
 * The trainer marks a context: "this rank computes examples [lo, lo + n) of a global batch
 * of total". A loss of a batch of B examples asks for its part; a context not marked (eval,
 * tests, one rank) or a B other than total gives the whole batch, which is always correct
 * (every rank then computes the same full gradient and the average is that gradient). */
void genc_ctx_set_share(genc_ctx *c, int lo, int n, int total);
/* The number of examples to compute (n), and the first one in *lo. */
int genc_batch_share(const genc_ctx *c, int B, int *lo);
/* Ranks whose losses are summed into one global value need each term × size (the trainer
 * divides the summed gradient by the size): the factor for a marked context, else 1. */
float genc_share_ranks(const genc_ctx *c);

#ifdef __cplusplus
}
#endif
#endif
