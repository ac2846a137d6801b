/* The two contrastive losses of image–text models, on L2-normalised embeddings x, y [B, E]
 * whose row i is a matching pair.
 *
 * CLIP's softmax InfoNCE is a composition of ops (a B×B logits matrix is what it needs).
 * SigLIP's sigmoid loss is one op that walks chunk × chunk blocks of z = e^t·x·yᵀ + b and
 * recomputes them in backward: the memory is O(chunk²) whatever B is (Zhai et al. 2023, §3.3,
 * the "chunked" implementation; here on one device). */
#include "genc/contrastive.h"
#include "loss_internal.h"

#include <cblas.h>
#include <math.h>

/* CLIP: L = ½[CE(s·x·yᵀ, diag) + CE((s·x·yᵀ)ᵀ, diag)], s = e^{scale} */
genc_tensor *genc_clip_loss(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *scale) {
    int B = genc_dim(x, 0);
    int32_t *diag = genc_scratch(c, sizeof(int32_t) * (size_t)B);
    for (int i = 0; i < B; i++) diag[i] = i;
    genc_tensor *logits = genc_mul(c, genc_matmul(c, x, y, 0, 1), genc_exp(c, scale));
    genc_tensor *l_img = genc_cross_entropy(c, logits, diag, -1, 0, NULL, 0);
    genc_tensor *l_txt = genc_cross_entropy(c, genc_transpose(c, logits, 0, 1), diag, -1, 0, NULL, 0);
    return genc_scale(c, genc_add(c, l_img, l_txt), 0.5f);
}

/* After each optimizer step, as CLIP does: 0 <= scale <= ln 100 (a temperature of at least
 * 0.01; the lower end keeps logits from collapsing below the cosines). */
void genc_clip_clamp_scale(genc_tensor *scale) {
    float *s = scale->data;
    if (*s < 0) *s = 0;
    if (*s > GENC_CLIP_SCALE_MAX) *s = GENC_CLIP_SCALE_MAX;
}

/* −log σ(u) = softplus(−u), stable for any u */
static inline double neg_log_sigmoid(double u) { return u > 0 ? log1p(exp(-u)) : -u + log1p(exp(u)); }
/* σ(u) without overflow */
static inline double sigmoid(double u) {
    if (u >= 0) return 1 / (1 + exp(-u));
    double e = exp(u);
    return e / (1 + e);
}

/* z[ni, nj] = et · x[i0 .. i0+ni) · y[j0 .. j0+nj)ᵀ + b */
static void block_logits(const float *x, const float *y, int E, int i0, int ni, int j0, int nj, float et, float b,
                         float *z) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, nj, E, et, x + (int64_t)i0 * E, E, y + (int64_t)j0 * E, E,
                0.0f, z, nj);
    for (int64_t k = 0; k < (int64_t)ni * nj; k++) z[k] += b;
}

/* One walk over the chunk × chunk blocks of z = et·x·yᵀ + b for x [nx, E], y [ny, E]; the
 * pair (i, j) is positive (ℓ = 1) when i − j = diag, else ℓ = −1 (diag 0 on one process; the
 * ring of loss_dist.c walks other ranks' text blocks). Forward (g == 0): returns
 * Σ −log σ(ℓ_ij z_ij). Backward (g = dL/dloss): with dL/dz_ij = −ℓ_ij σ(−ℓ_ij z_ij)·g/B,
 *   dx_i += e^t Σ_j dz_ij y_j,  dy_j += e^t Σ_i dz_ij x_i,
 *   dt += Σ dz_ij (z_ij − b)    (= Σ dz_ij e^t x_i·y_j),   db += Σ dz_ij
 * (gx, gy may be NULL). z: scratch of C·C floats. */
