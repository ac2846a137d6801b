/* Pointwise activations and SwiGLU.
 *
 * Each unary op is a pair of scalar functions: f(x) for the forward pass and f'(x) (given x
 * and y = f(x), whichever is cheaper) for the backward pass. DEFINE_UNARY turns the pair into
 * an op whose loops vectorise: the transcendentals come from fastmath.h, not libm. */
#include "genc/ops.h"

#include "fastmath.h"

#include <math.h>

/* Below this many elements the OpenMP fork/join costs more than the loop. */
#define PAR_MIN 16384

/* gelu(x) = x·Φ(x)   (Hendrycks & Gimpel, exact form; PyTorch approximate='none')
 * gelu'(x) = Φ(x) + x·φ(x) */
static inline float gelu_f(float x) { return x * genc_fnormcdf(x); }

/* gelu_tanh(x) = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³)   (PyTorch approximate='tanh').
 * ½(1 + tanh u) = σ(2u), which avoids the cancellation of 1 + tanh u for negative x.
 * d/dx = s + x·s(1 − s)·2u',  s = σ(2u),  u' = √(2/π)(1 + 3·0.044715x²) */
#define GELU_C 0.7978845608028654f /* √(2/π) */
static inline float gelu_tanh_f(float x) {
    return x * genc_fsigmoid(2.0f * GELU_C * (x + 0.044715f * x * x * x));
}
static inline float gelu_tanh_d(float x, float y) {
    float s = genc_fsigmoid(2.0f * GELU_C * (x + 0.044715f * x * x * x));
    return s + x * s * (1.0f - s) * 2.0f * GELU_C * (1.0f + 3.0f * 0.044715f * x * x);
}

/* quickgelu(x) = x·σ(1.702x)   (CLIP);  d/dx = s + 1.702·x·s(1 − s) */
static inline float quickgelu_f(float x) { return x * genc_fsigmoid(1.702f * x); }
static inline float quickgelu_d(float x, float y) {
    float s = genc_fsigmoid(1.702f * x);
    return s + 1.702f * x * s * (1.0f - s);
}

/* silu(x) = x·σ(x);  d/dx = s(1 + x(1 − s)) */
static inline float silu_f(float x) { return x * genc_fsigmoid(x); }
static inline float silu_d(float x, float y) {
    float s = genc_fsigmoid(x);
    return s * (1.0f + x * (1.0f - s));
}

/* σ' = y(1 − y), tanh' = 1 − y², exp' = y, log' = 1/x */
static inline float sigmoid_f(float x) { return genc_fsigmoid(x); }
static inline float sigmoid_d(float x, float y) { return y * (1.0f - y); }
static inline float tanh_f(float x) { return genc_ftanh(x); }
static inline float tanh_d(float x, float y) { return 1.0f - y * y; }
static inline float exp_f(float x) { return genc_fexp(x); }
static inline float exp_d(float x, float y) { return y; }
static inline float log_f(float x) { return logf(x); }
static inline float log_d(float x, float y) { return 1.0f / x; }

/* elu(x) + 1 = x + 1 for x > 0, e^x otherwise: a positive feature map for linear attention
 * (Katharopoulos et al.). Its derivative is 1 for x > 0 and e^x = y otherwise. */
static inline float elu1_f(float x) { return x > 0 ? x + 1.0f : genc_fexp(x); }
static inline float elu1_d(float x, float y) { return x > 0 ? 1.0f : y; }

/* sqrt' = 1/(2y);  rsqrt(x) = x^−½, rsqrt' = −½·x^−3/2 = −½y³ */
static inline float sqrt_f(float x) { return sqrtf(x); }
static inline float sqrt_d(float x, float y) { return 0.5f / y; }
static inline float rsqrt_f(float x) { return 1.0f / sqrtf(x); }
static inline float rsqrt_d(float x, float y) { return -0.5f * y * y * y; }

/* |x|' = sign x, taken as 0 at 0 (PyTorch's choice);  (x²)' = 2x */
static inline float abs_f(float x) { return fabsf(x); }
static inline float abs_d(float x, float y) { return (float)(x > 0) - (float)(x < 0); }
static inline float square_f(float x) { return x * x; }
static inline float square_d(float x, float y) { return 2.0f * x; }

/* relu and leaky relu: slope 1 for x > 0, else 0 (relu) or the negative slope p, also at 0
 * (as PyTorch) */
