/* The two implementations of conv2d (internal to src/ops): conv.c's per-image im2col + sgemm
 * serves every shape; conv_direct.c's direct kernel serves the 3×3 and 5×5 "same" convolutions
 * (stride 1, k = 2·pad + 1) of 16 or more input channels, most of the image models' work. */
#ifndef GENC_OPS_CONV_INTERNAL_H
#define GENC_OPS_CONV_INTERNAL_H

#include "genc/ops.h"

/* 1 when genc_conv_direct computes this convolution */
int genc_conv_direct_fits(int C, int kh, int kw, int stride, int pad);
/* conv2d of x[B, C, H, W] with w[O, C, k, k], k = 2·pad + 1 ∈ {1, 3, 5}, stride 1 (shapes checked by
 * genc_conv2d) */
genc_tensor *genc_conv_direct(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int pad);
/* conv2d by per-image im2col + sgemm, any shape genc_conv2d accepts (checked there) */
genc_tensor *genc_conv_im2col(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int stride, int pad);

#endif
