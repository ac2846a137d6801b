/* Position encodings that are tables rather than ops: RoPE frequencies with the
 * context-extension scalings, axial 2D RoPE angles, and the sinusoidal absolute encoding.
 * The rotation itself is the op genc_rope; ALiBi and T5 biases live inside the attention
 * kernel. */
#include "genc/nn.h"

#include <math.h>
#include <string.h>

static const char *POS_NAMES[GENC_POS_COUNT] = {"none", "sinusoidal", "learned", "rope", "rope-half", "alibi",
                                                "t5", "rope2d", "rope2d-half", "learned2d"};
static const char *SCALE_NAMES[] = {"none", "linear", "ntk", "dynamic-ntk", "yarn"};

const char *genc_pos_name(genc_pos p) { return (unsigned)p < GENC_POS_COUNT ? POS_NAMES[p] : "?"; }
const char *genc_rope_scaling_name(genc_rope_scaling s) { return (unsigned)s < 5 ? SCALE_NAMES[s] : "?"; }

int genc_pos_parse(const char *s, genc_pos *p) {
    for (int i = 0; i < GENC_POS_COUNT; i++)
        if (strcmp(s, POS_NAMES[i]) == 0) { *p = (genc_pos)i; return GENC_OK; }
    return genc_set_error("unknown position encoding '%s' (choose none, sinusoidal, learned, "
                          "rope, rope-half, alibi, t5, rope2d, rope2d-half, learned2d)", s);
}

int genc_pos_is_rope(genc_pos p) {
    return p == GENC_POS_ROPE || p == GENC_POS_ROPE_HALF || p == GENC_POS_ROPE2D || p == GENC_POS_ROPE2D_HALF;
}

int genc_pos_is_2d(genc_pos p) { return p == GENC_POS_ROPE2D || p == GENC_POS_ROPE2D_HALF || p == GENC_POS_LEARNED2D; }

int genc_rope_scaling_parse(const char *s, genc_rope_scaling *out) {
    for (int i = 0; i < 5; i++)
        if (strcmp(s, SCALE_NAMES[i]) == 0) { *out = (genc_rope_scaling)i; return GENC_OK; }
    return genc_set_error("unknown RoPE scaling '%s' (choose none, linear, ntk, dynamic-ntk, yarn)", s);
}

/* θ_i = base^(−2i/d) (Su et al., RoFormer), then one of the context extensions:
 *  linear (Chen et al., position interpolation): θ_i / s
 *  NTK-aware (bloc97):                            base' = base · s^(d/(d−2))
 *  dynamic NTK, current length L' > L:           base' = base · (s·L'/L − (s−1))^(d/(d−2))
 *  YaRN (Peng et al.): blend θ_i and θ_i/s by a ramp γ over the dims whose wavelength is
 *  between L/32 and L/1 rotations, and scale cos/sin by 0.1·ln s + 1. */
void genc_rope_inv_freq(const genc_rope_cfg *rc, int d, int cur_len, float *inv_freq, float *mscale) {
    double base = rc->base > 0 ? rc->base : 10000.0;
    double s = rc->factor > 0 ? rc->factor : 1.0;
    int half = d / 2;
    *mscale = 1.0f;
    if (rc->scaling == GENC_ROPE_SCALE_NTK) base *= pow(s, (double)d / (d - 2));
    if (rc->scaling == GENC_ROPE_SCALE_DYNAMIC_NTK && cur_len > rc->trained_len && rc->trained_len > 0)
        base *= pow(s * cur_len / rc->trained_len - (s - 1), (double)d / (d - 2));
    double low = 0, high = 0;
    if (rc->scaling == GENC_ROPE_SCALE_YARN) {
        /* dim(r): the dim index whose wavelength fits r rotations into L */
        double L = rc->trained_len > 0 ? rc->trained_len : 1;
        double dim32 = d * log(L / (32 * 2 * M_PI)) / (2 * log(base));
        double dim1 = d * log(L / (1 * 2 * M_PI)) / (2 * log(base));
        low = floor(dim32);
        high = ceil(dim1);
        if (low < 0) low = 0;
        if (high > d - 1) high = d - 1;
        if (high == low) high += 0.001; /* avoid a zero-width ramp */
        *mscale = (float)(s > 1 ? 0.1 * log(s) + 1.0 : 1.0);
    }
    for (int i = 0; i < half; i++) {
        double th = pow(base, -2.0 * i / d);
        switch (rc->scaling) {
        case GENC_ROPE_SCALE_LINEAR: th /= s; break;
        case GENC_ROPE_SCALE_YARN: {
            double g = (i - low) / (high - low);
            g = g < 0 ? 0 : g > 1 ? 1 : g;
            th = th * (1 - g) + (th / s) * g;
            break;
        }
        default: break;
        }
        inv_freq[i] = (float)th;
    }
}

void genc_rope_tables(const genc_rope_cfg *rc, int d, const int *pos, int offset, int T, int cur_len,
                      float *cos_t, float *sin_t) {
    int half = d / 2;
    float inv[512], ms;
    GENC_ASSERT(half <= 512, "rope: head dim %d too large", d);
    genc_rope_inv_freq(rc, d, cur_len, inv, &ms);
    for (int t = 0; t < T; t++) {
        double p = pos ? pos[t] : offset + t;
        for (int i = 0; i < half; i++) {
            double a = p * inv[i];
            cos_t[t * half + i] = (float)(cos(a) * ms);
            sin_t[t * half + i] = (float)(sin(a) * ms);
        }
    }
}

/* Axial 2D RoPE: pair k < d/4 by x·f_k, pair d/4 + k by y·f_k, f_k = 100^(−4k/d). Base 100
 * rather than 1D RoPE's 10000: a patch grid is tens of positions wide, not thousands, so the
 * slowest frequency still separates the far edges (Heo et al.). Prefix tokens: angle 0. */
void genc_rope2d_tables(int d, int h, int w, int n_prefix, float *cos_t, float *sin_t) {
    int half = d / 2, q = d / 4;
    for (int t = 0; t < n_prefix; t++)
        for (int i = 0; i < half; i++) {
            cos_t[(int64_t)t * half + i] = 1.f;
            sin_t[(int64_t)t * half + i] = 0.f;
        }
    for (int64_t p = 0; p < (int64_t)h * w; p++) {
        double x = (double)(p % w), y = (double)(p / w);
        float *cs = cos_t + (n_prefix + p) * half, *sn = sin_t + (n_prefix + p) * half;
        for (int k = 0; k < q; k++) {
            double f = pow(100.0, -4.0 * k / d);
            cs[k] = (float)cos(x * f);
            sn[k] = (float)sin(x * f);
            cs[q + k] = (float)cos(y * f);
            sn[q + k] = (float)sin(y * f);
        }
    }
}

/* PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(p / 10000^(2i/d)) */
void genc_sinusoidal_table(int T, int dim, int offset, float *out) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < dim / 2; i++) {
            double a = (double)(offset + t) / pow(10000.0, 2.0 * i / dim);
            out[t * dim + 2 * i] = (float)sin(a);
            out[t * dim + 2 * i + 1] = (float)cos(a);
        }
}

void genc_timestep_embedding(const float *t, int n, int dim, float *out) {
    int half = dim / 2;
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < half; i++) {
            double a = (double)t[r] * exp(-log(10000.0) * i / half);
            out[(size_t)r * dim + i] = (float)cos(a);
            out[(size_t)r * dim + half + i] = (float)sin(a);
        }
        if (dim % 2) out[(size_t)r * dim + dim - 1] = 0.f;
    }
}
