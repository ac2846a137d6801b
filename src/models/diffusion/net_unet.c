/* A small DDPM-style U-Net (Ho et al. 2020, reduced to two resolution levels) for x[B, C, H, W]
 * with base width c and time embedding e[B, 4c]:
 *   h0 = conv_in(x)                                  [c,  H,   W]
 *   s1 = down0(h0, e)                                [c,  H,   W]     residual block
 *   s2 = down1(pool(s1), e)                          [2c, H/2, W/2]
 *   h  = mid1(attn(mid0(pool(s2), e)), e)            [2c, H/4, W/4]   self-attention here only
 *   h  = up1(cat(up1_conv(up(h)), s2), e)            [4c → 2c, H/2]
 *   h  = up0(cat(up0_conv(up(h)), s1), e)            [3c → c, H]
 *   F  = conv_out(SiLU(GN(h)))                       [C, H, W]
 * Residual block (i → o): h = conv1(SiLU(GN1(x))) + temb(SiLU(e))[:, :, 1, 1];
 * out = conv2(SiLU(GN2(h))) + skip(x), skip a 1×1 conv when i ≠ o. Pooling is 2×2 averaging,
 * upsampling nearest ×2 then a 3×3 conv. Parameter names match tests/parity/unet.py. */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static genc_tensor *param(genc_dmodel *m, const char *pre, const char *name, int nd, const int *shape, genc_rng *r,
                          float std) {
    char full[96];
    snprintf(full, sizeof full, "%s.%s", pre, name);
    genc_tensor *t = genc_param_new(&m->params, full, nd, shape);
    if (t && std > 0) genc_param_init_normal(t, r, std);
    if (t && std < 0) genc_param_fill(t, 1);
    return t;
}

/* conv weight [o, i, k, k] ~ N(0, 1/(i·k²)), bias 0 */
static int conv(genc_dmodel *m, const char *pre, const char *name, int i, int o, int k, genc_rng *r, float gain,
                genc_tensor **w, genc_tensor **b) {
    char bn[64];
    snprintf(bn, sizeof bn, "%s.weight", name);
    *w = param(m, pre, bn, 4, (int[]){o, i, k, k}, r, gain / sqrtf((float)(i * k * k)));
    snprintf(bn, sizeof bn, "%s.bias", name);
    *b = param(m, pre, bn, 1, (int[]){o}, r, 0);
    return *w && *b ? GENC_OK : GENC_ERR;
}

static int gn(genc_dmodel *m, const char *pre, const char *name, int ch, genc_rng *r, genc_tensor **w, genc_tensor **b) {
    char bn[64];
    snprintf(bn, sizeof bn, "%s.weight", name);
    *w = param(m, pre, bn, 1, (int[]){ch}, r, -1);
    snprintf(bn, sizeof bn, "%s.bias", name);
    *b = param(m, pre, bn, 1, (int[]){ch}, r, 0);
    return *w && *b ? GENC_OK : GENC_ERR;
}

/* conv2 starts at a small scale so every block starts near the identity (DDPM zero-inits it;
 * a small non-zero start keeps the parity test's gradients informative everywhere). */
static int res_build(genc_dmodel *m, genc_dm_res *b, const char *pre, int i, int o, genc_rng *r) {
    int E = genc_dm_embed_dim(&m->cfg);
    char tn[64];
    snprintf(tn, sizeof tn, "%s.temb", pre);
    if (gn(m, pre, "gn1", i, r, &b->gn1w, &b->gn1b) || conv(m, pre, "conv1", i, o, 3, r, 1, &b->c1w, &b->c1b) ||
        genc_linear_m_init(&b->temb, &m->params, tn, E, o, 1, r, 1.f / sqrtf((float)E)) ||
        gn(m, pre, "gn2", o, r, &b->gn2w, &b->gn2b) || conv(m, pre, "conv2", o, o, 3, r, 0.1f, &b->c2w, &b->c2b))
        return GENC_ERR;
    if (i != o && conv(m, pre, "skip", i, o, 1, r, 1, &b->skw, &b->skb)) return GENC_ERR;
    return GENC_OK;
}

static int64_t res_count(int64_t i, int64_t o, int64_t E) {
    return 2 * i + o * i * 9 + o + E * o + o + 2 * o + o * o * 9 + o + (i != o ? o * i + o : 0);
}

int64_t genc_dm_unet_count(const genc_dm_config *cfg) {
    int64_t c = cfg->hidden, C = cfg->channels, E = 4 * c;
    return c * C * 9 + c + res_count(c, c, E) + res_count(c, 2 * c, E) + 2 * res_count(2 * c, 2 * c, E) +
           2 * 2 * c + 4 * (4 * c * c + 2 * c) + 2 * (2 * c * 2 * c * 9 + 2 * c) + res_count(4 * c, 2 * c, E) +
           res_count(3 * c, c, E) + 2 * c + C * c * 9 + C;
}

