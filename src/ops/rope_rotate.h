/* Private helpers shared by rope.c and linear_attention.c: rotate one head vector by the
 * RoPE angles of one token. Inline so the pair loops vectorise in both callers. */
#ifndef GENC_OPS_ROPE_ROTATE_H
#define GENC_OPS_ROPE_ROTATE_H

/* y (=|+=) R(dir·θ) x for one head of Dh = 2·half features; cs, sn hold cos θ_i, sin θ_i.
 * dir = +1 is the forward rotation R, dir = −1 its inverse Rᵀ (R is orthogonal), which is
 * what backward needs. y and x must not overlap.
 * interleaved: pairs (2i, 2i+1); half-split: pairs (i, i + half). Per pair (a, b):
 *   y_a = a·cos − b·sin,  y_b = b·cos + a·sin. */
static inline void genc_rope_rotate(float *restrict y, const float *restrict x,
                                    const float *restrict cs, const float *restrict sn, int half,
                                    int interleaved, float dir, int accumulate) {
    if (interleaved) {
        for (int i = 0; i < half; i++) {
            float a = x[2 * i], b = x[2 * i + 1], c = cs[i], s = dir * sn[i];
            float ya = a * c - b * s, yb = b * c + a * s;
            if (accumulate) { y[2 * i] += ya; y[2 * i + 1] += yb; }
            else { y[2 * i] = ya; y[2 * i + 1] = yb; }
        }
    } else {
        for (int i = 0; i < half; i++) {
            float a = x[i], b = x[i + half], c = cs[i], s = dir * sn[i];
            float ya = a * c - b * s, yb = b * c + a * s;
            if (accumulate) { y[i] += ya; y[i + half] += yb; }
            else { y[i] = ya; y[i + half] = yb; }
        }
    }
}

#endif
