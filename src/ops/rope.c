/* Rotary position embedding (RoPE; Su et al., "RoFormer", 2021).
 *
 * x[B, T, H, Dh]: every head vector of token t is split into Dh/2 pairs and pair i is rotated
 * by the angle θ_{t,i} whose cosine and sine are cos[t, i], sin[t, i]. The caller builds the
 * tables (base, position interpolation, NTK, YaRN all live there), so this op only rotates.
 * Two pairings exist in the wild and checkpoints depend on which one was trained:
 *   interleaved (RoFormer, GPT-J, Meta LLaMA):     pairs (2i, 2i+1)
 *   half-split  (GPT-NeoX, Hugging Face Llama):    pairs (i, i + Dh/2)
 * A rotation is orthogonal, so the backward pass is the inverse rotation of the gradient. */
#include "genc/ops.h"
#include "ops/rope_rotate.h"

/* y[b,t,h,:] = R_t x[b,t,h,:]  (dir = +1)   or   gx += R_tᵀ g  (dir = −1, accumulate) */
static void rope_apply(float *y, const float *x, const float *cos, const float *sin, int64_t BT,
                       int T, int H, int Dh, int interleaved, float dir, int accumulate) {
    int half = Dh / 2;
#pragma omp parallel for schedule(static) if (BT * H * Dh > 32768)
    for (int64_t r = 0; r < BT; r++) {
        int t = (int)(r % T);
        const float *cs = cos + (int64_t)t * half, *sn = sin + (int64_t)t * half;
        for (int h = 0; h < H; h++) {
            int64_t o = (r * H + h) * Dh;
            genc_rope_rotate(y + o, x + o, cs, sn, half, interleaved, dir, accumulate);
        }
    }
}

static void rope_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    if (!x->requires_grad) return;
    rope_apply(genc_grad(c, x), nd->out->grad, nd->parg[0], nd->parg[1], nd->iarg[0],
               (int)nd->iarg[1], (int)nd->iarg[2], (int)nd->iarg[3], (int)nd->iarg[4], -1.f, 1);
}

/* x[B, T, H, Dh] (or [T, H, Dh]), cos/sin[T, Dh/2] → rotated copy of x, same shape. */
genc_tensor *genc_rope(genc_ctx *c, genc_tensor *x, const float *cos, const float *sin,
                       int interleaved) {
    GENC_ASSERT(x->ndim == 3 || x->ndim == 4, "rope: x must be [B, T, H, Dh] or [T, H, Dh]");
    int Dh = genc_dim(x, -1), H = genc_dim(x, -2), T = genc_dim(x, -3);
    GENC_ASSERT(Dh % 2 == 0, "rope: head dim %d is odd", Dh);
    int64_t BT = x->n / ((int64_t)H * Dh);
    genc_tensor *out = genc_new_like(c, x);
    rope_apply(out->data, x->data, cos, sin, BT, T, H, Dh, interleaved, 1.f, 0);
    genc_node *nd = genc_record(c, rope_backward, out, 1, &x);
    if (nd) {
        nd->parg[0] = cos;
        nd->parg[1] = sin;
        nd->iarg[0] = BT;
        nd->iarg[1] = T;
        nd->iarg[2] = H;
        nd->iarg[3] = Dh;
        nd->iarg[4] = interleaved;
    }
    return out;
}
