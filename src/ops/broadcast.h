/* Numpy-style broadcasting for the elementwise and axis-reduction ops (internal to src/ops).
 *
 * Shapes align from the right; in every dim the two operands have the same size or one of them
 * has 1 (a missing leading dim counts as 1), and the result takes the larger size.
 *
 * The kernels never walk four nested dims. They first drop the result's size-1 dims and merge
 * neighbouring dims that both operands treat alike (both present, or one broadcast), so the
 * common shapes collapse to the loops a hand-written op would use:
 *   same shape, or a one-element operand  → one flat vectorised loop
 *   [..., D] ∘ [D] (the LM's bias and position adds) → rows × one contiguous row
 *   [B, C, H, W] ∘ [B, C, 1, 1]           → rows × a run against one value
 * Shapes are passed as tensor headers (only ndim, shape and n are read) and data as separate
 * pointers, because the data is often a gradient buffer. */
#ifndef GENC_OPS_BROADCAST_H
#define GENC_OPS_BROADCAST_H

#include "genc/core.h"

enum {
    GENC_BC_ADD,     /* o = x + y */
    GENC_BC_SUB,     /* o = x − y */
    GENC_BC_MUL,     /* o = x · y */
    GENC_BC_DIV,     /* o = x / y */
    GENC_BC_MUL_ACC, /* o += s · x · y   (gradient accumulation) */
    GENC_BC_DIV_ACC  /* o += s · x / y */
};

/* Broadcast shape of a ∘ b into (ndim, shape). A mismatch is a wiring error inside the library:
 * genc_fatal names the op and both shapes. */
void genc_bcast_shape(const char *op, const genc_tensor *a, const genc_tensor *b, int *ndim, int *shape);

/* o = x ∘ y (or o += s·(x ∘ y) for the _ACC ops) with x and y broadcast to o's shape os.
 * o may be the same buffer as x or y when that operand has o's shape (each element is read
 * before it is written, at the same index). Elementwise, so any thread count gives the same
 * result. */
void genc_bcast_map(int op, const float *x, const genc_tensor *xs, const float *y, const genc_tensor *ys,
                    float *o, const genc_tensor *os, float s);

/* dst += s · Σ src (· mul)  over the dims where dst's shape ds has 1 and src's shape ss does not:
 * the gradient of a broadcast operand, or an axis sum. mul is NULL or has src's shape. Each
 * output element is summed by one thread in a fixed order with a double accumulator, so the
 * result does not depend on the thread count. */
void genc_bcast_sum(const float *src, const float *mul, const genc_tensor *ss, float *dst,
                    const genc_tensor *ds, float s);

#endif
