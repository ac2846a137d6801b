/* genc ops: differentiable operations. Each op computes its forward pass into a new arena
 * tensor and, when the tape is recording, records a backward that accumulates (+=) into the
 * gradients of its inputs. Forward and backward of an op live in the same file.
 *
 * Shapes use "..." for any leading dimensions; the op works on the last dimension(s).
 * Token ids and other integer arrays are plain int32_t pointers that must stay alive until
 * backward has run (they are normally in the arena or in the batch). */
#ifndef GENC_OPS_H
#define GENC_OPS_H

#include "genc/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- linear algebra (linear.c) */
/* y[..., N] = x[..., K] · W[N, K]ᵀ + b[N]      (b may be NULL). PyTorch nn.Linear layout. */
genc_tensor *genc_linear(genc_ctx *c, genc_tensor *x, genc_tensor *W, genc_tensor *b);
/* Batched matrix product over the leading dims: a[..., M, K] · b[..., K, N] → [..., M, N];
 * trans_a / trans_b transpose the last two dims of a / b first. Leading dims must match. */
genc_tensor *genc_matmul(genc_ctx *c, genc_tensor *a, genc_tensor *b, int trans_a, int trans_b);

/* ---------------------------------------------------------------- elementwise (elementwise.c)
 * Binary ops broadcast like numpy: shapes align from the right and in every dim the sizes are
 * equal or one of them is 1 (a missing leading dim counts as 1); the output has the broadcast
 * shape, e.g. [B, C, H, W] ∘ [B, C, 1, 1], [B, 1, D] ∘ [1, T, D] → [B, T, D]. A one-element b
 * is a scalar and the output keeps a's shape. Backward sums each operand's gradient over the
 * dims it was broadcast along. Shapes that do not broadcast are a wiring error (genc_fatal
 * with both shapes). b equal to a's trailing dims, or b a scalar, runs as one flat loop or
 * rows × one contiguous row. */
