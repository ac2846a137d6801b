/* The contrastive losses across data-parallel ranks (genc/dist.h). Each rank embeds its share
 * of the B pairs, rows [lo, lo + n) with n = B/N; a contrastive loss couples every image with
 * every text, so the ranks exchange embeddings:
 *
 *  - CLIP's softmax: the embeddings are all-gathered (every rank then holds x, y [B, E] and
 *    computes the same B×B loss); backward keeps the rows of this rank.
 *  - SigLIP's sigmoid: a ring (Zhai et al. 2023, §3.3): at each of N turns a rank scores its
 *    images against one rank's text block and passes the block on to the next rank, so no
 *    rank holds more than its own n×E texts and one visiting block, nor any B×B matrix.
 *    Backward walks the ring again, the visiting block carrying the gradient of its texts,
 *    which arrives home after the last turn.
 *
 * The trainer averages the ranks' gradients (sum / N). The loss here is the whole batch's on
 * every rank, and each rank holds only its part of the gradient (of its own rows, and its
 * share of the terms for t and b), so every gradient is scaled by N: the average is then
 * the sum of the parts, the gradient of the one-process loss. */
#include "genc/contrastive.h"
#include "genc/dist.h"
#include "loss_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- all-gather with gradient */

/* dx += N · dY[lo .. lo + n) */
static void gather_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    float *gx = genc_grad(c, x), N = nd->farg[0];
    const float *G = nd->out->grad + nd->iarg[0] * (int64_t)genc_dim(x, 1);
    for (int64_t i = 0; i < x->n; i++) gx[i] += N * G[i];
}

/* x [n, E] of this rank → [B, E], the ranks' rows in rank order (x itself on one rank). */
genc_tensor *genc_gather_rows(genc_ctx *c, genc_tensor *x) {
    float N = genc_share_ranks(c);
    if (N == 1.0f) return x;
    int n = genc_dim(x, 0), E = genc_dim(x, 1);
    if (n != c->share_n) genc_fatal("gather_rows: %d rows, but this rank's share is %d", n, c->share_n);
    genc_tensor *out = genc_new2(c, c->share_total, E);
    if (genc_dist_allgather(x->data, x->n, out->data)) genc_fatal("%s", genc_error());
    genc_node *nd = genc_record(c, gather_backward, out, 1, &x);
    if (nd) {
        nd->iarg[0] = c->share_lo;
        nd->farg[0] = N;
    }
    return out;
}

genc_tensor *genc_clip_loss_ranks(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *scale) {
    return genc_clip_loss(c, genc_gather_rows(c, x), genc_gather_rows(c, y), scale);
}

/* ---------------------------------------------------------------- the SigLIP ring */

/* The rank whose text block a rank holds at turn k: its own at turn 0, then the previous
 * rank's, and so on (blocks travel to rank + 1). Its rows start at owner·n. */
static int owner_at(int k) {
    int N = genc_dist_size();
    return ((genc_dist_rank() - k) % N + N) % N;
}

static void ring_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *y = nd->in[1], *t = nd->in[2], *b = nd->in[3];
    float g = nd->out->grad[0];
    if (g == 0) return;
    int n = genc_dim(x, 0), E = genc_dim(x, 1), C = (int)nd->iarg[0], B = (int)nd->iarg[1], N = genc_dist_size();
    int lo = (int)nd->iarg[2];
    float et = expf(t->data[0]), bb = b->data[0];
    int64_t ne = (int64_t)n * E;
    float *z = genc_scratch(c, sizeof(float) * (size_t)C * C);
    /* the visiting block: its texts, then the gradient of its texts gathered so far */
    float *cur = genc_scratch(c, sizeof(float) * 2 * (size_t)ne), *next = genc_scratch(c, sizeof(float) * 2 * (size_t)ne);
    memcpy(cur, y->data, sizeof(float) * (size_t)ne);
    memset(cur + ne, 0, sizeof(float) * (size_t)ne);
    float *gx = x->requires_grad ? genc_grad(c, x) : NULL;
    double dt = 0, db = 0;
    for (int k = 0; k < N; k++) {
        genc_siglip_walk(x->data, n, cur, n, E, owner_at(k) * n - lo, et, bb, C, z, g * (float)N, B, gx, cur + ne, &dt,
                         &db);
        if (genc_dist_ring_shift(cur, next, 2 * ne)) genc_fatal("%s", genc_error());
        float *s = cur;
        cur = next;
        next = s;
    }
    /* after N turns the block is home, with every rank's terms of its texts */
    if (y->requires_grad) {
        float *gy = genc_grad(c, y);
        for (int64_t i = 0; i < ne; i++) gy[i] += cur[ne + i];
    }
    if (t->requires_grad) genc_grad(c, t)[0] += (float)dt;
    if (b->requires_grad) genc_grad(c, b)[0] += (float)db;
}

genc_tensor *genc_siglip_loss_ranks(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *t, genc_tensor *b,
                                    int chunk) {
    if (genc_share_ranks(c) == 1.0f) return genc_siglip_loss(c, x, y, t, b, chunk);
    if (x->ndim != 2 || !genc_same_shape(x, y) || t->n != 1 || b->n != 1 || genc_dim(x, 0) != c->share_n)
        genc_fatal("genc_siglip_loss_ranks: x and y must both be [n, E] with n this rank's share, t and b scalars");
    int n = genc_dim(x, 0), E = genc_dim(x, 1), B = c->share_total, N = genc_dist_size();
    int C = chunk > 0 ? chunk : 64, lo = c->share_lo;
    if (C > n) C = n;
    float et = expf(t->data[0]), bb = b->data[0];
    int64_t ne = (int64_t)n * E;
    float *z = genc_scratch(c, sizeof(float) * (size_t)C * C);
    float *cur = genc_scratch(c, sizeof(float) * (size_t)ne), *next = genc_scratch(c, sizeof(float) * (size_t)ne);
    memcpy(cur, y->data, sizeof(float) * (size_t)ne);
    double sum = 0;
    for (int k = 0; k < N; k++) {
        sum += genc_siglip_walk(x->data, n, cur, n, E, owner_at(k) * n - lo, et, bb, C, z, 0, B, NULL, NULL, NULL, NULL);
        if (k + 1 == N) break;
        if (genc_dist_ring_shift(cur, next, ne)) genc_fatal("%s", genc_error());
        float *s = cur;
        cur = next;
        next = s;
    }
    if (genc_dist_allreduce_sum_f64(&sum, 1)) genc_fatal("%s", genc_error());
    genc_tensor *out = genc_new1(c, 1);
    out->data[0] = (float)(sum / B);
    genc_node *nd = genc_record(c, ring_backward, out, 4, (genc_tensor *[]){x, y, t, b});
    if (nd) {
        nd->iarg[0] = C;
        nd->iarg[1] = B;
        nd->iarg[2] = lo;
    }
    return out;
}