int genc_dm_unet_build(genc_dmodel *m, genc_rng *r) {
    int c = m->cfg.hidden, C = m->cfg.channels;
    if (conv(m, "unet", "conv_in", C, c, 3, r, 1, &m->conv_in_w, &m->conv_in_b) ||
        res_build(m, &m->down0, "unet.down0", c, c, r) || res_build(m, &m->down1, "unet.down1", c, 2 * c, r) ||
        res_build(m, &m->mid0, "unet.mid0", 2 * c, 2 * c, r) ||
        gn(m, "unet.attn", "gn", 2 * c, r, &m->attn_gn_w, &m->attn_gn_b) ||
        genc_linear_m_init(&m->aq, &m->params, "unet.attn.q", 2 * c, 2 * c, 1, r, 1.f / sqrtf(2.f * c)) ||
        genc_linear_m_init(&m->ak, &m->params, "unet.attn.k", 2 * c, 2 * c, 1, r, 1.f / sqrtf(2.f * c)) ||
        genc_linear_m_init(&m->av, &m->params, "unet.attn.v", 2 * c, 2 * c, 1, r, 1.f / sqrtf(2.f * c)) ||
        genc_linear_m_init(&m->ao, &m->params, "unet.attn.o", 2 * c, 2 * c, 1, r, 0.1f / sqrtf(2.f * c)) ||
        res_build(m, &m->mid1, "unet.mid1", 2 * c, 2 * c, r) ||
        conv(m, "unet", "up1_conv", 2 * c, 2 * c, 3, r, 1, &m->up1_w, &m->up1_b) ||
        res_build(m, &m->up1, "unet.up1", 4 * c, 2 * c, r) ||
        conv(m, "unet", "up0_conv", 2 * c, 2 * c, 3, r, 1, &m->up0_w, &m->up0_b) ||
        res_build(m, &m->up0, "unet.up0", 3 * c, c, r) || gn(m, "unet", "gn_out", c, r, &m->gn_out_w, &m->gn_out_b) ||
        conv(m, "unet", "conv_out", c, C, 3, r, 0.1f, &m->conv_out_w, &m->conv_out_b))
        return GENC_ERR;
    return GENC_OK;
}

static genc_tensor *res_fwd(genc_ctx *c, genc_dmodel *m, const genc_dm_res *b, genc_tensor *x, genc_tensor *se) {
    int G = m->cfg.groups, B = x->shape[0];
    genc_tensor *h = genc_conv2d(c, genc_silu(c, genc_group_norm(c, x, G, b->gn1w, b->gn1b, 1e-5f)), b->c1w, b->c1b, 1, 1);
    genc_tensor *t = genc_linear_m_fwd(c, &b->temb, se);                  /* [B, o] */
    h = genc_add(c, h, genc_reshape(c, t, 4, (int[]){B, h->shape[1], 1, 1}));
    h = genc_conv2d(c, genc_silu(c, genc_group_norm(c, h, G, b->gn2w, b->gn2b, 1e-5f)), b->c2w, b->c2b, 1, 1);
    genc_tensor *s = b->skw ? genc_conv2d(c, x, b->skw, b->skb, 1, 0) : x;
    return genc_add(c, h, s);
}

/* Self-attention over the H·W positions of x[B, C, H, W], residual. */
static genc_tensor *attn_fwd(genc_ctx *c, genc_dmodel *m, genc_tensor *x) {
    int B = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], T = H * W, nh = m->cfg.heads;
    genc_tensor *h = genc_group_norm(c, x, m->cfg.groups, m->attn_gn_w, m->attn_gn_b, 1e-5f);
    h = genc_transpose(c, genc_reshape(c, h, 3, (int[]){B, C, T}), 1, 2);   /* [B, T, C] */
    int qs[4] = {B, T, nh, C / nh};
    genc_tensor *q = genc_reshape(c, genc_linear_m_fwd(c, &m->aq, h), 4, qs);
    genc_tensor *k = genc_reshape(c, genc_linear_m_fwd(c, &m->ak, h), 4, qs);
    genc_tensor *v = genc_reshape(c, genc_linear_m_fwd(c, &m->av, h), 4, qs);
    genc_attn_opts o;
    memset(&o, 0, sizeof o);
    genc_tensor *a = genc_reshape(c, genc_attention(c, q, k, v, &o), 3, (int[]){B, T, C});
    a = genc_transpose(c, genc_linear_m_fwd(c, &m->ao, a), 1, 2);           /* [B, C, T] */
    return genc_add(c, x, genc_reshape(c, a, 4, (int[]){B, C, H, W}));
}

genc_tensor *genc_dm_unet_fwd(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels) {
    int B = x->shape[0];
    genc_tensor *se = genc_silu(c, genc_dm_embed(c, m, cnoise, labels, B));  /* SiLU(e), shared by the blocks */
    genc_tensor *h = genc_conv2d(c, x, m->conv_in_w, m->conv_in_b, 1, 1);
    genc_tensor *s1 = res_fwd(c, m, &m->down0, h, se);
    genc_tensor *s2 = res_fwd(c, m, &m->down1, genc_avg_pool2d(c, s1, 2), se);
    h = res_fwd(c, m, &m->mid0, genc_avg_pool2d(c, s2, 2), se);
    h = res_fwd(c, m, &m->mid1, attn_fwd(c, m, h), se);
    h = genc_conv2d(c, genc_upsample2x(c, h), m->up1_w, m->up1_b, 1, 1);
    h = res_fwd(c, m, &m->up1, genc_concat(c, h, s2, 1), se);
    h = genc_conv2d(c, genc_upsample2x(c, h), m->up0_w, m->up0_b, 1, 1);
    h = res_fwd(c, m, &m->up0, genc_concat(c, h, s1, 1), se);
    h = genc_silu(c, genc_group_norm(c, h, m->cfg.groups, m->gn_out_w, m->gn_out_b, 1e-5f));
    return genc_conv2d(c, h, m->conv_out_w, m->conv_out_b, 1, 1);
}
