/* The block walk of SigLIP's chunked loss, shared by the one-process op (loss.c) and the ring
 * across ranks (loss_dist.c). */
#ifndef GENC_CONTRASTIVE_LOSS_INTERNAL_H
#define GENC_CONTRASTIVE_LOSS_INTERNAL_H

#include "genc/contrastive.h"

/* Σ −log σ(ℓ_ij z_ij) over z = et·x·yᵀ + b, x [nx, E], y [ny, E], ℓ_ij = 1 iff i − j = diag
 * (g == 0); or, g ≠ 0, the gradients of g/B times that sum accumulated into gx, gy, dt, db.
 * C: the chunk; z: scratch of C·C floats. Definition and formulas: loss.c. */
double genc_siglip_walk(const float *x, int nx, const float *y, int ny, int E, int diag, float et, float bb, int C,
                        float *z, float g, int B, float *gx, float *gy, double *dt, double *db);

#endif
