/* The two implementations of conv2d (internal to src/ops): conv.c's per-image im2col + sgemm
 * serves every shape; conv_direct.c's direct kernel serves the 3×3 and 5×5 "same" convolutions
 * (stride 1, k = 2·pad + 1) of 16 or more input channels, most of the image models' work. */
#ifndef GENC_OPS_CONV_INTERNAL_H
#define GENC_OPS_CONV_INTERNAL_H

#include "genc/ops.h"

#include <omp.h>

/* 1 when genc_conv_direct computes this convolution */
int genc_conv_direct_fits(int C, int kh, int kw, int stride, int pad);
/* conv2d of x[B, C, H, W] with w[O, C, k, k], k = 2·pad + 1 ∈ {1, 3, 5}, stride 1 (shapes checked by
 * genc_conv2d) */
genc_tensor *genc_conv_direct(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int pad);
/* conv2d by per-image im2col + sgemm, any shape genc_conv2d accepts (checked there) */
genc_tensor *genc_conv_im2col(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int stride, int pad);

/* Run items in parallel (each with a single-threaded sgemm or kernel) only when there are at
 * least as many as threads; otherwise in sequence, the work inside each item threaded. */
static inline int genc_conv_par_over(int64_t items) { return items > 1 && items >= omp_get_max_threads(); }

/* Chunks of a batch of `items` (images or groups of them) for the weight-gradient partials:
 * at most 32, at most one per item, and few enough that the partials of `per` floats each
 * stay near 2^22 floats (16 MiB) in all. A function of the shapes alone, so the sums, added
 * chunk by chunk in order, do not depend on the thread count. */
static inline int genc_conv_chunks(int64_t per, int64_t items) {
    int64_t n = ((int64_t)1 << 22) / per;
    if (n > 32) n = 32;
    if (n > items) n = items;
    return n < 1 ? 1 : (int)n;
}

#endif