static inline float relu_f(float x) { return x > 0 ? x : 0.0f; }
static inline float relu_d(float x, float y) { return x > 0 ? 1.0f : 0.0f; }
static inline float leaky_relu_f(float x, float p) { return x > 0 ? x : p * x; }
static inline float leaky_relu_d(float x, float p) { return x > 0 ? 1.0f : p; }

/* log(1 + t) for t in [0, 1], vectorisable (glibc's log1pf is a scalar call): with
 * s = t/(2 + t) ∈ [0, 1/3], log(1 + t) = 2·atanh s = 2(s + s³/3 + s⁵/5 + ...). Terms to s¹⁹
 * leave a truncation below (1/9)¹⁰/21·2s ≈ 3e-11·s, far under float rounding, and the sum
 * keeps the relative accuracy of s for tiny t. */
static inline float log1p_unit(float t) {
    float s = t / (2.0f + t), s2 = s * s;
    float p = 1.0f / 19;
    p = p * s2 + 1.0f / 17;
    p = p * s2 + 1.0f / 15;
    p = p * s2 + 1.0f / 13;
    p = p * s2 + 1.0f / 11;
    p = p * s2 + 1.0f / 9;
    p = p * s2 + 1.0f / 7;
    p = p * s2 + 1.0f / 5;
    p = p * s2 + 1.0f / 3;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

/* softplus(x) = log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|): the exponential never overflows and
 * no 1 + tiny is rounded away. Above 20 it is x itself (PyTorch's beta = 1, threshold = 20).
 * softplus' = σ(x).  log σ(x) = −softplus(−x) = min(x, 0) − log(1 + e^−|x|), its derivative
 * σ(−x). */
static inline float softplus_f(float x) {
    float sp = (x > 0 ? x : 0.0f) + log1p_unit(genc_fexp(-fabsf(x)));
    return x > 20.0f ? x : sp;
}
static inline float softplus_d(float x, float y) { return genc_fsigmoid(x); }
static inline float log_sigmoid_f(float x) { return (x < 0 ? x : 0.0f) - log1p_unit(genc_fexp(-fabsf(x))); }
static inline float log_sigmoid_d(float x, float y) { return genc_fsigmoid(-x); }

/* out = f(x) elementwise;  dx += dy · f'(x) (dx = when it is x's first gradient, see
 * genc_grad_fresh). FX and DX are the two expressions, written in terms of the element xi,
 * the output yi and the op's float parameter p (farg[0]). */
#define DEFINE_UNARY_OP(NAME, FX, DX)                                               \
    GENC_WIDE_SIMD static void NAME##_backward(genc_ctx *c, genc_node *nd) {       \
        genc_tensor *in = nd->in[0];                                               \
        const float *X = in->data, *Y = nd->out->data, *G = nd->out->grad;         \
        int fresh;                                                                 \
        float *GX = genc_grad_fresh(c, in, &fresh);                                \
        const float p = nd->farg[0];                                               \
        int64_t n = in->n;                                                         \
        (void)p;                                                                   \
        if (fresh) {                                                               \
            _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")     \
            for (int64_t i = 0; i < n; i++) {                                      \
                float xi = X[i], yi = Y[i];                                        \
                (void)yi;                                                          \
                GX[i] = G[i] * (DX);                                               \
            }                                                                      \
            return;                                                                \
        }                                                                          \
        _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")         \
        for (int64_t i = 0; i < n; i++) {                                          \
            float xi = X[i], yi = Y[i];                                            \
            (void)yi;                                                              \
            GX[i] += G[i] * (DX);                                                  \
        }                                                                          \
    }                                                                              \
    GENC_WIDE_SIMD static genc_tensor *NAME##_op(genc_ctx *c, genc_tensor *x,      \
                                                 const float p) {                  \
        genc_tensor *out = genc_new_like(c, x);                                    \
        const float *X = x->data;                                                  \
        float *O = out->data;                                                      \
        int64_t n = x->n;                                                          \
        (void)p;                                                                   \
        _Pragma("omp parallel for simd schedule(static) if (n > PAR_MIN)")         \
        for (int64_t i = 0; i < n; i++) {                                          \
            float xi = X[i];                                                       \
            O[i] = (FX);                                                           \
        }                                                                          \
        genc_node *nd = genc_record(c, NAME##_backward, out, 1, &x);               \
        if (nd) nd->farg[0] = p;                                                   \
        return out;                                                                \
    }

/* An op without parameter from its pair NAME_f(x), NAME_d(x, y). */
#define DEFINE_UNARY(NAME)                                                          \
    DEFINE_UNARY_OP(NAME, NAME##_f(xi), NAME##_d(xi, yi))                          \
    genc_tensor *genc_##NAME(genc_ctx *c, genc_tensor *x) { return NAME##_op(c, x, 0.0f); }

DEFINE_UNARY(gelu_tanh)
DEFINE_UNARY(quickgelu)
DEFINE_UNARY(silu)
DEFINE_UNARY(sigmoid)
DEFINE_UNARY(tanh)
DEFINE_UNARY(exp)
DEFINE_UNARY(log)
DEFINE_UNARY(elu1)
DEFINE_UNARY(sqrt)
DEFINE_UNARY(rsqrt)
DEFINE_UNARY(abs)
DEFINE_UNARY(square)
DEFINE_UNARY(relu)
DEFINE_UNARY(softplus)
DEFINE_UNARY(log_sigmoid)

DEFINE_UNARY_OP(leaky_relu, leaky_relu_f(xi, p), leaky_relu_d(xi, p))
genc_tensor *genc_leaky_relu(genc_ctx *c, genc_tensor *x, float slope) { return leaky_relu_op(c, x, slope); }

/* ---------------------------------------------------------------- GELU */

/* GELU as the other unary ops, except that a recorded forward pass keeps Φ(x): the backward
 * then computes only φ(x), one exponential, instead of Φ(x) again (the erfc fit with its
 * division and exponential) — the transformer MLP's most expensive elementwise op, now about
 * half the work for n floats more of activation memory. The kept Φ is the very value the
 * forward computed, so the gradient is the same to the bit. */
GENC_WIDE_SIMD static void gelu_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *in = nd->in[0];
    const float *X = in->data, *P = nd->saved, *G = nd->out->grad;
    int fresh;
    float *GX = genc_grad_fresh(c, in, &fresh);
    int64_t n = in->n;
    if (fresh) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) GX[i] = G[i] * (P[i] + X[i] * genc_fnormpdf(X[i]));
        return;
    }
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) GX[i] += G[i] * (P[i] + X[i] * genc_fnormpdf(X[i]));
}

