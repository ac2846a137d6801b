/* Patch ViT (Dosovitskiy et al., 2021) with axial 2D RoPE instead of learned positions:
 *   t = patchify(x, p) · Wpᵀ + bp                    [B, N, D], N = (H/p)(W/p), row-major
 *   t = [cls; t]                                      [B, 1 + N, D]
 *   pre-LN blocks, bidirectional attention, q and k rotated: pair k < d/4 by col·f_k, pair
 *   d/4 + k by row·f_k, f_k = base^(−4k/d) (d the head size); the class token is not rotated
 *   features = LN_f(t[:, 0])                          [B, D]
 * (LayerNorm is per token, so normalising only the class token equals slicing after it.) */
#include "vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int genc_classifier_vit_init(genc_classifier *m, genc_rng *r) {
    const genc_classifier_config *cfg = &m->cfg;
    genc_params *ps = &m->params;
    int D = cfg->dim, P = cfg->channels * cfg->patch * cfg->patch;
    float std = 0.02f, out_std = std / sqrtf(2.f * (float)cfg->layers);
    genc_linear_m_init(&m->patch_emb, ps, "patch_emb", P, D, 1, r, std);
    m->cls_token = genc_param_new(ps, "cls_token", 1, (int[]){D});
    genc_param_init_normal(m->cls_token, r, std);
    m->blocks = calloc((size_t)cfg->layers, sizeof *m->blocks);
    if (!m->blocks) return genc_set_error("out of memory");
    char name[64];
    for (int l = 0; l < cfg->layers; l++) {
        genc_tf_block *b = &m->blocks[l];
#define NM(s) (snprintf(name, sizeof name, "blocks.%d.%s", l, s), name)
        genc_norm_m_init(&b->ln1, ps, NM("ln1"), D, 0, cfg->norm_eps);
        genc_linear_m_init(&b->q, ps, NM("attn.q"), D, D, 1, r, std);
        genc_linear_m_init(&b->k, ps, NM("attn.k"), D, D, 1, r, std);
        genc_linear_m_init(&b->v, ps, NM("attn.v"), D, D, 1, r, std);
        genc_linear_m_init(&b->o, ps, NM("attn.o"), D, D, 1, r, out_std);
        genc_norm_m_init(&b->ln2, ps, NM("ln2"), D, 0, cfg->norm_eps);
        genc_linear_m_init(&b->fc1, ps, NM("mlp.fc1"), D, cfg->mlp_hidden, 1, r, std);
        genc_linear_m_init(&b->fc2, ps, NM("mlp.fc2"), cfg->mlp_hidden, D, 1, r, out_std);
#undef NM
    }
    genc_norm_m_init(&m->ln_f, ps, "ln_f", D, 0, cfg->norm_eps);
    return GENC_OK;
}

/* cos/sin [1 + gh·gw, d/2] of the axial rotation (row 0: the class token, angle 0). */
static void axial_tables(int gh, int gw, int d, float base, float *cos_t, float *sin_t) {
    int half = d / 2, q = d / 4;
    for (int t = 0; t <= gh * gw; t++)
        for (int k = 0; k < half; k++) {
            double f = pow(base, -4.0 * (k % q) / d);
            double pos = t == 0 ? 0 : k < q ? (t - 1) % gw : (t - 1) / gw;
            cos_t[(size_t)t * half + k] = (float)cos(pos * f);
            sin_t[(size_t)t * half + k] = (float)sin(pos * f);
        }
}

genc_tensor *genc_classifier_vit_features(genc_ctx *c, genc_classifier *m, genc_tensor *x) {
    const genc_classifier_config *cfg = &m->cfg;
    int B = x->shape[0], D = cfg->dim, NH = cfg->heads, Dh = D / NH;
    int gh = cfg->height / cfg->patch, gw = cfg->width / cfg->patch, T = 1 + gh * gw;
    genc_tensor *t = genc_linear_m_fwd(c, &m->patch_emb, genc_patchify(c, x, cfg->patch));
    genc_tensor *cls = genc_add(c, genc_zeros(c, 3, (int[]){B, 1, D}), m->cls_token);
    t = genc_reshape(c, genc_concat(c, cls, t, 1), 2, (int[]){B * T, D});

    float *cos_t = genc_scratch(c, sizeof(float) * (size_t)T * Dh / 2);
    float *sin_t = genc_scratch(c, sizeof(float) * (size_t)T * Dh / 2);
    axial_tables(gh, gw, Dh, 100.f, cos_t, sin_t);
    genc_attn_opts ao = {0};
    int shape4[4] = {B, T, NH, Dh}, shape2[2] = {B * T, D};
    for (int l = 0; l < cfg->layers; l++) {
        genc_tf_block *bl = &m->blocks[l];
        genc_tensor *h = genc_norm_m_fwd(c, &bl->ln1, t);
        genc_tensor *q = genc_reshape(c, genc_linear_m_fwd(c, &bl->q, h), 4, shape4);
        genc_tensor *k = genc_reshape(c, genc_linear_m_fwd(c, &bl->k, h), 4, shape4);
        genc_tensor *v = genc_reshape(c, genc_linear_m_fwd(c, &bl->v, h), 4, shape4);
        q = genc_rope(c, q, cos_t, sin_t, 1);
        k = genc_rope(c, k, cos_t, sin_t, 1);
        genc_tensor *a = genc_attention(c, q, k, v, &ao);
        t = genc_add(c, t, genc_linear_m_fwd(c, &bl->o, genc_reshape(c, a, 2, shape2)));
        h = genc_gelu(c, genc_linear_m_fwd(c, &bl->fc1, genc_norm_m_fwd(c, &bl->ln2, t)));
        t = genc_add(c, t, genc_linear_m_fwd(c, &bl->fc2, h));
    }
    genc_tensor *first = genc_slice(c, genc_reshape(c, t, 3, (int[]){B, T, D}), 1, 0, 1);
    return genc_norm_m_fwd(c, &m->ln_f, genc_reshape(c, first, 2, (int[]){B, D}));
}
