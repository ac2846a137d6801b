/* Shared by the files of the flows family (not public). */
#ifndef GENC_FLOWS_INTERNAL_H
#define GENC_FLOWS_INTERNAL_H

#include "genc/flows.h"

/* The layer list of cfg with every input shape, parity and network kind (no tensors):
 * returns the number of layers (at most cap) or -1 when it would not fit. */
int genc_flow_plan(const genc_flow_config *cfg, genc_flow_layer *out, int cap);
/* A coupling's network: input channels, channels it transforms, output channels. */
void genc_flow_coupling_dims(const genc_flow_layer *l, int *cin, int *ct, int *cout);
/* W = P·L·(U + diag(sign·exp(log_s))) of an invertible 1×1 convolution, as a [C, C] tensor
 * (differentiable in lower, upper and log_s). */
genc_tensor *genc_flow_invconv_matrix(genc_ctx *c, const genc_flow_layer *l);

#endif