double genc_siglip_walk(const float *x, int nx, const float *y, int ny, int E, int diag, float et, float bb, int C,
                        float *z, float g, int B, float *gx, float *gy, double *dt, double *db) {
    double sum = 0;
    for (int i0 = 0; i0 < nx; i0 += C) {
        int ni = nx - i0 < C ? nx - i0 : C;
        for (int j0 = 0; j0 < ny; j0 += C) {
            int nj = ny - j0 < C ? ny - j0 : C;
            block_logits(x, y, E, i0, ni, j0, nj, et, bb, z);
            for (int i = 0; i < ni; i++)
                for (int j = 0; j < nj; j++) {
                    float *zz = &z[(int64_t)i * nj + j];
                    double l = (i0 + i - (j0 + j) == diag) ? 1 : -1;
                    if (g == 0) {
                        sum += neg_log_sigmoid(l * *zz);
                        continue;
                    }
                    double d = -l * sigmoid(-l * *zz) * g / B;
                    *dt += d * (*zz - bb);
                    *db += d;
                    *zz = (float)d; /* z becomes dz */
                }
            if (g == 0) continue;
            if (gx)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, E, nj, et, z, nj, y + (int64_t)j0 * E, E,
                            1.0f, gx + (int64_t)i0 * E, E);
            if (gy)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nj, E, ni, et, z, nj, x + (int64_t)i0 * E, E,
                            1.0f, gy + (int64_t)j0 * E, E);
        }
    }
    return sum;
}

/* the walk over the whole of one process's z [B, B] */
static double siglip_blocks(genc_ctx *c, const genc_tensor *x, const genc_tensor *y, float et, float bb, int C,
                            float g, float *gx, float *gy, double *dt, double *db) {
    int B = genc_dim(x, 0), E = genc_dim(x, 1);
    float *z = genc_scratch(c, sizeof(float) * (size_t)C * C);
    return genc_siglip_walk(x->data, B, y->data, B, E, 0, et, bb, C, z, g, B, gx, gy, dt, db);
}

static void siglip_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *y = nd->in[1], *t = nd->in[2], *b = nd->in[3];
    float g = nd->out->grad[0];
    if (g == 0) return;
    double dt = 0, db = 0;
    siglip_blocks(c, x, y, expf(t->data[0]), b->data[0], (int)nd->iarg[0], g, x->requires_grad ? genc_grad(c, x) : NULL,
                  y->requires_grad ? genc_grad(c, y) : NULL, &dt, &db);
    if (t->requires_grad) genc_grad(c, t)[0] += (float)dt;
    if (b->requires_grad) genc_grad(c, b)[0] += (float)db;
}

genc_tensor *genc_siglip_loss(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *t, genc_tensor *b,
                              int chunk) {
    if (x->ndim != 2 || !genc_same_shape(x, y) || t->n != 1 || b->n != 1)
        genc_fatal("genc_siglip_loss: x and y must both be [B, E], t and b scalars");
    int B = genc_dim(x, 0);
    int C = chunk > 0 ? chunk : 64;
    if (C > B) C = B;
    genc_tensor *out = genc_new1(c, 1);
    out->data[0] = (float)(siglip_blocks(c, x, y, expf(t->data[0]), b->data[0], C, 0, NULL, NULL, NULL, NULL) / B);
    genc_node *nd = genc_record(c, siglip_backward, out, 4, (genc_tensor *[]){x, y, t, b});
    if (nd) nd->iarg[0] = C;
    return out;
}

/* The same loss from ops, materialising z [B, B]: the reference the chunked op is tested
 * against. −log σ(ℓz) summed, / B. */
genc_tensor *genc_siglip_loss_direct(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *t, genc_tensor *b) {
    int B = genc_dim(x, 0);
    genc_tensor *lab = genc_new2(c, B, B);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) lab->data[(int64_t)i * B + j] = i == j ? 1.0f : -1.0f;
    genc_tensor *z = genc_add(c, genc_mul(c, genc_matmul(c, x, y, 0, 1), genc_exp(c, t)), b);
    return genc_scale(c, genc_sum(c, genc_log_sigmoid(c, genc_mul(c, z, lab))), -1.0f / (float)B);
}
