/* The contrastive losses across data-parallel ranks (src/models/contrastive/loss_dist.c)
 * against the one-process losses on the whole batch: SigLIP's ring and CLIP's all-gather give
 * the same loss on every rank, and the gradients that the trainer's average (sum over ranks
 * / N) makes of each rank's part equal the one-process gradients of x, y, t, b and the scale.
 * Every rank computes the one-process reference itself, on the whole batch, from the same
 * seeds. Run by ctest as one process, this test starts itself again under
 * `mpirun -np 2`; built without MPI it is skipped (exit 77).
 *
 * Tolerance: 2e-5 relative, 1e-6 absolute (as tests/test_contrastive_loss.c). The ring sums
 * the same float32 block terms as the one-process op in another order (per text block, then
 * over the ranks in double), and the gather's B×B loss is the same computation on the same
 * rows: differences are rounding, ~1e-7 relative. A rank that scored only its own pairs
 * (no exchange) gives another loss: 2.4% off (CLIP) and more (SigLIP) on these inputs. */
#include "genc/contrastive.h"
#include "genc/dist.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

enum { ROWS = 6, E = 8 }; /* rows per rank */

static genc_tensor *leaf(genc_ctx *c, int rows, const float *src) {
    genc_tensor *t = genc_new2(c, rows, E);
    memcpy(t->data, src, sizeof(float) * (size_t)rows * E);
    t->requires_grad = 1;
    return t;
}

static genc_tensor *scalar(genc_ctx *c, float v) {
    genc_tensor *t = genc_new1(c, 1);
    t->data[0] = v;
    t->requires_grad = 1;
    return t;
}

/* unit rows, as the models' embeddings are */
static void unit_rows(float *x, int rows, uint64_t seed) {
    tu_randn(x, (int64_t)rows * E, seed, 1.f);
    for (int i = 0; i < rows; i++) {
        double s = 0;
        for (int j = 0; j < E; j++) s += (double)x[i * E + j] * x[i * E + j];
        for (int j = 0; j < E; j++) x[i * E + j] /= (float)sqrt(s);
    }
}

/* the trainer's average of a rank's part: (Σ over ranks) / N */
static void average(float *g, int64_t n) {
    genc_dist_allreduce_sum(g, n);
    for (int64_t i = 0; i < n; i++) g[i] /= (float)genc_dist_size();
}