GENC_WIDE_SIMD genc_tensor *genc_gelu(genc_ctx *c, genc_tensor *x) {
    genc_tensor *out = genc_new_like(c, x);
    const float *X = x->data;
    float *O = out->data;
    int64_t n = x->n;
    if (!(c->grad_enabled && x->requires_grad)) { /* nothing will be recorded */
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) O[i] = gelu_f(X[i]);
        return out;
    }
    float *P = genc_scratch(c, (size_t)n * sizeof(float));
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float phi = genc_fnormcdf(X[i]);
        P[i] = phi;
        O[i] = X[i] * phi;
    }
    genc_node *nd = genc_record(c, gelu_backward, out, 1, &x);
    nd->saved = P;
    return out;
}

/* ---------------------------------------------------------------- SwiGLU */

/* x[..., 2H] = [a | b] → out[..., H] = silu(a)·b   (Shazeer, "GLU variants"; gate first)
 * da = dy·b·silu'(a),  db = dy·silu(a) */
static void swiglu_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    int64_t R = genc_rows(x);
    int H = genc_dim(x, -1) / 2;
    const float *G = nd->out->grad;
    float *GX = genc_grad(c, x);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *a = x->data + r * 2 * H, *b = a + H, *g = G + r * H;
        float *ga = GX + r * 2 * H, *gb = ga + H;
#pragma omp simd
        for (int j = 0; j < H; j++) {
            float s = genc_fsigmoid(a[j]);
            ga[j] += g[j] * b[j] * s * (1.0f + a[j] * (1.0f - s));
            gb[j] += g[j] * a[j] * s;
        }
    }
}

genc_tensor *genc_swiglu(genc_ctx *c, genc_tensor *x) {
    int D = genc_dim(x, -1);
    GENC_ASSERT(D % 2 == 0, "swiglu: last dim %d is odd", D);
    int H = D / 2;
    int shape[GENC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = H;
    genc_tensor *out = genc_new(c, x->ndim, shape);
    int64_t R = genc_rows(x);
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < R; r++) {
        const float *a = x->data + r * 2 * H, *b = a + H;
        float *o = out->data + r * H;
#pragma omp simd
        for (int j = 0; j < H; j++) o[j] = a[j] * genc_fsigmoid(a[j]) * b[j];
    }
    genc_record(c, swiglu_backward, out, 1, &x);
    return out;
}
