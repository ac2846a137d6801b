/* Column sums for gradient reductions (internal to src/ops). */
#ifndef GENC_OPS_COLSUM_H
#define GENC_OPS_COLSUM_H

#include <stdint.h>

/* dst[j] += sign · Σ_r src[r·cols + j] · (mul ? mul[r·cols + j] : 1) for row-major
 * [rows, cols] blocks.
 *
 * Used wherever a gradient sums over broadcast rows (biases, norm weights, broadcast
 * operands). Each thread owns a block of 64 columns and walks all rows: rows are read
 * contiguously, no two threads write the same dst, and every sum runs in row order with a
 * double accumulator, so the result does not depend on the thread count. */
static inline void genc_colsum_add(const float *src, const float *mul, int64_t rows,
                                   int64_t cols, float *dst, float sign) {
    enum { BLK = 64 };
    int64_t nblk = (cols + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if (rows * cols > 65536 && nblk > 1)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t j0 = blk * BLK, w = cols - j0 < BLK ? cols - j0 : BLK;
        double acc[BLK] = {0};
        int64_t r = 0;
        if (!mul) /* four rows per pass over acc (the same sums in the same order): acc stays
                   * in memory, and one load and store of it per row would cost more than the
                   * row itself */
            for (; r + 4 <= rows; r += 4) {
                const float *r0 = src + r * cols + j0, *r1 = r0 + cols, *r2 = r1 + cols, *r3 = r2 + cols;
#pragma omp simd
                for (int64_t j = 0; j < w; j++) acc[j] = (((acc[j] + r0[j]) + r1[j]) + r2[j]) + r3[j];
            }
        for (; r < rows; r++) {
            const float *row = src + r * cols + j0;
            if (mul) {
                const float *mrow = mul + r * cols + j0;
#pragma omp simd
                for (int64_t j = 0; j < w; j++) acc[j] += row[j] * mrow[j];
            } else {
#pragma omp simd
                for (int64_t j = 0; j < w; j++) acc[j] += row[j];
            }
        }
        for (int64_t j = 0; j < w; j++) dst[j0 + j] += sign * (float)acc[j];
    }
}

#endif