/* sigmoid = 1: SigLIP with chunk C; 0: CLIP softmax */
static void one_case(int sigmoid, int C) {
    int N = genc_dist_size(), r = genc_dist_rank(), B = N * ROWS, lo = r * ROWS;
    float *X = malloc(sizeof(float) * (size_t)B * E), *Y = malloc(sizeof(float) * (size_t)B * E);
    unit_rows(X, B, 11);
    unit_rows(Y, B, 12);
    /* partly aligned pairs, so the positives are not all alike */
    for (int64_t i = 0; i < (int64_t)B * E; i++) Y[i] = 0.6f * Y[i] + 0.4f * X[i];
    const float t0 = 1.7f, b0 = -1.3f, s0 = 2.1f;

    genc_ctx *c1 = genc_ctx_new(0), *c2 = genc_ctx_new(0);
    /* t: SigLIP's temperature, or CLIP's log-scale */
    genc_tensor *x1 = leaf(c1, B, X), *y1 = leaf(c1, B, Y), *t1 = scalar(c1, sigmoid ? t0 : s0), *b1 = scalar(c1, b0);
    genc_tensor *L1 = sigmoid ? genc_siglip_loss(c1, x1, y1, t1, b1, C) : genc_clip_loss(c1, x1, y1, t1);
    genc_backward(c1, L1);

    genc_ctx_set_share(c2, lo, ROWS, B);
    genc_tensor *x2 = leaf(c2, ROWS, X + (int64_t)lo * E), *y2 = leaf(c2, ROWS, Y + (int64_t)lo * E);
    genc_tensor *t2 = scalar(c2, sigmoid ? t0 : s0), *b2 = scalar(c2, b0);
    genc_tensor *L2 = sigmoid ? genc_siglip_loss_ranks(c2, x2, y2, t2, b2, C) : genc_clip_loss_ranks(c2, x2, y2, t2);
    genc_backward(c2, L2);

    char what[64];
    const char *name = sigmoid ? "siglip ring" : "clip gather";
    snprintf(what, sizeof what, "%s (C %d) loss, rank %d", name, C, r);
    CHECK(tu_close(what, L2->data, L1->data, 1, 1e-6f, 2e-5f), "%s: %.7f vs one process %.7f", what, L2->data[0],
          L1->data[0]);
    /* x and y: only this rank's rows have a part here; the average over ranks is that part / N */
    float *gx = malloc(sizeof(float) * (size_t)B * E), *gy = malloc(sizeof(float) * (size_t)B * E);
    memset(gx, 0, sizeof(float) * (size_t)B * E);
    memset(gy, 0, sizeof(float) * (size_t)B * E);
    memcpy(gx + (int64_t)lo * E, x2->grad, sizeof(float) * ROWS * E);
    memcpy(gy + (int64_t)lo * E, y2->grad, sizeof(float) * ROWS * E);
    average(gx, (int64_t)B * E);
    average(gy, (int64_t)B * E);
    float gt = t2->grad[0], gb = sigmoid ? b2->grad[0] : 0;
    average(&gt, 1);
    average(&gb, 1);
    snprintf(what, sizeof what, "%s (C %d) dx", name, C);
    CHECK(tu_close(what, gx, x1->grad, (int64_t)B * E, 1e-6f, 2e-5f), "%s", what);
    snprintf(what, sizeof what, "%s (C %d) dy", name, C);
    CHECK(tu_close(what, gy, y1->grad, (int64_t)B * E, 1e-6f, 2e-5f), "%s", what);
    snprintf(what, sizeof what, "%s (C %d) d%s", name, C, sigmoid ? "t" : "scale");
    CHECK(tu_close(what, &gt, t1->grad, 1, 1e-6f, 2e-5f), "%s", what);
    if (sigmoid) CHECK(tu_close("siglip ring db", &gb, b1->grad, 1, 1e-6f, 2e-5f), "siglip ring db");
    fprintf(stderr, "rank %d: %s chunk %d: loss %.6f (one process %.6f)\n", r, name, C, L2->data[0], L1->data[0]);

    /* the rank's own pairs alone are a different loss, by far more than the tolerance (100×
     * its 2e-5): the exchange is what makes the two equal */
    genc_ctx *c3 = genc_ctx_new(0);
    genc_tensor *x3 = leaf(c3, ROWS, X + (int64_t)lo * E), *y3 = leaf(c3, ROWS, Y + (int64_t)lo * E);
    genc_tensor *L3 = sigmoid ? genc_siglip_loss(c3, x3, y3, scalar(c3, t0), scalar(c3, b0), C)
                              : genc_clip_loss(c3, x3, y3, scalar(c3, s0));
    CHECK(fabsf(L3->data[0] - L1->data[0]) > 2e-3f * fabsf(L1->data[0]), "%s: local-only loss %.5f is close to %.5f",
          name, L3->data[0], L1->data[0]);
    genc_ctx_free(c3);
    free(gx);
    free(gy);
    free(X);
    free(Y);
    genc_ctx_free(c1);
    genc_ctx_free(c2);
}

/* One process: the _ranks losses of an unmarked context are the plain ones, bit for bit. */
static void one_process_is_plain(void) {
    float X[ROWS * E], Y[ROWS * E];
    unit_rows(X, ROWS, 3);
    unit_rows(Y, ROWS, 4);
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *x = leaf(c, ROWS, X), *y = leaf(c, ROWS, Y), *t = scalar(c, 1.f), *b = scalar(c, -2.f);
    float a = genc_siglip_loss(c, x, y, t, b, 4)->data[0], d = genc_siglip_loss_ranks(c, x, y, t, b, 4)->data[0];
    float e = genc_clip_loss(c, x, y, t)->data[0], f = genc_clip_loss_ranks(c, x, y, t)->data[0];
    CHECK(a == d && e == f, "unmarked context: %g %g, %g %g", a, d, e, f);
    genc_ctx_free(c);
}

/* ctest runs one process: start this test again as 2 ranks and return their status. */
static int relaunch(const char *self) {
    char cmd[4400];
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    snprintf(cmd, sizeof cmd, "mpirun --oversubscribe --bind-to none -np 2 '%s'", self);
    fprintf(stderr, "%s\n", cmd);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv) {
    if (!genc_dist_built()) {
        printf("MPI not built: skipping\n");
        return 77;
    }
    one_process_is_plain();
    if (!getenv("OMPI_COMM_WORLD_SIZE")) {
        if (tu_failed) return tu_finish();
        return relaunch(argv[0]);
    }
    CHECK(genc_dist_init(&argc, &argv) == GENC_OK, "MPI init: %s", genc_error());
    CHECK(genc_dist_size() >= 2, "started by mpirun, but %d rank", genc_dist_size());
    if (genc_dist_size() >= 2) {
        const int chunks[3] = {4, ROWS, 64}; /* not dividing a block, equal to it, larger */
        for (int k = 0; k < 3; k++) one_case(1, chunks[k]);
        one_case(0, 0);
    }
    int rc = tu_finish();
    genc_dist_finish(0, 1);
    return rc;
}