genc_tensor *genc_add(genc_ctx *c, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_sub(genc_ctx *c, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_mul(genc_ctx *c, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_div(genc_ctx *c, genc_tensor *a, genc_tensor *b);
genc_tensor *genc_scale(genc_ctx *c, genc_tensor *a, float s);           /* s·a */
genc_tensor *genc_add_scalar(genc_ctx *c, genc_tensor *a, float s);      /* a + s */
genc_tensor *genc_sum(genc_ctx *c, genc_tensor *a);                      /* scalar [1] */
genc_tensor *genc_mean(genc_ctx *c, genc_tensor *a);                     /* scalar [1] */
/* mean((a − b)²) over all elements, scalar [1]; a and b have the same shape */
genc_tensor *genc_mse(genc_ctx *c, genc_tensor *a, genc_tensor *b);
/* ---------------------------------------------------------------- activations (activation.c) */
genc_tensor *genc_gelu(genc_ctx *c, genc_tensor *x);        /* exact: x·Φ(x) (erf) */
genc_tensor *genc_gelu_tanh(genc_ctx *c, genc_tensor *x);   /* tanh approximation */
genc_tensor *genc_quickgelu(genc_ctx *c, genc_tensor *x);   /* x·σ(1.702x) (CLIP) */
genc_tensor *genc_silu(genc_ctx *c, genc_tensor *x);        /* x·σ(x) */
genc_tensor *genc_sigmoid(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_tanh(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_exp(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_log(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_elu1(genc_ctx *c, genc_tensor *x);        /* elu(x) + 1 (linear attention φ) */
genc_tensor *genc_sqrt(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_rsqrt(genc_ctx *c, genc_tensor *x);       /* 1/√x */
genc_tensor *genc_abs(genc_ctx *c, genc_tensor *x);         /* gradient sign(x), 0 at 0 */
genc_tensor *genc_square(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_relu(genc_ctx *c, genc_tensor *x);        /* gradient 0 at 0 */
genc_tensor *genc_leaky_relu(genc_ctx *c, genc_tensor *x, float slope); /* slope·x for x ≤ 0 */
/* log(1 + eˣ), = x above 20 (PyTorch's beta = 1, threshold = 20); stable for any x */
genc_tensor *genc_softplus(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_log_sigmoid(genc_ctx *c, genc_tensor *x); /* log σ(x) = −softplus(−x) */
/* x[..., 2H] → silu(x[..., :H]) · x[..., H:]   (SwiGLU with gate first) */
genc_tensor *genc_swiglu(genc_ctx *c, genc_tensor *x);

/* ---------------------------------------------------------------- reductions (reduce.c, normalize.c)
 * Over one axis of x; a negative axis counts from the end. keepdim keeps the axis as size 1,
 * else it is dropped (a 1-D input gives [1]). */
genc_tensor *genc_sum_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim);
genc_tensor *genc_mean_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim);
/* The gradient goes to the first maximal element along the axis (like torch.max(x, dim);
 * torch.amax splits it evenly among ties). */
genc_tensor *genc_max_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim);
/* log Σ exp, shifted by the maximum (no overflow); finite or −∞ inputs */
genc_tensor *genc_logsumexp_axis(genc_ctx *c, genc_tensor *x, int axis, int keepdim);
/* x / max(‖x‖₂, eps) over the last dim (torch.nn.functional.normalize) */
genc_tensor *genc_l2_normalize(genc_ctx *c, genc_tensor *x, float eps);

/* ---------------------------------------------------------------- norms (norm.c) */
/* over the last dim D; w[D] required, b[D] may be NULL */
genc_tensor *genc_layernorm(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, float eps);
genc_tensor *genc_rmsnorm(genc_ctx *c, genc_tensor *x, genc_tensor *w, float eps);

/* ---------------------------------------------------------------- softmax and losses (softmax.c) */
genc_tensor *genc_softmax(genc_ctx *c, genc_tensor *x);      /* over the last dim */
genc_tensor *genc_log_softmax(genc_ctx *c, genc_tensor *x);
/* Cross-entropy of logits[..., V] (rows R = numel / V) against targets[R]:
 *   loss = Σ_r w_r · CE_r / norm
 * CE_r uses label smoothing ε: (1−ε)·(−log p_target) + ε·mean_v(−log p_v) (PyTorch's definition).
 * Rows with target == ignore_index contribute nothing. weights may be NULL (all 1).
 * norm <= 0 means "the number of non-ignored rows" (PyTorch's mean reduction).
 * Returns a scalar [1]. */
genc_tensor *genc_cross_entropy(genc_ctx *c, genc_tensor *logits, const int32_t *targets,
                                int ignore_index, float label_smoothing, const float *weights,
                                float norm);
/* Per-row negative log-likelihood −log softmax(logits)[target], no grad (evaluation). */
void genc_nll_rows(const genc_tensor *logits, const int32_t *targets, float *out);

/* ---------------------------------------------------------------- dropout (dropout.c) */
/* Inverted dropout with probability p using c->rng; identity unless c->training and p > 0. */
genc_tensor *genc_dropout(genc_ctx *c, genc_tensor *x, float p);

/* ---------------------------------------------------------------- layout (shape.c) */
/* View with a new shape (same numel). Shares data; when x needs grad the view shares x's
 * gradient buffer too, so no tape node is needed. */
genc_tensor *genc_reshape(genc_ctx *c, genc_tensor *x, int ndim, const int *shape);
/* Copying permutation of dimensions: out.shape[i] = x.shape[perm[i]]. */
genc_tensor *genc_permute(genc_ctx *c, genc_tensor *x, const int *perm);
genc_tensor *genc_transpose(genc_ctx *c, genc_tensor *x, int d0, int d1);
genc_tensor *genc_concat(genc_ctx *c, genc_tensor *a, genc_tensor *b, int dim);
genc_tensor *genc_slice(genc_ctx *c, genc_tensor *x, int dim, int start, int len);

/* ---------------------------------------------------------------- embedding (embedding.c) */
/* table[V, D], ids[n] → [n, D]. Ids must be in [0, V) (callers validate user data). */
genc_tensor *genc_embedding(genc_ctx *c, genc_tensor *table, const int32_t *ids, int n);

/* ---------------------------------------------------------------- position encodings (rope.c) */
/* RoPE on x[B, T, H, Dh] with per-token tables cos[T, Dh/2], sin[T, Dh/2] (row t is the
 * rotation of token t, the same for every batch row and head; any position scaling or YaRN
 * attention factor is already folded into the tables).
 * interleaved = 1: pairs (2i, 2i+1)  (RoFormer, GPT-J, Meta LLaMA)
 * interleaved = 0: pairs (i, i+Dh/2) (GPT-NeoX, Hugging Face Llama, "half-split")
 *   y_a = x_a·cos_i − x_b·sin_i,  y_b = x_b·cos_i + x_a·sin_i.
 * Backward is the inverse (transposed) rotation. */
genc_tensor *genc_rope(genc_ctx *c, genc_tensor *x, const float *cos, const float *sin,
                       int interleaved);

/* ---------------------------------------------------------------- attention (attention.c) */
/* Fused scaled dot-product attention with an online softmax (FlashAttention-style tiling):
 * memory O(T·Dh) per head, never a T×T matrix, forward and backward.
 *
 * q[B, Tq, H, Dh], k and v[B, Tk, H, Dh] (the layout a linear projection produces, so no
 * permute is needed); output [B, Tq, H, Dh].
 * Query i sits at absolute position q_offset + i; key j at position j.
 * A key j is visible to query i when all of these hold:
 *   causal:      j <= q_offset + i
 *   block > 0:   block-causal: j / block <= (q_offset + i) / block (BD3 style, keys in the
 *                same or an earlier block)
 *   mask:        mask[i * Tk + j] != 0          (any boolean [Tq, Tk] mask)
 *   key_pad:     key_pad[b * Tk + j] != 0       (padding: [B, Tk], 1 = real token)
 * Additive biases on the logit s_ij = scale · q_i·k_j:
 *   alibi_slopes[H]:  − m_h · ((q_offset + i) − j)   (causal use; for bidirectional models
 *                     the distance is |i − j|)
 *   t5_table[NB, H] (a differentiable tensor, shared by layers): + table[bucket(j − i), h]
 *                     with the bucketing of genc_t5_bucket (t5_bidirectional, t5_max_distance)
 * A row with no visible key outputs zeros. */
typedef struct genc_attn_opts {
    int causal;
    int block;
    int q_offset;
    const uint8_t *mask;
    const uint8_t *key_pad;
    const float *alibi_slopes;
    genc_tensor *t5_table;
    int t5_bidirectional;
    int t5_max_distance;
    float scale;              /* 0 → 1/sqrt(Dh) */
} genc_attn_opts;

genc_tensor *genc_attention(genc_ctx *c, genc_tensor *q, genc_tensor *k, genc_tensor *v,
                            const genc_attn_opts *o);
/* Reference (quadratic, materialised) attention with the same semantics, no grad; for tests. */
void genc_attention_reference(const float *q, const float *k, const float *v, float *out, int B,
                              int Tq, int Tk, int H, int Dh, const genc_attn_opts *o);

/* ALiBi slopes for n heads (Press et al.): geometric 2^(−8h/n) for n a power of two; else the
 * slopes of the closest lower power of two followed by every other slope of the next one. */
void genc_alibi_slopes(int n_heads, float *slopes);
/* T5 relative-position bucket of rel = key − query (Raffel et al.). */
int genc_t5_bucket(int rel, int bidirectional, int n_buckets, int max_distance);

/* Linear attention with RoPE (RoFormer §3.3): φ = elu + 1,
 *   out_i = Σ_j (R_i φ(q_i))·(R_j φ(k_j)) v_j / Σ_j φ(q_i)·φ(k_j)
 * numerator rotated, denominator not; causal (j ≤ i) by prefix sums, else over all j.
 * q, k, v [B, T, H, Dh]; cos/sin [T, Dh/2] as in genc_rope. O(T·Dh²) time. */
genc_tensor *genc_linear_attention_rope(genc_ctx *c, genc_tensor *q, genc_tensor *k,
                                        genc_tensor *v, const float *cos, const float *sin,
                                        int interleaved, int causal);

/* ---------------------------------------------------------------- images (conv.c, resample.c, groupnorm.c)
 * Images are x[B, C, H, W] (channels first, PyTorch's layout). Tensors have at most 4 dims, so
 * layout changes that would take a 6-D permute elsewhere are the dedicated copying ops below.
 * Shapes that do not fit are wiring errors (genc_fatal): callers validate user input first. */
/* x[B, C, H, W], w[O, C, kh, kw], b[O] or NULL → y[B, O, Ho, Wo], Ho = (H + 2·pad − kh)/stride + 1
 * (PyTorch Conv2d: zero padding, dilation 1, groups 1). Memory-bounded: the im2col columns of
 * one image tile per thread, never of the whole batch. */
genc_tensor *genc_conv2d(genc_ctx *c, genc_tensor *x, genc_tensor *w, genc_tensor *b, int stride, int pad);
/* nearest-neighbour ×2: [B, C, H, W] → [B, C, 2H, 2W] */
genc_tensor *genc_upsample2x(genc_ctx *c, genc_tensor *x);
/* average pooling with kernel = stride = k (H, W divisible by k): [B, C, H, W] → [B, C, H/k, W/k] */
genc_tensor *genc_avg_pool2d(genc_ctx *c, genc_tensor *x, int k);
/* GroupNorm over (C/groups, H, W) per sample and group (biased variance, PyTorch's
 * nn.GroupNorm); w, b [C] (either may be NULL); x may be [B, C, H, W] or [B, C, L] */
genc_tensor *genc_group_norm(genc_ctx *c, genc_tensor *x, int groups, genc_tensor *w, genc_tensor *b,
                             float eps);
/* Glow/RealNVP squeeze: [B, C, H, W] → [B, C·f·f, H/f, W/f]; output channel c·f·f + i·f + j holds
 * x[c, f·h + i, f·w + j] (the order of torch's pixel_unshuffle). depth_to_space is its exact
 * inverse ([B, C·f·f, H, W] → [B, C, H·f, W·f], pixel_shuffle). */
genc_tensor *genc_space_to_depth(genc_ctx *c, genc_tensor *x, int f);
genc_tensor *genc_depth_to_space(genc_ctx *c, genc_tensor *x, int f);
/* ViT/DiT patches: [B, C, H, W] → [B, (H/p)·(W/p), C·p·p], patches in row-major order, features
 * in (c, i, j) order so a Linear on patches equals a Conv2d(kernel = stride = p) with the same
 * weight flattened; unpatchify is the exact inverse back to [B, C, H, W]. */
genc_tensor *genc_patchify(genc_ctx *c, genc_tensor *x, int p);
genc_tensor *genc_unpatchify(genc_ctx *c, genc_tensor *x, int C, int H, int W, int p);

/* ---------------------------------------------------------------- modulation (modulate.c)
 * x[B, ..., D] with per-sequence vectors v[B, D] that apply to every token of their sequence
 * (adaLN of DiT, a conditioning vector added to every token). */
/* y = x·(1 + scale_b) + shift_b; shift or scale may be NULL (then 0). */
genc_tensor *genc_modulate(genc_ctx *c, genc_tensor *x, genc_tensor *shift, genc_tensor *scale);
/* Gated residual: out = x + gate_b ⊙ y  (x, y same size). */
genc_tensor *genc_gated_add(genc_ctx *c, genc_tensor *x, genc_tensor *gate, genc_tensor *y);

#ifdef __cplusplus
}
#endif
#endif
